//! Walks every cell of ../shared/spec/default-model.md's tables against the shipped policies,
//! schema and plan catalog. A change to a policy, a role's permissions or a tier breaks a row.

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

#[track_caller]
fn expect(app: &TestApp, request: Value, decision: &str, why: &str) -> Value {
    let a = app.authorize(request.clone());
    assert_eq!(a["decision"], decision, "{why}: {request} -> {a}");
    let status = match decision {
        "allow" => 200,
        "deny" => 403,
        _ => 402,
    };
    assert_eq!(a["status"], status, "{why}: {a}");
    if decision != "payment_required" {
        assert!(
            a.get("payment").is_none(),
            "{why}: payment only on 402: {a}"
        );
    }
    a
}

/// Org actions table: (action, context, allowed for [primary owner, owner, admin, member, viewer]).
fn org_table() -> Vec<(&'static str, Value, [bool; 5])> {
    let all = [true; 5];
    let admins = [true, true, true, false, false];
    let members = [true, true, true, true, false];
    let primary = [true, false, false, false, false];
    vec![
        ("view_org", json!({}), all),
        ("view_subscription_usage", json!({}), all),
        ("invite_user", json!({"role": "member"}), admins),
        (
            "bulk_invite_users",
            json!({"role": "member", "count": 2}),
            admins,
        ),
        ("change_member_workspace_access", json!({}), admins),
        ("start_checkout", json!({}), admins),
        ("cancel_subscription", json!({}), admins),
        ("update_retention_policy", json!({}), admins),
        ("update_org_settings", json!({}), admins),
        ("manage_roles", json!({}), admins),
        ("view_audit_logs", json!({}), admins),
        ("configure_sso", json!({}), admins),
        ("configure_scim", json!({}), admins),
        ("create_workspace", json!({}), admins),
        ("create_project", json!({}), members),
        ("delete_org", json!({}), primary),
        (
            "transfer_ownership",
            json!({"new_owner": {"type": "User", "id": "mia"}}),
            primary,
        ),
    ]
}

#[test]
fn org_actions_role_matrix_on_enterprise() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "enterprise");
    for (action, ctx, allowed) in org_table() {
        for (i, (user, role)) in ACTORS.iter().enumerate() {
            let want = if allowed[i] { "allow" } else { "deny" };
            expect(
                &app,
                req(user, action, ("Org", "acme"), ctx.clone()),
                want,
                &format!("{role} {action}"),
            );
        }
    }
    // Someone with no membership in the org gets nothing, even the harmless reads.
    app.org("globex", "enterprise", "gina");
    for (action, ctx, _) in org_table() {
        expect(
            &app,
            req("gina", action, ("Org", "acme"), ctx),
            "deny",
            "member of another org",
        );
    }
}

/// Plan-gated org actions on `free`: owners and admins get 402 naming the tier that allows it;
/// members and viewers get 403, because 403 beats 402.
#[test]
fn org_feature_gates_answer_402_with_required_plan() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "free");
    let gates = [
        (
            "update_retention_policy",
            "enterprise",
            "gate.feature.retention_policy",
        ),
        ("manage_roles", "enterprise", "gate.feature.custom_roles"),
        ("view_audit_logs", "enterprise", "gate.feature.audit_logs"),
        ("configure_sso", "enterprise", "gate.feature.sso"),
        ("configure_scim", "enterprise", "gate.feature.scim"),
    ];
    for (action, plan, policy) in gates {
        for user in ["alice", "oscar", "adam"] {
            let a = expect(
                &app,
                req(user, action, ("Org", "acme"), json!({})),
                "payment_required",
                action,
            );
            assert_eq!(a["reasons"], json!([policy]), "{a}");
            let p = &a["payment"];
            assert_eq!(p["code"], "FEATURE_NOT_IN_PLAN", "{a}");
            assert_eq!(p["error"], "payment_required");
            assert_eq!(p["required_plan"], plan, "{a}");
            assert_eq!(
                p["upgrade_url"],
                format!("https://billing.example.com/upgrade?org=acme&plan={plan}")
            );
            assert!(
                p.get("current_usage").is_none(),
                "no usage for a feature gate: {a}"
            );
        }
        for user in ["mia", "vic"] {
            expect(
                &app,
                req(user, action, ("Org", "acme"), json!({})),
                "deny",
                "403 beats 402",
            );
        }
    }
    // Ungated admin actions stay allowed on free.
    for action in [
        "update_org_settings",
        "start_checkout",
        "cancel_subscription",
        "change_member_workspace_access",
    ] {
        expect(
            &app,
            req("adam", action, ("Org", "acme"), json!({})),
            "allow",
            action,
        );
    }
}

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

#[test]
fn quota_gates_on_workspaces_projects_and_agents() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "free");
    // quota:workspace (Tollgate counts workspaces itself): free allows 1.
    expect(
        &app,
        req("adam", "create_workspace", ("Org", "acme"), json!({})),
        "allow",
        "first workspace",
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1",
        json!({"name": "One"}),
    );
    let a = expect(
        &app,
        req("adam", "create_workspace", ("Org", "acme"), json!({})),
        "payment_required",
        "2nd",
    );
    expect_limit(&a, "quota:workspace", 1, 1, "starter");
    expect(
        &app,
        req("mia", "create_workspace", ("Org", "acme"), json!({})),
        "deny",
        "member",
    );

    // quota:project is the app's counter: free allows 3.
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 2}),
    );
    expect(
        &app,
        req("mia", "create_project", ("Org", "acme"), json!({})),
        "allow",
        "3rd project",
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 3}),
    );
    let a = expect(
        &app,
        req("mia", "create_project", ("Org", "acme"), json!({})),
        "payment_required",
        "4th",
    );
    expect_limit(&a, "quota:project", 3, 3, "starter");
    expect(
        &app,
        req("vic", "create_project", ("Org", "acme"), json!({})),
        "deny",
        "viewer: 403 beats 402",
    );
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
        "101st",
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
        "agent",
    );
    expect_limit(&a, "quota:agent", 2, 2, "starter");
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:agent",
        json!({"current": 1}),
    );
    expect(
        &app,
        req("adam", "create_agent", ("Workspace", "ws1"), json!({})),
        "allow",
        "2nd agent",
    );
}

#[test]
fn seat_gates_on_invitations_name_the_bucket_first() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:admin 1/1, seat:total 1/3
    let a = expect(
        &app,
        req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "admin"}),
        ),
        "payment_required",
        "admin seat",
    );
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    expect(
        &app,
        req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "member"}),
        ),
        "allow",
        "member seat",
    );
    // Bulk: the first tier whose seat:total fits 1 + count.
    let bulk = |n: i64| {
        req(
            "alice",
            "bulk_invite_users",
            ("Org", "acme"),
            json!({"role": "member", "count": n}),
        )
    };
    expect(&app, bulk(2), "allow", "fits free");
    expect_limit(
        &expect(&app, bulk(8), "payment_required", "8"),
        "seat:total",
        1,
        3,
        "starter",
    );
    expect_limit(
        &expect(&app, bulk(20), "payment_required", "20"),
        "seat:total",
        1,
        3,
        "professional",
    );
    expect_limit(
        &expect(&app, bulk(100), "payment_required", "100"),
        "seat:total",
        1,
        3,
        "enterprise",
    );
    expect(&app, bulk(0), "deny", "a count must be positive");
    // Fill seat:total (3/3): an admin invite is blocked by both; the role's bucket comes first.
    app.member("acme", "mia", "member");
    app.member("acme", "vic", "viewer");
    let a = expect(
        &app,
        req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "admin"}),
        ),
        "payment_required",
        "both",
    );
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    let mut reasons: Vec<String> = serde_json::from_value(a["reasons"].clone()).unwrap();
    reasons.sort();
    assert_eq!(
        reasons,
        ["gate.seat.admin.invite", "gate.seat.total.invite"]
    );
    let a = expect(
        &app,
        req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "viewer"}),
        ),
        "payment_required",
        "total",
    );
    expect_limit(&a, "seat:total", 3, 3, "starter");
    // Members cannot invite at all: 403, not 402.
    expect(
        &app,
        req(
            "mia",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "viewer"}),
        ),
        "deny",
        "member",
    );
}

#[test]
fn member_rules_rank_and_primary_owner() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "enterprise");
    app.member("acme", "max", "member");
    let role = |actor: &str, target: &str, new_role: &str| {
        req(
            actor,
            "update_member_role",
            ("User", target),
            json!({"org": {"type": "Org", "id": "acme"}, "new_role": new_role}),
        )
    };
    let remove = |actor: &str, target: &str| {
        req(
            actor,
            "remove_member",
            ("User", target),
            json!({"org": {"type": "Org", "id": "acme"}}),
        )
    };
    let cases = [
        (
            role("adam", "mia", "viewer"),
            "allow",
            "admin outranks member and viewer",
        ),
        (
            role("adam", "mia", "admin"),
            "deny",
            "admin does not outrank the new role admin",
        ),
        (
            role("adam", "oscar", "member"),
            "deny",
            "admin does not outrank an owner",
        ),
        (
            role("adam", "adam", "member"),
            "deny",
            "nobody outranks themselves",
        ),
        (
            role("oscar", "adam", "owner"),
            "allow",
            "any owner may make another owner",
        ),
        (
            role("oscar", "adam", "member"),
            "allow",
            "owner outranks admin and member",
        ),
        (
            role("oscar", "alice", "admin"),
            "deny",
            "nobody changes the primary owner's role",
        ),
        (
            role("alice", "alice", "admin"),
            "deny",
            "not even the primary owner",
        ),
        (
            role("alice", "oscar", "admin"),
            "allow",
            "the primary owner outranks other owners",
        ),
        (
            role("mia", "vic", "viewer"),
            "deny",
            "members cannot manage members",
        ),
        (
            role("vic", "max", "viewer"),
            "deny",
            "viewers cannot manage members",
        ),
        (role("adam", "mia", "no_such_role"), "deny", "unknown role"),
        (
            role("adam", "stranger", "viewer"),
            "deny",
            "target is not a member",
        ),
        (remove("adam", "mia"), "allow", "admin removes a member"),
        (remove("adam", "vic"), "allow", "admin removes a viewer"),
        (
            remove("adam", "oscar"),
            "deny",
            "admin cannot remove an owner",
        ),
        (remove("oscar", "adam"), "allow", "owner removes an admin"),
        (remove("oscar", "oscar"), "deny", "equal rank"),
        (
            remove("alice", "oscar"),
            "allow",
            "primary owner removes an owner",
        ),
        (
            remove("oscar", "alice"),
            "deny",
            "the primary owner can never be removed",
        ),
        (remove("alice", "alice"), "deny", "not even by themselves"),
        (remove("mia", "vic"), "deny", "members cannot remove"),
        (remove("vic", "max"), "deny", "viewers cannot remove"),
    ];
    for (r, want, why) in cases {
        expect(&app, r, want, why);
    }
    // Invite with a role: only to a role at or below the actor's own level.
    let invite =
        |actor: &str, role: &str| req(actor, "invite_user", ("Org", "acme"), json!({"role": role}));
    expect(
        &app,
        invite("adam", "owner"),
        "deny",
        "admin cannot invite an owner",
    );
    expect(
        &app,
        invite("adam", "admin"),
        "allow",
        "admin may invite an admin",
    );
    expect(
        &app,
        invite("adam", "viewer"),
        "allow",
        "admin may invite a viewer",
    );
    expect(
        &app,
        invite("oscar", "owner"),
        "allow",
        "owner may invite an owner",
    );
    expect(&app, invite("adam", "no_such_role"), "deny", "unknown role");
    // A member of another org cannot act on this org's members.
    app.org("globex", "enterprise", "gina");
    let other = req(
        "gina",
        "remove_member",
        ("User", "mia"),
        json!({"org": {"type": "Org", "id": "acme"}}),
    );
    expect(&app, other, "deny", "cross-org");
}

#[test]
fn role_change_into_a_full_bucket_is_402() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    app.member("acme", "mia", "member");
    let r = req(
        "alice",
        "update_member_role",
        ("User", "mia"),
        json!({"org": {"type": "Org", "id": "acme"}, "new_role": "admin"}),
    );
    let a = expect(&app, r, "payment_required", "seat:admin is full on free");
    expect_limit(&a, "seat:admin", 1, 1, "starter");
    // Moving within a bucket needs no new seat.
    let r = req(
        "alice",
        "update_member_role",
        ("User", "mia"),
        json!({"org": {"type": "Org", "id": "acme"}, "new_role": "viewer"}),
    );
    expect(&app, r, "allow", "member to viewer");
}

/// Workspace table: org owner/admin always; workspace members by flag; others no.
#[test]
fn workspace_actions_by_membership_and_flags() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "enterprise");
    for u in ["wa", "wn", "wo"] {
        app.member("acme", u, "member");
    }
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    let all_flags = json!({"can_create_agents": true, "can_modify_policies": true, "can_invite_users": true, "can_view_analytics": true});
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/wa",
        json!({"role": "member", "permissions": all_flags}),
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/wn",
        json!({"role": "member"}),
    );
    let actions = [
        "view_workspace",
        "create_agent",
        "modify_policies",
        "invite_to_workspace",
        "view_analytics",
    ];
    for action in actions {
        for user in ["alice", "oscar", "adam"] {
            expect(
                &app,
                req(user, action, ("Workspace", "ws1"), json!({})),
                "allow",
                &format!("org admin+ {action}"),
            );
        }
        expect(
            &app,
            req("wa", action, ("Workspace", "ws1"), json!({})),
            "allow",
            &format!("flagged member {action}"),
        );
        let want = if action == "view_workspace" {
            "allow"
        } else {
            "deny"
        };
        expect(
            &app,
            req("wn", action, ("Workspace", "ws1"), json!({})),
            want,
            &format!("unflagged member {action}"),
        );
        for user in ["wo", "mia", "vic"] {
            expect(
                &app,
                req(user, action, ("Workspace", "ws1"), json!({})),
                "deny",
                &format!("not in workspace {action}"),
            );
        }
    }
    // Each flag grants exactly its own action.
    let flags = [
        ("can_create_agents", "create_agent"),
        ("can_modify_policies", "modify_policies"),
        ("can_invite_users", "invite_to_workspace"),
        ("can_view_analytics", "view_analytics"),
    ];
    for (flag, granted) in flags {
        app.ok(
            "PUT",
            "/v1/orgs/acme/workspaces/ws1/members/wn",
            json!({"role": "member", "permissions": {flag: true}}),
        );
        for (_, action) in flags {
            let want = if action == granted { "allow" } else { "deny" };
            expect(
                &app,
                req("wn", action, ("Workspace", "ws1"), json!({})),
                want,
                &format!("{flag} -> {action}"),
            );
        }
    }
}

#[test]
fn workspace_analytics_gate_and_resource_roles() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "starter");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    // vic is an org viewer but admin of ws1, with no flags.
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/vic",
        json!({"role": "admin"}),
    );
    let a = expect(
        &app,
        req("adam", "view_analytics", ("Workspace", "ws1"), json!({})),
        "payment_required",
        "analytics",
    );
    assert_eq!(a["payment"]["code"], "FEATURE_NOT_IN_PLAN");
    assert_eq!(a["payment"]["required_plan"], "professional");
    // Without resource_roles the workspace role is ignored: 403.
    for action in ["create_agent", "modify_policies", "invite_to_workspace"] {
        expect(
            &app,
            req("vic", action, ("Workspace", "ws1"), json!({})),
            "deny",
            "starter ignores ws role",
        );
    }
    expect(
        &app,
        req("vic", "view_workspace", ("Workspace", "ws1"), json!({})),
        "allow",
        "ws member views",
    );
    // With professional (resource_roles), the workspace admin acts as an org admin there.
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "professional"}));
    for action in [
        "create_agent",
        "modify_policies",
        "invite_to_workspace",
        "view_analytics",
    ] {
        expect(
            &app,
            req("vic", action, ("Workspace", "ws1"), json!({})),
            "allow",
            "resource role raises",
        );
    }
    // ... only inside that workspace: not on the org, not on another workspace.
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws2", json!({}));
    expect(
        &app,
        req("vic", "create_agent", ("Workspace", "ws2"), json!({})),
        "deny",
        "other workspace",
    );
    expect(
        &app,
        req("vic", "create_workspace", ("Org", "acme"), json!({})),
        "deny",
        "org action",
    );
    // A workspace role never lowers: an org admin who is a ws viewer keeps admin rights.
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/adam",
        json!({"role": "viewer"}),
    );
    expect(
        &app,
        req("adam", "create_agent", ("Workspace", "ws1"), json!({})),
        "allow",
        "never lowers",
    );
}

fn project(id: &str, parent: (&str, &str)) -> Value {
    json!({"uid": {"type": "Project", "id": id}, "attrs": {}, "parents": [{"type": parent.0, "id": parent.1}]})
}

fn app_req(user: &str, action: &str, id: &str, parent: (&str, &str)) -> Value {
    let mut r = req(user, action, ("Project", id), json!({}));
    r["entities"] = json!([project(id, parent)]);
    r
}

#[test]
fn app_resources_read_update_delete() {
    let app = TestApp::spawn();
    org_with_roles(&app, "acme", "starter");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    app.member("acme", "wm", "member");
    app.member("acme", "wv", "viewer");
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/wm",
        json!({"role": "member"}),
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/wv",
        json!({"role": "admin"}),
    );
    // Resource directly under the org: read viewer+, update member+, delete admin+.
    let table = [
        ("read", [true, true, true, true, true]),
        ("update", [true, true, true, true, false]),
        ("delete", [true, true, true, false, false]),
    ];
    for (action, allowed) in table {
        for (i, (user, role)) in ACTORS.iter().enumerate() {
            let want = if allowed[i] { "allow" } else { "deny" };
            expect(
                &app,
                app_req(user, action, "p1", ("Org", "acme")),
                want,
                &format!("{role} {action} org project"),
            );
        }
    }
    // Under a workspace: only its members and org owners/admins; workspace role ignored on starter.
    let ws = ("Workspace", "ws1");
    let cases = [
        ("alice", "delete", "allow"),
        ("adam", "delete", "allow"),
        ("adam", "update", "allow"),
        ("mia", "read", "deny"),
        ("vic", "read", "deny"),
        ("wm", "read", "allow"),
        ("wm", "update", "allow"),
        ("wm", "delete", "deny"),
        ("wv", "read", "allow"),
        ("wv", "update", "deny"),
        ("wv", "delete", "deny"),
    ];
    for (user, action, want) in cases {
        expect(
            &app,
            app_req(user, action, "p2", ws),
            want,
            &format!("{user} {action} ws project (starter)"),
        );
    }
    // With resource_roles the workspace admin role raises the org viewer inside ws1.
    app.ok("PUT", "/v1/orgs/acme", json!({"plan": "professional"}));
    for action in ["read", "update", "delete"] {
        expect(
            &app,
            app_req("wv", action, "p2", ws),
            "allow",
            &format!("ws admin {action} (professional)"),
        );
    }
    expect(
        &app,
        app_req("wv", "update", "p1", ("Org", "acme")),
        "deny",
        "not outside the workspace",
    );
    // A project of another org is never reachable.
    app.org("globex", "enterprise", "gina");
    expect(
        &app,
        app_req("gina", "read", "p1", ("Org", "acme")),
        "deny",
        "cross-org",
    );
}

#[test]
fn plan_catalog_limits_and_cumulative_features() {
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
    // Which feature-gated actions each tier allows (cumulative).
    let features = [
        ("view_analytics", "Workspace", &["free", "starter"][..]),
        (
            "view_audit_logs",
            "Org",
            &["free", "starter", "professional"][..],
        ),
        (
            "update_retention_policy",
            "Org",
            &["free", "starter", "professional"][..],
        ),
        (
            "manage_roles",
            "Org",
            &["free", "starter", "professional"][..],
        ),
        (
            "configure_sso",
            "Org",
            &["free", "starter", "professional"][..],
        ),
        (
            "configure_scim",
            "Org",
            &["free", "starter", "professional"][..],
        ),
    ];
    for (tier, limits) in &tiers {
        let org = format!("org-{tier}");
        app.org(&org, tier, "alice");
        app.ok(
            "PUT",
            &format!("/v1/orgs/{org}/workspaces/ws-{tier}"),
            json!({}),
        );
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
        for (action, rtype, blocked_on) in &features {
            let id = if *rtype == "Org" {
                org.clone()
            } else {
                format!("ws-{tier}")
            };
            let want = if blocked_on.contains(tier) {
                "payment_required"
            } else {
                "allow"
            };
            expect(
                &app,
                req("alice", action, (rtype, &id), json!({})),
                want,
                &format!("{tier} {action}"),
            );
        }
    }
}

#[test]
fn subscription_status_decides_the_effective_plan() {
    let app = TestApp::spawn();
    app.org("acme", "professional", "alice");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    let analytics = || req("alice", "view_analytics", ("Workspace", "ws1"), json!({}));
    let effective =
        |app: &TestApp| app.admin("GET", "/v1/orgs/acme", None).body["effective_plan"].clone();
    for status in ["active", "trialing"] {
        app.ok(
            "PUT",
            "/v1/orgs/acme",
            json!({"subscription_status": status}),
        );
        expect(&app, analytics(), "allow", status);
        assert_eq!(effective(&app), "professional");
    }
    // past_due keeps the plan for the grace period (7 days by default), then free.
    app.ok("PUT", "/v1/orgs/acme", json!({"subscription_status": "past_due", "past_due_since": crate::helpers::in_secs(-6 * 86_400)}));
    expect(&app, analytics(), "allow", "past_due within grace");
    app.ok("PUT", "/v1/orgs/acme", json!({"subscription_status": "past_due", "past_due_since": crate::helpers::in_secs(-8 * 86_400)}));
    let a = expect(
        &app,
        analytics(),
        "payment_required",
        "past_due after grace",
    );
    assert_eq!(a["payment"]["required_plan"], "professional");
    assert_eq!(effective(&app), "free");
    for status in ["canceled", "unpaid", "incomplete_expired"] {
        app.ok(
            "PUT",
            "/v1/orgs/acme",
            json!({"subscription_status": status}),
        );
        let a = expect(&app, analytics(), "payment_required", status);
        // The lowest tier that would allow it with an active subscription.
        assert_eq!(
            a["payment"]["required_plan"], "professional",
            "{status}: {a}"
        );
        assert_eq!(effective(&app), "free");
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

/// `/v1/permissions` answers, for each action, what `/v1/authorize` answers.
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

/// default-model.md, "When a feature lapses": a member whose role is a custom one keeps
/// viewer's permissions, and every other permission of that role answers 402
/// `FEATURE_NOT_IN_PLAN` with `required_plan` the lowest tier that has `custom_roles`, until
/// the org upgrades again — with no rewrite of the stored roles. `/v1/permissions` agrees.
#[test]
fn a_lapsed_custom_role_keeps_viewer_rights_and_402s_the_rest() {
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
    let mut read = delete.clone();
    read["action"]["id"] = json!("read");
    let agent = req("leo", "create_agent", ("Workspace", "ws1"), json!({}));
    let demote = req(
        "leo",
        "update_member_role",
        ("User", "mia"),
        json!({"org": {"type": "Org", "id": "acme"}, "new_role": "viewer"}),
    );
    // Paid for: the roles grant what they list and what their level gives.
    for a in ["start_checkout", "cancel_subscription", "view_org"] {
        expect(&app, bea(a), "allow", "enterprise");
    }
    expect(&app, bea("manage_roles"), "deny", "not in the role");
    for r in [&delete, &read, &agent] {
        expect(&app, r.clone(), "allow", "level 15 acts above admins");
    }
    expect(&app, demote.clone(), "deny", "lead lacks members.manage");

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
        expect(&app, bea("view_org"), "allow", "viewer's permission stays");
        expect(
            &app,
            bea("view_subscription_usage"),
            "allow",
            "viewer's permission stays",
        );
        expect(
            &app,
            bea("manage_roles"),
            "deny",
            "never the role's: 403 still",
        );
        let invite = req(
            "bea",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "viewer"}),
        );
        expect(&app, invite, "deny", "never the role's");
        expect(&app, read.clone(), "allow", "viewers read");
        for r in [&delete, &agent] {
            let d = expect(&app, r.clone(), "payment_required", &why);
            assert_eq!(d["payment"]["required_plan"], "enterprise", "{d}");
        }
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
    // Canceled on an enterprise plan lapses it as well (effective plan: free).
    app.ok(
        "PUT",
        "/v1/orgs/acme",
        json!({"subscription_status": "canceled"}),
    );
    let d = expect(&app, bea("start_checkout"), "payment_required", "canceled");
    assert_eq!(d["payment"]["required_plan"], "enterprise", "{d}");
}

/// A lapse only ever takes powers away: a custom role weaker than viewer keeps its own
/// (lesser) standing, and a member acted on keeps their custom role's rank, so nobody gains a
/// decision when the org downgrades.
#[test]
fn a_lapse_never_adds_a_power() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.ok(
        "PUT",
        "/v1/orgs/acme/roles/ghost",
        json!({"permissions": [], "level": 50}),
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/roles/boss",
        json!({"permissions": ["org.read"], "level": 15}),
    );
    app.member("acme", "gh", "ghost");
    app.member("acme", "cb", "boss");
    app.member("acme", "adm", "admin");
    let mut read = req("gh", "read", ("Project", "p"), json!({}));
    read["entities"] = json!([{"uid": {"type": "Project", "id": "p"}, "attrs": {},
                              "parents": [{"type": "Org", "id": "acme"}]}]);
    let ctx = json!({"org": {"type": "Org", "id": "acme"}});
    let mut demote_ctx = ctx.clone();
    demote_ctx["new_role"] = json!("viewer");
    let questions = [
        read,
        req("gh", "view_org", ("Org", "acme"), json!({})),
        req("adm", "remove_member", ("User", "cb"), ctx),
        req("adm", "update_member_role", ("User", "cb"), demote_ctx),
    ];
    for plan in ["enterprise", "professional", "free"] {
        app.ok("PUT", "/v1/orgs/acme", json!({"plan": plan}));
        for q in &questions {
            let a = app.authorize(q.clone());
            assert_ne!(a["decision"], "allow", "{plan}: {q} -> {a}");
        }
    }
}
