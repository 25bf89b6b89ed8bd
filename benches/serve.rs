//! Benchmark of `shipgate serve` on loopback with SQLite: the server runs in a child process (this
//! binary again, `--server`) on a single-threaded tokio runtime, so it has one core; the parent
//! sends signed `deployment_protection_rule` deliveries (the real payload) and measures:
//!
//! 1. latency, request to 2xx, of 2,000 deliveries sent one after another (p50, p99, max);
//! 2. throughput: 10,000 deliveries over 32 connections (deliveries/s acknowledged), then until
//!    all of them are evaluated and answered (the store written three times each);
//! 3. the server's resident memory (VmRSS) idle and with 1,000 requests held.
//!
//! The `Protection` answers at once (approve) or holds (environment `hold`): what is measured is
//! the server (signature, parsing, store, queue), not the gates.
//!
//! Run: `cargo bench --bench serve`

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::StreamExt;
use shipgate::run::protection::{AnswerState, Protection, ProtectionRequest, Verdict};
use shipgate::secret::Secret;
use shipgate::serve::clock::SystemClock;
use shipgate::serve::signature::sign;
use shipgate::serve::{self, Options};

const SECRET: &str = "bench secret";
const FIXTURE: &str =
    include_str!("../tests/fixtures/events/deployment_protection_rule.requested.json");

struct Answering;

impl Protection for Answering {
    fn evaluate<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, anyhow::Result<Verdict>> {
        Box::pin(async move {
            Ok(if request.environment == "hold" {
                Verdict::Hold {
                    until: now + chrono::Duration::days(1),
                    comment: "deploy-window: closed".into(),
                }
            } else {
                Verdict::Approve {
                    comment: "all gates passed".into(),
                }
            })
        })
    }

    fn answer<'a>(
        &'a self,
        _request: &'a ProtectionRequest,
        _state: AnswerState,
        _comment: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

fn server(database_url: String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let options = Options::new(
            "127.0.0.1:0".parse().expect("an address"),
            database_url,
            Secret::new(SECRET).expect("a secret"),
        );
        let running = serve::start(
            options,
            Arc::new(Answering),
            Arc::new(SystemClock::default()),
        )
        .await
        .expect("the server starts");
        println!("listening {}", running.addr());
        running.wait().await.expect("serves");
    });
}

fn body(environment: &str, run_id: u64) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("the fixture");
    value["environment"] = environment.into();
    value["deployment_callback_url"] = format!(
        "https://api.github.com/repos/Codertocat/Hello-World/actions/runs/{run_id}/deployment_protection_rule"
    )
    .into();
    serde_json::to_vec(&value).expect("json")
}

async fn deliver(client: &reqwest::Client, addr: SocketAddr, id: &str, body: Vec<u8>) {
    let signature = sign(SECRET.as_bytes(), &body);
    let status = client
        .post(format!("http://{addr}/webhook"))
        .header("content-type", "application/json")
        .header("x-github-event", "deployment_protection_rule")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("the server answers")
        .status();
    assert!(status.is_success(), "{status}");
}

async fn metric(client: &reqwest::Client, addr: SocketAddr, sample: &str) -> f64 {
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("/proc/PID/status")
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--server") {
        server(args[at + 1].clone());
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for phase in ["latency and throughput", "holds"] {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--server", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its address");
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening ")
            .expect("listening ADDR")
            .parse()
            .expect("an address");
        let pid = child.id();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("a client");
        println!(
            "== {phase} (server pid {pid}, idle RSS {} KiB)",
            rss_kib(pid)
        );
        runtime.block_on(async {
            if phase == "holds" {
                let started = Instant::now();
                let sends = (0..1000).map(|i| {
                    let client = client.clone();
                    async move {
                        deliver(&client, addr, &format!("h-{i}"), body("hold", 50_000 + i)).await
                    }
                });
                futures::stream::iter(sends)
                    .buffer_unordered(32)
                    .collect::<Vec<()>>()
                    .await;
                while metric(&client, addr, "shipgate_serve_holds_pending").await < 1000.0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                println!(
                    "1,000 requests held in {:.2?}: server RSS {} KiB",
                    started.elapsed(),
                    rss_kib(pid)
                );
                return;
            }
            // Warm-up: connections, the SQLite file, the allocator.
            for i in 0..200 {
                deliver(&client, addr, &format!("w-{i}"), body("production", i)).await;
            }
            let mut latencies = Vec::with_capacity(2000);
            for i in 0..2000 {
                let body = body("production", 10_000 + i);
                let started = Instant::now();
                deliver(&client, addr, &format!("l-{i}"), body).await;
                latencies.push(started.elapsed());
            }
            latencies.sort();
            println!(
                "latency, request to 202, 2,000 sequential signed deliveries: p50 {:.2?}  p99 {:.2?}  max {:.2?}",
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies[latencies.len() - 1]
            );

            let total = 10_000u64;
            let bodies: Vec<(String, Vec<u8>)> = (0..total)
                .map(|i| (format!("t-{i}"), body("production", 100_000 + i)))
                .collect();
            let acknowledged = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            let sends = bodies.into_iter().map(|(id, body)| {
                let client = client.clone();
                let acknowledged = acknowledged.clone();
                async move {
                    deliver(&client, addr, &id, body).await;
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
            });
            futures::stream::iter(sends)
                .buffer_unordered(32)
                .collect::<Vec<()>>()
                .await;
            let acked = started.elapsed();
            let answered_before = 2200.0;
            let sample = "shipgate_serve_decisions_total{outcome=\"approved\"}";
            while metric(&client, addr, sample).await < answered_before + total as f64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let answered = started.elapsed();
            println!(
                "throughput, 10,000 deliveries over 32 connections: {:.0} deliveries/s acknowledged ({:.2?}); all evaluated and answered after {:.2?} ({:.0}/s)",
                total as f64 / acked.as_secs_f64(),
                acked,
                answered,
                total as f64 / answered.as_secs_f64()
            );
            println!("server RSS after: {} KiB", rss_kib(pid));
        });
        let _ = child.kill();
        let _ = child.wait();
    }
}
