//! `tollgate import FILE`: bulk-loads JSON lines (orgs, members, invitations, workspaces,
//! workspace members, custom roles, usage, raw Cedar entities) in one transaction.
//!
//! One record per line, one key per record:
//!
//! ```text
//! {"org": {"id": "acme", "plan": "starter", "status": "active", "primary_owner": "alice"}}
//! {"member": {"org": "acme", "user": "bob", "role": "admin"}}
//! {"invitation": {"org": "acme", "id": "i1", "email": "c@x.io", "role": "member", "expires_at": "2030-01-01T00:00:00Z"}}
//! {"workspace": {"org": "acme", "id": "ws1", "name": "One"}}
//! {"workspace_member": {"workspace": "ws1", "user": "bob", "role": "member", "permissions": {"can_create_agents": true}}}
//! {"role": {"org": "acme", "name": "auditor", "level": 35, "permissions": ["audit.read"]}}
//! {"usage": {"org": "acme", "resource_type": "quota:project", "current": 4}}
//! {"entity": {"uid": {"type": "Project", "id": "p1"}, "attrs": {}, "parents": []}}
//! ```
//!
//! The import is all or nothing: a bad line aborts it with its line number and writes nothing.
//! Every record goes through the same org rules as the data API (`store::org`): roles must
//! exist, the primary owner stays an owner, workspace ids are global, workspace members must
//! be org members, expired invitations and Tollgate-counted usage are refused, entities'
//! parents must exist. Only the plan's limits and features are not enforced (`Limits::Override`):
//! an import restores data, it does not sell seats. One audit record stands for the import.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::Exit;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::config::Layer;
use crate::engine::Engine;
use crate::error::{Code, Error, Result};
use crate::model::Model;
use crate::org::{CustomRoleRow, InvitationRow, WorkspacePermissions};
use crate::org::{Limits, OrgCtx, OrgUpdate};
use crate::store::{now_unix, Store, Writer};

/// Flags of `tollgate import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// JSON-lines file to load (`-` for standard input).
    pub file: PathBuf,
    /// The store, model and plan settings, read exactly as `serve` reads them.
    #[command(flatten)]
    pub settings: Layer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Record {
    Org(OrgRec),
    Member(MemberRec),
    Invitation(InvitationRec),
    Workspace(WorkspaceRec),
    WorkspaceMember(WsMemberRec),
    Role(RoleRec),
    Usage(UsageRec),
    Entity(Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRec {
    id: String,
    plan: Option<String>,
    status: Option<String>,
    primary_owner: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberRec {
    org: String,
    user: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationRec {
    org: String,
    id: String,
    email: String,
    role: String,
    expires_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceRec {
    org: String,
    id: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WsMemberRec {
    workspace: String,
    user: String,
    #[serde(default = "member")]
    role: String,
    #[serde(default)]
    permissions: WorkspacePermissions,
}

fn member() -> String {
    "member".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRec {
    org: String,
    name: String,
    level: i64,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageRec {
    org: String,
    resource_type: String,
    current: i64,
}

/// Runs `import`: 0 when everything was loaded, 1 when nothing was.
pub fn run(args: ImportArgs) -> Exit {
    match import(&args) {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was imported");
            Exit::Failure
        }
    }
}

fn import(args: &ImportArgs) -> Result<()> {
    let settings = super::settings(args.settings.clone())?;
    let model = Model::load(&settings.model)?;
    let store = Store::open(&settings.db)?;
    let engine = Engine::new(model, store, settings.engine);
    let model = engine.model();
    let (reader, size): (Box<dyn BufRead>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let f = std::fs::File::open(&args.file)
            .map_err(|e| Error::io(format!("cannot open `{}`", args.file.display()), e))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            size,
        )
    };
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let now = now_unix();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let template = engine.upgrade_template(&model);
    let ctx = engine.org_ctx(&model, &template, now);
    engine.store().write_bulk(|w| {
        for (i, line) in reader.lines().enumerate() {
            let n = i + 1;
            let line = line.map_err(|e| Error::io(format!("line {n}"), e))?;
            bar.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |m: String| Error::new(Code::InvalidImport, format!("line {n}: {m}"));
            let rec: Record = crate::strict_json::parse(line.as_bytes())
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| Error::new(Code::InvalidImport, e.to_string()))
                })
                .map_err(|e| bad(e.to_string()))?;
            let kind = record(w, ctx, &model, rec).map_err(|e| match e {
                Error::Rejected { .. } | Error::PaymentRequired(_) => bad(e.to_string()),
                other => other,
            })?;
            *counts.entry(kind).or_default() += 1;
        }
        let detail = serde_json::to_value(&counts).map_err(|e| Error::Internal(e.to_string()))?;
        audit::append(
            w,
            AuditRecord {
                org: None,
                action: AuditAction::Import,
                target: args.file.display().to_string(),
                detail,
                at: now,
            },
        )
    })?;
    bar.finish_and_clear();
    let total: u64 = counts.values().sum();
    let secs = started.elapsed().as_secs_f64();
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "imported {total} records ({}) in {secs:.1} s: {:.0} records/s",
        parts.join(", "),
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Applies one record through the org rules; returns its kind, for the summary.
fn record(w: &Writer<'_>, ctx: OrgCtx<'_>, model: &Model, rec: Record) -> Result<&'static str> {
    Ok(match rec {
        Record::Org(o) => {
            let update = OrgUpdate {
                plan: o.plan,
                subscription_status: o.status,
                primary_owner: Some(o.primary_owner),
                past_due_since: None,
            };
            crate::org::upsert_org(w, ctx, &o.id, update, Limits::Override)?;
            "orgs"
        }
        Record::Member(m) => {
            crate::org::set_member(w, ctx, &m.org, &m.user, &m.role, Limits::Override)?;
            "members"
        }
        Record::Invitation(inv) => {
            let expires_at = time::OffsetDateTime::parse(
                &inv.expires_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| Error::new(Code::InvalidTime, format!("`expires_at`: {e}")))?
            .unix_timestamp();
            let row = InvitationRow {
                id: inv.id,
                email: inv.email,
                role: inv.role,
                expires_at,
            };
            crate::org::set_invitation(w, ctx, &inv.org, row, Limits::Override)?;
            "invitations"
        }
        Record::Workspace(ws) => {
            crate::org::set_workspace(w, ctx, &ws.org, &ws.id, ws.name, Limits::Override)?;
            "workspaces"
        }
        Record::WorkspaceMember(m) => {
            let Some(ws) = w.workspace(&m.workspace)? else {
                return Err(Error::not_found(format!(
                    "workspace `{}` is not defined before this line",
                    m.workspace
                )));
            };
            let access = m.permissions.with_role(m.role);
            crate::org::set_workspace_member(w, ctx, &ws.org, &m.workspace, &m.user, &access)?;
            "workspace_members"
        }
        Record::Role(r) => {
            let role = CustomRoleRow {
                name: r.name,
                level: r.level,
                permissions: r.permissions,
            };
            crate::org::set_custom_role(w, ctx, &r.org, role, Limits::Override)?;
            "roles"
        }
        Record::Usage(u) => {
            crate::org::set_usage(w, ctx, &u.org, &u.resource_type, u.current)?;
            "usage"
        }
        Record::Entity(v) => {
            for e in crate::engine::input::parse_entities(model, std::slice::from_ref(&v))? {
                crate::org::store_entity(w, model, &e)?;
            }
            "entities"
        }
    })
}
