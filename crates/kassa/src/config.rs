//! Start-up configuration: where the database is and which master key seals its secrets.

use clap::Args;
use kassa_secrets::MasterKey;
use kassa_storage::{Backend, OutcomeCommit, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use kassa_api::smtp::SmtpConfig;

use crate::CliError;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://kassa.db";
pub const KEY_CHECK_META: &str = "master_key_check";
const KEY_CHECK_PURPOSE: &str = "kassa.master_key_check";

#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (default `sqlite://kassa.db` in the working directory) or `postgres://…`.
    #[arg(
        long = "database-url",
        env = "KASSA_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Whether the write recording a gateway call's outcome waits for the disk before the
    /// answer is sent (PostgreSQL; on SQLite both are the same). `async`: no — the payment and
    /// its pending transaction were on disk before Stripe was called, and an outcome a database
    /// crash loses is finished from Stripe by the reconciler. `sync`: yes, at one more disk wait
    /// per gateway call.
    #[arg(
        long = "outcome-commit",
        env = "KASSA_OUTCOME_COMMIT",
        value_enum,
        default_value_t = OutcomeCommitArg::Async
    )]
    outcome_commit: OutcomeCommitArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeCommitArg {
    Async,
    Sync,
}

impl DatabaseArgs {
    pub fn url(&self) -> String {
        match self
            .database_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => DEFAULT_DATABASE_URL.to_string(),
            Some(u) if u.contains("://") || u.starts_with("sqlite:") => u.to_string(),
            // A bare path is a SQLite file.
            Some(path) => format!("sqlite://{path}"),
        }
    }

    pub fn outcome_commit(&self) -> OutcomeCommit {
        match self.outcome_commit {
            OutcomeCommitArg::Async => OutcomeCommit::Asynchronous,
            OutcomeCommitArg::Sync => OutcomeCommit::Synchronous,
        }
    }

    /// The SQLite file, when the database is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.url();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path.starts_with(":memory:") {
            return None;
        }
        Some(PathBuf::from(path))
    }
}

/// Where autoresponder emails go. Without an SMTP URL they stay queued in the outbox.
#[derive(Args, Clone)]
pub struct EmailArgs {
    /// `smtp://user:password@host:587` (STARTTLS), `smtps://user:password@host:465` (TLS), or
    /// `smtp://127.0.0.1:25?tls=none` (a relay on this machine). Prefer the environment variable:
    /// the URL holds a password.
    #[arg(long = "smtp-url", env = "KASSA_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender, `Shop <noreply@shop.example>` or an address.
    #[arg(long = "email-from", env = "KASSA_EMAIL_FROM")]
    email_from: Option<String>,
}

impl EmailArgs {
    /// The SMTP settings, or `None` when no URL is given.
    pub fn smtp(&self) -> Result<Option<Arc<SmtpConfig>>, CliError> {
        let url = self
            .smtp_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let from = self
            .email_from
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty());
        match (url, from) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(CliError::Config(
                "KASSA_EMAIL_FROM (the sender address) is required with KASSA_SMTP_URL".into(),
            )),
            (Some(u), Some(f)) => SmtpConfig::parse(u, f)
                .map(|c| Some(Arc::new(c)))
                .map_err(|e| CliError::Config(e.to_string())),
        }
    }
}

#[derive(Args, Clone)]
pub struct KeyArgs {
    /// Base64 of 32 random bytes; seals secrets at rest.
    #[arg(long = "master-key", env = "KASSA_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// A file holding the master key in base64.
    #[arg(long = "master-key-file", env = "KASSA_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The master key from the flag, the environment or a file. On SQLite with none given, a key
    /// file beside the database is used, made (mode 0600) the first time. On PostgreSQL a key
    /// must be given.
    pub fn load(&self, backend: Backend, db: &DatabaseArgs) -> Result<MasterKey, CliError> {
        if let Some(k) = self.master_key.as_deref().filter(|k| !k.trim().is_empty()) {
            return MasterKey::from_base64(k)
                .map_err(|_| CliError::Config("KASSA_MASTER_KEY must be the base64 encoding of exactly 32 bytes (e.g. `openssl rand -base64 32`)".into()));
        }
        if let Some(path) = &self.master_key_file {
            return read_key_file(path);
        }
        match (backend, db.sqlite_path()) {
            (Backend::Postgres, _) => Err(CliError::Config(
                "PostgreSQL needs a master key to seal secrets at rest: set KASSA_MASTER_KEY (base64 of 32 bytes, e.g. `openssl rand -base64 32`) or KASSA_MASTER_KEY_FILE. Keep it safe: without it the stored Stripe keys cannot be read.".into(),
            )),
            (Backend::Sqlite, None) => {
                eprintln!("kassa: in-memory database: using a throw-away master key");
                Ok(MasterKey::generate()?.0)
            }
            (Backend::Sqlite, Some(db_path)) => {
                let mut name = db_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                name.push(".key");
                let key_path = db_path.with_file_name(name);
                if key_path.exists() {
                    return read_key_file(&key_path);
                }
                let (key, b64) = MasterKey::generate()?;
                write_key_file(&key_path, &b64)?;
                eprintln!(
                    "kassa: created master key file {} (mode 0600) beside the database; it seals the stored secrets — back it up with the database",
                    key_path.display()
                );
                Ok(key)
            }
        }
    }
}

pub fn read_key_file(path: &PathBuf) -> Result<MasterKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Config(format!(
            "cannot read master key file {}: {e}",
            path.display()
        ))
    })?;
    MasterKey::from_base64(&text).map_err(|_| {
        CliError::Config(format!(
            "master key file {} must hold the base64 encoding of exactly 32 bytes",
            path.display()
        ))
    })
}

fn write_key_file(path: &PathBuf, b64: &str) -> Result<(), CliError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        CliError::Io(format!(
            "cannot create master key file {}: {e}",
            path.display()
        ))
    })?;
    writeln!(f, "{b64}").map_err(|e| CliError::Io(e.to_string()))?;
    f.sync_all().map_err(|e| CliError::Io(e.to_string()))?;
    Ok(())
}

/// Refuses a master key other than the one this database's secrets were sealed with: the
/// database keeps a small value sealed by the first key it saw.
/// The value the database keeps to recognise `key`.
pub fn key_check_value(key: &MasterKey) -> Result<String, CliError> {
    Ok(key.seal(KEY_CHECK_PURPOSE, "kassa")?)
}

pub async fn check_master_key(store: &Store, key: &MasterKey) -> Result<(), CliError> {
    let sealed = key_check_value(key)?;
    let stored = store.meta_set_if_absent(KEY_CHECK_META, &sealed).await?;
    match key.open(KEY_CHECK_PURPOSE, &stored) {
        Ok(v) if v == "kassa" => Ok(()),
        _ => Err(CliError::Config(
            "the master key does not match the one this database's secrets were sealed with; start with the original KASSA_MASTER_KEY / key file".into(),
        )),
    }
}
