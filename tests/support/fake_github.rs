//! A stateful fake of the GitHub REST API, served over HTTP on 127.0.0.1 from its own thread and
//! tokio runtime, so ordinary `#[test]` functions can point the real `shipgate` binary at it
//! (`GITHUB_API_URL=fake.url()`).
//!
//! It imitates the contracts in `/work/shared/reference/github.md` (A1–A8):
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

// The GitHub client's integration tests, which will use most of this API, come next; until then
// much of it is used only by the self-test or not at all.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use serde_json::{json, Map, Value};

/// The GitHub Actions app: `app.id` of Actions job check runs and rulesets' `integration_id`.
pub const ACTIONS_APP_ID: u64 = 15368;
/// The login of comments, statuses and deployments made with `GITHUB_TOKEN`.
pub const ACTIONS_BOT_LOGIN: &str = "github-actions[bot]";
/// 2026-05-01T12:00:00Z: the fixed clock of the builders (server-made objects use the real clock).
pub const FIXTURE_EPOCH: i64 = 1_777_636_800;

const WEB: &str = "https://github.com";
const DOCS: &str = "https://docs.github.com/rest";
const FIRST_SERVER_ID: u64 = 1_000_000;
const SECONDARY_LIMIT_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few \
     minutes before you try again. If you reach out to GitHub Support for help, please include \
     the request ID";
const SECONDARY_LIMIT_DOCS: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/\
     rate-limits-for-the-rest-api#about-secondary-rate-limits";
const PRIMARY_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

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

/// What `GET .../branches/{b}/protection/required_status_checks` answers for a branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassicProtection {
    /// 200 `{url, strict, contexts, contexts_url, checks[{context, app_id}]}`.
    Checks {
        strict: bool,
        checks: Vec<(String, Option<u64>)>,
    },
    /// 404 "Branch not protected" (the default).
    NotProtected,
    /// 403 "Resource not accessible by integration", as `GITHUB_TOKEN` gets.
    Forbidden,
}

/// The primary rate limit. `reset` is UTC epoch seconds; when it passes, `used` goes back to 0
/// and the window restarts for an hour.
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub limit: u64,
    pub used: u64,
    pub reset: u64,
    pub resource: String,
}

impl RateLimit {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    fn roll(&mut self, now: u64) {
        if now >= self.reset {
            self.used = 0;
            self.reset = now + 3600;
        }
    }
}

/// Everything the fake serves. Change it with [`FakeGitHub::update`] or from scripts.
pub struct State {
    /// Keyed by lowercased `owner/name`; use [`State::repo`].
    pub repos: BTreeMap<String, Repo>,
    pub rate_limit: RateLimit,
    /// Who comments, deployments and dispatched runs are attributed to.
    pub viewer_login: String,
    pub viewer_type: String,
    pub viewer_id: u64,
    /// When set, requests must carry `Authorization: Bearer <token>` (or `token <token>`),
    /// else 401.
    pub required_token: Option<String>,
    /// Whether a dispatch with `"return_run_details": true` answers 200 with the run (true, the
    /// default) or always 204, like GHES and servers older than 2026-02-19.
    pub dispatch_returns_run_details: bool,
    /// Whether a dispatch creates a workflow run at all (default true).
    pub dispatch_creates_run: bool,
    /// A dispatched run shows up in the runs list only after this many list requests (default
    /// 0: at once), as runs appear asynchronously.
    pub dispatch_run_visible_after_polls: usize,
    /// `ETag: "..."` instead of the default weak `ETag: W/"..."`.
    pub strong_etags: bool,
    base_url: String,
    ids: Arc<AtomicU64>,
}

impl State {
    fn new(base_url: &str) -> Self {
        State {
            repos: BTreeMap::new(),
            rate_limit: RateLimit {
                limit: 5000,
                used: 0,
                reset: now_epoch() + 3600,
                resource: "core".to_string(),
            },
            viewer_login: ACTIONS_BOT_LOGIN.to_string(),
            viewer_type: "Bot".to_string(),
            viewer_id: 41_898_282,
            required_token: None,
            dispatch_returns_run_details: true,
            dispatch_creates_run: true,
            dispatch_run_visible_after_polls: 0,
            strong_etags: false,
            base_url: base_url.to_string(),
            ids: Arc::new(AtomicU64::new(FIRST_SERVER_ID)),
        }
    }

    /// The repository `owner/name` (case-insensitive), created empty on first use.
    pub fn repo(&mut self, full_name: &str) -> &mut Repo {
        let base_url = self.base_url.clone();
        let ids = Arc::clone(&self.ids);
        self.repos
            .entry(full_name.to_ascii_lowercase())
            .or_insert_with(|| Repo::new(full_name, &base_url, ids))
    }

    /// A fresh server id (the same counter the server uses for POSTs).
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn viewer(&self) -> Value {
        user_json(&self.viewer_login, self.viewer_id, &self.viewer_type)
    }
}

/// One repository's state. Values are GitHub JSON objects (build them with [`check_run`],
/// [`commit_status`], ... and change any field), so tests can also serve odd shapes.
pub struct Repo {
    pub full_name: String,
    /// Ref name → SHA. A ref is looked up as given, then without `refs/`, `heads/`, `tags/`.
    pub refs: BTreeMap<String, String>,
    /// SHA → commit message, for every known commit.
    pub commits: BTreeMap<String, String>,
    /// SHA → check runs, in insertion order.
    pub check_runs: BTreeMap<String, Vec<Value>>,
    /// Check-run id → annotations received through POST/PATCH `output.annotations`.
    pub annotations: BTreeMap<u64, Vec<Value>>,
    /// SHA → commit statuses, in insertion order.
    pub statuses: BTreeMap<String, Vec<Value>>,
    /// Branch → active rules for `GET /rules/branches/{branch}`; the key `*` applies to branches
    /// with no entry of their own.
    pub rules: BTreeMap<String, Vec<Value>>,
    /// Branch → the partial `protection` object of `GET /branches/{b}` (see
    /// [`branch_protection`]); a branch with an entry is `protected: true`.
    pub branch_protection: BTreeMap<String, Value>,
    /// Branch → classic protection answer; the key `*` applies to branches with no entry.
    pub classic_protection: BTreeMap<String, ClassicProtection>,
    /// Number → pull request (see [`pull_request`]).
    pub pulls: BTreeMap<u64, Value>,
    /// (issue number, comment), in creation order.
    pub comments: Vec<(u64, Value)>,
    /// Deployments in creation order.
    pub deployments: Vec<Value>,
    /// Deployment id → statuses in creation order.
    pub deployment_statuses: BTreeMap<u64, Vec<Value>>,
    /// When set, dispatching or listing runs of another workflow answers 404.
    pub workflow_files: Option<BTreeSet<String>>,
    /// Workflow file → numeric workflow id (assigned on first use).
    pub workflow_ids: BTreeMap<String, u64>,
    /// Visible workflow runs.
    pub workflow_runs: Vec<Value>,
    /// Dispatched runs not visible yet: (list requests still to wait, run).
    pub pending_runs: Vec<(usize, Value)>,
    /// Bodies of every accepted dispatch, with `workflow_id` added.
    pub dispatches: Vec<Value>,
    base_url: String,
    ids: Arc<AtomicU64>,
}

impl Repo {
    fn new(full_name: &str, base_url: &str, ids: Arc<AtomicU64>) -> Self {
        Repo {
            full_name: full_name.to_string(),
            refs: BTreeMap::new(),
            commits: BTreeMap::new(),
            check_runs: BTreeMap::new(),
            annotations: BTreeMap::new(),
            statuses: BTreeMap::new(),
            rules: BTreeMap::new(),
            branch_protection: BTreeMap::new(),
            classic_protection: BTreeMap::new(),
            pulls: BTreeMap::new(),
            comments: Vec::new(),
            deployments: Vec::new(),
            deployment_statuses: BTreeMap::new(),
            workflow_files: None,
            workflow_ids: BTreeMap::new(),
            workflow_runs: Vec::new(),
            pending_runs: Vec::new(),
            dispatches: Vec::new(),
            base_url: base_url.to_string(),
            ids,
        }
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn api(&self) -> String {
        format!("{}/repos/{}", self.base_url, self.full_name)
    }

    fn web(&self) -> String {
        format!("{WEB}/{}", self.full_name)
    }

    /// Points `git_ref` (a branch or tag name) at `sha`, and makes the commit known.
    pub fn set_ref(&mut self, git_ref: &str, sha: &str) -> &mut Self {
        self.refs.insert(git_ref.to_string(), sha.to_string());
        self.commits
            .entry(sha.to_string())
            .or_insert_with(|| format!("Commit {}", short(sha)));
        self
    }

    /// Makes a commit known, with its message.
    pub fn add_commit(&mut self, sha: &str, message: &str) -> &mut Self {
        self.commits.insert(sha.to_string(), message.to_string());
        self
    }

    /// Adds a check run on `sha` (making the commit known). Sets `head_sha`, and fills `url`,
    /// `html_url`, `details_url` and `output.annotations_url` when they are empty.
    pub fn add_check_run(&mut self, sha: &str, mut run: Value) -> &mut Self {
        self.commits
            .entry(sha.to_string())
            .or_insert_with(|| format!("Commit {}", short(sha)));
        self.normalize_check_run(sha, &mut run);
        self.check_runs
            .entry(sha.to_string())
            .or_default()
            .push(run);
        self
    }

    pub fn add_check_runs(
        &mut self,
        sha: &str,
        runs: impl IntoIterator<Item = Value>,
    ) -> &mut Self {
        for run in runs {
            self.add_check_run(sha, run);
        }
        self
    }

    fn normalize_check_run(&self, sha: &str, run: &mut Value) {
        let id = id_of(run);
        run["head_sha"] = json!(sha);
        let api = format!("{}/check-runs/{id}", self.api());
        let html = format!("{}/actions/runs/{}/job/{id}", self.web(), 9_000_000 + id);
        fill_if_empty(run, "url", &api);
        fill_if_empty(run, "html_url", &html);
        fill_if_empty(run, "details_url", &html);
        if run.get("output").is_some_and(Value::is_object) {
            fill_if_empty(
                &mut run["output"],
                "annotations_url",
                &format!("{api}/annotations"),
            );
        }
    }

    /// The check run with this id, on any SHA.
    pub fn check_run_mut(&mut self, id: u64) -> Option<&mut Value> {
        self.check_runs
            .values_mut()
            .flatten()
            .find(|run| id_of(run) == id)
    }

    /// Moves a check run to `status` (and `conclusion`), keeping the timestamps consistent.
    /// Panics if there is no such run.
    pub fn set_check_run(&mut self, id: u64, status: &str, conclusion: Option<&str>) -> &mut Self {
        let run = self
            .check_run_mut(id)
            .unwrap_or_else(|| panic!("no check run {id}"));
        set_run_state(run, id, status, conclusion);
        self
    }

    /// Adds a commit status on `sha` (making the commit known) and fills its `url`.
    pub fn add_status(&mut self, sha: &str, mut status: Value) -> &mut Self {
        self.commits
            .entry(sha.to_string())
            .or_insert_with(|| format!("Commit {}", short(sha)));
        fill_if_empty(
            &mut status,
            "url",
            &format!("{}/statuses/{sha}", self.api()),
        );
        self.statuses
            .entry(sha.to_string())
            .or_default()
            .push(status);
        self
    }

    pub fn add_statuses(
        &mut self,
        sha: &str,
        statuses: impl IntoIterator<Item = Value>,
    ) -> &mut Self {
        for status in statuses {
            self.add_status(sha, status);
        }
        self
    }

    /// Sets the active rules of `branch` (`*`: every branch without its own entry).
    pub fn set_rules(&mut self, branch: &str, rules: Vec<Value>) -> &mut Self {
        self.rules.insert(branch.to_string(), rules);
        self
    }

    /// Marks `branch` protected with this partial protection (see [`branch_protection`]).
    pub fn set_branch_protection(&mut self, branch: &str, protection: Value) -> &mut Self {
        self.branch_protection
            .insert(branch.to_string(), protection);
        self
    }

    /// Sets what classic protection answers for `branch` (`*`: every branch without an entry).
    pub fn set_classic_protection(&mut self, branch: &str, answer: ClassicProtection) -> &mut Self {
        self.classic_protection.insert(branch.to_string(), answer);
        self
    }

    /// Adds (or replaces) a pull request, keyed by its `number`.
    pub fn add_pull(&mut self, pull: Value) -> &mut Self {
        let number = pull["number"].as_u64().unwrap_or(0);
        self.pulls.insert(number, pull);
        self
    }

    /// Adds a comment by someone else (or the bot) on an issue or PR; returns its id.
    pub fn add_comment(&mut self, issue: u64, body: &str, login: &str, user_type: &str) -> u64 {
        let id = self.next_id();
        let user = user_json(login, 1000 + id, user_type);
        let comment = self.comment_json(id, issue, body, user, &now_iso());
        self.comments.push((issue, comment));
        id
    }

    /// The comments on an issue or PR, in id order.
    pub fn comments_on(&self, issue: u64) -> Vec<Value> {
        let mut found: Vec<Value> = self
            .comments
            .iter()
            .filter(|(number, _)| *number == issue)
            .map(|(_, comment)| comment.clone())
            .collect();
        found.sort_by_key(id_of);
        found
    }

    /// Adds a workflow run (see [`workflow_run`]); its `workflow_id` and `path` are filled from
    /// `workflow_file`.
    pub fn add_workflow_run(&mut self, workflow_file: &str, mut run: Value) -> &mut Self {
        let workflow_id = self.workflow_id(workflow_file);
        run["workflow_id"] = json!(workflow_id);
        run["path"] = json!(format!(".github/workflows/{workflow_file}"));
        let id = id_of(&run);
        fill_if_empty(
            &mut run,
            "url",
            &format!("{}/actions/runs/{id}", self.api()),
        );
        fill_if_empty(
            &mut run,
            "html_url",
            &format!("{}/actions/runs/{id}", self.web()),
        );
        self.workflow_runs.push(run);
        self
    }

    /// The workflow run with this id, visible or pending.
    pub fn workflow_run_mut(&mut self, id: u64) -> Option<&mut Value> {
        self.workflow_runs
            .iter_mut()
            .chain(self.pending_runs.iter_mut().map(|(_, run)| run))
            .find(|run| id_of(run) == id)
    }

    /// Moves a workflow run to `status` (and `conclusion`). Panics if there is no such run.
    pub fn set_workflow_run(
        &mut self,
        id: u64,
        status: &str,
        conclusion: Option<&str>,
    ) -> &mut Self {
        let run = self
            .workflow_run_mut(id)
            .unwrap_or_else(|| panic!("no workflow run {id}"));
        run["status"] = json!(status);
        run["conclusion"] = json!(conclusion);
        run["updated_at"] = json!(now_iso());
        self
    }

    /// The id of the run made by the most recent dispatch, if any.
    pub fn last_dispatched_run(&self) -> Option<u64> {
        self.workflow_runs
            .iter()
            .chain(self.pending_runs.iter().map(|(_, run)| run))
            .filter(|run| run["event"] == "workflow_dispatch")
            .map(id_of)
            .max()
    }

    fn workflow_id(&mut self, workflow_file: &str) -> u64 {
        if let Ok(id) = workflow_file.parse::<u64>() {
            return id;
        }
        let next = 160_000_000 + self.workflow_ids.len() as u64;
        *self
            .workflow_ids
            .entry(workflow_file.to_string())
            .or_insert(next)
    }

    fn workflow_matches(&self, run: &Value, workflow: &str) -> bool {
        match workflow.parse::<u64>() {
            Ok(id) => run["workflow_id"].as_u64() == Some(id),
            Err(_) => run["path"]
                .as_str()
                .is_some_and(|path| path.rsplit('/').next() == Some(workflow)),
        }
    }

    fn workflow_known(&self, workflow: &str) -> bool {
        match &self.workflow_files {
            None => true,
            Some(files) => {
                files.contains(workflow)
                    || workflow
                        .parse::<u64>()
                        .is_ok_and(|id| self.workflow_ids.values().any(|known| *known == id))
            }
        }
    }

    /// A ref, branch, tag or (prefix of a) known SHA → the full SHA.
    pub fn resolve(&self, git_ref: &str) -> Option<String> {
        if let Some(sha) = self.refs.get(git_ref) {
            return Some(sha.clone());
        }
        let mut name = git_ref;
        for prefix in ["refs/", "heads/", "tags/"] {
            if let Some(rest) = name.strip_prefix(prefix) {
                name = rest;
                if let Some(sha) = self.refs.get(name) {
                    return Some(sha.clone());
                }
            }
        }
        if self.commits.contains_key(git_ref) {
            return Some(git_ref.to_string());
        }
        if git_ref.len() >= 7 && git_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = self.commits.keys().filter(|sha| sha.starts_with(git_ref));
            if let (Some(sha), None) = (matches.next(), matches.next()) {
                return Some(sha.clone());
            }
        }
        None
    }

    fn branch_sha(&self, branch: &str) -> Option<String> {
        self.refs
            .get(branch)
            .or_else(|| self.refs.get(&format!("heads/{branch}")))
            .or_else(|| self.refs.get(&format!("refs/heads/{branch}")))
            .cloned()
    }

    fn comment_json(&self, id: u64, issue: u64, body: &str, user: Value, now: &str) -> Value {
        json!({
            "id": id,
            "node_id": format!("IC_kwDOFAKE{id}"),
            "url": format!("{}/issues/comments/{id}", self.api()),
            "html_url": format!("{}/pull/{issue}#issuecomment-{id}", self.web()),
            "issue_url": format!("{}/issues/{issue}", self.api()),
            "body": body,
            "user": user,
            "author_association": "NONE",
            "created_at": now,
            "updated_at": now,
            "performed_via_github_app": null,
            "reactions": {"total_count": 0, "+1": 0, "-1": 0},
        })
    }

    fn repository_json(&self) -> Value {
        let (owner, name) = self
            .full_name
            .split_once('/')
            .unwrap_or((self.full_name.as_str(), ""));
        json!({
            "id": fnv(self.full_name.to_ascii_lowercase().as_bytes(), 0) % 1_000_000_000,
            "node_id": "R_kgDOFAKE",
            "name": name,
            "full_name": self.full_name,
            "owner": {"login": owner, "type": "Organization"},
            "private": false,
            "html_url": self.web(),
            "url": self.api(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Builders: GitHub's real JSON shapes
// ---------------------------------------------------------------------------------------------

/// The GitHub Actions app object, as on Actions job check runs.
pub fn actions_app() -> Value {
    json!({
        "id": ACTIONS_APP_ID,
        "client_id": "Iv1.05c79e9ad1f6bdfa",
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "owner": {"login": "github", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=",
                  "type": "Organization", "site_admin": false},
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": "https://github.com/apps/github-actions",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2019-12-10T19:04:12Z",
    })
}

/// A GitHub Actions job check run. Timestamps come from the fixed builder clock: started at
/// [`FIXTURE_EPOCH`] + `id` seconds, completed a minute later when `status == "completed"`.
/// `head_sha` and the URLs are filled in by [`Repo::add_check_run`].
pub fn check_run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> Value {
    let mut run = json!({
        "id": id,
        "name": name,
        "node_id": format!("CR_kwDOFAKE{id}"),
        "head_sha": "",
        "external_id": "",
        "url": "",
        "html_url": "",
        "details_url": "",
        "status": status,
        "conclusion": null,
        "started_at": null,
        "completed_at": null,
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": ""},
        "check_suite": {"id": 30_000_000 + id / 1000},
        "app": actions_app(),
        "pull_requests": [],
    });
    set_run_state(&mut run, id, status, conclusion);
    run
}

/// `count` completed, successful check runs named `check 0001`, `check 0002`, ... with ids
/// `first_id`, `first_id + 1`, ...
pub fn bulk_check_runs(first_id: u64, count: usize) -> Vec<Value> {
    (0..count as u64)
        .map(|i| {
            check_run(
                first_id + i,
                &format!("check {:04}", i + 1),
                "completed",
                Some("success"),
            )
        })
        .collect()
}

/// A commit status (`state`: `error|failure|pending|success`), created at [`FIXTURE_EPOCH`] +
/// `id` seconds by `github-actions[bot]`. `url` is filled in by [`Repo::add_status`].
pub fn commit_status(id: u64, context: &str, state: &str) -> Value {
    let at = iso(FIXTURE_EPOCH + id as i64);
    json!({
        "url": "",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
        "id": id,
        "node_id": format!("SC_kwDOFAKE{id}"),
        "state": state,
        "description": format!("{context}: {state}"),
        "target_url": format!("https://ci.example.com/{id}"),
        "context": context,
        "created_at": at,
        "updated_at": at,
        "creator": user_json(ACTIONS_BOT_LOGIN, 41_898_282, "Bot"),
    })
}

/// A `required_status_checks` rule from a ruleset, as `GET /rules/branches/{b}` lists it.
/// `checks` are `(context, integration_id)`.
pub fn required_status_checks_rule(
    ruleset_source: &str,
    ruleset_id: u64,
    checks: &[(&str, Option<u64>)],
    strict: bool,
) -> Value {
    let checks: Vec<Value> = checks
        .iter()
        .map(|(context, integration)| match integration {
            Some(id) => json!({"context": context, "integration_id": id}),
            None => json!({"context": context}),
        })
        .collect();
    json!({
        "type": "required_status_checks",
        "parameters": {
            "required_status_checks": checks,
            "strict_required_status_checks_policy": strict,
            "do_not_enforce_on_create": false,
        },
        "ruleset_source_type": "Repository",
        "ruleset_source": ruleset_source,
        "ruleset_id": ruleset_id,
    })
}

/// Any other rule (`deletion`, `non_fast_forward`, an unknown future type, ...).
pub fn rule(rule_type: &str, ruleset_source: &str, ruleset_id: u64) -> Value {
    json!({
        "type": rule_type,
        "ruleset_source_type": "Repository",
        "ruleset_source": ruleset_source,
        "ruleset_id": ruleset_id,
    })
}

/// The partial `protection` object of `GET /branches/{b}`. `enforcement_level`: `off`,
/// `non_admins` or `everyone`; `checks` are `(context, app_id)`.
pub fn branch_protection(enforcement_level: &str, checks: &[(&str, Option<u64>)]) -> Value {
    let contexts: Vec<&str> = checks.iter().map(|(context, _)| *context).collect();
    let checks: Vec<Value> = checks
        .iter()
        .map(|(context, app_id)| json!({"context": context, "app_id": app_id}))
        .collect();
    json!({
        "enabled": true,
        "required_status_checks": {
            "enforcement_level": enforcement_level,
            "contexts": contexts,
            "checks": checks,
        },
    })
}

/// An open, non-draft pull request from `head_ref` (in `repo` itself) into `base_ref`.
pub fn pull_request(
    repo: &str,
    number: u64,
    head_sha: &str,
    head_ref: &str,
    base_ref: &str,
) -> Value {
    let owner = repo.split('/').next().unwrap_or(repo);
    let repo_json = |full_name: &str| {
        json!({"id": 1, "name": full_name.rsplit('/').next().unwrap_or(full_name),
               "full_name": full_name, "fork": false})
    };
    json!({
        "id": 2_000_000_000 + number,
        "node_id": format!("PR_kwDOFAKE{number}"),
        "number": number,
        "state": "open",
        "locked": false,
        "draft": false,
        "title": format!("Pull request #{number}"),
        "user": user_json("octocat", 583_231, "User"),
        "html_url": format!("{WEB}/{repo}/pull/{number}"),
        "head": {"label": format!("{owner}:{head_ref}"), "ref": head_ref, "sha": head_sha,
                 "repo": repo_json(repo)},
        "base": {"label": format!("{owner}:{base_ref}"), "ref": base_ref,
                 "sha": "0000000000000000000000000000000000000000", "repo": repo_json(repo)},
        "merged": false,
        "mergeable": null,
        "created_at": iso(FIXTURE_EPOCH),
        "updated_at": iso(FIXTURE_EPOCH),
    })
}

/// A workflow run (add it with [`Repo::add_workflow_run`], which fills `workflow_id`, `path` and
/// the URLs).
pub fn workflow_run(
    id: u64,
    display_title: &str,
    event: &str,
    status: &str,
    conclusion: Option<&str>,
    head_sha: &str,
) -> Value {
    let at = iso(FIXTURE_EPOCH + id as i64 % 86_400);
    json!({
        "id": id,
        "name": display_title.split_whitespace().next().unwrap_or("workflow"),
        "node_id": format!("WFR_kwDOFAKE{id}"),
        "head_branch": "main",
        "head_sha": head_sha,
        "path": "",
        "display_title": display_title,
        "run_number": id % 10_000,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": 0,
        "url": "",
        "html_url": "",
        "created_at": at,
        "updated_at": at,
        "run_attempt": 1,
        "run_started_at": at,
        "actor": user_json("octocat", 583_231, "User"),
        "triggering_actor": user_json("octocat", 583_231, "User"),
        "pull_requests": [],
    })
}

fn user_json(login: &str, id: u64, user_type: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_FAKE{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "html_url": format!("{WEB}/{}", login.trim_end_matches("[bot]")),
        "type": user_type,
        "site_admin": false,
    })
}

fn set_run_state(run: &mut Value, id: u64, status: &str, conclusion: Option<&str>) {
    let started = FIXTURE_EPOCH + id as i64;
    run["status"] = json!(status);
    run["conclusion"] = json!(conclusion);
    run["started_at"] = if status == "queued" {
        Value::Null
    } else {
        json!(iso(started))
    };
    run["completed_at"] = if status == "completed" {
        json!(iso(started + 60))
    } else {
        Value::Null
    };
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

    let (latency, fault) = {
        let mut inner = shared.lock();
        (inner.latency, inner.take_fault(&req))
    };
    let mut delay = latency;
    if let Some(Fault::Slow(slow)) = &fault {
        delay += *slow;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let reply = shared.lock().answer(&req, fault);
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

// ---------------------------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------------------------

struct Req {
    method: String,
    path: String,
    query: String,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: String,
    /// `http://host:port` as the client addressed us.
    base: String,
}

impl Req {
    fn new(parts: &axum::http::request::Parts, body: &[u8], fallback_base: &str) -> Req {
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = parts.uri.query().unwrap_or("").to_string();
        let base = headers
            .iter()
            .find(|(name, _)| name == "host")
            .map(|(_, host)| format!("http://{host}"))
            .unwrap_or_else(|| fallback_base.to_string());
        Req {
            method: parts.method.as_str().to_ascii_uppercase(),
            path: parts.uri.path().to_string(),
            params: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            query,
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            base,
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The JSON object body (`{}` when empty); 400 "Problems parsing JSON" otherwise.
    fn json(&self) -> Result<Map<String, Value>, Answer> {
        if self.body.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(invalid(
                "Invalid request.\n\nThe body must be a JSON object.",
            )),
            Err(_) => Err(error(400, "Problems parsing JSON", DOCS)),
        }
    }
}

enum Payload {
    Json(Value),
    Html(String),
    Empty,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    payload: Payload,
    /// Link header for a paginated list.
    link: Option<String>,
}

impl Answer {
    fn header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        payload: Payload::Json(body),
        link: None,
    }
}

fn created(body: Value) -> Answer {
    Answer {
        status: 201,
        ..ok(body)
    }
}

fn no_content() -> Answer {
    Answer {
        status: 204,
        headers: Vec::new(),
        payload: Payload::Empty,
        link: None,
    }
}

/// `{"message", "documentation_url", "status"}`, as GitHub sends errors.
fn error(status: u16, message: &str, documentation_url: &str) -> Answer {
    Answer {
        status,
        ..ok(json!({
            "message": message,
            "documentation_url": documentation_url,
            "status": status.to_string(),
        }))
    }
}

fn not_found() -> Answer {
    error(404, "Not Found", DOCS)
}

fn invalid(message: &str) -> Answer {
    error(422, message, DOCS)
}

fn missing(field: &str) -> Answer {
    invalid(&format!("Invalid request.\n\n\"{field}\" wasn't supplied."))
}

fn not_a_string(field: &str, value: &Value) -> Answer {
    invalid(&format!(
        "Invalid request.\n\nFor 'properties/{field}', {value} is not a string."
    ))
}

fn no_commit(git_ref: &str) -> Answer {
    error(
        422,
        &format!("No commit found for SHA: {git_ref}"),
        "https://docs.github.com/rest/commits/commits#get-a-commit",
    )
}

fn validation_failed(resource: &str, field: &str, message: &str, docs: &str) -> Answer {
    Answer {
        status: 422,
        ..ok(json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "custom", "field": field, "message": message}],
            "documentation_url": docs,
            "status": "422",
        }))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("Error"),
    }
}

/// A required string field of a JSON body.
fn required_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, Answer> {
    match body.get(field) {
        None | Some(Value::Null) => Err(missing(field)),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(not_a_string(field, other)),
    }
}

/// An optional string field: `Ok(None)` when absent or null.
fn optional_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, Answer> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(not_a_string(field, other)),
    }
}

impl State {
    fn serve(&mut self, req: &Req, fault: Option<Fault>, number: u64) -> Reply {
        let now = now_epoch();
        self.rate_limit.roll(now);
        let request_id = format!(
            "FA4E:{:04X}:{:06X}:{:08X}",
            std::process::id() & 0xFFFF,
            number,
            now
        );
        let mut rate_override = None;
        let mut malformed = false;
        let answer = match fault {
            Some(Fault::Status(status)) => error(status, reason(status), DOCS),
            Some(Fault::Html(status)) => Answer {
                status,
                headers: Vec::new(),
                payload: Payload::Html(format!(
                    "<html><body><h1>{status} {}</h1>\nThe server didn't respond in time.\n</body></html>\n",
                    reason(status)
                )),
                link: None,
            },
            Some(Fault::SecondaryRateLimit { retry_after_secs }) => error(
                403,
                &format!("{SECONDARY_LIMIT_MESSAGE} {request_id}."),
                SECONDARY_LIMIT_DOCS,
            )
            .header("retry-after", retry_after_secs),
            Some(Fault::TooManyRequests { retry_after_secs }) => error(
                429,
                &format!("{SECONDARY_LIMIT_MESSAGE} {request_id}."),
                SECONDARY_LIMIT_DOCS,
            )
            .header("retry-after", retry_after_secs),
            Some(Fault::PrimaryRateLimit { reset_in_secs }) => {
                rate_override = Some(now + reset_in_secs);
                self.primary_limit_exceeded(&request_id)
            }
            Some(Fault::MalformedJson) => {
                malformed = true;
                self.authorized(req, &request_id)
            }
            Some(Fault::Slow(_)) | None => self.authorized(req, &request_id),
        };

        let mut headers = answer.headers;
        let mut status = answer.status;
        let mut body = match answer.payload {
            Payload::Json(value) => {
                headers.push((
                    "content-type".to_string(),
                    "application/json; charset=utf-8".to_string(),
                ));
                serde_json::to_vec(&value).unwrap_or_default()
            }
            Payload::Html(html) => {
                headers.push(("content-type".to_string(), "text/html".to_string()));
                html.into_bytes()
            }
            Payload::Empty => Vec::new(),
        };
        if let Some(link) = answer.link {
            headers.push(("link".to_string(), link));
        }

        if malformed {
            status = 200;
            headers.retain(|(name, _)| name != "content-type");
            headers.push((
                "content-type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ));
            let keep = body.len() / 2;
            body.truncate(keep);
            if body.is_empty() {
                body = b"{\"message\":".to_vec();
            }
        } else if req.method == "GET" && status == 200 {
            let tag = etag(&body, self.strong_etags);
            let matches = req
                .header("if-none-match")
                .is_some_and(|wanted| etag_matches(wanted, &tag));
            headers.push(("etag".to_string(), tag));
            if matches {
                status = 304;
                body.clear();
                headers.retain(|(name, _)| name != "content-type" && name != "link");
            }
        }

        // A 304 and /rate_limit are free; everything else uses up one request.
        if status != 304 && req.path != "/rate_limit" && rate_override.is_none() {
            self.rate_limit.used += 1;
        }
        let limit = &self.rate_limit;
        let (remaining, used, reset) = match rate_override {
            Some(reset) => (0, limit.limit, reset),
            None => (limit.remaining(), limit.used.min(limit.limit), limit.reset),
        };
        headers.extend([
            ("x-ratelimit-limit".to_string(), limit.limit.to_string()),
            ("x-ratelimit-remaining".to_string(), remaining.to_string()),
            ("x-ratelimit-reset".to_string(), reset.to_string()),
            ("x-ratelimit-used".to_string(), used.to_string()),
            ("x-ratelimit-resource".to_string(), limit.resource.clone()),
            ("x-github-request-id".to_string(), request_id),
            (
                "x-github-api-version-selected".to_string(),
                req.header("x-github-api-version")
                    .unwrap_or("2022-11-28")
                    .to_string(),
            ),
            (
                "x-github-media-type".to_string(),
                "github.v3; format=json".to_string(),
            ),
        ]);
        Reply {
            status,
            headers,
            body,
        }
    }

    fn primary_limit_exceeded(&self, request_id: &str) -> Answer {
        error(
            403,
            &format!(
                "API rate limit exceeded for installation ID 1. If you reach out to GitHub Support \
                 for help, please include the request ID {request_id}."
            ),
            PRIMARY_LIMIT_DOCS,
        )
    }

    /// Authentication, then the primary rate limit, then routing.
    fn authorized(&mut self, req: &Req, request_id: &str) -> Answer {
        if let Some(token) = &self.required_token {
            match req.header("authorization") {
                None => return error(401, "Requires authentication", DOCS),
                Some(value) => {
                    let given = value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                        .or_else(|| value.strip_prefix("token "))
                        .unwrap_or("");
                    if given != token {
                        return error(401, "Bad credentials", DOCS);
                    }
                }
            }
        }
        if req.method == "GET" && req.path == "/rate_limit" {
            let core = json!({
                "limit": self.rate_limit.limit,
                "used": self.rate_limit.used,
                "remaining": self.rate_limit.remaining(),
                "reset": self.rate_limit.reset,
            });
            return ok(json!({"resources": {"core": core}, "rate": core}));
        }
        if self.rate_limit.remaining() == 0 {
            return self.primary_limit_exceeded(request_id);
        }
        self.route(req)
    }

    fn route(&mut self, req: &Req) -> Answer {
        let segments: Vec<String> = req
            .path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["user"]) => {
                if self.viewer_type == "Bot" {
                    error(
                        403,
                        "Resource not accessible by integration",
                        "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                    )
                } else {
                    ok(self.viewer())
                }
            }
            (_, ["repos", owner, name, rest @ ..]) if !owner.is_empty() && !name.is_empty() => {
                let full_name = format!("{owner}/{name}");
                match self.route_repo(req, &full_name, rest) {
                    Ok(answer) | Err(answer) => answer,
                }
            }
            _ => not_found(),
        }
    }

    fn route_repo(&mut self, req: &Req, full_name: &str, rest: &[&str]) -> Result<Answer, Answer> {
        let viewer = self.viewer();
        let dispatch = DispatchSettings {
            creates_run: self.dispatch_creates_run,
            returns_details: self.dispatch_returns_run_details,
            visible_after: self.dispatch_run_visible_after_polls,
        };
        let repo = self.repo(full_name);
        let answer = match (req.method.as_str(), rest) {
            // A1: check runs.
            ("GET", ["commits", git_ref @ .., "check-runs"]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                repo.list_check_runs(req, &sha)
            }
            ("POST", ["check-runs"]) => repo.create_check_run(req)?,
            ("GET", ["check-runs", id]) => {
                let id = id.parse::<u64>().map_err(|_| not_found())?;
                ok(repo.check_run_mut(id).ok_or_else(not_found)?.clone())
            }
            ("PATCH", ["check-runs", id]) => repo.update_check_run(req, id)?,
            // A2: commit statuses.
            ("GET", ["commits", git_ref @ .., "status"]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                repo.combined_status(req, &sha)
            }
            ("GET", ["commits", git_ref @ .., "statuses"]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                repo.list_statuses(req, &sha)
            }
            ("GET", ["statuses", git_ref @ ..]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                repo.list_statuses(req, &sha)
            }
            ("POST", ["statuses", sha]) => repo.create_status(req, sha)?,
            ("GET", ["commits", git_ref @ .., "pulls"]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                let pulls: Vec<Value> = repo
                    .pulls
                    .values()
                    .filter(|pull| pull["head"]["sha"] == sha.as_str())
                    .cloned()
                    .collect();
                paginated_array(req, pulls)
            }
            ("GET", ["commits", git_ref @ ..]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                ok(repo.commit_json(&sha))
            }
            // A3: what is required.
            ("GET", ["rules", "branches", branch @ ..]) if !branch.is_empty() => {
                let branch = branch.join("/");
                let rules = repo
                    .rules
                    .get(&branch)
                    .or_else(|| repo.rules.get("*"))
                    .cloned()
                    .unwrap_or_default();
                paginated_array(req, rules)
            }
            ("GET", ["branches", branch @ .., "protection", "required_status_checks"])
                if !branch.is_empty() =>
            {
                repo.classic_protection_answer(&branch.join("/"))
            }
            ("GET", ["branches", branch @ ..]) if !branch.is_empty() => {
                repo.branch_answer(&branch.join("/"))
            }
            ("GET", ["pulls", number]) => {
                let number = number.parse::<u64>().map_err(|_| not_found())?;
                ok(repo.pulls.get(&number).ok_or_else(not_found)?.clone())
            }
            // A7: comments.
            ("GET", ["issues", number, "comments"]) => {
                let number = number.parse::<u64>().map_err(|_| not_found())?;
                repo.list_comments(req, number)
            }
            ("POST", ["issues", number, "comments"]) => {
                let number = number.parse::<u64>().map_err(|_| not_found())?;
                repo.create_comment(req, number, viewer)?
            }
            ("GET", ["issues", "comments", id]) => {
                let index = repo.comment_index(id)?;
                ok(repo.comments[index].1.clone())
            }
            ("PATCH" | "POST", ["issues", "comments", id]) => {
                let index = repo.comment_index(id)?;
                let body = req.json()?;
                let text = required_str(&body, "body")?;
                check_comment_length(text)?;
                let comment = &mut repo.comments[index].1;
                comment["body"] = json!(text);
                comment["updated_at"] = json!(now_iso());
                ok(comment.clone())
            }
            ("DELETE", ["issues", "comments", id]) => {
                let index = repo.comment_index(id)?;
                repo.comments.remove(index);
                no_content()
            }
            // A6: deployments.
            ("POST", ["deployments"]) => repo.create_deployment(req, viewer)?,
            ("GET", ["deployments"]) => repo.list_deployments(req),
            ("GET", ["deployments", id]) => {
                let index = repo.deployment_index(id)?;
                ok(repo.deployments[index].clone())
            }
            ("POST", ["deployments", id, "statuses"]) => {
                repo.create_deployment_status(req, id, viewer)?
            }
            ("GET", ["deployments", id, "statuses"]) => {
                let index = repo.deployment_index(id)?;
                let id = id_of(&repo.deployments[index]);
                let mut statuses = repo
                    .deployment_statuses
                    .get(&id)
                    .cloned()
                    .unwrap_or_default();
                statuses.sort_by_key(|status| std::cmp::Reverse(id_of(status)));
                paginated_array(req, statuses)
            }
            // A5: rollback.
            ("POST", ["actions", "workflows", workflow, "dispatches"]) => {
                repo.dispatch(req, workflow, viewer, &dispatch)?
            }
            ("GET", ["actions", "workflows", workflow, "runs"]) => {
                repo.list_workflow_runs(req, workflow)?
            }
            ("GET", ["actions", "runs", id]) => {
                let id = id.parse::<u64>().map_err(|_| not_found())?;
                let run = repo
                    .workflow_runs
                    .iter()
                    .find(|run| id_of(run) == id)
                    .ok_or_else(not_found)?;
                ok(run.clone())
            }
            _ => not_found(),
        };
        Ok(answer)
    }
}

struct DispatchSettings {
    creates_run: bool,
    returns_details: bool,
    visible_after: usize,
}

const CHECK_RUN_STATUSES: &[&str] = &["queued", "in_progress", "completed"];
const CHECK_RUN_CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];
const DEPLOYMENT_STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];
const COMMENT_LIMIT: usize = 65_536;

impl Repo {
    fn sha_of(&self, git_ref: &str) -> Result<String, Answer> {
        self.resolve(git_ref).ok_or_else(|| no_commit(git_ref))
    }

    fn commit_json(&self, sha: &str) -> Value {
        let message = self.commits.get(sha).cloned().unwrap_or_default();
        let person = json!({"name": "Octo Cat", "email": "octocat@github.com",
                            "date": iso(FIXTURE_EPOCH)});
        json!({
            "sha": sha,
            "node_id": format!("C_kwDOFAKE{}", short(sha)),
            "commit": {
                "author": person,
                "committer": person,
                "message": message,
                "tree": {"sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                         "url": format!("{}/git/trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904", self.api())},
                "url": format!("{}/git/commits/{sha}", self.api()),
                "comment_count": 0,
                "verification": {"verified": false, "reason": "unsigned", "signature": null,
                                 "payload": null, "verified_at": null},
            },
            "url": format!("{}/commits/{sha}", self.api()),
            "html_url": format!("{}/commit/{sha}", self.web()),
            "comments_url": format!("{}/commits/{sha}/comments", self.api()),
            "author": null,
            "committer": null,
            "parents": [],
            "stats": {"total": 0, "additions": 0, "deletions": 0},
            "files": [],
        })
    }

    fn list_check_runs(&self, req: &Req, sha: &str) -> Answer {
        let mut runs = self.check_runs.get(sha).cloned().unwrap_or_default();
        if req.param("filter").unwrap_or("latest") != "all" {
            let mut newest: BTreeMap<String, Value> = BTreeMap::new();
            for run in runs {
                let name = run["name"].as_str().unwrap_or("").to_string();
                if newest
                    .get(&name)
                    .is_none_or(|kept| id_of(kept) < id_of(&run))
                {
                    newest.insert(name, run);
                }
            }
            runs = newest.into_values().collect();
        }
        if let Some(name) = req.param("check_name") {
            runs.retain(|run| run["name"] == name);
        }
        if let Some(status) = req.param("status") {
            runs.retain(|run| run["status"] == status);
        }
        if let Some(app_id) = req.param("app_id").and_then(|id| id.parse::<u64>().ok()) {
            runs.retain(|run| run["app"]["id"].as_u64() == Some(app_id));
        }
        runs.sort_by_key(|run| std::cmp::Reverse(id_of(run)));
        let total = runs.len();
        let (page, link) = paginate(req, runs);
        Answer {
            link,
            ..ok(json!({"total_count": total, "check_runs": page}))
        }
    }

    fn create_check_run(&mut self, req: &Req) -> Result<Answer, Answer> {
        let body = req.json()?;
        let name = required_str(&body, "name")?;
        let head_sha = required_str(&body, "head_sha")?;
        let sha = self.sha_of(head_sha)?;
        let id = self.next_id();
        let mut run = check_run(id, name, "queued", None);
        run["started_at"] = json!(now_iso());
        self.normalize_check_run(&sha, &mut run);
        let annotations = apply_check_run_fields(&mut run, &body)?;
        if !annotations.is_empty() {
            self.annotations.insert(id, annotations);
        }
        self.check_runs.entry(sha).or_default().push(run.clone());
        Ok(created(run))
    }

    fn update_check_run(&mut self, req: &Req, id: &str) -> Result<Answer, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        let body = req.json()?;
        let run = self.check_run_mut(id).ok_or_else(not_found)?;
        let mut updated = run.clone();
        let annotations = apply_check_run_fields(&mut updated, &body)?;
        *run = updated.clone();
        self.annotations.entry(id).or_default().extend(annotations);
        Ok(ok(updated))
    }

    /// The latest status per context (newest = highest id), newest first.
    fn latest_statuses(&self, sha: &str) -> Vec<Value> {
        let mut latest: BTreeMap<String, Value> = BTreeMap::new();
        for status in self.statuses.get(sha).into_iter().flatten() {
            let context = status["context"].as_str().unwrap_or("").to_string();
            if latest
                .get(&context)
                .is_none_or(|kept| id_of(kept) < id_of(status))
            {
                latest.insert(context, status.clone());
            }
        }
        let mut statuses: Vec<Value> = latest.into_values().collect();
        statuses.sort_by_key(|status| std::cmp::Reverse(id_of(status)));
        statuses
    }

    fn combined_status(&self, req: &Req, sha: &str) -> Answer {
        let statuses = self.latest_statuses(sha);
        let state_of = |status: &Value| status["state"].as_str().unwrap_or("").to_string();
        let state = if statuses
            .iter()
            .any(|status| matches!(state_of(status).as_str(), "error" | "failure"))
        {
            "failure"
        } else if statuses.is_empty() || statuses.iter().any(|status| state_of(status) != "success")
        {
            "pending"
        } else {
            "success"
        };
        let total = statuses.len();
        let (page, link) = paginate(req, statuses);
        Answer {
            link,
            ..ok(json!({
                "state": state,
                "sha": sha,
                "total_count": total,
                "statuses": page,
                "repository": self.repository_json(),
                "commit_url": format!("{}/commits/{sha}", self.api()),
                "url": format!("{}/commits/{sha}/status", self.api()),
            }))
        }
    }

    fn list_statuses(&self, req: &Req, sha: &str) -> Answer {
        let mut statuses = self.statuses.get(sha).cloned().unwrap_or_default();
        statuses.sort_by_key(|status| std::cmp::Reverse(id_of(status)));
        paginated_array(req, statuses)
    }

    fn create_status(&mut self, req: &Req, sha: &str) -> Result<Answer, Answer> {
        let sha = self.sha_of(sha)?;
        let body = req.json()?;
        let state = required_str(&body, "state")?;
        if !matches!(state, "error" | "failure" | "pending" | "success") {
            return Err(invalid(&format!(
                "Invalid request.\n\nFor 'properties/state', \"{state}\" is not a member of the enum."
            )));
        }
        let context = optional_str(&body, "context")?.unwrap_or("default");
        let id = self.next_id();
        let now = now_iso();
        let mut status = commit_status(id, context, state);
        status["description"] = json!(optional_str(&body, "description")?);
        status["target_url"] = json!(optional_str(&body, "target_url")?);
        status["created_at"] = json!(now);
        status["updated_at"] = json!(now);
        self.add_status(&sha, status.clone());
        let status = self
            .statuses
            .get(&sha)
            .and_then(|list| list.last())
            .cloned()
            .unwrap_or(status);
        Ok(created(status))
    }

    fn branch_answer(&self, branch: &str) -> Answer {
        let Some(sha) = self.branch_sha(branch) else {
            return error(
                404,
                "Branch not found",
                "https://docs.github.com/rest/branches/branches#get-a-branch",
            );
        };
        let (protected, protection) = match self.branch_protection.get(branch) {
            Some(protection) => (true, protection.clone()),
            None => (
                false,
                json!({"enabled": false, "required_status_checks":
                       {"enforcement_level": "off", "contexts": [], "checks": []}}),
            ),
        };
        let mut commit = self.commit_json(&sha);
        if let Some(object) = commit.as_object_mut() {
            object.remove("files");
            object.remove("stats");
        }
        ok(json!({
            "name": branch,
            "commit": commit,
            "_links": {
                "self": format!("{}/branches/{branch}", self.api()),
                "html": format!("{}/tree/{branch}", self.web()),
            },
            "protected": protected,
            "protection": protection,
            "protection_url": format!("{}/branches/{branch}/protection", self.api()),
        }))
    }

    fn classic_protection_answer(&self, branch: &str) -> Answer {
        const DOCS_URL: &str =
            "https://docs.github.com/rest/branches/branch-protection#get-status-checks-protection";
        let answer = self
            .classic_protection
            .get(branch)
            .or_else(|| self.classic_protection.get("*"))
            .cloned()
            .unwrap_or(ClassicProtection::NotProtected);
        if answer == ClassicProtection::Forbidden {
            return error(403, "Resource not accessible by integration", DOCS_URL);
        }
        if self.branch_sha(branch).is_none() {
            return error(404, "Branch not found", DOCS_URL);
        }
        match answer {
            ClassicProtection::Checks { strict, checks } => {
                let url = format!(
                    "{}/branches/{branch}/protection/required_status_checks",
                    self.api()
                );
                let contexts: Vec<&str> =
                    checks.iter().map(|(context, _)| context.as_str()).collect();
                let checks: Vec<Value> = checks
                    .iter()
                    .map(|(context, app_id)| json!({"context": context, "app_id": app_id}))
                    .collect();
                ok(json!({
                    "url": url,
                    "strict": strict,
                    "contexts": contexts,
                    "contexts_url": format!("{url}/contexts"),
                    "checks": checks,
                }))
            }
            _ => error(404, "Branch not protected", DOCS_URL),
        }
    }

    fn list_comments(&self, req: &Req, issue: u64) -> Answer {
        let mut comments = self.comments_on(issue);
        if let Some(since) = req.param("since").and_then(parse_time) {
            comments.retain(|comment| {
                comment["updated_at"]
                    .as_str()
                    .and_then(parse_time)
                    .is_some_and(|updated| updated >= since)
            });
        }
        paginated_array(req, comments)
    }

    fn create_comment(&mut self, req: &Req, issue: u64, viewer: Value) -> Result<Answer, Answer> {
        let body = req.json()?;
        let text = required_str(&body, "body")?;
        check_comment_length(text)?;
        let id = self.next_id();
        let comment = self.comment_json(id, issue, text, viewer, &now_iso());
        self.comments.push((issue, comment.clone()));
        let location = comment["url"].as_str().unwrap_or("").to_string();
        Ok(created(comment).header("location", location))
    }

    fn comment_index(&self, id: &str) -> Result<usize, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        self.comments
            .iter()
            .position(|(_, comment)| id_of(comment) == id)
            .ok_or_else(not_found)
    }

    fn deployment_index(&self, id: &str) -> Result<usize, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        self.deployments
            .iter()
            .position(|deployment| id_of(deployment) == id)
            .ok_or_else(not_found)
    }

    /// Context → whether it passes, over the latest statuses and latest check runs of `sha`.
    fn context_results(&self, sha: &str) -> BTreeMap<String, bool> {
        let mut results = BTreeMap::new();
        for status in self.latest_statuses(sha) {
            let context = status["context"].as_str().unwrap_or("").to_string();
            results.insert(context, status["state"] == "success");
        }
        let mut newest: BTreeMap<String, &Value> = BTreeMap::new();
        for run in self.check_runs.get(sha).into_iter().flatten() {
            let name = run["name"].as_str().unwrap_or("").to_string();
            if newest
                .get(&name)
                .is_none_or(|kept| id_of(kept) < id_of(run))
            {
                newest.insert(name, run);
            }
        }
        for (name, run) in newest {
            let passes = run["status"] == "completed"
                && matches!(
                    run["conclusion"].as_str(),
                    Some("success" | "neutral" | "skipped")
                );
            results.insert(name, passes);
        }
        results
    }

    fn create_deployment(&mut self, req: &Req, creator: Value) -> Result<Answer, Answer> {
        const DOCS_URL: &str =
            "https://docs.github.com/rest/deployments/deployments#create-a-deployment";
        let body = req.json()?;
        let git_ref = required_str(&body, "ref")?;
        let sha = self
            .resolve(git_ref)
            .ok_or_else(|| error(422, &format!("No ref found for: {git_ref}"), DOCS_URL))?;
        // Without `required_contexts`, GitHub requires every context on the commit to pass.
        let results = self.context_results(&sha);
        let failing: Vec<Value> = match body.get("required_contexts") {
            Some(Value::Array(required)) => required
                .iter()
                .filter_map(Value::as_str)
                .filter(|context| results.get(*context) != Some(&true))
                .map(|context| json!({"context": context, "state": "pending"}))
                .collect(),
            _ => results
                .iter()
                .filter(|(_, passes)| !**passes)
                .map(|(context, _)| json!({"context": context, "state": "failure"}))
                .collect(),
        };
        if !failing.is_empty() {
            return Err(Answer {
                status: 409,
                ..ok(json!({
                    "message": format!("Conflict: Commit status checks failed for {git_ref}."),
                    "errors": [{"contexts": failing, "resource": "Deployment",
                                "field": "required_contexts", "code": "invalid"}],
                    "documentation_url": DOCS_URL,
                    "status": "409",
                }))
            });
        }
        let environment = optional_str(&body, "environment")?.unwrap_or("production");
        let id = self.next_id();
        let now = now_iso();
        let url = format!("{}/deployments/{id}", self.api());
        let deployment = json!({
            "url": url,
            "id": id,
            "node_id": format!("DE_kwDOFAKE{id}"),
            "sha": sha,
            "ref": git_ref,
            "task": optional_str(&body, "task")?.unwrap_or("deploy"),
            "payload": body.get("payload").cloned().unwrap_or_else(|| json!({})),
            "original_environment": environment,
            "environment": environment,
            "description": body.get("description").cloned().unwrap_or(Value::Null),
            "creator": creator,
            "created_at": now,
            "updated_at": now,
            "statuses_url": format!("{url}/statuses"),
            "repository_url": self.api(),
            "transient_environment": body.get("transient_environment").and_then(Value::as_bool)
                .unwrap_or(false),
            "production_environment": body.get("production_environment").and_then(Value::as_bool)
                .unwrap_or(environment == "production"),
            "performed_via_github_app": null,
        });
        self.deployments.push(deployment.clone());
        Ok(created(deployment).header("location", url))
    }

    fn list_deployments(&self, req: &Req) -> Answer {
        let mut deployments: Vec<Value> = self
            .deployments
            .iter()
            .filter(|deployment| {
                ["sha", "ref", "task", "environment"].iter().all(|field| {
                    req.param(field)
                        .is_none_or(|wanted| deployment[*field] == wanted)
                })
            })
            .cloned()
            .collect();
        deployments.sort_by_key(|deployment| std::cmp::Reverse(id_of(deployment)));
        paginated_array(req, deployments)
    }

    fn create_deployment_status(
        &mut self,
        req: &Req,
        id: &str,
        creator: Value,
    ) -> Result<Answer, Answer> {
        let index = self.deployment_index(id)?;
        let body = req.json()?;
        let state = required_str(&body, "state")?;
        if !DEPLOYMENT_STATES.contains(&state) {
            return Err(invalid(&format!(
                "Invalid request.\n\nFor 'properties/state', \"{state}\" is not a member of the enum."
            )));
        }
        let deployment_id = id_of(&self.deployments[index]);
        if let Some(environment) = optional_str(&body, "environment")? {
            self.deployments[index]["environment"] = json!(environment);
        }
        let environment = self.deployments[index]["environment"].clone();
        let log_url = optional_str(&body, "log_url")?.or(optional_str(&body, "target_url")?);
        let status_id = self.next_id();
        let now = now_iso();
        let deployment_url = format!("{}/deployments/{deployment_id}", self.api());
        let status = json!({
            "url": format!("{deployment_url}/statuses/{status_id}"),
            "id": status_id,
            "node_id": format!("DES_kwDOFAKE{status_id}"),
            "state": state,
            "creator": creator,
            "description": optional_str(&body, "description")?.unwrap_or(""),
            "environment": environment,
            "target_url": log_url.unwrap_or(""),
            "log_url": log_url.unwrap_or(""),
            "environment_url": optional_str(&body, "environment_url")?.unwrap_or(""),
            "created_at": now,
            "updated_at": now,
            "deployment_url": deployment_url,
            "repository_url": self.api(),
            "performed_via_github_app": null,
        });
        // auto_inactive: prior successful non-transient, non-production deployments of the same
        // environment get an `inactive` status.
        let auto_inactive = body
            .get("auto_inactive")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if state == "success" && auto_inactive {
            let prior: Vec<u64> = self
                .deployments
                .iter()
                .filter(|other| {
                    id_of(other) != deployment_id && other["environment"] == environment
                })
                .filter(|other| {
                    other["transient_environment"] != true
                        && other["production_environment"] != true
                })
                .map(id_of)
                .filter(|other| {
                    self.deployment_statuses
                        .get(other)
                        .and_then(|statuses| statuses.iter().max_by_key(|status| id_of(status)))
                        .is_some_and(|latest| latest["state"] == "success")
                })
                .collect();
            for other in prior {
                let inactive_id = self.next_id();
                let mut inactive = status.clone();
                inactive["id"] = json!(inactive_id);
                inactive["state"] = json!("inactive");
                inactive["deployment_url"] = json!(format!("{}/deployments/{other}", self.api()));
                self.deployment_statuses
                    .entry(other)
                    .or_default()
                    .push(inactive);
            }
        }
        self.deployment_statuses
            .entry(deployment_id)
            .or_default()
            .push(status.clone());
        let location = status["url"].as_str().unwrap_or("").to_string();
        Ok(created(status).header("location", location))
    }

    fn dispatch(
        &mut self,
        req: &Req,
        workflow: &str,
        actor: Value,
        settings: &DispatchSettings,
    ) -> Result<Answer, Answer> {
        const DOCS_URL: &str =
            "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
        if !self.workflow_known(workflow) {
            return Err(not_found());
        }
        let body = req.json()?;
        let git_ref = required_str(&body, "ref")?;
        let inputs = match body.get("inputs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(inputs)) => inputs.clone(),
            Some(other) => {
                return Err(invalid(&format!(
                    "Invalid request.\n\nFor 'properties/inputs', {other} is not an object."
                )))
            }
        };
        if inputs.len() > 25 {
            return Err(invalid(&format!(
                "Invalid request.\n\nFor 'properties/inputs', {} properties is more than the \
                 maximum of 25.",
                inputs.len()
            )));
        }
        if Value::Object(inputs.clone()).to_string().len() > 65_535 {
            return Err(invalid("inputs are too large"));
        }
        let sha = self
            .resolve(git_ref)
            .ok_or_else(|| error(422, &format!("No ref found for: {git_ref}"), DOCS_URL))?;
        let mut record = Value::Object(body.clone());
        record["workflow_id"] = json!(workflow);
        self.dispatches.push(record);
        if !settings.creates_run {
            return Ok(no_content());
        }

        let id = self.next_id();
        let workflow_id = self.workflow_id(workflow);
        let name = workflow
            .trim_end_matches(".yml")
            .trim_end_matches(".yaml")
            .to_string();
        let display_title = match inputs.get("correlation_id") {
            Some(Value::String(correlation)) => format!("{name} {correlation}"),
            Some(other) if !other.is_null() => format!("{name} {other}"),
            _ => name.clone(),
        };
        let now = now_iso();
        let run_number = self.workflow_runs.len() + self.pending_runs.len() + 1;
        let api_url = format!("{}/actions/runs/{id}", self.api());
        let html_url = format!("{}/actions/runs/{id}", self.web());
        let branch = git_ref
            .trim_start_matches("refs/")
            .trim_start_matches("heads/")
            .trim_start_matches("tags/");
        let run = json!({
            "id": id,
            "name": name,
            "node_id": format!("WFR_kwDOFAKE{id}"),
            "head_branch": branch,
            "head_sha": sha,
            "path": format!(".github/workflows/{workflow}"),
            "display_title": display_title,
            "run_number": run_number,
            "event": "workflow_dispatch",
            "status": "queued",
            "conclusion": null,
            "workflow_id": workflow_id,
            "check_suite_id": 40_000_000 + id,
            "url": api_url,
            "html_url": html_url,
            "jobs_url": format!("{api_url}/jobs"),
            "logs_url": format!("{api_url}/logs"),
            "cancel_url": format!("{api_url}/cancel"),
            "rerun_url": format!("{api_url}/rerun"),
            "workflow_url": format!("{}/actions/workflows/{workflow_id}", self.api()),
            "created_at": now,
            "updated_at": now,
            "run_attempt": 1,
            "run_started_at": now,
            "actor": actor,
            "triggering_actor": actor,
            "pull_requests": [],
            "repository": self.repository_json(),
        });
        if settings.visible_after == 0 {
            self.workflow_runs.push(run);
        } else {
            self.pending_runs.push((settings.visible_after, run));
        }
        let wants_details = body.get("return_run_details").and_then(Value::as_bool) == Some(true);
        if wants_details && settings.returns_details {
            Ok(ok(json!({
                "workflow_run_id": id,
                "run_url": api_url,
                "html_url": html_url,
            })))
        } else {
            Ok(no_content())
        }
    }

    fn list_workflow_runs(&mut self, req: &Req, workflow: &str) -> Result<Answer, Answer> {
        if !self.workflow_known(workflow) {
            return Err(not_found());
        }
        // Dispatched runs appear after some list requests.
        let mut still_pending = Vec::new();
        for (wait, run) in std::mem::take(&mut self.pending_runs) {
            if wait == 0 {
                self.workflow_runs.push(run);
            } else {
                still_pending.push((wait - 1, run));
            }
        }
        self.pending_runs = still_pending;

        let created = req.param("created").map(TimeFilter::parse);
        let mut runs: Vec<Value> = self
            .workflow_runs
            .iter()
            .filter(|run| self.workflow_matches(run, workflow))
            .filter(|run| req.param("event").is_none_or(|event| run["event"] == event))
            .filter(|run| {
                req.param("branch")
                    .is_none_or(|branch| run["head_branch"] == branch)
            })
            .filter(|run| {
                req.param("head_sha")
                    .is_none_or(|sha| run["head_sha"] == sha)
            })
            .filter(|run| {
                req.param("actor")
                    .is_none_or(|actor| run["actor"]["login"] == actor)
            })
            .filter(|run| {
                req.param("status")
                    .is_none_or(|status| run["status"] == status || run["conclusion"] == status)
            })
            .filter(|run| {
                created.as_ref().is_none_or(|filter| {
                    run["created_at"]
                        .as_str()
                        .and_then(parse_time)
                        .is_some_and(|at| filter.accepts(at))
                })
            })
            .cloned()
            .collect();
        runs.sort_by_key(|run| std::cmp::Reverse(id_of(run)));
        let total = runs.len();
        let (page, link) = paginate(req, runs);
        Ok(Answer {
            link,
            ..ok(json!({"total_count": total, "workflow_runs": page}))
        })
    }
}

fn check_comment_length(text: &str) -> Result<(), Answer> {
    if text.chars().count() > COMMENT_LIMIT {
        return Err(validation_failed(
            "IssueComment",
            "data",
            "Body is too long (maximum is 65536 characters)",
            "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        ));
    }
    Ok(())
}

/// Applies a create/update check-run body; returns the annotations it carried.
fn apply_check_run_fields(
    run: &mut Value,
    body: &Map<String, Value>,
) -> Result<Vec<Value>, Answer> {
    if let Some(name) = optional_str(body, "name")? {
        run["name"] = json!(name);
    }
    for field in ["details_url", "external_id", "started_at"] {
        if body.contains_key(field) {
            run[field] = json!(optional_str(body, field)?);
        }
    }
    let status = optional_str(body, "status")?;
    let conclusion = optional_str(body, "conclusion")?;
    let completed_at = optional_str(body, "completed_at")?;
    if let Some(status) = status {
        if !CHECK_RUN_STATUSES.contains(&status) {
            return Err(invalid(&format!(
                "Invalid request.\n\nFor 'properties/status', \"{status}\" is not a member of the enum."
            )));
        }
    }
    match conclusion {
        Some(conclusion) => {
            if !CHECK_RUN_CONCLUSIONS.contains(&conclusion) {
                return Err(invalid(&format!(
                    "Invalid request.\n\nFor 'properties/conclusion', \"{conclusion}\" is not a \
                     member of the enum."
                )));
            }
            // Providing a conclusion forces `completed`.
            run["status"] = json!("completed");
            run["conclusion"] = json!(conclusion);
            let completed = completed_at
                .map(str::to_string)
                .or_else(|| run["completed_at"].as_str().map(str::to_string))
                .unwrap_or_else(now_iso);
            run["completed_at"] = json!(completed);
        }
        None if completed_at.is_some() || status == Some("completed") => {
            if run["conclusion"].is_null() {
                return Err(invalid(
                    "Invalid request.\n\n\"conclusion\" wasn't supplied: it is required when \
                     status is completed or completed_at is set.",
                ));
            }
            run["status"] = json!("completed");
            if let Some(completed_at) = completed_at {
                run["completed_at"] = json!(completed_at);
            }
        }
        None => {
            if let Some(status) = status {
                run["status"] = json!(status);
                run["conclusion"] = Value::Null;
                run["completed_at"] = Value::Null;
                if status == "in_progress" && run["started_at"].is_null() {
                    run["started_at"] = json!(now_iso());
                }
            }
        }
    }
    if let Some(actions) = body.get("actions") {
        if actions.as_array().is_some_and(|actions| actions.len() > 3) {
            return Err(invalid(
                "Invalid request.\n\nFor 'properties/actions', there are more than 3 items.",
            ));
        }
    }
    let mut annotations = Vec::new();
    match body.get("output") {
        None | Some(Value::Null) => {}
        Some(Value::Object(output)) => {
            let title = required_str(output, "title")?;
            let summary = required_str(output, "summary")?;
            let text = optional_str(output, "text")?;
            for (field, value) in [("summary", Some(summary)), ("text", text)] {
                if value.is_some_and(|value| value.chars().count() > 65_535) {
                    return Err(invalid(&format!(
                        "Invalid request.\n\nFor 'properties/{field}', the value is longer than \
                         the maximum of 65535 characters."
                    )));
                }
            }
            if let Some(list) = output.get("annotations") {
                let list = list.as_array().cloned().unwrap_or_default();
                if list.len() > 50 {
                    return Err(invalid(
                        "Invalid request.\n\nFor 'properties/annotations', there are more than 50 \
                         items.",
                    ));
                }
                for annotation in &list {
                    for field in [
                        "path",
                        "start_line",
                        "end_line",
                        "annotation_level",
                        "message",
                    ] {
                        if annotation.get(field).is_none_or(Value::is_null) {
                            return Err(missing(field));
                        }
                    }
                }
                annotations = list;
            }
            let count =
                run["output"]["annotations_count"].as_u64().unwrap_or(0) + annotations.len() as u64;
            run["output"]["title"] = json!(title);
            run["output"]["summary"] = json!(summary);
            run["output"]["text"] = json!(text);
            run["output"]["annotations_count"] = json!(count);
        }
        Some(other) => {
            return Err(invalid(&format!(
                "Invalid request.\n\nFor 'properties/output', {other} is not an object."
            )))
        }
    }
    Ok(annotations)
}

// ---------------------------------------------------------------------------------------------
// Pagination, ETags, small helpers
// ---------------------------------------------------------------------------------------------

/// One page of `items` per `per_page` (default 30, 1..=100) and `page` (default 1), and the
/// `Link` header GitHub would send (none when everything fits on page 1).
fn paginate(req: &Req, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
    let per_page = match req.param("per_page").and_then(|n| n.parse::<usize>().ok()) {
        None | Some(0) => 30,
        Some(n) => n.min(100),
    };
    let page = req
        .param("page")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut rels = Vec::new();
    if page > 1 {
        rels.push((page - 1, "prev"));
    }
    if page < last {
        rels.push((page + 1, "next"));
        rels.push((last, "last"));
    }
    if page > 1 {
        rels.push((1, "first"));
    }
    let link = (!rels.is_empty()).then(|| {
        rels.iter()
            .map(|(n, rel)| format!("<{}>; rel=\"{rel}\"", page_url(req, *n)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    (slice, link)
}

/// The request's own URL with `page` set to `page` (other parameters kept, in order).
fn page_url(req: &Req, page: usize) -> String {
    let mut parts: Vec<String> = req
        .query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    let page_part = format!("page={page}");
    match parts
        .iter_mut()
        .find(|part| part.split('=').next() == Some("page"))
    {
        Some(part) => *part = page_part,
        None => parts.push(page_part),
    }
    format!("{}{}?{}", req.base, req.path, parts.join("&"))
}

fn paginated_array(req: &Req, items: Vec<Value>) -> Answer {
    let (page, link) = paginate(req, items);
    Answer {
        link,
        ..ok(Value::Array(page))
    }
}

fn etag(body: &[u8], strong: bool) -> String {
    let hex: String = (0..4u64)
        .map(|lane| format!("{:016x}", fnv(body, lane)))
        .collect();
    if strong {
        format!("\"{hex}\"")
    } else {
        format!("W/\"{hex}\"")
    }
}

/// Weak comparison, as GitHub does for `If-None-Match` (a list, or `*`).
fn etag_matches(if_none_match: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(tag))
}

/// FNV-1a, 64-bit, with a lane number mixed into the offset basis.
fn fnv(bytes: &[u8], lane: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ lane.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().unwrap_or(0)
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn fill_if_empty(object: &mut Value, field: &str, value: &str) {
    let empty = match object.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        _ => false,
    };
    if empty && object.is_object() {
        object[field] = json!(value);
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn iso(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn now_iso() -> String {
    iso(now_epoch() as i64)
}

/// RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) or `YYYY-MM-DD` (midnight UTC) → epoch seconds.
fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(at.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp())
}

/// GitHub's date-range syntax for `created`: `>=T`, `>T`, `<=T`, `<T`, `A..B`, or `T` (a day
/// when date-only, else that instant).
struct TimeFilter {
    from: Option<(i64, bool)>,
    to: Option<(i64, bool)>,
}

impl TimeFilter {
    fn parse(text: &str) -> TimeFilter {
        let text = text.trim();
        let bound = |t: &str| parse_time(t).unwrap_or(0);
        if let Some(rest) = text.strip_prefix(">=") {
            TimeFilter {
                from: Some((bound(rest), true)),
                to: None,
            }
        } else if let Some(rest) = text.strip_prefix('>') {
            TimeFilter {
                from: Some((bound(rest), false)),
                to: None,
            }
        } else if let Some(rest) = text.strip_prefix("<=") {
            TimeFilter {
                from: None,
                to: Some((bound(rest), true)),
            }
        } else if let Some(rest) = text.strip_prefix('<') {
            TimeFilter {
                from: None,
                to: Some((bound(rest), false)),
            }
        } else if let Some((from, to)) = text.split_once("..") {
            let from = (from != "*").then(|| (bound(from), true));
            let to = (to != "*").then(|| {
                let end = bound(to);
                if to.len() == 10 {
                    (end + 86_400, false)
                } else {
                    (end, true)
                }
            });
            TimeFilter { from, to }
        } else if text.len() == 10 {
            let day = bound(text);
            TimeFilter {
                from: Some((day, true)),
                to: Some((day + 86_400, false)),
            }
        } else {
            let at = bound(text);
            TimeFilter {
                from: Some((at, true)),
                to: Some((at, true)),
            }
        }
    }

    fn accepts(&self, at: i64) -> bool {
        let after = self
            .from
            .is_none_or(|(from, inclusive)| at > from || (inclusive && at == from));
        let before = self
            .to
            .is_none_or(|(to, inclusive)| at < to || (inclusive && at == to));
        after && before
    }
}
