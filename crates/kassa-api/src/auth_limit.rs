//! Brute force on API keys: an address that sends more than [`MAX_FAILURES`] wrong keys within
//! [`WINDOW`] (or [`crate::Config::auth_max_failures`]) is refused (429, `Retry-After`) for the rest of that window, right keys included,
//! so guessing gains nothing. Kept per process, in memory and bounded: with several nodes behind
//! a load balancer each node counts on its own (docs/deployment.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong keys an address may send in one window.
pub const MAX_FAILURES: u32 = 20;
/// The window, counted from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; past this, expired windows are dropped, then the oldest.
const CAPACITY: usize = 100_000;

pub struct FailedAuthLimiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    max_failures: u32,
}

impl Default for FailedAuthLimiter {
    fn default() -> Self {
        Self::with_max_failures(MAX_FAILURES)
    }
}

impl FailedAuthLimiter {
    /// A limiter that locks an address out after `max_failures` wrong keys in a window.
    pub fn with_max_failures(max_failures: u32) -> Self {
        FailedAuthLimiter {
            failures: Mutex::default(),
            max_failures,
        }
    }

    /// `Err(seconds to wait)` while the address is locked out.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some((start, n)) if *n >= self.max_failures && now < *start + WINDOW => {
                Err((*start + WINDOW - now).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong key from the address.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY && !map.contains_key(&ip) {
            map.retain(|_, (start, _)| now < *start + WINDOW);
            if map.len() >= CAPACITY {
                if let Some(oldest) = map.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_after_too_many_wrong_keys_then_let_in_again() {
        let l = FailedAuthLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(l.check(a, t0), Ok(()), "attempt {i}");
            l.failed(a, t0);
        }
        assert_eq!(l.check(a, t0 + Duration::from_secs(10)), Err(50));
        assert_eq!(l.check(b, t0), Ok(()), "other addresses are not affected");
        assert_eq!(l.check(a, t0 + WINDOW), Ok(()), "the window passes");
        l.failed(a, t0 + WINDOW);
        assert_eq!(
            l.check(a, t0 + WINDOW),
            Ok(()),
            "a new window starts from one"
        );
    }

    #[test]
    fn failures_spread_over_windows_never_lock_out() {
        let l = FailedAuthLimiter::default();
        let a: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_FAILURES * 3) {
            let now = t0 + Duration::from_secs(u64::from(i) * 4);
            assert_eq!(l.check(a, now), Ok(()));
            l.failed(a, now);
        }
    }
}
