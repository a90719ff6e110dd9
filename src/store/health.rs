//! The store's health: on every decision an `fstat` of the open files (removed, replaced or
//! read-only: 503), every 200 ms the paths and the `-wal`; the reason is kept for `/readyz`.

use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::Store;
use crate::error::{Error, Result};

impl Store {
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

    pub(super) fn set_health(&self, reason: Option<&str>) -> bool {
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

    pub(super) fn unavailable(&self) -> Error {
        Error::StoreUnavailable(self.health_reason())
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
