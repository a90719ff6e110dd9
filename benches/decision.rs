//! In-process cost of one decision on the default model: slice read from SQLite, entity
//! assembly, Cedar evaluation, and on the 402 path the tier trial for `required_plan`.
//! Each benchmark checks its expected outcome once before timing.

// A bench that cannot build its fixture has nothing to measure.
#![allow(
    clippy::expect_used,
    reason = "a bench that cannot build its fixture has nothing to measure"
)]

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tollgate::engine::{Ask, DecisionInput, Engine, EngineSettings, Outcome};
use tollgate::model::{uid, Model, ModelPaths};
use tollgate::org::{Limits, OrgUpdate};
use tollgate::store::Store;

fn engine(dir: &std::path::Path, cache: bool) -> Engine {
    let model = Model::load(&ModelPaths::default()).expect("model");
    std::fs::create_dir_all(dir).expect("dir");
    let store = Store::open(&dir.join("bench.db")).expect("store");
    let settings = EngineSettings {
        no_decision_cache: !cache,
        ..Default::default()
    };
    let engine = Engine::new(model, store, settings);
    let m = engine.model();
    let template = engine.upgrade_template(&m);
    let ctx = engine.org_ctx(&m, &template, tollgate::store::now_unix());
    engine
        .store()
        .write(|w| {
            for (org, plan) in [("acme", "professional"), ("tiny", "free")] {
                tollgate::org::upsert_org(
                    w,
                    ctx,
                    org,
                    OrgUpdate {
                        plan: Some(plan.into()),
                        primary_owner: Some("alice".into()),
                        ..Default::default()
                    },
                    Limits::Override,
                )?;
                tollgate::org::set_member(w, ctx, org, "mia", "member", Limits::Override)?;
            }
            tollgate::org::set_workspace(w, ctx, "acme", "ws1", None, Limits::Override)?;
            Ok(())
        })
        .expect("fixture");
    engine
}

fn input(
    principal: &str,
    action: &str,
    rtype: &str,
    rid: &str,
    context: serde_json::Value,
) -> DecisionInput {
    DecisionInput {
        principal: uid("User", principal).expect("uid"),
        action: uid("Action", action).expect("uid"),
        resource: uid(rtype, rid).expect("uid"),
        context: Some(context),
        entities: vec![],
        reserve: None,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let uncached = engine(&dir.path().join("a"), false);
    let cached = engine(&dir.path().join("b"), true);
    let cases = [
        (
            "allow_view_org",
            input("mia", "view_org", "Org", "acme", json!({})),
            Outcome::Allow,
        ),
        (
            "allow_invite_with_seat_gates",
            input(
                "alice",
                "invite_user",
                "Org",
                "acme",
                json!({"role": "member"}),
            ),
            Outcome::Allow,
        ),
        (
            "allow_workspace_create_agent",
            input("alice", "create_agent", "Workspace", "ws1", json!({})),
            Outcome::Allow,
        ),
        (
            "deny_member_audit_logs",
            input("mia", "view_audit_logs", "Org", "acme", json!({})),
            Outcome::Deny,
        ),
        (
            "payment_required_audit_logs",
            input("alice", "view_audit_logs", "Org", "tiny", json!({})),
            Outcome::PaymentRequired,
        ),
    ];
    let mut group = c.benchmark_group("decide");
    for (name, inp, want) in &cases {
        let got = uncached.decide(Ask::Input(inp)).expect("decision");
        assert_eq!(got.outcome, *want, "{name}: {got:?}");
        group.bench_function(*name, |b| {
            b.iter(|| {
                uncached
                    .decide(Ask::Input(std::hint::black_box(inp)))
                    .expect("decision")
            })
        });
    }
    group.finish();
    // The same requests again and again, as behind a proxy: served from the decision cache.
    let mut group = c.benchmark_group("decide_cached");
    for (name, inp, want) in &cases {
        assert_eq!(
            cached.decide(Ask::Input(inp)).expect("decision").outcome,
            *want,
            "{name}"
        );
        group.bench_function(*name, |b| {
            b.iter(|| {
                cached
                    .decide(Ask::Input(std::hint::black_box(inp)))
                    .expect("decision")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
