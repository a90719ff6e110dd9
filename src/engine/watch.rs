//! Watches the model's files and reloads on change.
//!
//! Editors save by writing a temporary file and renaming it over the old one, which replaces
//! the inode a file watch would follow, so the directories are watched instead and events are
//! filtered by path. Events are debounced: a burst of writes becomes one reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use super::{Engine, ModelPaths};
use crate::error::{Error, Result};

/// Keeps the watch alive; dropping it stops watching.
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher>,
}

/// Quiet time after the last change before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// Starts watching whichever model parts come from files; `None` when all are embedded.
pub fn watch(engine: Arc<Engine>, paths: ModelPaths) -> Result<Option<Watch>> {
    let dir = paths.policies.as_deref().map(absolute);
    let files: Vec<PathBuf> = [paths.schema.as_deref(), paths.plans.as_deref()]
        .into_iter()
        .flatten()
        .map(absolute)
        .collect();
    if dir.is_none() && files.is_empty() {
        return Ok(None);
    }
    let (watched_dir, watched_files) = (dir.clone(), files.clone());
    let relevant = move |p: &Path| {
        let in_dir = watched_dir
            .as_deref()
            .is_some_and(|d| p.parent() == Some(d) && p.extension().is_some_and(|e| e == "cedar"));
        in_dir || watched_files.iter().any(|f| f == p)
    };
    let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| match res {
        Ok(events) => {
            if events.iter().any(|e| relevant(&e.path)) {
                // A refused reload is logged and kept for /v1/policies; the old set keeps serving.
                let _ = engine.reload(&paths, false);
            }
        }
        Err(e) => tracing::warn!(error = %e, "file watch error"),
    })
    .map_err(|e| Error::Config(format!("cannot watch the policy files: {e}")))?;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    dirs.extend(dir);
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        debouncer
            .watcher()
            .watch(&d, RecursiveMode::NonRecursive)
            .map_err(|e| Error::Config(format!("cannot watch `{}`: {e}", d.display())))?;
    }
    Ok(Some(Watch {
        _debouncer: debouncer,
    }))
}
