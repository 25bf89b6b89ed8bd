//! `shipgate serve`: the gates as a GitHub deployment protection rule. GitHub asks (a signed
//! `deployment_protection_rule` webhook), the server stores the request and acknowledges it at
//! once, then a [`Protection`] (the sequencer's: policy from the default branch, facts, gates)
//! decides in the background and the answer goes back once. Closed windows can hold a request
//! until the next opening; holds live in the store and survive restarts.
//!
//! A runner beside `action`: it imports `run` (the `Protection` seam), never the other way.

pub mod clock;
mod http;
pub mod metrics;
pub mod payload;
pub mod signature;
pub mod store;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::cli::{LogFormat, ServeArgs};
use crate::run::protection::Protection;
use crate::secret::Secret;
use clock::{Clock, SystemClock};
use store::{Store, StoreError};

pub use http::MAX_BODY;

/// How long a replica owns a request it evaluates; a replica that dies leaves it to be taken
/// again after this. Longer than an evaluation waiting for pending checks.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(15);

/// What `shipgate serve` is started with.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub database_url: String,
    pub webhook_secret: Secret,
    /// How often the scheduler looks for due holds it was not woken for (stored by another
    /// replica, or put back by one that stopped).
    pub poll_interval: Duration,
    /// How long evaluations in flight may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Evaluations at once.
    pub concurrency: usize,
    /// Requests waiting for an evaluation slot before they are put back in the store.
    pub queue: usize,
}

impl Options {
    pub fn new(listen: SocketAddr, database_url: String, webhook_secret: Secret) -> Options {
        Options {
            listen,
            database_url,
            webhook_secret,
            poll_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(20),
            concurrency: 32,
            queue: 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Server(#[source] std::io::Error),
}

/// What the handlers and the background tasks share.
struct Shared {
    store: Store,
    protection: Arc<dyn Protection>,
    clock: Arc<dyn Clock>,
    metrics: metrics::Metrics,
    secret: Secret,
    /// This process's name in the store's claims.
    replica: String,
    queue: mpsc::Sender<store::Claimed>,
    /// A hold was stored: the scheduler looks at the next one again.
    wake: Notify,
}

/// A started server.
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// The address it listens on (the port chosen when `--listen` said port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the evaluations in flight finish (within the grace period), puts
    /// back what is left and closes the store.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Runs until the server stops (a shutdown, or an error).
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(ServeError::Server(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Opens the store, binds, and serves in the background.
pub async fn start(
    options: Options,
    protection: Arc<dyn Protection>,
    clock: Arc<dyn Clock>,
) -> Result<Running, ServeError> {
    let store = Store::connect(&options.database_url).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: options.listen,
        source,
    })?;
    let (queue, queued) = mpsc::channel(options.queue.max(1));
    let replica = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
    let shared = Arc::new(Shared {
        store,
        protection,
        clock,
        metrics: metrics::Metrics::default(),
        secret: options.webhook_secret.clone(),
        replica: replica.clone(),
        queue,
        wake: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    let dispatcher = tokio::spawn(worker::dispatch(
        shared.clone(),
        queued,
        stopped.clone(),
        options.concurrency.max(1),
        options.shutdown_grace,
    ));
    let scheduler = tokio::spawn(worker::schedule(
        shared.clone(),
        stopped.clone(),
        options.poll_interval,
    ));
    let router = http::router(shared.clone());
    let mut until_stopped = stopped;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = until_stopped.wait_for(|stop| *stop).await;
            })
            .await;
        let _ = scheduler.await;
        let _ = dispatcher.await;
        shared.store.close().await;
        tracing::info!("stopped");
        served.map_err(ServeError::Server)
    });
    tracing::info!(%addr, replica, "listening");
    Ok(Running { addr, stop, task })
}

/// The [`Protection`] the server answers with: the GitHub App's (`SHIPGATE_APP_ID` and its
/// private key, at `GITHUB_API_URL`). Called inside the runtime: the App's client needs one.
pub fn protection_from_env() -> Result<Arc<dyn Protection>, crate::run::RunError> {
    let ambient = crate::env::Ambient::read();
    let protection = crate::run::protect::GitHubProtection::from_env(&ambient)?;
    Ok(Arc::new(protection))
}

/// `shipgate serve`: reads its secrets, logs as asked, serves until SIGTERM or SIGINT. The exit
/// code: 0 after a clean stop, 2 for invalid input, 5 when the database is unavailable.
pub fn main(args: &ServeArgs, verbose: u8) -> u8 {
    init_logging(args.log_format, verbose);
    let Some(secret) = crate::env::webhook_secret() else {
        eprintln!(
            "error: {} is not set\nhint: set it to the webhook secret of the GitHub App (its \
             settings, \"Webhook secret\"); the server refuses deliveries it cannot verify",
            crate::env::SHIPGATE_WEBHOOK_SECRET
        );
        return 2;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return 5;
        }
    };
    let protection = match runtime.block_on(async { protection_from_env() }) {
        Ok(protection) => protection,
        Err(error) => {
            eprintln!("error: {error}");
            for hint in error.hints() {
                eprintln!("hint: {hint}");
            }
            eprintln!(
                "hint: the server needs the GitHub App's id and private key (README, \"Protection \
                 rule server: set-up\")"
            );
            return error.exit_code();
        }
    };
    let options = Options::new(args.listen, args.database_url.clone(), secret);
    runtime.block_on(serve_until_signal(
        options,
        protection,
        Arc::new(SystemClock::default()),
    ))
}

/// Serves until SIGTERM or SIGINT, then shuts down gracefully; the exit code.
pub async fn serve_until_signal(
    options: Options,
    protection: Arc<dyn Protection>,
    clock: Arc<dyn Clock>,
) -> u8 {
    let running = match start(options, protection, clock).await {
        Ok(running) => running,
        Err(error) => {
            let (hint, code) = match &error {
                ServeError::Store(StoreError::Scheme(_)) => {
                    ("use sqlite://PATH or postgres://USER@HOST/DB", 2)
                }
                ServeError::Store(_) => ("check --database-url and that the database is up", 5),
                ServeError::Listen { .. } => ("choose another --listen address or port", 2),
                ServeError::Server(_) => ("see the log above", 5),
            };
            eprintln!("error: {error}\nhint: {hint}");
            return code;
        }
    };
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("error: cannot watch SIGTERM: {error}");
                let _ = running.shutdown().await;
                return 5;
            }
        };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
    match running.shutdown().await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            5
        }
    }
}

/// The server's log lines on stderr: text, or one JSON object a line.
pub fn init_logging(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "info,sqlx=warn,octocrab=off",
        1 => "debug,sqlx=warn,octocrab=off,hyper=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(crate::env::SHIPGATE_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}
