//! The store's schema: the migrations in order, the `unlogged` triggers recreated at every
//! open, and the database file created private (0600).

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

pub(super) const MIGRATIONS: &[&str] = &[
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
    // Stripe events applied, customer and subscription links, events waiting for a link.
    include_str!("billing.sql"),
];

/// The tables whose rows decisions read: a write to any of them by another tool is marked by
/// the `unlogged` triggers (see `unlogged.sql`).
pub(super) const DATA_TABLES: [&str; 11] = [
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
pub(super) fn ensure_triggers(conn: &Connection) -> Result<()> {
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

/// Creates the database file readable by its owner only, when it does not exist yet: SQLite
/// would create it 0644, and creates its `-wal` and `-shm` files with the database file's
/// mode. An existing file keeps the mode its operator gave it (a wider one is logged).
pub(super) fn create_private(path: &Path) -> Result<()> {
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

pub(super) fn migrate(conn: &Connection) -> Result<()> {
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
