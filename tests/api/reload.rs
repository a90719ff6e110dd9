//! Hot reload: an edit is picked up within 2 s; a broken edit changes nothing; reloads swap
//! whole sets under concurrent decisions.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{req, ModelCopy, TestApp};

fn spawn(m: &ModelCopy) -> TestApp {
    let app = TestApp::spawn_owned(m.args(), &[]);
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    app
}

fn decision(app: &TestApp, r: &Value) -> String {
    app.authorize(r.clone())["decision"]
        .as_str()
        .unwrap()
        .to_string()
}

fn eventually(app: &TestApp, r: &Value, want: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if decision(app, r) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn policies(app: &TestApp) -> Value {
    let p = app.admin("GET", "/v1/policies", None);
    assert_eq!(p.status, 200, "{}", p.raw);
    p.body
}

#[test]
fn an_edit_to_a_role_or_a_limit_is_served_within_two_seconds() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let viewer_projects = req("vic", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &viewer_projects), "deny");
    let before = policies(&app)["version"].clone();
    // Give viewers `projects.create` in the catalog's role table.
    let plans = m.read("plans.toml");
    m.write(
        "plans.toml",
        &plans.replace(
            "permissions = [\"org.read\"]",
            "permissions = [\"org.read\", \"projects.create\"]",
        ),
    );
    assert!(
        eventually(&app, &viewer_projects, "allow", Duration::from_secs(2)),
        "edit not served within 2 s"
    );
    assert_ne!(policies(&app)["version"], before);
    // Change a limit: free allows 1 project now, and 3 are in use.
    app.ok(
        "PUT",
        "/v1/orgs/acme/usage/quota:project",
        json!({"current": 1}),
    );
    let plans = m.read("plans.toml");
    m.write(
        "plans.toml",
        &plans.replacen("\"quota:project\" = 3", "\"quota:project\" = 1", 1),
    );
    assert!(eventually(
        &app,
        &viewer_projects,
        "payment_required",
        Duration::from_secs(2)
    ));
    // And a policy file edit: remove the viewer rights again through a new forbid.
    m.write(
        "policies/zz_local.cedar",
        "@id(\"local.no_viewer_projects\")\nforbid (principal is User, action == Action::\"create_project\", resource is Org)\nwhen { principal has membership && principal.membership.role == \"viewer\" };\n",
    );
    assert!(eventually(
        &app,
        &viewer_projects,
        "deny",
        Duration::from_secs(2)
    ));
    // The role-side forbid makes it a 403 even though the limit gate also fires.
    let a = app.authorize(viewer_projects);
    assert_eq!(
        a["reasons"],
        json!(["gate.limit.project", "local.no_viewer_projects"])
    );
}

#[test]
fn broken_edits_leave_decisions_unchanged_and_are_reported() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let questions = [
        req("alice", "view_audit_logs", ("Org", "acme"), json!({})),
        req("vic", "view_org", ("Org", "acme"), json!({})),
        req("vic", "create_project", ("Org", "acme"), json!({})),
    ];
    let answers = |app: &TestApp| {
        questions
            .iter()
            .map(|q| app.authorize(q.clone()))
            .collect::<Vec<_>>()
    };
    let good = answers(&app);
    let version = policies(&app)["version"].clone();
    let org = m.read("policies/org.cedar");
    let schema = m.read("tollgate.cedarschema");
    let gates = m.read("policies/plan_gates.cedar");
    let audit_gate =
        "@id(\"gate.feature.audit_logs\")\n@gate(\"feature\")\n@feature(\"audit_logs\")\n\
        forbid (principal, action == Action::\"view_audit_logs\", resource is Org)\n\
        unless { resource.plan.features.contains(\"audit_logs\") };\n";
    assert!(
        gates.contains(audit_gate),
        "the test edits the audit-log gate"
    );
    type Breakage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let breakages: Vec<Breakage> = vec![
        (
            "syntax error",
            Box::new(|| {
                m.write(
                    "policies/org.cedar",
                    &org.replacen("permit (", "permit ((", 1),
                )
            }),
        ),
        (
            "schema violation",
            Box::new(|| {
                m.write(
                    "policies/org.cedar",
                    &org.replacen(".permissions.contains", ".permisions.contains", 1),
                )
            }),
        ),
        (
            "deleted schema",
            Box::new(|| std::fs::remove_file(m.path("tollgate.cedarschema")).unwrap()),
        ),
        (
            "deleted catalog",
            Box::new(|| std::fs::remove_file(m.path("plans.toml")).unwrap()),
        ),
        // Each of these is a valid set that would turn alice's 402 into an allow.
        (
            "deleted policy file",
            Box::new(|| std::fs::remove_file(m.path("policies/plan_gates.cedar")).unwrap()),
        ),
        (
            "emptied policy file",
            Box::new(|| m.write("policies/plan_gates.cedar", "")),
        ),
        (
            "a plan gate cut out of its file",
            Box::new(|| m.write("policies/plan_gates.cedar", &gates.replace(audit_gate, ""))),
        ),
    ];
    for (what, breakage) in breakages {
        breakage();
        // Wait for the watcher to try (debounce 200 ms), then also force a reload.
        let start = Instant::now();
        while policies(&app)["last_reload_error"].is_null()
            && start.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let p = policies(&app);
        assert!(
            p["last_reload_error"].is_string(),
            "{what}: the error is shown: {p}"
        );
        if what.contains("policy file") || what.contains("gate") {
            let e = p["last_reload_error"].as_str().unwrap_or_default();
            assert!(
                e.contains("stop enforcing") && e.contains("force=true"),
                "{what}: says what would be dropped and how to accept it: {e}"
            );
        }
        assert_eq!(
            p["version"], version,
            "{what}: the last good set keeps serving"
        );
        let r = app.admin("POST", "/v1/admin/reload", None);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some("RELOAD_REJECTED")),
            "{what}: {}",
            r.raw
        );
        assert_eq!(answers(&app), good, "{what}: decisions unchanged");
        assert_eq!(
            app.call("GET", "/readyz", None, None).status,
            200,
            "{what}: still ready"
        );
        // Repair.
        m.write("policies/org.cedar", &org);
        m.write("policies/plan_gates.cedar", &gates);
        m.write("tollgate.cedarschema", &schema);
        m.write(
            "plans.toml",
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/plans.toml"))
                .unwrap(),
        );
        let r = app.admin("POST", "/v1/admin/reload", None);
        assert_eq!(r.status, 200, "{what}: repaired: {}", r.raw);
        assert!(policies(&app)["last_reload_error"].is_null());
    }
    assert_eq!(answers(&app), good);
    assert_eq!(
        app.call("POST", "/v1/admin/reload", None, None).status,
        401,
        "reload needs the admin token"
    );
}

#[test]
fn a_removed_policy_file_is_loaded_only_when_forced() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let audit = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &audit), "payment_required");
    std::fs::remove_file(m.path("policies/plan_gates.cedar")).unwrap();
    let r = app.admin("POST", "/v1/admin/reload", None);
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (422, Some("RELOAD_REJECTED")),
        "{}",
        r.raw
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("plan_gates.cedar"),
        "{}",
        r.raw
    );
    assert_eq!(
        decision(&app, &audit),
        "payment_required",
        "refused: unchanged"
    );
    let r = app.admin("POST", "/v1/admin/reload?force=maybe", None);
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("MALFORMED_QUERY")),
        "{}",
        r.raw
    );
    assert_eq!(decision(&app, &audit), "payment_required");
    let r = app.admin("POST", "/v1/admin/reload?force=true", None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        decision(&app, &audit),
        "allow",
        "the admin accepted the removal"
    );
    assert!(policies(&app)["last_reload_error"].is_null());
    // The running set no longer has the file, so reloading without it needs no force.
    let r = app.admin("POST", "/v1/admin/reload", None);
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[test]
fn sighup_reloads() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let before = policies(&app)["reloads"].as_u64().unwrap();
    let pid = app.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    while policies(&app)["reloads"].as_u64().unwrap() == before
        && start.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(policies(&app)["reloads"].as_u64().unwrap(), before + 1);
    assert_eq!(
        app.call("GET", "/healthz", None, None).status,
        200,
        "SIGHUP does not stop the daemon"
    );
}

/// Set A permits viewers to create projects and gates it behind a feature free lacks: 402.
/// Set B has neither: 403. A decision that saw half of each would allow; none may.
#[test]
fn concurrent_decisions_during_100_reloads_see_whole_sets() {
    let m = ModelCopy::new();
    let set_a = "@id(\"t.viewer_projects\")\npermit (principal is User, action == Action::\"create_project\", resource is Org)\nwhen { principal has membership && principal.membership.org == resource };\n\n@id(\"t.gate\")\n@gate(\"feature\")\n@feature(\"api_access\")\nforbid (principal, action == Action::\"create_project\", resource is Org)\nunless { resource.plan.features.contains(\"api_access\") };\n";
    let set_b = "@id(\"t.noop\")\npermit (principal is User, action == Action::\"view_org\", resource is Org)\nwhen { principal has membership && principal.membership.org == resource };\n";
    m.write("policies/t.cedar", set_a);
    let app = spawn(&m);
    let r = req("vic", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &r), "payment_required");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let deciders: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = std::collections::BTreeMap::<String, usize>::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let a = app.call("POST", "/v1/authorize", Some(&r), None);
                        assert_eq!(a.status, 200, "{}", a.raw);
                        assert!(a.body["errors"].as_array().unwrap().is_empty(), "{}", a.raw);
                        *seen
                            .entry(a.body["decision"].as_str().unwrap().to_string())
                            .or_default() += 1;
                    }
                    seen
                })
            })
            .collect();
        // Set B drops set A's plan gate, which a reload accepts only when forced. A failed
        // reload ends the loop rather than panicking here, or the deciders would never stop.
        let mut refused = None;
        for i in 0..100 {
            m.write("policies/t.cedar", if i % 2 == 0 { set_b } else { set_a });
            let a = app.admin("POST", "/v1/admin/reload?force=true", None);
            if a.status != 200 {
                refused = Some(a.raw);
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut all = std::collections::BTreeMap::<String, usize>::new();
        for d in deciders {
            for (k, v) in d.join().unwrap() {
                *all.entry(k).or_default() += v;
            }
        }
        assert_eq!(refused, None, "every reload was accepted");
        all
    });
    assert!(
        !seen.contains_key("allow"),
        "a partial set was seen: {seen:?}"
    );
    assert!(
        seen.contains_key("payment_required") && seen.contains_key("deny"),
        "both sets served: {seen:?}"
    );
}
