//! What the fake serves: [`State`] (the whole server) and [`Repo`] (one repository), with the
//! helpers tests use to set them up and change them between requests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::builders::{set_run_state, user_json};
use super::util::{fill_if_empty, fnv, id_of, now_epoch, now_iso, short};
use super::{ACTIONS_BOT_LOGIN, FIRST_SERVER_ID, WEB};

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

    pub(super) fn roll(&mut self, now: u64) {
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
    /// Whether a dispatch carrying `return_run_details` is refused with 422, as by older GitHub
    /// Enterprise Server (default false).
    pub dispatch_rejects_run_details: bool,
    /// Whether a dispatch creates a workflow run at all (default true).
    pub dispatch_creates_run: bool,
    /// A dispatched run shows up in the runs list only after this many list requests (default
    /// 0: at once), as runs appear asynchronously.
    pub dispatch_run_visible_after_polls: usize,
    /// `ETag: "..."` instead of the default weak `ETag: W/"..."`.
    pub strong_etags: bool,
    /// A GitHub App (see [`FakeApp`]); when set, requests outside `/app/` need a token it issued.
    pub app: Option<FakeApp>,
    base_url: String,
    ids: Arc<AtomicU64>,
}

impl State {
    pub(super) fn new(base_url: &str) -> Self {
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
            dispatch_rejects_run_details: false,
            dispatch_creates_run: true,
            dispatch_run_visible_after_polls: 0,
            strong_etags: false,
            app: None,
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

    pub(super) fn viewer(&self) -> Value {
        user_json(&self.viewer_login, self.viewer_id, &self.viewer_type)
    }
}

/// A GitHub App as GitHub knows it: its id, the public half of its key, where it is installed,
/// and what it was given.
#[derive(Clone, Debug)]
pub struct FakeApp {
    pub app_id: u64,
    /// PEM (`-----BEGIN PUBLIC KEY-----`) of the key its JWTs must be signed with.
    pub public_key_pem: String,
    /// Installation ids; a token for another answers 404.
    pub installations: BTreeSet<u64>,
    /// Seconds from a token's issue to its `expires_at` (GitHub: 3600).
    pub token_lifetime_secs: i64,
    /// The claims of every JWT accepted, oldest first.
    pub jwts: Vec<Value>,
    /// Every token issued: (installation, token), oldest first.
    pub tokens: Vec<(u64, String)>,
}

impl FakeApp {
    pub fn new(app_id: u64, public_key_pem: &str, installations: &[u64]) -> Self {
        FakeApp {
            app_id,
            public_key_pem: public_key_pem.to_string(),
            installations: installations.iter().copied().collect(),
            token_lifetime_secs: 3600,
            jwts: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

/// One repository's state. Values are GitHub JSON objects (build them with [`check_run`],
/// [`commit_status`], ... and change any field), so tests can also serve odd shapes.
pub struct Repo {
    pub full_name: String,
    /// `default_branch` of `GET /repos/{o}/{r}`; `main` unless a test says otherwise.
    pub default_branch: String,
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
    /// Workflow run id → its review history (`GET /actions/runs/{id}/approvals`), in the order
    /// given (see [`environment_approval`]). A run with no entry answers `[]`.
    pub run_approvals: BTreeMap<u64, Vec<Value>>,
    /// Environment name → `GET /environments/{name}` (see [`environment`]); names are matched
    /// case-insensitively, and a missing one answers 404.
    pub environments: BTreeMap<String, Value>,
    /// Ref (branch) → path → text, for `GET /contents/{path}?ref=` (see [`Repo::set_file`]).
    pub files: BTreeMap<String, BTreeMap<String, String>>,
    /// Bodies of the answers to deployment protection rules, oldest first, with `run_id` added.
    pub protection_reviews: Vec<Value>,
    base_url: String,
    ids: Arc<AtomicU64>,
}

impl Repo {
    pub(super) fn new(full_name: &str, base_url: &str, ids: Arc<AtomicU64>) -> Self {
        Repo {
            full_name: full_name.to_string(),
            default_branch: "main".to_string(),
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
            run_approvals: BTreeMap::new(),
            environments: BTreeMap::new(),
            files: BTreeMap::new(),
            protection_reviews: Vec::new(),
            base_url: base_url.to_string(),
            ids,
        }
    }

    pub(super) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn api(&self) -> String {
        format!("{}/repos/{}", self.base_url, self.full_name)
    }

    pub(super) fn web(&self) -> String {
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

    /// Puts a file with this text on branch `git_ref` (what `GET /contents/{path}?ref=` reads).
    pub fn set_file(&mut self, git_ref: &str, path: &str, text: &str) -> &mut Self {
        self.files
            .entry(git_ref.to_string())
            .or_default()
            .insert(path.to_string(), text.to_string());
        self
    }

    /// Adds a review to a workflow run's review history.
    pub fn add_run_approval(&mut self, run_id: u64, review: Value) -> &mut Self {
        self.run_approvals.entry(run_id).or_default().push(review);
        self
    }

    /// Serves `environment` (see [`environment`]) under its `name`, with `url` and `html_url`
    /// filled in.
    pub fn set_environment(&mut self, mut environment: Value) -> &mut Self {
        let name = environment["name"].as_str().unwrap_or_default().to_string();
        environment["url"] = json!(format!("{}/environments/{name}", self.api()));
        environment["html_url"] = json!(format!(
            "{}/deployments/activity_log?environments_filter={name}",
            self.web()
        ));
        self.environments.insert(name, environment);
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

    pub(super) fn normalize_check_run(&self, sha: &str, run: &mut Value) {
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

    /// Adds a Deployment (see [`deployment`]), making its commit known and filling its URLs.
    pub fn add_deployment(&mut self, mut deployment: Value) -> &mut Self {
        let id = id_of(&deployment);
        let sha = deployment["sha"].as_str().unwrap_or("").to_string();
        self.commits
            .entry(sha.clone())
            .or_insert_with(|| format!("Commit {}", short(&sha)));
        let url = format!("{}/deployments/{id}", self.api());
        fill_if_empty(&mut deployment, "statuses_url", &format!("{url}/statuses"));
        fill_if_empty(&mut deployment, "repository_url", &self.api());
        fill_if_empty(&mut deployment, "url", &url);
        self.deployments.push(deployment);
        self
    }

    /// Adds a status (see [`deployment_status`]) to the Deployment `deployment`, with its
    /// environment and URLs filled in. Panics if there is no such Deployment.
    pub fn add_deployment_status(&mut self, deployment: u64, mut status: Value) -> &mut Self {
        let environment = self
            .deployments
            .iter()
            .find(|d| id_of(d) == deployment)
            .unwrap_or_else(|| panic!("no deployment {deployment}"))["environment"]
            .clone();
        let url = format!("{}/deployments/{deployment}", self.api());
        status["environment"] = environment;
        let status_url = format!("{url}/statuses/{}", id_of(&status));
        fill_if_empty(&mut status, "url", &status_url);
        fill_if_empty(&mut status, "deployment_url", &url);
        fill_if_empty(&mut status, "repository_url", &self.api());
        self.deployment_statuses
            .entry(deployment)
            .or_default()
            .push(status);
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

    pub(super) fn workflow_id(&mut self, workflow_file: &str) -> u64 {
        if let Ok(id) = workflow_file.parse::<u64>() {
            return id;
        }
        let next = 160_000_000 + self.workflow_ids.len() as u64;
        *self
            .workflow_ids
            .entry(workflow_file.to_string())
            .or_insert(next)
    }

    pub(super) fn workflow_matches(&self, run: &Value, workflow: &str) -> bool {
        match workflow.parse::<u64>() {
            Ok(id) => run["workflow_id"].as_u64() == Some(id),
            Err(_) => run["path"]
                .as_str()
                .is_some_and(|path| path.rsplit('/').next() == Some(workflow)),
        }
    }

    pub(super) fn workflow_known(&self, workflow: &str) -> bool {
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

    pub(super) fn branch_sha(&self, branch: &str) -> Option<String> {
        self.refs
            .get(branch)
            .or_else(|| self.refs.get(&format!("heads/{branch}")))
            .or_else(|| self.refs.get(&format!("refs/heads/{branch}")))
            .cloned()
    }

    pub(super) fn comment_json(
        &self,
        id: u64,
        issue: u64,
        body: &str,
        user: Value,
        now: &str,
    ) -> Value {
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

    pub(super) fn repository_json(&self) -> Value {
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
