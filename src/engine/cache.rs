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

use super::Decision;
use crate::store::{OrgState, Store};

/// Many small shards rather than a few big ones: a full shard is emptied at once, and emptying
/// 2,048 entries stalls the worker for tens of microseconds where 8,192 showed in the p99.
const SHARDS: usize = 64;
/// Entries per shard; a full shard is emptied (cheap, and the hot set refills at once).
const SHARD_CAPACITY: usize = 2048;

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

struct Entry {
    generation: u64,
    deps: Vec<(usize, u64)>,
    valid_until: i64,
    decision: Decision,
}

/// Sharded map of cached decisions.
pub struct DecisionCache {
    shards: Vec<Mutex<HashMap<Key, Arc<Entry>>>>,
}

impl Default for DecisionCache {
    fn default() -> Self {
        DecisionCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

fn shard_of(key: &Key) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl DecisionCache {
    /// A cached decision still valid for this model generation, store and time.
    pub fn get(&self, key: &Key, generation: u64, store: &Store, now: i64) -> Option<Decision> {
        let entry = self.shards[shard_of(key)].lock().get(key).cloned()?;
        let fresh = entry.generation == generation
            && now < entry.valid_until
            && entry
                .deps
                .iter()
                .all(|(s, v)| store.stripe_version(*s) == *v);
        fresh.then(|| entry.decision.clone())
    }

    /// Remembers a decision with what it was computed from.
    pub fn put(
        &self,
        key: Key,
        generation: u64,
        deps: Vec<(usize, u64)>,
        valid_until: i64,
        decision: Decision,
    ) {
        let mut shard = self.shards[shard_of(&key)].lock();
        if shard.len() >= SHARD_CAPACITY {
            shard.clear();
        }
        shard.insert(
            key,
            Arc::new(Entry {
                generation,
                deps,
                valid_until,
                decision,
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
    stripe: usize,
    version: u64,
    valid_until: i64,
    state: Arc<OrgState>,
}

/// Orgs kept per shard: 64 × 256 orgs of a few KiB each bound the memory to tens of MiB.
const ORG_SHARD_CAPACITY: usize = 256;

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
            && store.stripe_version(e.stripe) == e.version)
            .then_some(e.state)
    }

    /// Keeps an org's state read at stripe `version` (taken before the read).
    pub fn put(
        &self,
        id: &str,
        generation: u64,
        stripe: usize,
        version: u64,
        state: Arc<OrgState>,
    ) {
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
                stripe,
                version,
                valid_until,
                state,
            },
        );
    }
}
