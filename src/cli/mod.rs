//! Command-line entry points, called by the thin `main.rs`: `serve` (the default), and the
//! admin's tools `validate`, `test` and `check`, which work on files without a daemon.

pub mod check;
pub mod import;
pub mod test;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use crate::config::ModelArgs;
use crate::config::ServeArgs;
use crate::engine::{Model, ModelPaths, ModelSources};
use crate::error::{Error, Result};
use crate::http::Application;

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
    /// Flags of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Serve(ServeArgs),
    /// Parse and strictly validate policies, schema and plan catalog; exit non-zero on errors.
    Validate(ModelArgs),
    /// Run policy test files (YAML) against the model; exit non-zero when a case fails.
    Test(TestArgs),
    /// Answer one decision against a store file, optionally explaining why.
    Check(CheckArgs),
    /// Bulk-load JSON lines (orgs, members, workspaces, entities, ...) in one transaction.
    Import(import::ImportArgs),
}

impl ModelArgs {
    /// The paths as the engine takes them.
    pub fn paths(&self) -> ModelPaths {
        ModelPaths {
            policies: self.policies.clone(),
            schema: self.schema.clone(),
            plans: self.plans.clone(),
        }
    }

    /// Which files the model comes from, in one line: a command run without flags tests the
    /// model built into the binary, not the files an admin just edited, and must say so.
    pub fn describe(&self) -> String {
        let part = |p: &Option<std::path::PathBuf>, what: &str| match p {
            Some(p) => p.display().to_string(),
            None => format!("embedded {what}"),
        };
        let line = format!(
            "model: {}, {}, {}",
            part(&self.policies, "policies"),
            part(&self.schema, "schema"),
            part(&self.plans, "plan catalog")
        );
        if self.policies.is_none() && self.schema.is_none() && self.plans.is_none() {
            line + " (pass --policies/--schema/--plans or TOLLGATE_* to use your files)"
        } else {
            line
        }
    }

    /// Reads and builds the model.
    pub fn load(&self) -> Result<Model> {
        Model::build(&ModelSources::read(&self.paths())?)
    }
}

/// How a command ended, as the process exit code.
pub type Exit = u8;

/// `tollgate validate`: 0 when the model loads, 1 otherwise.
pub fn validate(args: &ModelArgs) -> Exit {
    match args.load() {
        Ok(model) => {
            for w in &model.warnings {
                eprintln!("{w}");
            }
            println!("ok: {}", model.summary());
            0
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("validation failed");
            1
        }
    }
}

/// Path of the generated admin token file for a database path: `<db stem>.admin-token`
/// beside it.
pub fn token_path(db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tollgate".into());
    db.with_file_name(format!("{stem}.admin-token"))
}

/// Reads the generated admin token, creating it (mode 0600) on first start. A token file that
/// others can read is refused: the token would no longer be a secret.
pub fn admin_token_file(db: &Path) -> Result<(String, PathBuf)> {
    // An absolute path, so the printed location is right whatever the reader's directory.
    let path = token_path(&std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf()));
    if let Ok(meta) = std::fs::metadata(&path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(Error::Config(format!(
                    "the admin token file `{}` is readable by others; `chmod 600` it or remove it",
                    path.display()
                )));
            }
        }
        let t = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))?;
        let t = t.trim().to_string();
        if t.len() >= 16 {
            return Ok((t, path));
        }
        let _ = meta;
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for the admin token: {e}")))?;
    let token = hex::encode(bytes);
    // Write beside, then rename: a crash never leaves a half-written token file.
    let tmp = path.with_extension("admin-token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let write = |tmp: &Path| -> std::io::Result<()> {
        let mut f = opts.open(tmp)?;
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, &path)
    };
    write(&tmp).map_err(|e| {
        Error::io(
            format!("cannot write the admin token file `{}`", path.display()),
            e,
        )
    })?;
    Ok((token, path))
}

/// Runs `serve`: builds the application, prints where it listens, serves until a signal.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let settings = args.resolve()?;
    let app = Application::build(settings)?;
    if let Some(p) = &app.token_file {
        println!("admin token file: {}", p.display());
    }
    println!("listening on http://{}", app.addr());
    let _ = std::io::stdout().flush();
    tracing::info!(addr = %app.addr(), "listening");
    app.run_until_stopped().await
}
