//! A GitHub App (`shipgate serve`): the installation-token endpoint, which verifies the app's
//! JWT (RS256 against the public key the test generated; `iss`, `iat`, `exp` as GitHub checks
//! them), the policy file read through the contents API, and the answers to deployment
//! protection rules.

use base64::Engine;
use octocrab::jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::super::state::{FakeApp, Repo, State};
use super::super::transport::{
    created, error, no_content, not_found, ok, optional_str, required_str, validation_failed,
    Answer, Req,
};
use super::super::util::{iso, now_epoch};

const AUTH_DOCS: &str =
    "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
const REVIEW_DOCS: &str = "https://docs.github.com/rest/actions/workflow-runs#review-custom-deployment-protection-rules-for-a-workflow-run";

impl FakeApp {
    /// The claims of a valid JWT of this app, or GitHub's 401.
    fn verify_jwt(&self, req: &Req) -> Result<Value, Answer> {
        let unauthorized = |message: &str| error(401, message, AUTH_DOCS);
        let jwt = req
            .header("authorization")
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| unauthorized("A JSON web token could not be decoded"))?;
        let key = DecodingKey::from_rsa_pem(self.public_key_pem.as_bytes())
            .map_err(|e| unauthorized(&format!("fake GitHub: bad public key: {e}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        // GitHub's `iss` is the app id as a number, which jsonwebtoken's own `iss` check cannot
        // read: it and `iat` are checked below.
        validation.set_required_spec_claims(&["exp"]);
        let claims = decode::<Value>(jwt, &key, &validation)
            .map_err(|e| unauthorized(&format!("A JSON web token could not be decoded: {e}")))?
            .claims;
        let now = now_epoch() as i64;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64).unwrap_or(0);
        let iss = match claims.get("iss") {
            Some(Value::String(text)) => text.parse::<u64>().ok(),
            Some(value) => value.as_u64(),
            None => None,
        };
        if iss != Some(self.app_id) {
            return Err(unauthorized("'Issuer' claim ('iss') must be an Integer"));
        }
        if number("iat") == 0 || number("iat") > now {
            return Err(unauthorized(
                "'Issued at' claim ('iat') must be an Integer representing a time in the past",
            ));
        }
        if number("exp") > now + 600 {
            return Err(unauthorized(
                "'Expiration time' claim ('exp') is too far in the future",
            ));
        }
        Ok(claims)
    }
}

impl State {
    /// `/app/...`, authenticated as the app.
    pub(super) fn route_app(&mut self, req: &Req, rest: &[&str]) -> Answer {
        let Some(app) = self.app.as_mut() else {
            return not_found();
        };
        let claims = match app.verify_jwt(req) {
            Ok(claims) => claims,
            Err(answer) => return answer,
        };
        app.jwts.push(claims);
        match (req.method.as_str(), rest) {
            ("POST", ["installations", id, "access_tokens"]) => {
                let Some(id) = id
                    .parse::<u64>()
                    .ok()
                    .filter(|id| app.installations.contains(id))
                else {
                    return error(404, "Not Found", AUTH_DOCS);
                };
                let number = app.tokens.len() + 1;
                let token = format!("ghs_fakeinstallation{id}token{number}");
                app.tokens.push((id, token.clone()));
                let expires_at = iso(now_epoch() as i64 + app.token_lifetime_secs);
                created(json!({
                    "token": token,
                    "expires_at": expires_at,
                    "permissions": {
                        "actions": "read", "checks": "read", "contents": "read",
                        "deployments": "write", "statuses": "read", "metadata": "read"
                    },
                    "repository_selection": "all",
                }))
            }
            _ => not_found(),
        }
    }

    /// With an app configured, every other request must carry a token it issued.
    pub(in super::super) fn installation_token_refused(&self, req: &Req) -> Option<Answer> {
        let app = self.app.as_ref()?;
        let given = req.header("authorization").and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        });
        match given {
            Some(token) if app.tokens.iter().any(|(_, issued)| issued == token) => None,
            Some(_) => Some(error(
                401,
                "Bad credentials",
                "https://docs.github.com/rest",
            )),
            None => Some(error(
                401,
                "Requires authentication",
                "https://docs.github.com/rest",
            )),
        }
    }
}

impl Repo {
    /// `GET /repos/{o}/{r}/contents/{path}?ref=`: a file of [`Repo::files`], base64 in lines of
    /// 60 characters as GitHub sends it; `ref` defaults to the default branch.
    pub(super) fn contents_answer(&self, req: &Req, path: &str) -> Answer {
        let git_ref = req.param("ref").unwrap_or(&self.default_branch).to_string();
        let Some(text) = self.files.get(&git_ref).and_then(|files| files.get(path)) else {
            return error(
                404,
                "Not Found",
                "https://docs.github.com/rest/repos/contents#get-repository-content",
            );
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        let lines: Vec<String> = encoded
            .as_bytes()
            .chunks(60)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect();
        let name = path.rsplit('/').next().unwrap_or(path);
        ok(json!({
            "type": "file",
            "encoding": "base64",
            "size": text.len(),
            "name": name,
            "path": path,
            "content": lines.join("\n") + "\n",
            "sha": format!("{:016x}", super::super::util::fnv(text.as_bytes(), 0)),
        }))
    }

    /// `POST .../actions/runs/{run_id}/deployment_protection_rule`: recorded, 204.
    pub(super) fn review_protection_rule(
        &mut self,
        req: &Req,
        run_id: &str,
    ) -> Result<Answer, Answer> {
        let body = req.json()?;
        let environment = required_str(&body, "environment_name")?.to_string();
        let state = optional_str(&body, "state")?.map(str::to_string);
        let comment = optional_str(&body, "comment")?.map(str::to_string);
        if let Some(state) = &state {
            if state != "approved" && state != "rejected" {
                return Err(validation_failed(
                    "DeploymentProtectionRule",
                    "state",
                    "invalid",
                    REVIEW_DOCS,
                ));
            }
        } else if comment.is_none() {
            return Err(validation_failed(
                "DeploymentProtectionRule",
                "comment",
                "missing_field",
                REVIEW_DOCS,
            ));
        }
        let run_id: u64 = run_id.parse().map_err(|_| not_found())?;
        self.protection_reviews.push(json!({
            "run_id": run_id,
            "environment_name": environment,
            "state": state,
            "comment": comment,
        }));
        Ok(no_content())
    }
}
