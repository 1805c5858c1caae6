//! `kassa`: the one binary. `serve` runs the HTTP API; `migrate` applies the schema;
//! `clients create` makes a client (tenant) and its API key.

mod config;
mod progress;
mod rotate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use config::{DatabaseArgs, EmailArgs, KeyArgs};

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
        /// How old a Stripe webhook's signed timestamp may be, in seconds.
        #[arg(long, env = "KASSA_WEBHOOK_TOLERANCE_SECS", default_value_t = 300,
              value_parser = clap::value_parser!(i64).range(1..=86_400))]
        webhook_tolerance: i64,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        email: EmailArgs,
        /// Also run the built-in Stripe emulator and, on an empty database, set up a demo client
        /// with a Stripe V2 gateway on it and a collection group.
        #[arg(long)]
        demo: bool,
        /// Where the demo's Stripe emulator listens.
        #[arg(long, env = "KASSA_EMULATOR_LISTEN", default_value = "127.0.0.1:12111")]
        emulator_listen: String,
    },
    /// Run the Stripe emulator on its own (test mode, state in memory).
    StripeEmulator {
        /// Address to listen on; only this address is bound.
        #[arg(long, env = "KASSA_EMULATOR_LISTEN", default_value = "127.0.0.1:12111")]
        listen: String,
    },
    /// Resolve payments whose outcome at Stripe is unknown (lost answers, crashes), once.
    Reconcile {
        /// Only calls older than this many seconds (a younger one may still be answered by its
        /// own request); after a crash, 0 settles everything at once.
        #[arg(long = "min-age-secs", default_value_t = 60,
              value_parser = clap::value_parser!(i64).range(0..=86_400))]
        min_age_secs: i64,
        /// An authorization Stripe shows no PaymentIntent for after this many seconds never
        /// reached Stripe (declined `not_processed`); Stripe's search lags up to a minute.
        #[arg(long = "not-found-after-secs", default_value_t = 600,
              value_parser = clap::value_parser!(i64).range(0..=86_400))]
        not_found_after_secs: i64,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Run the background work without the HTTP API (rebills, reconciler, webhooks,
    /// notifications); any number may run against one PostgreSQL database.
    Worker {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        email: EmailArgs,
    },
    /// Recurring billing.
    Rebill {
        #[command(subcommand)]
        command: RebillCommand,
    },
    /// Stripe webhook endpoints.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Re-seal every stored secret under a new master key (stop all kassa processes first).
    RotateMasterKey {
        /// A file holding the new master key in base64.
        #[arg(long = "new-master-key-file")]
        new_master_key_file: Option<std::path::PathBuf>,
        /// The new master key in base64 (instead of the file).
        #[arg(
            long = "new-master-key",
            env = "KASSA_NEW_MASTER_KEY",
            hide_env_values = true
        )]
        new_master_key: Option<String>,
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
enum RebillCommand {
    /// Bill everything due (by the given date, YYYY-MM-DD, else now) once, and print a summary.
    Run {
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Create the gateway's Stripe webhook endpoint (pointing at KASSA_PUBLIC_URL) and keep its
    /// signing secret with the gateway (or the collection group).
    Register {
        #[arg(long)]
        gateway: i64,
        /// Register the collection group's URL instead, and keep the secret with the group.
        #[arg(long)]
        group: Option<i64>,
        /// The URL Stripe reaches Kassa at.
        #[arg(long, env = "KASSA_PUBLIC_URL")]
        public_url: String,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
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
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    // The PostgreSQL driver logs statements' parameters at debug level: never let it.
    let filter = match "tokio_postgres=info".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
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

/// mimalloc: a request allocates and frees many small buffers on two threads at once, which
/// glibc's allocator serves more slowly (and with lock waits between its arenas).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The Stripe emulator keeps each account's state behind one lock: a second worker thread
    // only adds wake-ups between the two (measured: with one, the payments bench ran ~10 % more
    // pairs a second beside it; docs/performance.md). Everything else gets a thread per core.
    let workers = match cli.command {
        Command::StripeEmulator { .. } => Some(1),
        _ => None,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprintln!("kassa: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let result = match cli.command {
        Command::Serve {
            listen,
            public_url,
            webhook_tolerance,
            db,
            key,
            email,
            demo,
            emulator_listen,
        } => {
            let demo = demo.then_some(emulator_listen);
            serve(listen, public_url, webhook_tolerance, db, key, email, demo).await
        }
        Command::StripeEmulator { listen } => stripe_emulator(&listen).await,
        Command::Reconcile {
            min_age_secs,
            not_found_after_secs,
            db,
            key,
        } => reconcile(min_age_secs, not_found_after_secs, db, key).await,
        Command::Worker { db, key, email } => worker(db, key, email).await,
        Command::Rebill {
            command: RebillCommand::Run { until, db, key },
        } => rebill_run(until, db, key).await,
        Command::Webhooks {
            command:
                WebhooksCommand::Register {
                    gateway,
                    group,
                    public_url,
                    db,
                    key,
                },
        } => register_webhook(gateway, group, public_url, db, key).await,
        Command::Migrate { db } => migrate(db).await,
        Command::RotateMasterKey {
            new_master_key_file,
            new_master_key,
            db,
            key,
        } => rotate::rotate(db, key, new_master_key, new_master_key_file).await,
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
    Ok(store.with_outcome_commit(db.outcome_commit()))
}

async fn migrate(db: DatabaseArgs) -> Result<(), CliError> {
    let store = kassa_storage::Store::connect(&db.url()).await?;
    let n = store.migrate().await?;
    println!("{}", serde_json::json!({"applied": n}));
    Ok(())
}

/// A client just made, with the only plaintext copy of its key.
struct NewClient {
    client_no: i64,
    key_id: i64,
    key_label: String,
    api_key: String,
}

impl NewClient {
    /// The one JSON line `clients create` and a first `serve` print.
    fn line(&self) -> serde_json::Value {
        serde_json::json!({"client_no": self.client_no, "api_key": self.api_key})
    }
}

/// Makes a client with a fresh API key.
async fn new_client(store: &kassa_storage::Store, name: &str) -> Result<NewClient, CliError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CliError::Config(
            "--name must be 1 to 200 characters".into(),
        ));
    }
    let key = kassa_secrets::ApiKey::generate()?;
    let label = kassa_secrets::ApiKey::label(&key.plaintext);
    let (client, api_key) = store
        .create_client(name, &kassa_secrets::ApiKey::hash(&key.plaintext), &label)
        .await?;
    Ok(NewClient {
        client_no: client.client_no,
        key_id: api_key.id,
        key_label: label,
        api_key: key.plaintext,
    })
}

async fn create_client(name: &str, db: DatabaseArgs) -> Result<(), CliError> {
    let store = open_store(&db).await?;
    println!("{}", new_client(&store, name).await?.line());
    Ok(())
}

/// The state for work without the HTTP API.
async fn background_state(
    db: &DatabaseArgs,
    key: &KeyArgs,
    public_url: String,
) -> Result<kassa_api::AppState, CliError> {
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let master_key = key.load(backend, db)?;
    let store = open_store(db).await?;
    config::check_master_key(&store, &master_key).await?;
    Ok(kassa_api::AppState::new(
        store,
        master_key,
        kassa_api::Config::new(public_url),
    ))
}

/// Starts the background loops: rebills, reconciler, webhook catch-up, notifications, emails.
fn spawn_background(state: &kassa_api::AppState) {
    use kassa_api::service::{billing, notifications, reconcile, webhooks};
    use std::time::Duration;
    tokio::spawn(kassa_api::housekeeping(state.clone()));
    tokio::spawn(notifications::run_forever(
        state.clone(),
        Duration::from_secs(1),
    ));
    tokio::spawn(webhooks::run_forever(state.clone(), Duration::from_secs(5)));
    tokio::spawn(reconcile::run_forever(
        state.clone(),
        Duration::from_secs(30),
    ));
    tokio::spawn(billing::run_forever(state.clone(), Duration::from_secs(10)));
    tokio::spawn(kassa_api::service::email_sender::run_forever(
        state.clone(),
        Duration::from_secs(5),
    ));
}

async fn worker(db: DatabaseArgs, key: KeyArgs, email: EmailArgs) -> Result<(), CliError> {
    let smtp = email.smtp()?;
    let mut state = background_state(&db, &key, String::new()).await?;
    let mut config = (*state.config).clone();
    config.smtp = smtp;
    state.config = std::sync::Arc::new(config);
    spawn_background(&state);
    tracing::info!(worker = %kassa_api::service::billing::worker_name(), "kassa worker is running");
    shutdown().await;
    Ok(())
}

async fn rebill_run(until: Option<String>, db: DatabaseArgs, key: KeyArgs) -> Result<(), CliError> {
    let state = background_state(&db, &key, String::new()).await?;
    let at = match until {
        None => kassa_storage::now_millis(),
        Some(d) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(&d, &format)
                .map_err(|_| CliError::Config(format!("--until must be YYYY-MM-DD, not {d}")))?;
            (date
                .with_hms(23, 59, 59)
                .map_err(|e| CliError::Config(e.to_string()))?
                .assume_utc()
                .unix_timestamp_nanos()
                / 1_000_000) as i64
        }
    };
    let due = state
        .store
        .count_due_purchases(at)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    let bar = progress::Bar::new(due.max(0) as usize);
    let billed = kassa_api::service::billing::run_due_reporting(
        &state,
        &kassa_api::service::billing::worker_name(),
        at,
        200,
        &|n| bar.show(n),
    )
    .await
    .map_err(|e| CliError::Io(e.to_string()))?;
    let seconds = bar.finish(billed);
    println!(
        "{}",
        serde_json::json!({"due": due, "billed": billed, "not_billed": (due - billed as i64).max(0),
                           "seconds": (seconds * 1000.0).round() / 1000.0,
                           "per_second": if seconds > 0.0 { (billed as f64 / seconds).round() } else { 0.0 }})
    );
    Ok(())
}

async fn reconcile(
    min_age_secs: i64,
    not_found_after_secs: i64,
    db: DatabaseArgs,
    key: KeyArgs,
) -> Result<(), CliError> {
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let master_key = key.load(backend, &db)?;
    let store = open_store(&db).await?;
    config::check_master_key(&store, &master_key).await?;
    let state = kassa_api::AppState::new(store, master_key, kassa_api::Config::new(String::new()));
    let report = kassa_api::service::reconcile::run_once(
        &state,
        kassa_api::service::reconcile::Policy {
            min_age_ms: min_age_secs * 1000,
            not_found_after_ms: not_found_after_secs * 1000,
        },
    )
    .await
    .map_err(|e| CliError::Io(e.to_string()))?;
    println!(
        "{}",
        serde_json::json!({"resolved": report.resolved, "still_unknown": report.still_unknown})
    );
    Ok(())
}

async fn register_webhook(
    gateway: i64,
    group: Option<i64>,
    public_url: String,
    db: DatabaseArgs,
    key: KeyArgs,
) -> Result<(), CliError> {
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let master_key = key.load(backend, &db)?;
    let store = open_store(&db).await?;
    config::check_master_key(&store, &master_key).await?;
    let state = kassa_api::AppState::new(store, master_key, kassa_api::Config::new(public_url));
    let (id, url) = kassa_api::service::webhooks::register(&state, gateway, group)
        .await
        .map_err(|e| CliError::Config(format!("registering the webhook endpoint failed: {e}")))?;
    println!(
        "{}",
        serde_json::json!({"webhook_endpoint": id, "url": url})
    );
    Ok(())
}

async fn stripe_emulator(listen: &str) -> Result<(), CliError> {
    let (addr, _emulator, server) = kassa_stripe_emulator::spawn(listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(listen = %addr, "Stripe emulator is serving (test mode; any sk_test_ key is an account)");
    shutdown().await;
    server.abort();
    Ok(())
}

async fn serve(
    listen: String,
    public_url: Option<String>,
    webhook_tolerance: i64,
    db: DatabaseArgs,
    key: KeyArgs,
    email: EmailArgs,
    demo_emulator: Option<String>,
) -> Result<(), CliError> {
    let smtp = email.smtp()?;
    let url = db.url();
    let backend =
        kassa_storage::Backend::from_url(&url).map_err(|e| CliError::Config(e.to_string()))?;
    let master_key = key.load(backend, &db)?;
    let store = open_store(&db).await?;
    config::check_master_key(&store, &master_key).await?;
    // The emulator starts first, so that the demo gateway can point at it.
    let emulator = match &demo_emulator {
        Some(listen) => {
            let (addr, _emulator, task) =
                kassa_stripe_emulator::spawn(listen).await.map_err(|e| {
                    CliError::Io(format!("cannot start the Stripe emulator on {listen}: {e}"))
                })?;
            Some((addr, task))
        }
        None => None,
    };
    let first = if store.count_clients().await? == 0 {
        let client = new_client(
            &store,
            if emulator.is_some() {
                "Demo client"
            } else {
                "Default client"
            },
        )
        .await?;
        println!("{}", client.line());
        eprintln!("kassa: created client 1 on this empty database; its API key above is shown only once — keep it");
        Some(client)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{local}"));
    let mut config = kassa_api::Config::new(public_url.clone());
    config.webhook_tolerance_secs = webhook_tolerance;
    // How long a request holds its Idempotency-Key before a retry may take it over (the request
    // died with its process); longer than any request runs.
    if let Ok(v) = std::env::var("KASSA_IDEMPOTENCY_LEASE_SECS") {
        let secs = v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .ok_or_else(|| {
                CliError::Config("KASSA_IDEMPOTENCY_LEASE_SECS must be 1 to 86400 seconds".into())
            })?;
        config.idempotency_lease_ms = secs * 1000;
    }
    config.smtp = smtp;
    let state = kassa_api::AppState::new(store.clone(), master_key, config);
    if let (Some((addr, _)), Some(client)) = (&emulator, &first) {
        let demo = kassa_api::demo::seed(
            &state,
            client.client_no,
            client.key_id,
            &client.key_label,
            &format!("http://{addr}"),
        )
        .await
        .map_err(|e| CliError::Config(format!("setting up the demo failed: {e}")))?;
        eprintln!(
            "kassa: demo ready — Stripe emulator at http://{addr}, gateway {gw}, collection group {grp}\n\
             kassa: try  curl -s {public_url}/v1/gateways/{gw} -H 'Authorization: Bearer {key}'\n\
             kassa:      curl -s {public_url}/v1/collection_groups -H 'Authorization: Bearer {key}'\n\
             kassa: demo checkout page (Radar sessions): {public_url}/demo/checkout\n\
             kassa: API reference: {public_url}/openapi.json · health: {public_url}/healthz · metrics: {public_url}/metrics",
            gw = demo.gateway_id,
            grp = demo.group_no,
            key = client.api_key,
        );
    }
    spawn_background(&state);
    tracing::info!(listen = %local, public_url = %public_url, database = backend.name(), demo = emulator.is_some(), "kassa is serving");
    let app =
        kassa_console::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    if let Some((_, task)) = emulator {
        task.abort();
    }
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
