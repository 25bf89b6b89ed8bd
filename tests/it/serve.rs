//! `shipgate serve`: deliveries signed as GitHub signs them, built from the real
//! `deployment_protection_rule.requested` payload, against the server run in-process (bound to
//! 127.0.0.1:0) and as separate processes (restart after SIGKILL, two replicas on one
//! PostgreSQL database).
//!
//! The decisions come from a scripted [`Protection`] (by environment name): `production`
//! approves, `reject` rejects, `hold` holds until its opening and approves from then on,
//! `callback-422` approves but GitHub refuses the answer, installation 999 is unknown to the app.
//! The process tests run this test binary again as the server (`serve_stub_process`, ignored on
//! its own): the production `shipgate` binary has no test hooks, and its GitHub App
//! `Protection` is tested against the fake GitHub.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use shipgate::run::protection::{AnswerState, Protection, ProtectionRequest, Verdict};
use shipgate::secret::Secret;
use shipgate::serve::clock::{Clock, SystemClock};
use shipgate::serve::signature::sign;
use shipgate::serve::{self, Options};

const SECRET: &str = "test webhook secret: It's a Secret to Everybody";
const FIXTURE: &str = include_str!("../fixtures/events/deployment_protection_rule.requested.json");
/// Long enough for anything these tests wait for on a loaded machine; never reached when the
/// server works.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The scripted Protection

/// An answer the server sent, as the stub saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Answer {
    delivery_id: String,
    state: String,
    comment: String,
    pid: u32,
}

#[derive(Default)]
struct Stub {
    /// `hold` requests are held until this instant, and approved from then on.
    opening: Option<DateTime<Utc>>,
    evaluations: AtomicUsize,
    answers: Mutex<Vec<Answer>>,
    /// When set, every answer is also POSTed here (the process tests' receiver).
    answer_url: Option<String>,
    client: Option<reqwest::Client>,
    /// When set, each evaluation waits for a permit (an evaluation kept in flight).
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl Stub {
    fn evaluations(&self) -> usize {
        self.evaluations.load(Ordering::SeqCst)
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().expect("answers").clone()
    }
}

impl Protection for Stub {
    fn evaluate<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, anyhow::Result<Verdict>> {
        Box::pin(async move {
            self.evaluations.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("the gate stays open").forget();
            }
            if request.installation_id == 999 {
                anyhow::bail!("installation 999 is not an installation of this GitHub App");
            }
            Ok(match request.environment.as_str() {
                "reject" => Verdict::Reject {
                    comment: "required-checks: failing: build".into(),
                },
                "hold" => match self.opening {
                    Some(opening) if now < opening => Verdict::Hold {
                        until: opening,
                        comment: "deploy-window: closed".into(),
                    },
                    _ => Verdict::Approve {
                        comment: "deploy-window: open".into(),
                    },
                },
                _ => Verdict::Approve {
                    comment: "all gates passed".into(),
                },
            })
        })
    }

    fn answer<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        state: AnswerState,
        comment: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let answer = Answer {
                delivery_id: request.delivery_id.clone(),
                state: state.as_str().into(),
                comment: comment.into(),
                pid: std::process::id(),
            };
            self.answers.lock().expect("answers").push(answer.clone());
            if let (Some(url), Some(client)) = (&self.answer_url, &self.client) {
                client
                    .post(url)
                    .json(&answer)
                    .send()
                    .await?
                    .error_for_status()?;
            }
            if request.environment == "callback-422" {
                anyhow::bail!(
                    "GitHub answered 422 Unprocessable Entity: No pending deployment requests to approve or reject"
                );
            }
            Ok(())
        })
    }
}

/// A clock the test moves.
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

fn t0() -> DateTime<Utc> {
    "2026-12-05T10:00:00Z".parse().expect("an instant")
}

// ---------------------------------------------------------------------------------------------
// Deliveries

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// The real payload for `environment`, `installation` and workflow run `run_id`.
fn payload(environment: &str, installation: u64, run_id: u64) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("the fixture");
    value["environment"] = environment.into();
    value["installation"]["id"] = installation.into();
    value["deployment_callback_url"] = format!(
        "https://api.github.com/repos/Codertocat/Hello-World/actions/runs/{run_id}/deployment_protection_rule"
    )
    .into();
    serde_json::to_vec(&value).expect("json")
}

struct Delivery<'a> {
    event: &'a str,
    id: &'a str,
    body: Vec<u8>,
    signature: Option<String>,
    content_type: &'a str,
}

impl<'a> Delivery<'a> {
    /// A delivery as GitHub sends it: JSON, signed with the test secret.
    fn signed(event: &'a str, id: &'a str, body: Vec<u8>) -> Delivery<'a> {
        let signature = Some(sign(SECRET.as_bytes(), &body));
        Delivery {
            event,
            id,
            body,
            signature,
            content_type: "application/json",
        }
    }

    fn request(environment: &str, id: &'a str) -> Delivery<'a> {
        Delivery::signed(
            "deployment_protection_rule",
            id,
            payload(environment, 1, 4242),
        )
    }

    async fn send(self, client: &reqwest::Client, addr: SocketAddr) -> u16 {
        let mut request = client
            .post(format!("http://{addr}/webhook"))
            .header("content-type", self.content_type)
            .header("x-github-event", self.event)
            .header("x-github-delivery", self.id)
            .header("user-agent", "GitHub-Hookshot/test")
            .body(self.body);
        if let Some(signature) = self.signature {
            request = request.header("x-hub-signature-256", signature);
        }
        request
            .send()
            .await
            .expect("the server answers")
            .status()
            .as_u16()
    }
}

async fn get(client: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String) {
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The value of a sample of the server's `/metrics`.
async fn metric(client: &reqwest::Client, addr: SocketAddr, sample: &str) -> Option<f64> {
    let (_, text) = get(client, addr, "/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until `done` holds, failing with `what` after [`PATIENCE`].
async fn until<F: FnMut() -> bool>(what: &str, mut done: F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// In-process

struct InProcess {
    running: serve::Running,
    _dir: tempfile::TempDir,
}

async fn start(stub: Arc<Stub>, clock: Arc<dyn Clock>) -> InProcess {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut options = Options::new(
        "127.0.0.1:0".parse().expect("an address"),
        format!("sqlite://{}", dir.path().join("serve.db").display()),
        Secret::new(SECRET).expect("a secret"),
    );
    options.poll_interval = Duration::from_millis(20);
    let running = serve::start(options, stub, clock)
        .await
        .expect("the server starts");
    InProcess { running, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_delivery_signed_with_the_secret_is_evaluated() {
    let stub = Arc::new(Stub::default());
    let server = start(stub.clone(), Arc::new(SystemClock::default())).await;
    let addr = server.running.addr();
    let client = http();

    let mut unsigned = Delivery::request("production", "d-unsigned");
    unsigned.signature = None;
    assert_eq!(unsigned.send(&client, addr).await, 401);
    let mut wrong = Delivery::request("production", "d-wrong");
    wrong.signature = Some(sign(b"another secret", &wrong.body));
    assert_eq!(wrong.send(&client, addr).await, 401);
    let mut tampered = Delivery::request("production", "d-tampered");
    tampered.body = payload("reject", 1, 4242);
    assert_eq!(tampered.send(&client, addr).await, 401);

    assert_eq!(
        Delivery::request("production", "d-good")
            .send(&client, addr)
            .await,
        202
    );
    until("the signed delivery is answered", || {
        stub.answers().len() == 1
    })
    .await;
    assert_eq!(stub.evaluations(), 1);
    let answers = stub.answers();
    assert_eq!(
        (answers[0].delivery_id.as_str(), answers[0].state.as_str()),
        ("d-good", "approved")
    );
    assert_eq!(
        metric(
            &client,
            addr,
            "shipgate_serve_deliveries_total{event=\"deployment_protection_rule\",result=\"unauthorized\"}"
        )
        .await,
        Some(3.0)
    );
    server.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_wrong_type_other_events_and_actions_do_no_work() {
    let stub = Arc::new(Stub::default());
    let server = start(stub.clone(), Arc::new(SystemClock::default())).await;
    let addr = server.running.addr();
    let client = http();

    // Padding inside the JSON keeps it a valid payload: only its size is wrong.
    let mut big: serde_json::Value = serde_json::from_str(FIXTURE).expect("json");
    big["padding"] = "x".repeat(serve::MAX_BODY).into();
    let big = serde_json::to_vec(&big).expect("json");
    assert_eq!(
        Delivery::signed("deployment_protection_rule", "d-big", big)
            .send(&client, addr)
            .await,
        413
    );
    let mut form = Delivery::request("production", "d-form");
    form.content_type = "application/x-www-form-urlencoded";
    assert_eq!(form.send(&client, addr).await, 415);
    let push = include_str!("../fixtures/events/push.json")
        .as_bytes()
        .to_vec();
    assert_eq!(
        Delivery::signed("push", "d-push", push)
            .send(&client, addr)
            .await,
        202
    );
    let mut other_action: serde_json::Value = serde_json::from_str(FIXTURE).expect("json");
    other_action["action"] = "completed".into();
    let other_action = serde_json::to_vec(&other_action).expect("json");
    assert_eq!(
        Delivery::signed("deployment_protection_rule", "d-other", other_action)
            .send(&client, addr)
            .await,
        202
    );
    let truncated = FIXTURE.as_bytes()[..FIXTURE.len() / 2].to_vec();
    assert_eq!(
        Delivery::signed("deployment_protection_rule", "d-cut", truncated)
            .send(&client, addr)
            .await,
        400
    );

    // A delivery after them all is the first and only one evaluated.
    assert_eq!(
        Delivery::request("reject", "d-after")
            .send(&client, addr)
            .await,
        202
    );
    until("the last delivery is answered", || {
        stub.answers().len() == 1
    })
    .await;
    assert_eq!(stub.evaluations(), 1);
    assert_eq!(stub.answers()[0].state, "rejected");
    assert_eq!(get(&client, addr, "/healthz").await.0, 200);
    assert_eq!(get(&client, addr, "/readyz").await.0, 200);
    assert_eq!(
        metric(
            &client,
            addr,
            "shipgate_serve_deliveries_total{event=\"push\",result=\"ignored\"}"
        )
        .await,
        Some(1.0)
    );
    server.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_delivery_is_evaluated_once() {
    let stub = Arc::new(Stub::default());
    let server = start(stub.clone(), Arc::new(SystemClock::default())).await;
    let addr = server.running.addr();
    let client = http();

    // Three at once, then two more after the answer.
    let sends = (0..3).map(|_| Delivery::request("production", "d-again").send(&client, addr));
    for status in futures::future::join_all(sends).await {
        assert_eq!(status, 202);
    }
    until("the delivery is answered", || !stub.answers().is_empty()).await;
    for _ in 0..2 {
        assert_eq!(
            Delivery::request("production", "d-again")
                .send(&client, addr)
                .await,
            202
        );
    }
    assert_eq!(
        metric(
            &client,
            addr,
            "shipgate_serve_deliveries_total{event=\"deployment_protection_rule\",result=\"duplicate\"}"
        )
        .await,
        Some(4.0)
    );
    assert_eq!(stub.evaluations(), 1);
    assert_eq!(stub.answers().len(), 1);
    server.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_request_is_approved_at_the_opening() {
    let opening = t0() + chrono::Duration::hours(2);
    let stub = Arc::new(Stub {
        opening: Some(opening),
        ..Stub::default()
    });
    let clock = Arc::new(TestClock(Mutex::new(t0())));
    let server = start(stub.clone(), clock.clone()).await;
    let addr = server.running.addr();
    let client = http();

    assert_eq!(
        Delivery::request("hold", "d-hold")
            .send(&client, addr)
            .await,
        202
    );
    let mut held = None;
    for _ in 0..3000 {
        held = metric(&client, addr, "shipgate_serve_holds_pending").await;
        if held == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held, Some(1.0), "the request is held");
    assert_eq!(stub.evaluations(), 1);
    assert!(stub.answers().is_empty(), "nothing is answered while held");

    // A minute before the opening the scheduler still waits.
    *clock.0.lock().expect("clock") = opening - chrono::Duration::minutes(1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(stub.answers().is_empty(), "answered before the opening");
    assert_eq!(stub.evaluations(), 1);

    *clock.0.lock().expect("clock") = opening;
    until("the hold is approved at the opening", || {
        !stub.answers().is_empty()
    })
    .await;
    let answers = stub.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state, "approved");
    assert_eq!(stub.evaluations(), 2);
    assert_eq!(
        metric(&client, addr, "shipgate_serve_holds_pending").await,
        Some(0.0)
    );
    server.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_lets_the_evaluation_in_flight_answer() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let stub = Arc::new(Stub {
        gate: Some(gate.clone()),
        ..Stub::default()
    });
    let server = start(stub.clone(), Arc::new(SystemClock::default())).await;
    let addr = server.running.addr();
    let client = http();
    assert_eq!(
        Delivery::request("production", "d-in-flight")
            .send(&client, addr)
            .await,
        202
    );
    until("the evaluation is in flight", || stub.evaluations() == 1).await;

    let stopping = tokio::spawn(server.running.shutdown());
    // Once the listener is closed, a new connection is refused.
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a client")
    };
    let mut refused = false;
    for _ in 0..3000 {
        if fresh()
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "the server still accepts connections while stopping"
    );
    assert!(stub.answers().is_empty() && !stopping.is_finished());

    gate.add_permits(1);
    stopping
        .await
        .expect("the shutdown task")
        .expect("a clean stop");
    let answers = stub.answers();
    assert_eq!(
        answers.len(),
        1,
        "the evaluation in flight answered before the stop"
    );
    assert_eq!(answers[0].state, "approved");
}

// ---------------------------------------------------------------------------------------------
// As processes

/// Where the server processes send what they answered: the test counts them here.
struct Receiver {
    addr: SocketAddr,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        use axum::routing::post;
        let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let kept = answers.clone();
        let app = axum::Router::new().route(
            "/answers",
            post(move |axum::Json(answer): axum::Json<Answer>| {
                let kept = kept.clone();
                async move {
                    kept.lock().expect("answers").push(answer);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, answers }
    }

    fn url(&self) -> String {
        format!("http://{}/answers", self.addr)
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().expect("answers").clone()
    }
}

/// A server process: this test binary run as `serve_stub_process`, its stderr kept.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

struct ProcessConfig<'a> {
    database_url: &'a str,
    answer_url: &'a str,
    opening: Option<DateTime<Utc>>,
    clock_offset: chrono::Duration,
}

impl ServerProcess {
    fn start(config: &ProcessConfig) -> ServerProcess {
        let exe = std::env::current_exe().expect("this test binary");
        let mut command = Command::new(exe);
        command
            .args([
                "serve::serve_stub_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SHIPGATE_SERVE_STUB", "1")
            .env("SHIPGATE_WEBHOOK_SECRET", SECRET)
            .env("STUB_DATABASE_URL", config.database_url)
            .env("STUB_ANSWER_URL", config.answer_url)
            .env(
                "STUB_CLOCK_OFFSET_SECONDS",
                config.clock_offset.num_seconds().to_string(),
            )
            .env_remove("SHIPGATE_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(opening) = config.opening {
            command.env("STUB_OPENING", opening.to_rfc3339());
        }
        let mut child = command.spawn().expect("the server process starts");
        let stderr = child.stderr.take().expect("stderr");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    if value["message"] == "listening" {
                        let _ = addr_tx.send(value["addr"].as_str().unwrap_or_default().to_owned());
                    }
                }
                kept.lock().expect("log").push(line);
            }
        });
        let addr = match addr_rx.recv_timeout(PATIENCE) {
            Ok(addr) => addr.parse().expect("the address it logged"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server process did not log `listening`; its log:\n{}",
                    log.lock().expect("log").join("\n")
                );
            }
        };
        ServerProcess { child, addr, log }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, then its exit status (0 after a graceful stop).
    fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let status = self.child.wait().expect("the process ends");
        // The stderr reader ends with the process.
        std::thread::sleep(Duration::from_millis(50));
        (status.code(), self.log())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test on its own (ignored): the server the process tests start, this binary run again
/// with `SHIPGATE_SERVE_STUB` set. Logs JSON to stderr; answers go to `STUB_ANSWER_URL`.
#[test]
#[ignore = "the server process of the tests below; they start it"]
#[allow(clippy::disallowed_methods)] // its configuration comes from the test that started it
fn serve_stub_process() {
    let var = |name: &str| std::env::var(name).ok();
    if var("SHIPGATE_SERVE_STUB").is_none() {
        return;
    }
    shipgate::serve::init_logging(shipgate::cli::LogFormat::Json, 0);
    let offset: i64 = var("STUB_CLOCK_OFFSET_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let stub = Arc::new(Stub {
        opening: var("STUB_OPENING").map(|s| s.parse().expect("STUB_OPENING is RFC 3339")),
        answer_url: var("STUB_ANSWER_URL"),
        client: Some(http()),
        ..Stub::default()
    });
    let mut options = Options::new(
        "127.0.0.1:0".parse().expect("an address"),
        var("STUB_DATABASE_URL").expect("STUB_DATABASE_URL"),
        Secret::new(var("SHIPGATE_WEBHOOK_SECRET").expect("the secret")).expect("a secret"),
    );
    options.poll_interval = Duration::from_millis(100);
    let clock = Arc::new(SystemClock {
        offset: chrono::Duration::seconds(offset),
    });
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let code = runtime.block_on(serve::serve_until_signal(options, stub, clock));
    assert_eq!(code, 0, "the server stopped with exit code {code}");
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("serve.db").display())
}

#[allow(clippy::disallowed_methods)] // the one wall-clock reading of a process test
fn wall_clock_now() -> DateTime<Utc> {
    Utc::now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_survives_sigkill_and_is_approved_at_the_opening_after_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = sqlite_url(dir.path());
    let receiver = Receiver::start().await;
    let answer_url = receiver.url();
    let opening = wall_clock_now() + chrono::Duration::hours(1);
    let client = http();

    let first = ServerProcess::start(&ProcessConfig {
        database_url: &database_url,
        answer_url: &answer_url,
        opening: Some(opening),
        clock_offset: chrono::Duration::zero(),
    });
    assert_eq!(
        Delivery::request("hold", "d-restart")
            .send(&client, first.addr)
            .await,
        202
    );
    let mut held = None;
    for _ in 0..3000 {
        held = metric(&client, first.addr, "shipgate_serve_holds_pending").await;
        if held == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held, Some(1.0), "the request is held: {:#?}", first.log());
    first.kill();
    assert!(receiver.answers().is_empty(), "answered before the opening");

    // Started again two hours later (its clock): the hold is due and approved, once.
    let second = ServerProcess::start(&ProcessConfig {
        database_url: &database_url,
        answer_url: &answer_url,
        opening: Some(opening),
        clock_offset: chrono::Duration::hours(2),
    });
    until("the hold is approved after the restart", || {
        !receiver.answers().is_empty()
    })
    .await;
    let (code, log) = second.terminate();
    assert_eq!(code, Some(0), "a graceful stop: {log:#?}");
    let answers = receiver.answers();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(
        (answers[0].delivery_id.as_str(), answers[0].state.as_str()),
        ("d-restart", "approved")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_deliveries_are_each_logged_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = sqlite_url(dir.path());
    let receiver = Receiver::start().await;
    let answer_url = receiver.url();
    let client = http();
    let server = ServerProcess::start(&ProcessConfig {
        database_url: &database_url,
        answer_url: &answer_url,
        opening: None,
        clock_offset: chrono::Duration::zero(),
    });
    let addr = server.addr;

    let mut unsigned = Delivery::request("production", "h-unsigned");
    unsigned.signature = None;
    assert_eq!(unsigned.send(&client, addr).await, 401);
    let mut wrong = Delivery::request("production", "h-wrong");
    wrong.signature = Some(sign(b"guessed", &wrong.body));
    assert_eq!(wrong.send(&client, addr).await, 401);
    let truncated = FIXTURE.as_bytes()[..FIXTURE.len() / 3].to_vec();
    assert_eq!(
        Delivery::signed("deployment_protection_rule", "h-cut", truncated)
            .send(&client, addr)
            .await,
        400
    );
    let big = vec![b' '; serve::MAX_BODY + 1];
    assert_eq!(
        Delivery::signed("deployment_protection_rule", "h-big", big)
            .send(&client, addr)
            .await,
        413
    );
    let mut form = Delivery::request("production", "h-form");
    form.content_type = "text/plain";
    assert_eq!(form.send(&client, addr).await, 415);
    assert_eq!(
        Delivery::signed(
            "deployment_protection_rule",
            "h-stranger",
            payload("production", 999, 7)
        )
        .send(&client, addr)
        .await,
        202
    );
    assert_eq!(
        Delivery::request("callback-422", "h-422")
            .send(&client, addr)
            .await,
        202
    );
    assert_eq!(
        Delivery::request("production", "h-good")
            .send(&client, addr)
            .await,
        202
    );
    until("the good delivery and the refused answer are sent", || {
        receiver.answers().len() == 2
    })
    .await;
    assert_eq!(get(&client, addr, "/healthz").await.0, 200);

    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "a graceful stop: {log:#?}");
    let lines: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let said = |delivery: &str, words: &str| {
        lines
            .iter()
            .any(|line| line["delivery"] == delivery && line.to_string().contains(words))
    };
    for (delivery, words) in [
        ("h-unsigned", "no X-Hub-Signature-256 header"),
        ("h-wrong", "does not match the body"),
        ("h-cut", "not a deployment_protection_rule payload"),
        ("h-big", "over 1048576 bytes"),
        ("h-form", "is not application/json"),
        (
            "h-stranger",
            "installation 999 is not an installation of this GitHub App",
        ),
        ("h-422", "GitHub answered 422"),
    ] {
        assert!(
            said(delivery, words),
            "no log line about {delivery} saying {words:?}:\n{log:#?}"
        );
    }
    // The one line of a decided delivery names what it was about.
    let decided = lines
        .iter()
        .find(|line| line["delivery"] == "h-good" && line["message"] == "protection rule decided")
        .unwrap_or_else(|| panic!("no decision line for h-good:\n{log:#?}"));
    assert_eq!(decided["repo"], "Codertocat/Hello-World");
    assert_eq!(decided["environment"], "production");
    assert_eq!(decided["sha"], "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    assert_eq!(decided["decision"], "approved");
    assert!(decided["duration_ms"].is_u64(), "{decided}");
    assert!(
        !log.iter().any(|line| line.contains(SECRET)),
        "the webhook secret was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_answer_each_request_exactly_once() {
    let postgres = tokio::task::spawn_blocking(crate::support::postgres::Postgres::start)
        .await
        .expect("PostgreSQL starts");
    let database_url = postgres.url();
    let receiver = Receiver::start().await;
    let answer_url = receiver.url();
    let client = http();
    // Holds open ten seconds from now (after the deliveries): both schedulers race for them.
    let opening = wall_clock_now() + chrono::Duration::seconds(10);
    let config = ProcessConfig {
        database_url: &database_url,
        answer_url: &answer_url,
        opening: Some(opening),
        clock_offset: chrono::Duration::zero(),
    };
    let replicas = [ServerProcess::start(&config), ServerProcess::start(&config)];
    let addrs = [replicas[0].addr, replicas[1].addr];

    const REQUESTS: usize = 200;
    let ids: Vec<String> = (0..REQUESTS).map(|i| format!("r-{i:03}")).collect();
    let mut sends = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let environment = match i % 4 {
            0 => "hold",
            1 => "reject",
            _ => "production",
        };
        let body = payload(environment, 1, 1000 + i as u64);
        sends.push((addrs[i % 2], id.clone(), body.clone()));
        // Every third is delivered again, to the other replica too.
        if i % 3 == 0 {
            sends.push((addrs[(i + 1) % 2], id.clone(), body.clone()));
            sends.push((addrs[i % 2], id.clone(), body));
        }
    }
    let sent = futures::future::join_all(sends.into_iter().map(|(addr, id, body)| {
        let client = client.clone();
        async move {
            Delivery::signed("deployment_protection_rule", &id, body)
                .send(&client, addr)
                .await
        }
    }))
    .await;
    assert!(sent.iter().all(|status| *status == 202), "{sent:?}");

    until("every request is answered", || {
        receiver.answers().len() >= REQUESTS
    })
    .await;
    for replica in replicas {
        let (code, log) = replica.terminate();
        assert_eq!(code, Some(0), "a graceful stop: {log:#?}");
    }
    let mut by_id: BTreeMap<String, Vec<Answer>> = BTreeMap::new();
    for answer in receiver.answers() {
        by_id
            .entry(answer.delivery_id.clone())
            .or_default()
            .push(answer);
    }
    let twice: Vec<_> = by_id.iter().filter(|(_, a)| a.len() != 1).collect();
    assert!(twice.is_empty(), "answered more than once: {twice:#?}");
    assert_eq!(by_id.len(), REQUESTS);
    for (i, id) in ids.iter().enumerate() {
        let expected = if i % 4 == 1 { "rejected" } else { "approved" };
        assert_eq!(by_id[id][0].state, expected, "{id}");
    }
    let pids: std::collections::BTreeSet<u32> =
        by_id.values().map(|answers| answers[0].pid).collect();
    assert_eq!(pids.len(), 2, "both replicas answered some");
    // The store agrees: every request answered, the holds gone, one audit row per answer.
    let answered = postgres.psql("SELECT count(*) FROM requests WHERE state = 'answered'");
    assert_eq!(answered.trim(), REQUESTS.to_string());
    assert_eq!(postgres.psql("SELECT count(*) FROM holds").trim(), "0");
    // The holds admitted before the opening were held, then answered by one replica or the
    // other (a slow machine may deliver some after it: those are approved at once).
    let held: usize = postgres
        .psql("SELECT count(DISTINCT delivery_id) FROM decisions WHERE verdict = 'held'")
        .trim()
        .parse()
        .expect("a count");
    assert!(held > 0 && held <= REQUESTS / 4, "{held} held");
    let answers =
        postgres.psql("SELECT count(*) FROM decisions WHERE verdict IN ('approved', 'rejected')");
    assert_eq!(answers.trim(), REQUESTS.to_string());
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn serve_without_the_webhook_secret_exits_2_saying_what_to_set() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = crate::common::run(
        crate::common::shipgate()
            .env_remove("SHIPGATE_WEBHOOK_SECRET")
            .current_dir(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"]),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: SHIPGATE_WEBHOOK_SECRET is not set\nhint: set it to the webhook secret"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !dir.path().join("shipgate-serve.db").exists(),
        "nothing is created before the configuration is complete"
    );
}

#[test]
fn serve_without_the_github_app_exits_2_and_never_prints_the_secret() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = crate::common::run(
        crate::common::shipgate()
            .env("SHIPGATE_WEBHOOK_SECRET", SECRET)
            .env_remove("SHIPGATE_APP_ID")
            .env_remove("SHIPGATE_APP_PRIVATE_KEY")
            .env_remove("SHIPGATE_APP_PRIVATE_KEY_FILE")
            .current_dir(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "-vv"]),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("error: SHIPGATE_APP_ID is not set")
            && out
                .stderr
                .contains("hint: the server needs the GitHub App's id and private key"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(SECRET) && !out.stdout.contains(SECRET));
}
