//! Command-line entry points, called by the thin `main.rs`: `serve` (the default, through
//! `startup`), and the admin's tools `validate`, `test`, `check` and `import`, which work on
//! files without a daemon.

pub mod check;
pub mod import;
pub mod test;

use clap::{Parser, Subcommand};

use crate::config::{Layer, Settings, Tokens};
use crate::error::Result;
use crate::model::Model;
use crate::startup::Application;

pub use check::CheckArgs;
pub use test::TestArgs;

/// Tollgate: a policy decision point for org roles and plan gates.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: Layer,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Serve(Layer),
    /// Parse and strictly validate policies, schema and plan catalog; exit non-zero on errors.
    Validate(Layer),
    /// Run policy test files (YAML) against the model; exit non-zero when a case fails.
    Test(TestArgs),
    /// Answer one decision against a store file, optionally explaining why.
    Check(CheckArgs),
    /// Bulk-load JSON lines (orgs, members, workspaces, entities, ...) in one transaction.
    Import(import::ImportArgs),
}

/// The settings a command runs with: its flags and env over `--config` over the defaults.
/// Tokens are the daemon's alone: the admin commands never read them. The JWT secret is read,
/// so `validate` refuses the one `serve` would refuse (it is checked, never printed).
pub fn settings(layer: Layer) -> Result<Settings> {
    layer.resolve(Tokens {
        jwt_secret: std::env::var("TOLLGATE_JWT_SECRET").ok(),
        ..Tokens::default()
    })
}

/// How a command ended: the process exit code, one name per meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done: the model loads, every test passed, the import landed, the decision is allow.
    Success,
    /// Could not do it: a bad flag, file or model, a failed test, an import that wrote nothing.
    Failure,
    /// `check`: the decision is deny (403).
    Deny,
    /// `check`: the decision is payment required (402).
    PaymentRequired,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(match e {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Deny => 2,
            Exit::PaymentRequired => 3,
        })
    }
}

/// `tollgate validate`: 0 when the model loads, 1 otherwise.
pub fn validate(args: Layer) -> Exit {
    let loaded = settings(args).and_then(|s| {
        let model = Model::load(&s.model)?;
        s.stripe.prices.check(&model.catalog)?;
        Ok(model)
    });
    match loaded {
        Ok(model) => {
            for w in &model.warnings {
                eprintln!("{w}");
            }
            println!("ok: {}", model.summary());
            Exit::Success
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("validation failed");
            Exit::Failure
        }
    }
}

/// Runs `serve`: builds the application, prints where it listens, serves until a signal.
pub async fn serve(args: Layer) -> Result<()> {
    let settings = args.resolve(Tokens::from_env())?;
    Application::build(settings)?.serve().await
}
