//! `reserve: n` on a decision and `POST /v1/reservations/{id}/release`: the judgement and the
//! quota's increment in one write transaction (N concurrent reserves at remaining room R grant
//! exactly min(N, R)), never cached, nothing taken on a deny or a 402.

use serde_json::{json, Value};

use crate::helpers::{req, TestApp};

fn usage(app: &TestApp, org: &str, rt: &str) -> i64 {
    let u = app.admin("GET", &format!("/v1/orgs/{org}/usage"), None);
    assert_eq!(u.status, 200, "{}", u.raw);
    u.body[rt]["current"].as_i64().unwrap()
}

fn set_usage(app: &TestApp, org: &str, rt: &str, n: i64) {
    app.ok(
        "PUT",
        &format!("/v1/orgs/{org}/usage/{rt}"),
        json!({"current": n}),
    );
}

fn reserving(principal: &str, org: &str, n: Value) -> Value {
    let mut r = req(principal, "create_project", ("Org", org), json!({}));
    r["reserve"] = n;
    r
}

fn release(app: &TestApp, id: &str) -> crate::helpers::Answer {
    app.call(
        "POST",
        &format!("/v1/reservations/{id}/release"),
        None,
        None,
    )
}

#[test]
fn a_reserve_takes_the_units_with_the_allow_and_a_release_gives_them_back() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // quota:project limit 3
    app.member("acme", "vera", "viewer");
    set_usage(&app, "acme", "quota:project", 1);

    let d = app.authorize(reserving("alice", "acme", json!(1)));
    assert_eq!(d["decision"], "allow", "{d}");
    let r = &d["reservation"];
    assert_eq!(r["resource_type"], "quota:project", "{d}");
    assert_eq!(r["amount"], 1);
    let id = r["id"].as_str().unwrap().to_string();
    assert!(
        id.starts_with("rsv_")
            && id.len() == 4 + 32
            && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
        "128 random bits: {id}"
    );
    assert_eq!(usage(&app, "acme", "quota:project"), 2);

    // Two more do not fit under 3: a 402 that names the quota, and nothing taken.
    let d = app.authorize(reserving("alice", "acme", json!(2)));
    assert_eq!(d["decision"], "payment_required", "{d}");
    assert_eq!(d["status"], 402);
    assert!(d.get("reservation").is_none(), "{d}");
    assert_eq!(d["payment"]["code"], "PLAN_LIMIT_REACHED");
    assert_eq!(d["payment"]["required_plan"], "starter");
    assert_eq!(
        d["payment"]["current_usage"],
        json!({"resource_type": "quota:project", "current": 2, "limit": 3})
    );
    assert_eq!(d["reasons"], json!(["gate.limit.project"]));
    assert_eq!(usage(&app, "acme", "quota:project"), 2);

    // A deny (a viewer may not create projects) takes nothing either.
    let d = app.authorize(reserving("vera", "acme", json!(1)));
    assert_eq!(d["decision"], "deny", "{d}");
    assert!(d.get("reservation").is_none(), "{d}");
    assert_eq!(usage(&app, "acme", "quota:project"), 2);

    // The same body twice reserves twice: a reserve is never answered from the cache.
    let body = reserving("alice", "acme", json!(1));
    let plain = req("alice", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(app.authorize(plain.clone())["decision"], "allow");
    let first = app.authorize(body.clone());
    assert_eq!(first["decision"], "allow", "{first}");
    assert_eq!(usage(&app, "acme", "quota:project"), 3);
    let second = app.authorize(body);
    assert_eq!(second["decision"], "payment_required", "{second}");
    assert_eq!(usage(&app, "acme", "quota:project"), 3);
    // The plain decision cached before sees the counter the reserve moved.
    assert_eq!(app.authorize(plain.clone())["decision"], "payment_required");

    // Release: the units go back, once; again is the same answer and changes nothing.
    let a = release(&app, &id);
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["id"], id.as_str());
    assert_eq!(a.body["org"], "acme");
    assert_eq!(a.body["resource_type"], "quota:project");
    assert_eq!(a.body["amount"], 1);
    assert!(a.body["released_at"].is_string(), "{}", a.raw);
    assert_eq!(usage(&app, "acme", "quota:project"), 2);
    assert_eq!(app.authorize(plain)["decision"], "allow");
    let again = release(&app, &id);
    assert_eq!(again.status, 200, "{}", again.raw);
    assert_eq!(again.body, a.body, "idempotent");
    assert_eq!(usage(&app, "acme", "quota:project"), 2);

    let a = release(&app, "rsv_00000000000000000000000000000000");
    assert_eq!(a.status, 404, "{}", a.raw);
    assert_eq!(a.body["code"], "NOT_FOUND");

    // Each reservation and release is in the audit trail, in the write's transaction.
    let db = rusqlite::Connection::open(app.db_path()).unwrap();
    let actions: Vec<String> = db
        .prepare("SELECT action FROM audit WHERE action LIKE 'reservation.%' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        actions,
        [
            "reservation.create",
            "reservation.create",
            "reservation.release"
        ]
    );
}

#[test]
fn a_reserve_on_an_action_no_app_quota_gates_or_a_bad_amount_is_refused() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    for (action, context) in [
        ("view_org", json!({})),
        ("invite_user", json!({"role": "member"})),
        // Tollgate counts workspaces itself, from the rows.
        ("create_workspace", json!({})),
    ] {
        let mut r = req("alice", action, ("Org", "acme"), context);
        r["reserve"] = json!(1);
        let a = app.call("POST", "/v1/authorize", Some(&r), None);
        assert_eq!(a.status, 422, "{action}: {}", a.raw);
        assert_eq!(a.body["code"], "RESERVE_NOT_APPLICABLE", "{action}");
    }
    for bad in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("1"),
        json!(1_000_001),
        json!(true),
    ] {
        let a = app.call(
            "POST",
            "/v1/authorize",
            Some(&reserving("alice", "acme", bad.clone())),
            None,
        );
        assert_eq!(a.status, 422, "{bad}: {}", a.raw);
        assert_eq!(a.body["code"], "INVALID_RESERVE", "{bad}");
    }
    // `null` is no reserve.
    let d = app.authorize(reserving("alice", "acme", Value::Null));
    assert_eq!(d["decision"], "allow");
    assert!(d.get("reservation").is_none());
    assert_eq!(usage(&app, "acme", "quota:project"), 0);
}

#[test]
fn a_reserve_in_a_batch_follows_the_same_rule_per_item() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // quota:project 3
    set_usage(&app, "acme", "quota:project", 1);
    let plain = req("alice", "create_project", ("Org", "acme"), json!({}));
    // The plain item is cached first under the batch's canonical key; a reserve of the same
    // request must not be answered from it.
    let a = app.call(
        "POST",
        "/v1/authorize/batch",
        Some(&json!({"requests": [plain.clone()]})),
        None,
    );
    assert_eq!(a.body["results"][0]["decision"], "allow", "{}", a.raw);
    let items = json!({"requests": [
        reserving("alice", "acme", json!(1)),
        plain,
        reserving("alice", "acme", json!(1)),
        reserving("alice", "acme", json!(1)),
        reserving("alice", "acme", json!(0)),
    ]});
    let a = app.call("POST", "/v1/authorize/batch", Some(&items), None);
    assert_eq!(a.status, 200, "{}", a.raw);
    let r = &a.body["results"];
    assert_eq!(r[0]["decision"], "allow", "{}", a.raw);
    assert!(r[0]["reservation"]["id"].is_string());
    assert_eq!(r[1]["decision"], "allow");
    assert!(r[1].get("reservation").is_none());
    assert_eq!(r[2]["decision"], "allow");
    assert_eq!(r[3]["decision"], "payment_required");
    assert_eq!(r[4]["error"]["code"], "INVALID_RESERVE");
    assert_eq!(usage(&app, "acme", "quota:project"), 3);
}

/// 200 parallel reserves at remaining room 7 grant exactly 7 and leave the counter at the limit.
#[test]
fn concurrent_reserves_grant_exactly_the_room_left() {
    let app = TestApp::spawn();
    app.org("acme", "starter", "alice"); // quota:project 10
    set_usage(&app, "acme", "quota:project", 3);
    let body = reserving("alice", "acme", json!(1));
    let answers: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let (app, body) = (&app, &body);
                s.spawn(move || app.authorize(body.clone()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted: Vec<&Value> = answers
        .iter()
        .filter(|d| d["decision"] == "allow")
        .collect();
    assert_eq!(granted.len(), 7, "{answers:?}");
    assert!(granted.iter().all(|d| d["reservation"]["amount"] == 1));
    let ids: std::collections::BTreeSet<&str> = granted
        .iter()
        .map(|d| d["reservation"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 7, "distinct ids");
    assert_eq!(
        answers
            .iter()
            .filter(|d| d["decision"] == "payment_required")
            .count(),
        193
    );
    assert_eq!(usage(&app, "acme", "quota:project"), 10);
}

#[test]
fn release_takes_the_decision_token_when_one_is_set() {
    let token = "decision-token-0123456789abcdef";
    let app = TestApp::spawn_with(&[], &[("TOLLGATE_DECISION_TOKEN", token)]);
    app.org("acme", "free", "alice");
    let d = app.call(
        "POST",
        "/v1/authorize",
        Some(&reserving("alice", "acme", json!(1))),
        Some(token),
    );
    assert_eq!(d.status, 200, "{}", d.raw);
    let id = d.body["reservation"]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/reservations/{id}/release");
    for t in [None, Some("wrong-token-0123456789abcdef")] {
        let a = app.call("POST", &path, None, t);
        assert_eq!(a.status, 401, "{}", a.raw);
    }
    assert_eq!(usage(&app, "acme", "quota:project"), 1);
    assert_eq!(app.call("POST", &path, None, Some(token)).status, 200);
    assert_eq!(usage(&app, "acme", "quota:project"), 0);
}

#[test]
fn a_reserve_that_would_overflow_the_counter_is_refused() {
    let app = TestApp::spawn();
    app.org("big", "enterprise", "alice"); // unlimited projects
    set_usage(&app, "big", "quota:project", i64::MAX - 5);
    let a = app.call(
        "POST",
        "/v1/authorize",
        Some(&reserving("alice", "big", json!(1000))),
        None,
    );
    assert_eq!(a.status, 422, "{}", a.raw);
    assert_eq!(a.body["code"], "INVALID_RESERVE");
    assert_eq!(usage(&app, "big", "quota:project"), i64::MAX - 5);
    let d = app.authorize(reserving("alice", "big", json!(5)));
    assert_eq!(d["decision"], "allow", "{d}");
    assert_eq!(usage(&app, "big", "quota:project"), i64::MAX);
}
