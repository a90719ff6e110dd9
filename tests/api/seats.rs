//! Seat and workspace accounting inside writes: pending invitations count, expired ones do not,
//! a write past a limit answers 402 and changes nothing, `override_limits` passes it, and
//! concurrent writers never overshoot.

use serde_json::json;

use crate::helpers::{in_secs, req, TestApp};

fn usage(app: &TestApp, org: &str, rt: &str) -> i64 {
    let u = app.admin("GET", &format!("/v1/orgs/{org}/usage"), None);
    assert_eq!(u.status, 200, "{}", u.raw);
    u.body[rt]["current"]
        .as_i64()
        .unwrap_or_else(|| panic!("no {rt} in {}", u.raw))
}

#[test]
fn pending_invitations_count_and_a_write_past_the_limit_changes_nothing() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:total limit 3
    for id in ["i1", "i2"] {
        let a = app.admin(
            "PUT",
            &format!("/v1/orgs/acme/invitations/{id}"),
            Some(json!({"email": format!("{id}@x.io"), "role": "member", "expires_at": in_secs(3600)})),
        );
        assert_eq!(a.status, 201, "{}", a.raw);
    }
    assert_eq!(usage(&app, "acme", "seat:total"), 3);
    assert_eq!(usage(&app, "acme", "seat:member"), 2);
    let before = app.admin("GET", "/v1/orgs/acme", None).body;

    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "member"})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(a.body["code"], "PLAN_LIMIT_REACHED");
    assert_eq!(a.body["error"], "payment_required");
    assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(a.body["required_plan"], "starter");
    assert_eq!(
        a.body["current_usage"],
        json!({"resource_type": "seat:total", "current": 3, "limit": 3})
    );
    assert_eq!(
        app.admin("GET", "/v1/orgs/acme", None).body,
        before,
        "a refused write changes nothing"
    );

    // A third invitation is refused the same way.
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/invitations/i3",
        Some(json!({"email": "i3@x.io", "role": "viewer", "expires_at": in_secs(3600)})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(app.admin("GET", "/v1/orgs/acme", None).body, before);

    // override_limits lets the admin through.
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/bob",
        Some(json!({"role": "member", "override_limits": true})),
    );
    assert_eq!(a.status, 201, "{}", a.raw);
    assert_eq!(usage(&app, "acme", "seat:total"), 4);
    // The next decision sees the acknowledged write.
    let d = app.authorize(req("bob", "view_org", ("Org", "acme"), json!({})));
    assert_eq!(d["decision"], "allow");

    // Revoking an invitation frees its seat.
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/invitations/i1", None)
            .status,
        204
    );
    assert_eq!(usage(&app, "acme", "seat:total"), 3);
}

#[test]
fn admin_bucket_is_enforced_on_add_and_on_role_change() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:admin 1/1
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/adam",
        Some(json!({"role": "admin"})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(
        a.body["current_usage"]["resource_type"], "seat:admin",
        "the role's bucket comes first"
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/members/mia",
        json!({"role": "member"}),
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/members/mia",
        Some(json!({"role": "owner"})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(
        a.body["current_usage"],
        json!({"resource_type": "seat:admin", "current": 1, "limit": 1})
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(
        org["members"]
            .as_array()
            .unwrap()
            .contains(&json!({"user": "mia", "role": "member"})),
        "{org}"
    );
    // A move inside the same bucket needs no seat.
    app.ok(
        "PUT",
        "/v1/orgs/acme/members/mia",
        json!({"role": "viewer"}),
    );
}

#[test]
fn expired_invitations_do_not_count() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    let past = app.admin(
        "PUT",
        "/v1/orgs/acme/invitations/old",
        Some(json!({"email": "old@x.io", "role": "member", "expires_at": in_secs(-60)})),
    );
    assert_eq!(
        past.status, 422,
        "an invitation already expired is refused: {}",
        past.raw
    );
    for id in ["a", "b"] {
        app.ok(
            "PUT",
            &format!("/v1/orgs/acme/invitations/{id}"),
            json!({"email": "x@x.io", "role": "member", "expires_at": in_secs(2)}),
        );
    }
    assert_eq!(usage(&app, "acme", "seat:total"), 3);
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_eq!(
        usage(&app, "acme", "seat:total"),
        1,
        "expired invitations free their seats"
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(
        org["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["expired"] == true),
        "{org}"
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/members/bob",
        json!({"role": "member"}),
    );
    // Accepting an expired invitation is refused and changes nothing.
    let a = app.admin(
        "POST",
        "/v1/orgs/acme/invitations/a/accept",
        Some(json!({"user": "carl"})),
    );
    assert_eq!(a.status, 409, "{}", a.raw);
}

#[test]
fn accepting_an_invitation_turns_it_into_a_membership() {
    let app = TestApp::spawn();
    app.org("acme", "starter", "alice");
    app.ok(
        "PUT",
        "/v1/orgs/acme/invitations/inv1",
        json!({"email": "bob@x.io", "role": "admin", "expires_at": in_secs(3600)}),
    );
    assert_eq!(usage(&app, "acme", "seat:admin"), 2);
    let a = app.admin(
        "POST",
        "/v1/orgs/acme/invitations/inv1/accept",
        Some(json!({"user": "bob"})),
    );
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["role"], "admin");
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert!(org["invitations"].as_array().unwrap().is_empty(), "{org}");
    assert!(org["members"]
        .as_array()
        .unwrap()
        .contains(&json!({"user": "bob", "role": "admin"})));
    assert_eq!(
        usage(&app, "acme", "seat:admin"),
        2,
        "the pending seat became the member's"
    );
    let d = app.authorize(req(
        "bob",
        "invite_user",
        ("Org", "acme"),
        json!({"role": "member"}),
    ));
    assert_eq!(d["decision"], "allow");
    // Accepting twice, or an unknown invitation, is refused.
    assert_eq!(
        app.admin(
            "POST",
            "/v1/orgs/acme/invitations/inv1/accept",
            Some(json!({"user": "bob"}))
        )
        .status,
        404
    );
    app.ok(
        "PUT",
        "/v1/orgs/acme/invitations/inv2",
        json!({"email": "bob@x.io", "role": "member", "expires_at": in_secs(3600)}),
    );
    let a = app.admin(
        "POST",
        "/v1/orgs/acme/invitations/inv2/accept",
        Some(json!({"user": "bob"})),
    );
    assert_eq!(a.status, 409, "already a member: {}", a.raw);
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(
        org["invitations"].as_array().unwrap().len(),
        1,
        "a refused accept keeps the invitation"
    );
}

#[test]
fn workspace_quota_on_writes_and_global_ids() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    app.org("globex", "free", "gina");
    assert_eq!(
        app.admin("PUT", "/v1/orgs/acme/workspaces/ws1", None)
            .status,
        201
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/workspaces/ws2",
        Some(json!({"name": "Two"})),
    );
    assert_eq!(a.status, 402, "{}", a.raw);
    assert_eq!(
        a.body["current_usage"],
        json!({"resource_type": "quota:workspace", "current": 1, "limit": 1})
    );
    assert_eq!(a.body["required_plan"], "starter");
    // Renaming an existing workspace needs no quota.
    assert_eq!(
        app.admin(
            "PUT",
            "/v1/orgs/acme/workspaces/ws1",
            Some(json!({"name": "Renamed"}))
        )
        .status,
        200
    );
    let a = app.admin(
        "PUT",
        "/v1/orgs/acme/workspaces/ws2",
        Some(json!({"override_limits": true})),
    );
    assert_eq!(a.status, 201, "{}", a.raw);
    assert_eq!(usage(&app, "acme", "quota:workspace"), 2);
    // Workspace ids are global.
    let a = app.admin("PUT", "/v1/orgs/globex/workspaces/ws1", None);
    assert_eq!(a.status, 409, "{}", a.raw);
    assert_eq!(a.body["code"], "CONFLICT");
    assert_eq!(
        app.admin("DELETE", "/v1/orgs/acme/workspaces/ws2", None)
            .status,
        204
    );
    assert_eq!(usage(&app, "acme", "quota:workspace"), 1);
}

/// Two admins racing past a seat limit: N concurrent adds at remaining room R grant exactly R.
#[test]
fn concurrent_member_writes_never_overshoot() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:total 1/3: room for 2
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let app = &app;
                s.spawn(move || {
                    app.admin(
                        "PUT",
                        &format!("/v1/orgs/acme/members/u{i}"),
                        Some(json!({"role": "viewer"})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(usage(&app, "acme", "seat:total"), 3);
}

fn invite(app: &TestApp, org: &str, id: &str, role: &str, override_limits: bool) -> u16 {
    app.admin(
        "PUT",
        &format!("/v1/orgs/{org}/invitations/{id}"),
        Some(json!({"email": format!("{id}@x.io"), "role": role, "expires_at": in_secs(3600), "override_limits": override_limits})),
    )
    .status
}

/// Invitations made within the limit can all be accepted: at accept the other pending ones do
/// not count against it.
#[test]
fn every_invitation_made_within_the_limit_can_be_accepted() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice"); // seat:total 3
    assert_eq!(invite(&app, "acme", "i1", "member", false), 201);
    assert_eq!(invite(&app, "acme", "i2", "viewer", false), 201);
    assert_eq!(invite(&app, "acme", "i3", "member", false), 402);
    for (id, user) in [("i1", "bob"), ("i2", "carol")] {
        let a = app.admin(
            "POST",
            &format!("/v1/orgs/acme/invitations/{id}/accept"),
            Some(json!({"user": user})),
        );
        assert_eq!(a.status, 200, "{}", a.raw);
    }
    assert_eq!(usage(&app, "acme", "seat:total"), 3);
}

/// 1 member, 50 invitations made past the limit with `override_limits`, limit 3: exactly 2
/// accepts succeed however concurrent, the rest are 402 and stay pending.
#[test]
fn concurrent_accepts_of_over_limit_invitations_admit_exactly_the_free_seats() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    for i in 0..50 {
        assert_eq!(invite(&app, "acme", &format!("i{i}"), "viewer", true), 201);
    }
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let app = &app;
                s.spawn(move || {
                    app.admin(
                        "POST",
                        &format!("/v1/orgs/acme/invitations/i{i}/accept"),
                        Some(json!({"user": format!("u{i}")})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        48,
        "{statuses:?}"
    );
    let org = app.admin("GET", "/v1/orgs/acme", None).body;
    assert_eq!(org["members"].as_array().map(|m| m.len()), Some(3), "{org}");
    // The refused ones are still pending: members 3 plus 48 invitations.
    assert_eq!(usage(&app, "acme", "seat:total"), 51);
    let refused = app.admin(
        "POST",
        "/v1/orgs/acme/invitations/i0/accept",
        Some(json!({"user": "late"})),
    );
    if statuses[0] == 402 {
        assert_eq!(refused.status, 402, "{}", refused.raw);
        assert_eq!(refused.body["code"], "PLAN_LIMIT_REACHED");
        assert_eq!(
            refused.body["current_usage"],
            json!({"resource_type": "seat:total", "current": 3, "limit": 3})
        );
    }
}

/// 50 parallel promotions into `seat:admin` never pass it.
#[test]
fn concurrent_promotions_never_pass_the_admin_seats() {
    let app = TestApp::spawn();
    app.org("acme", "professional", "alice"); // seat:admin 5, alice holds one
    for i in 0..50 {
        app.member("acme", &format!("u{i}"), "member");
    }
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let app = &app;
                s.spawn(move || {
                    app.admin(
                        "PUT",
                        &format!("/v1/orgs/acme/members/u{i}"),
                        Some(json!({"role": "admin"})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s < 300).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        46,
        "{statuses:?}"
    );
    assert_eq!(usage(&app, "acme", "seat:admin"), 5);
}
