//! `tollgate check`: one decision against a store file, with `--explain` saying why.

use std::path::PathBuf;

use clap::Args;

use super::{Exit, ModelArgs};
use crate::engine::{DecisionInput, Engine, EngineSettings, Outcome};
use crate::error::{Error, Result};
use crate::store::Store;

/// Flags of `tollgate check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Who acts: `User::"alice"` or the short `User:alice`.
    #[arg(long)]
    pub principal: String,
    /// The action: `invite_user` (meaning `Action::"invite_user"`) or a full uid.
    #[arg(long)]
    pub action: String,
    /// On what: `Org::"acme"` or `Org:acme`.
    #[arg(long)]
    pub resource: String,
    /// Context as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// Extra entities as a JSON array (entities the store lacks).
    #[arg(long, value_name = "JSON")]
    pub entities: Option<String>,
    /// The store file to read.
    #[arg(
        long,
        env = "TOLLGATE_DB",
        default_value = "tollgate.db",
        value_name = "FILE"
    )]
    pub db: PathBuf,
    /// Print why: the determining policies with file and line, the plan gate and the tier
    /// that would allow.
    #[arg(long)]
    pub explain: bool,
    /// The model to use.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Upgrade URL template, as `serve` takes it, so `check` answers what the daemon answers.
    #[arg(long, env = "TOLLGATE_UPGRADE_URL", value_name = "URL")]
    pub upgrade_url: Option<String>,
    /// Days a past-due org keeps its plan, as `serve` takes it [default: from the catalog].
    #[arg(long, env = "TOLLGATE_PAST_DUE_GRACE_DAYS", value_name = "DAYS")]
    pub past_due_grace_days: Option<i64>,
}

/// Parses `Type::"id"`, or the short `Type:id` (split at the last single colon).
pub fn parse_uid(s: &str, what: &str) -> Result<cedar_policy::EntityUid> {
    if s.contains("::\"") {
        return s.parse().map_err(|e| {
            Error::invalid(
                "INVALID_UID",
                format!("{what} `{s}` is not an entity uid: {e}"),
            )
        });
    }
    let bytes = s.as_bytes();
    let mut split = None;
    for i in (0..bytes.len()).rev() {
        if bytes[i] == b':' && (i == 0 || bytes[i - 1] != b':') && bytes.get(i + 1) != Some(&b':') {
            split = Some(i);
            break;
        }
    }
    match split {
        Some(i) => crate::engine::uid(&s[..i], &s[i + 1..]),
        None => Err(Error::invalid(
            "INVALID_UID",
            format!("{what} `{s}` must look like `User::\"alice\"` or `User:alice`"),
        )),
    }
}

/// An action name alone means `Action::"name"`.
pub fn parse_action(s: &str) -> Result<cedar_policy::EntityUid> {
    if s.contains("::") || s.contains(':') {
        parse_uid(s, "action")
    } else {
        crate::engine::uid("Action", s)
    }
}

fn json_arg(s: &Option<String>, what: &str) -> Result<Option<serde_json::Value>> {
    s.as_deref()
        .map(|t| {
            serde_json::from_str(t)
                .map_err(|e| Error::malformed("MALFORMED_JSON", format!("{what} is not JSON: {e}")))
        })
        .transpose()
}

/// Runs `check`: 0 allow, 2 deny, 3 payment required, 1 when no decision could be made.
pub fn run(args: &CheckArgs) -> Exit {
    match decide(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn decide(args: &CheckArgs) -> Result<Exit> {
    if !args.db.exists() {
        return Err(Error::StoreUnavailable(format!(
            "no database at `{}`",
            args.db.display()
        )));
    }
    let model = args.model.load()?;
    let store = Store::open(&args.db)?;
    let settings = EngineSettings {
        upgrade_url: args.upgrade_url.clone(),
        past_due_grace_days: args.past_due_grace_days,
        ..EngineSettings::default()
    };
    let engine = Engine::new(model, store, settings);
    let entities = match json_arg(&args.entities, "--entities")? {
        None => vec![],
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => {
            return Err(Error::invalid(
                "INVALID_ENTITY",
                "--entities must be a JSON array",
            ))
        }
    };
    let input = DecisionInput {
        principal: parse_uid(&args.principal, "principal")?,
        action: parse_action(&args.action)?,
        resource: parse_uid(&args.resource, "resource")?,
        context: json_arg(&args.context, "--context")?,
        entities,
    };
    let d = engine.decide(&input)?;
    let model = engine.model();
    if args.explain {
        println!(
            "decision: {} ({})",
            crate::http::outcome_name(d.outcome),
            d.outcome.status()
        );
        println!(
            "request:  {} {} {}",
            input.principal, input.action, input.resource
        );
        if d.reasons.is_empty() {
            println!("because:  no policy permits it (default deny)");
        } else {
            println!("because:");
        }
        let am = model.action(&input.action);
        for r in &d.reasons {
            let origin = model
                .origins
                .get(r)
                .map(|o| format!("{}:{}", o.file, o.line))
                .unwrap_or_else(|| "?".into());
            let gate = am
                .and_then(|a| a.gates.get(&cedar_policy::PolicyId::new(r)))
                .map(|g| match g {
                    crate::engine::Gate::Feature(f) => format!("  plan gate: feature `{f}`"),
                    crate::engine::Gate::Limit(t) => format!("  plan gate: limit `{t}`"),
                })
                .unwrap_or_default();
            println!("  {r}  ({origin}){gate}");
        }
        for e in &d.errors {
            println!("error:    {e}");
        }
        for w in &d.warnings {
            println!("warning:  {w}");
        }
        if let Some(p) = &d.payment {
            match &p.required_plan {
                Some(plan) => println!("allowed under: `{plan}` ({})", p.upgrade_url),
                None => println!("allowed under: no tier of the catalog"),
            }
            if let Some(u) = &p.current_usage {
                println!("usage:    {} {} of {}", u.resource_type, u.current, u.limit);
            }
        }
    } else {
        println!("{}", crate::http::decision_json(&d));
    }
    Ok(match d.outcome {
        Outcome::Allow => 0,
        Outcome::Deny => 2,
        Outcome::PaymentRequired => 3,
    })
}
