//! The decision path: one entry point, [`Engine::decide`], for a request body (answered from
//! the decision cache by its exact bytes before anything parses it), a parsed JSON request or
//! a built one; and [`Engine::permissions`], every action at once.

use std::sync::Arc;

use cedar_policy::{Entity, EntityUid, Request};
use serde_json::Value;

use super::input::{self, DecisionInput};
use super::judge::Case;
use super::{slice, Engine};
use crate::error::{Code, Error, Result};
use crate::model::{render, ActionModel, Model};
use crate::plans::Payment;
use crate::store::now_unix;

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
    /// The org the request is about, as the store knows it (forward auth sends it upstream).
    pub org: Option<Arc<OrgFacts>>,
    /// What `reserve` took, on an allow that asked for it.
    /// (Boxed: every cached decision carries the field, and is cloned on each hit.)
    pub reservation: Option<Box<crate::org::ReservationRow>>,
}

/// The org a decision was about: its id, effective plan and the principal's role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFacts {
    /// The org's id.
    pub id: String,
    /// The tier its subscription gives it now.
    pub plan: String,
    /// The principal's role, when they are a member.
    pub role: Option<String>,
}

/// What `/v1/permissions` answers for one action.
#[derive(Debug, Clone)]
pub struct ActionVerdict {
    /// Action id (without the type).
    pub action: String,
    /// The decision, as `/v1/authorize` would give it.
    pub decision: Decision,
}

/// What is asked: the four forms a decision request reaches the engine in.
pub enum Ask<'a> {
    /// A request body as sent (JSON bytes, content type already checked): looked up in the
    /// decision cache by its exact bytes, parsed only on a miss.
    Body(&'a [u8]),
    /// A parsed JSON request (an item of a batch).
    Json(Value),
    /// A request already built (the CLI, policy tests).
    Input(&'a DecisionInput),
    /// A request known by a key of the caller's (forward auth: the original request and the
    /// identity), looked up in the decision cache before `build` maps it. Both get the model
    /// the decision uses, so the key is made by the same route table that `build` reads; the
    /// key must determine what `build` returns under that model. It is prefixed so it never
    /// meets a body's or a built request's key.
    Keyed {
        /// Makes the caller's key.
        key: &'a dyn Fn(&Model) -> Result<Vec<u8>>,
        /// Builds the request on a miss (or fails, and nothing is cached).
        build: &'a dyn Fn(&Model) -> Result<DecisionInput>,
    },
}

/// A decision cache key of a raw body (`raw\0`) or a caller's key (`key\0`); canonical keys
/// start with a uid, never with either.
fn prefixed(prefix: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(bytes.len() + prefix.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(bytes);
    k
}

/// A request checked against the model: its action, its Cedar request (context type-checked),
/// its context JSON and its own entities, parsed.
pub(super) struct Checked<'m, 'i> {
    pub am: &'m ActionModel,
    pub request: Request,
    pub ctx_json: &'i Value,
    pub provided: Vec<(Entity, Value)>,
}

static EMPTY_CONTEXT: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::Object(Default::default()));

/// Checks a request against the model: an unknown action, a context or an entity the schema
/// refuses, a principal or resource of a type the action does not take: 422.
pub(super) fn check<'m, 'i>(model: &'m Model, input: &'i DecisionInput) -> Result<Checked<'m, 'i>> {
    let Some(am) = model.action(&input.action) else {
        return Err(Error::new(
            Code::UnknownAction,
            format!("the schema declares no action `{}`", input.action),
        ));
    };
    let ctx_json = input.context.as_ref().unwrap_or(&EMPTY_CONTEXT);
    let context = input::context(model, &input.action, ctx_json)?;
    let request = Request::new(
        input.principal.clone(),
        input.action.clone(),
        input.resource.clone(),
        context,
        Some(&model.schema),
    )
    .map_err(|e| Error::new(Code::InvalidRequest, render(&e)))?;
    let provided = input::parse_provided(model, &input.entities)?;
    Ok(Checked {
        am,
        request,
        ctx_json,
        provided,
    })
}

/// Judges a request over its slice and names the org it was about.
pub(super) fn judge_slice(
    model: &Model,
    am: &ActionModel,
    request: &Request,
    slice: &mut slice::Slice,
    template: &str,
) -> Result<Decision> {
    let entities = slice.take_entities(model, &am.entities)?;
    let decision = Case {
        model,
        am,
        request,
        slice,
        entities: &entities,
        template,
    }
    .judge()?;
    Ok(Decision {
        org: slice.org.as_ref().map(|o| {
            Arc::new(OrgFacts {
                id: o.row.id.clone(),
                plan: o.effective_plan.clone(),
                role: slice.principal_role.clone(),
            })
        }),
        ..decision
    })
}

/// What a decision still needs after a cache miss.
enum Pending<'a> {
    Ready(&'a DecisionInput),
    Body(&'a [u8]),
    Build(&'a dyn Fn(&Model) -> Result<DecisionInput>),
}

impl Engine {
    /// Answers one decision request. Fails closed before anything, cached answers included, and
    /// sees every commit to the file that returned before this decision began
    /// (`Store::check_current`); then serves a still-valid cached answer, or evaluates.
    pub fn decide(&self, ask: Ask<'_>) -> Result<Decision> {
        self.store.check_current()?;
        let model = self.model.load();
        let now = now_unix();
        let owned;
        let (key, pending) = match ask {
            Ask::Body(body) => (prefixed(b"raw\0", body), Pending::Body(body)),
            Ask::Json(v) => {
                owned = input::parse_request(v)?;
                (owned.cache_key(), Pending::Ready(&owned))
            }
            Ask::Input(i) => (i.cache_key(), Pending::Ready(i)),
            Ask::Keyed { key, build } => (prefixed(b"key\0", &key(&model)?), Pending::Build(build)),
        };
        // A reserve is a write, never answered from (or kept in) the decision cache. A body
        // that asks for one is never cached under its bytes, so its lookup always misses.
        let reserves = matches!(pending, Pending::Ready(i) if i.reserve.is_some());
        if !self.settings.no_decision_cache && !reserves {
            if let Some(d) = self.cache.get(&key, model.generation, self.versions(), now) {
                return Ok(d);
            }
        }
        let later;
        let input = match pending {
            Pending::Ready(i) => i,
            Pending::Body(body) => {
                later = input::parse_request(crate::strict_json::parse(body)?)?;
                &later
            }
            Pending::Build(build) => {
                later = build(&model)?;
                &later
            }
        };
        if let Some(amount) = input.reserve {
            return self.decide_reserving(&model, input, amount, now);
        }
        self.evaluate(&model, input, key, now)
    }

    /// The uncached decision: context, slice, Cedar, 403 versus 402; cached under `key`.
    fn evaluate(
        &self,
        model: &Model,
        input: &DecisionInput,
        key: Vec<u8>,
        now: i64,
    ) -> Result<Decision> {
        let Checked {
            am,
            request,
            ctx_json,
            provided,
        } = check(model, input)?;
        let template = self.upgrade_template(model);
        let ctx = self.org_ctx(model, &template, now);
        let use_cache = !self.settings.no_decision_cache;
        let slice_key = slice::cache_key(&input.principal, &input.resource, ctx_json, &provided)
            .filter(|_| use_cache);
        let cached = slice_key
            .as_ref()
            .and_then(|k| self.slices.get(k, model.generation, self.versions(), now));
        let refreshed = match cached {
            Some(s) => {
                let mut s = (*s).clone();
                s.refresh_org(&self.sources(model, ctx))?.then_some(s)
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
                        &self.sources(model, ctx),
                        r,
                        slice::Wanted {
                            principal: &input.principal,
                            resource: &input.resource,
                            context: ctx_json,
                            provided,
                        },
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
        let decision = judge_slice(model, am, &request, &mut slice, &template)?;
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
    pub(super) fn keep_orgs(&self, model: &Model, orgs: Vec<slice::OrgRead>) {
        for o in orgs {
            let until = o.state.valid_until;
            self.orgs
                .put(o.id, model.generation, o.deps.to_vec(), until, o.state);
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
                return Err(Error::new(
                    Code::InvalidRequest,
                    format!(
                        "the schema declares no entity type `{}` ({what})",
                        u.type_name()
                    ),
                ));
            }
        }
        let empty = Value::Object(Default::default());
        let ctx_json = context.unwrap_or(&empty);
        let provided = input::parse_provided(&model, entities)?;
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
                &self.sources(&model, ctx),
                r,
                slice::Wanted {
                    principal,
                    resource,
                    context: ctx_json,
                    provided,
                },
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
            let request = input::context(&model, action, ctx_json).and_then(|c| {
                Request::new(
                    principal.clone(),
                    action.clone(),
                    resource.clone(),
                    c,
                    Some(&model.schema),
                )
                .map_err(|e| Error::new(Code::InvalidRequest, render(&e)))
            });
            let decision = match request {
                Ok(req) => {
                    let entities = slice.entities(&model, &am.entities, None)?;
                    Case {
                        model: &model,
                        am,
                        request: &req,
                        slice: &slice,
                        entities: &entities,
                        template: &template,
                    }
                    .judge()?
                }
                Err(e) => Decision {
                    outcome: Outcome::Deny,
                    reasons: vec![],
                    errors: vec![e.to_string()],
                    warnings: slice.warnings.clone(),
                    payment: None,
                    org: None,
                    reservation: None,
                },
            };
            out.push(ActionVerdict {
                action: name,
                decision,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineSettings;
    use crate::model::{uid, ModelPaths, ModelSources};
    use crate::org::{Limits, OrgUpdate};
    use crate::store::Store;
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
                    crate::org::upsert_org(w, ctx, &org, up, Limits::Override)?;
                    for u in 0..20 {
                        crate::org::set_member(w, ctx, &org, &format!("u{o}_{u}"), "member", Limits::Override)?;
                    }
                    crate::org::set_workspace(w, ctx, &org, &format!("ws{o}"), None, Limits::Override)?;
                    w.put_entity("Project", &format!("p{o}"), &json!({"uid": {"type": "Project", "id": format!("p{o}")}, "attrs": {}, "parents": [{"type": "Workspace", "id": format!("ws{o}")}]}).to_string())?;
                }
                Ok(())
            })
            .unwrap();
        let ask = |p: &str, a: &str, rt: &str, r: &str, c: serde_json::Value| {
            engine
                .decide(Ask::Input(&DecisionInput {
                    principal: uid("User", p).unwrap(),
                    action: uid("Action", a).unwrap(),
                    resource: uid(rt, r).unwrap(),
                    context: Some(c),
                    entities: vec![],
                    reserve: None,
                }))
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
