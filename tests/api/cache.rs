//! Repeated decisions are served from a cache; an acknowledged write, a reload or the clock
//! (an invitation expiring) must change the very next answer. Each test asks the same question
//! several times first, so a cached answer exists when the data changes.

use serde_json::{json, Value};

use crate::helpers::{in_secs, req, ModelCopy, TestApp};

fn ask_often(app: &TestApp, r: &Value) -> Value {
    let first = app.authorize(r.clone());
    for _ in 0..3 {
        assert_eq!(
            app.authorize(r.clone()),
            first,
            "a repeated question gets the same answer"
        );
    }
    first
}

#[test]
fn every_kind_of_write_is_seen_by_the_next_decision() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    app.member("acme", "mia", "member");
    // Role change.
    let audit = req("mia", "create_workspace", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &audit)["decision"], "deny");
    app.member("acme", "mia", "admin");
    assert_eq!(app.authorize(audit.clone())["decision"], "allow");
    // Plan change.
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &logs)["decision"], "payment_required");
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "enterprise"}));
    assert_eq!(app.authorize(logs.clone())["decision"], "allow");
    app.ok(
        "PUT",
        "/v1/orgs/acme",
        json!({"plan": "free", "subscription_status": "active"}),
    );
    // Usage counter.
    let project = req("alice", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &project)["decision"], "allow");
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 3}),
    );
    assert_eq!(
        app.authorize(project.clone())["decision"],
        "payment_required"
    );
    // Workspace creation and membership.
    let view = req("mia", "view_workspace", ("Workspace", "ws1"), json!({}));
    assert_eq!(ask_often(&app, &view)["decision"], "deny");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    assert_eq!(
        app.authorize(view.clone())["decision"],
        "allow",
        "mia is an admin now"
    );
    app.member("acme", "vic", "viewer");
    let vic_view = req("vic", "view_workspace", ("Workspace", "ws1"), json!({}));
    assert_eq!(ask_often(&app, &vic_view)["decision"], "deny");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1/members/vic", json!({}));
    assert_eq!(app.authorize(vic_view.clone())["decision"], "allow");
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/workspaces/ws1/members/vic", None)
            .status,
        204
    );
    assert_eq!(app.authorize(vic_view.clone())["decision"], "deny");
    // Member removal.
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/members/mia", None)
            .status,
        204
    );
    assert_eq!(app.authorize(audit)["decision"], "deny");
}

#[test]
fn generic_entity_writes_are_seen_by_the_next_decision() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.member("acme", "mia", "member");
    // A project the store does not know yet: the decision warns and denies.
    let read = req("mia", "read", ("Project", "p1"), json!({}));
    let first = ask_often(&app, &read);
    assert_eq!(first["decision"], "deny");
    assert!(first["warnings"].is_array());
    let p1 = json!({"uid": {"type": "Project", "id": "p1"}, "attrs": {}, "parents": [{"type": "Org", "id": "acme"}]});
    app.ok("PUT", "/v1/entities", json!([p1]));
    let a = app.authorize(read.clone());
    assert_eq!(a["decision"], "allow", "{a}");
    assert!(a.get("warnings").is_none());
    assert_eq!(
        app.admin("DELETE", "/v1/entities/Project/p1", None).status,
        204
    );
    assert_eq!(app.authorize(read)["decision"], "deny");
}

#[test]
fn the_clock_and_reloads_are_seen_too() {
    let m = ModelCopy::new();
    let app = TestApp::spawn_owned(m.args(), &[]);
    app.org("acme", "free", "alice");
    app.member("acme", "mia", "member");
    app.ok(
        "PUT",
        "/v1/orgs/acme/invitations/i1",
        json!({"email": "x@y.z", "role": "member", "expires_at": in_secs(2)}),
    );
    let invite = req(
        "alice",
        "invite_user",
        ("Org", "acme"),
        json!({"role": "member"}),
    );
    assert_eq!(
        ask_often(&app, &invite)["decision"],
        "payment_required",
        "3 of 3 seats"
    );
    std::thread::sleep(std::time::Duration::from_millis(2200));
    assert_eq!(
        app.authorize(invite.clone())["decision"],
        "allow",
        "the expired invitation freed its seat"
    );
    // A reload with a changed limit.
    let plans = m.read("plans.toml");
    m.write(
        "plans.toml",
        &plans.replacen("\"seat:total\" = 3", "\"seat:total\" = 2", 1),
    );
    assert_eq!(app.admin("POST", "/v1/admin/reload", None).status, 200);
    assert_eq!(app.authorize(invite)["decision"], "payment_required");
}

/// A question on another action of the same principal and resource reuses the request's
/// entities (the slice cache), not a decision: those must be just as fresh after a write.
#[test]
fn writes_are_seen_by_another_action_on_the_same_principal_and_resource() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    app.member("acme", "mia", "member");
    let mia = |action: &str| req("mia", action, ("Org", "acme"), json!({}));
    let alice = |action: &str| req("alice", action, ("Org", "acme"), json!({}));
    // Role change.
    assert_eq!(ask_often(&app, &mia("view_org"))["decision"], "allow");
    app.member("acme", "mia", "admin");
    assert_eq!(app.authorize(mia("create_workspace"))["decision"], "allow");
    // Plan change.
    assert_eq!(ask_often(&app, &alice("view_org"))["decision"], "allow");
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "enterprise"}));
    assert_eq!(app.authorize(alice("view_audit_logs"))["decision"], "allow");
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "free"}));
    // Usage counter.
    assert_eq!(
        ask_often(&app, &alice("view_subscription_usage"))["decision"],
        "allow"
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 3}),
    );
    assert_eq!(
        app.authorize(alice("create_project"))["decision"],
        "payment_required"
    );
    // Workspace membership.
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    app.member("acme", "vic", "viewer");
    let vic = |action: &str| req("vic", action, ("Workspace", "ws1"), json!({}));
    assert_eq!(ask_often(&app, &vic("create_agent"))["decision"], "deny");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1/members/vic", json!({}));
    assert_eq!(app.authorize(vic("view_workspace"))["decision"], "allow");
    // Member removal.
    assert_eq!(ask_often(&app, &mia("view_org"))["decision"], "allow");
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/members/mia", None)
            .status,
        204
    );
    assert_eq!(
        app.authorize(mia("view_subscription_usage"))["decision"],
        "deny"
    );
    // An org named by the context rather than by the resource.
    app.member("acme", "ada", "admin");
    app.member("acme", "max", "member");
    let on_max = |action: &str, ctx: Value| req("ada", action, ("User", "max"), ctx);
    let role = json!({"org": {"type": "Org", "id": "acme"}, "new_role": "viewer"});
    assert_eq!(
        ask_often(&app, &on_max("update_member_role", role))["decision"],
        "allow"
    );
    app.member("acme", "ada", "viewer");
    let remove = json!({"org": {"type": "Org", "id": "acme"}});
    assert_eq!(
        app.authorize(on_max("remove_member", remove))["decision"],
        "deny",
        "ada is a viewer now"
    );
}

/// App usage lives in the org's tags and has its own version: a usage write keeps the cached
/// answers of actions whose policies read no tags, and changes those of any policy that does,
/// gate or not.
#[test]
fn a_usage_write_reaches_every_policy_that_reads_tags() {
    let m = ModelCopy::new();
    m.write(
        "policies/usage_cap.cedar",
        r#"@id("test.usage_cap")
forbid (principal, action == Action::"view_subscription_usage", resource is Org)
when { resource.hasTag("quota:project") && resource.getTag("quota:project") >= 3 };
"#,
    );
    let app = TestApp::spawn_owned(m.args(), &[]);
    app.org("acme", "free", "alice");
    let usage = req(
        "alice",
        "view_subscription_usage",
        ("Org", "acme"),
        json!({}),
    );
    let view = req("alice", "view_org", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &usage)["decision"], "allow");
    assert_eq!(ask_often(&app, &view)["decision"], "allow");
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 3}),
    );
    let a = app.authorize(usage);
    assert_eq!(a["decision"], "deny", "{a}");
    assert_eq!(a["reasons"], json!(["test.usage_cap"]), "{a}");
    assert_eq!(app.authorize(view)["decision"], "allow");
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

/// Every distinct body is a decision cache key: padded with whitespace, 3,000 of them are
/// 180 MB of keys, which a cache capped by entries kept (measured before: 226 MiB resident).
/// Bounded by bytes, the daemon stays small however many arrive, over many connections.
#[test]
fn the_caches_are_bounded_by_bytes() {
    // Its own process: the resident memory measured is the daemon's alone.
    let app = TestApp::process();
    app.org("acme", "free", "alice");
    let pad = " ".repeat(60_000);
    let before = rss_mib(app.pid());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (app, pad) = (&app, &pad);
            s.spawn(move || {
                for i in 0..375 {
                    // Distinct bodies: the padding's length differs, the request does not.
                    let extra = " ".repeat(t * 375 + i);
                    let body = format!(
                        r#"{{"principal": "User::\"alice\"", "action": "Action::\"view_org\"",{pad}{extra}"resource": "Org::\"acme\""}}"#
                    );
                    let a = app.call_raw("POST", "/v1/authorize", Some(&body), "application/json", None);
                    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
                }
            });
        }
    });
    let after = rss_mib(app.pid());
    assert!(
        after < before + 100,
        "resident memory grew from {before} to {after} MiB"
    );
    // And a small bound still answers right, from the cache or not.
    let small = TestApp::spawn_with(&["--cache-bytes", "65536"], &[]);
    small.org("acme", "free", "alice");
    let r = req("alice", "view_org", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&small, &r)["decision"], "allow");
}
