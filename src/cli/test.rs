//! `tollgate test`: runs policy test files against the model, like `cargo test` runs Rust tests.
//!
//! A test file is YAML: fixtures (orgs with plan, members, invitations, workspaces, custom
//! roles, usage; raw Cedar entities) and cases (a request and the expected answer). Each file
//! gets a fresh temporary store, filled through the same write paths the data API uses, and
//! each case is answered by the same engine the daemon runs.
//!
//! ```yaml
//! orgs:
//!   acme:
//!     plan: free
//!     primary_owner: alice
//!     members: {mia: member}
//! cases:
//!   - name: a member creates a project
//!     principal: User:mia
//!     action: create_project
//!     resource: Org:acme
//!     expect: allow
//!   - name: audit logs need enterprise
//!     principal: User:alice
//!     action: view_audit_logs
//!     resource: Org:acme
//!     expect: payment_required
//!     required_plan: enterprise
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::check::{parse_action, parse_uid};
use super::Exit;
use crate::config::Layer;
use crate::engine::{Ask, DecisionInput, Engine, EngineSettings, Outcome};
use crate::error::{Error, Result};
use crate::http::outcome_name;
use crate::model::Model;
use crate::org::{CustomRoleRow, InvitationRow, WorkspaceAccessRow};
use crate::org::{Limits, OrgUpdate};
use crate::store::{now_unix, Store};

/// Flags of `tollgate test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// Test files, or directories searched for `*.yaml` / `*.yml` [default: policies/tests].
    pub paths: Vec<PathBuf>,
    /// The model to test (and `--config`, read as `serve` reads it).
    #[command(flatten)]
    pub settings: Layer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "a test file may describe itself; nothing reads it"
    )]
    description: Option<String>,
    #[serde(default)]
    orgs: BTreeMap<String, OrgFixture>,
    #[serde(default)]
    entities: Vec<Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFixture {
    plan: Option<String>,
    status: Option<String>,
    primary_owner: String,
    /// Days since the org became `past_due`.
    past_due_days: Option<i64>,
    #[serde(default)]
    members: BTreeMap<String, String>,
    #[serde(default)]
    invitations: BTreeMap<String, InvitationFixture>,
    #[serde(default)]
    workspaces: BTreeMap<String, WorkspaceFixture>,
    #[serde(default)]
    roles: BTreeMap<String, RoleFixture>,
    #[serde(default)]
    usage: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationFixture {
    role: String,
    /// Seconds from now; negative for an expired invitation.
    expires_in: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceFixture {
    #[serde(default)]
    members: BTreeMap<String, WsMemberFixture>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WsMemberFixture {
    #[serde(default = "member")]
    role: String,
    /// Any of can_create_agents, can_modify_policies, can_invite_users, can_view_analytics.
    #[serde(default)]
    permissions: Vec<String>,
}

fn member() -> String {
    "member".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFixture {
    level: i64,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    entities: Vec<Value>,
    expect: Expect,
    #[serde(default)]
    reasons: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    required_plan: Option<Option<String>>,
}

/// Tells an absent `required_plan` (not checked) from `required_plan: null` (checked: none).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Allow,
    Deny,
    PaymentRequired,
}

impl Expect {
    fn outcome(self) -> Outcome {
        match self {
            Expect::Allow => Outcome::Allow,
            Expect::Deny => Outcome::Deny,
            Expect::PaymentRequired => Outcome::PaymentRequired,
        }
    }
}

fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let roots = if paths.is_empty() {
        vec![PathBuf::from("policies/tests")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for p in roots {
        if p.is_dir() {
            let entries = std::fs::read_dir(&p)
                .map_err(|e| Error::io(format!("cannot list `{}`", p.display()), e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
                .collect();
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p);
        } else {
            return Err(Error::Config(format!(
                "no test file or directory at `{}`",
                p.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(Error::Config("no test files found".into()));
    }
    Ok(files)
}

/// Runs `test`: prints one line per case and a `N passed, N failed` summary; 0 when all pass.
pub fn run(args: TestArgs) -> Exit {
    let settings = match super::settings(args.settings.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Failure;
        }
    };
    println!("{}", settings.describe_model());
    let model = match Model::load(&settings.model) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("{e}");
            return Exit::Failure;
        }
    };
    let files = match collect(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut failures = Vec::new();
    for file in files {
        match run_file(&file, &model) {
            Ok(results) => {
                println!("running {} cases from {}", results.len(), file.display());
                for (name, problem) in results {
                    match problem {
                        None => {
                            passed += 1;
                            println!("case {name} ... ok");
                        }
                        Some(diff) => {
                            failed += 1;
                            println!("case {name} ... FAILED");
                            failures
                                .push(format!("---- {} :: {name} ----\n{diff}", file.display()));
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("file {} ... FAILED", file.display());
                failures.push(format!("---- {} ----\n{e}", file.display()));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for f in &failures {
            println!("{f}\n");
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}

fn run_file(path: &Path, model: &Arc<Model>) -> Result<Vec<(String, Option<String>)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))?;
    let file: TestFile = serde_yaml_ng::from_str(&text)
        .map_err(|e| Error::Config(format!("`{}`: {e}", path.display())))?;
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    // Each file gets its own store, so files cannot leak fixtures into one another.
    let store = Store::open(&dir.path().join("test.db"))?;
    let engine = Engine::new(model.clone(), store, EngineSettings::default());
    load_fixtures(&engine, &file)?;
    Ok(file
        .cases
        .iter()
        .map(|case| (case.name.clone(), check_case(&engine, case).err()))
        .collect())
}

/// A fixture number that would overflow a timestamp: an error, not a silently wrapped time.
fn out_of_range(field: &str, value: i64) -> Error {
    Error::Config(format!("fixture `{field}: {value}` is out of range"))
}

fn load_fixtures(engine: &Engine, file: &TestFile) -> Result<()> {
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let now = now_unix();
    let ctx = engine.org_ctx(&model, &template, now);
    let entities = crate::engine::input::parse_entities(&model, &file.entities)?;
    engine.store().write(|w| {
        for (id, o) in &file.orgs {
            crate::org::upsert_org(
                w,
                ctx,
                id,
                OrgUpdate {
                    plan: o.plan.clone(),
                    subscription_status: o.status.clone(),
                    primary_owner: Some(o.primary_owner.clone()),
                    past_due_since: o
                        .past_due_days
                        .map(|d| {
                            d.checked_mul(86_400)
                                .and_then(|s| now.checked_sub(s))
                                .ok_or_else(|| out_of_range("past_due_days", d))
                        })
                        .transpose()?,
                },
                Limits::Override,
            )?;
            for (name, r) in &o.roles {
                crate::org::set_custom_role(
                    w,
                    ctx,
                    id,
                    CustomRoleRow {
                        name: name.clone(),
                        level: r.level,
                        permissions: r.permissions.clone(),
                    },
                    Limits::Override,
                )?;
            }
            for (user, role) in &o.members {
                crate::org::set_member(w, ctx, id, user, role, Limits::Override)?;
            }
            for (inv, f) in &o.invitations {
                let row = InvitationRow {
                    id: inv.clone(),
                    email: format!("{inv}@example.com"),
                    role: f.role.clone(),
                    expires_at: now
                        .checked_add(f.expires_in)
                        .ok_or_else(|| out_of_range("expires_in", f.expires_in))?,
                };
                if f.expires_in > 0 {
                    crate::org::set_invitation(w, ctx, id, row, Limits::Override)?;
                } else {
                    // An already expired invitation cannot be written through the API rules.
                    w.put_invitation(id, &row, now)?;
                }
            }
            for (ws, wf) in &o.workspaces {
                crate::org::set_workspace(w, ctx, id, ws, None, Limits::Override)?;
                for (user, m) in &wf.members {
                    let has = |p: &str| m.permissions.iter().any(|x| x == p);
                    for p in &m.permissions {
                        if ![
                            "can_create_agents",
                            "can_modify_policies",
                            "can_invite_users",
                            "can_view_analytics",
                        ]
                        .contains(&p.as_str())
                        {
                            return Err(Error::Config(format!(
                                "unknown workspace permission `{p}`"
                            )));
                        }
                    }
                    let access = WorkspaceAccessRow {
                        role: m.role.clone(),
                        can_create_agents: has("can_create_agents"),
                        can_modify_policies: has("can_modify_policies"),
                        can_invite_users: has("can_invite_users"),
                        can_view_analytics: has("can_view_analytics"),
                    };
                    crate::org::set_workspace_member(w, ctx, id, ws, user, &access)?;
                }
            }
            for (rt, n) in &o.usage {
                crate::org::set_usage(w, ctx, id, rt, *n)?;
            }
        }
        // After the orgs and workspaces: an entity's org-model parents must exist.
        for e in &entities {
            crate::org::store_entity(w, &model, e)?;
        }
        Ok(())
    })
}

/// Answers one case; `Err` holds an expected/actual diff.
fn check_case(engine: &Engine, case: &Case) -> std::result::Result<(), String> {
    let input = (|| {
        Ok::<_, Error>(DecisionInput {
            principal: parse_uid(&case.principal, "principal")?,
            action: parse_action(&case.action)?,
            resource: parse_uid(&case.resource, "resource")?,
            context: case.context.clone(),
            entities: case.entities.clone(),
            reserve: None,
        })
    })()
    .map_err(|e| format!("the case is invalid: {e}"))?;
    let d = engine.decide(Ask::Input(&input)).map_err(|e| {
        format!(
            "- decision: {}\n+ error: {e}",
            outcome_name(case.expect.outcome())
        )
    })?;
    let mut diff = Vec::new();
    if d.outcome != case.expect.outcome() {
        diff.push(format!(
            "- decision: {}\n+ decision: {}",
            outcome_name(case.expect.outcome()),
            outcome_name(d.outcome)
        ));
    }
    if let Some(want) = &case.reasons {
        let mut want = want.clone();
        want.sort();
        if want != d.reasons {
            diff.push(format!("- reasons: {want:?}\n+ reasons: {:?}", d.reasons));
        }
    }
    if let Some(want) = &case.required_plan {
        let got = d.payment.as_ref().and_then(|p| p.required_plan.clone());
        if *want != got {
            diff.push(format!(
                "- required_plan: {want:?}\n+ required_plan: {got:?}"
            ));
        }
    }
    if diff.is_empty() {
        Ok(())
    } else {
        if !d.errors.is_empty() {
            diff.push(format!("  errors: {:?}", d.errors));
        }
        if !d.reasons.is_empty() && case.reasons.is_none() {
            diff.push(format!("  reasons: {:?}", d.reasons));
        }
        Err(diff.join("\n"))
    }
}
