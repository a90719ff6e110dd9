//! A byte-bounded cache of values computed from the store and the model, each kept with what
//! it was computed from: the decision, slice and org caches are three of these.
//!
//! An entry is served only while everything it was computed from is unchanged: the same
//! model generation, the same version of every stripe it recorded (found or not), and the
//! clock before the first moment its data changes by itself (an invitation expiring, a grace
//! period ending). `Store::sync` bumps the versions of whatever any commit to the file touched
//! before the next decision begins, so an answer after an acknowledged write or a reload is
//! never a cached stale one. A leaf: it knows neither the store nor what it holds.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

/// Many small shards rather than a few big ones: a full shard is emptied at once, and emptying
/// a big one stalls the worker for microseconds that showed in the p99.
const SHARDS: usize = 64;

/// What an entry costs besides its key and value: the map slot, the `Arc`, the entry's fields.
const ENTRY_OVERHEAD: usize = 128;

/// The heap bytes a cached key or value holds, estimated from what it is built of: what bounds
/// a cache's memory is the sum of these, so an estimate errs on the large side.
pub trait Weigh {
    /// Estimated bytes.
    fn weight(&self) -> usize;
}

impl Weigh for Vec<u8> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

struct Entry<V> {
    generation: u64,
    deps: Vec<(usize, u64)>,
    valid_until: i64,
    weight: usize,
    value: V,
}

struct Shard<K, V> {
    map: HashMap<K, Arc<Entry<V>>>,
    bytes: usize,
}

/// Sharded map of values, each kept with what it was computed from (see the module doc),
/// holding at most `max_bytes` in all.
pub struct VersionedCache<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    shard_bytes: usize,
}

fn shard_of<Q: Hash + ?Sized>(key: &Q) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl<K: Hash + Eq + Weigh, V: Clone + Weigh> VersionedCache<K, V> {
    /// A cache holding at most about `max_bytes` (keys, values and bookkeeping); 0 keeps
    /// nothing.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        VersionedCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        bytes: 0,
                    })
                })
                .collect(),
            shard_bytes: max_bytes / SHARDS,
        }
    }

    /// A cached value still valid for this model generation, these stripe versions (`version`
    /// of a stripe now) and time.
    pub fn get<Q>(
        &self,
        key: &Q,
        generation: u64,
        version: impl Fn(usize) -> u64,
        now: i64,
    ) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entry = self.shards[shard_of(key)].lock().map.get(key).cloned()?;
        let fresh = entry.generation == generation
            && now < entry.valid_until
            && entry.deps.iter().all(|(s, v)| version(*s) == *v);
        fresh.then(|| entry.value.clone())
    }

    /// Remembers a value with what it was computed from. A value larger than a shard's share
    /// of the bytes is not kept; a shard that would pass its share is emptied first (cheap,
    /// and the hot set refills at once).
    pub fn put(
        &self,
        key: K,
        generation: u64,
        deps: Vec<(usize, u64)>,
        valid_until: i64,
        value: V,
    ) {
        let weight = ENTRY_OVERHEAD + key.weight() + deps.len() * 16 + value.weight();
        if weight > self.shard_bytes {
            return;
        }
        let mut shard = self.shards[shard_of(&key)].lock();
        if let Some(old) = shard.map.remove(&key) {
            shard.bytes -= old.weight;
        }
        if shard.bytes + weight > self.shard_bytes {
            shard.map.clear();
            shard.bytes = 0;
        }
        shard.bytes += weight;
        shard.map.insert(
            key,
            Arc::new(Entry {
                generation,
                deps,
                valid_until,
                weight,
                value,
            }),
        );
    }

    /// Bytes held now (the estimate the bound is kept on).
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct V(&'static str);

    impl Weigh for V {
        fn weight(&self) -> usize {
            self.0.len()
        }
    }

    #[test]
    fn the_bound_is_on_bytes_and_an_oversized_entry_is_not_kept() {
        let cache: VersionedCache<Vec<u8>, V> = VersionedCache::with_max_bytes(64 * 1024);
        let unchanged = |_| 0;
        for i in 0..2_000 {
            let key = format!("{i:0>200}").into_bytes();
            cache.put(key, 1, vec![], i64::MAX, V("r"));
            assert!(
                cache.bytes() <= 64 * 1024,
                "{} bytes after {i}",
                cache.bytes()
            );
        }
        let key = b"small".to_vec();
        cache.put(key.clone(), 1, vec![(7, 3)], i64::MAX, V("r"));
        assert_eq!(cache.get(&key, 1, |_| 3, 0), Some(V("r")));
        assert_eq!(
            cache.get(&key, 2, |_| 3, 0),
            None,
            "another model generation"
        );
        assert_eq!(cache.get(&key, 1, |_| 4, 0), None, "a stripe moved");
        let huge = vec![b' '; 4096];
        cache.put(huge.clone(), 1, vec![], i64::MAX, V("r"));
        assert_eq!(
            cache.get(&huge, 1, unchanged, 0),
            None,
            "larger than a shard's share"
        );
        let off: VersionedCache<Vec<u8>, V> = VersionedCache::with_max_bytes(0);
        off.put(key.clone(), 1, vec![], i64::MAX, V("r"));
        assert_eq!(off.get(&key, 1, unchanged, 0), None);
    }
}
