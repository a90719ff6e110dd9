//! The decision engine: request → Decision, over the current model and the request's slice of
//! the store. Knows Cedar, not HTTP.
//!
//! A decision is a value, never an error: only bad input (422) and infrastructure failures
//! (503) are `Err`. Every error inside evaluation turns the answer into a deny. The path:
//! [`decide`] (the entry point and the cache choreography), [`input`] (the request parsed and
//! checked), [`slice`] (the entities it needs), `judge` and `payment` (Cedar's answer turned
//! into allow, 403 or 402), `reserve` (`reserve: n`: the judgement and the quota's increment in
//! one write transaction), [`cache`] (what is kept between decisions), [`reload`] (model swaps).

pub mod cache;
pub mod decide;
pub mod input;
mod judge;
mod payment;
pub mod reload;
mod reserve;
pub mod slice;

pub use decide::{ActionVerdict, Ask, Decision, OrgFacts, Outcome};
pub use input::DecisionInput;
pub use reload::{ReloadStatus, Reloaded};

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::model::Model;
use crate::org::{OrgCtx, OrgState};
use crate::store::Store;
use cache::{VersionedCache, Weigh};

/// The caches' default bound in bytes, all three together (decisions, slices, org states).
pub const DEFAULT_CACHE_BYTES: usize = 32 << 20;

/// Settings that override the catalog's defaults.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Upgrade URL template; the catalog's when `None`.
    pub upgrade_url: Option<String>,
    /// Past-due grace in days; the catalog's when `None`.
    pub past_due_grace_days: Option<i64>,
    /// Answer every request from scratch (benchmarks of the uncached path, debugging).
    pub no_decision_cache: bool,
    /// Bytes the caches may hold together.
    pub cache_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            upgrade_url: None,
            past_due_grace_days: None,
            no_decision_cache: false,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Whole decisions, keyed by request (its raw body, or its canonical rendering).
type DecisionCache = VersionedCache<Vec<u8>, Decision>;

/// The entities of a request (principal, resource, what the context names), keyed by those
/// uids: a decision on another action of the same principal and resource reuses them instead
/// of reading the store and building the principal's membership view again.
type SliceCache = VersionedCache<String, Arc<slice::Slice>>;

/// Per-org state (roles, effective plan, usage), keyed by org id, so that a decision on an
/// org another decision just read skips its half-dozen queries.
pub type OrgCache = VersionedCache<String, Arc<OrgState>>;

/// The engine: the current model (swapped atomically on reload) and the store.
pub struct Engine {
    model: ArcSwap<Model>,
    store: Store,
    settings: EngineSettings,
    reload: parking_lot::Mutex<ReloadStatus>,
    cache: DecisionCache,
    slices: SliceCache,
    orgs: OrgCache,
}

impl Engine {
    /// An engine over a loaded model and an open store.
    pub fn new(model: impl Into<Arc<Model>>, store: Store, settings: EngineSettings) -> Self {
        Engine {
            model: ArcSwap::new(model.into()),
            store,
            reload: parking_lot::Mutex::new(ReloadStatus::default()),
            // Half for decisions, a quarter each for slices and org states.
            cache: DecisionCache::with_max_bytes(settings.cache_bytes / 2),
            slices: SliceCache::with_max_bytes(settings.cache_bytes / 4),
            orgs: OrgCache::with_max_bytes(settings.cache_bytes / 4),
            settings,
        }
    }

    /// The model in force now.
    pub fn model(&self) -> Arc<Model> {
        self.model.load_full()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The upgrade URL template in force.
    pub fn upgrade_template(&self, model: &Model) -> String {
        self.settings
            .upgrade_url
            .clone()
            .unwrap_or_else(|| model.catalog.upgrade_url.clone())
    }

    /// Org-model context at `now` under `model`'s catalog.
    pub fn org_ctx<'a>(&self, model: &'a Model, template: &'a str, now: i64) -> OrgCtx<'a> {
        let days = self
            .settings
            .past_due_grace_days
            .unwrap_or(model.catalog.past_due_grace_days);
        OrgCtx {
            catalog: &model.catalog,
            upgrade_url: template,
            grace_secs: days.saturating_mul(86_400),
            now,
        }
    }

    /// The current version of a stripe, as the caches check their entries against.
    fn versions(&self) -> impl Fn(usize) -> u64 + '_ {
        |s| self.store.stripe_version(s)
    }

    /// What a slice is read with.
    fn sources<'a>(&'a self, model: &'a Model, ctx: OrgCtx<'a>) -> slice::Sources<'a> {
        slice::Sources {
            store: &self.store,
            orgs: &self.orgs,
            model,
            ctx,
        }
    }
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> usize {
    items.into_iter().map(|s| 24 + s.len()).sum()
}

impl Weigh for Decision {
    fn weight(&self) -> usize {
        let payment = self.payment.as_ref().map_or(0, |p| {
            std::mem::size_of_val(p)
                + p.message.len()
                + p.upgrade_url.len()
                + strings(&p.required_plan)
                + p.current_usage
                    .as_ref()
                    .map_or(0, |u| u.resource_type.len())
        });
        std::mem::size_of::<Decision>()
            + strings(&self.reasons)
            + strings(&self.errors)
            + strings(&self.warnings)
            + payment
            + self.org.as_ref().map_or(0, |o| {
                std::mem::size_of::<decide::OrgFacts>()
                    + 16
                    + o.id.len()
                    + o.plan.len()
                    + strings(&o.role)
            })
    }
}

impl Weigh for Arc<slice::Slice> {
    fn weight(&self) -> usize {
        std::mem::size_of::<slice::Slice>() + self.as_ref().weight
    }
}

impl Weigh for Arc<OrgState> {
    fn weight(&self) -> usize {
        OrgState::weight(self)
    }
}
