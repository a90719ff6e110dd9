//! `tollgate check`: one decision against a store file, with `--explain` saying why.

use clap::Args;

use super::Exit;
use crate::config::Layer;
use crate::engine::{Ask, DecisionInput, Engine, Outcome};
use crate::error::{Code, Error, Result};
use crate::model::{Gate, Model};
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
    /// Print why: the determining policies with file and line, the plan gate and the tier
    /// that would allow.
    #[arg(long)]
    pub explain: bool,
    /// The store, model and plan settings, read exactly as `serve` reads them (flags, env,
    /// `--config`), so `check` answers what the daemon answers.
    #[command(flatten)]
    pub settings: Layer,
}

/// Parses `Type::"id"`, or the short `Type:id` (split at the last single colon).
pub fn parse_uid(s: &str, what: &str) -> Result<cedar_policy::EntityUid> {
    if s.contains("::\"") {
        return s.parse().map_err(|e| {
            Error::new(
                Code::InvalidUid,
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
        Some(i) => crate::model::uid(&s[..i], &s[i + 1..]),
        None => Err(Error::new(
            Code::InvalidUid,
            format!("{what} `{s}` must look like `User::\"alice\"` or `User:alice`"),
        )),
    }
}

/// An action name alone means `Action::"name"`.
pub fn parse_action(s: &str) -> Result<cedar_policy::EntityUid> {
    if s.contains("::") || s.contains(':') {
        parse_uid(s, "action")
    } else {
        crate::model::uid("Action", s)
    }
}

fn json_arg(s: &Option<String>, what: &str) -> Result<Option<serde_json::Value>> {
    s.as_deref()
        .map(|t| {
            serde_json::from_str(t)
                .map_err(|e| Error::new(Code::MalformedJson, format!("{what} is not JSON: {e}")))
        })
        .transpose()
}

/// Runs `check`: 0 allow, 2 deny, 3 payment required, 1 when no decision could be made.
pub fn run(args: CheckArgs) -> Exit {
    match decide(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

fn decide(args: CheckArgs) -> Result<Exit> {
    let settings = super::settings(args.settings.clone())?;
    if !settings.db.exists() {
        return Err(Error::StoreUnavailable(format!(
            "no database at `{}`",
            settings.db.display()
        )));
    }
    let model = Model::load(&settings.model)?;
    let store = Store::open(&settings.db)?;
    let engine = Engine::new(model, store, settings.engine);
    let entities = match json_arg(&args.entities, "--entities")? {
        None => vec![],
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => {
            return Err(Error::new(
                Code::InvalidEntity,
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
        reserve: None,
    };
    let d = engine.decide(Ask::Input(&input))?;
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
                    Gate::Feature(f) => format!("  plan gate: feature `{f}`"),
                    Gate::Limit(t) => format!("  plan gate: limit `{t}`"),
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
        Outcome::Allow => Exit::Success,
        Outcome::Deny => Exit::Deny,
        Outcome::PaymentRequired => Exit::PaymentRequired,
    })
}
