//! Caches of what decisions compute from the store: whole decisions (for the requests a proxy
//! repeats), request slices and per-org state, each bounded by bytes.
//!
//! An entry is served only while everything it was computed from is unchanged: the same
//! model generation, the same version of every entity and org it looked up (found or not),
//! and the clock before the first moment its org's data changes by itself (an invitation
//! expiring, a grace period ending). `Store::sync` bumps the versions of whatever any commit
//! to the file touched before the next decision begins, so an answer after an acknowledged
//! write or a reload is never a cached stale one.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use super::slice::Slice;
use super::Decision;
use crate::store::{OrgState, Store};

/// Many small shards rather than a few big ones: a full shard is emptied at once, and emptying
/// a big one stalls the worker for microseconds that showed in the p99.
const SHARDS: usize = 64;

/// What an entry costs besides its key and value: the map slot, the `Arc`, the entry's fields.
const ENTRY_OVERHEAD: usize = 128;

/// The request, as the decision depends on it: either its exact body bytes (the HTTP path,
/// looked up before any parsing) or a canonical rendering of the parsed request.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key(pub Vec<u8>);

impl Key {
    /// The key of a raw request body.
    pub fn raw(body: &[u8]) -> Key {
        let mut k = Vec::with_capacity(body.len() + 4);
        k.extend_from_slice(b"raw\0");
        k.extend_from_slice(body);
        Key(k)
    }
}

/// The heap bytes a cached value holds, estimated from what it is built of: what bounds a
/// cache's memory is the sum of these, so an estimate errs on the large side.
pub trait Weigh {
    /// Estimated bytes.
    fn weight(&self) -> usize;
}

struct Entry<V> {
    generation: u64,
    deps: Vec<(usize, u64)>,
    valid_until: i64,
    weight: usize,
    value: V,
}

struct Shard<V> {
    map: HashMap<Key, Arc<Entry<V>>>,
    bytes: usize,
}

/// Sharded map of values computed from the store and the model, each kept with what it was
/// computed from (see the module doc), holding at most `max_bytes` in all.
pub struct VersionedCache<V> {
    shards: Vec<Mutex<Shard<V>>>,
    shard_bytes: usize,
}

/// Whole decisions, keyed by request.
pub type DecisionCache = VersionedCache<Decision>;

/// The entities of a request (principal, resource, what the context names), keyed by those
/// uids: a decision on another action of the same principal and resource reuses them instead
/// of reading the store and building the principal's membership view again.
pub type SliceCache = VersionedCache<Arc<Slice>>;

/// Per-org state (roles, effective plan, usage), keyed by org id, so that a decision on an
/// org another decision just read skips its half-dozen queries.
pub type OrgCache = VersionedCache<Arc<OrgState>>;

fn shard_of(key: &Key) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl<V: Clone + Weigh> VersionedCache<V> {
    /// A cache holding at most about `max_bytes` (keys, values and bookkeeping); 0 keeps
    /// nothing.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        VersionedCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard::default_shard()))
                .collect(),
            shard_bytes: max_bytes / SHARDS,
        }
    }

    /// A cache that never keeps anything (benchmarks of the store path).
    pub fn disabled() -> Self {
        Self::with_max_bytes(0)
    }

    /// A cached value still valid for this model generation, store and time.
    pub fn get(&self, key: &Key, generation: u64, store: &Store, now: i64) -> Option<V> {
        let entry = self.shards[shard_of(key)].lock().map.get(key).cloned()?;
        let fresh = entry.generation == generation
            && now < entry.valid_until
            && entry
                .deps
                .iter()
                .all(|(s, v)| store.stripe_version(*s) == *v);
        fresh.then(|| entry.value.clone())
    }

    /// Remembers a value with what it was computed from. A value larger than a shard's share
    /// of the bytes is not kept; a shard that would pass its share is emptied first (cheap,
    /// and the hot set refills at once).
    pub fn put(
        &self,
        key: Key,
        generation: u64,
        deps: Vec<(usize, u64)>,
        valid_until: i64,
        value: V,
    ) {
        let weight = ENTRY_OVERHEAD + key.0.len() + deps.len() * 16 + value.weight();
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

impl<V> Shard<V> {
    fn default_shard() -> Self {
        Shard {
            map: HashMap::new(),
            bytes: 0,
        }
    }
}

impl OrgCache {
    /// An org's state if still valid.
    pub fn get_org(
        &self,
        id: &str,
        generation: u64,
        store: &Store,
        now: i64,
    ) -> Option<Arc<OrgState>> {
        self.get(&Key(id.as_bytes().to_vec()), generation, store, now)
    }

    /// Keeps an org's state read at the versions `deps` of its stripes (the org's and its
    /// usage's), valid until the state's own `valid_until`.
    pub fn put_org(
        &self,
        id: &str,
        generation: u64,
        deps: [(usize, u64); 2],
        state: Arc<OrgState>,
    ) {
        let until = state.valid_until;
        self.put(
            Key(id.as_bytes().to_vec()),
            generation,
            deps.to_vec(),
            until,
            state,
        );
    }
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> usize {
    items.into_iter().map(|s| 24 + s.len()).sum()
}

impl Weigh for Decision {
    fn weight(&self) -> usize {
        let payment = self.payment.as_ref().map_or(0, |p| {
            std::mem::size_of_val(p)
                + p.message.len()
                + p.upgrade_url.len()
                + strings(&p.required_plan)
                + p.current_usage
                    .as_ref()
                    .map_or(0, |u| u.resource_type.len())
        });
        std::mem::size_of::<Decision>()
            + strings(&self.reasons)
            + strings(&self.errors)
            + strings(&self.warnings)
            + payment
    }
}

impl Weigh for Arc<Slice> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Slice>() + self.as_ref().weight
    }
}

impl Weigh for Arc<OrgState> {
    fn weight(&self) -> usize {
        OrgState::weight(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;

    fn decision(reason: &str) -> Decision {
        Decision {
            outcome: Outcome::Allow,
            reasons: vec![reason.to_string()],
            errors: vec![],
            warnings: vec![],
            payment: None,
        }
    }

    #[test]
    fn the_bound_is_on_bytes_and_an_oversized_entry_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let cache = DecisionCache::with_max_bytes(64 * 1024);
        for i in 0..2_000 {
            let key = Key::raw(format!("{i:0>200}").as_bytes());
            cache.put(key, 1, vec![], i64::MAX, decision("r"));
            assert!(
                cache.bytes() <= 64 * 1024,
                "{} bytes after {i}",
                cache.bytes()
            );
        }
        let key = Key::raw(b"small");
        cache.put(key.clone(), 1, vec![], i64::MAX, decision("r"));
        assert_eq!(cache.get(&key, 1, &store, 0), Some(decision("r")));
        assert_eq!(
            cache.get(&key, 2, &store, 0),
            None,
            "another model generation"
        );
        let huge = Key::raw(&[b' '; 4096]);
        cache.put(huge.clone(), 1, vec![], i64::MAX, decision("r"));
        assert_eq!(
            cache.get(&huge, 1, &store, 0),
            None,
            "larger than a shard's share"
        );
        let off = DecisionCache::disabled();
        off.put(key.clone(), 1, vec![], i64::MAX, decision("r"));
        assert_eq!(off.get(&key, 1, &store, 0), None);
    }
}
