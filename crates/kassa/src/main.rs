//! `kassa`: the one binary. `serve` runs the HTTP API; `migrate` applies the schema;
//! `clients create` makes a client (tenant) and its API key.

mod config;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use config::{DatabaseArgs, KeyArgs};

#[derive(Parser)]
#[command(
    name = "kassa",
    version,
    about = "Self-hosted payment gateway and recurring-billing engine for Stripe"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "KASSA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The URL the outside world reaches this server at (webhook and 3-D Secure return URLs).
        #[arg(long, env = "KASSA_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Manage clients (tenants).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client and print `{"client_no": N, "api_key": "…"}`. The key is shown only now.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] kassa_storage::StorageError),
    #[error(transparent)]
    Secrets(#[from] kassa_secrets::SecretsError),
    #[error("{0}")]
    Io(String),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KASSA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("KASSA_LOG_FORMAT").is_ok_and(|v| v == "json");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Serve {
            listen,
            public_url,
            db,
            key,
        } => serve(listen, public_url, db, key).await,
        Command::Migrate { db } => migrate(db).await,
        Command::Clients {
            command: ClientsCommand::Create { name, db },
        } => create_client(&name, db).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kassa: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(db: &DatabaseArgs) -> Result<kassa_storage::Store, CliError> {
    let url = db.url();
    let store = kassa_storage::Store::connect(&url).await.map_err(|e| {
        CliError::Config(format!(
            "cannot open the database {}: {e}",
            kassa_storage::redact_url(&url)
        ))
    })?;
    store.migrate().await?;
    Ok(store)
}

async fn migrate(db: DatabaseArgs) -> Result<(), CliError> {
    let store = kassa_storage::Store::connect(&db.url()).await?;
    let n = store.migrate().await?;
    println!("{}", serde_json::json!({"applied": n}));
    Ok(())
}

/// Makes a client with a fresh API key and prints them as one JSON line.
async fn new_client(
    store: &kassa_storage::Store,
    name: &str,
) -> Result<serde_json::Value, CliError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CliError::Config(
            "--name must be 1 to 200 characters".into(),
        ));
    }
    let key = kassa_secrets::ApiKey::generate()?;
    let (client, _) = store
        .create_client(
            name,
            &kassa_secrets::ApiKey::hash(&key.plaintext),
            &kassa_secrets::ApiKey::label(&key.plaintext),
        )
        .await?;
    Ok(serde_json::json!({"client_no": client.client_no, "api_key": key.plaintext}))
}

async fn create_client(name: &str, db: DatabaseArgs) -> Result<(), CliError> {
    let store = open_store(&db).await?;
    let line = new_client(&store, name).await?;
    println!("{line}");
    Ok(())
}

async fn serve(
    listen: String,
    public_url: Option<String>,
    db: DatabaseArgs,
    key: KeyArgs,
) -> Result<(), CliError> {
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let master_key = key.load(backend, &db)?;
    let store = open_store(&db).await?;
    config::check_master_key(&store, &master_key).await?;
    if store.count_clients().await? == 0 {
        let line = new_client(&store, "Default client").await?;
        println!("{line}");
        eprintln!("kassa: created client 1 on this empty database; its API key above is shown only once — keep it");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{local}"));
    let state = kassa_api::AppState::new(
        store.clone(),
        master_key,
        kassa_api::Config {
            public_url: public_url.clone(),
        },
    );
    tokio::spawn(kassa_api::housekeeping(state.clone()));
    tracing::info!(listen = %local, public_url = %public_url, database = backend.name(), "kassa is serving");
    axum::serve(listener, kassa_api::app(state))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    store.close().await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
