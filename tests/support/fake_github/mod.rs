//! A stateful fake of the GitHub REST API, served over HTTP on 127.0.0.1 from its own thread and
//! tokio runtime, so ordinary `#[test]` functions can point the real `shipgate` binary at it
//! (`GITHUB_API_URL=fake.url()`).
//!
//! It imitates GitHub's REST contracts:
//!
//! - Transport: `per_page` (default 30, max 100) / `page` with a GitHub-style `Link` header
//!   (`prev`, `next`, `last`, `first`, in that order) built from the request's own base URL; an
//!   `ETag` on every 200 GET, computed from the body, with `If-None-Match` → `304` and an empty
//!   body; `x-ratelimit-*` headers on every answer, where a 304 does not use up the budget (and an
//!   exhausted budget answers 403 until the window resets); GitHub-shaped error bodies
//!   `{"message","documentation_url","status"}`; `content-type: application/json; charset=utf-8`.
//! - State in [`State`] / [`Repo`], changeable at any time through [`FakeGitHub::update`] and
//!   [`FakeGitHub::repo`], or scripted with [`FakeGitHub::on_poll`] and
//!   [`FakeGitHub::after_requests`].
//! - Faults ([`Fault`]) injected per path with [`FakeGitHub::fail_next`].
//! - Every request recorded ([`FakeGitHub::requests`], [`FakeGitHub::count`]).
//!
//! "Newest" always means "highest id": check runs for `filter=latest`, statuses for the latest
//! per context, deployments and workflow runs for their newest-first order. Ids the server
//! allocates (POSTs) start at 1,000,000, above ids tests pick for the builders.
//!
//! Layout: this file holds the public API and the server (start, scripts, faults, recording);
//! `state` the state types and the helpers that change them; `builders` GitHub's JSON shapes;
//! `transport` HTTP as GitHub speaks it (authentication, rate limits, faults, ETags, pagination);
//! `routes` the handlers, by resource; `util` small shared helpers.

// Each crate that includes the support module (the integration tests, the contract and container
// tests, the benchmarks) uses a different part of this API.
#![allow(dead_code)]

mod builders;
mod routes;
mod state;
mod transport;
mod util;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use serde_json::Value;

// The public API. Not every crate that includes the support module uses all of it.
#[allow(unused_imports)]
pub use builders::{
    actions_app, branch_protection, bulk_check_runs, check_run, commit_status, deployment,
    deployment_status, environment, environment_approval, merged_pull_request, pull_request,
    required_status_checks_rule, rule, workflow_run,
};
#[allow(unused_imports)]
pub use state::{ClassicProtection, FakeApp, RateLimit, Repo, State};
use transport::{Reply, Req};

/// The GitHub Actions app: `app.id` of Actions job check runs and rulesets' `integration_id`.
pub const ACTIONS_APP_ID: u64 = 15368;
/// The login of comments, statuses and deployments made with `GITHUB_TOKEN`.
pub const ACTIONS_BOT_LOGIN: &str = "github-actions[bot]";
/// 2026-05-01T12:00:00Z: the fixed clock of the builders (server-made objects use the real clock).
pub const FIXTURE_EPOCH: i64 = 1_777_636_800;

const WEB: &str = "https://github.com";
const DOCS: &str = "https://docs.github.com/rest";
const FIRST_SERVER_ID: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// A fault to answer instead of (or on top of) the normal answer; see [`FakeGitHub::fail_next`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// This status (500, 502, 503, ...) with a GitHub-shaped JSON body. The request is not applied.
    Status(u16),
    /// This status with an HTML body, as GitHub's edge sends for some 502/504s. Not applied.
    Html(u16),
    /// 403 with `retry-after` and GitHub's secondary-rate-limit message. Not applied.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` = now + `reset_in_secs`.
    /// Not applied; the fake's own budget is left as it was.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// 429 with `retry-after` and the secondary-rate-limit message. Not applied.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long, then answer normally (the request is applied after the wait).
    Slow(Duration),
    /// Apply the request normally, then answer 200 with the first half of the JSON body.
    MalformedJson,
}

/// One request as the fake received it, and the status it answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The raw (still percent-encoded) path, e.g. `/repos/o/r/commits/abc/check-runs`.
    pub path: String,
    /// The raw query string without `?` (empty if none).
    pub query: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
    /// When the request arrived (before any latency the fake adds).
    pub received: std::time::Instant,
}

impl Recorded {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

type Change = Box<dyn FnOnce(&mut State) + Send>;

struct Script {
    /// `Some(substring)`: counts GETs whose path contains it (fires before answering the
    /// `target`-th); `None`: counts every request (fires after answering the `target`-th).
    poll_path: Option<String>,
    target: usize,
    seen: usize,
    change: Option<Change>,
}

struct FaultRule {
    method: Option<String>,
    path: String,
    fault: Fault,
    remaining: usize,
}

struct Inner {
    state: State,
    latency: Duration,
    faults: Vec<FaultRule>,
    scripts: Vec<Script>,
    recorded: Vec<Recorded>,
    answered: u64,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

struct Shared {
    inner: Mutex<Inner>,
    url: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked inside a closure poisons the lock; the state is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake server. Serves until dropped.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeGitHub {
    /// Binds 127.0.0.1 on a free port and serves from a background thread.
    pub fn start() -> FakeGitHub {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake GitHub to 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("make the fake GitHub's listener non-blocking");
        let address = listener.local_addr().expect("the fake GitHub's address");
        let url = format!("http://{address}");
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                state: State::new(&url),
                latency: Duration::ZERO,
                faults: Vec::new(),
                scripts: Vec::new(),
                recorded: Vec::new(),
                answered: 0,
                in_flight: 0,
                most_in_flight: 0,
            }),
            url,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-github".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the fake GitHub's tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("register the fake GitHub's listener");
                    tokio::select! {
                        result = async { axum::serve(listener, app).await } => {
                            if let Err(error) = result {
                                eprintln!("fake GitHub stopped: {error}");
                            }
                        }
                        _ = stop => {}
                    }
                });
                // Drop in-flight connections (e.g. a request held by `Fault::Slow`) at once.
                runtime.shutdown_background();
            })
            .expect("spawn the fake GitHub's thread");
        FakeGitHub {
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:43123` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Adds this delay before every answer (0 to turn it off).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Reads or changes the state.
    pub fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        change(&mut self.shared.lock().state)
    }

    /// Reads or changes one repository (created on first use).
    pub fn repo<R>(&self, full_name: &str, change: impl FnOnce(&mut Repo) -> R) -> R {
        change(self.shared.lock().state.repo(full_name))
    }

    /// Points a branch or tag at `sha`.
    pub fn set_ref(&self, repo: &str, git_ref: &str, sha: &str) {
        self.repo(repo, |repo| {
            repo.set_ref(git_ref, sha);
        });
    }

    pub fn add_check_runs(&self, repo: &str, sha: &str, runs: impl IntoIterator<Item = Value>) {
        self.repo(repo, |repo| {
            repo.add_check_runs(sha, runs);
        });
    }

    pub fn add_statuses(&self, repo: &str, sha: &str, statuses: impl IntoIterator<Item = Value>) {
        self.repo(repo, |repo| {
            repo.add_statuses(sha, statuses);
        });
    }

    /// true (default): `return_run_details` gets 200 with the run; false: always 204.
    pub fn set_dispatch_returns_run_details(&self, on: bool) {
        self.update(|state| state.dispatch_returns_run_details = on);
    }

    /// Sets the primary rate-limit window: `limit` per hour with `remaining` left.
    pub fn set_rate_limit(&self, limit: u64, remaining: u64) {
        self.update(|state| {
            state.rate_limit.limit = limit;
            state.rate_limit.used = limit.saturating_sub(remaining);
        });
    }

    pub fn rate_limit_remaining(&self) -> u64 {
        self.update(|state| state.rate_limit.remaining())
    }

    /// Requires `Authorization: Bearer <token>` (or `token <token>`); `None` accepts anything.
    pub fn require_token(&self, token: Option<&str>) {
        self.update(|state| state.required_token = token.map(str::to_string));
    }

    /// Acts as GitHub for this app: `/app/installations/{id}/access_tokens` verifies its JWTs
    /// against `public_key_pem`, and every other request needs a token it issued.
    pub fn install_app(&self, app_id: u64, public_key_pem: &str, installations: &[u64]) {
        self.update(|state| state.app = Some(FakeApp::new(app_id, public_key_pem, installations)));
    }

    /// The app's state: the JWTs it accepted and the tokens it issued.
    pub fn app(&self) -> Option<FakeApp> {
        self.update(|state| state.app.clone())
    }

    /// Runs `change` once, right after the `n`-th request (counted from now) is answered.
    pub fn after_requests(&self, n: usize, change: impl FnOnce(&mut State) + Send + 'static) {
        self.shared.lock().scripts.push(Script {
            poll_path: None,
            target: n,
            seen: 0,
            change: Some(Box::new(change)),
        });
    }

    /// Runs `change` once, just before answering the `poll`-th (1-based, counted from now) GET
    /// whose path contains `path_substring`, so that poll is the first to see the change. Every
    /// matching GET counts, whatever it is answered (a fault, a 304, ...).
    pub fn on_poll(
        &self,
        path_substring: &str,
        poll: usize,
        change: impl FnOnce(&mut State) + Send + 'static,
    ) {
        self.shared.lock().scripts.push(Script {
            poll_path: Some(path_substring.to_string()),
            target: poll,
            seen: 0,
            change: Some(Box::new(change)),
        });
    }

    /// Answers the next `times` requests whose path contains `path_substring` with `fault`.
    /// Rules apply in the order they were added: a request takes the first rule that matches
    /// and still has uses left.
    pub fn fail_next(&self, path_substring: &str, fault: Fault, times: usize) {
        self.push_fault(None, path_substring, fault, times);
    }

    /// [`FakeGitHub::fail_next`] for one method only (`"POST"`, ...).
    pub fn fail_next_method(&self, method: &str, path_substring: &str, fault: Fault, times: usize) {
        self.push_fault(Some(method), path_substring, fault, times);
    }

    fn push_fault(&self, method: Option<&str>, path: &str, fault: Fault, times: usize) {
        self.shared.lock().faults.push(FaultRule {
            method: method.map(str::to_ascii_uppercase),
            path: path.to_string(),
            fault,
            remaining: times,
        });
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().recorded.clone()
    }

    /// The most requests the fake was answering at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.shared.lock().most_in_flight
    }

    /// How many requests had this method (`"*"`: any) and a path containing `path_substring`.
    pub fn count(&self, method: &str, path_substring: &str) -> usize {
        self.shared
            .lock()
            .recorded
            .iter()
            .filter(|r| method == "*" || r.method.eq_ignore_ascii_case(method))
            .filter(|r| r.path.contains(path_substring))
            .count()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().recorded.clear();
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let req = Req::new(&parts, &body, &shared.url);
    let received = std::time::Instant::now();

    let (latency, fault) = {
        let mut inner = shared.lock();
        inner.in_flight += 1;
        inner.most_in_flight = inner.most_in_flight.max(inner.in_flight);
        (inner.latency, inner.take_fault(&req))
    };
    let mut delay = latency;
    if let Some(Fault::Slow(slow)) = &fault {
        delay += *slow;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let reply = {
        let mut inner = shared.lock();
        inner.in_flight -= 1;
        let reply = inner.answer(&req, fault);
        if let Some(last) = inner.recorded.last_mut() {
            last.received = received;
        }
        reply
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response
        .body(Body::from(reply.body))
        .unwrap_or_else(|error| {
            let mut response =
                Response::new(Body::from(format!("fake GitHub: bad response: {error}")));
            *response.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        })
}

impl Inner {
    fn take_fault(&mut self, req: &Req) -> Option<Fault> {
        let rule = self.faults.iter_mut().find(|rule| {
            rule.remaining > 0
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|method| method == req.method)
                && req.path.contains(&rule.path)
        })?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        self.faults.retain(|rule| rule.remaining > 0);
        Some(fault)
    }

    fn answer(&mut self, req: &Req, fault: Option<Fault>) -> Reply {
        if req.method == "GET" {
            self.run_scripts(|script| {
                script
                    .poll_path
                    .as_deref()
                    .is_some_and(|path| req.path.contains(path))
            });
        }
        self.answered += 1;
        let reply = self.state.serve(req, fault, self.answered);
        self.recorded.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            status: reply.status,
            received: std::time::Instant::now(),
        });
        self.run_scripts(|script| script.poll_path.is_none());
        reply
    }

    /// Counts one event for the scripts `counts` selects and fires those that reach their target.
    fn run_scripts(&mut self, counts: impl Fn(&Script) -> bool) {
        let mut due = Vec::new();
        for script in &mut self.scripts {
            if counts(script) {
                script.seen += 1;
                if script.seen == script.target {
                    due.extend(script.change.take());
                }
            }
        }
        self.scripts.retain(|script| script.change.is_some());
        for change in due {
            change(&mut self.state);
        }
    }
}
