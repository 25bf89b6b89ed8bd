//! An app with Prometheus metrics: real HTTP on 127.0.0.1 from its own thread and tokio runtime
//! (like the health app), serving `/metrics` in the text format:
//!
//! - `http_requests_total{status="200"|"500"}`, counters (both series from the start, at 0);
//! - `http_request_duration_seconds`, a histogram with the client libraries' default buckets;
//! - `app_inflight_requests`, a gauge.
//!
//! It also answers `/health` with `{"status":"healthy"}`, so that one environment `url` can serve
//! both the health gate and a `scrape` watch.
//!
//! It makes its own traffic: every 100 ms, in [`Mode::Healthy`], 10 requests answered `200` in
//! 20 ms; in [`Mode::Failing`], 5 answered `200` in 300 ms and 5 answered `500` in 800 ms (an
//! error ratio of exactly 0.5). [`Mode::Paused`] makes none, and tests record exactly what they
//! want with [`MetricsApp::record`]. [`MetricsApp::reset`] puts every counter back to 0, as a
//! restarted app would.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;

/// The histogram's upper bounds (the Go and Python clients' defaults), `+Inf` implied.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Healthy,
    Failing,
    Paused,
}

#[derive(Default)]
struct Counts {
    ok: u64,
    errors: u64,
    /// Observations per bucket (not cumulative); the last is `+Inf`'s own.
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    inflight: f64,
    scrapes: u64,
}

struct Shared {
    counts: Mutex<Counts>,
    mode: Mutex<Mode>,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, status: u16, seconds: f64, n: u64) {
        let mut counts = self.counts();
        if status >= 500 {
            counts.errors += n;
        } else {
            counts.ok += n;
        }
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        counts.buckets[bucket] += n;
        counts.sum += seconds * n as f64;
    }
}

/// The app. Serves until dropped.
pub struct MetricsApp {
    shared: Arc<Shared>,
    address: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsApp {
    /// Binds 127.0.0.1 on a free port and serves, making traffic as `mode` says.
    pub fn start(mode: Mode) -> MetricsApp {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the metrics app to 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("make the metrics app's listener non-blocking");
        let address = listener
            .local_addr()
            .expect("the metrics app's address")
            .to_string();
        let shared = Arc::new(Shared {
            counts: Mutex::new(Counts::default()),
            mode: Mutex::new(mode),
        });
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(metrics))
            .route(
                "/health",
                axum::routing::get(|| async {
                    axum::Json(serde_json::json!({"status": "healthy"}))
                }),
            )
            .with_state(Arc::clone(&shared));
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let traffic = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("metrics-app".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the metrics app's tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("register the metrics app's listener");
                    let generate = async move {
                        let mut tick = tokio::time::interval(Duration::from_millis(100));
                        loop {
                            tick.tick().await;
                            match traffic.mode() {
                                Mode::Healthy => traffic.record(200, 0.02, 10),
                                Mode::Failing => {
                                    traffic.record(200, 0.3, 5);
                                    traffic.record(500, 0.8, 5);
                                }
                                Mode::Paused => {}
                            }
                        }
                    };
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(error) = result {
                                eprintln!("metrics app stopped: {error}");
                            }
                        }
                        () = generate => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the metrics app's thread");
        MetricsApp {
            shared,
            address,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.address)).expect("the app's URL")
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// Counts `n` requests answered `status` in `seconds`.
    pub fn record(&self, status: u16, seconds: f64, n: u64) {
        self.shared.record(status, seconds, n);
    }

    pub fn set_inflight(&self, value: f64) {
        self.shared.counts().inflight = value;
    }

    /// Every counter and the histogram back to 0, as after a restart.
    pub fn reset(&self) {
        let mut counts = self.shared.counts();
        let inflight = counts.inflight;
        let scrapes = counts.scrapes;
        *counts = Counts::default();
        counts.inflight = inflight;
        counts.scrapes = scrapes;
    }

    /// How many times `/metrics` was read.
    pub fn scrapes(&self) -> u64 {
        self.shared.counts().scrapes
    }
}

impl Drop for MetricsApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let mut counts = shared.counts();
    counts.scrapes += 1;
    let mut text = String::new();
    let _ = writeln!(text, "# HELP http_requests_total Requests answered.");
    let _ = writeln!(text, "# TYPE http_requests_total counter");
    let _ = writeln!(text, "http_requests_total{{status=\"200\"}} {}", counts.ok);
    let _ = writeln!(
        text,
        "http_requests_total{{status=\"500\"}} {}",
        counts.errors
    );
    let _ = writeln!(
        text,
        "# HELP http_request_duration_seconds Time to answer a request."
    );
    let _ = writeln!(text, "# TYPE http_request_duration_seconds histogram");
    let mut cumulative = 0;
    for (index, bound) in BUCKETS.iter().enumerate() {
        cumulative += counts.buckets[index];
        let _ = writeln!(
            text,
            "http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += counts.buckets[BUCKETS.len()];
    let _ = writeln!(
        text,
        "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(text, "http_request_duration_seconds_sum {}", counts.sum);
    let _ = writeln!(text, "http_request_duration_seconds_count {cumulative}");
    let _ = writeln!(text, "# TYPE app_inflight_requests gauge");
    let _ = writeln!(text, "app_inflight_requests {}", counts.inflight);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
