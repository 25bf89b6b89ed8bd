//! The `deployment_protection_rule` payload, read into a [`ProtectionRequest`]. Only the fields
//! the server needs are read; the rest of GitHub's payload is ignored.

use serde::Deserialize;

use crate::run::protection::ProtectionRequest;

/// Why a signed payload could not become a request (answered 400, logged).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not a deployment_protection_rule payload: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the payload has no {0}")]
    Missing(&'static str),
    #[error("deployment_callback_url {0:?} does not name a workflow run (…/actions/runs/ID/…)")]
    CallbackUrl(String),
}

#[derive(Deserialize)]
struct Payload {
    action: Option<String>,
    environment: Option<String>,
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    deployment_callback_url: Option<String>,
    deployment: Option<Deployment>,
    installation: Option<Installation>,
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct Deployment {
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// The `action` of a payload, read alone: only `requested` is work.
pub fn action(body: &[u8]) -> Result<Option<String>, PayloadError> {
    #[derive(Deserialize)]
    struct ActionOnly {
        action: Option<String>,
    }
    Ok(serde_json::from_slice::<ActionOnly>(body)?.action)
}

/// Reads a `deployment_protection_rule` payload (`action: requested`) of delivery `delivery_id`.
/// The SHA and ref are the event's own (`sha`, `ref`); GitHub's webhook schema puts them on the
/// `deployment` too, which is read when the top-level ones are absent.
pub fn parse(delivery_id: &str, body: &[u8]) -> Result<ProtectionRequest, PayloadError> {
    let payload: Payload = serde_json::from_slice(body)?;
    if payload.action.as_deref() != Some("requested") {
        return Err(PayloadError::Missing("`action: requested`"));
    }
    let deployment = payload.deployment.as_ref();
    let sha = payload
        .sha
        .or_else(|| deployment.and_then(|d| d.sha.clone()))
        .filter(|s| !s.is_empty())
        .ok_or(PayloadError::Missing("sha"))?;
    let git_ref = payload
        .git_ref
        .or_else(|| deployment.and_then(|d| d.git_ref.clone()));
    let callback_url = payload
        .deployment_callback_url
        .ok_or(PayloadError::Missing("deployment_callback_url"))?;
    let run_id =
        run_id_of(&callback_url).ok_or_else(|| PayloadError::CallbackUrl(callback_url.clone()))?;
    Ok(ProtectionRequest {
        delivery_id: delivery_id.to_owned(),
        installation_id: payload
            .installation
            .ok_or(PayloadError::Missing("installation.id"))?
            .id,
        repo: payload
            .repository
            .ok_or(PayloadError::Missing("repository.full_name"))?
            .full_name,
        environment: payload
            .environment
            .filter(|e| !e.is_empty())
            .ok_or(PayloadError::Missing("environment"))?,
        sha,
        git_ref,
        run_id,
        callback_url,
    })
}

/// `…/actions/runs/{run_id}/deployment_protection_rule` -> `run_id`.
fn run_id_of(callback_url: &str) -> Option<u64> {
    let url = url::Url::parse(callback_url).ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    let at = segments.windows(2).position(|w| w == ["actions", "runs"])?;
    segments.get(at + 2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/deployment_protection_rule.requested.json"
    ));

    #[test]
    fn the_real_payload_becomes_a_request() {
        let request = parse("d-1", FIXTURE.as_bytes()).expect("parses");
        assert_eq!(
            request,
            ProtectionRequest {
                delivery_id: "d-1".into(),
                installation_id: 1,
                repo: "Codertocat/Hello-World".into(),
                environment: "production".into(),
                sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into(),
                git_ref: Some("refs/heads/master".into()),
                run_id: 10000000001,
                callback_url: "https://api.github.com/repos/Codertocat/Hello-World/actions/runs/10000000001/deployment_protection_rule".into(),
            }
        );
    }

    #[test]
    fn the_deployments_sha_serves_when_the_event_has_none() {
        let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("json");
        let object = value.as_object_mut().expect("object");
        object.remove("sha");
        object.remove("ref");
        let request = parse("d-2", value.to_string().as_bytes()).expect("parses");
        assert_eq!(request.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
        assert_eq!(request.git_ref.as_deref(), Some("master"));
    }

    #[test]
    fn a_payload_without_what_the_answer_needs_is_refused_naming_the_field() {
        for (field, named) in [
            ("installation", "installation.id"),
            ("repository", "repository.full_name"),
            ("environment", "environment"),
            ("deployment_callback_url", "deployment_callback_url"),
        ] {
            let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("json");
            value.as_object_mut().expect("object").remove(field);
            let error = parse("d", value.to_string().as_bytes()).expect_err(field);
            assert!(error.to_string().contains(named), "{field}: {error}");
        }
        let truncated = &FIXTURE.as_bytes()[..FIXTURE.len() / 2];
        assert!(matches!(parse("d", truncated), Err(PayloadError::Json(_))));
        let mut value: serde_json::Value = serde_json::from_str(FIXTURE).expect("json");
        value["deployment_callback_url"] = "https://api.github.com/repos/o/r/deployments/1".into();
        assert!(matches!(
            parse("d", value.to_string().as_bytes()),
            Err(PayloadError::CallbackUrl(_))
        ));
    }
}
