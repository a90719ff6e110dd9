//! The data API's shapes and rules, the generated admin token, and durability across a kill.

use serde_json::json;

use crate::helpers::{in_secs, req, TestApp, ADMIN};

#[test]
fn org_lifecycle_and_validation() {
    let app = TestApp::spawn();
    let a = app.admin("GET", "/v1/orgs/acme", None);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{}",
        a.raw
    );
    let a = app.admin("PUT", "/v1/orgs/acme", Some(json!({"plan": "starter"})));
    assert_eq!(a.status, 422, "a new org needs a primary owner: {}", a.raw);
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme",
        Some(json!({"plan": "gold", "primary_owner": "alice"})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("UNKNOWN_PLAN"))
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme",
        Some(json!({"subscription_status": "happy", "primary_owner": "alice"})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("INVALID_STATUS"))
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme",
        Some(json!({"plan": "starter", "subscription_status": "active", "primary_owner": "alice"})),
    );
    assert_eq!(a.status, 201, "{}", a.raw);
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["id"], "acme");
    assert_eq!(org["plan"], "starter");
    assert_eq!(org["effective_plan"], "starter");
    assert_eq!(org["subscription_status"], "active");
    assert_eq!(org["primary_owner"], "alice");
    assert_eq!(org["members"], json!([{"user": "alice", "role": "owner"}]));
    assert_eq!(
        org["usage"]["seat:admin"],
        json!({"current": 1, "limit": 2})
    );
    // The primary owner keeps role owner and cannot be removed through the data API.
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/alice",
        Some(json!({"role": "admin"})),
    );
    assert_eq!(a.status, 409, "{}", a.raw);
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/members/alice", None)
            .status,
        409
    );
    // Changing the primary owner makes the new one an owner too.
    app.member("acme", "bob", "member");
    app.ok("PUT", "/v1/orgs/acme", json!({"primary_owner": "bob"}));
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(
        org["members"]
            .as_array()
            .unwrap()
            .contains(&json!({"user": "bob", "role": "owner"})),
        "{org}"
    );
    let d = app.authorize(req("bob", "delete_org", ("Org", "acme"), json!({})));
    assert_eq!(d["decision"], "allow");
    let d = app.authorize(req("alice", "delete_org", ("Org", "acme"), json!({})));
    assert_eq!(d["decision"], "deny");
}

#[test]
fn members_invitations_workspaces_roles_usage() {
    let app = TestApp::spawn();
    app.org("acme", "professional", "alice");
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "wizard"})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("UNKNOWN_ROLE"))
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/nope/members/bob",
        Some(json!({"role": "member"})),
    );
    assert_eq!(a.status, 404);
    app.ok(
        "PUT",
        "/v1/orgs/acme/members/bob",
        json!({"role": "member"}),
    );
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/members/bob", None)
            .status,
        204
    );
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/members/bob", None)
            .status,
        404
    );
    let d = app.authorize(req("bob", "view_org", ("Org", "acme"), json!({})));
    assert_eq!(
        d["decision"], "deny",
        "a removed member loses access at once"
    );

    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/invitations/i1",
        Some(json!({"email": "nope", "expires_at": in_secs(60)})),
    );
    assert_eq!(a.status, 422);
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/invitations/i1",
        Some(json!({"email": "a@b.c", "expires_at": "tomorrow"})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("INVALID_TIME"))
    );
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/invitations/i1", None)
            .status,
        404
    );

    // Workspace members must be org members; the four permissions round-trip into decisions.
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1",
        json!({"name": "One"}),
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/zed",
        Some(json!({"role": "member"})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("NOT_A_MEMBER"))
    );
    app.member("acme", "carl", "viewer");
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/carl",
        Some(json!({"role": "boss"})),
    );
    assert_eq!(a.status, 422);
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/carl",
        json!({"permissions": {"can_view_analytics": true}}),
    );
    let d = app.authorize(req(
        "carl",
        "view_analytics",
        ("Workspace", "ws1"),
        json!({}),
    ));
    assert_eq!(d["decision"], "allow");
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/workspaces/ws1/members/carl", None)
            .status,
        204
    );
    let d = app.authorize(req(
        "carl",
        "view_analytics",
        ("Workspace", "ws1"),
        json!({}),
    ));
    assert_eq!(d["decision"], "deny");
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["workspaces"], json!([{"id": "ws1", "name": "One"}]));

    // Custom roles are a plan feature (enterprise).
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/roles/auditor",
        Some(json!({"permissions": ["audit.read"], "level": 35})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(a.body["code"], "FEATURE_NOT_IN_PLAN");
    assert_eq!(a.body["required_plan"], "enterprise");

    // Usage: app counters settable, Tollgate's own counters not.
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/usage/seat:total",
        Some(json!({"current": 0})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("TOLLGATE_COUNTED"))
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/usage/Projects",
        Some(json!({"current": 1})),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("INVALID_RESOURCE_TYPE"))
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        Some(json!({"current": -1})),
    );
    assert_eq!(a.status, 422);
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 7}),
    );
    let u = app.admin("GET", "/v1/orgs/acme/usage", None).body;
    assert_eq!(u["quota:project"], json!({"current": 7, "limit": 100}));
    for rt in [
        "seat:admin",
        "seat:member",
        "seat:total",
        "quota:workspace",
        "quota:agent",
        "quota:project",
    ] {
        assert!(u.get(rt).is_some(), "usage lists {rt}: {u}");
    }
}

#[test]
fn custom_roles_hold_exactly_their_permissions() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.ok(
        "PUT",
        "/v1/orgs/acme/roles/auditor",
        json!({"permissions": ["org.read", "audit.read"], "level": 35}),
    );
    app.member("acme", "aud", "auditor");
    let ok = app.authorize(req("aud", "view_audit_logs", ("Org", "acme"), json!({})));
    assert_eq!(ok["decision"], "allow", "{ok}");
    let no = app.authorize(req("aud", "create_project", ("Org", "acme"), json!({})));
    assert_eq!(no["decision"], "deny", "{no}");
    // Level 35 falls in the member bucket (nearest built-in at or below it: member, 30... 40).
    let u = app.admin("GET", "/v1/orgs/acme/usage", None).body;
    assert_eq!(u["seat:member"]["current"], 1, "{u}");
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/roles/admin",
        Some(json!({"permissions": [], "level": 5})),
    );
    assert_eq!(
        a.status, 409,
        "built-in roles cannot be redefined: {}",
        a.raw
    );
}

#[test]
fn generated_admin_token_is_kept_beside_the_db_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let mut app = TestApp::process_with(&[], &[("TOLLGATE_ADMIN_TOKEN", "")]);
    let token_path = app.dir.path().join("tollgate.admin-token");
    let token = std::fs::read_to_string(&token_path).expect("token file");
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let printed = app.stdout.join("\n");
    assert!(printed.contains(token_path.to_str().unwrap()), "{printed}");
    assert!(
        !printed.contains(token.trim()),
        "the token itself is never printed"
    );
    assert_eq!(app.call("GET", "/v1/orgs/x", None, None).status, 401);
    assert_eq!(
        app.call("GET", "/v1/orgs/x", None, Some(token.trim()))
            .status,
        404
    );
    app.kill_and_restart();
    let again = std::fs::read_to_string(&token_path).unwrap();
    assert_eq!(token, again, "the same token survives a restart");
}

#[test]
fn acknowledged_writes_survive_a_kill() {
    let mut app = TestApp::process();
    app.org("acme", "starter", "alice");
    app.member("acme", "adam", "admin");
    app.member("acme", "mia", "member");
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    app.ok(
        "PUT",
        "/v1/orgs/acme/workspaces/ws1/members/mia",
        json!({"permissions": {"can_create_agents": true}}),
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/invitations/i1",
        json!({"email": "x@y.z", "role": "viewer", "expires_at": in_secs(3600)}),
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 10}),
    );
    let questions = [
        req(
            "adam",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "member"}),
        ),
        req("mia", "create_agent", ("Workspace", "ws1"), json!({})),
        req("mia", "create_project", ("Org", "acme"), json!({})),
        req("mia", "view_audit_logs", ("Org", "acme"), json!({})),
        req("adam", "view_audit_logs", ("Org", "acme"), json!({})),
        req("alice", "create_workspace", ("Org", "acme"), json!({})),
    ];
    let before: Vec<_> = questions.iter().map(|q| app.authorize(q.clone())).collect();
    let org_before = app.admin("GET", "/v1/orgs/acme", None).body;
    app.kill_and_restart();
    let after: Vec<_> = questions.iter().map(|q| app.authorize(q.clone())).collect();
    assert_eq!(before, after);
    assert_eq!(org_before, app.admin("GET", "/v1/orgs/acme", None).body);
    let decisions: Vec<_> = after
        .iter()
        .map(|a| a["decision"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        decisions,
        [
            "allow",
            "allow",
            "payment_required",
            "deny",
            "payment_required",
            "allow"
        ]
    );
}

#[test]
fn operations_endpoints() {
    let app = TestApp::spawn();
    assert_eq!(app.call("GET", "/healthz", None, None).status, 200);
    let r = app.call("GET", "/readyz", None, None);
    assert_eq!(r.status, 200, "{}", r.raw);
    let p = app.admin("GET", "/v1/policies", None);
    assert_eq!(p.status, 200);
    assert_eq!(p.body["version"].as_str().unwrap().len(), 64);
    let ids = p.body["policy_ids"].as_array().unwrap();
    assert!(
        ids.contains(&json!("org.read")) && ids.contains(&json!("gate.feature.sso")),
        "{}",
        p.raw
    );
    assert_eq!(app.call("GET", "/v1/policies", None, None).status, 401);
    let o = app.call("GET", "/openapi.json", None, None);
    assert_eq!(o.status, 200);
    for path in [
        "/v1/authorize",
        "/v1/authorize/batch",
        "/v1/permissions",
        "/v1/entities",
        "/v1/orgs/{org}",
        "/v1/admin/reload",
    ] {
        assert!(
            o.body["paths"][path].is_object(),
            "the OpenAPI document lists {path}"
        );
    }
    // utoipa 5 writes OpenAPI 3.1 only (its schemas are JSON Schema 2020-12: `null` in a type
    // list instead of 3.0's `nullable`).
    assert_eq!(o.body["openapi"], "3.1.0");
}

#[test]
fn a_new_primary_owner_takes_an_owner_seat() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:admin 1/1
    app.member("acme", "mia", "member");
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme",
        Some(json!({"primary_owner": "mia"})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(a.body["current_usage"]["resource_type"], "seat:admin");
    assert_eq!(
        app.admin("GET", "/v1/orgs/acme", None).body["primary_owner"],
        "alice",
        "nothing changed"
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme",
        Some(json!({"primary_owner": "mia", "override_limits": true})),
    );
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["primary_owner"], "mia");
}

#[test]
fn custom_roles_rank_below_owners() {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    for level in [1, 10] {
        let a = app.admin(
            "PUT",
            "/v1/orgs/acme/roles/boss",
            Some(json!({"permissions": [], "level": level})),
        );
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (422, Some("INVALID_ROLE")),
            "{}",
            a.raw
        );
    }
    assert_eq!(
        app.admin(
            "PUT",
            "/v1/orgs/acme/roles/boss",
            Some(json!({"permissions": [], "level": 11}))
        )
        .status,
        200
    );
}

#[test]
fn an_admin_token_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("tollgate.admin-token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("tollgate.db"))
        .env_remove("TOLLGATE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("readable by others"), "{err}");
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    let a = app.call_raw("GET", "/v1/orgs/acme", None, "application/json", None);
    assert_eq!(a.status, 401);
    let url = format!("{}/v1/orgs/acme", app.base);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .get(&url)
        .header("authorization", format!("bearer {}", crate::helpers::ADMIN))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// `PUT /v1/orgs/{org}` with no body is a mistake (400), a field set to `null` is refused
/// (422) rather than read as "keep it", and `{}` stays a valid update that changes nothing.
#[test]
fn an_org_write_needs_a_body_and_refuses_null_fields() {
    let app = TestApp::spawn();
    app.org("acme", "starter", "alice");
    let before = app.admin("GET", "/v1/orgs/acme", None).body;
    let none = app.call_raw(
        "PUT",
        "/v1/orgs/acme",
        None,
        "application/json",
        Some(ADMIN),
    );
    assert_eq!(none.status, 400, "{}", none.raw);
    assert_eq!(none.body["code"], "MISSING_BODY", "{}", none.raw);
    for body in [
        json!({"plan": null}),
        json!({"plan": "free", "subscription_status": null}),
        json!({"primary_owner": null}),
    ] {
        let a = app.admin("PUT", "/v1/orgs/acme", Some(body.clone()));
        assert_eq!(a.status, 422, "{body}: {}", a.raw);
        assert_eq!(a.body["code"], "NULL_FIELD", "{body}: {}", a.raw);
    }
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "viewer", "override_limits": null})),
    );
    assert_eq!(a.body["code"], "NULL_FIELD", "{}", a.raw);
    assert_eq!(
        app.admin("GET", "/v1/orgs/acme", None).body,
        before,
        "nothing changed"
    );
    let a = app.admin("PUT", "/v1/orgs/acme", Some(json!({})));
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["plan"], "starter", "{}", a.raw);
    // A new org with no body is refused the same way, and not created.
    let a = app.call_raw(
        "PUT",
        "/v1/orgs/newco",
        None,
        "application/json",
        Some(ADMIN),
    );
    assert_eq!(a.status, 400, "{}", a.raw);
    assert_eq!(app.admin("GET", "/v1/orgs/newco", None).status, 404);
}

/// A store whose schema version this binary does not know (written by a newer Tollgate, or
/// not a Tollgate store) is refused at start, naming the version, instead of serving 500s.
#[test]
fn a_store_of_an_unknown_schema_version_is_refused_at_start() {
    for version in [-1, 99] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tollgate.db");
        rusqlite::Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", version)
            .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{version}: started: {err}");
        assert!(
            err.contains(&format!("schema version is {version}")),
            "{version}: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening"),
            "{version}"
        );
    }
}

/// The database and its `-wal` and `-shm` files hold every org's data: created readable by
/// their owner only, like the admin token file.
#[test]
fn the_database_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = app.db_path().into_os_string();
        p.push(suffix);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p:?}: {mode:o}");
    }
}
