//! A cache of whole decisions, for the requests a proxy repeats (same user, same routes).
//!
//! An entry is served only while everything it was computed from is unchanged: the same
//! model generation, the same version of every entity and org it looked up (found or not),
//! and the clock before the first moment its org's data changes by itself (an invitation
//! expiring, a grace period ending). A write bumps the versions before it is acknowledged, so
//! an answer after an acknowledged write or a reload is never a cached stale one.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use super::slice::Slice;
use super::Decision;
use crate::store::{OrgState, Store};

/// Many small shards rather than a few big ones: a full shard is emptied at once, and emptying
/// 1,024 entries stalls the worker for microseconds where 8,192 showed in the p99; 64k
/// decisions of about a KiB each keep a store of a million entities under 256 MiB resident.
const SHARDS: usize = 64;
/// Entries per shard; a full shard is emptied (cheap, and the hot set refills at once).
const SHARD_CAPACITY: usize = 1024;
/// Slices per shard: 64 × 128 (principal, resource) pairs of a few KiB each.
const SLICE_SHARD_CAPACITY: usize = 128;

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

struct Entry<V> {
    generation: u64,
    deps: Vec<(usize, u64)>,
    valid_until: i64,
    value: V,
}

/// Sharded map of values computed from the store and the model, each kept with what it was
/// computed from (see the module doc): whole decisions, and request slices.
pub struct VersionedCache<V> {
    shards: Vec<Mutex<HashMap<Key, Arc<Entry<V>>>>>,
    capacity: usize,
}

/// Whole decisions, keyed by request.
pub type DecisionCache = VersionedCache<Decision>;

/// The entities of a request (principal, resource, what the context names), keyed by those
/// uids: a decision on another action of the same principal and resource reuses them instead
/// of reading the store and building the principal's membership view again.
pub type SliceCache = VersionedCache<Arc<Slice>>;

impl Default for DecisionCache {
    fn default() -> Self {
        VersionedCache::with_capacity(SHARD_CAPACITY)
    }
}

impl Default for SliceCache {
    fn default() -> Self {
        VersionedCache::with_capacity(SLICE_SHARD_CAPACITY)
    }
}

fn shard_of(key: &Key) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl<V: Clone> VersionedCache<V> {
    fn with_capacity(capacity: usize) -> Self {
        VersionedCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity,
        }
    }

    /// A cached value still valid for this model generation, store and time.
    pub fn get(&self, key: &Key, generation: u64, store: &Store, now: i64) -> Option<V> {
        let entry = self.shards[shard_of(key)].lock().get(key).cloned()?;
        let fresh = entry.generation == generation
            && now < entry.valid_until
            && entry
                .deps
                .iter()
                .all(|(s, v)| store.stripe_version(*s) == *v);
        fresh.then(|| entry.value.clone())
    }

    /// Remembers a value with what it was computed from.
    pub fn put(
        &self,
        key: Key,
        generation: u64,
        deps: Vec<(usize, u64)>,
        valid_until: i64,
        value: V,
    ) {
        let mut shard = self.shards[shard_of(&key)].lock();
        if shard.len() >= self.capacity {
            shard.clear();
        }
        shard.insert(
            key,
            Arc::new(Entry {
                generation,
                deps,
                valid_until,
                value,
            }),
        );
    }
}

/// Per-org state (roles, effective plan, usage), so that a decision on an org another decision
/// just read skips its half-dozen queries. Valid under the same rule as decisions: same model
/// generation, same version of the org's stripe, before the org's `valid_until`.
pub struct OrgCache {
    shards: Vec<Mutex<HashMap<String, OrgEntry>>>,
    capacity: usize,
}

#[derive(Clone)]
struct OrgEntry {
    generation: u64,
    deps: [(usize, u64); 2],
    valid_until: i64,
    state: Arc<OrgState>,
}

/// Orgs kept per shard: 64 × 1024 orgs of under a KiB each (the roles are shared) bound the
/// memory to tens of MiB and hold every org of the 1M-entity benchmark store (50k).
const ORG_SHARD_CAPACITY: usize = 1024;

impl Default for OrgCache {
    fn default() -> Self {
        OrgCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity: ORG_SHARD_CAPACITY,
        }
    }
}

fn org_shard(id: &str) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl OrgCache {
    /// A cache that never keeps anything (benchmarks of the store path).
    pub fn disabled() -> Self {
        OrgCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity: 0,
        }
    }

    /// The org's state if still valid.
    pub fn get(&self, id: &str, generation: u64, store: &Store, now: i64) -> Option<Arc<OrgState>> {
        let e = self.shards[org_shard(id)].lock().get(id).cloned()?;
        (e.generation == generation
            && now < e.valid_until
            && e.deps.iter().all(|(s, v)| store.stripe_version(*s) == *v))
        .then_some(e.state)
    }

    /// Keeps an org's state read at the versions `deps` of its stripes (the org's and its
    /// usage's, taken before the read).
    pub fn put(&self, id: &str, generation: u64, deps: [(usize, u64); 2], state: Arc<OrgState>) {
        if self.capacity == 0 {
            return;
        }
        let mut shard = self.shards[org_shard(id)].lock();
        if shard.len() >= self.capacity {
            shard.clear();
        }
        let valid_until = state.valid_until;
        shard.insert(
            id.to_string(),
            OrgEntry {
                generation,
                deps,
                valid_until,
                state,
            },
        );
    }
}
