//! The admin's command-line tools on good and bad inputs: exit codes and messages.

use serde_json::{json, Value};

use crate::helpers::{run_cli, ModelCopy, TestApp};

#[test]
fn validate_accepts_the_default_model_with_a_summary() {
    let (code, out, err) = run_cli(&["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        "ok: 38 policies, 7 entity types, 27 actions, 4 tiers"
    );
    // The reverse check: catalog features no policy names are warnings, not errors.
    assert!(err.contains("warning: the feature `api_access`"), "{err}");
    let m = ModelCopy::new();
    let args: Vec<String> = std::iter::once("validate".to_string())
        .chain(m.args())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run_cli(&args).0, 0);
}

fn validate(m: &ModelCopy) -> (i32, String, String) {
    let args: Vec<String> = std::iter::once("validate".to_string())
        .chain(m.args())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cli(&args)
}

/// `validate` and `test` read `--config` as `serve` does: the model they check is the one the
/// daemon started with that file would load.
#[test]
fn validate_and_test_read_the_daemons_config_file() {
    let m = ModelCopy::new();
    m.write(
        "policies/zz.cedar",
        "permit(principal, action, resource);\nforbid(principal action, resource);\n",
    );
    let cfg = m.path("tollgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "policies = {:?}\nschema = {:?}\nplans = {:?}\n",
            m.path("policies"),
            m.path("tollgate.cedarschema"),
            m.path("plans.toml")
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let (code, _, err) = run_cli(&["validate", "--config", cfg]);
    assert_eq!(
        code, 1,
        "the broken file under the configured directory: {err}"
    );
    assert!(err.contains("zz.cedar:2:18"), "{err}");
    let (code, out, _) = run_cli(&["test", "--config", cfg, "policies/tests"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&m.path("policies").display().to_string()),
        "{out}"
    );
    std::fs::remove_file(m.path("policies/zz.cedar")).unwrap();
    assert_eq!(run_cli(&["validate", "--config", cfg]).0, 0);
}

#[test]
fn validate_reports_file_line_column_and_caret() {
    let m = ModelCopy::new();
    // A syntax error.
    m.write(
        "policies/zz.cedar",
        "permit(principal, action, resource);\nforbid(principal action, resource);\n",
    );
    let (code, out, err) = validate(&m);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("zz.cedar:2:18"), "{err}");
    assert!(err.contains("unexpected token `action`"), "{err}");
    assert!(
        err.contains('┬') || err.contains('^'),
        "a caret excerpt: {err}"
    );
    assert!(err.contains("validation failed"));
    std::fs::remove_file(m.path("policies/zz.cedar")).unwrap();

    // A schema violation: a misspelt attribute, with Cedar's suggestion.
    let org = m.read("policies/org.cedar");
    m.write(
        "policies/org.cedar",
        &org.replacen(
            "permissions.contains(\"org.read\")",
            "permisions.contains(\"org.read\")",
            1,
        ),
    );
    let (code, _, err) = validate(&m);
    assert_eq!(code, 1);
    assert!(err.contains("org.cedar:14:3"), "{err}");
    assert!(err.contains("did you mean `permissions`?"), "{err}");
    m.write("policies/org.cedar", &org);

    // A policy naming a feature the catalog lacks.
    let gates = m.read("policies/plan_gates.cedar");
    m.write(
        "policies/plan_gates.cedar",
        &gates.replace("\"audit_logs\"", "\"audit_log\""),
    );
    let (code, _, err) = validate(&m);
    assert_eq!(code, 1);
    assert!(err.contains("feature `audit_log`"), "{err}");
    assert!(
        err.contains("plan_gates.cedar:22: policy `gate.feature.audit_logs` names"),
        "the error points at the policy: {err}"
    );
    m.write("policies/plan_gates.cedar", &gates);

    // A broken catalog and a missing schema.
    let plans = m.read("plans.toml");
    m.write(
        "plans.toml",
        &plans.replace("[[tiers]]\nname = \"free\"", "[[tiers]]\nnam = \"free\""),
    );
    let (code, _, err) = validate(&m);
    assert_eq!(code, 1);
    assert!(err.contains("plans.toml"), "{err}");
    m.write("plans.toml", &plans);
    std::fs::remove_file(m.path("tollgate.cedarschema")).unwrap();
    let (code, _, err) = validate(&m);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn test_runs_the_shipped_policy_tests() {
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/tests");
    let (code, out, err) = run_cli(&["test", tests]);
    assert_eq!(code, 0, "{out}{err}");
    let last = out.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{last}");
    assert!(
        out.contains("case primary owner delete_org ... ok"),
        "{out}"
    );
    // Without flags the embedded model is tested, and the first line says so.
    assert!(
        out.starts_with("model: embedded policies, embedded schema, embedded plan catalog (pass"),
        "{out}"
    );
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let (code, out, err) = run_cli(&["test", tests, "--policies", policies]);
    assert_eq!(code, 0, "{out}{err}");
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        format!("model: {policies}, embedded schema, embedded plan catalog"),
        "the files under test are named"
    );
}

#[test]
fn test_reports_a_failing_case_with_a_diff_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(
        &file,
        r#"
orgs:
  acme: {plan: free, primary_owner: alice, members: {mia: member}}
cases:
  - name: right
    principal: User:mia
    action: view_org
    resource: Org:acme
    expect: allow
  - name: wrong on purpose
    principal: User:mia
    action: view_audit_logs
    resource: Org:acme
    expect: payment_required
    required_plan: enterprise
"#,
    )
    .unwrap();
    let (code, out, _) = run_cli(&["test", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("case right ... ok"), "{out}");
    assert!(out.contains("case wrong on purpose ... FAILED"), "{out}");
    assert!(
        out.contains("- decision: payment_required\n+ decision: deny"),
        "{out}"
    );
    assert!(
        out.contains("- required_plan: Some(\"enterprise\")\n+ required_plan: None"),
        "{out}"
    );
    assert_eq!(out.lines().last().unwrap(), "1 passed, 1 failed");
    // A malformed file is a failure, not a pass.
    std::fs::write(&file, "cases: [{name: x, principal: 3}]").unwrap();
    let (code, out, _) = run_cli(&["test", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().last().unwrap(), "0 passed, 1 failed");
    // A fixture time that would overflow is refused, not wrapped into the past.
    std::fs::write(
        &file,
        "orgs: {acme: {plan: free, primary_owner: alice, \
         invitations: {i: {role: member, expires_in: 9223372036854775807}}}}\ncases: []\n",
    )
    .unwrap();
    let (code, out, err) = run_cli(&["test", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        format!("{out}{err}").contains("`expires_in: 9223372036854775807` is out of range"),
        "{out}{err}"
    );
}

#[test]
fn check_answers_and_explains_against_a_store_file() {
    let app = TestApp::spawn();
    app.org("acme", "free", "alice");
    app.member("acme", "mia", "member");
    let db = app.db_path();
    let db = db.to_str().unwrap();
    let (code, out, _) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "User:mia",
        "--action",
        "view_org",
        "--resource",
        "Org:acme",
    ]);
    assert_eq!(code, 0, "{out}");
    let answer: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(answer["decision"], "allow");
    assert_eq!(answer["reasons"], json!(["org.read"]));

    let (code, out, _) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "User::\"alice\"",
        "--action",
        "view_audit_logs",
        "--resource",
        "Org::\"acme\"",
        "--explain",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("decision: payment_required (402)"), "{out}");
    assert!(
        out.contains("gate.feature.audit_logs  (plan_gates.cedar:"),
        "{out}"
    );
    assert!(out.contains("plan gate: feature `audit_logs`"), "{out}");
    assert!(out.contains("allowed under: `enterprise`"), "{out}");
    // The daemon's upgrade URL setting is honoured, so `check` answers what `serve` answers.
    let (code, out, _) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "User:alice",
        "--action",
        "view_audit_logs",
        "--resource",
        "Org:acme",
        "--upgrade-url",
        "https://billing.example/{org}/upgrade",
    ]);
    assert_eq!(code, 3, "{out}");
    let answer: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        answer["payment"]["upgrade_url"], "https://billing.example/acme/upgrade",
        "{out}"
    );
    // And `--config`, the daemon's own file: the same settings, read the same way.
    let cfg = app.dir.path().join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!("db = {db:?}\nupgrade_url = \"https://from.config/{{org}}/{{plan}}\"\n"),
    )
    .unwrap();
    let (code, out, _) = run_cli(&[
        "check",
        "--config",
        cfg.to_str().unwrap(),
        "--principal",
        "User:alice",
        "--action",
        "view_audit_logs",
        "--resource",
        "Org:acme",
    ]);
    assert_eq!(code, 3, "{out}");
    let answer: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        answer["payment"]["upgrade_url"], "https://from.config/acme/enterprise",
        "{out}"
    );
    // So is the past-due grace: an enterprise org 3 days past due keeps its plan for the
    // catalog's 7 days, and loses it under a 2-day grace.
    app.ok(
        "PUT",
        "/v1/orgs/late",
        json!({"plan": "enterprise", "primary_owner": "lee", "subscription_status": "past_due",
               "past_due_since": crate::helpers::in_secs(-3 * 86_400)}),
    );
    let audit = |extra: &[&str]| {
        let mut a = vec![
            "check",
            "--db",
            db,
            "--principal",
            "User:lee",
            "--action",
            "view_audit_logs",
            "--resource",
            "Org:late",
        ];
        a.extend_from_slice(extra);
        run_cli(&a).0
    };
    assert_eq!(audit(&[]), 0, "within the catalog's grace");
    assert_eq!(
        audit(&["--past-due-grace-days", "2"]),
        3,
        "past a 2-day grace"
    );

    let (code, out, _) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "User:mia",
        "--action",
        "invite_user",
        "--resource",
        "Org:acme",
        "--context",
        r#"{"role": "member"}"#,
        "--explain",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no policy permits it"), "{out}");

    let (code, out, _) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "User:alice",
        "--action",
        "invite_user",
        "--resource",
        "Org:acme",
        "--context",
        r#"{"role": "admin"}"#,
        "--explain",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("usage:    seat:admin 1 of 1"), "{out}");

    let (code, _, err) = run_cli(&[
        "check",
        "--db",
        "/nonexistent/x.db",
        "--principal",
        "User:a",
        "--action",
        "view_org",
        "--resource",
        "Org:a",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no database"), "{err}");
    let (code, _, err) = run_cli(&[
        "check",
        "--db",
        db,
        "--principal",
        "alice",
        "--action",
        "view_org",
        "--resource",
        "Org:acme",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("must look like"), "{err}");
}

#[test]
fn import_loads_json_lines_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let data = dir.path().join("d.jsonl");
    let good = [
        json!({"org": {"id": "acme", "plan": "starter", "primary_owner": "alice"}}),
        json!({"member": {"org": "acme", "user": "bob", "role": "admin"}}),
        json!({"invitation": {"org": "acme", "id": "i1", "email": "c@x.io", "role": "member", "expires_at": "2099-01-01T00:00:00Z"}}),
        json!({"workspace": {"org": "acme", "id": "ws1", "name": "One"}}),
        json!({"workspace_member": {"workspace": "ws1", "user": "bob", "permissions": {"can_create_agents": true}}}),
        json!({"role": {"org": "acme", "name": "auditor", "level": 35, "permissions": ["audit.read"]}}),
        json!({"member": {"org": "acme", "user": "aud", "role": "auditor"}}),
        json!({"usage": {"org": "acme", "resource_type": "quota:project", "current": 4}}),
        json!({"entity": {"uid": {"type": "Project", "id": "p1"}, "attrs": {}, "parents": [{"type": "Org", "id": "acme"}]}}),
    ];
    let text: String = good.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&data, &text).unwrap();
    let (code, out, err) = run_cli(&[
        "import",
        data.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 9 records"), "{out}");
    let (code, out, _) = check_against(&db, "User:bob", "create_agent", "Workspace:ws1");
    assert_eq!(code, 0, "{out}");

    // A bad line aborts the whole file: nothing of it is written.
    let db2 = dir.path().join("t2.db");
    let bad = format!(
        "{text}{}\n",
        json!({"member": {"org": "acme", "user": "zed", "role": "wizard"}})
    );
    std::fs::write(&data, bad).unwrap();
    let (code, _, err) = run_cli(&[
        "import",
        data.to_str().unwrap(),
        "--db",
        db2.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("line 10") && err.contains("wizard"), "{err}");
    let (code, out, _) = check_against(&db2, "User:alice", "view_org", "Org:acme");
    assert_eq!(code, 2, "the org of line 1 was not kept: {out}");
    std::fs::write(&data, "{\"org\": {\"id\": \"x\"}}\n").unwrap();
    assert_eq!(
        run_cli(&[
            "import",
            data.to_str().unwrap(),
            "--db",
            db2.to_str().unwrap()
        ])
        .0,
        1
    );
}

/// `tollgate check` of one request against a store file: (exit code, stdout, stderr).
fn check_against(
    db: &std::path::Path,
    principal: &str,
    action: &str,
    resource: &str,
) -> (i32, String, String) {
    run_cli(&[
        "check",
        "--db",
        db.to_str().unwrap(),
        "--principal",
        principal,
        "--action",
        action,
        "--resource",
        resource,
    ])
}

/// `tollgate import` applies the data API's org rules (one set of rules, `store::org`):
/// a line that the API would refuse aborts the import, naming its line, and writes nothing.
/// Only plan limits are not enforced: an import restores data.
#[test]
fn import_applies_the_data_api_rules() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    let base = [
        json!({"org": {"id": "acme", "plan": "free", "primary_owner": "alice"}}),
        json!({"workspace": {"org": "acme", "id": "ws1"}}),
    ];
    let import = |db: &std::path::Path, extra: &[Value]| {
        let text: String = base.iter().chain(extra).map(|l| format!("{l}\n")).collect();
        std::fs::write(&data, text).unwrap();
        run_cli(&[
            "import",
            data.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
    };
    let refused = [
        (
            json!({"member": {"org": "acme", "user": "alice", "role": "viewer"}}),
            "primary owner",
        ),
        (
            json!({"invitation": {"org": "acme", "id": "i1", "email": "c@x.io", "role": "member", "expires_at": "2001-01-01T00:00:00Z"}}),
            "already past",
        ),
        (
            json!({"entity": {"uid": {"type": "Project", "id": "p1"}, "attrs": {}, "parents": [{"type": "Workspace", "id": "nowhere"}]}}),
            "does not exist",
        ),
        (
            json!({"workspace_member": {"workspace": "ws1", "user": "stranger"}}),
            "member",
        ),
        (
            json!({"role": {"org": "acme", "name": "boss", "level": 5, "permissions": []}}),
            "below owners",
        ),
        (
            json!({"member": {"org": "acme", "user": "bob", "role": "wizard"}}),
            "wizard",
        ),
        (json!({"workspace": {"org": "other", "id": "ws2"}}), "other"),
        (
            json!({"usage": {"org": "acme", "resource_type": "seat:total", "current": 1}}),
            "counts",
        ),
    ];
    // A key twice in a line: refused, not "the last one wins".
    let db = dir.path().join("dup.db");
    let text: String = base.iter().map(|l| format!("{l}\n")).collect::<String>()
        + r#"{"member": {"org": "acme", "user": "bob", "role": "admin", "role": "viewer"}}"#
        + "\n";
    std::fs::write(&data, text).unwrap();
    let (code, _, err) = run_cli(&[
        "import",
        data.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 3") && err.contains("twice"), "{err}");
    for (i, (line, why)) in refused.iter().enumerate() {
        let db = dir.path().join(format!("r{i}.db"));
        let (code, out, err) = import(&db, std::slice::from_ref(line));
        assert_eq!(code, 1, "{line}: accepted: {out}");
        assert!(err.contains("line 3") && err.contains(why), "{line}: {err}");
        let (code, out, _) = check_against(&db, "User:alice", "view_org", "Org:acme");
        assert_eq!(code, 2, "{line}: the org of line 1 was not kept: {out}");
    }
    // Limits are not enforced, and the whole import is one audit record.
    let db = dir.path().join("ok.db");
    let members: Vec<Value> = (0..6)
        .map(|i| json!({"member": {"org": "acme", "user": format!("u{i}"), "role": "admin"}}))
        .collect();
    let (code, out, err) = import(&db, &members);
    assert_eq!(code, 0, "{out}{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let audits: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audits, 1);
}
