//! The SQLite store: one file holding generic Cedar entities and the built-in org model
//! (orgs, members, invitations, workspaces, roles, usage), plus the audit trail.
//!
//! Reads go through a small pool of read-only connections inside a deferred transaction, so one
//! decision sees one consistent snapshot and never waits on the writer (WAL). Writes go through
//! the single writer connection inside `BEGIN IMMEDIATE`, and a write is reported done only
//! after `COMMIT` returned with `synchronous=FULL`, so an acknowledged write survives a crash.
//!
//! Freshness across processes: every write transaction, by any Tollgate process (`serve`,
//! `import`, a second daemon on the same file), appends one row to the `changes` log naming
//! what it touched, in commit order. Before each decision, [`Store::sync`] reads the WAL-index
//! header (a 48-byte `pread` of the `-shm` file that SQLite rewrites on every commit, the same
//! check SQLite makes before each read) and, when it moved, reads the new log rows and bumps
//! the version stripes they name; a change the log does not explain bumps every stripe. So a
//! cached answer is never served after a commit that returned before the decision began.

mod billing_rows;
mod health;
mod migrations;
mod org_rows;
mod queries;
mod sync;

pub use sync::{stripe, LogIdentity, Synced, USAGE_STRIPE_TYPE};

use migrations::{create_private, ensure_triggers, migrate};
use sync::{SyncState, Touched, ALL_KEYS, CHANGES_KEPT, STRIPES, WAL_INDEX_HEADER};

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// Read connections kept open; more readers than this open and close on demand.
const READ_POOL: usize = 8;

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    healthy: AtomicBool,
    health_reason: Mutex<String>,
    /// (device, inode) of the file opened at start: a replaced or deleted file is not ours.
    identity: (u64, u64),
    /// The database file, for the per-decision `fstat` (cheaper than a `stat` of the path).
    file: File,
    /// The `-shm` file, whose WAL-index header moves with every commit of any process.
    shm: File,
    /// (device, inode) of the `-shm` and `-wal` files at start: if either is removed or
    /// replaced, another process would share the database through a different WAL index,
    /// unseen by this one (and could corrupt it), so the store fails closed until a restart.
    sidecars: [(PathBuf, (u64, u64)); 2],
    /// What this process has applied of the change log.
    sync: Mutex<SyncState>,
    /// Odd while [`Store::sync`] bumps stripes: a reader that saw it move (or odd) cannot
    /// tell which of the versions it read came before or after the bump.
    bumping: AtomicU64,
    /// Per-stripe versions, bumped when a commit that changed data filed under the stripe is
    /// applied from the change log.
    stripes: Box<[AtomicU64]>,
}

fn pragmas(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
    )?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the store at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store> {
        create_private(path)?;
        let writer = Connection::open(path).map_err(|e| {
            Error::StoreUnavailable(format!("cannot open `{}`: {e}", path.display()))
        })?;
        pragmas(&writer, true)?;
        migrate(&writer)?;
        ensure_triggers(&writer)?;
        // The `unlogged` triggers mark writes by other tools; Tollgate logs its own writes in
        // `changes`, so its writer runs without them (and pays nothing per row for them).
        writer.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
            false,
        )?;
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open `{}`", path.display()), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("cannot stat `{}`", path.display()), e))?;
        // The writer has run transactions in WAL mode, so SQLite has created the `-shm` file;
        // it stays while any connection is open, and this store keeps its writer open.
        let shm_path = {
            let mut p = path.as_os_str().to_owned();
            p.push("-shm");
            PathBuf::from(p)
        };
        let shm = File::open(&shm_path)
            .map_err(|e| Error::io(format!("cannot open `{}`", shm_path.display()), e))?;
        let wal_path = {
            let mut p = path.as_os_str().to_owned();
            p.push("-wal");
            PathBuf::from(p)
        };
        let identity_of = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| (m.dev(), m.ino()))
                .map_err(|e| Error::io(format!("cannot stat `{}`", p.display()), e))
        };
        let sidecars = [
            (shm_path.clone(), identity_of(&shm_path)?),
            (wal_path.clone(), identity_of(&wal_path)?),
        ];
        let applied: i64 =
            writer.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })?;
        let identity = Reader { conn: &writer }.log_identity()?;
        let mut header = [0u8; WAL_INDEX_HEADER];
        shm.read_exact_at(&mut header, 0)
            .map_err(|e| Error::io(format!("cannot read `{}`", shm_path.display()), e))?;
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                healthy: AtomicBool::new(true),
                health_reason: Mutex::new(String::new()),
                identity: (meta.dev(), meta.ino()),
                file,
                shm,
                sidecars,
                sync: Mutex::new(SyncState {
                    header,
                    applied,
                    identity,
                }),
                bumping: AtomicU64::new(0),
                stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            }),
        };
        store.check_health();
        Ok(store)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` over one consistent read snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        // One stat per read: an open descriptor keeps answering after its file is deleted, and
        // a decision must not be served from a store that is gone.
        if !self.check_health() {
            return Err(self.unavailable());
        }
        self.read_after_check(f)
    }

    /// [`Store::read`] for a caller that has just checked [`Store::check_health`] itself in
    /// the same request (the decision path: one `stat` per decision, not two).
    pub fn read_after_check<T>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        let conn = match self.inner.readers.lock().pop() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = (|| {
            // Prepared once per connection: re-parsing BEGIN and COMMIT on every read showed in
            // the decision path's profile.
            conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
            let out = f(&Reader { conn: &conn });
            // A read transaction has nothing to keep; end it whatever `f` returned.
            conn.prepare_cached("COMMIT")?.execute([])?;
            out
        })();
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let mut pool = self.inner.readers.lock();
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::StoreUnavailable(format!("cannot open a reader: {e}")))?;
        pragmas(&conn, false)?;
        #[cfg(test)]
        if let Some(f) = *tests::READ_TRACE.lock() {
            conn.trace_v2(rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT, Some(f));
        }
        Ok(conn)
    }

    /// Runs `f` inside one write transaction; commits only if `f` succeeds. The result is
    /// returned only after the commit is durable.
    pub fn write<T>(&self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        self.write_with(false, |w| f(w).map(|v| (v, true)))
    }

    /// [`Store::write`] for a bulk load (`tollgate import`): the same rules, but one audit
    /// record for the whole load (written with [`Writer::audit_always`]) rather than one per
    /// row it writes.
    pub fn write_bulk<T>(&self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        self.write_with(true, |w| f(w).map(|v| (v, true)))
    }

    /// [`Store::write`] for a write that may find it has nothing to write: `f` returns whether
    /// to commit; when it says no, the transaction is rolled back (no fsync, no log row) and
    /// its value returned. A decision with `reserve` that denies is one.
    pub fn write_if<T>(&self, f: impl FnOnce(&Writer<'_>) -> Result<(T, bool)>) -> Result<T> {
        self.write_with(false, f)
    }

    fn write_with<T>(
        &self,
        bulk: bool,
        f: impl FnOnce(&Writer<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        if !self.check_health() {
            return Err(self.unavailable());
        }
        let mut conn = self.inner.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let writer = Writer {
            reader: Reader { conn: &tx },
            touched: Default::default(),
            bulk,
        };
        // A write by another tool since the last logged one: this row stands for it too.
        let foreign: bool = tx
            .prepare_cached("SELECT COUNT(*) > 0 FROM unlogged WHERE x = 1")?
            .query_row([], |r| r.get(0))?;
        let (out, keep) = f(&writer)?;
        if !keep {
            // Dropping the transaction rolls it back.
            return Ok(out);
        }
        let Touched {
            mut keys,
            everything,
        } = writer.touched.into_inner();
        tx.prepare_cached("DELETE FROM unlogged")?.execute([])?;
        let keys = if everything || foreign {
            ALL_KEYS.to_string()
        } else {
            keys.sort();
            keys.dedup();
            serde_json::to_string(&keys).map_err(|e| Error::Internal(e.to_string()))?
        };
        let seq: i64 = tx
            .prepare_cached(
                "INSERT INTO changes (seq, at, keys) \
                 VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM changes), ?1, ?2) RETURNING seq",
            )?
            .query_row(rusqlite::params![now_unix(), keys], |r| r.get(0))?;
        if seq % 1024 == 0 {
            tx.prepare_cached("DELETE FROM changes WHERE seq <= ?1")?
                .execute([seq - CHANGES_KEPT])?;
        }
        // Re-check just before committing: a commit into a deleted file is a lost write.
        if !self.check_health() {
            return Err(self.unavailable());
        }
        tx.commit()?;
        // Nothing to bump here: the commit moved the WAL-index header, so the next decision
        // of this process (or any other) reads the log row above before it answers.
        Ok(out)
    }
}

/// Read access inside one transaction.
pub struct Reader<'a> {
    conn: &'a Connection,
}

/// Write access inside one `BEGIN IMMEDIATE` transaction; reads see the transaction's writes.
pub struct Writer<'a> {
    reader: Reader<'a>,
    /// The keys (entity type, id) of the data this transaction changed, logged with it.
    touched: std::cell::RefCell<Touched>,
    /// A bulk load: per-row audit records are left to one record for the whole load.
    bulk: bool,
}

impl<'a> std::ops::Deref for Writer<'a> {
    type Target = Reader<'a>;
    fn deref(&self) -> &Reader<'a> {
        &self.reader
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A writer restarts the WAL after a complete checkpoint by rewriting the shared header
    /// before its frames commit (here: a transaction large enough to spill its pages). A sync
    /// at that moment sees the header moved with no new row; that is not a change, and must
    /// not flush every cache (it did, every few hundred writes under load).
    #[test]
    fn a_wal_restart_mid_transaction_is_not_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        for i in 0..20 {
            store
                .write(|w| {
                    w.put_entity(
                        "Project",
                        &format!("p{i}"),
                        r#"{"uid":{"type":"Project","id":"x"},"attrs":{},"parents":[]}"#,
                    )
                })
                .unwrap();
        }
        assert_eq!(store.sync().unwrap(), Synced::Keys(20));
        assert_eq!(store.sync().unwrap(), Synced::Unchanged);
        let other = Connection::open(&path).unwrap();
        other
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .unwrap();
        other
            .execute_batch("PRAGMA cache_size = 1; BEGIN IMMEDIATE;")
            .unwrap();
        for i in 0..2_000 {
            other
                .execute(
                    "INSERT INTO audit (at, org, action, target, detail) VALUES (0, NULL, 'x', ?1, '{}')",
                    [format!("{i:0>400}")],
                )
                .unwrap();
        }
        let mut header = [0u8; WAL_INDEX_HEADER];
        store.inner.shm.read_exact_at(&mut header, 0).unwrap();
        assert_ne!(
            header,
            store.inner.sync.lock().header,
            "the spill restarted the WAL"
        );
        assert_ne!(store.sync().unwrap(), Synced::Everything);
        other.execute_batch("ROLLBACK").unwrap();
    }

    /// A store written before the parent index existed gets it filled on upgrade, so a
    /// workspace holding entities stored back then cannot be deleted either.
    #[test]
    fn the_upgrade_indexes_the_parents_of_stored_entities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            for sql in &migrations::MIGRATIONS[..3] {
                c.execute_batch(sql).unwrap();
            }
            c.execute_batch(
                r#"INSERT INTO entities VALUES ('Project', 'p1', '{"uid":{"type":"Project","id":"p1"},"attrs":{},"parents":[{"type":"Workspace","id":"w1"},{"__entity":{"type":"Org","id":"o1"}}]}');
                   INSERT INTO entities VALUES ('Project', 'p2', '{"uid":{"type":"Project","id":"p2"},"attrs":{}}');
                   PRAGMA user_version = 3;"#,
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let (parents, child, none) = store
            .read(|r| {
                Ok((
                    r.entity_parents("Project", "p1")?,
                    r.first_child("Workspace", "w1")?,
                    r.entity_parents("Project", "p2")?,
                ))
            })
            .unwrap();
        assert_eq!(
            parents,
            vec![
                ("Org".into(), "o1".into()),
                ("Workspace".into(), "w1".into())
            ]
        );
        assert_eq!(child, Some(("Project".into(), "p1".into())));
        assert!(none.is_empty());
    }

    /// A tracer installed on read connections opened while it is set (tests only).
    pub(crate) static READ_TRACE: parking_lot::Mutex<Option<fn(rusqlite::trace::TraceEvent<'_>)>> =
        parking_lot::Mutex::new(None);
}
