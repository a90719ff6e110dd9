//! `/v1/forward-auth` against the real daemon and the example route file: each proxy
//! convention, the identity rules, bad original paths, and the same answer `/v1/authorize`
//! gives for the request the route maps to.

use serde_json::{json, Value};

use crate::helpers::{req, Answer, TestApp, ADMIN};

const ROUTES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/forward-auth/routes.toml"
);

fn app_with(extra: &[&str]) -> TestApp {
    let mut args = vec!["--routes", ROUTES];
    args.extend_from_slice(extra);
    let app = TestApp::spawn_with(&args, &[]);
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    app.member("acme", "mia", "member");
    app.org("evil", "enterprise", "mallory");
    app
}

/// Traefik and Caddy: `X-Forwarded-Method` + `X-Forwarded-Uri`.
fn traefik(app: &TestApp, user: Option<&str>, method: &str, uri: &str) -> Answer {
    let mut h = vec![
        ("x-forwarded-method", method),
        ("x-forwarded-uri", uri),
        ("x-forwarded-host", "app.example"),
    ];
    if let Some(u) = user {
        h.push(("x-user-id", u));
    }
    app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h)
}

fn decision(a: &Answer) -> &str {
    a.header("x-tollgate-decision")
        .unwrap_or_else(|| panic!("no X-Tollgate-Decision: {} {}", a.status, a.raw))
}

#[test]
fn each_answer_is_what_authorize_answers_for_the_mapped_request() {
    let app = app_with(&[]);
    app.ok(
        "PUT",
        "/v1/entities",
        json!([{"uid": {"type": "Project", "id": "stored"}, "attrs": {}, "parents": [{"type": "Org", "id": "acme"}]}]),
    );
    // (user, method, original URI, action, resource, context)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        (&'a str, &'a str),
        Value,
    );
    let cases: Vec<Case> = vec![
        (
            "alice",
            "GET",
            "/api/orgs/acme",
            "view_org",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "vic",
            "GET",
            "/api/orgs/acme",
            "view_org",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "mallory",
            "GET",
            "/api/orgs/acme",
            "view_org",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "alice",
            "GET",
            "/api/orgs/acme/audit-logs",
            "view_audit_logs",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "vic",
            "GET",
            "/api/orgs/acme/audit-logs",
            "view_audit_logs",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "mallory",
            "GET",
            "/api/orgs/evil/audit-logs",
            "view_audit_logs",
            ("Org", "evil"),
            json!({}),
        ),
        (
            "vic",
            "PUT",
            "/api/orgs/acme/sso",
            "configure_sso",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "alice",
            "PUT",
            "/api/orgs/acme/sso",
            "configure_sso",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "mia",
            "POST",
            "/api/orgs/acme/projects",
            "create_project",
            ("Org", "acme"),
            json!({}),
        ),
        (
            "alice",
            "POST",
            "/api/orgs/acme/invitations?role=admin",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "admin"}),
        ),
        (
            "mia",
            "POST",
            "/api/orgs/acme/invitations?role=admin",
            "invite_user",
            ("Org", "acme"),
            json!({"role": "admin"}),
        ),
        (
            "vic",
            "GET",
            "/api/orgs/acme/projects/stored",
            "read",
            ("Project", "stored"),
            json!({}),
        ),
        (
            "mallory",
            "GET",
            "/api/orgs/acme/projects/stored",
            "read",
            ("Project", "stored"),
            json!({}),
        ),
        (
            "vic",
            "DELETE",
            "/api/orgs/acme/projects/stored",
            "delete",
            ("Project", "stored"),
            json!({}),
        ),
    ];
    let mut outcomes = std::collections::BTreeSet::new();
    for (user, method, uri, action, resource, context) in cases {
        let a = traefik(&app, Some(user), method, uri);
        let want = app.authorize(req(user, action, resource, context));
        let name = want["decision"].as_str().unwrap();
        outcomes.insert(name.to_string());
        assert_eq!(decision(&a), name, "{user} {method} {uri}: {}", a.raw);
        assert_eq!(
            a.status as u64,
            want["status"].as_u64().unwrap(),
            "{user} {method} {uri}: {}",
            a.raw
        );
        match name {
            "payment_required" => {
                assert_eq!(
                    a.body, want["payment"],
                    "the 402 body is the payment object"
                );
                assert_eq!(
                    a.header("x-tollgate-payment"),
                    None,
                    "only nginx needs the body in a header"
                );
            }
            "deny" => {
                assert_eq!(a.body["code"], "ACCESS_DENIED", "{}", a.raw);
                assert_eq!(a.body["details"]["reasons"], want["reasons"]);
            }
            _ => assert_eq!(a.body["reasons"], want["reasons"]),
        }
    }
    assert_eq!(
        outcomes.len(),
        3,
        "the cases cover allow, deny and 402: {outcomes:?}"
    );
}

#[test]
fn an_allow_sends_every_upstream_header_and_a_project_the_store_lacks_is_placed_by_the_route() {
    let app = app_with(&[]);
    let a = traefik(&app, Some("vic"), "GET", "/api/orgs/acme/projects/new-one");
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.header("x-tollgate-principal"), Some("vic"));
    assert_eq!(a.header("x-tollgate-org"), Some("acme"));
    assert_eq!(a.header("x-tollgate-role"), Some("viewer"));
    assert_eq!(a.header("x-tollgate-plan"), Some("free"));
    // The route's parent places it under acme; a member of another org gains nothing there.
    let a = traefik(
        &app,
        Some("mallory"),
        "GET",
        "/api/orgs/acme/projects/new-one",
    );
    assert_eq!((a.status, decision(&a)), (403, "deny"), "{}", a.raw);
    // A project stored under another org keeps its stored parent, whatever the path says.
    app.ok(
        "PUT",
        "/v1/entities",
        json!([{"uid": {"type": "Project", "id": "theirs"}, "attrs": {}, "parents": [{"type": "Org", "id": "evil"}]}]),
    );
    let a = traefik(&app, Some("alice"), "GET", "/api/orgs/acme/projects/theirs");
    assert_eq!((a.status, decision(&a)), (403, "deny"), "{}", a.raw);
    let a = traefik(
        &app,
        Some("mallory"),
        "GET",
        "/api/orgs/acme/projects/theirs",
    );
    assert_eq!(a.status, 200, "the stored parent decides: {}", a.raw);
    assert_eq!(a.header("x-tollgate-org"), Some("evil"));

    // Without a membership the role header is still sent, empty.
    let only = app_with(&["--upstream-headers", "principal,role"]);
    let a = traefik(&only, Some("alice"), "GET", "/api/orgs/acme");
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.header("x-tollgate-role"), Some("owner"));
    assert_eq!(a.header("x-tollgate-org"), None, "not configured, not sent");
}

#[test]
fn nginx_envoy_and_traefik_each_read_only_their_own_headers() {
    let app = app_with(&[]);
    // nginx: X-Original-*; a 402 becomes a 403 that says payment_required.
    let nginx = |user: &str, uri: &str, extra: &[(&str, &str)]| {
        let mut h = vec![
            ("x-original-method", "GET"),
            ("x-original-uri", uri),
            ("x-user-id", user),
        ];
        h.extend_from_slice(extra);
        app.call_headers(
            "GET",
            "/v1/forward-auth?proxy=nginx",
            None,
            "text/plain",
            &h,
        )
    };
    let a = nginx("alice", "/api/orgs/acme", &[]);
    assert_eq!((a.status, decision(&a)), (200, "allow"), "{}", a.raw);
    let a = nginx("alice", "/api/orgs/acme/audit-logs", &[]);
    assert_eq!(
        (a.status, decision(&a)),
        (403, "payment_required"),
        "{}",
        a.raw
    );
    assert_eq!(
        a.body["error"], "payment_required",
        "the body is the payment object"
    );
    let header: Value = serde_json::from_str(a.header("x-tollgate-payment").unwrap()).unwrap();
    assert_eq!(header, a.body, "X-Tollgate-Payment is the payment object");
    // A client's X-Forwarded-* passed on by nginx never grant: with `?proxy=nginx` they make
    // the request ambiguous, and it is refused (Caddy passes a client's query on, so a client
    // could otherwise pick this convention and write X-Original-* itself).
    let a = nginx(
        "vic",
        "/api/orgs/acme/sso",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
        ],
    );
    assert_eq!((a.status, decision(&a)), (400, "deny"), "{}", a.raw);
    assert_eq!(a.body["code"], "MISSING_ORIGINAL", "{}", a.raw);

    // Traefik/Caddy: a client's X-Original-* changes nothing, and is not enough alone.
    let h = [
        ("x-forwarded-method", "PUT"),
        ("x-forwarded-uri", "/api/orgs/acme/sso"),
        ("x-original-method", "GET"),
        ("x-original-uri", "/api/orgs/acme"),
        ("x-user-id", "vic"),
    ];
    let a = app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h);
    assert_eq!((a.status, decision(&a)), (403, "deny"), "{}", a.raw);
    let a = app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h[2..]);
    assert_eq!((a.status, decision(&a)), (400, "deny"), "{}", a.raw);
    assert_eq!(a.body["code"], "MISSING_ORIGINAL");

    // Envoy: the request line below the prefix; its query is the original request's, so
    // `?proxy=nginx` there is not a convention switch, and headers of the others are ignored.
    let envoy = |method: &str, path: &str, user: &str| {
        app.call_headers(
            method,
            &format!("/v1/forward-auth{path}"),
            None,
            "text/plain",
            &[
                ("x-user-id", user),
                ("x-forwarded-uri", "/api/orgs/acme"),
                ("x-original-uri", "/api/orgs/acme"),
                ("x-original-method", "GET"),
            ],
        )
    };
    let a = envoy("GET", "/api/orgs/acme", "vic");
    assert_eq!((a.status, decision(&a)), (200, "allow"), "{}", a.raw);
    assert_eq!(a.header("x-tollgate-role"), Some("viewer"));
    let a = envoy("PUT", "/api/orgs/acme/sso", "vic");
    assert_eq!((a.status, decision(&a)), (403, "deny"), "{}", a.raw);
    let a = envoy("GET", "/api/orgs/acme/audit-logs?proxy=nginx", "alice");
    assert_eq!(
        (a.status, decision(&a)),
        (402, "payment_required"),
        "{}",
        a.raw
    );
    // The query fills the context: three seats on free are taken, so inviting is a 402.
    let a = envoy("POST", "/api/orgs/acme/invitations?role=viewer", "alice");
    assert_eq!(
        (a.status, decision(&a)),
        (402, "payment_required"),
        "{}",
        a.raw
    );
    assert_eq!(a.body["code"], "PLAN_LIMIT_REACHED", "{}", a.raw);
}

#[test]
fn unmatched_and_malformed_originals_are_never_an_allow() {
    let app = app_with(&[]);
    for uri in [
        "/api/orgs/acme/nothing-here",
        "/api/orgs",
        "/",
        "/api/orgs/acme/",
    ] {
        let a = traefik(&app, Some("alice"), "GET", uri);
        assert_eq!((a.status, decision(&a)), (403, "deny"), "{uri}: {}", a.raw);
        assert_eq!(a.body["code"], "NO_ROUTE", "{uri}");
    }
    // A method the route does not list.
    let a = traefik(&app, Some("alice"), "DELETE", "/api/orgs/acme");
    assert_eq!((a.status, a.body["code"].as_str()), (403, Some("NO_ROUTE")));
    for uri in [
        "/api/orgs/acme/../evil",
        "/api/orgs/evil/projects/x/../../../acme",
        "/api/orgs/acme/./projects",
        "/api/orgs/acme%2Fprojects",
        "/api/orgs/%2E%2E/acme",
        "/api//orgs/acme",
        "/api/orgs/acme\\x",
        "/api/orgs/%FF",
        "api/orgs/acme",
    ] {
        let a = traefik(&app, Some("alice"), "GET", uri);
        assert_eq!((a.status, decision(&a)), (400, "deny"), "{uri}: {}", a.raw);
        assert_eq!(a.body["code"], "MALFORMED_URI", "{uri}");
    }
    // Envoy's path, refused the same way (actix does not normalize it first).
    let a = app.call_headers(
        "GET",
        "/v1/forward-auth/api/orgs/acme/%2e%2e/evil",
        None,
        "text/plain",
        &[("x-user-id", "alice")],
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("MALFORMED_URI")),
        "{}",
        a.raw
    );
    // A required context value the request lacks, or a bad method.
    let a = traefik(&app, Some("alice"), "POST", "/api/orgs/acme/invitations");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("INVALID_ROUTE_VALUE")),
        "{}",
        a.raw
    );
    let a = traefik(&app, Some("alice"), "GE T", "/api/orgs/acme");
    assert_eq!(a.status, 400, "{}", a.raw);

    let not_found = {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.toml");
        let text = std::fs::read_to_string(ROUTES).unwrap();
        std::fs::write(&file, format!("unmatched = 404\n{text}")).unwrap();
        let app = TestApp::spawn_with(&["--routes", file.to_str().unwrap()], &[]);
        app.org("acme", "free", "alice");
        let a = traefik(&app, Some("alice"), "GET", "/nope");
        (a.status, a.body["code"].clone(), decision(&a).to_string())
    };
    assert_eq!(not_found, (404, json!("NOT_FOUND"), "deny".to_string()));

    // No route file: 503, never an allow.
    let bare = TestApp::spawn();
    bare.org("acme", "free", "alice");
    let a = traefik(&bare, Some("alice"), "GET", "/api/orgs/acme");
    assert_eq!((a.status, decision(&a)), (503, "deny"), "{}", a.raw);
    assert_eq!(a.body["code"], "ROUTES_NOT_CONFIGURED");
}

#[test]
fn an_identity_is_believed_only_once_and_only_from_a_trusted_peer() {
    let app = app_with(&[]);
    let a = traefik(&app, None, "GET", "/api/orgs/acme");
    assert_eq!((a.status, decision(&a)), (401, "deny"), "{}", a.raw);
    assert_eq!(a.body["code"], "NO_IDENTITY");
    assert!(a.header("www-authenticate").is_some(), "{:?}", a.headers);
    let a = traefik(&app, Some(""), "GET", "/api/orgs/acme");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("NO_IDENTITY"))
    );
    let twice = app.call_headers(
        "GET",
        "/v1/forward-auth",
        None,
        "text/plain",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
            ("x-user-id", "mallory"),
            ("x-user-id", "alice"),
        ],
    );
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (401, Some("NO_IDENTITY")),
        "{}",
        twice.raw
    );

    // The test client is on loopback: with only 10.0.0.0/8 trusted, its header is forged.
    let strict = app_with(&["--trusted-proxies", "10.0.0.0/8"]);
    let a = traefik(&strict, Some("alice"), "GET", "/api/orgs/acme");
    assert_eq!((a.status, decision(&a)), (401, "deny"), "{}", a.raw);
    assert_eq!(a.body["code"], "UNTRUSTED_PROXY");

    // Another identity header, as oauth2-proxy sets it.
    let o2p = app_with(&["--identity-header", "X-Auth-Request-User"]);
    let a = traefik(&o2p, Some("alice"), "GET", "/api/orgs/acme");
    assert_eq!(
        a.body["code"], "NO_IDENTITY",
        "X-User-Id is not read then: {}",
        a.raw
    );
    let a = o2p.call_headers(
        "GET",
        "/v1/forward-auth",
        None,
        "text/plain",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
            ("x-auth-request-user", "alice"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.raw);
}

#[test]
fn with_a_decision_token_the_proxy_sends_it_in_x_tollgate_token() {
    let token = "decision-token-0123456789";
    let app = TestApp::spawn_with(&["--routes", ROUTES], &[("TOLLGATE_DECISION_TOKEN", token)]);
    app.org("acme", "free", "alice");
    let base = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/api/orgs/acme"),
        ("x-user-id", "alice"),
    ];
    let call = |extra: &[(&str, &str)]| {
        let mut h = base.to_vec();
        h.extend_from_slice(extra);
        app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h)
    };
    let a = call(&[]);
    assert_eq!((a.status, decision(&a)), (401, "deny"), "{}", a.raw);
    let bearer = format!("Bearer {token}");
    let a = call(&[("authorization", &bearer)]);
    assert_eq!(
        a.status, 401,
        "the client's Authorization is not the proxy's credential"
    );
    let a = call(&[("x-tollgate-token", "wrong-token-0123456789")]);
    assert_eq!(a.status, 401);
    let a = call(&[
        ("x-tollgate-token", token),
        ("authorization", "Bearer client-own"),
    ]);
    assert_eq!((a.status, decision(&a)), (200, "allow"), "{}", a.raw);
    let a = call(&[("x-tollgate-token", ADMIN)]);
    assert_eq!(a.status, 200, "the admin token works too: {}", a.raw);
}

/// The route file loads, reloads and fails with the model: a broken edit keeps the last good
/// table serving and is reported with file:line; a route taken out stops granting at once.
#[test]
fn the_route_file_reloads_with_the_model_and_a_broken_one_keeps_the_old_table() {
    let m = crate::helpers::ModelCopy::new();
    let file = m.path("routes.toml");
    std::fs::copy(ROUTES, &file).unwrap();
    let mut args = m.args();
    args.extend(["--routes".to_string(), file.display().to_string()]);
    let app = TestApp::spawn_owned(args, &[]);
    app.org("acme", "free", "alice");
    let reload = || app.admin("POST", "/v1/admin/reload", None);
    let view = || traefik(&app, Some("alice"), "GET", "/api/orgs/acme");
    assert_eq!(view().status, 200);

    let good = std::fs::read_to_string(ROUTES).unwrap();
    std::fs::write(&file, format!("{good}\n[[route]]\nmethod = \"GET\"\npath = \"/x/{{org}}\"\naction = \"fly\"\nresource = {{ type = \"Org\", id = \"{{org}}\" }}\n")).unwrap();
    let r = reload();
    assert_eq!(r.status, 422, "{}", r.raw);
    let line = good.lines().count() + 2;
    assert!(
        r.raw.contains(&format!("routes.toml:{line}")) && r.raw.contains("fly"),
        "names file:line: {}",
        r.raw
    );
    assert_eq!(view().status, 200, "the old table still serves");

    // Taking the route out revokes: the same request now matches nothing.
    let without: String = good.replace(
        "path = \"/api/orgs/{org}\"\n",
        "path = \"/api/orgs/{org}/gone\"\n",
    );
    assert_ne!(without, good);
    // The watcher picks it up, no reload call needed.
    std::fs::write(&file, without).unwrap();
    let start = std::time::Instant::now();
    let a = loop {
        let a = view();
        if a.status != 200 || start.elapsed() > std::time::Duration::from_secs(5) {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (403, Some("NO_ROUTE")),
        "{}",
        a.raw
    );
    let p = app.admin("GET", "/v1/policies", None);
    assert!(
        p.raw.contains("routes.toml"),
        "the loaded files name it: {}",
        p.raw
    );
}

#[test]
fn validate_checks_every_route_against_the_schema_and_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.toml");
    std::fs::write(
        &file,
        concat!(
            "[[route]]\nmethod = \"GET\"\npath = \"/a/{org}\"\naction = \"view_org\"\n",
            "resource = { type = \"Org\", id = \"{org}\" }\n\n",
            "[[route]]\nmethod = \"GET\"\npath = \"/b/{org}\"\naction = \"fly\"\n",
            "resource = { type = \"Org\", id = \"{org}\" }\n\n",
            "[[route]]\nmethod = \"GET\"\npath = \"/c/{p}\"\naction = \"read\"\n",
            "resource = { type = \"Org\", id = \"{p}\" }\n\n",
            "[[route]]\nmethod = \"GET\"\npath = \"/d/{org}\"\naction = \"view_org\"\n",
            "resource = { type = \"Org\", id = \"{org}\" }\ncontext = { role = \"{query.r}\" }\n\n",
            "[[route]]\nmethod = \"POST\"\npath = \"/e/{org}\"\naction = \"bulk_invite_users\"\n",
            "resource = { type = \"Org\", id = \"{orgg}\" }\n",
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let (code, out, err) = crate::helpers::run_cli(&["validate", "--routes", &path]);
    assert_eq!(code, 1, "{out}{err}");
    for (line, what) in [
        (7, "no action `fly`"),
        (13, "does not apply to resources of type `Org`"),
        (19, "context key `role` is not in the context type"),
        (26, "`{orgg}`"),
    ] {
        assert!(
            err.contains(&format!("{path}:{line}: ")) && err.contains(what),
            "line {line} ({what}): {err}"
        );
    }
    assert!(
        !err.contains(&format!("{path}:1: ")),
        "the good route passes: {err}"
    );
    let (code, out, err) = crate::helpers::run_cli(&["validate", "--routes", ROUTES]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("10 routes"), "{out}");
}

/// A recurring request is answered from the decision cache by its original method, URI, host,
/// identity and the headers the routes read: two requests that differ only in such a header
/// are two decisions, whichever comes first.
#[test]
fn a_header_a_route_reads_is_part_of_what_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.toml");
    std::fs::write(
        &file,
        "[[route]]\nmethod = \"POST\"\npath = \"/orgs/{org}/invitations\"\naction = \"invite_user\"\n\
         resource = { type = \"Org\", id = \"{org}\" }\ncontext = { role = \"{header.x-invite-role}\" }\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&["--routes", file.to_str().unwrap()], &[]);
    app.org("big", "enterprise", "olga");
    app.member("big", "ada", "admin");
    let invite = |role: &str| {
        let a = app.call_headers(
            "GET",
            "/v1/forward-auth",
            None,
            "text/plain",
            &[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-uri", "/orgs/big/invitations"),
                ("x-user-id", "ada"),
                ("x-invite-role", role),
            ],
        );
        let want = app.authorize(req(
            "ada",
            "invite_user",
            ("Org", "big"),
            json!({"role": role}),
        ));
        assert_eq!(
            decision(&a),
            want["decision"].as_str().unwrap(),
            "role {role}: {}",
            a.raw
        );
        decision(&a).to_string()
    };
    let (member, owner) = (invite("member"), invite("owner"));
    assert_ne!(member, owner, "the two roles are judged differently");
    for _ in 0..3 {
        assert_eq!(invite("owner"), owner);
        assert_eq!(invite("member"), member);
    }
}

/// What a route reads is read once and spelled one way: a query parameter or header given
/// twice is a 400 (the app may take the other value), a cached answer for one value is not
/// served to a request with two, and a host with a trailing dot, in capitals, or a list
/// never slips past a host-bound route to a later, broader one.
#[test]
fn values_a_route_reads_are_unambiguous_and_hosts_are_normalized() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.toml");
    std::fs::write(
        &file,
        concat!(
            "[[route]]\nmethod = \"GET\"\npath = \"/h/{org}\"\nhost = \"admin.example.com\"\n",
            "action = \"configure_sso\"\nresource = { type = \"Org\", id = \"{org}\" }\n\n",
            "[[route]]\nmethod = \"GET\"\npath = \"/h/{org}\"\naction = \"view_org\"\n",
            "resource = { type = \"Org\", id = \"{org}\" }\n\n",
            "[[route]]\nmethod = \"POST\"\npath = \"/q/invite\"\naction = \"invite_user\"\n",
            "resource = { type = \"Org\", id = \"{query.org}\" }\ncontext = { role = \"{query.role}\" }\n\n",
            "[[route]]\nmethod = \"GET\"\npath = \"/hdr\"\naction = \"view_org\"\n",
            "resource = { type = \"Org\", id = \"{header.x-org}\" }\n",
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(&["--routes", file.to_str().unwrap()], &[]);
    app.org("acme", "enterprise", "alice");
    app.member("acme", "vic", "viewer");
    app.member("acme", "adam", "admin");
    app.org("beta", "enterprise", "bob");
    let ask = |user: &str, method: &str, uri: &str, extra: &[(&str, &str)]| {
        let mut h = vec![
            ("x-forwarded-method", method),
            ("x-forwarded-uri", uri),
            ("x-user-id", user),
        ];
        h.extend_from_slice(extra);
        app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h)
    };
    // The host-bound route: a viewer may not configure SSO, whatever the host's spelling.
    for host in [
        "admin.example.com",
        "ADMIN.example.com.",
        "admin.example.com.:80",
    ] {
        let a = ask("vic", "GET", "/h/acme", &[("x-forwarded-host", host)]);
        assert_eq!((a.status, decision(&a)), (403, "deny"), "{host}: {}", a.raw);
    }
    let a = ask(
        "vic",
        "GET",
        "/h/acme",
        &[("x-forwarded-host", "app.example.com")],
    );
    assert_eq!(
        a.status, 200,
        "another host takes the broader route: {}",
        a.raw
    );
    for host in ["admin.example.com, x", "admin.example.com:abc", "a b"] {
        let a = ask("vic", "GET", "/h/acme", &[("x-forwarded-host", host)]);
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (400, Some("MALFORMED_URI")),
            "{host}: {}",
            a.raw
        );
    }
    // A query parameter given twice.
    let a = ask("adam", "POST", "/q/invite?org=acme&role=owner", &[]);
    assert_eq!(
        decision(&a),
        "deny",
        "an admin may not invite an owner: {}",
        a.raw
    );
    let a = ask(
        "adam",
        "POST",
        "/q/invite?org=acme&role=member&role=owner",
        &[],
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("INVALID_ROUTE_VALUE")),
        "{}",
        a.raw
    );
    let a = ask(
        "vic",
        "POST",
        "/q/invite?org=acme&org=beta&role=member",
        &[],
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("INVALID_ROUTE_VALUE")),
        "{}",
        a.raw
    );
    // A header given twice, after the single one was answered (and cached).
    let a = ask("vic", "GET", "/hdr", &[("x-org", "acme")]);
    assert_eq!(a.status, 200, "{}", a.raw);
    let a = ask(
        "vic",
        "GET",
        "/hdr",
        &[("x-org", "acme"), ("x-org", "beta")],
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("INVALID_ROUTE_VALUE")),
        "{}",
        a.raw
    );
    let a = ask("vic", "GET", "/hdr", &[("x-org", "beta")]);
    assert_eq!((a.status, decision(&a)), (403, "deny"), "{}", a.raw);
}
