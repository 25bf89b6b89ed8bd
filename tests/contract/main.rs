//! API contract tests: the requests shipgate sends to GitHub, checked against GitHub's own OpenAPI
//! description (`tests/fixtures/github-api-subset.json`, see `tests/fixtures/README.md`) by
//! Stoplight Prism in mock mode. A request that GitHub's contract rejects fails a test here.
//!
//! Not part of the plain `cargo test`; run it through the script that starts Prism:
//!
//! ```sh
//! bash .ci/prism cargo test --locked --features contract --test contract
//! ```
//!
//! Prism answers a valid request with the spec's example (2xx). A request that does not match the
//! contract gets a 4xx: 422 (or the spec's own 400/422, with the reason in the `sl-violations`
//! header) for a bad body, query or path parameter; 404 `NO_PATH_MATCHED_ERROR` for an unknown
//! path; 405 for a method the path does not have; 415 for a body that is not JSON; 406 for an
//! `Accept` the spec cannot answer.
//!
//! The HTTP client is deliberately tiny and std-only: HTTP/1.1, one request per connection
//! (`Connection: close`), so no dependency is needed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

// --------------------------------------------------------------------------------------------
// The client
// --------------------------------------------------------------------------------------------

/// GitHub's REST API version shipgate pins.
const API_VERSION: &str = "2022-11-28";
/// Versions GitHub accepts in `X-GitHub-Api-Version` (an unknown one is a 400 on GitHub).
const KNOWN_API_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];

/// Prism's answer to one request.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("Prism's answer is not JSON ({e}): {}", self.body))
    }

    /// Prism's reasons for rejecting the request, one per line: the `validation[]` of its own
    /// problem+json errors, the `sl-violations` header (when it answered with the spec's 4xx
    /// example), or its `title`/`detail`.
    pub fn prism_message(&self) -> String {
        let mut lines = Vec::new();
        let mut push_violations = |v: &Value| {
            for item in v.as_array().into_iter().flatten() {
                let location = item["location"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                let message = item["message"].as_str().unwrap_or("(no message)");
                lines.push(format!("{location}: {message}"));
            }
        };
        if let Some(header) = self.header("sl-violations") {
            if let Ok(v) = serde_json::from_str::<Value>(header) {
                push_violations(&v);
            }
        }
        if let Ok(body) = serde_json::from_str::<Value>(&self.body) {
            if body["type"]
                .as_str()
                .is_some_and(|t| t.contains("stoplight.io/prism/errors"))
            {
                push_violations(&body["validation"]);
                if lines.is_empty() {
                    let title = body["title"].as_str().unwrap_or("");
                    let detail = body["detail"].as_str().unwrap_or("");
                    lines.push(format!("{title}: {detail}"));
                }
            }
        }
        if lines.is_empty() {
            lines.push(format!("(no validation message) body: {}", self.body));
        }
        lines.join("\n")
    }
}

/// `host:port` of Prism, from `$PRISM_URL` (set by `.ci/prism`).
#[allow(clippy::disallowed_methods)] // a test harness setting, not shipgate's environment
fn prism_authority() -> String {
    let url = std::env::var("PRISM_URL").unwrap_or_else(|_| {
        panic!(
            "PRISM_URL is not set: run through .ci/prism, e.g. \
             `bash .ci/prism cargo test --locked --features contract --test contract`"
        )
    });
    let rest = url.strip_prefix("http://").unwrap_or_else(|| {
        panic!("PRISM_URL must be http://HOST:PORT (got {url:?}); run through .ci/prism")
    });
    rest.trim_end_matches('/').to_string()
}

/// Accepts `/path?query` or a recorded absolute URL (`http://host/path?query`).
fn origin_form(path_and_query: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = path_and_query.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    path_and_query
}

/// Sends one request to Prism and returns its answer, whatever the status.
/// `Host`, `Connection`, `Content-Length` and `Transfer-Encoding` are set here and
/// `Accept-Encoding` is left out (the answer is read uncompressed); the caller's values for them
/// (e.g. from a recorded request) are dropped.
pub fn send(method: &str, path_and_query: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let authority = prism_authority();
    let target = origin_form(path_and_query);
    assert!(
        target.starts_with('/'),
        "path_and_query must start with '/': {path_and_query:?}"
    );

    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding" | "accept-encoding"
        ) {
            continue;
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);

    let mut stream = TcpStream::connect(&authority).unwrap_or_else(|e| {
        panic!("cannot connect to Prism at {authority} ({e}); is it running? run through .ci/prism")
    });
    let timeout = Some(Duration::from_secs(30));
    stream.set_read_timeout(timeout).expect("set read timeout");
    stream
        .set_write_timeout(timeout)
        .expect("set write timeout");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("writing {method} {target} to Prism: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("reading Prism's answer to {method} {target}: {e}"));
    parse_response(&raw).unwrap_or_else(|e| {
        panic!(
            "unreadable answer from Prism to {method} {target} ({e}): {}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty answer")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk size line")?;
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|e| e.to_string())?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).ok_or("missing chunk terminator")?;
    }
}

/// What GitHub requires of every request that Prism cannot check (these headers are not in the
/// OpenAPI description): a User-Agent (GitHub answers 403 without one) and a known API version.
fn check_github_headers(method: &str, path: &str, headers: &[(&str, &str)], body: &str) {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    assert!(
        get("user-agent").is_some_and(|v| !v.trim().is_empty()),
        "{method} {path}: no User-Agent header; GitHub rejects such requests (403)"
    );
    let version = get("x-github-api-version");
    assert!(
        version.is_some_and(|v| KNOWN_API_VERSIONS.contains(&v)),
        "{method} {path}: X-GitHub-Api-Version is {version:?}; shipgate pins {API_VERSION}"
    );
    if !body.is_empty() {
        let content_type = get("content-type").unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: a body with Content-Type {content_type:?}; GitHub takes JSON"
        );
    }
}

/// Sends the request to Prism (`$PRISM_URL`) and fails unless it is within GitHub's contract:
/// any 4xx/5xx from Prism fails, quoting Prism's validation message. Returns the answer (the
/// spec's example) for further checks.
pub fn assert_accepted(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    check_github_headers(method, path_and_query, headers, body);
    let response = send(method, path_and_query, headers, body);
    if response.status >= 400 {
        panic!(
            "{method} {path_and_query} does not match GitHub's OpenAPI contract: Prism answered {}\n{}\n\
             request body: {}",
            response.status,
            response.prism_message(),
            if body.is_empty() { "(none)" } else { body },
        );
    }
    // Prism also lists, in `sl-violations`, where the spec's own response example breaks the
    // spec's schema (location `response`); that is GitHub's inconsistency, not the request's.
    let request_violations: Vec<Value> = response
        .header("sl-violations")
        .and_then(|h| serde_json::from_str::<Vec<Value>>(h).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v["location"][0] == "request")
        .collect();
    if !request_violations.is_empty() {
        panic!(
            "{method} {path_and_query}: Prism answered {} but reports contract violations: {}",
            response.status,
            Value::from(request_violations)
        );
    }
    response
}

/// Sends the request and fails unless Prism rejects it with `status` and a message containing
/// `message_part`. Proves that the contract check would catch that mistake.
pub fn assert_rejected(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
    status: u16,
    message_part: &str,
) -> Response {
    let response = send(method, path_and_query, headers, body);
    let message = response.prism_message();
    assert_eq!(
        response.status, status,
        "{method} {path_and_query}: expected Prism to reject it with {status}, got {}\n{message}\nbody: {}",
        response.status, response.body
    );
    assert!(
        message.contains(message_part),
        "{method} {path_and_query}: rejected with {status} as expected, but the message does not \
         mention {message_part:?}:\n{message}"
    );
    response
}

/// One recorded request: (method, path_and_query, headers, body).
pub type RecordedRequest = (String, String, Vec<(String, String)>, String);

/// Asserts that every request is accepted, in order.
///
/// The integration tests drive shipgate against a fake GitHub server that records each request
/// it receives as (method, path_and_query, headers, body); those recordings are replayed through
/// this function so that every request shipgate really sends is checked against GitHub's
/// contract, not only the hand-written shapes below. From `tests/support/fake_github/`'s
/// `Recorded`: `(r.method, path + "?" + query (no `?` when the query is empty), r.headers,
/// r.body)`. Transport headers (Host, Connection, Content-Length, Accept-Encoding) in the
/// recordings are ignored.
pub fn replay(requests: &[RecordedRequest]) {
    assert!(!requests.is_empty(), "replay: no recorded requests");
    for (method, path_and_query, headers, body) in requests {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_accepted(method, path_and_query, &headers, body);
    }
}

/// Percent-encodes a query string (RFC 3986 unreserved characters stay as they are), the way a
/// correct client must: `>=` and `:` in `created`, `+` in offsets, spaces, slashes.
pub fn query(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// --------------------------------------------------------------------------------------------
// The request shapes shipgate sends (GitHub's REST API, the endpoints of github-api-subset.json)
// --------------------------------------------------------------------------------------------

const REPO: &str = "/repos/hotdash/web";
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const TOKEN_HEADER: &str = "Bearer ghs_contracttestfaketoken0000000000000";

/// The headers on every request shipgate sends.
fn gh() -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", API_VERSION),
        ("authorization", TOKEN_HEADER),
        ("user-agent", "shipgate/0.1"),
    ]
}

/// The headers on a request with a JSON body.
fn gh_json() -> Vec<(&'static str, &'static str)> {
    let mut h = gh();
    h.push(("content-type", "application/json"));
    h
}

fn get(path_and_query: &str) -> Response {
    assert_accepted("GET", path_and_query, &gh(), "")
}

fn send_json(method: &str, path: &str, body: &Value) -> Response {
    assert_accepted(method, path, &gh_json(), &body.to_string())
}

// Required checks (A1-A3)

#[test]
fn list_check_runs_for_ref_latest_page_2() {
    let q = query(&[("per_page", "100"), ("filter", "latest"), ("page", "2")]);
    let r = get(&format!("{REPO}/commits/{SHA}/check-runs?{q}"));
    assert!(r.json()["check_runs"].is_array(), "{}", r.body);
}

#[test]
fn combined_status_with_per_page() {
    let r = get(&format!("{REPO}/commits/{SHA}/status?per_page=100"));
    assert!(r.json()["statuses"].is_array(), "{}", r.body);
}

#[test]
fn list_commit_statuses() {
    get(&format!(
        "{REPO}/commits/{SHA}/statuses?per_page=100&page=1"
    ));
}

#[test]
fn branch_rules() {
    let r = get(&format!("{REPO}/rules/branches/main?per_page=100"));
    assert!(r.json().is_array(), "{}", r.body);
}

#[test]
fn branch_rules_for_a_branch_with_a_slash_percent_encoded() {
    // Prism (like GitHub's router) takes one path segment per parameter.
    get(&format!(
        "{REPO}/rules/branches/release%2F2026.11?per_page=100"
    ));
}

#[test]
fn branch() {
    get(&format!("{REPO}/branches/main"));
}

#[test]
fn branch_protection_required_status_checks() {
    get(&format!(
        "{REPO}/branches/main/protection/required_status_checks"
    ));
}

#[test]
fn pull_request() {
    get(&format!("{REPO}/pulls/1347"));
}

#[test]
fn commit() {
    get(&format!("{REPO}/commits/{SHA}"));
}

/// How shipgate resolves a ref (reference E): the `sha` media type, answered as bare text.
#[test]
fn commit_as_bare_sha() {
    let mut headers = gh();
    headers.retain(|(name, _)| *name != "accept");
    headers.push(("accept", "application/vnd.github.sha"));
    let response = assert_accepted("GET", &format!("{REPO}/commits/main"), &headers, "");
    assert_eq!(response.status, 200);
}

#[test]
fn authenticated_user() {
    get("/user");
}

// Gate check run (A4)

#[test]
fn create_gate_check_run_in_progress() {
    let r = send_json(
        "POST",
        &format!("{REPO}/check-runs"),
        &json!({
            "name": "shipgate / production",
            "head_sha": SHA,
            "status": "in_progress",
            "started_at": "2026-11-24T18:00:00Z",
            "output": {
                "title": "Deploy gate: checking",
                "summary": "Waiting for required checks: `build`, `test (ubuntu, 1.85)`"
            }
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn complete_gate_check_run_with_failure() {
    let r = send_json(
        "PATCH",
        &format!("{REPO}/check-runs/4"),
        &json!({
            "status": "completed",
            "conclusion": "failure",
            "completed_at": "2026-11-24T18:04:10Z",
            "output": {
                "title": "Deploy gate: blocked",
                "summary": "1 required check failing: `build`",
                "text": "| gate | status |\n|---|---|\n| required-checks | fail |\n"
            }
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

// Sticky PR comment (A7)

#[test]
fn list_pr_comments() {
    get(&format!("{REPO}/issues/1347/comments?per_page=100&page=1"));
}

#[test]
fn create_pr_comment() {
    let r = send_json(
        "POST",
        &format!("{REPO}/issues/1347/comments"),
        &json!({"body": "<!-- shipgate:v1 key=production -->\n### Deploy gate: blocked"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn update_pr_comment_with_patch() {
    send_json(
        "PATCH",
        &format!("{REPO}/issues/comments/1"),
        &json!({"body": "<!-- shipgate:v1 key=production -->\n### Deploy gate: go"}),
    );
}

#[test]
fn get_pr_comment() {
    get(&format!("{REPO}/issues/comments/1"));
}

// Deployments (A6)

#[test]
fn create_deployment() {
    let r = send_json(
        "POST",
        &format!("{REPO}/deployments"),
        &json!({
            "ref": SHA,
            "environment": "production",
            "task": "deploy",
            "auto_merge": false,
            "required_contexts": [],
            "payload": {"shipgate": {"app": "hotdash-web", "image": "registry.fly.io/hotdash-web:deployment-01J"}},
            "description": "shipgate: deploy 6dcb09b to production",
            "production_environment": true,
            "transient_environment": false
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn create_deployment_status_in_progress() {
    let r = send_json(
        "POST",
        &format!("{REPO}/deployments/42/statuses"),
        &json!({
            "state": "in_progress",
            "log_url": "https://github.com/hotdash/web/actions/runs/30433642",
            "environment_url": "https://hotdash-web.fly.dev",
            "description": "shipgate: fly deploy running",
            "auto_inactive": true
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

// Rollback (A5)

#[test]
fn dispatch_rollback_with_run_details() {
    let r = send_json(
        "POST",
        &format!("{REPO}/actions/workflows/rollback.yml/dispatches"),
        &json!({
            "ref": "main",
            "inputs": {
                "reason": "health gate failed: /health 503 x4",
                "failed_sha": SHA,
                "target_image": "registry.fly.io/hotdash-web:deployment-01H",
                "correlation_id": "shipgate-7f3a9c"
            },
            "return_run_details": true
        }),
    );
    // 200 {workflow_run_id, run_url, html_url} with return_run_details; 204 without.
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["workflow_run_id"].is_i64(), "{}", r.body);
}

#[test]
fn list_rollback_runs_created_since() {
    let q = query(&[
        ("event", "workflow_dispatch"),
        ("per_page", "100"),
        ("created", ">=2026-11-22T10:00:00Z"),
    ]);
    assert!(q.contains("created=%3E%3D2026-11-22T10%3A00%3A00Z"), "{q}");
    let r = get(&format!("{REPO}/actions/workflows/rollback.yml/runs?{q}"));
    assert!(r.json()["workflow_runs"].is_array(), "{}", r.body);
}

#[test]
fn list_rollback_runs_created_since_with_offset_and_branch() {
    let q = query(&[
        ("event", "workflow_dispatch"),
        ("branch", "main"),
        ("per_page", "100"),
        ("created", ">=2026-11-22T10:00:00+01:00"),
    ]);
    get(&format!("{REPO}/actions/workflows/rollback.yml/runs?{q}"));
}

// The approval gate (reference E)

/// How shipgate reads a run's review history; GitHub's example decodes into the facts the
/// gate reads.
#[test]
fn run_approvals() {
    let r = get(&format!("{REPO}/actions/runs/30433642/approvals"));
    let reviews: Vec<shipgate::facts::approval::Review> =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    assert!(!reviews.is_empty(), "{}", r.body);
    assert_eq!(
        reviews[0].state,
        shipgate::facts::approval::ReviewState::Approved
    );
    assert!(reviews[0].covers("staging"));
    assert_eq!(reviews[0].login(), "octocat");
}

/// How shipgate reads an environment's protection rules: the `required_reviewers` rule carries
/// `prevent_self_review`.
#[test]
fn environment_settings() {
    let r = get(&format!("{REPO}/environments/production"));
    let settings: shipgate::facts::approval::EnvironmentSettings =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    assert!(settings.has_required_reviewers(), "{}", r.body);
    assert!(!settings.prevent_self_review(), "{}", r.body);
}

#[test]
fn rejected_run_approvals_of_a_run_id_that_is_not_a_number() {
    assert_rejected(
        "GET",
        &format!("{REPO}/actions/runs/latest/approvals"),
        &gh(),
        "",
        422,
        "run_id",
    );
}

#[test]
fn get_workflow_run() {
    get(&format!("{REPO}/actions/runs/30433642"));
}

// Replay (see `replay`)

#[test]
fn replay_a_recorded_session() {
    let h = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        // As a fake server records them: transport headers included, names lowercased.
        let mut all: Vec<(String, String)> = vec![
            ("host".into(), "127.0.0.1:34567".into()),
            ("content-length".into(), "0".into()),
            ("accept-encoding".into(), "gzip".into()),
        ];
        all.extend(
            gh().iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        all
    };
    let json_ct = [("content-type", "application/json")];
    replay(&[
        (
            "GET".into(),
            format!("{REPO}/rules/branches/main"),
            h(&[]),
            String::new(),
        ),
        (
            "GET".into(),
            format!("{REPO}/commits/{SHA}/check-runs?filter=latest&per_page=100"),
            h(&[]),
            String::new(),
        ),
        (
            "POST".into(),
            format!("http://127.0.0.1:34567{REPO}/check-runs"),
            h(&json_ct),
            json!({"name": "shipgate", "head_sha": SHA, "status": "in_progress"}).to_string(),
        ),
    ]);
}

// --------------------------------------------------------------------------------------------
// Prism catches mistakes (these requests must be rejected)
// --------------------------------------------------------------------------------------------

#[test]
fn rejected_dispatch_without_ref() {
    assert_rejected(
        "POST",
        &format!("{REPO}/actions/workflows/rollback.yml/dispatches"),
        &gh_json(),
        &json!({"inputs": {"reason": "x"}, "return_run_details": true}).to_string(),
        422,
        "must have required property 'ref'",
    );
}

#[test]
fn rejected_per_page_not_an_integer() {
    for path in [
        format!("{REPO}/commits/{SHA}/check-runs?per_page=abc"),
        format!("{REPO}/actions/workflows/rollback.yml/runs?per_page=abc"),
    ] {
        assert_rejected(
            "GET",
            &path,
            &gh(),
            "",
            422,
            "query parameter per_page must be integer",
        );
    }
}

#[test]
fn rejected_check_runs_filter_outside_its_enum() {
    assert_rejected(
        "GET",
        &format!("{REPO}/commits/{SHA}/check-runs?filter=newest"),
        &gh(),
        "",
        422,
        "filter must be equal to one of the allowed values",
    );
}

#[test]
fn rejected_check_run_conclusion_outside_its_enum() {
    assert_rejected(
        "PATCH",
        &format!("{REPO}/check-runs/4"),
        &gh_json(),
        &json!({"status": "completed", "conclusion": "blocked"}).to_string(),
        422,
        "conclusion must be equal to one of the allowed values",
    );
}

#[test]
fn rejected_check_run_summary_over_65535_characters() {
    let summary = "x".repeat(65_536);
    assert_rejected(
        "POST",
        &format!("{REPO}/check-runs"),
        &gh_json(),
        &json!({"name": "shipgate", "head_sha": SHA, "output": {"title": "t", "summary": summary}})
            .to_string(),
        422,
        "must NOT have more than 65535 characters",
    );
}

#[test]
fn rejected_deployment_status_state_outside_its_enum() {
    assert_rejected(
        "POST",
        &format!("{REPO}/deployments/42/statuses"),
        &gh_json(),
        &json!({"state": "running"}).to_string(),
        422,
        "state must be equal to one of the allowed values",
    );
}

#[test]
fn rejected_comment_update_with_post() {
    // octocrab's `issues().update_comment()` sends POST here. GitHub tolerates it, but the
    // contract only has PATCH: shipgate must use PATCH (a raw `_patch`).
    assert_rejected(
        "POST",
        &format!("{REPO}/issues/comments/1"),
        &gh_json(),
        &json!({"body": "x"}).to_string(),
        405,
        "does not have \"post\" method defined",
    );
}

#[test]
fn rejected_form_encoded_body() {
    let mut headers = gh();
    headers.push(("content-type", "application/x-www-form-urlencoded"));
    assert_rejected(
        "POST",
        &format!("{REPO}/actions/workflows/rollback.yml/dispatches"),
        &headers,
        "ref=main",
        415,
        "Supported content types: application/json",
    );
}

#[test]
fn rejected_created_with_an_unencoded_plus() {
    // An unencoded '+' in the offset arrives as a space.
    assert_rejected(
        "GET",
        &format!("{REPO}/actions/workflows/rollback.yml/runs?created=>=2026-11-22T10:00:00+01:00"),
        &gh(),
        "",
        422,
        "query parameter created must match pattern",
    );
}

#[test]
fn rejected_unknown_path() {
    assert_rejected(
        "GET",
        &format!("{REPO}/commit/{SHA}/check-runs"),
        &gh(),
        "",
        404,
        "Route not resolved",
    );
}

// --------------------------------------------------------------------------------------------
// Every request shipgate really sends: commands run against the fake GitHub, then replayed
// --------------------------------------------------------------------------------------------

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

#[test]
fn every_request_of_checks_gate_and_readiness_matches_githubs_contract() {
    use support::fake_github::*;
    const RECORDED_REPO: &str = "hotdash-dev/hotdash";
    let fake = FakeGitHub::start();
    fake.set_ref(RECORDED_REPO, "main", SHA);
    fake.add_check_runs(
        RECORDED_REPO,
        SHA,
        [
            "Docs Policy",
            "Danger",
            "Gitleaks",
            "AI Config",
            "Health Check",
        ]
        .iter()
        .enumerate()
        .map(|(i, name)| check_run(100 + i as u64, name, "completed", Some("success"))),
    );
    fake.add_statuses(
        RECORDED_REPO,
        SHA,
        [commit_status(900, "ci/legacy", "success")],
    );
    fake.repo(RECORDED_REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                RECORDED_REPO,
                7,
                &[("ci/legacy", None)],
                true,
            )],
        );
        repo.set_branch_protection("main", json!({ "enabled": true }));
        repo.add_pull(pull_request(RECORDED_REPO, 7, SHA, "feature", "main"));
    });
    let shipgate = |args: &[&str]| {
        #[allow(clippy::disallowed_methods)] // the ambient CI variables must not leak in
        let ambient: Vec<String> = std::env::vars()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("GITHUB_") || k.starts_with("RUNNER_"))
            .collect();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"));
        for name in ambient {
            command.env_remove(name);
        }
        let output = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["--config", "examples/shipgate.yml", "--repo", RECORDED_REPO])
            .args(args)
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", "ghs_contract")
            .output()
            .expect("shipgate runs");
        assert!(
            output.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    shipgate(&["checks", "--ref", "main", "--wait", "0"]);
    shipgate(&["gate", "--ref", "main", "--wait", "0"]);
    shipgate(&[
        "readiness",
        "--pr",
        "7",
        "-e",
        "production",
        "--comment",
        "--check-run",
    ]);
    shipgate(&["readiness", "--pr", "7", "-e", "production", "--comment"]);

    let recorded: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .map(|r| {
            let path = if r.query.is_empty() {
                r.path.clone()
            } else {
                format!("{}?{}", r.path, r.query)
            };
            (r.method.clone(), path, r.headers.clone(), r.body.clone())
        })
        .collect();
    let methods: Vec<&str> = recorded.iter().map(|r| r.0.as_str()).collect();
    assert!(
        methods.contains(&"POST") && methods.contains(&"PATCH"),
        "the session wrote: {methods:?}"
    );
    replay(&recorded);
}

// Delivery metrics (A6: deployments, their statuses, a commit's pull requests)

#[test]
fn list_deployments_of_an_environment() {
    let q = query(&[("environment", "production"), ("per_page", "100")]);
    let r = get(&format!("{REPO}/deployments?{q}"));
    assert!(r.json().is_array(), "{}", r.body);
    get(&format!("{REPO}/deployments?{q}&page=2"));
}

#[test]
fn list_deployment_statuses_every_page() {
    let r = get(&format!("{REPO}/deployments/42/statuses?per_page=100"));
    assert!(r.json().is_array(), "{}", r.body);
    get(&format!(
        "{REPO}/deployments/42/statuses?per_page=100&page=3"
    ));
}

#[test]
fn list_pull_requests_of_a_commit() {
    let r = get(&format!("{REPO}/commits/{SHA}/pulls?per_page=100"));
    assert!(r.json().is_array(), "{}", r.body);
}

#[test]
fn every_request_of_report_metrics_matches_githubs_contract() {
    use support::fake_github::*;
    const RECORDED_REPO: &str = "hotdash-dev/hotdash";
    let fake = FakeGitHub::start();
    fake.repo(RECORDED_REPO, |repo| {
        for (i, task) in ["deploy", "deploy", "deploy:rollback"].iter().enumerate() {
            let id = 10 + i as u64;
            let sha = format!("{:0>40x}", i + 1);
            let at = format!("2026-04-2{i}T10:00:00Z");
            repo.add_deployment(deployment(id, &sha, "production", task, &at));
            let state = if i == 1 { "failure" } else { "success" };
            repo.add_deployment_status(id, deployment_status(100 + id, state, &at));
            repo.add_pull(merged_pull_request(
                RECORDED_REPO,
                7 + i as u64,
                &sha,
                "2026-04-19T10:00:00Z",
            ));
        }
    });
    let dir = std::env::temp_dir().join(format!("shipgate-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cache = dir.join("etags.json");
    for _ in 0..2 {
        #[allow(clippy::disallowed_methods)] // the ambient CI variables must not leak in
        let ambient: Vec<String> = std::env::vars()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("GITHUB_") || k.starts_with("RUNNER_"))
            .collect();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"));
        for name in ambient {
            command.env_remove(name);
        }
        let output = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["--config", "examples/shipgate.yml", "--repo", RECORDED_REPO])
            .args(["report", "metrics", "-e", "production", "--since", "30d"])
            .args(["--at", "2026-05-01T00:00:00Z", "--cache"])
            .arg(&cache)
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", "ghs_contract")
            .output()
            .expect("shipgate runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let recorded: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .map(|r| {
            let path = if r.query.is_empty() {
                r.path.clone()
            } else {
                format!("{}?{}", r.path, r.query)
            };
            (r.method.clone(), path, r.headers.clone(), r.body.clone())
        })
        .collect();
    let conditional = recorded
        .iter()
        .filter(|r| r.2.iter().any(|(k, _)| k == "if-none-match"))
        .count();
    // Run 1: the list, 3 statuses, 1 pull-request list (one deploy succeeded); run 2 the same,
    // each with its ETag.
    assert_eq!((recorded.len(), conditional), (10, 5), "{recorded:?}");
    replay(&recorded);
}

// The protection-rule server (`shipgate serve`), as its GitHub App

/// An installation token bought with the app's JWT, as octocrab asks for it (an empty JSON
/// object: every repository of the installation); GitHub's example carries the `token` and
/// `expires_at` the token cache reads.
#[test]
fn create_installation_access_token() {
    let jwt = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOjQyfQ.c2lnbmF0dXJl";
    let mut headers = gh_json();
    headers.retain(|(name, _)| *name != "authorization");
    headers.push(("authorization", jwt));
    let r = assert_accepted(
        "POST",
        "/app/installations/77/access_tokens",
        &headers,
        "{}",
    );
    let answer = r.json();
    assert!(answer["token"].is_string(), "{}", r.body);
    assert!(
        answer["expires_at"]
            .as_str()
            .is_some_and(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok()),
        "{}",
        r.body
    );
}

/// The answer to a waiting run, as `github::protection::review_run` sends it.
#[test]
fn review_deployment_protection_rule() {
    for state in ["approved", "rejected"] {
        let body = json!({
            "environment_name": "production",
            "state": state,
            "comment": shipgate::github::protection::bounded_comment(
                "shipgate approved 6dcb09b to production: required-checks: pass"
            ),
        });
        let r = send_json(
            "POST",
            &format!("{REPO}/actions/runs/30433642/deployment_protection_rule"),
            &body,
        );
        assert_eq!(r.status, 204, "{}", r.body);
    }
}

#[test]
fn rejected_protection_rule_answer_with_another_state() {
    let body = json!({ "environment_name": "production", "state": "held" });
    assert_rejected(
        "POST",
        &format!("{REPO}/actions/runs/30433642/deployment_protection_rule"),
        &gh_json(),
        &body.to_string(),
        422,
        "state",
    );
}

/// The policy file read from the default branch (`github::protection::file`): the ref is a
/// query, and the answer carries the `type`, `size` and `encoding` it checks before decoding.
/// The file here sits at the root: Prism matches `{path}` to one segment only (an OpenAPI path
/// parameter holds no `/`), while GitHub takes `.github/shipgate.yml` as is. The example's
/// `content` is not decoded: GitHub's description writes its line breaks as a literal `\n`.
#[test]
fn policy_file_contents_at_a_ref() {
    let q = query(&[("ref", "main")]);
    let r = get(&format!("{REPO}/contents/shipgate.yml?{q}"));
    let answer = r.json();
    assert_eq!(answer["type"], "file", "{}", r.body);
    assert_eq!(answer["encoding"], "base64", "{}", r.body);
    assert!(answer["size"].is_u64(), "{}", r.body);
}
