//! A gateway's share of Stripe: at most `per_second` requests a second, evenly spaced, and at
//! most `concurrency` in flight. Stripe answers 429 past its rate limits (live mode 100
//! operations a second per account, test mode 25); a large rebill run is then limited by the
//! gateway's own budget, not by errors.

use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug)]
pub struct Throttle {
    per_second: u32,
    concurrency: u32,
    slots: Arc<Semaphore>,
    /// When the next request may start (a request every `1 / per_second` seconds). A plain
    /// mutex: it is held for a few instructions, never across an await.
    next: Mutex<Instant>,
}

impl Throttle {
    pub fn new(per_second: u32, concurrency: u32) -> Self {
        let concurrency = concurrency.max(1);
        Throttle {
            per_second: per_second.max(1),
            concurrency,
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// `(per_second, concurrency)`.
    pub fn limits(&self) -> (u32, u32) {
        (self.per_second, self.concurrency)
    }

    /// Waits for a free slot, then for the request's turn; the slot is held until the permit is
    /// dropped (when the answer has been read).
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.slots.clone().acquire_owned().await.ok()?;
        let interval = Duration::from_nanos(1_000_000_000 / u64::from(self.per_second));
        let now = Instant::now();
        let start = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let start = (*next).max(now);
            *next = start + interval;
            start
        };
        if start > now {
            tokio::time::sleep_until(start).await;
        }
        Some(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_to_the_rate() {
        let t = Arc::new(Throttle::new(10, 100));
        let began = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..21 {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                let _p = t.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap() - began);
        }
        times.sort();
        // 21 requests at 10 a second: the last starts 2 s after the first.
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[20], Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped() {
        let t = Arc::new(Throttle::new(1000, 2));
        let a = t.acquire().await;
        let b = t.acquire().await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(Duration::from_secs(5), t.acquire()).await;
        assert!(third.is_err(), "a third request waits for a slot");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), t.acquire()).await;
        assert!(third.is_ok());
    }
}
