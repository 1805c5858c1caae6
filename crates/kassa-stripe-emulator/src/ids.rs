//! Random object ids with Stripe's prefixes, and timestamps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `N` of the OS's random bytes (fetched ahead per thread: an emulated payment makes a dozen
/// ids, and a system call each showed in its profile).
fn random_bytes<const N: usize>() -> [u8; N] {
    if let Ok(buf) = kassa_secrets::pooled_random::<N>() {
        return buf;
    }
    // Fall back to a counter mixed with the clock; ids stay unique within the process.
    let mut buf = [0u8; N];
    let mut x = COUNTER.fetch_add(1, Ordering::Relaxed) ^ now_nanos();
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    buf
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `prefix_` followed by 24 base62 characters.
pub fn new_id(prefix: &str) -> String {
    let bytes = random_bytes::<24>();
    let mut s = String::with_capacity(prefix.len() + 25);
    s.push_str(prefix);
    s.push('_');
    for b in bytes {
        s.push(ALPHABET[(b as usize) % ALPHABET.len()] as char);
    }
    s
}

/// A string of `n` random decimal digits (network transaction ids, receipt numbers).
pub fn digits(n: usize) -> String {
    let bytes = random_bytes::<32>();
    bytes
        .iter()
        .take(n.min(32))
        .enumerate()
        .map(|(i, b)| {
            let d = b % 10;
            // No leading zero.
            char::from(b'0' + if i == 0 && d == 0 { 1 } else { d })
        })
        .collect()
}

/// Random alphanumeric string (client secrets, invoice prefixes).
pub fn token(n: usize) -> String {
    let bytes = random_bytes::<32>();
    bytes
        .iter()
        .take(n.min(32))
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_prefix_and_differ() {
        let a = super::new_id("pi");
        let b = super::new_id("pi");
        assert!(a.starts_with("pi_"));
        assert_eq!(a.len(), 27);
        assert_ne!(a, b);
        assert_eq!(super::digits(15).len(), 15);
    }

    /// Ids drawn across many refills of a thread's pool of random bytes are all different, and
    /// each refill is new randomness (no id repeats the pool's first one).
    #[test]
    fn ids_across_refills_of_the_pool_differ() {
        let ids: std::collections::HashSet<String> =
            (0..5_000).map(|_| super::new_id("ch")).collect();
        assert_eq!(ids.len(), 5_000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 27 && id[3..].bytes().all(|b| b.is_ascii_alphanumeric())));
        let other_thread = std::thread::spawn(|| super::new_id("ch"))
            .join()
            .expect("a thread");
        assert!(!ids.contains(&other_thread));
    }
}
