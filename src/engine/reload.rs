//! Hot reload of the model: reread the files, swap in a changed, valid set that keeps every
//! forbid of the running one (or is forced), and keep what the last attempt did.

use std::sync::Arc;

use super::Engine;
use crate::error::{Error, Result};
use crate::model::{Model, ModelPaths, ModelSources};
use crate::store::now_unix;

/// What the last reload attempt did, for `GET /v1/policies`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// The rendered error of the last failed attempt, cleared by a successful one.
    pub last_error: Option<String>,
    /// When the last attempt ran (unix seconds).
    pub last_attempt: Option<i64>,
    /// Reloads that swapped in a changed set since start.
    pub reloads: u64,
    /// Reload attempts since start (file events, SIGHUP, the admin endpoint), changed or not.
    pub checks: u64,
}

/// What a reload did.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The model in force after it.
    pub model: Arc<Model>,
    /// Whether the files had changed (and the new set was swapped in).
    pub changed: bool,
}

impl Engine {
    /// Reads the model's files again and, when their content changed, validates the new set
    /// and swaps it in; unchanged files change nothing (no new generation, no cache flush).
    /// A model that fails to load is not used: the last good one keeps serving, and the error
    /// is kept for `/v1/policies`. Reloads are serialized, so two triggers at once cannot swap
    /// in an older read.
    ///
    /// A set that drops or changes a forbid of the running set (see
    /// [`Model::forbids_lost_from`]) is refused too, unless `force`: an editor's half-saved or
    /// deleted file must never open access.
    pub fn reload(&self, paths: &ModelPaths, force: bool) -> Result<Reloaded> {
        let mut status = self.reload.lock();
        status.last_attempt = Some(now_unix());
        status.checks += 1;
        let running = self.model.load_full();
        let built = ModelSources::read(paths).and_then(|src| {
            if src.version() == running.version {
                return Ok(None);
            }
            let model = Model::build(&src)?;
            let lost = model.forbids_lost_from(&running);
            if force || lost.is_empty() {
                Ok(Some(model))
            } else {
                Err(Error::PolicyLoad(format!(
                    "the new set would stop enforcing what the running set enforces: {}; \
                     restore them, or accept the change with \
                     `POST /v1/admin/reload?force=true`",
                    lost.join("; ")
                )))
            }
        });
        match built {
            Ok(None) => {
                status.last_error = None;
                Ok(Reloaded {
                    model: running,
                    changed: false,
                })
            }
            Ok(Some(model)) => {
                for w in &model.warnings {
                    tracing::warn!(warning = %w, "model warning");
                }
                let model = Arc::new(model);
                self.model.store(model.clone());
                status.last_error = None;
                status.reloads += 1;
                tracing::info!(version = %model.version, summary = %model.summary(), "policies reloaded");
                Ok(Reloaded {
                    model,
                    changed: true,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "reload refused; the last good policy set keeps serving");
                status.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// What the last reload attempt did.
    pub fn reload_status(&self) -> ReloadStatus {
        self.reload.lock().clone()
    }
}
