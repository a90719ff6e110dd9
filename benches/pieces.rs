//! The pieces of one decision, timed apart so a regression shows where it is: JSON in, slice
//! assembly from SQLite, building Cedar's `Entities`, one Cedar evaluation, the 402 path with
//! its tier trial, JSON out. Each checks its expected result before timing.

// A bench that cannot build its fixture has nothing to measure.
#![allow(
    clippy::expect_used,
    reason = "a bench that cannot build its fixture has nothing to measure"
)]

use cedar_policy::{Authorizer, Context, Decision as CedarDecision, Request};
use criterion::{criterion_group, criterion_main, Criterion};

use tollgate::engine::{input, slice, Ask, Engine, EngineSettings, OrgCache, Outcome};
use tollgate::model::{uid, Model, ModelPaths};
use tollgate::org::{Limits, OrgUpdate};
use tollgate::store::{now_unix, Store};

const BODY: &[u8] = br#"{"principal":{"type":"User","id":"mia"},"action":{"type":"Action","id":"invite_user"},"resource":{"type":"Org","id":"acme"},"context":{"role":"member"}}"#;

fn fixture(dir: &std::path::Path) -> Engine {
    let model = Model::load(&ModelPaths::default()).expect("model");
    let store = Store::open(&dir.join("pieces.db")).expect("store");
    let settings = EngineSettings {
        no_decision_cache: true,
        ..Default::default()
    };
    let engine = Engine::new(model, store, settings);
    let m = engine.model();
    let ctx = engine.org_ctx(&m, "https://x/{org}/{plan}", now_unix());
    engine
        .store()
        .write(|w| {
            let up = OrgUpdate {
                plan: Some("free".into()),
                primary_owner: Some("alice".into()),
                ..Default::default()
            };
            tollgate::org::upsert_org(w, ctx, "acme", up, Limits::Override)?;
            tollgate::org::set_member(w, ctx, "acme", "mia", "admin", Limits::Override)
        })
        .expect("fixture");
    engine
}

fn pieces(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = fixture(dir.path());
    let model = engine.model();
    let mut g = c.benchmark_group("pieces");

    g.bench_function("json_in", |b| {
        b.iter(|| {
            let v: serde_json::Value =
                serde_json::from_slice(std::hint::black_box(BODY)).expect("json");
            input::parse_request(v).expect("input")
        })
    });

    let input = input::parse_request(serde_json::from_slice(BODY).expect("json")).expect("input");
    let ctx_json = input.context.clone().expect("context");
    let template = engine.upgrade_template(&model);
    let no_orgs = OrgCache::with_max_bytes(0);
    let build = || {
        let src = slice::Sources {
            store: engine.store(),
            orgs: &no_orgs,
            model: &model,
            ctx: engine.org_ctx(&model, &template, now_unix()),
        };
        engine
            .store()
            .read(|r| {
                let wanted = slice::Wanted {
                    principal: &input.principal,
                    resource: &input.resource,
                    context: &ctx_json,
                    provided: vec![],
                };
                slice::build(&src, r, wanted)
            })
            .expect("slice")
            .0
    };
    assert!(build().org.is_some());
    g.bench_function("slice_from_sqlite", |b| b.iter(build));

    let s = build();
    let am = model.action(&input.action).expect("action");
    g.bench_function("entities_build", |b| {
        b.iter(|| s.entities(&model, &am.entities, None).expect("entities"))
    });

    let entities = s.entities(&model, &am.entities, None).expect("entities");
    let context = Context::from_json_value(ctx_json.clone(), Some((&model.schema, &input.action)))
        .expect("context");
    let request = Request::new(
        input.principal.clone(),
        input.action.clone(),
        input.resource.clone(),
        context,
        Some(&model.schema),
    )
    .expect("request");
    let authorizer = Authorizer::new();
    assert_eq!(
        authorizer
            .is_authorized(&request, &am.policies, &entities)
            .decision(),
        CedarDecision::Allow
    );
    g.bench_function("cedar_eval_action_slice", |b| {
        b.iter(|| authorizer.is_authorized(&request, &am.policies, &entities))
    });
    g.bench_function("cedar_eval_all_policies", |b| {
        b.iter(|| authorizer.is_authorized(&request, &model.policies, &entities))
    });

    // The 402 path: role side allows, a feature gate forbids, then one evaluation per tier.
    let gated = tollgate::engine::DecisionInput {
        principal: uid("User", "alice").expect("uid"),
        action: uid("Action", "view_audit_logs").expect("uid"),
        resource: uid("Org", "acme").expect("uid"),
        context: None,
        entities: vec![],
        reserve: None,
    };
    let d = engine.decide(Ask::Input(&gated)).expect("decision");
    assert_eq!(d.outcome, Outcome::PaymentRequired);
    assert_eq!(
        d.payment.as_ref().and_then(|p| p.required_plan.as_deref()),
        Some("enterprise")
    );
    g.bench_function("decide_402_with_tier_trial", |b| {
        b.iter(|| engine.decide(Ask::Input(&gated)).expect("decision"))
    });

    g.bench_function("json_out_402", |b| {
        b.iter(|| tollgate::http::decision_json(std::hint::black_box(&d)).to_string())
    });
    g.finish();
}

criterion_group!(benches, pieces);
criterion_main!(benches);
