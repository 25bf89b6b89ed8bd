//! Tests of the fake GitHub server itself (tests/support/fake_github/), over real HTTP with a
//! tiny blocking HTTP/1.1 client, so the client tests built on it can trust its contracts.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::fake_github::*;

const REPO: &str = "acme/shop";
const SHA: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (Connection: close)
// ---------------------------------------------------------------------------------------------

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn number(&self, name: &str) -> u64 {
        self.header(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no numeric {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }

    /// `(rel, url)` of the Link header, in order.
    fn links(&self) -> Vec<(String, String)> {
        let Some(header) = self.header("link") else {
            return Vec::new();
        };
        header
            .split(", ")
            .map(|part| {
                let (url, rel) = part.split_once(">; rel=\"").expect("GitHub link format");
                (
                    rel.trim_end_matches('"').to_string(),
                    url.trim_start_matches('<').to_string(),
                )
            })
            .collect()
    }

    fn link(&self, rel: &str) -> Option<String> {
        self.links()
            .into_iter()
            .find(|(name, _)| name == rel)
            .map(|(_, url)| url)
    }
}

fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    let url = url::Url::parse(url).expect("an absolute URL");
    let host = url.host_str().expect("a host");
    let port = url.port().expect("a port");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the fake");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut request = format!("{method} {target} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {host}:{port}\r\n"));
    }
    request.push_str("Connection: close\r\nUser-Agent: fake-github-selftest\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .expect("send the request");

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|window| window == b"\r\n") {
        let size = String::from_utf8_lossy(&raw[..end]);
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

fn get(url: &str) -> Answer {
    send("GET", url, &[], None)
}

fn post(url: &str, body: Value) -> Answer {
    send("POST", url, &[], Some(&body.to_string()))
}

fn patch(url: &str, body: Value) -> Answer {
    send("PATCH", url, &[], Some(&body.to_string()))
}

fn api(fake: &FakeGitHub, path: &str) -> String {
    format!("{}/repos/{REPO}{path}", fake.url())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

fn assert_github_error(answer: &Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = answer.json();
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["status"], status.to_string());
    assert!(
        body["documentation_url"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://docs.github.com/")),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Transport: pagination, ETags, rate limits, errors
// ---------------------------------------------------------------------------------------------

#[test]
fn check_runs_paginate_with_githubs_link_header() {
    let fake = FakeGitHub::start();
    fake.add_check_runs(REPO, SHA, bulk_check_runs(1, 1000));
    let base = api(&fake, &format!("/commits/{SHA}/check-runs"));

    let first = get(&format!("{base}?per_page=100"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["total_count"], 1000);
    let runs = first.json()["check_runs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(runs.len(), 100);
    assert_eq!(runs[0]["id"], 1000, "newest first");
    assert_eq!(runs[0]["app"]["slug"], "github-actions");
    assert_eq!(runs[0]["head_sha"], SHA);
    assert_eq!(
        first.header("link"),
        Some(
            format!(
                "<{base}?per_page=100&page=2>; rel=\"next\", <{base}?per_page=100&page=10>; rel=\"last\""
            )
            .as_str()
        )
    );

    let middle = get(&format!("{base}?page=5&per_page=100"));
    assert_eq!(
        middle.header("link"),
        Some(
            format!(
                "<{base}?page=4&per_page=100>; rel=\"prev\", <{base}?page=6&per_page=100>; rel=\"next\", \
                 <{base}?page=10&per_page=100>; rel=\"last\", <{base}?page=1&per_page=100>; rel=\"first\""
            )
            .as_str()
        )
    );
    let last = get(&format!("{base}?per_page=100&page=10"));
    let rels: Vec<String> = last.links().into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "first"]);
    assert_eq!(
        last.json()["check_runs"].as_array().map(Vec::len),
        Some(100)
    );

    // Following `next` from the default page size (30) visits every run once.
    let mut url = base.clone();
    let mut ids = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = get(&url);
        pages += 1;
        for run in page.json()["check_runs"].as_array().into_iter().flatten() {
            assert!(
                ids.insert(run["id"].as_u64().unwrap_or(0)),
                "duplicate {run}"
            );
        }
        match page.link("next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!((pages, ids.len()), (34, 1000));

    // per_page is capped at 100; a list that fits on one page has no Link header.
    let capped = get(&format!("{base}?per_page=500"));
    assert_eq!(
        capped.json()["check_runs"].as_array().map(Vec::len),
        Some(100)
    );
    let one = get(&format!("{base}?check_name=check%200007"));
    assert_eq!(one.json()["total_count"], 1);
    assert_eq!(one.json()["check_runs"][0]["id"], 7);
    assert_eq!(one.header("link"), None);
}

#[test]
fn links_use_the_base_url_the_client_addressed() {
    let fake = FakeGitHub::start();
    fake.add_statuses(
        REPO,
        SHA,
        (1..=5).map(|id| commit_status(id, &format!("ci {id}"), "success")),
    );
    let port = fake
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let host = format!("localhost:{port}");
    let answer = send(
        "GET",
        &api(&fake, &format!("/commits/{SHA}/status?per_page=2")),
        &[("Host", &host)],
        None,
    );
    assert_eq!(
        answer.link("next"),
        Some(format!(
            "http://{host}/repos/{REPO}/commits/{SHA}/status?per_page=2&page=2"
        ))
    );
    let ids: Vec<u64> = answer.json()["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|status| status["id"].as_u64())
        .collect();
    assert_eq!(ids, [5, 4], "statuses are listed newest first");
}

#[test]
fn etag_and_if_none_match_give_a_free_304() {
    let fake = FakeGitHub::start();
    fake.add_statuses(REPO, SHA, [commit_status(1, "build", "success")]);
    let url = api(&fake, &format!("/commits/{SHA}/status"));

    let first = get(&url);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["state"], "success");
    let etag = first.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let remaining = first.number("x-ratelimit-remaining");
    assert_eq!(first.number("x-ratelimit-limit"), 5000);
    assert_eq!(first.number("x-ratelimit-used"), 1);
    assert_eq!(first.header("x-ratelimit-resource"), Some("core"));

    let cached = send("GET", &url, &[("If-None-Match", &etag)], None);
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, "");
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    assert_eq!(
        cached.number("x-ratelimit-remaining"),
        remaining,
        "a 304 is free"
    );
    assert_eq!(fake.rate_limit_remaining(), remaining);

    let again = get(&url);
    assert_eq!(again.status, 200);
    assert_eq!(
        again.header("etag"),
        Some(etag.as_str()),
        "same body, same ETag"
    );
    assert_eq!(again.number("x-ratelimit-remaining"), remaining - 1);

    fake.add_statuses(REPO, SHA, [commit_status(2, "lint", "pending")]);
    let changed = send("GET", &url, &[("If-None-Match", &etag)], None);
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["state"], "pending");
    assert_ne!(changed.header("etag"), Some(etag.as_str()));

    fake.update(|state| state.strong_etags = true);
    let strong = get(&url);
    let strong_tag = strong.header("etag").expect("an ETag").to_string();
    assert!(strong_tag.starts_with('"'), "{strong_tag}");
    let list = format!("\"nope\", {strong_tag}");
    assert_eq!(
        send("GET", &url, &[("If-None-Match", &list)], None).status,
        304
    );
}

#[test]
fn errors_and_rate_limits_look_like_githubs() {
    let fake = FakeGitHub::start();
    let unknown = get(&format!("{}/nothing/here", fake.url()));
    assert_github_error(&unknown, 404, "Not Found");
    assert!(unknown.header("x-ratelimit-remaining").is_some());
    assert!(unknown.header("x-ratelimit-reset").is_some());

    let no_commit = get(&api(&fake, "/commits/deadbeef"));
    assert_github_error(&no_commit, 422, "No commit found for SHA: deadbeef");

    fake.set_ref(REPO, "main", SHA);
    fake.repo(REPO, |repo| {
        repo.add_commit(SHA, "Fix the checkout");
    });
    for git_ref in ["main", "heads/main", "refs/heads/main", SHA, &SHA[..7]] {
        let commit = get(&api(&fake, &format!("/commits/{git_ref}")));
        assert_eq!(commit.status, 200, "{git_ref}: {}", commit.body);
        let commit = commit.json();
        assert_eq!(commit["sha"], SHA);
        assert_eq!(commit["commit"]["message"], "Fix the checkout");
        assert_eq!(
            commit["html_url"],
            format!("https://github.com/{REPO}/commit/{SHA}")
        );
        let bare = send(
            "GET",
            &api(&fake, &format!("/commits/{git_ref}")),
            &[("Accept", "application/vnd.github.sha")],
            None,
        );
        assert_eq!(bare.status, 200, "{git_ref}: {}", bare.body);
        assert_eq!(bare.body, SHA, "the sha media type answers the bare SHA");
        assert!(bare
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/vnd.github.sha")));
    }

    // Exhausting the primary budget answers 403 until the window resets.
    fake.set_rate_limit(5000, 1);
    let last = get(&api(&fake, "/commits/main"));
    assert_eq!(last.status, 200);
    assert_eq!(last.number("x-ratelimit-remaining"), 0);
    let limited = get(&api(&fake, "/commits/main"));
    assert_eq!(limited.status, 403);
    assert!(limited.json()["message"]
        .as_str()
        .is_some_and(|message| message.starts_with("API rate limit exceeded")));
    assert_eq!(limited.number("x-ratelimit-remaining"), 0);
    assert_eq!(fake.rate_limit_remaining(), 0);

    // Authentication, when required.
    fake.set_rate_limit(5000, 5000);
    fake.require_token(Some("ghs_secret"));
    assert_github_error(
        &get(&api(&fake, "/commits/main")),
        401,
        "Requires authentication",
    );
    let wrong = send(
        "GET",
        &api(&fake, "/commits/main"),
        &[("Authorization", "Bearer nope")],
        None,
    );
    assert_github_error(&wrong, 401, "Bad credentials");
    let right = send(
        "GET",
        &api(&fake, "/commits/main"),
        &[("Authorization", "Bearer ghs_secret")],
        None,
    );
    assert_eq!(right.status, 200);
}

// ---------------------------------------------------------------------------------------------
// State over time
// ---------------------------------------------------------------------------------------------

#[test]
fn a_check_run_progresses_across_polls() {
    let fake = FakeGitHub::start();
    fake.add_check_runs(REPO, SHA, [check_run(10, "build", "queued", None)]);
    fake.on_poll("/check-runs", 2, |state| {
        state.repo(REPO).set_check_run(10, "in_progress", None);
    });
    fake.on_poll("/check-runs", 3, |state| {
        state
            .repo(REPO)
            .set_check_run(10, "completed", Some("success"));
    });
    let url = api(&fake, &format!("/commits/{SHA}/check-runs"));
    let mut seen = Vec::new();
    for _ in 0..4 {
        // Other paths do not count as polls.
        assert_eq!(
            get(&api(&fake, &format!("/commits/{SHA}/status"))).status,
            200
        );
        let run = get(&url).json()["check_runs"][0].clone();
        seen.push((run["status"].clone(), run["conclusion"].clone()));
        if run["status"] == "completed" {
            assert!(run["completed_at"].is_string());
        }
    }
    assert_eq!(
        seen,
        [
            (json!("queued"), Value::Null),
            (json!("in_progress"), Value::Null),
            (json!("completed"), json!("success")),
            (json!("completed"), json!("success")),
        ]
    );
}

#[test]
fn after_requests_and_the_latest_filter() {
    let fake = FakeGitHub::start();
    fake.add_check_runs(
        REPO,
        SHA,
        [
            check_run(1, "build", "completed", Some("failure")),
            check_run(2, "lint", "in_progress", None),
        ],
    );
    // A re-run of `build` appears after two requests.
    fake.after_requests(2, |state| {
        state
            .repo(REPO)
            .add_check_run(SHA, check_run(3, "build", "completed", Some("success")));
    });
    let url = api(&fake, &format!("/commits/{SHA}/check-runs"));
    let names = |answer: Answer| -> Vec<(String, u64)> {
        answer.json()["check_runs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|run| {
                (
                    run["name"].as_str().unwrap_or("").to_string(),
                    run["id"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let pair = |name: &str, id: u64| (name.to_string(), id);
    assert_eq!(names(get(&url)), [pair("lint", 2), pair("build", 1)]);
    assert_eq!(names(get(&url)), [pair("lint", 2), pair("build", 1)]);
    assert_eq!(names(get(&url)), [pair("build", 3), pair("lint", 2)]);
    assert_eq!(
        names(get(&format!("{url}?filter=all"))),
        [pair("build", 3), pair("lint", 2), pair("build", 1)]
    );
    assert_eq!(
        names(get(&format!(
            "{url}?filter=all&check_name=build&status=completed"
        ))),
        [pair("build", 3), pair("build", 1)]
    );
    assert_eq!(
        names(get(&format!("{url}?status=in_progress"))),
        [pair("lint", 2)]
    );
}

// ---------------------------------------------------------------------------------------------
// What is required
// ---------------------------------------------------------------------------------------------

#[test]
fn protection_rules_and_branches() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.set_ref(REPO, "release/1.x", SHA);
    fake.repo(REPO, |repo| {
        repo.set_branch_protection(
            "main",
            branch_protection("non_admins", &[("build", Some(ACTIONS_APP_ID))]),
        )
        .set_rules(
            "main",
            vec![
                required_status_checks_rule(REPO, 42, &[("build", Some(ACTIONS_APP_ID))], true),
                rule("deletion", REPO, 42),
            ],
        );
    });

    let classic = api(&fake, "/branches/main/protection/required_status_checks");
    assert_github_error(&get(&classic), 404, "Branch not protected");
    fake.repo(REPO, |repo| {
        repo.set_classic_protection("*", ClassicProtection::Forbidden);
    });
    assert_github_error(
        &get(&classic),
        403,
        "Resource not accessible by integration",
    );
    fake.repo(REPO, |repo| {
        repo.set_classic_protection(
            "main",
            ClassicProtection::Checks {
                strict: true,
                checks: vec![("build".to_string(), Some(ACTIONS_APP_ID))],
            },
        );
    });
    let checks = get(&classic);
    assert_eq!(checks.status, 200);
    assert_eq!(checks.json()["strict"], true);
    assert_eq!(checks.json()["contexts"], json!(["build"]));
    assert_eq!(
        checks.json()["checks"],
        json!([{"context": "build", "app_id": ACTIONS_APP_ID}])
    );

    let main = get(&api(&fake, "/branches/main")).json();
    assert_eq!(main["protected"], true);
    assert_eq!(main["commit"]["sha"], SHA);
    assert_eq!(
        main["protection"]["required_status_checks"],
        json!({"enforcement_level": "non_admins", "contexts": ["build"],
               "checks": [{"context": "build", "app_id": ACTIONS_APP_ID}]})
    );
    let release = get(&api(&fake, "/branches/release/1.x")).json();
    assert_eq!(
        (release["name"].clone(), release["protected"].clone()),
        (json!("release/1.x"), json!(false))
    );
    assert_github_error(&get(&api(&fake, "/branches/nope")), 404, "Branch not found");

    let rules = get(&api(&fake, "/rules/branches/main")).json();
    assert_eq!(rules.as_array().map(Vec::len), Some(2));
    assert_eq!(rules[0]["type"], "required_status_checks");
    assert_eq!(
        rules[0]["parameters"]["required_status_checks"],
        json!([{"context": "build", "integration_id": ACTIONS_APP_ID}])
    );
    assert_eq!(
        get(&api(&fake, "/rules/branches/any/branch")).json(),
        json!([])
    );
    let paged = get(&api(&fake, "/rules/branches/main?per_page=1"));
    assert_eq!(paged.json().as_array().map(Vec::len), Some(1));
    assert!(paged
        .link("next")
        .is_some_and(|next| next.ends_with("per_page=1&page=2")));
}

#[test]
fn combined_status_follows_githubs_rules() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    let url = api(&fake, "/commits/main/status");
    let state = || get(&url).json()["state"].clone();
    assert_eq!(state(), "pending", "no statuses at all is pending");
    fake.add_statuses(
        REPO,
        SHA,
        [
            commit_status(1, "build", "failure"),
            commit_status(2, "build", "success"),
            commit_status(3, "lint", "success"),
        ],
    );
    let combined = get(&url).json();
    assert_eq!(
        combined["state"], "success",
        "only the latest per context counts"
    );
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], SHA);
    fake.add_statuses(REPO, SHA, [commit_status(4, "deploy", "pending")]);
    assert_eq!(state(), "pending");
    fake.add_statuses(REPO, SHA, [commit_status(5, "lint", "error")]);
    assert_eq!(state(), "failure");
}

// ---------------------------------------------------------------------------------------------
// Faults and recording
// ---------------------------------------------------------------------------------------------

#[test]
fn faults_apply_in_the_order_they_were_added() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.fail_next("/commits/main", Fault::Status(502), 1);
    fake.fail_next(
        "/commits/main",
        Fault::SecondaryRateLimit {
            retry_after_secs: 7,
        },
        1,
    );
    fake.fail_next(
        "/commits/main",
        Fault::PrimaryRateLimit { reset_in_secs: 30 },
        1,
    );
    fake.fail_next(
        "/commits/main",
        Fault::TooManyRequests {
            retry_after_secs: 3,
        },
        1,
    );
    fake.fail_next("/commits/main", Fault::MalformedJson, 1);
    fake.fail_next("/commits/main", Fault::Status(503), 2);
    let url = api(&fake, "/commits/main");

    // Other paths are not affected.
    assert_eq!(get(&api(&fake, "/rules/branches/main")).status, 200);

    assert_github_error(&get(&url), 502, "Bad Gateway");

    let secondary = get(&url);
    assert_eq!(secondary.status, 403);
    assert_eq!(secondary.header("retry-after"), Some("7"));
    assert!(secondary.json()["message"]
        .as_str()
        .is_some_and(|message| message.starts_with("You have exceeded a secondary rate limit")));
    assert!(secondary.number("x-ratelimit-remaining") > 0);

    let primary = get(&url);
    assert_eq!(primary.status, 403);
    assert_eq!(primary.number("x-ratelimit-remaining"), 0);
    let reset = primary.number("x-ratelimit-reset");
    assert!((now() + 25..=now() + 35).contains(&reset), "{reset}");

    let too_many = get(&url);
    assert_eq!(too_many.status, 429);
    assert_eq!(too_many.header("retry-after"), Some("3"));

    let malformed = get(&url);
    assert_eq!(malformed.status, 200);
    assert!(!malformed.body.is_empty());
    assert!(serde_json::from_str::<Value>(&malformed.body).is_err());

    assert_github_error(&get(&url), 503, "Service Unavailable");
    assert_github_error(&get(&url), 503, "Service Unavailable");
    assert_eq!(get(&url).json()["sha"], SHA);

    let statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/commits/main"))
        .map(|request| request.status)
        .collect();
    assert_eq!(statuses, [502, 403, 403, 429, 200, 503, 503, 200]);
}

#[test]
fn slowness_latency_and_method_specific_faults() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    let url = api(&fake, "/commits/main");
    fake.fail_next("/commits/main", Fault::Slow(Duration::from_millis(300)), 1);
    let started = Instant::now();
    assert_eq!(get(&url).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    fake.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(get(&url).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(100));
    fake.set_latency(Duration::ZERO);

    // Only POSTs to the comments path fail; a failed POST creates nothing.
    fake.fail_next_method("POST", "/issues/5/comments", Fault::Status(500), 1);
    let comments = api(&fake, "/issues/5/comments");
    assert_eq!(get(&comments).status, 200);
    assert_github_error(&post(&comments, json!({"body": "hi"})), 500, "Server Error");
    assert_eq!(get(&comments).json(), json!([]));
    assert_eq!(post(&comments, json!({"body": "hi"})).status, 201);
}

#[test]
fn requests_are_recorded() {
    let fake = FakeGitHub::start();
    let comments = api(&fake, "/issues/7/comments");
    let created = send(
        "POST",
        &comments,
        &[
            ("Authorization", "Bearer ghs_token"),
            ("X-GitHub-Api-Version", "2022-11-28"),
            ("Accept", "application/vnd.github+json"),
        ],
        Some(r#"{"body":"hello"}"#),
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("x-github-api-version-selected"),
        Some("2022-11-28")
    );
    assert_eq!(get(&format!("{comments}?per_page=100&page=2")).status, 200);
    assert_eq!(get(&format!("{}/nope", fake.url())).status, 404);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let post = &requests[0];
    assert_eq!(
        (
            post.method.as_str(),
            post.path.as_str(),
            post.query.as_str()
        ),
        ("POST", "/repos/acme/shop/issues/7/comments", "")
    );
    assert_eq!(post.header("authorization"), Some("Bearer ghs_token"));
    assert_eq!(post.header("X-GitHub-Api-Version"), Some("2022-11-28"));
    assert!(post
        .headers
        .iter()
        .all(|(name, _)| *name == name.to_ascii_lowercase()));
    assert_eq!(post.json(), json!({"body": "hello"}));
    assert_eq!(post.status, 201);
    assert_eq!(requests[1].query, "per_page=100&page=2");
    assert_eq!(requests[1].param("page").as_deref(), Some("2"));
    assert_eq!(requests[2].status, 404);

    assert_eq!(fake.count("POST", "/issues/7/comments"), 1);
    assert_eq!(fake.count("get", "/issues/7/comments"), 1);
    assert_eq!(fake.count("*", "/"), 3);
    fake.clear_requests();
    assert_eq!(fake.count("*", "/"), 0);
}

// ---------------------------------------------------------------------------------------------
// Writes: check runs, comments, deployments, dispatch
// ---------------------------------------------------------------------------------------------

#[test]
fn check_run_writes() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    let created = post(
        &api(&fake, "/check-runs"),
        json!({"name": "shipgate", "head_sha": SHA, "status": "in_progress"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let run = created.json();
    let id = run["id"].as_u64().expect("an id");
    assert_eq!(
        (
            run["status"].clone(),
            run["conclusion"].clone(),
            run["app"]["id"].clone()
        ),
        (json!("in_progress"), Value::Null, json!(ACTIONS_APP_ID))
    );

    let annotation = json!({"path": "shipgate.yml", "start_line": 1, "end_line": 1,
                            "annotation_level": "failure", "message": "build failed"});
    let updated = patch(
        &api(&fake, &format!("/check-runs/{id}")),
        json!({"conclusion": "failure",
               "output": {"title": "1 required check failed", "summary": "build",
                          "annotations": [annotation]}}),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let run = updated.json();
    assert_eq!(
        (run["status"].clone(), run["conclusion"].clone()),
        (json!("completed"), json!("failure"))
    );
    assert!(run["completed_at"].is_string());
    assert_eq!(run["output"]["annotations_count"], 1);
    assert_eq!(fake.repo(REPO, |repo| repo.annotations[&id].len()), 1);

    let listed = get(&api(&fake, "/commits/main/check-runs?check_name=shipgate")).json();
    assert_eq!(listed["check_runs"][0]["conclusion"], "failure");

    assert_github_error(
        &patch(&api(&fake, "/check-runs/999"), json!({"status": "queued"})),
        404,
        "Not Found",
    );
    let no_conclusion = post(
        &api(&fake, "/check-runs"),
        json!({"name": "x", "head_sha": SHA, "status": "completed"}),
    );
    assert_eq!(no_conclusion.status, 422);
    assert_eq!(
        post(&api(&fake, "/check-runs"), json!({"name": "x"})).status,
        422
    );
}

#[test]
fn sticky_comment_lifecycle() {
    let fake = FakeGitHub::start();
    let other = fake.repo(REPO, |repo| repo.add_comment(12, "LGTM", "octocat", "User"));
    let comments = api(&fake, "/issues/12/comments");
    let mine = post(&comments, json!({"body": "<!-- shipgate -->\nblocked"}));
    assert_eq!(mine.status, 201);
    let mine = mine.json();
    assert_eq!(mine["user"]["login"], ACTIONS_BOT_LOGIN);
    assert_eq!(mine["user"]["type"], "Bot");
    let id = mine["id"].as_u64().expect("an id");
    assert_eq!(post(&comments, json!({"body": "third"})).status, 201);

    let page = get(&format!("{comments}?per_page=2"));
    let ids: Vec<u64> = page
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|comment| comment["id"].as_u64())
        .collect();
    assert_eq!(ids, [other, id], "ascending ids");
    assert!(page.link("next").is_some());

    let single = api(&fake, &format!("/issues/comments/{id}"));
    let updated = patch(&single, json!({"body": "<!-- shipgate -->\nready"}));
    assert_eq!(updated.json()["body"], "<!-- shipgate -->\nready");
    let too_long = post(&comments, json!({"body": "x".repeat(65_537)}));
    assert_eq!(too_long.status, 422);
    assert_eq!(
        too_long.json()["errors"][0]["message"],
        "Body is too long (maximum is 65536 characters)"
    );
    let deleted = send("DELETE", &single, &[], None);
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    assert_github_error(&send("DELETE", &single, &[], None), 404, "Not Found");
    assert_eq!(fake.repo(REPO, |repo| repo.comments_on(12).len()), 2);
}

#[test]
fn deployments_and_their_statuses() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(REPO, SHA, [check_run(1, "shipgate", "in_progress", None)]);
    let deployments = api(&fake, "/deployments");

    // Without required_contexts GitHub insists every context passes.
    let conflict = post(&deployments, json!({"ref": "main"}));
    assert_eq!(conflict.status, 409, "{}", conflict.body);

    let mut ids = Vec::new();
    for environment in ["staging", "production"] {
        let created = post(
            &deployments,
            json!({"ref": "main", "environment": environment, "auto_merge": false,
                   "required_contexts": []}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let deployment = created.json();
        assert_eq!(deployment["sha"], SHA);
        assert_eq!(
            deployment["production_environment"],
            environment == "production"
        );
        ids.push(deployment["id"].as_u64().expect("an id"));
    }
    let listed = get(&format!("{deployments}?sha={SHA}")).json();
    assert_eq!(listed[0]["id"], ids[1], "newest first");
    let production = get(&format!("{deployments}?environment=production")).json();
    assert_eq!(production.as_array().map(Vec::len), Some(1));

    let statuses = api(&fake, &format!("/deployments/{}/statuses", ids[1]));
    for state in ["in_progress", "success"] {
        let created = post(
            &statuses,
            json!({"state": state, "log_url": "https://github.com/acme/shop/actions/runs/1",
                   "environment_url": "https://shop.fly.dev"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        assert!(created.header("location").is_some());
        assert_eq!(
            created.json()["target_url"],
            "https://github.com/acme/shop/actions/runs/1"
        );
    }
    let states: Vec<Value> = get(&statuses)
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|status| status["state"].clone())
        .collect();
    assert_eq!(states, [json!("success"), json!("in_progress")]);
    assert_eq!(post(&statuses, json!({"state": "exploded"})).status, 422);
    assert_github_error(
        &get(&api(&fake, "/deployments/1/statuses")),
        404,
        "Not Found",
    );
}

#[test]
fn dispatch_answers_200_with_run_details_or_204() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    let dispatches = api(&fake, "/actions/workflows/rollback.yml/dispatches");
    let runs = api(&fake, "/actions/workflows/rollback.yml/runs");

    let detailed = post(
        &dispatches,
        json!({"ref": "main", "inputs": {"correlation_id": "sg-123"}, "return_run_details": true}),
    );
    assert_eq!(detailed.status, 200, "{}", detailed.body);
    let details = detailed.json();
    let run_id = details["workflow_run_id"].as_u64().expect("a run id");
    assert_eq!(
        details["run_url"],
        format!("{}/repos/{REPO}/actions/runs/{run_id}", fake.url())
    );
    assert_eq!(
        details["html_url"],
        format!("https://github.com/{REPO}/actions/runs/{run_id}")
    );

    let listed = get(&format!(
        "{runs}?event=workflow_dispatch&branch=main&created=%3E%3D2020-01-01"
    ))
    .json();
    assert_eq!(listed["total_count"], 1);
    let run = &listed["workflow_runs"][0];
    assert_eq!(run["id"], run_id);
    assert!(run["display_title"]
        .as_str()
        .is_some_and(|title| title.contains("sg-123")));
    assert_eq!(
        (run["status"].clone(), run["head_sha"].clone()),
        (json!("queued"), json!(SHA))
    );

    let plain = post(&dispatches, json!({"ref": "main"}));
    assert_eq!((plain.status, plain.body.as_str()), (204, ""));
    fake.set_dispatch_returns_run_details(false);
    let old_server = post(
        &dispatches,
        json!({"ref": "main", "return_run_details": true}),
    );
    assert_eq!((old_server.status, old_server.body.as_str()), (204, ""));

    assert_eq!(post(&dispatches, json!({"inputs": {}})).status, 422);
    assert_eq!(post(&dispatches, json!({"ref": 5})).status, 422);
    assert_github_error(
        &post(&dispatches, json!({"ref": "nope"})),
        422,
        "No ref found for: nope",
    );

    let all = get(&runs).json();
    assert_eq!(all["total_count"], 3);
    assert_eq!(all["workflow_runs"][2]["id"], run_id, "newest first");
    assert_eq!(
        get(&format!("{runs}?created=%3C2020-01-01")).json()["total_count"],
        0
    );
    assert_eq!(fake.repo(REPO, |repo| repo.dispatches.len()), 3);

    // Runs may show up only after a few polls.
    fake.update(|state| state.dispatch_run_visible_after_polls = 1);
    assert_eq!(post(&dispatches, json!({"ref": "main"})).status, 204);
    assert_eq!(get(&runs).json()["total_count"], 3);
    assert_eq!(get(&runs).json()["total_count"], 4);
}

#[test]
fn dropping_the_fake_does_not_wait_for_slow_requests() {
    let fake = FakeGitHub::start();
    fake.fail_next("/slow", Fault::Slow(Duration::from_secs(60)), 1);
    let address = fake.url().trim_start_matches("http://").to_string();
    let (sent, request_sent) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&address).expect("connect to the fake");
        let request = format!("GET /slow HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .expect("send the request");
        let _ = sent.send(());
        // Longer than the slow answer takes: a fake that waited for it would answer in time.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        let mut answer = Vec::new();
        let ended = stream
            .read_to_end(&mut answer)
            .map_err(|error| error.kind());
        (answer, ended)
    });
    request_sent.recv().expect("the client sent its request");
    // Give the fake a moment to take the request in and start holding it.
    std::thread::sleep(Duration::from_millis(200));
    drop(fake);
    let (answer, ended) = client.join().expect("the client thread");
    // The held request was cut off when the fake stopped, never answered, and not ended by the
    // client's own timeout.
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(
        !matches!(
            ended,
            Err(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        ),
        "{ended:?}"
    );
}

#[test]
fn deployment_history_and_a_commits_pull_requests() {
    let fake = FakeGitHub::start();
    let other = "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    fake.repo(REPO, |repo| {
        for id in 1..=160u64 {
            let environment = if id % 3 == 0 { "staging" } else { "production" };
            let task = if id % 10 == 0 {
                "deploy:rollback"
            } else {
                "deploy"
            };
            repo.add_deployment(deployment(
                id,
                SHA,
                environment,
                task,
                "2026-04-01T10:00:00Z",
            ));
        }
        repo.add_deployment_status(
            7,
            deployment_status(9001, "in_progress", "2026-04-01T10:00:00Z"),
        );
        repo.add_deployment_status(
            7,
            deployment_status(9002, "success", "2026-04-01T10:05:00Z"),
        );
        repo.add_pull(merged_pull_request(REPO, 12, SHA, "2026-04-01T09:00:00Z"));
        repo.add_commit(other, "feature work");
        repo.add_pull(pull_request(REPO, 13, other, "feature", "main"));
    });
    // The environment filter, newest first, 100 a page with GitHub's Link header.
    let url = api(&fake, "/deployments?environment=production&per_page=100");
    let first = get(&url);
    let page: Vec<Value> = first.json().as_array().expect("an array").clone();
    assert_eq!(page.len(), 100);
    assert!(page.iter().all(|d| d["environment"] == "production"));
    assert_eq!(page[0]["id"], 160);
    assert_eq!(
        page[0]["statuses_url"],
        api(&fake, "/deployments/160/statuses")
    );
    assert!(first
        .link("next")
        .is_some_and(|next| next.ends_with("page=2")));
    let second = get(&first.link("next").expect("next"));
    // 107 of the 160 are production (every third is staging): 7 on page 2.
    assert_eq!(second_len(&second), 7);
    let etag = first.header("etag").expect("an ETag").to_string();
    assert_eq!(
        send("GET", &url, &[("If-None-Match", &etag)], None).status,
        304
    );
    // Statuses newest first, with the environment filled.
    let statuses = get(&api(&fake, "/deployments/7/statuses")).json();
    assert_eq!(statuses[0]["state"], "success");
    assert_eq!(statuses[0]["environment"], "production");
    assert_eq!(statuses[1]["state"], "in_progress");
    // A commit's pull requests: the one it merged as, or whose head it is; 422 for no commit.
    let pulls = get(&api(&fake, &format!("/commits/{SHA}/pulls?per_page=100"))).json();
    assert_eq!(pulls.as_array().map(Vec::len), Some(1));
    assert_eq!(pulls[0]["number"], 12);
    assert_eq!(pulls[0]["merged_at"], "2026-04-01T09:00:00Z");
    assert_eq!(pulls[0]["merge_commit_sha"], SHA);
    let head = get(&api(&fake, &format!("/commits/{other}/pulls"))).json();
    assert_eq!(head[0]["number"], 13);
    assert_eq!(head[0]["merged_at"], Value::Null);
    let missing = "c".repeat(40);
    let unknown = get(&api(&fake, &format!("/commits/{missing}/pulls")));
    assert_github_error(
        &unknown,
        422,
        &format!("No commit found for SHA: {missing}"),
    );
}

fn second_len(answer: &Answer) -> usize {
    answer.json().as_array().map_or(0, Vec::len)
}

#[test]
fn run_approvals_and_environments_have_github_shapes() {
    let fake = FakeGitHub::start();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("Production", &["octocat"], true));
        repo.set_environment(environment("staging", &[], false));
        repo.add_run_approval(
            42,
            environment_approval("approved", "octocat", &["Production"], "Ship it!"),
        );
        repo.add_run_approval(
            42,
            environment_approval("rejected", "hubot", &["staging"], ""),
        );
    });

    // The review history: every entry has the schema's required keys, in the order given.
    let reviews = get(&api(&fake, "/actions/runs/42/approvals"));
    assert_eq!(reviews.status, 200, "{}", reviews.body);
    let reviews = reviews.json();
    let reviews = reviews.as_array().expect("an array, not a page object");
    assert_eq!(reviews.len(), 2);
    for review in reviews {
        for key in ["environments", "state", "user", "comment"] {
            assert!(review.get(key).is_some(), "{key} missing from {review}");
        }
    }
    assert_eq!(reviews[0]["state"], "approved");
    assert_eq!(reviews[0]["user"]["login"], "octocat");
    assert_eq!(reviews[0]["comment"], "Ship it!");
    assert_eq!(reviews[0]["environments"][0]["name"], "Production");
    assert!(reviews[0]["environments"][0]["id"].is_u64());
    assert_eq!(reviews[1]["state"], "rejected");
    // A run nobody reviewed has an empty history.
    assert_eq!(
        get(&api(&fake, "/actions/runs/43/approvals")).json(),
        json!([])
    );

    // An environment: names match case-insensitively; the reviewers rule carries
    // `prevent_self_review`.
    let production = get(&api(&fake, "/environments/production"));
    assert_eq!(production.status, 200, "{}", production.body);
    let production = production.json();
    for key in [
        "id",
        "node_id",
        "name",
        "url",
        "html_url",
        "created_at",
        "updated_at",
    ] {
        assert!(
            production.get(key).is_some(),
            "{key} missing from {production}"
        );
    }
    assert_eq!(
        production["url"],
        format!("{}/repos/{REPO}/environments/Production", fake.url())
    );
    let rules = production["protection_rules"].as_array().expect("rules");
    let reviewers = rules
        .iter()
        .find(|r| r["type"] == "required_reviewers")
        .expect("a required_reviewers rule");
    assert_eq!(reviewers["prevent_self_review"], true);
    assert_eq!(reviewers["reviewers"][0]["reviewer"]["login"], "octocat");
    assert!(rules
        .iter()
        .all(|r| r["id"].is_u64() && r["node_id"].is_string()));
    let staging = get(&api(&fake, "/environments/staging")).json();
    assert!(staging["protection_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .all(|r| r["type"] != "required_reviewers"));
    assert_github_error(&get(&api(&fake, "/environments/qa")), 404, "Not Found");
}

// ---------------------------------------------------------------------------------------------
// serve: the contents API and the protection-rule answers
// ---------------------------------------------------------------------------------------------

#[test]
fn contents_answer_a_branchs_file_in_wrapped_base64() {
    use base64::Engine;
    let fake = FakeGitHub::start();
    let text = "version: 1\n".repeat(20);
    fake.repo(REPO, |repo| {
        repo.set_file("main", ".github/shipgate.yml", &text);
    });
    let answer = get(&api(&fake, "/contents/.github/shipgate.yml?ref=main"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["type"], "file");
    assert_eq!(body["encoding"], "base64");
    assert_eq!(body["size"], text.len());
    let content = body["content"].as_str().expect("content");
    assert!(content.lines().all(|line| line.len() <= 60), "{content}");
    let packed: String = content.split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("UTF-8"), text);
    // The default branch without `ref`; another branch does not have it.
    assert_eq!(
        get(&api(&fake, "/contents/.github/shipgate.yml")).status,
        200
    );
    let elsewhere = get(&api(&fake, "/contents/.github/shipgate.yml?ref=feature"));
    assert_github_error(&elsewhere, 404, "Not Found");
}

#[test]
fn protection_rule_answers_are_recorded_or_refused_like_githubs() {
    let fake = FakeGitHub::start();
    let path = api(&fake, "/actions/runs/42/deployment_protection_rule");
    let answer = post(
        &path,
        json!({"environment_name": "production", "state": "approved", "comment": "ok"}),
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    let bad = post(
        &path,
        json!({"environment_name": "production", "state": "held"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let reviews = fake.repo(REPO, |repo| repo.protection_reviews.clone());
    assert_eq!(
        reviews,
        vec![
            json!({"run_id": 42, "environment_name": "production", "state": "approved", "comment": "ok"})
        ]
    );
}

#[test]
fn an_installed_app_needs_its_jwt_and_then_its_tokens() {
    let fake = FakeGitHub::start();
    fake.install_app(1, "not a key", &[7]);
    let token = send(
        "POST",
        &format!("{}/app/installations/7/access_tokens", fake.url()),
        &[],
        Some("{}"),
    );
    assert_github_error(&token, 401, "A JSON web token could not be decoded");
    let read = get(&api(&fake, "/contents/x"));
    assert_github_error(&read, 401, "Requires authentication");
    let forged = send(
        "GET",
        &api(&fake, "/contents/x"),
        &[("authorization", "Bearer ghs_notissued")],
        None,
    );
    assert_github_error(&forged, 401, "Bad credentials");
}
