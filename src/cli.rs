//! Command-line entry points, called by the thin `main.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::ServeArgs;
use crate::error::{Error, Result};
use crate::http::Application;

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

/// Reads the generated admin token, creating it (mode 0600) on first start.
pub fn admin_token_file(db: &Path) -> Result<(String, PathBuf)> {
    // An absolute path, so the printed location is right whatever the reader's directory.
    let path = token_path(&std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf()));
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if t.len() >= 16 {
            return Ok((t, path));
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for the admin token: {e}")))?;
    let token = hex::encode(bytes);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(|e| {
        Error::io(
            format!("cannot write the admin token file `{}`", path.display()),
            e,
        )
    })?;
    f.write_all(token.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| {
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
