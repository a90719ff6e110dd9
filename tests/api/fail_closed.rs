//! Fail closed: bad input, unknown things, evaluation errors and a broken store are never an
//! allow, and bad input gets a clear `{code, message}` and changes nothing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{req, Answer, TestApp, ADMIN};

#[track_caller]
fn error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.raw);
    assert_eq!(a.body["code"], code, "{}", a.raw);
    assert!(
        a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.raw
    );
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    assert_ne!(a.body["decision"], "allow");
}

/// A decision and a write both answer 503 `STORE_UNAVAILABLE`, and `/readyz` is not ready.
#[track_caller]
fn store_fails_closed(app: &TestApp, r: &Value) {
    error(
        &app.call("POST", "/v1/authorize", Some(r), None),
        503,
        "STORE_UNAVAILABLE",
    );
    let w = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "member"})),
    );
    error(&w, 503, "STORE_UNAVAILABLE");
    assert_eq!(app.call("GET", "/readyz", None, None).status, 503);
}

fn fixture() -> TestApp {
    let app = TestApp::spawn();
    app.org("acme", "enterprise", "alice");
    app.member("acme", "mia", "member");
    app
}

#[test]
fn unknown_principal_or_resource_is_a_deny_with_a_warning() {
    let app = fixture();
    let a = app.authorize(req("nobody", "view_org", ("Org", "acme"), json!({})));
    assert_eq!(a["decision"], "deny");
    assert_eq!(a["status"], 403);
    let w = a["warnings"].to_string();
    assert!(w.contains("nobody"), "{a}");
    let a = app.authorize(req("alice", "view_org", ("Org", "no-such-org"), json!({})));
    assert_eq!(a["decision"], "deny");
    assert!(a["warnings"].to_string().contains("no-such-org"), "{a}");
}

#[test]
fn unknown_action_and_invalid_context_are_422() {
    let app = fixture();
    let post = |body: Value| app.call("POST", "/v1/authorize", Some(&body), None);
    error(
        &post(req("alice", "fly_to_moon", ("Org", "acme"), json!({}))),
        422,
        "UNKNOWN_ACTION",
    );
    error(
        &post(req(
            "alice",
            "invite_user",
            ("Org", "acme"),
            json!({"role": 5}),
        )),
        422,
        "INVALID_CONTEXT",
    );
    error(
        &post(req("alice", "invite_user", ("Org", "acme"), json!({}))),
        422,
        "INVALID_CONTEXT",
    );
    error(
        &post(req(
            "alice",
            "view_org",
            ("Org", "acme"),
            json!({"sneaky": true}),
        )),
        422,
        "INVALID_CONTEXT",
    );
    // The actor's role comes from the store: a context cannot claim one.
    error(
        &post(req(
            "mia",
            "view_audit_logs",
            ("Org", "acme"),
            json!({"role": "owner"}),
        )),
        422,
        "INVALID_CONTEXT",
    );
    // Wrong principal type for the action.
    let mut r = req("alice", "view_org", ("Org", "acme"), json!({}));
    r["principal"] = json!({"type": "Org", "id": "acme"});
    error(&post(r), 422, "INVALID_REQUEST");
    // An undeclared entity type.
    let mut r = req("alice", "view_org", ("Org", "acme"), json!({}));
    r["principal"] = json!("Martian::\"x\"");
    assert_eq!(post(r).status, 422);
}

#[test]
fn an_evaluation_error_is_a_deny_even_where_cedar_would_allow() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    // count + usage overflows inside the seat gates: Cedar skips the erroring forbid policies
    // and would allow on the role permit; Tollgate denies and reports the errors.
    let r = req(
        "alice",
        "bulk_invite_users",
        ("Org", "acme"),
        json!({"role": "member", "count": i64::MAX}),
    );
    let a = app.authorize(r);
    assert_eq!(a["decision"], "deny", "{a}");
    assert_eq!(a["status"], 403);
    assert!(a["errors"].to_string().contains("overflow"), "{a}");
    assert!(
        a.get("payment").is_none(),
        "an error is never a 402 either: {a}"
    );
    // On enterprise there is no limit, so nothing is evaluated that could overflow.
    app.org("big", "enterprise", "alice");
    let r = req(
        "alice",
        "bulk_invite_users",
        ("Org", "big"),
        json!({"role": "member", "count": i64::MAX}),
    );
    assert_eq!(app.authorize(r)["decision"], "allow");
}

#[test]
fn malformed_oversized_and_wrongly_typed_bodies() {
    let app = TestApp::spawn_with(&["--max-decision-body", "2048"], &[]);
    app.org("acme", "enterprise", "alice");
    let raw = |body: &str, ct: &str| app.call_raw("POST", "/v1/authorize", Some(body), ct, None);
    error(&raw("{not json", "application/json"), 400, "MALFORMED_JSON");
    error(&raw("{}", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE");
    let big = json!({"principal": "User::\"alice\"", "action": "Action::\"view_org\"", "resource": "Org::\"acme\"",
                     "context": {}, "entities": [{"uid": {"type": "User", "id": "x".repeat(4000)}, "attrs": {}, "parents": []}]});
    error(
        &raw(&big.to_string(), "application/json"),
        413,
        "PAYLOAD_TOO_LARGE",
    );
    let mut r = req("alice", "view_org", ("Org", "acme"), json!({}));
    r["extra"] = json!(1);
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        422,
        "UNKNOWN_FIELD",
    );
    error(&raw("[1,2]", "application/json"), 422, "INVALID_REQUEST");
    error(
        &raw(
            r#"{"principal": 7, "action": "Action::\"view_org\"", "resource": "Org::\"acme\""}"#,
            "application/json",
        ),
        422,
        "INVALID_UID",
    );
    // The string uid form works.
    let a = raw(
        r#"{"principal": "User::\"alice\"", "action": "Action::\"view_org\"", "resource": "Org::\"acme\""}"#,
        "application/json",
    );
    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
    // Data writes: unknown field, wrong type, nothing written.
    error(
        &app.admin(
            "PUT",
            "/v1/orgs/acme/members/bob",
            Some(json!({"role": "member", "rank": 1})),
        ),
        422,
        "UNKNOWN_FIELD",
    );
    error(
        &app.admin("PUT", "/v1/orgs/acme/members/bob", Some(json!({"role": 3}))),
        422,
        "INVALID_BODY",
    );
    // The fields in order are not a body: serde's derive would take them, and pass limits
    // (`override_limits`) that no filter reading field names would see.
    error(
        &app.admin(
            "PUT",
            "/v1/orgs/acme/members/bob",
            Some(json!(["admin", true])),
        ),
        422,
        "INVALID_BODY",
    );
    // An unknown field inside a nested object is an unknown field too.
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    error(
        &app.admin(
            "PUT",
            "/v1/orgs/acme/workspaces/ws1/members/alice",
            Some(json!({"permissions": {"can_fly": true}})),
        ),
        422,
        "UNKNOWN_FIELD",
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["members"].as_array().unwrap().len(), 1, "{org}");
    // Every error, even actix's own, is JSON.
    error(&app.call("GET", "/nope", None, None), 404, "NOT_FOUND");
    // A served path with a method it does not serve: 405 with `Allow`, nothing done.
    for (method, path, allow) in [
        ("GET", "/v1/authorize", "POST"),
        ("DELETE", "/v1/permissions", "POST"),
        ("POST", "/v1/orgs/acme", "GET, PUT"),
        ("GET", "/v1/orgs/acme/members/bob", "PUT, DELETE"),
        ("PUT", "/healthz", "GET"),
        ("GET", "/v1/admin/reload", "POST"),
    ] {
        let a = app.admin(method, path, Some(json!({"role": "member"})));
        error(&a, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(a.allow.as_deref(), Some(allow), "{method} {path}");
    }
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["members"].as_array().unwrap().len(), 1, "{org}");
    // A path whose escapes are not UTF-8 is refused, not decoded into an id nobody sent.
    error(
        &app.admin(
            "PUT",
            "/v1/orgs/%FF",
            Some(json!({"plan": "free", "primary_owner": "alice"})),
        ),
        400,
        "MALFORMED_PATH",
    );
    let all = app.admin("GET", "/v1/orgs/%EF%BF%BD", None);
    assert_eq!(all.status, 404, "nothing was written: {}", all.raw);
    // A UTF-8 escape is fine.
    app.org("%C3%A9cole", "free", "alice");
    let org = app.admin("GET", "/v1/orgs/%C3%A9cole", None);
    assert_eq!(org.status, 200, "{}", org.raw);
}

/// A key named twice is a parser differential with whatever sits in front (a proxy reading
/// the first, Tollgate the last): every body refuses it, at any depth, and nothing changes.
#[test]
fn duplicate_keys_are_refused_in_every_body() {
    let app = fixture();
    let raw = |path: &str, body: &str, token: Option<&str>| {
        app.call_raw("POST", path, Some(body), "application/json", token)
    };
    let twice = r#"{"principal": "User::\"mia\"", "action": "Action::\"view_audit_logs\"",
                    "resource": "Org::\"acme\"", "principal": "User::\"alice\""}"#;
    error(&raw("/v1/authorize", twice, None), 400, "DUPLICATE_KEY");
    let a = raw("/v1/authorize", twice, None);
    assert!(
        a.body["message"].as_str().unwrap().contains("principal"),
        "{}",
        a.raw
    );
    let nested = r#"{"principal": "User::\"alice\"", "action": "Action::\"invite_user\"",
                     "resource": "Org::\"acme\"", "context": {"role": "viewer", "role": "owner"}}"#;
    error(&raw("/v1/authorize", nested, None), 400, "DUPLICATE_KEY");
    let batch = format!(r#"{{"requests": [{twice}]}}"#);
    error(
        &raw("/v1/authorize/batch", &batch, None),
        400,
        "DUPLICATE_KEY",
    );
    let perms =
        r#"{"principal": "User::\"mia\"", "resource": "Org::\"acme\"", "resource": "Org::\"x\""}"#;
    error(&raw("/v1/permissions", perms, None), 400, "DUPLICATE_KEY");
    // Data writes: refused, and nothing written.
    let member = app.call_raw(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(r#"{"role": "viewer", "role": "owner", "override_limits": true}"#),
        "application/json",
        Some(ADMIN),
    );
    error(&member, 400, "DUPLICATE_KEY");
    let entities = app.call_raw(
        "PUT",
        "/v1/entities",
        Some(r#"[{"uid": {"type": "Project", "id": "p"}, "attrs": {}, "parents": [], "parents": [{"type": "Org", "id": "acme"}]}]"#),
        "application/json",
        Some(ADMIN),
    );
    error(&entities, 400, "DUPLICATE_KEY");
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["members"].as_array().unwrap().len(), 2, "{org}");
    assert_eq!(app.admin("GET", "/v1/entities/Project/p", None).status, 404);
    // The same key in two different objects is fine.
    let ok = r#"{"requests": [{"principal": "User::\"mia\"", "action": "Action::\"view_org\"", "resource": "Org::\"acme\""},
                              {"principal": "User::\"mia\"", "action": "Action::\"view_org\"", "resource": "Org::\"acme\""}]}"#;
    let a = raw("/v1/authorize/batch", ok, None);
    assert_eq!(a.body["results"][1]["decision"], "allow", "{}", a.raw);
}

/// Listening on `[::]`, an IPv4 loopback client arrives as `::ffff:127.0.0.1`: still a
/// loopback peer, so decisions without a decision token are open to it.
#[test]
fn a_v4_mapped_loopback_peer_is_loopback() {
    let mut app = TestApp::spawn_with(&["--listen", "[::]:0"], &[]);
    let port = app.base.rsplit(':').next().unwrap().to_string();
    app.base = format!("http://127.0.0.1:{port}");
    app.org("acme", "free", "alice");
    let a = app.call(
        "POST",
        "/v1/authorize",
        Some(&req("alice", "view_org", ("Org", "acme"), json!({}))),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
}

#[test]
fn batch_slots_fail_alone_and_size_is_bounded() {
    let app = TestApp::spawn_with(&["--max-batch", "3"], &[]);
    app.org("acme", "enterprise", "alice");
    let good = req("alice", "view_org", ("Org", "acme"), json!({}));
    let bad = req("alice", "no_such_action", ("Org", "acme"), json!({}));
    let a = app.call(
        "POST",
        "/v1/authorize/batch",
        Some(&json!({"requests": [good, bad, {"x": 1}]})),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.raw);
    let results = a.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["decision"], "allow");
    assert_eq!(results[1]["error"]["code"], "UNKNOWN_ACTION");
    assert_eq!(results[2]["error"]["code"], "UNKNOWN_FIELD");
    let four = json!({"requests": [good, good, good, good]});
    error(
        &app.call("POST", "/v1/authorize/batch", Some(&four), None),
        422,
        "BATCH_TOO_LARGE",
    );
}

#[test]
fn credentials_are_required() {
    let app = TestApp::spawn_with(&[], &[("TOLLGATE_DECISION_TOKEN", "decide-decide-decide")]);
    app.org("acme", "enterprise", "alice");
    let r = req("alice", "view_org", ("Org", "acme"), json!({}));
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        401,
        "UNAUTHORIZED",
    );
    error(
        &app.call("POST", "/v1/authorize", Some(&r), Some("wrong")),
        401,
        "UNAUTHORIZED",
    );
    let a = app.call(
        "POST",
        "/v1/authorize",
        Some(&r),
        Some("decide-decide-decide"),
    );
    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
    error(
        &app.call("GET", "/v1/orgs/acme", None, None),
        401,
        "UNAUTHORIZED",
    );
    error(
        &app.call("GET", "/v1/orgs/acme", None, Some("decide-decide-decide")),
        401,
        "UNAUTHORIZED",
    );
    error(
        &app.call(
            "PUT",
            "/v1/orgs/evil",
            Some(&json!({"primary_owner": "x"})),
            Some("nope"),
        ),
        401,
        "UNAUTHORIZED",
    );
    assert_eq!(
        app.admin("GET", "/v1/orgs/evil", None).status,
        404,
        "the refused write wrote nothing"
    );
    assert_eq!(
        app.call("GET", "/v1/orgs/acme", None, Some(ADMIN)).status,
        200
    );
}

fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_removed_database_file_fails_decisions_closed() {
    let app = fixture();
    let r = req("alice", "view_org", ("Org", "acme"), json!({}));
    assert_eq!(app.authorize(r.clone())["decision"], "allow");
    std::fs::remove_file(app.db_path()).unwrap();
    // Every read checks the file, so the very next decision already fails.
    store_fails_closed(&app, &r);
    assert_eq!(app.call("GET", "/healthz", None, None).status, 200);
}

/// Removing the `-shm` (or `-wal`) file of a live store splits it: the next process opens a
/// new WAL index and its commits are invisible to this daemon, which keeps reading the old
/// one. Decisions fail closed at once instead of answering from what it no longer sees.
#[test]
fn a_removed_wal_index_fails_decisions_closed() {
    for suffix in ["-shm", "-wal"] {
        let app = fixture();
        let r = req("alice", "view_org", ("Org", "acme"), json!({}));
        assert_eq!(app.authorize(r.clone())["decision"], "allow");
        let mut side = app.db_path().into_os_string();
        side.push(suffix);
        std::fs::remove_file(&side).unwrap();
        // -shm: seen by the decision's own check; -wal: by the health check within 200 ms.
        if suffix == "-shm" {
            let a = app.call("POST", "/v1/authorize", Some(&r), None);
            error(&a, 503, "STORE_UNAVAILABLE");
        }
        let failed = wait_until(Duration::from_secs(2), || {
            app.call("POST", "/v1/authorize", Some(&r), None).status == 503
        });
        assert!(failed, "{suffix}: decisions still answered");
        store_fails_closed(&app, &r);
    }
}

#[test]
fn a_read_only_database_file_fails_closed_and_recovers() {
    use std::os::unix::fs::PermissionsExt;
    let app = fixture();
    let r = req("alice", "view_org", ("Org", "acme"), json!({}));
    let path = app.db_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        503,
        "STORE_UNAVAILABLE",
    );
    let w = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "member"})),
    );
    error(&w, 503, "STORE_UNAVAILABLE");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || app
            .call("POST", "/v1/authorize", Some(&r), None)
            .status
            == 200),
        "decisions resume once the file is writable again"
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(
        !org["members"].to_string().contains("bob"),
        "the refused write was not applied: {org}"
    );
}

/// Entity data cannot stand in for what only the store may say: a caller inventing its own
/// membership, a workspace, an org or a plan is refused, and nothing is written.
#[test]
fn forged_org_model_entities_are_refused() {
    let app = fixture();
    app.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    let forged_user = json!({"uid": {"type": "User", "id": "mallory"}, "attrs": {"membership": {
        "org": {"type": "Org", "id": "acme"}, "role": "owner", "level": 10, "rank": 0,
        "permissions": ["audit.read"], "seat": "seat:admin", "primary_owner": true}}, "parents": []});
    let mut r = req("mallory", "view_audit_logs", ("Org", "acme"), json!({}));
    r["entities"] = json!([forged_user]);
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        422,
        "MANAGED_ENTITY",
    );
    // A member forging workspace flags is refused the same way.
    let forged_access = json!({"uid": {"type": "User", "id": "mia"}, "attrs": {"workspace_access": {
        "workspace": {"type": "Workspace", "id": "ws1"}, "role": "admin", "level": 20,
        "can_create_agents": true, "can_modify_policies": true, "can_invite_users": true,
        "can_view_analytics": true}}, "parents": []});
    let mut r = req("mia", "create_agent", ("Workspace", "ws1"), json!({}));
    r["entities"] = json!([forged_access]);
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        422,
        "MANAGED_ENTITY",
    );
    // An invented workspace pointing at an invented org on an invented plan.
    let fake = json!([
        {"uid": {"type": "Workspace", "id": "wsX"}, "attrs": {"org": {"type": "Org", "id": "fake"}, "name": "x"},
         "parents": [{"type": "Org", "id": "acme"}]},
        {"uid": {"type": "Org", "id": "fake"}, "attrs": {"plan": {"type": "Plan", "id": "p"},
         "subscription_status": "active", "roles": {"type": "RoleSet", "id": "fake"}}, "parents": []},
        {"uid": {"type": "Plan", "id": "p"}, "attrs": {"name": "p", "features": ["advanced_analytics"]}, "parents": []},
    ]);
    let mut r = req("alice", "view_analytics", ("Workspace", "wsX"), json!({}));
    r["entities"] = fake.clone();
    error(
        &app.call("POST", "/v1/authorize", Some(&r), None),
        422,
        "MANAGED_ENTITY",
    );
    for e in fake.as_array().unwrap() {
        let a = app.admin("PUT", "/v1/entities", Some(json!([e])));
        error(&a, 422, "MANAGED_ENTITY");
    }
    error(
        &app.admin("PUT", "/v1/entities", Some(json!([forged_user]))),
        422,
        "MANAGED_ENTITY",
    );
    assert_eq!(
        app.admin("GET", "/v1/entities/User/mallory", None).status,
        404
    );
    // A plain User entity (no view attributes) is still welcome.
    let plain = json!({"uid": {"type": "User", "id": "mallory"}, "attrs": {}, "parents": []});
    assert_eq!(
        app.admin("PUT", "/v1/entities", Some(json!([plain])))
            .status,
        200
    );
    let a = app.authorize(req("mallory", "view_org", ("Org", "acme"), json!({})));
    assert_eq!(a["decision"], "deny", "a stored User is not a member: {a}");
}

#[test]
fn permissions_refuse_undeclared_types_and_batches_obey_the_body_limit() {
    let app = TestApp::spawn_with(&["--max-decision-body", "1024"], &[]);
    app.org("acme", "enterprise", "alice");
    let body = json!({"principal": "Martian::\"x\"", "resource": "Org::\"acme\""});
    error(
        &app.call("POST", "/v1/permissions", Some(&body), None),
        422,
        "INVALID_REQUEST",
    );
    let one = req("alice", "view_org", ("Org", "acme"), json!({}));
    let many: Vec<Value> = (0..10).map(|_| one.clone()).collect();
    let batch = json!({"requests": many});
    assert!(batch.to_string().len() > 1024);
    error(
        &app.call("POST", "/v1/authorize/batch", Some(&batch), None),
        413,
        "PAYLOAD_TOO_LARGE",
    );
}

/// Cedar refuses a cyclic entity hierarchy. A write that would close a parent cycle is a 422
/// `PARENT_CYCLE` and writes nothing; a request whose own entities form one is a 422 too —
/// never a 500, never a decision.
#[test]
fn parent_cycles_are_refused_on_write_and_in_requests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/p.cedar"),
        "permit (principal, action == Action::\"read\", resource in Group::\"root\");\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.cedarschema"),
        "entity Group in [Group];\nentity User in [Group];\naction read appliesTo { principal: User, resource: Group };\n",
    )
    .unwrap();
    let app = TestApp::spawn_owned(
        vec![
            "--policies".into(),
            dir.path().join("policies").display().to_string(),
            "--schema".into(),
            dir.path().join("s.cedarschema").display().to_string(),
        ],
        &[],
    );
    let group = |id: &str, parents: &[&str]| {
        let p: Vec<Value> = parents
            .iter()
            .map(|p| json!({"type": "Group", "id": p}))
            .collect();
        json!({"uid": {"type": "Group", "id": id}, "attrs": {}, "parents": p})
    };
    app.ok(
        "PUT",
        "/v1/entities",
        json!([group("a", &["b"]), group("b", &["root"])]),
    );
    for (what, body) in [
        ("closing a stored chain", json!([group("root", &["a"])])),
        ("its own parent", json!([group("c", &["c"])])),
        (
            "within one batch",
            json!([group("x", &["y"]), group("y", &["x"])]),
        ),
    ] {
        error(
            &app.admin("PUT", "/v1/entities", Some(body)),
            422,
            "PARENT_CYCLE",
        );
        for id in ["c", "x", "y"] {
            assert_eq!(
                app.admin("GET", &format!("/v1/entities/Group/{id}"), None)
                    .status,
                404,
                "{what}: nothing written"
            );
        }
    }
    let root = app.admin("GET", "/v1/entities/Group/root", None);
    assert_eq!(root.status, 404, "{what}", what = root.raw);
    // `b` exists and `a` is under it; a request may not send `root` as a child of `a`.
    let ask = |resource: &str, entities: Value| {
        app.call(
            "POST",
            "/v1/authorize",
            Some(&json!({
                "principal": {"type": "User", "id": "u"},
                "action": {"type": "Action", "id": "read"},
                "resource": {"type": "Group", "id": resource},
                "entities": entities,
            })),
            None,
        )
    };
    // Closing it through stored entities is impossible: a request never places a stored
    // entity, so `root`'s own parents are ignored (and said so), and no cycle forms.
    let a = ask("a", json!([group("root", &["a"])]));
    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
    assert!(a.body["warnings"].to_string().contains("root"), "{}", a.raw);
    error(
        &ask("p", json!([group("p", &["q"]), group("q", &["p"])])),
        422,
        "PARENT_CYCLE",
    );
    let a = ask("a", json!([]));
    assert_eq!(a.body["decision"], "allow", "{}", a.raw);
}
