//! The GitHub side of a deployment protection rule: the policy file read from a branch
//! (`GET /repos/{o}/{r}/contents/{path}?ref=`), and the answer to a waiting workflow run
//! (`POST /repos/{o}/{r}/actions/runs/{run_id}/deployment_protection_rule`).

use base64::Engine;
use serde::Deserialize;

use super::client::{Client, GitHubError};
use super::gather::Repo;
use super::path::{query, segment};

/// The longest comment sent with an answer, in characters. GitHub's description sets no limit;
/// the comment shows in the run's page, where a summary should stay short.
pub const MAX_COMMENT_CHARS: usize = 1024;

/// A file as read from a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum File {
    Text(String),
    /// No such file on that ref (404).
    Missing,
}

/// `GET /repos/{o}/{r}/contents/{path}?ref=GIT_REF`: a file's text, refused when it is larger
/// than `max_bytes` (read before any of it is decoded) or is not a UTF-8 file.
pub async fn file(
    client: &Client,
    repo: &Repo,
    file_path: &str,
    git_ref: &str,
    max_bytes: u64,
) -> Result<File, GitHubError> {
    #[derive(Deserialize)]
    struct Contents {
        #[serde(rename = "type")]
        kind: String,
        size: u64,
        #[serde(default)]
        encoding: Option<String>,
        #[serde(default)]
        content: Option<String>,
    }
    let segments: Vec<String> = file_path
        .split('/')
        .map(|part| segment(part).to_string())
        .collect();
    let path = repo.path(&format!(
        "/contents/{}?{}",
        segments.join("/"),
        query([("ref", git_ref)])
    ));
    let body = match client.get(&path).await {
        Ok(body) => body,
        Err(error) if error.status() == Some(404) => return Ok(File::Missing),
        Err(error) => return Err(error),
    };
    let shown = repo.path(&format!("/contents/{file_path}"));
    let decode_error = |detail: String| GitHubError::Decode {
        path: shown.clone(),
        detail,
    };
    // A directory answers a JSON array, which is not a file either.
    let contents: Contents = serde_json::from_str(&body)
        .map_err(|_| decode_error(format!("`{file_path}` is not a file")))?;
    if contents.kind != "file" {
        return Err(decode_error(format!(
            "`{file_path}` is a {}, not a file",
            contents.kind
        )));
    }
    if contents.size > max_bytes {
        return Err(decode_error(format!(
            "the file is {} bytes; at most {max_bytes} are read",
            contents.size
        )));
    }
    if contents.encoding.as_deref() != Some("base64") {
        return Err(decode_error(format!(
            "the content came as `{}`, not base64",
            contents.encoding.as_deref().unwrap_or("nothing")
        )));
    }
    // GitHub wraps the base64 text at 60 characters.
    let packed: String = contents
        .content
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .map_err(|e| decode_error(format!("bad base64: {e}")))?;
    String::from_utf8(bytes)
        .map(File::Text)
        .map_err(|_| decode_error("the file is not UTF-8 text".to_owned()))
}

/// `comment` cut to [`MAX_COMMENT_CHARS`], ending in `…` when it was longer.
pub fn bounded_comment(comment: &str) -> String {
    if comment.chars().count() <= MAX_COMMENT_CHARS {
        return comment.to_owned();
    }
    let mut cut: String = comment.chars().take(MAX_COMMENT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Approves or rejects the run's wait on this app's protection rule for `environment`. Sent
/// once: GitHub answers 204, and a repeated answer to a settled rule is refused (422).
pub async fn review_run(
    client: &Client,
    repo: &Repo,
    run_id: u64,
    environment: &str,
    state: &str,
    comment: &str,
) -> Result<(), GitHubError> {
    let path = repo.path(&format!(
        "/actions/runs/{run_id}/deployment_protection_rule"
    ));
    let body = serde_json::json!({
        "environment_name": environment,
        "state": state,
        "comment": bounded_comment(comment),
    });
    client.write("POST", &path, Some(&body)).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_comment_is_cut_on_a_character_boundary() {
        let short = "approved: every gate passed";
        assert_eq!(bounded_comment(short), short);
        let long = "é".repeat(MAX_COMMENT_CHARS + 10);
        let cut = bounded_comment(&long);
        assert_eq!(cut.chars().count(), MAX_COMMENT_CHARS);
        assert!(cut.ends_with('…'));
    }
}
