//! Freshness across processes: the change log every write transaction appends to, the
//! version stripes the caches check, and [`Store::sync`], which reads the WAL-index header and
//! the new log rows before each decision and bumps the stripes they name.

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;

use super::migrations::DATA_TABLES;
use super::{Store, Writer};
use crate::error::{Error, Result};

/// Log rows kept: a process that falls further behind than this (it answered no decision
/// meanwhile) flushes its caches instead of replaying.
pub(super) const CHANGES_KEPT: i64 = 16_384;

/// A write touching more keys than this (an import) is logged as touching everything.
pub(super) const MAX_LOGGED_KEYS: usize = 1_024;

/// The WAL-index header: its first copy, rewritten by SQLite on every commit
/// (<https://sqlite.org/walformat.html>, "the wal-index header"). Its layout is fixed for
/// interoperability between processes running different SQLite versions.
pub(super) const WAL_INDEX_HEADER: usize = 48;

/// What [`Store::sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// No commit since the last sync.
    Unchanged,
    /// The stripes of this many logged keys were bumped.
    Keys(usize),
    /// Every stripe was bumped: a change the log does not list.
    Everything,
}

/// The change log position this process has applied, and the WAL-index header it saw then.
pub(super) struct SyncState {
    pub(super) header: [u8; WAL_INDEX_HEADER],
    pub(super) applied: i64,
    /// Which log, and which schema, `applied` counts in (see [`Reader::log_identity`]).
    pub(super) identity: LogIdentity,
}

/// What the change log's positions are relative to: the store's id (another store's file
/// restored over this one brings another log) and the schema version (a schema change by
/// another tool may have dropped the `unlogged` triggers with a rebuilt table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    pub(super) store_id: String,
    pub(super) schema_version: i64,
}

impl Store {
    /// The current version of a stripe (see [`stripe`]).
    pub fn stripe_version(&self, stripe: usize) -> u64 {
        self.inner.stripes[stripe & (STRIPES - 1)].load(Ordering::SeqCst)
    }

    /// A mark to take after [`Store::sync`] and before reading data whose stripe versions are
    /// read during the read (a slice): if [`Store::unchanged_since`] says the mark moved, a
    /// stripe may have been bumped between the snapshot's start and the reading of its
    /// version, and what was read must not be cached under those versions.
    pub fn version_mark(&self) -> u64 {
        self.inner.bumping.load(Ordering::SeqCst)
    }

    /// Whether no stripe was bumped since `mark` was taken (see [`Store::version_mark`]).
    pub fn unchanged_since(&self, mark: u64) -> bool {
        mark.is_multiple_of(2) && self.inner.bumping.load(Ordering::SeqCst) == mark
    }

    /// Makes the version stripes reflect every commit to the file, by any process, that
    /// returned before this call: the first step of every decision, cached ones included.
    /// Fails closed: a `-shm` file or change log that cannot be read is an error.
    pub fn sync(&self) -> Result<Synced> {
        let mut st = self.inner.sync.lock();
        let mut header = [0u8; WAL_INDEX_HEADER];
        self.inner
            .shm
            .read_exact_at(&mut header, 0)
            .map_err(|e| Error::StoreUnavailable(format!("cannot read the WAL index: {e}")))?;
        if header == st.header {
            return Ok(Synced::Unchanged);
        }
        // The header is read before the log: every commit it reflects is in the snapshot the
        // log is read from, and any later commit moves the header again.
        let applied = st.applied;
        let schema_version = st.identity.schema_version;
        let (rows, foreign, identity, triggers) = self.read_after_check(|r| {
            let identity = r.log_identity()?;
            let triggers = if identity.schema_version == schema_version {
                DATA_TABLES.len() * 3
            } else {
                r.unlogged_triggers()?
            };
            Ok((r.changes_since(applied)?, r.unlogged()?, identity, triggers))
        })?;
        if triggers < DATA_TABLES.len() * 3 {
            // Writes by other tools would go unmarked from here on: fail closed.
            self.set_health(Some(
                "the store's change triggers were dropped by another tool; restart Tollgate \
                 to recreate them",
            ));
            return Err(self.unavailable());
        }
        // The `unlogged` mark is a write this log does not list (another tool on the file); a
        // first row past `applied + 1` means rows were pruned unseen; another log or schema
        // than the one `applied` counts in means the file was restored or rebuilt under us.
        // A moved header alone is not a change: a writer restarting the WAL after a complete
        // checkpoint rewrites it before its frames (and its log row) commit.
        let mut everything = foreign
            || identity != st.identity
            || rows.first().is_some_and(|(seq, _)| *seq != applied + 1);
        let mut keys = Vec::new();
        for (_, logged) in &rows {
            match serde_json::from_str::<Vec<(String, String)>>(logged) {
                Ok(k) if logged != ALL_KEYS => keys.extend(k),
                _ => everything = true,
            }
        }
        self.inner.bumping.fetch_add(1, Ordering::SeqCst);
        if everything {
            tracing::info!(
                rows = rows.len(),
                unlogged = foreign,
                "the store changed in a way its change log does not list; every cache entry is stale"
            );
            for s in self.inner.stripes.iter() {
                s.fetch_add(1, Ordering::SeqCst);
            }
        } else {
            for (etype, id) in &keys {
                self.inner.stripes[stripe(etype, id)].fetch_add(1, Ordering::SeqCst);
            }
        }
        self.inner.bumping.fetch_add(1, Ordering::SeqCst);
        if let Some((seq, _)) = rows.last() {
            st.applied = *seq;
        }
        st.identity = identity;
        st.header = header;
        Ok(if everything {
            Synced::Everything
        } else {
            Synced::Keys(keys.len())
        })
    }
}

/// What a write transaction touched: its keys, or everything once they are too many to list
/// (an import), so a bulk load does not hold a copy of every key it wrote.
#[derive(Default)]
pub(super) struct Touched {
    pub(super) keys: Vec<(String, String)>,
    pub(super) everything: bool,
}

impl Writer<'_> {
    /// Records that the entity `etype::id` (or, for `Org`, anything of that org) changed.
    pub fn touch(&self, etype: &str, id: &str) {
        let mut t = self.touched.borrow_mut();
        if t.everything || t.keys.last().is_some_and(|(e, i)| e == etype && i == id) {
            return;
        }
        if t.keys.len() >= MAX_LOGGED_KEYS {
            t.everything = true;
            t.keys = Vec::new();
            return;
        }
        t.keys.push((etype.to_string(), id.to_string()));
    }
}

/// The logged keys of a write that touched too much to list: everything is stale.
pub(super) const ALL_KEYS: &str = "*";

/// Number of version stripes: a fixed table, so memory does not grow with the data; two keys
/// sharing a stripe only cost an extra recomputation, never a stale answer.
pub(super) const STRIPES: usize = 1 << 16;

/// The stripe key type of an org's app-reported usage (`PUT /v1/orgs/{org}/usage/..`), kept
/// apart from the org's other data; not a valid Cedar type name, so no entity shares it.
pub const USAGE_STRIPE_TYPE: &str = "Org#usage";

/// The version stripe of an entity uid (an org's data is filed under its `Org` uid, its app
/// usage under [`USAGE_STRIPE_TYPE`]). Local to a process: the log records keys, not stripes.
pub fn stripe(etype: &str, id: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    etype.hash(&mut h);
    id.hash(&mut h);
    (h.finish() as usize) & (STRIPES - 1)
}
