//! A workflow run's review history and the repository's environments (reference E).

use serde_json::Value;

use super::super::state::Repo;
use super::super::transport::{not_found, ok, Answer};

impl Repo {
    /// `GET /actions/runs/{run_id}/approvals`: the run's reviews, as one array (the endpoint is
    /// not paginated). A run with none answers `[]`.
    pub(super) fn run_approvals_answer(&self, run_id: &str) -> Result<Answer, Answer> {
        let id = run_id.parse::<u64>().map_err(|_| not_found())?;
        let reviews = self.run_approvals.get(&id).cloned().unwrap_or_default();
        Ok(ok(Value::Array(reviews)))
    }

    /// `GET /environments/{environment_name}`, the name matched case-insensitively; 404 when the
    /// repository has no such environment.
    pub(super) fn environment_answer(&self, name: &str) -> Result<Answer, Answer> {
        self.environments
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, environment)| ok(environment.clone()))
            .ok_or_else(not_found)
    }
}
