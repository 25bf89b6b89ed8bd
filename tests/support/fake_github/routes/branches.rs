//! Branches, their classic protection, and the rules that apply to them.

use serde_json::{json, Value};

use super::super::state::{ClassicProtection, Repo};
use super::super::transport::{error, ok, paginated_array, Answer, Req};

impl Repo {
    /// `GET /rules/branches/{branch}`: the active rules of the branch (or of `*`).
    pub(super) fn rules_answer(&self, req: &Req, branch: &str) -> Answer {
        let rules = self
            .rules
            .get(branch)
            .or_else(|| self.rules.get("*"))
            .cloned()
            .unwrap_or_default();
        paginated_array(req, rules)
    }

    /// `GET /repos/{o}/{r}`: the fields shipgate reads.
    pub(super) fn repository_answer(&self) -> Answer {
        ok(json!({
            "full_name": self.full_name,
            "default_branch": self.default_branch,
            "html_url": self.web(),
        }))
    }

    pub(super) fn branch_answer(&self, branch: &str) -> Answer {
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

    pub(super) fn classic_protection_answer(&self, branch: &str) -> Answer {
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
}
