//! Freshness across writers: a commit to the store file, by this daemon, by `tollgate import`
//! or by a second daemon on the same file, is seen by every decision that starts after the
//! commit returned — cached decisions, cached slices and cached org state included — and an
//! answer computed while a write commits is never kept as if it had seen the write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{req, run_cli, TestApp};

fn decision(app: &TestApp, r: &Value) -> String {
    app.authorize(r.clone())["decision"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asks the same question a few times so that the decision (and its slice, and the org's
/// state) are cached when the data changes.
fn ask_often(app: &TestApp, r: &Value) -> String {
    let first = decision(app, r);
    for _ in 0..3 {
        assert_eq!(
            decision(app, r),
            first,
            "a repeated question, the same answer"
        );
    }
    first
}

fn import(app: &TestApp, lines: &[Value]) {
    let file = app.dir.path().join(format!(
        "import-{}.jsonl",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let db = app.db_path();
    let (code, out, err) = run_cli(&[
        "import",
        file.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "import failed: {out}{err}");
}

/// Runs SQL on the store file from a connection of its own, as another tool would.
fn raw_sql(app: &TestApp, sql: &str) {
    let c = rusqlite::Connection::open(app.db_path()).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.execute_batch(sql).unwrap();
}

/// bob invites a member to acme: allowed while bob is an admin.
fn bob_invites() -> Value {
    req(
        "bob",
        "invite_user",
        ("Org", "acme"),
        json!({"role": "member"}),
    )
}

fn acme(app: &TestApp) {
    app.org("acme", "enterprise", "alice");
    app.member("acme", "bob", "admin");
}

#[test]
fn writes_by_tollgate_import_are_seen_by_the_running_daemon() {
    let app = TestApp::process();
    acme(&app);
    let checkout = req("bob", "start_checkout", ("Org", "acme"), json!({}));
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &checkout), "allow");
    assert_eq!(ask_often(&app, &logs), "allow");
    import(
        &app,
        &[
            json!({"member": {"org": "acme", "user": "bob", "role": "viewer"}}),
            json!({"org": {"id": "acme", "plan": "free", "primary_owner": "alice"}}),
        ],
    );
    assert_eq!(decision(&app, &checkout), "deny", "the cached decision");
    // Never asked: served from the cached slice of (bob, acme) unless it is seen as stale.
    let cancel = req("bob", "cancel_subscription", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &cancel), "deny", "the cached slice");
    assert_eq!(decision(&app, &logs), "payment_required", "the cached org");
}

#[test]
fn the_org_cache_sees_another_process_without_the_decision_cache() {
    let app = TestApp::process_with(&["--no-decision-cache"], &[]);
    acme(&app);
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &logs), "allow");
    import(
        &app,
        &[json!({"org": {"id": "acme", "plan": "free", "primary_owner": "alice"}})],
    );
    assert_eq!(decision(&app, &logs), "payment_required");
}

#[test]
fn writes_by_a_second_daemon_on_the_same_file_are_seen() {
    let a = TestApp::process();
    acme(&a);
    let b = a.beside();
    let checkout = req("bob", "start_checkout", ("Org", "acme"), json!({}));
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    for app in [&a, &b] {
        assert_eq!(ask_often(app, &checkout), "allow");
        assert_eq!(ask_often(app, &logs), "allow");
    }
    // Each daemon's writes reach the other's next decision, both ways.
    b.member("acme", "bob", "viewer");
    assert_eq!(decision(&a, &checkout), "deny");
    let cancel = req("bob", "cancel_subscription", ("Org", "acme"), json!({}));
    assert_eq!(decision(&a, &cancel), "deny");
    b.ok("PUT", "/v1/orgs/acme", json!({"plan": "free"}));
    assert_eq!(decision(&a, &logs), "payment_required");
    a.member("acme", "bob", "admin");
    a.ok("PUT", "/v1/orgs/acme", json!({"plan": "enterprise"}));
    assert_eq!(decision(&b, &checkout), "allow");
    assert_eq!(decision(&b, &logs), "allow");
    // A workspace deleted through one daemon is gone for the other.
    a.ok("PUT", "/v1/orgs/acme/workspaces/ws1", json!({}));
    let view = req("bob", "view_workspace", ("Workspace", "ws1"), json!({}));
    assert_eq!(ask_often(&b, &view), "allow");
    assert_eq!(
        a.admin("DELETE", "/v1/orgs/acme/workspaces/ws1", None)
            .status,
        204
    );
    assert_eq!(decision(&b, &view), "deny");
}

/// Deciders hammer the same bodies while a writer flips bob between admin and viewer, the org
/// between enterprise and free, and a workspace between present and deleted. After each
/// acknowledged write, the next decisions must reflect it: a decision that read the old data
/// while the write committed must not have been kept under the new versions. The request
/// names many workspaces, so a slice reads many versions after its snapshot began (the
/// window in which a commit used to slip in).
#[test]
fn decisions_racing_writes_never_keep_a_stale_answer() {
    let app = TestApp::process();
    acme(&app);
    let mut parents: Vec<Value> = Vec::new();
    for i in 0..40 {
        app.ok("PUT", &format!("/v1/orgs/acme/workspaces/w{i}"), json!({}));
        parents.push(json!({"type": "Workspace", "id": format!("w{i}")}));
    }
    parents.push(json!({"type": "Org", "id": "acme"}));
    let mut delete = req("bob", "delete", ("Project", "p"), json!({}));
    delete["entities"] =
        json!([{"uid": {"type": "Project", "id": "p"}, "attrs": {}, "parents": parents}]);
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    let view = req("bob", "view_workspace", ("Workspace", "gone"), json!({}));
    app.ok("PUT", "/v1/orgs/acme/workspaces/gone", json!({}));
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(12);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    for r in [&delete, &logs, &view] {
                        app.authorize(r.clone());
                    }
                }
            });
        }
        let mut round = 0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while Instant::now() < deadline {
                round += 1;
                app.member("acme", "bob", "viewer");
                assert_eq!(decision(&app, &delete), "deny", "round {round}: demoted");
                app.member("acme", "bob", "admin");
                assert_eq!(decision(&app, &delete), "allow", "round {round}: promoted");
                app.ok("PUT", "/v1/orgs/acme", json!({"plan": "free"}));
                assert_eq!(
                    decision(&app, &logs),
                    "payment_required",
                    "round {round}: downgraded"
                );
                app.ok("PUT", "/v1/orgs/acme", json!({"plan": "enterprise"}));
                assert_eq!(decision(&app, &logs), "allow", "round {round}: upgraded");
                assert_eq!(
                    app.admin("DELETE", "/v1/orgs/acme/workspaces/gone", None)
                        .status,
                    204
                );
                assert_eq!(decision(&app, &view), "deny", "round {round}: deleted");
                app.ok("PUT", "/v1/orgs/acme/workspaces/gone", json!({}));
                assert_eq!(decision(&app, &view), "allow", "round {round}: recreated");
            }
        }));
        stop.store(true, Ordering::Relaxed);
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
        assert!(round > 10, "only {round} rounds ran");
    });
}

/// A write by a tool that is not Tollgate (an operator's `sqlite3` session) logs nothing, yet
/// the next decision sees it — also when a Tollgate write lands after it, before that decision.
#[test]
fn a_write_by_another_tool_is_seen_even_after_a_tollgate_write() {
    let app = TestApp::process();
    acme(&app);
    app.org("other", "free", "olga");
    let invite = bob_invites();
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(ask_often(&app, &invite), "allow");
    assert_eq!(ask_often(&app, &logs), "allow");
    let raw = |sql: &str| raw_sql(&app, sql);
    raw("UPDATE members SET role = 'viewer' WHERE org = 'acme' AND user = 'bob'");
    app.member("other", "carol", "member");
    assert_eq!(decision(&app, &invite), "deny", "the cached decision");
    let other = req(
        "bob",
        "invite_user",
        ("Org", "acme"),
        json!({"role": "viewer"}),
    );
    assert_eq!(decision(&app, &other), "deny", "the cached slice");
    raw("UPDATE orgs SET plan = 'free' WHERE id = 'acme'");
    app.member("other", "dan", "member");
    assert_eq!(decision(&app, &logs), "payment_required", "the cached org");
    // And alone, with no Tollgate write after it.
    raw("UPDATE orgs SET plan = 'enterprise' WHERE id = 'acme'");
    assert_eq!(decision(&app, &logs), "allow");
}

/// The marks of other tools' writes rest on triggers: a tool that drops them (a table rebuilt
/// the usual way, `DROP TRIGGER`) would make later writes unmarked, so the store fails closed
/// at the next decision; a restart recreates them.
#[test]
fn dropped_change_triggers_fail_closed_until_a_restart_recreates_them() {
    let mut app = TestApp::process();
    acme(&app);
    let invite = bob_invites();
    assert_eq!(ask_often(&app, &invite), "allow");
    raw_sql(&app, "DROP TRIGGER members_update_unlogged");
    let a = app.call("POST", "/v1/authorize", Some(&invite), None);
    assert_eq!(a.status, 503, "{}", a.raw);
    assert_eq!(a.body["code"], "STORE_UNAVAILABLE", "{}", a.raw);
    raw_sql(
        &app,
        "UPDATE members SET role = 'viewer' WHERE org = 'acme' AND user = 'bob'",
    );
    app.kill_and_restart();
    assert_eq!(decision(&app, &invite), "deny");
    raw_sql(
        &app,
        "UPDATE members SET role = 'admin' WHERE org = 'acme' AND user = 'bob'",
    );
    assert_eq!(
        decision(&app, &invite),
        "allow",
        "the recreated triggers mark it"
    );
}

/// A file restored from another store (SQLite's backup API writes pages: no trigger fires)
/// brings that store's change log, whose positions mean nothing here: everything is stale.
#[test]
fn a_store_restored_under_the_daemon_is_seen_whole() {
    let app = TestApp::process();
    acme(&app);
    let invite = bob_invites();
    assert_eq!(ask_often(&app, &invite), "allow");
    // As a restore does: rows changed with no trigger, another store id, another log.
    let c = rusqlite::Connection::open(app.db_path()).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
        false,
    )
    .unwrap();
    c.execute_batch(
        "BEGIN IMMEDIATE;
         UPDATE members SET role = 'viewer' WHERE org = 'acme' AND user = 'bob';
         UPDATE meta SET v = 'another-store' WHERE k = 'store_id';
         INSERT INTO changes (seq, at, keys)
           SELECT MAX(seq) + 1, 0, '[[\"Org\",\"elsewhere\"]]' FROM changes;
         COMMIT;",
    )
    .unwrap();
    assert_eq!(decision(&app, &invite), "deny");
}

/// Last night's backup of this same store restored under the running daemon (SQLite's backup
/// API writes pages into the live file: no trigger fires, the store id is the same): its
/// change log is shorter than what the daemon applied, or has other rows at the same
/// positions once new writes follow. Either way every cached answer is stale.
#[test]
fn a_backup_of_the_same_store_restored_under_the_daemon_is_seen() {
    for write_after in [false, true] {
        let app = TestApp::process();
        app.org("acme", "enterprise", "alice");
        app.member("acme", "bob", "viewer");
        app.org("other", "free", "olga");
        let backup = app.dir.path().join("backup.db");
        {
            let live = rusqlite::Connection::open(app.db_path()).unwrap();
            let mut dst = rusqlite::Connection::open(&backup).unwrap();
            rusqlite::backup::Backup::new(&live, &mut dst)
                .unwrap()
                .run_to_completion(64, Duration::ZERO, None)
                .unwrap();
        }
        app.member("acme", "bob", "admin");
        let invite = bob_invites();
        assert_eq!(ask_often(&app, &invite), "allow");
        {
            let src = rusqlite::Connection::open(&backup).unwrap();
            let mut live = rusqlite::Connection::open(app.db_path()).unwrap();
            live.busy_timeout(Duration::from_secs(5)).unwrap();
            rusqlite::backup::Backup::new(&src, &mut live)
                .unwrap()
                .run_to_completion(64, Duration::ZERO, None)
                .unwrap();
        }
        if write_after {
            // The log grows back past what the daemon applied, with other rows.
            app.member("other", "u1", "member");
            app.member("other", "u2", "member");
        }
        assert_eq!(
            decision(&app, &invite),
            "deny",
            "restored: bob is a viewer again (writes after: {write_after})"
        );
    }
}
