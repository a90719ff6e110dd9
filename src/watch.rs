//! Watches the model's files and reloads when their content changes.
//!
//! Editors save by renaming a temporary file over the old one, Kubernetes swaps a ConfigMap by
//! renaming a `..data` symlink to a new timestamped directory, and a reload itself opens every
//! file. So the watch is on directories — those of the given paths and of the files their
//! symlinks resolve to — access events (a read) are ignored, and a burst of events becomes one
//! check after [`DEBOUNCE`] of quiet. A check rereads the files and swaps only when their
//! content changed ([`Engine::reload`] compares the version hash), then resolves the paths
//! again and moves the watch to new symlink targets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::ModelPaths;

/// Quiet time after the last relevant change before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Keeps the watch alive; dropping it stops the watch and its thread.
pub struct Watch {
    tx: mpsc::Sender<Msg>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

enum Msg {
    Event(notify::Result<Event>),
    Stop,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What to watch for one resolution of the model's paths.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Directories watched (non-recursively).
    dirs: BTreeSet<PathBuf>,
    /// Paths whose own events matter (the given files, their targets, the policy directory).
    files: BTreeSet<PathBuf>,
    /// Directories in which any `*.cedar` entry matters.
    cedar_dirs: BTreeSet<PathBuf>,
    /// (device, inode) of each watched directory: a directory replaced by a rename keeps its
    /// path, but the watch stayed on the old one, so it must be watched again.
    ids: std::collections::BTreeMap<PathBuf, (u64, u64)>,
}

impl Plan {
    fn of(paths: &ModelPaths) -> Plan {
        let mut plan = Plan::default();
        let file = |plan: &mut Plan, p: &Path| {
            for q in [Some(absolute(p)), std::fs::canonicalize(p).ok()]
                .into_iter()
                .flatten()
            {
                plan.dirs.extend(q.parent().map(Path::to_path_buf));
                plan.files.insert(q);
            }
        };
        if let Some(dir) = &paths.policies {
            file(&mut plan, dir);
            let given = absolute(dir);
            let resolved = std::fs::canonicalize(dir).ok();
            for d in [Some(given.clone()), resolved].into_iter().flatten() {
                plan.dirs.insert(d.clone());
                plan.cedar_dirs.insert(d);
            }
            // Policy files that are symlinks (a ConfigMap's): watch where they point too.
            if let Ok(entries) = std::fs::read_dir(&given) {
                for e in entries.flatten() {
                    let p = e.path();
                    let name = e.file_name();
                    let cedar = p.extension().is_some_and(|x| x == "cedar");
                    if cedar && !name.to_string_lossy().starts_with('.') {
                        if let Ok(target) = std::fs::canonicalize(&p) {
                            plan.dirs.extend(target.parent().map(Path::to_path_buf));
                            plan.files.insert(target);
                        }
                    }
                }
            }
        }
        for p in [&paths.schema, &paths.plans, &paths.routes]
            .into_iter()
            .flatten()
        {
            file(&mut plan, p);
        }
        use std::os::unix::fs::MetadataExt;
        plan.ids = plan
            .dirs
            .iter()
            .filter_map(|d| {
                std::fs::metadata(d)
                    .ok()
                    .map(|m| (d.clone(), (m.dev(), m.ino())))
            })
            .collect();
        plan
    }

    /// Whether an event on `path` can change what a reload reads.
    fn relevant(&self, path: &Path) -> bool {
        if self.files.contains(path) {
            return true;
        }
        let Some(parent) = path.parent() else {
            return false;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        // `..data`, `..data_tmp`, `..2026_12_01_...`: a ConfigMap swap.
        if name.starts_with("..") && self.dirs.contains(parent) {
            return true;
        }
        self.cedar_dirs.contains(parent)
            && !name.starts_with('.')
            && path.extension().is_some_and(|x| x == "cedar")
    }
}

/// Whether an event kind can be a change: reads (opening, reading, closing unwritten) are
/// not, and a reload reads every file.
fn may_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn rewatch(watcher: &mut RecommendedWatcher, old: &Plan, new: &Plan) -> Result<()> {
    for d in old.dirs.difference(&new.dirs) {
        let _ = watcher.unwatch(d);
    }
    for d in &new.dirs {
        let replaced = old.dirs.contains(d) && old.ids.get(d) != new.ids.get(d);
        if replaced {
            let _ = watcher.unwatch(d);
        }
        if replaced || !old.dirs.contains(d) {
            watcher
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|e| Error::Config(format!("cannot watch `{}`: {e}", d.display())))?;
        }
    }
    Ok(())
}

/// Starts watching whichever model parts come from files; `None` when all are embedded.
pub fn watch(engine: Arc<Engine>, paths: ModelPaths) -> Result<Option<Watch>> {
    if paths.policies.is_none()
        && paths.schema.is_none()
        && paths.plans.is_none()
        && paths.routes.is_none()
    {
        return Ok(None);
    }
    let (tx, rx) = mpsc::channel();
    let events = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res| {
        let _ = events.send(Msg::Event(res));
    })
    .map_err(|e| Error::Config(format!("cannot watch the policy files: {e}")))?;
    let mut plan = Plan::of(&paths);
    rewatch(&mut watcher, &Plan::default(), &plan)?;
    let spawned = std::thread::Builder::new()
        .name("tollgate-watch".into())
        .spawn(move || loop {
            let relevant = |m: &Msg, plan: &Plan| match m {
                Msg::Event(Ok(e)) => {
                    may_change(&e.kind) && e.paths.iter().any(|p| plan.relevant(p))
                }
                Msg::Event(Err(e)) => {
                    tracing::warn!(error = %e, "file watch error");
                    false
                }
                Msg::Stop => false,
            };
            match rx.recv() {
                Ok(Msg::Stop) | Err(_) => return,
                Ok(m) if relevant(&m, &plan) => {}
                Ok(_) => continue,
            }
            // Debounce: wait for DEBOUNCE without a relevant event.
            let mut deadline = Instant::now() + DEBOUNCE;
            loop {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    Ok(m) if relevant(&m, &plan) => deadline = Instant::now() + DEBOUNCE,
                    Ok(_) => {}
                    Err(RecvTimeoutError::Timeout) => break,
                }
            }
            // A refused reload is logged and kept for /v1/policies; the old set keeps serving.
            let _ = engine.reload(&paths, false);
            let next = Plan::of(&paths);
            if next != plan {
                if let Err(e) = rewatch(&mut watcher, &plan, &next) {
                    tracing::warn!(error = %e, "cannot follow the model files' new targets");
                }
                plan = next;
                // What changed while the watch moved is seen by one more check.
                let _ = engine.reload(&paths, false);
            }
        });
    spawned.map_err(|e| Error::Config(format!("cannot start the file watch: {e}")))?;
    Ok(Some(Watch { tx }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_changes_and_dot_entries_are_not_policies() {
        assert!(!may_change(&EventKind::Access(AccessKind::Open(
            notify::event::AccessMode::Any
        ))));
        assert!(!may_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(may_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        let dir = tempfile::tempdir().unwrap();
        let pol = dir.path().join("policies");
        std::fs::create_dir(&pol).unwrap();
        let plan = Plan::of(&ModelPaths {
            policies: Some(pol.clone()),
            ..Default::default()
        });
        assert!(plan.relevant(&pol.join("org.cedar")));
        assert!(plan.relevant(&pol.join("..data")));
        assert!(
            plan.relevant(&pol),
            "the directory itself, swapped in its parent"
        );
        assert!(!plan.relevant(&pol.join(".#org.cedar")));
        assert!(!plan.relevant(&pol.join("notes.txt")));
        assert!(!plan.relevant(&dir.path().join("tollgate.db-wal")));
    }
}
