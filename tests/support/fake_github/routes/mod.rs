//! Routing: which handler answers which method and path. Handlers live with their resource.

mod branches;
mod checks;
mod deployments;
mod pulls;

use serde_json::{json, Value};

use super::state::State;
use super::transport::{
    error, no_content, not_found, ok, paginated_array, percent_decode, required_str, Answer, Req,
};
use super::util::{id_of, now_iso};
use deployments::DispatchSettings;
use pulls::check_comment_length;

impl State {
    pub(super) fn route(&mut self, req: &Req) -> Answer {
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

    pub(super) fn route_repo(
        &mut self,
        req: &Req,
        full_name: &str,
        rest: &[&str],
    ) -> Result<Answer, Answer> {
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
