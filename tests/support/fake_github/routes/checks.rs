//! Commits, check runs and commit statuses.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::super::builders::check_run;
use super::super::state::Repo;
use super::super::transport::{
    created, invalid, missing, no_commit, not_found, ok, optional_str, paginate, required_str,
    Answer, Req,
};
use super::super::util::{id_of, iso, now_iso, short};
use super::super::FIXTURE_EPOCH;

pub(super) const CHECK_RUN_STATUSES: &[&str] = &["queued", "in_progress", "completed"];
pub(super) const CHECK_RUN_CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

impl Repo {
    pub(super) fn sha_of(&self, git_ref: &str) -> Result<String, Answer> {
        self.resolve(git_ref).ok_or_else(|| no_commit(git_ref))
    }

    pub(super) fn commit_json(&self, sha: &str) -> Value {
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

    pub(super) fn list_check_runs(&self, req: &Req, sha: &str) -> Answer {
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

    pub(super) fn create_check_run(&mut self, req: &Req) -> Result<Answer, Answer> {
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

    pub(super) fn update_check_run(&mut self, req: &Req, id: &str) -> Result<Answer, Answer> {
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
    pub(super) fn latest_statuses(&self, sha: &str) -> Vec<Value> {
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

    pub(super) fn combined_status(&self, req: &Req, sha: &str) -> Answer {
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
