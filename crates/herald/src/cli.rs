//! Command-line parsing and the commands themselves. The server runs in
//! process; `send` and `show` (`cli_client.rs`) talk to a running server
//! over its HTTP API, as any integration would; `tenants create` writes to
//! the store directly, as an operator's tool.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use herald::server::{self, Role, ServeConfig};
use herald::service::App;
use herald::worker::WorkerConfig;

/// Herald delivers a booking business's notifications over e-mail, app push
/// and SMS/messengers, as a cascade: each notification type sets its
/// channels' order and whether each is sent always, never, or only when the
/// earlier channels did not get through.
#[derive(Debug, Parser)]
#[command(name = "herald", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and the delivery workers.
    ///
    /// Keeps everything in a SQLite file (herald.db in the working directory
    /// by default), created on first start; or, for many nodes, in one
    /// PostgreSQL database (--database-url postgres://…). When no admin
    /// token is given, one is made on first start and printed once.
    Serve(ServeArgs),
    /// Run the delivery workers only, against a PostgreSQL database that
    /// API nodes (`herald serve --no-workers`) write to. Listens for
    /// /healthz and /metrics only.
    Worker(WorkerArgs),
    /// Apply the database migrations and exit (nodes also apply them on
    /// start unless --no-migrate).
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage tenants (the businesses using this Herald).
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Trigger a notification through a running server.
    ///
    /// Example: herald send --type appointment_reminder --client c-42
    /// --data '{"client_name":"Ana","time":"10:00"}'
    Send(SendArgs),
    /// Show a notification's cascade: each channel, its outcome and why,
    /// and every attempt with its receipts.
    Show(ShowArgs),
    /// Measure triggers/s, cascades/s and CPU per cascade: runs
    /// herald-bench (built beside this binary: cargo build --release -p
    /// herald -p herald-bench), which starts this herald and drives it over
    /// HTTP from its own process. Every argument goes to herald-bench;
    /// `herald bench --help` shows its options.
    ///
    /// Example: herald bench --database-url postgres://… --workers 0,1,2,4
    #[command(disable_help_flag = true)]
    Bench {
        /// herald-bench's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Run the HTTP API only: `herald worker` processes (or other nodes)
    /// send. PostgreSQL only.
    #[arg(long)]
    no_workers: bool,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// Address of /healthz and /metrics.
    #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8081")]
    listen: String,
    #[command(flatten)]
    node: NodeArgs,
}

/// What every node (API or worker) is started with.
#[derive(Debug, Args)]
struct NodeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Do not apply migrations on start (run `herald migrate` first): the
    /// node refuses a PostgreSQL schema behind its build.
    #[arg(long)]
    no_migrate: bool,
    /// Seconds a claimed send is this node's before another node may take
    /// it back (and send it again, with the same key): what a node killed
    /// mid-send delays its sends by, at most. Sends are cut off well
    /// before it.
    #[arg(long, env = "HERALD_LEASE_S", default_value_t = 120, value_parser = clap::value_parser!(u32).range(5..=3600))]
    lease_s: u32,
    /// The operator's admin token (for POST /v1/tenants).
    #[arg(long, env = "HERALD_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The public base URL providers call back at (receipt webhooks are
    /// PUBLIC_URL/v1/hooks/ID); default http://<listen address>.
    #[arg(long, env = "HERALD_PUBLIC_URL")]
    public_url: Option<String>,
    /// The key that seals provider secrets at rest: 32 bytes as 64 hex
    /// digits or base64. When unset, a key file is made on first start
    /// beside the SQLite database (herald.db.secret-key, mode 0600); keep
    /// it with the database's backups. Required with PostgreSQL: every
    /// node must have the same key.
    #[arg(long, env = "HERALD_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// A PEM file of certificates providers trust beside the built-in
    /// roots (a private SMTP relay or gateway).
    #[arg(long, env = "HERALD_TLS_CA_FILE")]
    tls_ca_file: Option<String>,
    /// Days a finished notification (with its attempts and receipts) and a
    /// simulator message are kept after their last update; older ones are
    /// removed in the background. Unfinished ones are never removed.
    #[arg(long, env = "HERALD_RETENTION_DAYS", default_value_t = herald::retention::DEFAULT_RETENTION_DAYS, value_parser = herald::retention::parse_retention_days)]
    retention_days: i64,
    /// Hours an idempotency key dedupes triggers (at least 24); after it the
    /// same key makes a new notification.
    #[arg(long, env = "HERALD_IDEMPOTENCY_HOURS", default_value_t = herald::retention::DEFAULT_IDEMPOTENCY_HOURS, value_parser = herald::retention::parse_idempotency_hours)]
    idempotency_hours: i64,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// Where Herald keeps its data: sqlite://PATH or
    /// postgres://USER:PASSWORD@HOST/DATABASE (a schema other than public:
    /// ?options=-csearch_path%3DSCHEMA).
    #[arg(
        long,
        env = "HERALD_DATABASE_URL",
        default_value = "sqlite://herald.db",
        hide_env_values = true
    )]
    database_url: String,
    /// PostgreSQL: connections this process opens at most (one of them
    /// listens for other nodes' work).
    #[arg(long, env = "HERALD_DATABASE_POOL", default_value_t = herald_store::postgres::DEFAULT_POOL)]
    database_pool: u32,
}

impl DbArgs {
    /// The URL fit to print (no password).
    fn shown(&self) -> String {
        herald_store::postgres::redact_url(&self.database_url)
    }
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Create a tenant and print its API key (shown only this once).
    Create {
        /// The business's name, e.g. "Salon One".
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The server's base URL.
    #[arg(long, env = "HERALD_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The tenant's API key.
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// The notification type key.
    #[arg(long = "type")]
    type_key: String,
    /// The client to notify.
    #[arg(long, conflicts_with = "staff", required_unless_present = "staff")]
    client: Option<String>,
    /// The staff member to notify.
    #[arg(long)]
    staff: Option<String>,
    /// The template data, as a JSON object.
    #[arg(long, default_value = "{}")]
    data: String,
    /// Makes a repeated send create nothing new.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Wait until the cascade has finished and show it.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    client_args: ClientArgs,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The notification id.
    id: String,
    /// Print the raw JSON instead of the timeline.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client_args: ClientArgs,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => {
            let role = if a.no_workers { Role::Api } else { Role::Serve };
            node(a.listen, a.node, role).await
        }
        Command::Worker(a) => node(a.listen, a.node, Role::Worker).await,
        Command::Migrate { db } => {
            herald_store::migrate(&db.database_url)
                .await
                .with_context(|| format!("migrating {}", db.shown()))?;
            println!("Migrations applied to {}", db.shown());
            Ok(())
        }
        Command::Tenants {
            command: TenantsCommand::Create { name, db },
        } => create_tenant(&name, &db).await,
        Command::Send(a) => client::send(a).await,
        Command::Show(a) => client::show(a).await,
        Command::Bench { args } => bench(args).await,
    }
}

/// `herald bench`: herald-bench from beside this binary, measuring this
/// binary unless `--herald` names another.
async fn bench(args: Vec<std::ffi::OsString>) -> anyhow::Result<()> {
    let me = std::env::current_exe().context("finding this herald binary")?;
    let bench = me.with_file_name(format!("herald-bench{}", std::env::consts::EXE_SUFFIX));
    if !bench.is_file() {
        bail!(
            "herald bench runs herald-bench, which is not beside this binary ({}): \
             build both with `cargo build --release -p herald -p herald-bench`",
            bench.display()
        );
    }
    let mut cmd = tokio::process::Command::new(&bench);
    let named = args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == "--herald" || a.starts_with("--herald=")
    });
    if !named {
        cmd.arg("--herald").arg(&me);
    }
    let status = cmd
        .args(&args)
        .status()
        .await
        .with_context(|| format!("starting {}", bench.display()))?;
    if !status.success() {
        bail!("herald-bench failed ({status})");
    }
    Ok(())
}

async fn node(listen: String, a: NodeArgs, role: Role) -> anyhow::Result<()> {
    if role != Role::Serve && !herald_store::is_postgres_url(&a.db.database_url) {
        bail!(
            "separate API and worker processes need PostgreSQL (--database-url postgres://…); \
             on SQLite one `herald serve` does both"
        );
    }
    let tls = match &a.tls_ca_file {
        Some(path) => herald::providers::tls::Roots::from_file(path)?,
        None => Default::default(),
    };
    let running = server::start(ServeConfig {
        listen,
        database_url: a.db.database_url.clone(),
        admin_token: a.admin_token,
        worker: WorkerConfig {
            lease_ms: i64::from(a.lease_s) * 1_000,
            ..WorkerConfig::default()
        },
        public_url: a.public_url,
        secret_key: a.secret_key,
        tls,
        role,
        open: herald_store::OpenOptions {
            migrate: !a.no_migrate,
            max_connections: a.db.database_pool,
        },
        retention: herald::retention::RetentionConfig {
            retention_days: a.retention_days,
            idempotency_hours: a.idempotency_hours,
            ..Default::default()
        },
    })
    .await?;
    if let Some(token) = &running.new_admin_token {
        println!("Admin token (shown once; set HERALD_ADMIN_TOKEN to choose your own): {token}");
    }
    let what = match role {
        Role::Serve => "API and workers",
        Role::Api => "API only",
        Role::Worker => "workers only; /healthz and /metrics",
    };
    println!(
        "Herald listening on http://{} ({what}; data: {})",
        running.addr,
        a.db.shown()
    );
    if role != Role::Worker {
        println!("Console: http://{}/", running.addr);
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    eprintln!("herald: stopping");
    running.stop().await;
    Ok(())
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}

async fn create_tenant(name: &str, db: &DbArgs) -> anyhow::Result<()> {
    let store = herald_store::open(&db.database_url)
        .await
        .with_context(|| format!("opening {}", db.shown()))?
        .store;
    let app = App::new(store, herald::providers::Registry::default());
    let (tenant, key) = app.create_tenant(name).await?;
    println!("Tenant:  {} ({})", tenant.name, tenant.id);
    println!("API key: {key}");
    println!("Keep the key: it is stored hashed and cannot be shown again.");
    Ok(())
}

#[path = "cli_client.rs"]
mod client;
