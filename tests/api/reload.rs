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
    let app = TestApp::process_with(
        &m.args().iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    let before = policies(&app);
    let checks = before["reload_checks"].as_u64().unwrap();
    let pid = app.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    while policies(&app)["reload_checks"].as_u64().unwrap() == checks
        && start.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = policies(&app);
    assert_eq!(after["reload_checks"].as_u64().unwrap(), checks + 1);
    assert_eq!(
        after["reloads"], before["reloads"],
        "nothing changed, so nothing was swapped"
    );
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

/// Writes a file in place (truncate, then write), as `>` in a shell or some editors do: the
/// inode stays, and a watcher sees a truncation and a write.
fn write_in_place(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Waits until `/v1/policies` shows a reload error (the watcher tried), or 2 s.
fn wait_for_error(app: &TestApp) -> String {
    let start = Instant::now();
    loop {
        let p = policies(app);
        if let Some(e) = p["last_reload_error"].as_str() {
            return e.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "no reload error shown: {p}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The guard compares the forbids themselves: a reload that drops or changes a forbid of the
/// running set is refused unless forced, and names each one; a reload that only changes
/// permits always loads, so revoking a grant (deleting a file of permits) takes effect.
#[test]
fn the_reload_guard_refuses_lost_forbids_and_never_blocks_a_revocation() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let gates = m.read("policies/plan_gates.cedar");
    // Owner promoting a member into the full admin bucket (free: 1 of 1): 402.
    app.member("acme", "mia", "member");
    let promote = req(
        "alice",
        "update_member_role",
        ("User", "mia"),
        json!({"org": {"type": "Org", "id": "acme"}, "new_role": "admin"}),
    );
    assert_eq!(decision(&app, &promote), "payment_required");
    let version = policies(&app)["version"].clone();

    // 1. Truncated in place to a valid prefix: both role-change gates are gone.
    let cut = gates.find("@id(\"gate.seat.admin.role_change\")").unwrap();
    write_in_place(&m.path("policies/plan_gates.cedar"), &gates[..cut]);
    let e = wait_for_error(&app);
    for id in [
        "gate.seat.admin.role_change",
        "gate.seat.member.role_change",
    ] {
        assert!(e.contains(id), "names `{id}`: {e}");
    }
    assert!(e.contains("force=true"), "{e}");
    assert_eq!(policies(&app)["version"], version, "refused");
    assert_eq!(decision(&app, &promote), "payment_required");
    write_in_place(&m.path("policies/plan_gates.cedar"), &gates);
    assert_eq!(app.admin("POST", "/v1/admin/reload", None).status, 200);

    // 2. A forbid changed (weakened) by an atomic rename: refused, named.
    let weakened = gates.replace(
        "context.org.getTag(\"seat:admin\") + 1 <= context.org.plan.getTag(\"seat:admin\")",
        "context.org.getTag(\"seat:admin\") <= context.org.plan.getTag(\"seat:admin\")",
    );
    assert_ne!(weakened, gates);
    m.write("policies/plan_gates.cedar", &weakened);
    let e = wait_for_error(&app);
    assert!(e.contains("gate.seat.admin.role_change"), "{e}");
    assert!(
        !e.contains("gate.seat.member.role_change"),
        "only what changed: {e}"
    );
    assert_eq!(decision(&app, &promote), "payment_required");
    m.write("policies/plan_gates.cedar", &gates);
    assert_eq!(app.admin("POST", "/v1/admin/reload", None).status, 200);

    // 3. A forbid without a gate annotation deleted from its file: refused too.
    let org = m.read("policies/org.cedar");
    let start = org.find("@id(\"org.bulk_invite.count_positive\")").unwrap();
    let end = start + org[start..].find("};").unwrap() + 2;
    m.write(
        "policies/org.cedar",
        &format!("{}{}", &org[..start], &org[end..]),
    );
    let e = wait_for_error(&app);
    assert!(e.contains("org.bulk_invite.count_positive"), "{e}");
    m.write("policies/org.cedar", &org);
    assert_eq!(app.admin("POST", "/v1/admin/reload", None).status, 200);

    // 4. A grant added, then revoked by deleting its file (only permits): both load.
    let vic = req("vic", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &vic), "deny");
    m.write(
        "policies/zz_grant.cedar",
        "@id(\"local.viewer_projects\")\npermit (principal is User, action == Action::\"create_project\", resource is Org)\nwhen { principal has membership && principal.membership.org == resource };\n",
    );
    assert!(eventually(&app, &vic, "allow", Duration::from_secs(2)));
    std::fs::remove_file(m.path("policies/zz_grant.cedar")).unwrap();
    assert!(
        eventually(&app, &vic, "deny", Duration::from_secs(2)),
        "the revocation took effect: {}",
        policies(&app)
    );
    assert!(policies(&app)["last_reload_error"].is_null());
    // A permit edited in place (narrowed): loads at once as well.
    let members = m.read("policies/members.cedar");
    write_in_place(
        &m.path("policies/members.cedar"),
        &members.replace("@id(\"member.remove\")", "@id(\"member.remove.v2\")"),
    );
    assert!(
        (0..40).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            policies(&app)["policy_ids"]
                .as_array()
                .unwrap()
                .contains(&json!("member.remove.v2"))
        }),
        "{}",
        policies(&app)
    );
    // 5. Forced, the removal of a forbid is accepted.
    write_in_place(&m.path("policies/plan_gates.cedar"), &gates[..cut]);
    wait_for_error(&app);
    let r = app.admin("POST", "/v1/admin/reload?force=true", None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(decision(&app, &promote), "allow");
}

/// The watcher reacts to content changes only: no reload, and no cache flush, while nothing
/// changes — not after an edit, not after `POST /v1/admin/reload`, not after SIGHUP.
#[test]
fn nothing_reloads_without_a_change() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let plans = m.read("plans.toml");
    m.write(
        "plans.toml",
        &plans.replacen("\"seat:total\" = 3", "\"seat:total\" = 4", 1),
    );
    let start = Instant::now();
    while policies(&app)["reloads"].as_u64().unwrap() == 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "the edit loads");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = app.admin("POST", "/v1/admin/reload", None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["changed"], json!(false), "{}", r.raw);
    let after = policies(&app);
    std::thread::sleep(Duration::from_secs(3));
    let later = policies(&app);
    assert_eq!(later["reloads"], after["reloads"], "{after} then {later}");
    assert_eq!(later["reloads"], json!(1), "{later}");
    assert_eq!(later["version"], after["version"]);
    // A forced reload of the same files changes nothing either.
    let r = app.admin("POST", "/v1/admin/reload?force=true", None);
    assert_eq!(r.body["changed"], json!(false), "{}", r.raw);
    assert_eq!(policies(&app)["reloads"], json!(1));
}

/// A policy directory, schema and catalog in Kubernetes ConfigMap layout: the files are
/// symlinks through `..data`, which points to a timestamped directory and is swapped
/// atomically to a new one on update. The swap is reloaded, the new targets are followed, and
/// the `..` entries are never read as policies.
#[test]
fn a_configmap_swap_is_reloaded() {
    use std::os::unix::fs::symlink;
    let src = ModelCopy::new();
    let root = tempfile::tempdir().unwrap();
    let pol = root.path().join("policies");
    let cfg = root.path().join("config");
    let version = |dir: &std::path::Path, name: &str, files: &[(&str, String)]| {
        let v = dir.join(name);
        std::fs::create_dir_all(&v).unwrap();
        for (f, text) in files {
            std::fs::write(v.join(f), text).unwrap();
        }
    };
    let cedar: Vec<(&str, String)> = [
        "org.cedar",
        "members.cedar",
        "workspaces.cedar",
        "resources.cedar",
        "plan_gates.cedar",
    ]
    .iter()
    .map(|f| (*f, src.read(&format!("policies/{f}"))))
    .collect();
    let plans = src.read("plans.toml");
    let schema = src.read("tollgate.cedarschema");
    version(&pol, "..2026_12_01_v1", &cedar);
    version(
        &cfg,
        "..2026_12_01_v1",
        &[
            ("plans.toml", plans.clone()),
            ("tollgate.cedarschema", schema.clone()),
        ],
    );
    for (dir, files) in [
        (&pol, cedar.iter().map(|(f, _)| *f).collect::<Vec<_>>()),
        (&cfg, vec!["plans.toml", "tollgate.cedarschema"]),
    ] {
        symlink("..2026_12_01_v1", dir.join("..data")).unwrap();
        for f in files {
            symlink(format!("..data/{f}"), dir.join(f)).unwrap();
        }
    }
    let args: Vec<String> = vec![
        "--policies".into(),
        pol.display().to_string(),
        "--schema".into(),
        cfg.join("tollgate.cedarschema").display().to_string(),
        "--plans".into(),
        cfg.join("plans.toml").display().to_string(),
    ];
    let app = TestApp::spawn_owned(args, &[]);
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    let p = policies(&app);
    assert_eq!(
        p["files"].as_array().unwrap().len(),
        7,
        "no `..` entry is a policy file: {p}"
    );
    let vic = req("vic", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &vic), "deny");
    let swap = |dir: &std::path::Path, name: &str| {
        symlink(name, dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    };
    // v2 of the catalog gives viewers `projects.create`: only the config dir is swapped.
    version(
        &cfg,
        "..2026_12_01_v2",
        &[
            (
                "plans.toml",
                plans.replace(
                    "permissions = [\"org.read\"]",
                    "permissions = [\"org.read\", \"projects.create\"]",
                ),
            ),
            ("tollgate.cedarschema", schema.clone()),
        ],
    );
    swap(&cfg, "..2026_12_01_v2");
    std::fs::remove_dir_all(cfg.join("..2026_12_01_v1")).unwrap();
    assert!(
        eventually(&app, &vic, "allow", Duration::from_secs(2)),
        "the catalog swap loaded: {}",
        policies(&app)
    );
    // v2 of the policies adds a forbid for viewers: the policy dir swapped.
    let mut cedar2 = cedar.clone();
    cedar2.push((
        "zz_local.cedar",
        "@id(\"local.no_viewer_projects\")\nforbid (principal is User, action == Action::\"create_project\", resource is Org)\nwhen { principal has membership && principal.membership.role == \"viewer\" };\n".to_string(),
    ));
    version(&pol, "..2026_12_01_v2", &cedar2);
    swap(&pol, "..2026_12_01_v2");
    symlink("..data/zz_local.cedar", pol.join("zz_local.cedar")).unwrap();
    std::fs::remove_dir_all(pol.join("..2026_12_01_v1")).unwrap();
    assert!(
        eventually(&app, &vic, "deny", Duration::from_secs(2)),
        "the policy swap loaded: {}",
        policies(&app)
    );
    // And the catalog's new target is watched: a v3 swap is seen as well.
    version(
        &cfg,
        "..2026_12_01_v3",
        &[
            ("plans.toml", plans.clone()),
            ("tollgate.cedarschema", schema),
        ],
    );
    swap(&cfg, "..2026_12_01_v3");
    let logs = req("alice", "view_audit_logs", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &logs), "payment_required");
    let start = Instant::now();
    while policies(&app)["reloads"].as_u64().unwrap() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{}",
            policies(&app)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        policies(&app)["last_reload_error"].is_null(),
        "{}",
        policies(&app)
    );
}

/// A forbid's text can stay the same while the schema takes actions out of its scope (an
/// action group it names no longer holds them): that reload drops the forbid for those
/// actions, so it is refused like a dropped forbid, and names the action.
#[test]
fn a_schema_that_narrows_a_forbids_scope_is_refused() {
    let m = ModelCopy::new();
    let schema = m.read("tollgate.cedarschema");
    let grouped = schema.replacen(
        "action view_org, view_subscription_usage,",
        "action danger;\naction view_org in [danger] appliesTo { principal: User, resource: Org };\naction view_subscription_usage,",
        1,
    );
    assert_ne!(grouped, schema, "the test edits the schema");
    m.write("tollgate.cedarschema", &grouped);
    m.write(
        "policies/zz_danger.cedar",
        "@id(\"local.no_danger_for_viewers\")\nforbid (principal, action in Action::\"danger\", resource is Org)\nwhen { principal has membership && principal.membership.role == \"viewer\" };\n",
    );
    let app = spawn(&m);
    let vic = req("vic", "view_org", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &vic), "deny");
    let ungrouped = grouped.replace(
        "action view_org in [danger] appliesTo",
        "action view_org appliesTo",
    );
    m.write("tollgate.cedarschema", &ungrouped);
    let e = wait_for_error(&app);
    assert!(
        e.contains("local.no_danger_for_viewers") && e.contains("view_org"),
        "{e}"
    );
    assert_eq!(
        decision(&app, &vic),
        "deny",
        "refused: the forbid still applies"
    );
    let r = app.admin("POST", "/v1/admin/reload?force=true", None);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(decision(&app, &vic), "allow", "forced");
}

/// The policy directory replaced by a rename (`mv policies.new policies`): reloaded, and the
/// new directory is watched from then on (a later edit in it is seen too).
#[test]
fn a_policy_directory_replaced_by_a_rename_stays_watched() {
    let m = ModelCopy::new();
    let app = spawn(&m);
    let vic = req("vic", "create_project", ("Org", "acme"), json!({}));
    assert_eq!(decision(&app, &vic), "deny");
    let dir = m.path("policies");
    let next = m.path("policies.new");
    std::fs::create_dir(&next).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, next.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        next.join("zz_grant.cedar"),
        "@id(\"local.viewer_projects\")\npermit (principal is User, action == Action::\"create_project\", resource is Org)\nwhen { principal has membership && principal.membership.org == resource };\n",
    )
    .unwrap();
    std::fs::rename(&dir, m.path("policies.old")).unwrap();
    std::fs::rename(&next, &dir).unwrap();
    assert!(
        eventually(&app, &vic, "allow", Duration::from_secs(2)),
        "the swapped directory loaded: {}",
        policies(&app)
    );
    std::fs::remove_file(dir.join("zz_grant.cedar")).unwrap();
    assert!(
        eventually(&app, &vic, "deny", Duration::from_secs(2)),
        "an edit in the new directory is seen: {}",
        policies(&app)
    );
}
