//! The default model (../shared/spec/default-model.md) through the daemon, for what the YAML
//! policy tests cannot say. The tables themselves (who may do what on which plan, with which
//! `required_plan` and reasons) are asserted once, in policies/tests/*.yaml, which
//! `tollgate test policies/tests` runs in CI. What stays here: the 402 body (`code`,
//! `current_usage`, `upgrade_url`, `message`), decisions after data API writes, data API reads
//! (usage limits, effective plan, stored roles), the grace period as daemon configuration, and
//! `/v1/permissions`.

use serde_json::{json, Value};

use crate::helpers::{req, TestApp};

/// Roles as table columns: the primary owner, another owner, admin, member, viewer.
const ACTORS: [(&str, &str); 5] = [
    ("alice", "primary owner"),
    ("oscar", "owner"),
    ("adam", "admin"),
    ("mia", "member"),
    ("vic", "viewer"),
];

/// An org on `plan` with one user per role column (limits overridden: fixtures only).
fn org_with_roles(app: &TestApp, org: &str, plan: &str) {
    app.org(org, plan, "alice");
    app.member(org, "oscar", "owner");
    app.member(org, "adam", "admin");
    app.member(org, "mia", "member");
    app.member(org, "vic", "viewer");
}

/// The HTTP shape of a decision: `status` follows `decision`, and a `payment` body comes with
/// a 402 only.
#[track_caller]
fn assert_shape(a: &Value) {
    let status = match a["decision"].as_str() {
        Some("allow") => 200,
        Some("deny") => 403,
        Some("payment_required") => 402,
        _ => panic!("no decision: {a}"),
    };
    assert_eq!(a["status"], status, "{a}");
    assert_eq!(
        a.get("payment").is_some(),
        status == 402,
        "payment only on 402: {a}"
    );
}

#[track_caller]
fn expect(app: &TestApp, request: Value, decision: &str, why: &str) -> Value {
    let a = app.authorize(request.clone());
    assert_eq!(a["decision"], decision, "{why}: {request} -> {a}");
    assert_shape(&a);
    a
}

/// A 402 for a feature the plan lacks: no usage, and the upgrade link names the tier.
#[track_caller]
fn expect_feature(a: &Value, org: &str, plan: &str) {
    let p = &a["payment"];
    assert_eq!(p["code"], "FEATURE_NOT_IN_PLAN", "{a}");
    assert_eq!(p["error"], "payment_required", "{a}");
    assert_eq!(p["required_plan"], plan, "{a}");
    assert_eq!(
        p["upgrade_url"],
        format!("https://billing.example.com/upgrade?org={org}&plan={plan}"),
        "{a}"
    );
    assert!(
        p.get("current_usage").is_none(),
        "no usage for a feature gate: {a}"
    );
}

/// A 402 for a limit: `current_usage` names the blocking resource type, count and limit.
#[track_caller]
fn expect_limit(a: &Value, rt: &str, current: i64, limit: i64, plan: &str) {
    let p = &a["payment"];
    assert_eq!(p["code"], "PLAN_LIMIT_REACHED", "{a}");
    assert_eq!(p["required_plan"], plan, "{a}");
    assert_eq!(
        p["current_usage"],
        json!({"resource_type": rt, "current": current, "limit": limit}),
        "{a}"
    );
    assert!(
        p["upgrade_url"].as_str().is_some_and(|u| u.contains(plan)),
        "{a}"
    );
}

/// Feature gates on free (owners and admins get the 402; the YAML has who gets it, with
/// reasons and required_plan): the body names the feature's tier and no usage.
#[test]
fn feature_gate_402_bodies() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "free");
    let gates = [
        "update_retention_policy",
        "manage_roles",
        "view_audit_logs",
        "configure_sso",
        "configure_scim",
    ];
    for action in gates {
        for user in ["alice", "oscar", "adam"] {
            let a = expect(
                &app,
                req(user, action, ("Org", "acme"), json!({})),
                "payment_required",
                action,
            );
            expect_feature(&a, "acme", "enterprise");
        }
    }
    // A workspace feature: advanced_analytics on starter.
    org_with_roles(&app, "beta", "starter");
    app.ok("PUT", "/v1/orgs/beta/workspaces/ws1", json!({}));
    let a = expect(
        &app,
        req("adam", "view_analytics", ("Workspace", "ws1"), json!({})),
        "payment_required",
        "analytics",
    );
    expect_feature(&a, "beta", "professional");
}

/// Quotas after data API writes (a workspace Tollgate counts itself, the app's usage
/// counters): the 402 body names the blocking usage.
#[test]
fn quota_402_bodies_after_data_api_writes() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "free");
    // quota:workspace: free allows 1.
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1",
        json!({"name": "One"}),
    );
    let a = expect(
        &app,
        req("adam", "create_workspace", ("Org", "acme"), json!({})),
        "payment_required",
        "2nd workspace",
    );
    expect_limit(&a, "quota:workspace", 1, 1, "starter");

    // quota:project is the app's counter: free allows 3.
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 3}),
    );
    let a = expect(
        &app,
        req("mia", "create_project", ("Org", "acme"), json!({})),
        "payment_required",
        "4th project",
    );
    expect_limit(&a, "quota:project", 3, 3, "starter");
    // Past every tier but enterprise (unlimited).
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 100}),
    );
    let a = expect(
        &app,
        req("mia", "create_project", ("Org", "acme"), json!({})),
        "payment_required",
        "101st project",
    );
    expect_limit(&a, "quota:project", 100, 3, "enterprise");

    // quota:agent on a workspace: free allows 2.
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:agent",
        json!({"current": 2}),
    );
    let a = expect(
        &app,
        req("adam", "create_agent", ("Workspace", "ws1"), json!({})),
        "payment_required",
        "3rd agent",
    );
    expect_limit(&a, "quota:agent", 2, 2, "starter");
}

/// Seats as members are written: the 402 body names the role's bucket first, then
/// `seat:total`, with the seats counted so far.
#[test]
fn seat_402_bodies_name_the_bucket_first() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:admin 1/1, seat:total 1/3
    let invite = |role: &str| {
        req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": role}),
        )
    };
    let a = expect(&app, invite("admin"), "payment_required", "admin seat");
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    // Bulk: the first tier whose seat:total fits 1 + count.
    let bulk = |n: i64| {
        req(
            "alice",
            "bulk_invite_users",
            ("Org", "acme"),
            json!({"role": "member", "count": n}),
        )
    };
    for (n, plan) in [(8, "starter"), (20, "professional"), (100, "enterprise")] {
        let a = expect(&app, bulk(n), "payment_required", &format!("bulk {n}"));
        expect_limit(&a, "seat:total", 1, 3, plan);
    }
    // A role change into a full bucket.
    app.member("acme", "mia", "member");
    let a = expect(
        &app,
        req(
            "alice",
            "update_member_role",
            ("User", "mia"),
            json!({"org": {"type": "Org", "id": "acme"}, "new_role": "admin"}),
        ),
        "payment_required",
        "seat:admin is full on free",
    );
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    // Fill seat:total (3/3): an admin invite is blocked by both; the role's bucket comes first.
    app.member("acme", "vic", "viewer");
    let a = expect(&app, invite("admin"), "payment_required", "both");
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    let a = expect(&app, invite("viewer"), "payment_required", "total");
    expect_limit(&a, "seat:total", 3, 3, "starter");
}

/// The usage read reports each tier's limits (policies/tests/plan_catalog.yaml holds the
/// limits as decisions).
#[test]
fn usage_reports_the_catalog_limits() {
    let app = TestApp::spawn();
    let tiers = [
        (
            "free",
            json!({"seat:total": 3, "seat:admin": 1, "quota:workspace": 1, "quota:agent": 2, "quota:project": 3}),
        ),
        (
            "starter",
            json!({"seat:total": 10, "seat:admin": 2, "quota:workspace": 3, "quota:agent": 10, "quota:project": 10}),
        ),
        (
            "professional",
            json!({"seat:total": 50, "seat:admin": 5, "quota:workspace": 10, "quota:agent": 50, "quota:project": 100}),
        ),
        (
            "enterprise",
            json!({"seat:total": null, "seat:admin": null, "quota:workspace": null, "quota:agent": null, "quota:project": null}),
        ),
    ];
    for (tier, limits) in &tiers {
        let org = format!("org-{tier}");
        app.org(&org, tier, "alice");
        let usage = app.admin("GET", &format!("/v1/orgs/{org}/usage"), None);
        assert_eq!(usage.status, 200, "{}", usage.raw);
        for (rt, limit) in limits.as_object().unwrap() {
            assert_eq!(
                &usage.body[rt]["limit"], limit,
                "{tier} {rt}: {}",
                usage.raw
            );
        }
        assert_eq!(
            usage.body["seat:member"]["limit"],
            Value::Null,
            "seat:member has no default limit"
        );
    }
}

/// The org read reports the effective plan each subscription status gives (the YAML has the
/// decisions on each status).
#[test]
fn subscription_status_sets_the_effective_plan() {
    let app = TestApp::spawn();
    app.org("acme", "professional", "alice");
    let effective =
        |app: &TestApp| app.admin("GET", "/v1/orgs/acme", None).body["effective_plan"].clone();
    for status in ["active", "trialing"] {
        app.ok(
            "PUT",
            "/v1/orgs/acme",
            json!({"subscription_status": status}),
        );
        assert_eq!(effective(&app), "professional", "{status}");
    }
    // past_due keeps the plan for the grace period (7 days by default), then free.
    app.ok("PUT", "/v1/orgs/acme", json!({"subscription_status": "past_due", "past_due_since": crate::helpers::in_secs(-6 * 86_400)}));
    assert_eq!(effective(&app), "professional", "past_due within grace");
    app.ok("PUT", "/v1/orgs/acme", json!({"subscription_status": "past_due", "past_due_since": crate::helpers::in_secs(-8 * 86_400)}));
    assert_eq!(effective(&app), "free", "past_due after grace");
    for status in ["canceled", "unpaid", "incomplete_expired"] {
        app.ok(
            "PUT",
            "/v1/orgs/acme",
            json!({"subscription_status": status}),
        );
        assert_eq!(effective(&app), "free", "{status}");
    }
}

#[test]
fn grace_period_is_configuration() {
    let app = TestApp::spawn_with(&[], &[("TOLLGATE_PAST_DUE_GRACE_DAYS", "30")]);
    app.org("acme", "professional", "alice");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    app.ok("PUT", "/v1/orgs/acme", json!({"subscription_status": "past_due", "past_due_since": crate::helpers::in_secs(-8 * 86_400)}));
    expect(
        &app,
        req("alice", "view_analytics", ("Workspace", "ws1"), json!({})),
        "allow",
        "30-day grace",
    );
}

/// `/v1/permissions` answers, for each action, what `/v1/authorize` answers; and every
/// `/v1/authorize` answer has its decision's HTTP shape.
#[test]
fn permissions_equal_authorize() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "starter");
    for (user, _) in ACTORS {
        let body = json!({"principal": {"type": "User", "id": user}, "resource": {"type": "Org", "id": "acme"}, "context": {}});
        let p = app.call("POST", "/v1/permissions", Some(&body), None);
        assert_eq!(p.status, 200, "{}", p.raw);
        let actions = p.body["actions"].as_object().expect("actions");
        // Every org action of the schema is listed.
        assert_eq!(actions.len(), 17, "{}", p.raw);
        for (action, entry) in actions {
            let needs_ctx = ["invite_user", "bulk_invite_users", "transfer_ownership"]
                .contains(&action.as_str());
            if needs_ctx {
                assert_eq!(entry["decision"], "deny", "{action}: {entry}");
                assert!(
                    !entry["errors"].as_array().unwrap().is_empty(),
                    "{action} lacks context: {entry}"
                );
                continue;
            }
            let a = app.authorize(req(user, action, ("Org", "acme"), json!({})));
            assert_shape(&a);
            assert_eq!(entry["decision"], a["decision"], "{user} {action}");
            assert_eq!(entry["status"], a["status"], "{user} {action}");
            if a["decision"] == "payment_required" {
                assert_eq!(
                    entry["required_plan"], a["payment"]["required_plan"],
                    "{user} {action}"
                );
            }
        }
    }
}

/// default-model.md, "When a feature lapses", through the daemon (policies/tests/
/// custom_roles.yaml has the decisions on each plan): the lapsed permission's 402 body names
/// `custom_roles` and no usage, `/v1/permissions` agrees, and the stored roles stay, so an
/// upgrade brings the grants back with no other write.
#[test]
fn a_lapsed_custom_role_402s_and_an_upgrade_brings_it_back() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.ok(
        "PUT",
        "/v1/orgs/acme/roles/billing_manager",
        json!({"permissions": ["org.read", "billing.manage"], "level": 25}),
    );
    // A custom role ranked above admins: its level grants too (app resources, workspaces).
    app.ok(
        "PUT",
        "/v1/orgs/acme/roles/lead",
        json!({"permissions": ["org.read"], "level": 15}),
    );
    app.member("acme", "bea", "billing_manager");
    app.member("acme", "leo", "lead");
    app.member("acme", "mia", "member");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    let bea = |action: &str| req("bea", action, ("Org", "acme"), json!({}));
    let mut delete = req("leo", "delete", ("Project", "p"), json!({}));
    delete["entities"] = json!([{"uid": {"type": "Project", "id": "p"}, "attrs": {},
                                "parents": [{"type": "Org", "id": "acme"}]}]);

    for plan in ["starter", "professional"] {
        app.ok("PUT", "/v1/orgs/acme", json!({"plan": plan}));
        let why = format!("lapsed on {plan}");
        for a in ["start_checkout", "cancel_subscription"] {
            let d = expect(&app, bea(a), "payment_required", &why);
            assert_eq!(d["payment"]["code"], "FEATURE_NOT_IN_PLAN", "{d}");
            assert_eq!(d["payment"]["required_plan"], "enterprise", "{d}");
            assert!(
                d["payment"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("custom_roles"),
                "{d}"
            );
            assert!(d["payment"].get("current_usage").is_none(), "{d}");
        }
        // What the lead's level gave lapses too (the YAML has the required_plan).
        expect(&app, delete.clone(), "payment_required", &why);
        let p = app.call(
            "POST",
            "/v1/permissions",
            Some(&json!({"principal": {"type": "User", "id": "bea"},
                          "resource": {"type": "Org", "id": "acme"}})),
            None,
        );
        let actions = &p.body["actions"];
        assert_eq!(
            actions["start_checkout"]["decision"], "payment_required",
            "{}",
            p.raw
        );
        assert_eq!(
            actions["start_checkout"]["required_plan"], "enterprise",
            "{}",
            p.raw
        );
        assert_eq!(actions["view_org"]["decision"], "allow", "{}", p.raw);
        assert_eq!(actions["manage_roles"]["decision"], "deny", "{}", p.raw);
    }
    // The rows stay: an upgrade brings the grants back with no other write.
    let roles = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(
        roles["members"].to_string().contains("billing_manager"),
        "{roles}"
    );
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "enterprise"}));
    expect(&app, bea("start_checkout"), "allow", "upgraded");
    expect(&app, delete, "allow", "upgraded");
}
