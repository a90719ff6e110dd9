//! The decision engine: Cedar over the request's slice of the store, turned into allow, deny
//! (403) or payment required (402).
//!
//! A decision is a value, never an error: only bad input (422) and infrastructure failures
//! (503) are `Err`. Every error inside evaluation turns the answer into a deny.

pub mod cache;
pub mod slice;
pub mod watch;

pub use crate::model::{render, uid, ActionModel, Gate, Model, ModelPaths, ModelSources};

use std::sync::Arc;

use arc_swap::ArcSwap;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, Request, Response,
};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::plans::{self, CurrentUsage, Payment, PaymentCode};
use crate::store::{now_unix, OrgCtx, Store};

/// The three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed.
    Allow,
    /// Denied by the role side, or by an error: 403.
    Deny,
    /// The role side allows; only plan gates forbid: 402.
    PaymentRequired,
}

impl Outcome {
    /// The HTTP status this outcome stands for.
    pub fn status(self) -> u16 {
        match self {
            Outcome::Allow => 200,
            Outcome::Deny => 403,
            Outcome::PaymentRequired => 402,
        }
    }
}

/// One decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The answer.
    pub outcome: Outcome,
    /// Ids of the determining policies.
    pub reasons: Vec<String>,
    /// Evaluation errors (any error makes the answer a deny).
    pub errors: Vec<String>,
    /// Notes such as an unknown principal.
    pub warnings: Vec<String>,
    /// The 402 body.
    pub payment: Option<Payment>,
}

/// A decision request, already parsed from the wire.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    /// Who acts.
    pub principal: EntityUid,
    /// What they do.
    pub action: EntityUid,
    /// On what.
    pub resource: EntityUid,
    /// Facts about the act (a JSON object); `None` is an empty context.
    pub context: Option<Value>,
    /// Entity JSON the store may lack.
    pub entities: Vec<Value>,
}

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

/// The engine: the current model (swapped atomically on reload) and the store.
pub struct Engine {
    model: ArcSwap<Model>,
    store: Store,
    settings: EngineSettings,
    reload: parking_lot::Mutex<ReloadStatus>,
    cache: cache::DecisionCache,
    slices: cache::SliceCache,
    orgs: cache::OrgCache,
}

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

/// What `/v1/permissions` answers for one action.
#[derive(Debug, Clone)]
pub struct ActionVerdict {
    /// Action id (without the type).
    pub action: String,
    /// The decision, as `/v1/authorize` would give it.
    pub decision: Decision,
}

impl Engine {
    /// An engine over a loaded model and an open store.
    pub fn new(model: impl Into<Arc<Model>>, store: Store, settings: EngineSettings) -> Self {
        Engine {
            model: ArcSwap::new(model.into()),
            store,
            reload: parking_lot::Mutex::new(ReloadStatus::default()),
            // Half for decisions, a quarter each for slices and org states.
            cache: cache::DecisionCache::with_max_bytes(settings.cache_bytes / 2),
            slices: cache::SliceCache::with_max_bytes(settings.cache_bytes / 4),
            orgs: cache::OrgCache::with_max_bytes(settings.cache_bytes / 4),
            settings,
        }
    }

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

    /// The model in force now.
    pub fn model(&self) -> Arc<Model> {
        self.model.load_full()
    }

    /// Replaces the model; decisions already running finish on the one they started with.
    pub fn swap_model(&self, model: Model) {
        self.model.store(Arc::new(model));
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

    fn parse_entities(model: &Model, entities: &[Value]) -> Result<Vec<(Entity, Value)>> {
        let parsed = parse_entities(model, entities)?;
        Ok(parsed.into_iter().zip(entities.iter().cloned()).collect())
    }

    fn context(model: &Model, action: &EntityUid, context: &Value) -> Result<Context> {
        let bad = |m: String| {
            Error::invalid(
                "INVALID_CONTEXT",
                format!("context is invalid for `{action}`: {m}"),
            )
        };
        // Most requests carry no context; Cedar's JSON parser costs microseconds even for `{}`.
        let ctx = match context {
            Value::Object(m) if m.is_empty() => Context::empty(),
            _ => Context::from_json_value(context.clone(), Some((&model.schema, action)))
                .map_err(|e| bad(render(&e)))?,
        };
        // Parsing against the schema converts but does not type-check every value.
        ctx.validate(&model.schema, action)
            .map_err(|e| bad(render(&e)))?;
        Ok(ctx)
    }

    /// Answers one decision request.
    pub fn decide(&self, input: &DecisionInput) -> Result<Decision> {
        let model = self.model.load();
        // Fail closed before anything, cached answers included; and see every commit to the
        // file that returned before this decision began.
        self.store.check_current()?;
        let now = now_unix();
        let key = cache::Key(
            format!(
                "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
                input.principal,
                input.action,
                input.resource,
                input
                    .context
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default(),
                Value::Array(input.entities.clone())
            )
            .into_bytes(),
        );
        if !self.settings.no_decision_cache {
            if let Some(d) = self.cache.get(&key, model.generation, &self.store, now) {
                return Ok(d);
            }
        }
        self.evaluate(&model, input, key, now)
    }

    /// A still-valid cached decision for this exact request body, if any. Checks the store
    /// first: a cached answer is never served from a store that is gone, nor after a commit
    /// (by any process) that it has not seen.
    pub fn cached_raw(&self, body: &[u8]) -> Result<Option<Decision>> {
        self.store.check_current()?;
        if self.settings.no_decision_cache {
            return Ok(None);
        }
        let generation = self.model.load().generation;
        Ok(self
            .cache
            .get(&cache::Key::raw(body), generation, &self.store, now_unix()))
    }

    /// Decides a request whose body `raw` was just looked up by [`Engine::cached_raw`] and
    /// missed: the store's health was checked and the cache searched a moment ago, so neither
    /// is done twice; the answer is cached under the raw body.
    pub fn decide_after_miss(&self, input: &DecisionInput, raw: &[u8]) -> Result<Decision> {
        let model = self.model.load();
        self.evaluate(&model, input, cache::Key::raw(raw), now_unix())
    }

    /// The uncached decision: context, slice, Cedar, 403 versus 402; cached under `key`.
    fn evaluate(
        &self,
        model: &Model,
        input: &DecisionInput,
        key: cache::Key,
        now: i64,
    ) -> Result<Decision> {
        let Some(am) = model.action(&input.action) else {
            return Err(Error::invalid(
                "UNKNOWN_ACTION",
                format!("the schema declares no action `{}`", input.action),
            ));
        };
        let empty = Value::Object(Default::default());
        let ctx_json = input.context.as_ref().unwrap_or(&empty);
        let context = Self::context(model, &input.action, ctx_json)?;
        let request = Request::new(
            input.principal.clone(),
            input.action.clone(),
            input.resource.clone(),
            context,
            Some(&model.schema),
        )
        .map_err(|e| Error::invalid("INVALID_REQUEST", render(&e)))?;
        let provided = Self::parse_entities(model, &input.entities)?;
        let template = self.upgrade_template(model);
        let ctx = self.org_ctx(model, &template, now);
        let use_cache = !self.settings.no_decision_cache;
        let slice_key = slice::cache_key(&input.principal, &input.resource, ctx_json, &provided)
            .filter(|_| use_cache);
        let cached = slice_key
            .as_ref()
            .and_then(|k| self.slices.get(k, model.generation, &self.store, now));
        let refreshed = match cached {
            Some(s) => {
                let mut s = (*s).clone();
                s.refresh_org(&self.store, &self.orgs, model, ctx)?
                    .then_some(s)
            }
            None => None,
        };
        // A refreshed slice took every version it holds before the reads it stands for; a
        // built one reads versions during its snapshot, so it is kept only if no stripe moved.
        let mut cacheable = true;
        let mut slice = match refreshed {
            Some(s) => s,
            None => {
                let mark = self.store.version_mark();
                let (s, orgs) = self.store.read_after_check(|r| {
                    slice::build(
                        &self.store,
                        &self.orgs,
                        model,
                        r,
                        ctx,
                        &input.principal,
                        &input.resource,
                        ctx_json,
                        provided,
                    )
                })?;
                cacheable = self.store.unchanged_since(mark);
                if cacheable {
                    self.keep_orgs(model, orgs);
                    if let Some(k) = slice_key {
                        // Kept across the org's usage writes and clock: `refresh_org` re-reads
                        // the org state on every use.
                        let deps = s.deps.clone();
                        self.slices
                            .put(k, model.generation, deps, i64::MAX, Arc::new(s.clone()));
                    }
                }
                s
            }
        };
        let entities = slice.take_entities(model, &am.entities)?;
        let decision = self.judge(model, am, &request, &slice, &entities, &template)?;
        if cacheable && !self.settings.no_decision_cache {
            let mut deps = slice.deps;
            if am.reads_tags {
                deps.extend_from_slice(&slice.usage_deps);
            }
            self.cache.put(
                key,
                model.generation,
                deps,
                slice.valid_until,
                decision.clone(),
            );
        }
        Ok(decision)
    }

    /// Caches the org states a slice read, once it is known they were read consistently.
    fn keep_orgs(&self, model: &Model, orgs: Vec<slice::OrgRead>) {
        for o in orgs {
            self.orgs.put_org(&o.id, model.generation, o.deps, o.state);
        }
    }

    /// Judges every action the schema allows for this principal and resource type.
    pub fn permissions(
        &self,
        principal: &EntityUid,
        resource: &EntityUid,
        context: Option<&Value>,
        entities: &[Value],
    ) -> Result<Vec<ActionVerdict>> {
        let model = self.model.load();
        for (what, u) in [("principal", principal), ("resource", resource)] {
            if !model.schema.entity_types().any(|t| t == u.type_name()) {
                return Err(Error::invalid(
                    "INVALID_REQUEST",
                    format!(
                        "the schema declares no entity type `{}` ({what})",
                        u.type_name()
                    ),
                ));
            }
        }
        let empty = Value::Object(Default::default());
        let ctx_json = context.unwrap_or(&empty);
        let provided = Self::parse_entities(&model, entities)?;
        let template = self.upgrade_template(&model);
        let ctx = self.org_ctx(&model, &template, now_unix());
        let mut actions: Vec<&EntityUid> = model
            .schema
            .actions_for_principal_and_resource(principal.type_name(), resource.type_name())
            .collect();
        actions.sort_by_key(|a| a.to_string());
        actions.dedup();
        self.store.check_current()?;
        let mark = self.store.version_mark();
        let (slice, orgs) = self.store.read_after_check(|r| {
            slice::build(
                &self.store,
                &self.orgs,
                &model,
                r,
                ctx,
                principal,
                resource,
                ctx_json,
                provided,
            )
        })?;
        if self.store.unchanged_since(mark) {
            self.keep_orgs(&model, orgs);
        }
        let mut out = Vec::with_capacity(actions.len());
        for action in actions {
            let name = action.id().unescaped().to_string();
            let Some(am) = model.action(action) else {
                continue;
            };
            let request = Self::context(&model, action, ctx_json).and_then(|c| {
                Request::new(
                    principal.clone(),
                    action.clone(),
                    resource.clone(),
                    c,
                    Some(&model.schema),
                )
                .map_err(|e| Error::invalid("INVALID_REQUEST", render(&e)))
            });
            let decision = match request {
                Ok(req) => {
                    let entities = slice.entities(&model, &am.entities, None)?;
                    self.judge(&model, am, &req, &slice, &entities, &template)?
                }
                Err(e) => Decision {
                    outcome: Outcome::Deny,
                    reasons: vec![],
                    errors: vec![e.to_string()],
                    warnings: slice.warnings.clone(),
                    payment: None,
                },
            };
            out.push(ActionVerdict {
                action: name,
                decision,
            });
        }
        Ok(out)
    }

    /// Evaluates a parsed request over its slice: Cedar's answer, then 403 versus 402.
    fn judge(
        &self,
        model: &Model,
        am: &ActionModel,
        request: &Request,
        slice: &slice::Slice,
        entities: &Entities,
        template: &str,
    ) -> Result<Decision> {
        let decision = self.judge_as_paid_for(model, am, request, slice, entities, template)?;
        if decision.outcome == Outcome::Deny
            && decision.errors.is_empty()
            && slice.has_lapsed_roles(model)
        {
            if let Some(d) = self.lapsed(model, am, request, slice, entities, template)? {
                return Ok(d);
            }
        }
        Ok(decision)
    }

    /// A custom role whose plan feature lapsed acts as the lowest built-in role; what else the
    /// role grants answers 402 `FEATURE_NOT_IN_PLAN` (default-model.md, "When a feature
    /// lapses"): when the role side permits the request with the role's own standing, under
    /// the same plan, and no forbid but plan gates stands in the way. `required_plan` is the
    /// lowest tier with `custom_roles` under which the request is allowed. `None`: the 403
    /// stands.
    fn lapsed(
        &self,
        model: &Model,
        am: &ActionModel,
        request: &Request,
        slice: &slice::Slice,
        entities: &Entities,
        template: &str,
    ) -> Result<Option<Decision>> {
        let authorizer = Authorizer::new();
        let paid = slice.with_paid_roles(entities)?;
        let role = authorizer.is_authorized(request, &am.role_policies, &paid);
        let (reasons, role_errors) = explain(&role);
        if role.decision() != CedarDecision::Allow || !role_errors.is_empty() {
            return Ok(None);
        }
        let full = authorizer.is_authorized(request, &am.policies, &paid);
        let (blocking, errors) = explain(&full);
        let only_gates = blocking
            .iter()
            .all(|r| am.gates.contains_key(&cedar_policy::PolicyId::new(r)));
        if !errors.is_empty() || (full.decision() != CedarDecision::Allow && !only_gates) {
            return Ok(None);
        }
        let required = lowest_tier_allowing(model, am, request, slice, entities, |t| {
            slice::custom_roles_paid(model, t)
        })?;
        let org_id = slice.org.as_ref().map(|o| o.row.id.as_str()).unwrap_or("");
        let url = plans::upgrade_url(template, org_id, required.as_deref());
        Ok(Some(Decision {
            outcome: Outcome::PaymentRequired,
            reasons,
            errors: vec![],
            warnings: slice.warnings.clone(),
            payment: Some(Payment::new(
                PaymentCode::FeatureNotInPlan,
                Some(crate::store::CUSTOM_ROLES),
                required,
                url,
                None,
            )),
        }))
    }

    /// Cedar's answer under the standing the org's plan pays for, then 403 versus 402.
    fn judge_as_paid_for(
        &self,
        model: &Model,
        am: &ActionModel,
        request: &Request,
        slice: &slice::Slice,
        entities: &Entities,
        template: &str,
    ) -> Result<Decision> {
        let authorizer = Authorizer::new();
        let response = authorizer.is_authorized(request, &am.policies, entities);
        let (reasons, errors) = explain(&response);
        let warnings = slice.warnings.clone();
        if !errors.is_empty() {
            // Fail closed: Cedar skips a policy that errors, which could turn a forbid into an
            // allow; Tollgate never allows when anything went wrong.
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons,
                errors,
                warnings,
                payment: None,
            });
        }
        if response.decision() == CedarDecision::Allow {
            return Ok(Decision {
                outcome: Outcome::Allow,
                reasons,
                errors,
                warnings,
                payment: None,
            });
        }
        let gates: Vec<&Gate> = reasons
            .iter()
            .filter_map(|r| am.gates.get(&cedar_policy::PolicyId::new(r)))
            .collect();
        let only_gates = !gates.is_empty() && gates.len() == reasons.len();
        if !only_gates {
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons,
                errors,
                warnings,
                payment: None,
            });
        }
        // Only plan gates forbid: does the role side permit on its own?
        let role = authorizer.is_authorized(request, &am.role_policies, entities);
        let (role_reasons, role_errors) = explain(&role);
        if role.decision() != CedarDecision::Allow || !role_errors.is_empty() {
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons: role_reasons,
                errors: role_errors,
                warnings,
                payment: None,
            });
        }
        let payment = self.payment(model, am, request, slice, entities, &gates, template)?;
        Ok(Decision {
            outcome: Outcome::PaymentRequired,
            reasons,
            errors,
            warnings,
            payment: Some(payment),
        })
    }

    /// Words the 402: which gate, which usage, and the first tier that would allow.
    #[allow(clippy::too_many_arguments)]
    fn payment(
        &self,
        model: &Model,
        am: &ActionModel,
        request: &Request,
        slice: &slice::Slice,
        entities: &Entities,
        gates: &[&Gate],
        template: &str,
    ) -> Result<Payment> {
        let mut limits: Vec<&str> = gates
            .iter()
            .filter_map(|g| match g {
                Gate::Limit(rt) => Some(rt.as_str()),
                Gate::Feature(_) => None,
            })
            .collect();
        // The role's own bucket before the overall seat count, then file order.
        limits.sort_by_key(|rt| *rt == "seat:total");
        let feature = gates.iter().find_map(|g| match g {
            Gate::Feature(f) => Some(f.as_str()),
            Gate::Limit(_) => None,
        });
        let (code, usage) = match (limits.first(), &slice.org) {
            (Some(rt), Some(org)) => {
                let tier = model.catalog.tier(&org.effective_plan);
                let usage = CurrentUsage {
                    resource_type: (*rt).to_string(),
                    current: org.usage.get(*rt).copied().unwrap_or(0),
                    limit: tier.and_then(|t| t.limit(rt)).unwrap_or(0),
                };
                (PaymentCode::PlanLimitReached, Some(usage))
            }
            (Some(_), None) => (PaymentCode::PlanLimitReached, None),
            (None, _) => (PaymentCode::FeatureNotInPlan, None),
        };
        let required = lowest_tier_allowing(model, am, request, slice, entities, |_| true)?;
        let org_id = slice.org.as_ref().map(|o| o.row.id.as_str()).unwrap_or("");
        let url = plans::upgrade_url(template, org_id, required.as_deref());
        Ok(Payment::new(code, feature, required, url, usage))
    }
}

/// The first catalog tier (among those `eligible`) under which the request, same data, is
/// allowed without errors: the request's `required_plan`. Only the org, its plan and the
/// standing of custom-role members change between tiers (`Slice::with_tier`).
fn lowest_tier_allowing(
    model: &Model,
    am: &ActionModel,
    request: &Request,
    slice: &slice::Slice,
    entities: &Entities,
    eligible: impl Fn(&str) -> bool,
) -> Result<Option<String>> {
    if slice.org.is_none() {
        return Ok(None);
    }
    let authorizer = Authorizer::new();
    for tier in model.catalog.tiers() {
        if !eligible(&tier.name) {
            continue;
        }
        let entities = slice.with_tier(model, entities, &tier.name)?;
        let r = authorizer.is_authorized(request, &am.policies, &entities);
        if r.decision() == CedarDecision::Allow && r.diagnostics().errors().next().is_none() {
            return Ok(Some(tier.name.clone()));
        }
    }
    Ok(None)
}

fn explain(r: &Response) -> (Vec<String>, Vec<String>) {
    let mut reasons: Vec<String> = r.diagnostics().reason().map(|p| p.to_string()).collect();
    reasons.sort();
    let errors = r.diagnostics().errors().map(|e| e.to_string()).collect();
    (reasons, errors)
}

/// Top-level keys of Cedar entity JSON; anything else is a typo that Cedar would drop.
const ENTITY_FIELDS: [&str; 4] = ["uid", "attrs", "parents", "tags"];

/// Writes a parsed (schema-checked) entity to the store in Cedar's explicit JSON form, which
/// later parses without the schema. Refused (422, nothing written): an entity whose parents
/// would close a cycle (`PARENT_CYCLE`), and under the org model one whose `Org` or
/// `Workspace` parent does not exist (`UNKNOWN_PARENT`: it would wait for a future org to
/// create the id and adopt it) or whose parents belong to different orgs (`CROSS_ORG_PARENTS`).
pub fn store_entity(w: &crate::store::Writer<'_>, model: &Model, e: &Entity) -> Result<()> {
    let uid = e.uid();
    let (etype, eid) = (
        uid.type_name().to_string(),
        uid.id().unescaped().to_string(),
    );
    let json = e
        .to_json_value()
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let parents = crate::store::parents_of_json(&json);
    if model.org_model {
        let mut orgs = std::collections::BTreeSet::new();
        for (ptype, pid) in &parents {
            let org = match ptype.as_str() {
                "Org" => w.org(pid)?.map(|o| o.id),
                "Workspace" => w.workspace(pid)?.map(|ws| ws.org),
                _ => continue,
            };
            let Some(org) = org else {
                return Err(Error::invalid(
                    "UNKNOWN_PARENT",
                    format!(
                        "`{uid}` names the parent `{ptype}::{pid:?}`, which does not exist; \
                         create it through /v1/orgs first"
                    ),
                ));
            };
            orgs.insert(org);
        }
        if orgs.len() > 1 {
            return Err(Error::invalid(
                "CROSS_ORG_PARENTS",
                format!("`{uid}` names parents in more than one org"),
            ));
        }
    }
    // Walk up from the new parents through what is stored (this transaction's earlier
    // writes included): reaching the entity itself means the write would close a cycle.
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<(String, String)> = parents.iter().cloned().collect();
    while let Some(p) = queue.pop_front() {
        if p.0 == etype && p.1 == eid {
            return Err(Error::invalid(
                "PARENT_CYCLE",
                format!("`{uid}` would be its own ancestor"),
            ));
        }
        if !seen.insert(p.clone()) {
            continue;
        }
        if seen.len() > slice::MAX_SLICE {
            return Err(Error::invalid(
                "SLICE_TOO_LARGE",
                format!("`{uid}` has more than {} ancestors", slice::MAX_SLICE),
            ));
        }
        queue.extend(w.entity_parents(&p.0, &p.1)?);
    }
    w.put_entity_with_parents(&etype, &eid, &json, &parents)
}

/// Entity types whose data only Tollgate's org API writes while the built-in org model is
/// loaded: accepting them as entity data would let a caller invent an org's plan or roles.
pub const MANAGED_TYPES: [&str; 4] = ["Org", "Workspace", "Plan", "RoleSet"];

/// `User` attributes Tollgate fills from the store; never taken from entity data.
pub const VIEW_ATTRS: [&str; 2] = ["membership", "workspace_access"];

/// Parses Cedar entity JSON against the model's schema, refusing unknown keys, duplicate uids,
/// and (under the built-in org model) entities or attributes that only the store may supply.
pub fn parse_entities(model: &Model, items: &[Value]) -> Result<Vec<Entity>> {
    let schema = &model.schema;
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        if let Value::Object(m) = v {
            if let Some(k) = m.keys().find(|k| !ENTITY_FIELDS.contains(&k.as_str())) {
                return Err(Error::invalid(
                    "UNKNOWN_FIELD",
                    format!("entity {i}: unknown field `{k}`; expected uid, attrs, parents, tags"),
                ));
            }
        }
        let e = Entity::from_json_value(v.clone(), Some(schema))
            .map_err(|e| Error::invalid("INVALID_ENTITY", format!("entity {i}: {}", render(&e))))?;
        let uid = e.uid();
        if uid.type_name().basename() == "Action" {
            return Err(Error::invalid(
                "INVALID_ENTITY",
                format!("entity {i}: actions come from the schema, not from entity data"),
            ));
        }
        if !seen.insert(uid.clone()) {
            return Err(Error::invalid(
                "DUPLICATE_ENTITY",
                format!("entity {i}: `{uid}` appears twice"),
            ));
        }
        if model.org_model {
            let tname = uid.type_name().to_string();
            if MANAGED_TYPES.contains(&tname.as_str()) {
                return Err(Error::invalid(
                    "MANAGED_ENTITY",
                    format!("entity {i}: `{uid}` is managed by Tollgate's org API (/v1/orgs), not sent as entity data"),
                ));
            }
            if tname == "User" {
                if let Some(a) = VIEW_ATTRS.iter().find(|a| e.attr(a).is_some()) {
                    return Err(Error::invalid(
                        "MANAGED_ENTITY",
                        format!(
                            "entity {i}: `{uid}` sets `{a}`, which Tollgate fills from the store"
                        ),
                    ));
                }
            }
        }
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Limits, OrgUpdate};
    use serde_json::json;

    static SEEN: parking_lot::Mutex<Vec<String>> = parking_lot::Mutex::new(Vec::new());

    fn record(event: rusqlite::trace::TraceEvent<'_>) {
        if let rusqlite::trace::TraceEvent::Stmt(_, sql) = event {
            SEEN.lock().push(sql.to_string());
        }
    }

    /// Every statement a decision runs is an index search over its own keys: no table scan,
    /// however many orgs, members and entities the store holds.
    #[test]
    fn decisions_only_search_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        *crate::store::tests::READ_TRACE.lock() = Some(record);
        let model = Model::build(&ModelSources::read(&ModelPaths::default()).unwrap()).unwrap();
        let engine = Engine::new(model, store, EngineSettings::default());
        let m = engine.model();
        let ctx = engine.org_ctx(&m, "https://x/{org}", now_unix());
        engine
            .store()
            .write(|w| {
                for o in 0..50 {
                    let org = format!("org{o}");
                    let up = OrgUpdate { plan: Some("professional".into()), primary_owner: Some(format!("owner{o}")), ..Default::default() };
                    w.upsert_org(ctx, &org, up, Limits::Override)?;
                    for u in 0..20 {
                        w.set_member(ctx, &org, &format!("u{o}_{u}"), "member", Limits::Override)?;
                    }
                    w.set_workspace(ctx, &org, &format!("ws{o}"), None, Limits::Override)?;
                    w.put_entity("Project", &format!("p{o}"), &json!({"uid": {"type": "Project", "id": format!("p{o}")}, "attrs": {}, "parents": [{"type": "Workspace", "id": format!("ws{o}")}]}).to_string())?;
                }
                Ok(())
            })
            .unwrap();
        let ask = |p: &str, a: &str, rt: &str, r: &str, c: serde_json::Value| {
            engine
                .decide(&DecisionInput {
                    principal: uid("User", p).unwrap(),
                    action: uid("Action", a).unwrap(),
                    resource: uid(rt, r).unwrap(),
                    context: Some(c),
                    entities: vec![],
                })
                .unwrap()
        };
        assert_eq!(
            ask("owner7", "view_org", "Org", "org7", json!({})).outcome,
            Outcome::Allow
        );
        assert_eq!(
            ask(
                "u7_3",
                "invite_user",
                "Org",
                "org7",
                json!({"role": "member"})
            )
            .outcome,
            Outcome::Deny
        );
        assert_eq!(
            ask("owner7", "view_audit_logs", "Org", "org7", json!({})).outcome,
            Outcome::PaymentRequired
        );
        assert_eq!(
            ask("owner7", "create_agent", "Workspace", "ws7", json!({})).outcome,
            Outcome::Allow
        );
        assert_eq!(
            ask("owner7", "delete", "Project", "p7", json!({})).outcome,
            Outcome::Allow
        );
        let org = json!({"org": {"type": "Org", "id": "org7"}, "new_role": "viewer"});
        assert_eq!(
            ask("owner7", "update_member_role", "User", "u7_1", org).outcome,
            Outcome::Allow
        );
        *crate::store::tests::READ_TRACE.lock() = None;

        let seen: std::collections::BTreeSet<String> = SEEN.lock().drain(..).collect();
        let queries: Vec<&String> = seen
            .iter()
            .filter(|s| s.trim_start().starts_with("SELECT"))
            .collect();
        assert!(
            queries.len() >= 6,
            "the tracer saw the decision path: {seen:?}"
        );
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        for sql in queries {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = st.parameter_count();
            let params: Vec<rusqlite::types::Null> = vec![rusqlite::types::Null; n];
            let plan: Vec<String> = st
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            for step in &plan {
                assert!(!step.starts_with("SCAN"), "`{sql}` scans: {plan:?}");
            }
            // Expired invitations stay in the table; a seat count must not read them.
            if sql.contains("expires_at >") {
                assert!(
                    plan.iter().any(|s| s.contains("expires_at>?")),
                    "`{sql}` reads the org's expired invitations too: {plan:?}"
                );
            }
        }
    }
}
