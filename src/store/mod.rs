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

mod org_rows;
mod queries;

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    // Seat counts and the next expiry read only the pending invitations of an org, however
    // many expired ones it has collected.
    "CREATE INDEX invitations_pending ON invitations (org, expires_at, role);",
    // Every write transaction appends what it touched, in commit order, so the caches of
    // every process on the file can tell which of their entries a commit made stale.
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, keys TEXT NOT NULL);",
    // The parents of every stored entity, both ways: a workspace that still holds stored
    // entities cannot be deleted (another org taking its id would adopt them), and a write
    // that would close a parent cycle is refused by walking up from the new parents.
    include_str!("entity_parents.sql"),
    // Writes by other tools mark the store, so caches never trust a log that missed them.
    include_str!("unlogged.sql"),
];

/// The tables whose rows decisions read: a write to any of them by another tool is marked by
/// the `unlogged` triggers (see `unlogged.sql`).
const DATA_TABLES: [&str; 11] = [
    "entities",
    "entity_parents",
    "orgs",
    "members",
    "invitations",
    "workspaces",
    "workspace_members",
    "roles",
    "usage",
    "counters",
    "reservations",
];

/// Creates the `unlogged` triggers that are missing (a table rebuilt by a maintenance tool
/// loses its triggers); run at every open, before the writer disables triggers for itself.
fn ensure_triggers(conn: &Connection) -> Result<()> {
    let mut sql = String::new();
    for t in DATA_TABLES {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS {t}_{lower}_unlogged AFTER {op} ON {t} BEGIN \
                 INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;\n",
                lower = op.to_lowercase(),
            ));
        }
    }
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql} COMMIT;"))?;
    Ok(())
}

/// Log rows kept: a process that falls further behind than this (it answered no decision
/// meanwhile) flushes its caches instead of replaying.
const CHANGES_KEPT: i64 = 16_384;

/// A write touching more keys than this (an import) is logged as touching everything.
const MAX_LOGGED_KEYS: usize = 1_024;

/// The WAL-index header: its first copy, rewritten by SQLite on every commit
/// (<https://sqlite.org/walformat.html>, "the wal-index header"). Its layout is fixed for
/// interoperability between processes running different SQLite versions.
const WAL_INDEX_HEADER: usize = 48;

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
struct SyncState {
    header: [u8; WAL_INDEX_HEADER],
    applied: i64,
    /// Which log, and which schema, `applied` counts in (see [`Reader::log_identity`]).
    identity: LogIdentity,
}

/// What the change log's positions are relative to: the store's id (another store's file
/// restored over this one brings another log) and the schema version (a schema change by
/// another tool may have dropped the `unlogged` triggers with a rebuilt table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    store_id: String,
    schema_version: i64,
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

    /// Whether the last health check found the file present, ours and writable.
    fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    /// The decision path's health check: an `fstat` of the open file (deleted, replaced by a
    /// rename, or read-only shows there at once) and of the `-shm` file (removed), plus the
    /// verdict of the last full check of the paths (a file moved away, a `-wal` replaced),
    /// which the health monitor renews every 200 ms.
    pub fn check_fast(&self) -> bool {
        let reason = match self.inner.file.metadata() {
            Err(_) => Some("the database file cannot be read"),
            Ok(m) if m.nlink() == 0 => Some("the database file is gone"),
            Ok(m) if m.permissions().readonly() => Some("the database file is read-only"),
            // The WAL index this process reads is gone: commits by others go to a new one.
            Ok(_) => match self.inner.shm.metadata() {
                Ok(m) if m.nlink() > 0 => None,
                _ => Some("the database's -shm file was removed; restart Tollgate"),
            },
        };
        match reason {
            None => self.is_healthy(),
            Some(r) => {
                self.set_health(Some(r));
                false
            }
        }
    }

    /// [`Store::check_fast`] and [`Store::sync`]: what a decision does before anything else.
    pub fn check_current(&self) -> Result<()> {
        if !self.check_fast() {
            return Err(self.unavailable());
        }
        self.sync().map(|_| ())
    }

    /// Why the store is unhealthy (empty when healthy).
    pub fn health_reason(&self) -> String {
        self.inner.health_reason.lock().clone()
    }

    /// Re-checks the file: SQLite keeps working on an open descriptor after the file is deleted
    /// or made read-only, which would silently lose writes and serve stale data, so the store
    /// watches the path itself and fails closed when it changes under us.
    pub fn check_health(&self) -> bool {
        // The reason is shown to clients, so it names no path; the log line does.
        let mut reason = match std::fs::metadata(&self.inner.path) {
            Err(_) => Some("the database file is gone"),
            Ok(m) if (m.dev(), m.ino()) != self.inner.identity => {
                Some("the database file was replaced")
            }
            Ok(m) if m.permissions().readonly() => Some("the database file is read-only"),
            Ok(_) => None,
        };
        for (path, identity) in &self.inner.sidecars {
            let same = std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *identity);
            if reason.is_none() && !same {
                reason = Some(
                    "the database's -wal or -shm file was removed or replaced; restart Tollgate",
                );
            }
        }
        self.set_health(reason)
    }

    fn set_health(&self, reason: Option<&str>) -> bool {
        let ok = reason.is_none();
        let was = self.inner.healthy.swap(ok, Ordering::AcqRel);
        if was != ok {
            match &reason {
                Some(r) => tracing::error!(
                    reason = %r,
                    path = %self.inner.path.display(),
                    "store unavailable; decisions fail closed"
                ),
                None => tracing::info!("store available again"),
            }
        }
        if !(ok && was) {
            *self.inner.health_reason.lock() = reason.unwrap_or_default().to_string();
        }
        ok
    }

    /// Checks health every `every` on a background thread for as long as the store lives.
    pub fn spawn_health_monitor(&self, every: Duration) {
        let weak = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("tollgate-store-health".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                match weak.upgrade() {
                    Some(inner) => {
                        Store { inner }.check_health();
                    }
                    None => return,
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the store health monitor");
        }
    }

    fn unavailable(&self) -> Error {
        Error::StoreUnavailable(self.health_reason())
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
        self.write_with(false, f)
    }

    /// [`Store::write`] for a bulk load (`tollgate import`): the same rules, but one audit
    /// record for the whole load (written with [`Writer::audit_always`]) rather than one per
    /// row it writes.
    pub fn write_bulk<T>(&self, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
        self.write_with(true, f)
    }

    fn write_with<T>(&self, bulk: bool, f: impl FnOnce(&Writer<'_>) -> Result<T>) -> Result<T> {
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
        let out = f(&writer)?;
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

    /// Whether a trivial query succeeds on the writer (for `/readyz`).
    pub fn ping(&self) -> bool {
        self.check_health()
            && self
                .inner
                .writer
                .lock()
                .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .is_ok()
    }
}

/// Creates the database file readable by its owner only, when it does not exist yet: SQLite
/// would create it 0644, and creates its `-wal` and `-shm` files with the database file's
/// mode. An existing file keeps the mode its operator gave it (a wider one is logged).
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(m) = std::fs::metadata(path) {
                if m.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        mode = format!("{:o}", m.permissions().mode() & 0o777),
                        "the database file is readable by other users; `chmod 600` it"
                    );
                }
            }
            Ok(())
        }
        Err(e) => Err(Error::StoreUnavailable(format!(
            "cannot create `{}`: {e}",
            path.display()
        ))),
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let target = MIGRATIONS.len() as i64;
    if !(0..=target).contains(&current) {
        return Err(Error::StoreUnavailable(format!(
            "the database's schema version is {current}, which this binary does not know \
             (it knows 0 to {target}): a newer Tollgate wrote it, or it is not a Tollgate store"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}\nPRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
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

/// What a write transaction touched: its keys, or everything once they are too many to list
/// (an import), so a bulk load does not hold a copy of every key it wrote.
#[derive(Default)]
struct Touched {
    keys: Vec<(String, String)>,
    everything: bool,
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
const ALL_KEYS: &str = "*";

/// Number of version stripes: a fixed table, so memory does not grow with the data; two keys
/// sharing a stripe only cost an extra recomputation, never a stale answer.
const STRIPES: usize = 1 << 16;

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
            for sql in &MIGRATIONS[..3] {
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
