//! Deployments and their statuses; workflow dispatches and workflow runs.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::super::state::Repo;
use super::super::transport::{
    created, error, invalid, no_content, not_found, ok, optional_str, paginate, paginated_array,
    required_str, Answer, Req,
};
use super::super::util::{id_of, now_iso, parse_time};

pub(super) struct DispatchSettings {
    pub(super) creates_run: bool,
    pub(super) returns_details: bool,
    /// Older GitHub Enterprise Server: `return_run_details` is an unknown key, refused with 422.
    pub(super) rejects_details: bool,
    pub(super) visible_after: usize,
}

pub(super) const DEPLOYMENT_STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

impl Repo {
    pub(super) fn deployment_index(&self, id: &str) -> Result<usize, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        self.deployments
            .iter()
            .position(|deployment| id_of(deployment) == id)
            .ok_or_else(not_found)
    }

    /// Context → whether it passes, over the latest statuses and latest check runs of `sha`.
    pub(super) fn context_results(&self, sha: &str) -> BTreeMap<String, bool> {
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

    pub(super) fn create_deployment(
        &mut self,
        req: &Req,
        creator: Value,
    ) -> Result<Answer, Answer> {
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

    /// `GET /deployments/{id}/statuses`, newest first.
    pub(super) fn list_deployment_statuses(&self, req: &Req, id: &str) -> Result<Answer, Answer> {
        let index = self.deployment_index(id)?;
        let id = id_of(&self.deployments[index]);
        let mut statuses = self
            .deployment_statuses
            .get(&id)
            .cloned()
            .unwrap_or_default();
        statuses.sort_by_key(|status| std::cmp::Reverse(id_of(status)));
        Ok(paginated_array(req, statuses))
    }

    pub(super) fn list_deployments(&self, req: &Req) -> Answer {
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

    pub(super) fn create_deployment_status(
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

    pub(super) fn dispatch(
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
        if settings.rejects_details && body.get("return_run_details").is_some() {
            return Err(invalid(
                "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
            ));
        }
        if settings.rejects_details && body.get("return_run_details").is_some() {
            return Err(invalid(
                "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
            ));
        }
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

    pub(super) fn list_workflow_runs(
        &mut self,
        req: &Req,
        workflow: &str,
    ) -> Result<Answer, Answer> {
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

/// GitHub's date-range syntax for `created`: `>=T`, `>T`, `<=T`, `<T`, `A..B`, or `T` (a day
/// when date-only, else that instant).
pub(super) struct TimeFilter {
    from: Option<(i64, bool)>,
    to: Option<(i64, bool)>,
}

impl TimeFilter {
    pub(super) fn parse(text: &str) -> TimeFilter {
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

    pub(super) fn accepts(&self, at: i64) -> bool {
        let after = self
            .from
            .is_none_or(|(from, inclusive)| at > from || (inclusive && at == from));
        let before = self
            .to
            .is_none_or(|(to, inclusive)| at < to || (inclusive && at == to));
        after && before
    }
}
