//! A short-lived cache of the rows every payment reads and that rarely change: API keys, gateways,
//! collection groups and notification endpoints.
//!
//! An entry serves for at most `ttl` (`KASSA_READ_CACHE_MS`, default 1,000 ms; 0 turns the cache
//! off). Every write this process makes to one of those tables bumps a generation number, and an
//! entry read before the bump is not served after it, so this process sees its own changes at once;
//! another process's changes are seen within `ttl`. Misses (no such row) are not cached, so a row
//! made on another node is found at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{ApiKeyRecord, EndpointRecord, GatewayRecord, GroupRecord, StorageError};

/// Entries per map before it is emptied (a bound, not a working-set size: a client has a few
/// keys, gateways and groups).
const MAX_ENTRIES: usize = 10_000;

struct Entry<T> {
    value: T,
    at: Instant,
    generation: u64,
}

pub(crate) struct Map<K, T>(Mutex<HashMap<K, Entry<T>>>);

impl<K: Eq + Hash, T: Clone> Map<K, T> {
    fn new() -> Self {
        Map(Mutex::new(HashMap::new()))
    }

    fn get(&self, key: &K, ttl: Duration, generation: u64) -> Option<T> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|e| e.generation == generation && e.at.elapsed() < ttl)
            .map(|e| e.value.clone())
    }

    fn put(&self, key: K, value: T, generation: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                value,
                at: Instant::now(),
                generation,
            },
        );
    }
}

pub(crate) struct ReadCache {
    ttl: Duration,
    generation: AtomicU64,
    pub(crate) api_keys: Map<String, ApiKeyRecord>,
    pub(crate) gateways: Map<(i64, i64), GatewayRecord>,
    pub(crate) groups: Map<(i64, i64), GroupRecord>,
    pub(crate) endpoints: Map<i64, Vec<EndpointRecord>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").field("ttl", &self.ttl).finish()
    }
}

impl ReadCache {
    pub(crate) fn from_env() -> Self {
        let ms = std::env::var("KASSA_READ_CACHE_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1_000)
            .min(60_000);
        ReadCache::new(Duration::from_millis(ms))
    }

    pub(crate) fn new(ttl: Duration) -> Self {
        ReadCache {
            ttl,
            generation: AtomicU64::new(0),
            api_keys: Map::new(),
            gateways: Map::new(),
            groups: Map::new(),
            endpoints: Map::new(),
        }
    }

    /// The generation to read under: take it before reading the database, so a write that lands
    /// during the read makes the entry stale.
    pub(crate) fn generation(&self) -> Option<u64> {
        (!self.ttl.is_zero()).then(|| self.generation.load(Ordering::Acquire))
    }

    /// A write to one of the cached tables: nothing read before it is served again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn get<K: Eq + Hash, T: Clone>(&self, map: &Map<K, T>, key: &K) -> Option<T> {
        let generation = self.generation()?;
        map.get(key, self.ttl, generation)
    }

    /// The cached value, else `read`'s (cached when it succeeds). `read` is lazy: it runs after
    /// the generation is taken.
    pub(crate) async fn get_or_read<K: Eq + Hash, T: Clone>(
        &self,
        map: &Map<K, T>,
        key: K,
        read: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        if let Some(hit) = self.get(map, &key) {
            return Ok(hit);
        }
        let generation = self.generation();
        let value = read.await?;
        self.put(map, key, value.clone(), generation);
        Ok(value)
    }

    pub(crate) fn put<K: Eq + Hash, T: Clone>(
        &self,
        map: &Map<K, T>,
        key: K,
        value: T,
        generation: Option<u64>,
    ) {
        if let Some(g) = generation {
            map.put(key, value, g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            id: 1,
            client_no: 1,
            label: label.into(),
        }
    }

    #[test]
    fn serves_until_a_write_or_the_ttl() {
        let c = ReadCache::new(Duration::from_millis(200));
        let g = c.generation();
        c.put(&c.api_keys, "h".into(), record("a"), g);
        assert_eq!(
            c.get(&c.api_keys, &"h".to_string()).map(|r| r.label),
            Some("a".into())
        );
        c.invalidate();
        assert!(c.get(&c.api_keys, &"h".to_string()).is_none());

        let g = c.generation();
        c.put(&c.api_keys, "h".into(), record("b"), g);
        assert!(c.get(&c.api_keys, &"h".to_string()).is_some());
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get(&c.api_keys, &"h".to_string()).is_none());
    }

    #[test]
    fn a_value_read_before_a_write_is_never_served() {
        let c = ReadCache::new(Duration::from_secs(60));
        let before = c.generation();
        c.invalidate(); // a write lands while the value was being read
        c.put(&c.api_keys, "h".into(), record("old"), before);
        assert!(c.get(&c.api_keys, &"h".to_string()).is_none());
    }

    #[test]
    fn off_when_ttl_is_zero() {
        let c = ReadCache::new(Duration::ZERO);
        let g = c.generation();
        c.put(&c.api_keys, "h".into(), record("a"), g);
        assert!(c.get(&c.api_keys, &"h".to_string()).is_none());
    }
}
