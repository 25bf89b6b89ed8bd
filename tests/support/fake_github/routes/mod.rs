//! Routing: which handler answers which method and path. Handlers live with their resource.
//!
//! The fake serves only endpoints that shipgate calls (src/github/gather.rs and write.rs); a
//! route that shipgate stops calling goes, with its part of the self-test.

mod app;
mod approvals;
mod branches;
mod checks;
mod deployments;
mod pulls;

use super::state::State;
use super::transport::{error, not_found, ok, percent_decode, text, Answer, Req};
use deployments::DispatchSettings;

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
            (_, ["app", rest @ ..]) => self.route_app(req, rest),
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
            rejects_details: self.dispatch_rejects_run_details,
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
            ("PATCH", ["check-runs", id]) => repo.update_check_run(req, id)?,
            // A2: commit statuses.
            ("GET", ["commits", git_ref @ .., "status"]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                repo.combined_status(req, &sha)
            }
            // A6: the pull requests of a commit (lead time).
            ("GET", ["commits", sha, "pulls"]) => repo.commit_pulls(req, sha)?,
            ("GET", ["commits", git_ref @ ..]) if !git_ref.is_empty() => {
                let sha = repo.sha_of(&git_ref.join("/"))?;
                // E: the `sha` media type answers the bare SHA as text.
                if req.header("accept") == Some("application/vnd.github.sha") {
                    text("application/vnd.github.sha; charset=utf-8", sha)
                } else {
                    ok(repo.commit_json(&sha))
                }
            }
            // A3: what is required.
            ("GET", []) => repo.repository_answer(),
            ("GET", ["rules", "branches", branch @ ..]) if !branch.is_empty() => {
                repo.rules_answer(req, &branch.join("/"))
            }
            ("GET", ["branches", branch @ .., "protection", "required_status_checks"])
                if !branch.is_empty() =>
            {
                repo.classic_protection_answer(&branch.join("/"))
            }
            ("GET", ["branches", branch @ ..]) if !branch.is_empty() => {
                repo.branch_answer(&branch.join("/"))
            }
            ("GET", ["pulls", number]) => repo.pull_answer(number)?,
            // A7: comments.
            ("GET", ["issues", number, "comments"]) => repo.list_comments(req, number)?,
            ("POST", ["issues", number, "comments"]) => repo.create_comment(req, number, viewer)?,
            ("PATCH", ["issues", "comments", id]) => repo.update_comment(req, id)?,
            ("DELETE", ["issues", "comments", id]) => repo.delete_comment(id)?,
            // A6: deployments.
            ("POST", ["deployments"]) => repo.create_deployment(req, viewer)?,
            ("GET", ["deployments"]) => repo.list_deployments(req),
            ("POST", ["deployments", id, "statuses"]) => {
                repo.create_deployment_status(req, id, viewer)?
            }
            ("GET", ["deployments", id, "statuses"]) => repo.list_deployment_statuses(req, id)?,
            // A5: rollback.
            ("POST", ["actions", "workflows", workflow, "dispatches"]) => {
                repo.dispatch(req, workflow, viewer, &dispatch)?
            }
            ("GET", ["actions", "workflows", workflow, "runs"]) => {
                repo.list_workflow_runs(req, workflow)?
            }
            // E: run approvals and environments.
            ("GET", ["actions", "runs", run_id, "approvals"]) => {
                repo.run_approvals_answer(run_id)?
            }
            ("GET", ["environments", name]) => repo.environment_answer(name)?,
            // serve: the policy file, and the answer to a deployment protection rule.
            ("GET", ["contents", path @ ..]) if !path.is_empty() => {
                repo.contents_answer(req, &path.join("/"))
            }
            ("POST", ["actions", "runs", run_id, "deployment_protection_rule"]) => {
                repo.review_protection_rule(req, run_id)?
            }
            _ => not_found(),
        };
        Ok(answer)
    }
}
