//! The HTTP probe edge (`shipgate::probe`) against a real local app, through the library; then
//! its rounds fed to the pure health gate.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use shipgate::config::{Endpoint, Fallback, HealthPolicy};
use shipgate::decision::{Evidence, Status};
use shipgate::facts::health::Expected;
use shipgate::gate::health::{evaluate, Outcome, Round, Tls, Via};
use shipgate::probe::Prober;

use crate::support::health_app::{Behaviour, HealthApp, TestCa};

/// Nothing deployed: no placeholder has a value.
const NOTHING: Expected = Expected {
    sha: None,
    version: None,
    image: None,
};

const SECURITY_HEADERS: [&str; 2] = ["strict-transport-security", "x-content-type-options"];

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

fn prober() -> Prober {
    Prober::new(Duration::from_secs(5)).expect("the prober builds")
}

/// The run's clock reading for the gate: the wall clock, which the test certificates are minted
/// on.
fn wall_clock() -> DateTime<Utc> {
    DateTime::from(std::time::SystemTime::now())
}

fn endpoint(path: &str) -> Endpoint {
    Endpoint {
        path: path.to_string(),
        status: vec![200],
        json: BTreeMap::new(),
        fallback: None,
        prometheus: false,
    }
}

fn health_endpoint() -> Endpoint {
    Endpoint {
        json: BTreeMap::from([("/status".to_string(), json!("healthy"))]),
        ..endpoint("/health")
    }
}

fn metrics_endpoint() -> Endpoint {
    Endpoint {
        prometheus: true,
        ..endpoint("/metrics")
    }
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn failure(reason: &str) -> Outcome {
    Outcome::Failure {
        reason: reason.to_string(),
    }
}

fn policy(endpoints: Vec<Endpoint>) -> HealthPolicy {
    HealthPolicy {
        initial_delay: Duration::from_secs(10),
        interval: Duration::from_secs(10),
        deadline: Duration::from_secs(300),
        consecutive_successes: 3,
        failure_limit: 10,
        consecutive_error_limit: 4,
        request_timeout: Duration::from_secs(5),
        p95_latency: Some(Duration::from_secs(3)),
        machines: false,
        tls_min_days: None,
        headers: headers(&SECURITY_HEADERS),
        endpoints,
    }
}

const METRICS: &str = "# HELP http_requests_total Requests.\n\
                       # TYPE http_requests_total counter\n\
                       http_requests_total{method=\"get\",code=\"200\"} 1027 1395066363000\n\
                       process_start_time_seconds 1.7e9\n\
                       up NaN\n";

#[test]
fn a_healthy_json_answer_passes_with_its_latency() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let started = Instant::now();
    let sample = block_on(prober().probe(
        &app.base(),
        &health_endpoint(),
        &headers(&SECURITY_HEADERS),
        &NOTHING,
    ));
    let call = started.elapsed();
    assert_eq!(sample.endpoint, "/health");
    assert_eq!(sample.via, Via::Endpoint);
    assert_eq!(sample.outcome, Outcome::Success);
    let latency = sample.latency.expect("an answered sample has a latency");
    // The request's own time: more than nothing, and no more than the whole call.
    assert!(
        latency > Duration::ZERO && latency <= call,
        "{latency:?} in a call of {call:?}"
    );
    assert_eq!(app.count("/health"), 1);
}

#[test]
fn a_degraded_status_fails_naming_the_pointer() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "degraded"})),
    );
    let sample = block_on(prober().probe(&app.base(), &health_endpoint(), &[], &NOTHING));
    assert_eq!(
        sample.outcome,
        failure(r#"answered {"status":"degraded"} (expected /status = "healthy")"#)
    );
    assert!(sample.latency.is_some(), "a failure was answered, so timed");
}

#[test]
fn a_body_that_is_not_json_fails_with_a_short_excerpt() {
    let app = HealthApp::start();
    let page = format!("<html>\n<body>{}</body></html>", "x".repeat(500));
    app.set("/health", Behaviour::Prometheus(page));
    let sample = block_on(prober().probe(&app.base(), &health_endpoint(), &[], &NOTHING));
    let Outcome::Failure { reason } = sample.outcome else {
        panic!("expected a failure, got {:?}", sample.outcome);
    };
    assert!(reason.starts_with("answered <html> <body>xxx"), "{reason}");
    assert!(
        reason.ends_with("… (not JSON; expected /status = \"healthy\")"),
        "{reason}"
    );
    assert!(reason.chars().count() < 200, "{reason}");
}

#[test]
fn a_503_fails() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Status(503));
    let sample = block_on(prober().probe(&app.base(), &health_endpoint(), &[], &NOTHING));
    assert_eq!(sample.outcome, failure("answered 503"));
}

/// `/health` expecting `{"status":"healthy"}`, with the fallback `/` accepting 200 or 302 when
/// `/health` answers one of `when`.
fn with_fallback(when: &[u16]) -> Endpoint {
    Endpoint {
        fallback: Some(Fallback {
            path: "/".to_string(),
            status: vec![200, 302],
            when: when.to_vec(),
        }),
        ..health_endpoint()
    }
}

#[test]
fn a_redirect_is_seen_not_followed_and_a_fallback_can_accept_it() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Status(404));
    app.set("/", Behaviour::Redirect(302, "/login".to_string()));
    app.set("/login", Behaviour::Status(200));
    let prober = prober();
    let sample = block_on(prober.probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
    assert_eq!(sample.endpoint, "/health");
    assert_eq!(sample.via, Via::Fallback { status: 404 });
    assert_eq!(sample.outcome, Outcome::Success);
    assert!(sample.latency.is_some());

    // Without the fallback, `/` answering 302 is a 302.
    let root = block_on(prober.probe(&app.base(), &endpoint("/"), &[], &NOTHING));
    assert_eq!(root.outcome, failure("answered 302"));
    assert_eq!(app.count("/login"), 0, "redirects are not followed");

    // When the fallback answers badly, the sample is the fallback's failure.
    app.set("/", Behaviour::Status(500));
    let sample = block_on(prober.probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
    assert_eq!(sample.via, Via::Fallback { status: 404 });
    assert_eq!(sample.outcome, failure("answered 500"));
}

#[test]
fn an_endpoint_that_does_not_exist_is_answered_by_its_fallback() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Status(404));
    app.set("/", Behaviour::Status(200));
    let sample = block_on(prober().probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
    assert_eq!(sample.via, Via::Fallback { status: 404 });
    assert_eq!(sample.outcome, Outcome::Success);
    assert_eq!((app.count("/health"), app.count("/")), (1, 1));
}

#[test]
fn a_sick_endpoint_is_never_rescued_by_its_fallback() {
    let app = HealthApp::start();
    app.set("/", Behaviour::Redirect(302, "/login".to_string()));
    let page = "<html>oops</html>".to_string();
    let cases = [
        (Behaviour::Status(503), "answered 503".to_string()),
        (
            Behaviour::Json(200, json!({"status": "degraded"})),
            r#"answered {"status":"degraded"} (expected /status = "healthy")"#.to_string(),
        ),
        (
            Behaviour::Prometheus(page.clone()),
            format!(r#"answered {page} (not JSON; expected /status = "healthy")"#),
        ),
    ];
    let prober = prober();
    for (behaviour, reason) in cases {
        app.set("/health", behaviour.clone());
        let sample =
            block_on(prober.probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
        assert_eq!(sample.via, Via::Endpoint, "{behaviour:?}");
        assert_eq!(sample.outcome, failure(&reason), "{behaviour:?}");
    }
    assert_eq!(app.count("/"), 0, "the fallback is never probed");
}

#[test]
fn an_endpoint_that_times_out_is_an_error_whatever_its_fallback_says() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Slow(Duration::from_secs(3), Box::new(Behaviour::Healthy)),
    );
    app.set("/", Behaviour::Status(200));
    let prober = Prober::new(Duration::from_millis(300)).expect("the prober builds");
    let sample = block_on(prober.probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
    assert_eq!(sample.via, Via::Endpoint);
    assert_eq!(
        sample.outcome,
        Outcome::Error {
            reason: "timed out after 300ms".to_string()
        }
    );
    assert_eq!(app.count("/"), 0, "the fallback is never probed");
}

#[test]
fn the_fallback_answers_only_for_the_statuses_in_when() {
    let app = HealthApp::start();
    app.set("/", Behaviour::Status(200));
    let prober = prober();
    let only_404 = with_fallback(&[404]);
    app.set("/health", Behaviour::Status(405));
    let sample = block_on(prober.probe(&app.base(), &only_404, &[], &NOTHING));
    assert_eq!(sample.via, Via::Endpoint);
    assert_eq!(sample.outcome, failure("answered 405"));
    assert_eq!(app.count("/"), 0);

    app.set("/health", Behaviour::Status(404));
    let sample = block_on(prober.probe(&app.base(), &only_404, &[], &NOTHING));
    assert_eq!(sample.via, Via::Fallback { status: 404 });
    assert_eq!(sample.outcome, Outcome::Success);

    // The default list takes 405 too.
    app.set("/health", Behaviour::Status(405));
    let sample = block_on(prober.probe(&app.base(), &with_fallback(&[404, 405]), &[], &NOTHING));
    assert_eq!(sample.via, Via::Fallback { status: 405 });
    assert_eq!(sample.outcome, Outcome::Success);
}

const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
const NEW_IMAGE: &str = "registry.fly.io/hotdash-production:deployment-NEW";

/// `/version` expecting the deployed commit, release and image.
fn version_endpoint() -> Endpoint {
    Endpoint {
        json: BTreeMap::from([
            ("/commit".to_string(), json!("${sha}")),
            ("/release".to_string(), json!("v${version}")),
            ("/image".to_string(), json!("${image}")),
        ]),
        ..endpoint("/version")
    }
}

fn deployed() -> Expected {
    Expected {
        sha: Some(SHA.to_string()),
        version: Some(42),
        image: Some(NEW_IMAGE.to_string()),
    }
}

#[test]
fn the_new_release_answering_passes_and_the_old_one_fails() {
    let app = HealthApp::start();
    app.set(
        "/version",
        Behaviour::Json(
            200,
            json!({"commit": SHA, "release": "v42", "image": NEW_IMAGE}),
        ),
    );
    let prober = prober();
    let sample = block_on(prober.probe(&app.base(), &version_endpoint(), &[], &deployed()));
    assert_eq!(sample.outcome, Outcome::Success);

    // The old release still answers (a stuck machine, a cached edge): the filled value is named.
    let old = json!({"commit": "0ld7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c", "release": "v41"});
    app.set("/version", Behaviour::Json(200, old.clone()));
    let sample = block_on(prober.probe(&app.base(), &version_endpoint(), &[], &deployed()));
    assert_eq!(
        sample.outcome,
        failure(&format!(r#"answered {old} (expected /commit = "{SHA}")"#))
    );
}

#[test]
fn a_placeholder_the_run_does_not_know_fails_saying_so() {
    let app = HealthApp::start();
    app.set(
        "/version",
        Behaviour::Json(
            200,
            json!({"commit": SHA, "release": "v42", "image": NEW_IMAGE}),
        ),
    );
    let prober = prober();
    // `shipgate health` alone: nothing deployed, nothing known.
    let sample = block_on(prober.probe(&app.base(), &version_endpoint(), &[], &NOTHING));
    assert_eq!(
        sample.outcome,
        failure(r#"cannot check /commit = "${sha}": the deployed commit is not known to this run"#)
    );
    // fly did not report the release it made.
    let no_version = Expected {
        version: None,
        ..deployed()
    };
    let sample = block_on(prober.probe(&app.base(), &version_endpoint(), &[], &no_version));
    assert_eq!(
        sample.outcome,
        failure(
            r#"cannot check /release = "v${version}": the deployed Fly release version is not known to this run"#
        )
    );
}

#[test]
fn an_answer_slower_than_the_request_timeout_is_an_error() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Slow(Duration::from_secs(3), Box::new(Behaviour::Healthy)),
    );
    let prober = Prober::new(Duration::from_millis(300)).expect("the prober builds");
    let sample = block_on(prober.probe(&app.base(), &health_endpoint(), &[], &NOTHING));
    assert_eq!(
        sample.outcome,
        Outcome::Error {
            reason: "timed out after 300ms".to_string()
        }
    );
    assert_eq!(sample.latency, None);
}

#[test]
fn a_refused_connection_is_an_error() {
    let base = url::Url::parse(&HealthApp::refused_url()).expect("a URL");
    let sample = block_on(prober().probe(&base, &health_endpoint(), &[], &NOTHING));
    assert_eq!(
        sample.outcome,
        Outcome::Error {
            reason: "connection refused".to_string()
        }
    );
    assert_eq!(sample.latency, None);
}

#[test]
fn a_missing_required_header_fails_and_names_compare_case_insensitively() {
    let app = HealthApp::start();
    app.set("/bare", Behaviour::Json(200, json!({"status": "healthy"})));
    app.set("/health", Behaviour::Healthy);
    let prober = prober();
    let bare = block_on(prober.probe(
        &app.base(),
        &endpoint("/bare"),
        &headers(&SECURITY_HEADERS),
        &NOTHING,
    ));
    assert_eq!(
        bare.outcome,
        failure("is missing header strict-transport-security")
    );
    let shouted = block_on(prober.probe(
        &app.base(),
        &health_endpoint(),
        &headers(&["Strict-Transport-Security", "X-Content-Type-Options"]),
        &NOTHING,
    ));
    assert_eq!(shouted.outcome, Outcome::Success);
}

#[test]
fn prometheus_text_passes_and_anything_else_fails() {
    let app = HealthApp::start();
    app.set("/metrics", Behaviour::Prometheus(METRICS.to_string()));
    app.set(
        "/broken",
        Behaviour::Prometheus("ok 1\nrequests{path=/} 3\n".to_string()),
    );
    app.set("/json", Behaviour::Json(200, json!({"up": 1})));
    let prober = prober();
    let good = block_on(prober.probe(&app.base(), &metrics_endpoint(), &[], &NOTHING));
    assert_eq!(good.outcome, Outcome::Success);

    let broken = Endpoint {
        path: "/broken".to_string(),
        ..metrics_endpoint()
    };
    let bad = block_on(prober.probe(&app.base(), &broken, &[], &NOTHING));
    assert_eq!(
        bad.outcome,
        failure(
            "answered a body that is not Prometheus text (line 2: label path has no quoted value)"
        )
    );
    let json = Endpoint {
        path: "/json".to_string(),
        ..metrics_endpoint()
    };
    let bad = block_on(prober.probe(&app.base(), &json, &[], &NOTHING));
    assert_eq!(
        bad.outcome,
        failure("answered a body that is not Prometheus text (line 1: bad metric name \"\")")
    );
}

#[test]
fn a_base_url_with_a_path_prefix_keeps_it() {
    let app = HealthApp::start();
    app.set("/api/health", Behaviour::Healthy);
    let prober = prober();
    for base in [format!("{}/api", app.url()), format!("{}/api/", app.url())] {
        let base = url::Url::parse(&base).expect("a URL");
        let sample = block_on(prober.probe(&base, &health_endpoint(), &[], &NOTHING));
        assert_eq!(sample.outcome, Outcome::Success, "{base}");
    }
    assert_eq!(app.count("/api/health"), 2);
    assert_eq!(app.count("/health"), 0);
    assert_eq!(app.count("/api//health"), 0);
}

#[test]
fn a_round_probes_every_endpoint_in_order() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    app.set("/metrics", Behaviour::Status(503));
    let policy = policy(vec![health_endpoint(), metrics_endpoint()]);
    let round = block_on(prober().round(&app.base(), &policy, &NOTHING, Duration::from_secs(10)));
    assert_eq!(round.offset, Duration::from_secs(10));
    assert_eq!(round.machines, None);
    let got: Vec<(&str, &Outcome)> = round
        .samples
        .iter()
        .map(|s| (s.endpoint.as_str(), &s.outcome))
        .collect();
    // `/metrics` answered 503 before its headers were looked at.
    assert_eq!(
        got,
        vec![
            ("/health", &Outcome::Success),
            ("/metrics", &failure("answered 503"))
        ]
    );
}

/// `count` rounds, 10s apart from 10s, as the gate's edge would take them.
fn rounds(app: &HealthApp, policy: &HealthPolicy, count: u64) -> Vec<Round> {
    let prober = prober();
    block_on(async {
        let mut rounds = Vec::new();
        for n in 0..count {
            let offset = policy.initial_delay + policy.interval * n as u32;
            rounds.push(prober.round(&app.base(), policy, &NOTHING, offset).await);
        }
        rounds
    })
}

#[test]
fn probe_rounds_feed_the_health_gate() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    app.set(
        "/flappy",
        Behaviour::Flapping(vec![
            Behaviour::Healthy,
            Behaviour::Healthy,
            Behaviour::Status(503),
        ]),
    );

    // Healthy: pending after 2 rounds, pass after 3.
    let healthy = policy(vec![health_endpoint()]);
    let taken = rounds(&app, &healthy, 3);
    assert_eq!(
        evaluate(&healthy, &taken[..2], false, wall_clock()).status,
        Status::Pending
    );
    let verdict = evaluate(&healthy, &taken, false, wall_clock());
    assert_eq!(verdict.status, Status::Pass, "{}", verdict.summary);
    assert!(
        verdict
            .summary
            .starts_with("3 rounds in a row healthy (p95 "),
        "{}",
        verdict.summary
    );

    // Flapping (healthy, healthy, 503, ...): never 3 in a row, so the deadline fails it.
    let flapping = policy(vec![
        health_endpoint(),
        Endpoint {
            path: "/flappy".to_string(),
            ..health_endpoint()
        },
    ]);
    let taken = rounds(&app, &flapping, 6);
    assert_eq!(app.count("/flappy"), 6);
    assert_eq!(
        evaluate(&flapping, &taken, false, wall_clock()).status,
        Status::Pending
    );
    let verdict = evaluate(&flapping, &taken, true, wall_clock());
    assert_eq!(verdict.status, Status::Fail, "{}", verdict.summary);
    assert_eq!(
        verdict.summary,
        "no 3 rounds in a row healthy by the 5m deadline (longest 2; 2 failed, 0 could not measure)"
    );
}

mod command {
    use crate::common::*;
    use crate::support::health_app::{Behaviour, HealthApp};

    #[test]
    fn health_on_a_url_passes_after_three_good_rounds() {
        let app = HealthApp::start();
        app.set("/health", Behaviour::Healthy);
        let out = run(shipgate().args([
            "health",
            "--url",
            &format!("{}/health", app.url()),
            "--format",
            "json",
        ]));
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(decision["command"], "health");
        assert_eq!(decision["verdicts"][0]["gate"], "health");
        assert_eq!(decision["verdicts"][0]["status"], "pass");
        assert_eq!(app.count("/health"), 3);
        assert!(
            out.stderr.contains("shipgate: health round 3: /health ok"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn health_on_a_failing_url_fails_at_once() {
        let app = HealthApp::start();
        app.set("/health", Behaviour::Status(503));
        let out = run(shipgate().args(["health", "--url", &format!("{}/health", app.url())]));
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("/health answered 503"),
            "{}",
            out.stdout
        );
    }

    /// A config whose `production` probes `app`: `/health` with the fallback `/`, rounds a
    /// second apart, two in a row to pass, any failed round fails.
    fn fallback_config(app: &HealthApp) -> (tempfile::TempDir, std::path::PathBuf) {
        temp_config(&format!(
            "version: 1
environments:
  production:
    app: hotdash-production
    url: {url}
    windows: false
    health:
      initial_delay: 0s
      interval: 1s
      consecutive_successes: 2
      failure_limit: 0
      deadline: 10s
      machines: false
      endpoints:
        - path: /health
          json: {{ \"/status\": \"healthy\" }}
          fallback: {{ path: /, status: [200, 302] }}
",
            url = app.url()
        ))
    }

    #[test]
    fn the_round_log_says_when_the_fallback_answered() {
        let app = HealthApp::start();
        app.set("/", Behaviour::Redirect(302, "/login".to_string()));
        let (_dir, path) = fallback_config(&app);
        let out = run(with_config(&path).args(["health", "--environment", "production"]));
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let rounds: Vec<&str> = out
            .stderr
            .lines()
            .filter(|line| line.contains("health round"))
            .collect();
        assert_eq!(rounds.len(), 2, "{}", out.stderr);
        for line in rounds {
            assert!(line.contains(": /health 404 -> / ok "), "{line}");
            assert!(!line.contains("/health ok"), "{line}");
        }
    }

    #[test]
    fn a_degraded_endpoint_fails_even_when_its_fallback_answers() {
        let app = HealthApp::start();
        app.set("/", Behaviour::Redirect(302, "/login".to_string()));
        app.set(
            "/health",
            Behaviour::Json(200, serde_json::json!({"status": "degraded"})),
        );
        let (_dir, path) = fallback_config(&app);
        let out = run(with_config(&path).args(["health", "--environment", "production"]));
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout
                .contains(r#"/health answered {"status":"degraded"}"#),
            "{}",
            out.stdout
        );
        assert_eq!(app.count("/"), 0);
    }

    #[test]
    fn health_alone_cannot_check_the_deployed_commit_and_says_so() {
        let app = HealthApp::start();
        app.set(
            "/version",
            Behaviour::Json(200, serde_json::json!({"commit": "3e7a91c"})),
        );
        let (_dir, path) = temp_config(&format!(
            "version: 1
environments:
  production:
    app: hotdash-production
    url: {url}
    health:
      initial_delay: 0s
      machines: false
      endpoints:
        - path: /version
          json: {{ \"/commit\": \"${{sha}}\" }}
",
            url = app.url()
        ));
        let out = run(with_config(&path).args(["health", "--environment", "production"]));
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(
                r#"/version cannot check /commit = "${sha}": the deployed commit is not known to this run"#
            ),
            "{}",
            out.stdout
        );
    }

    /// A config whose `production` counts machines and probes `app`'s `/health`, starting
    /// after 1 s.
    fn machines_config(app: &HealthApp) -> (tempfile::TempDir, std::path::PathBuf) {
        temp_config(&format!(
            "version: 1
environments:
  production:
    app: hotdash-production
    url: {url}
    windows: false
    health:
      initial_delay: 1s
      interval: 1s
      consecutive_successes: 1
      deadline: 10s
      machines: true
      endpoints:
        - path: /health
",
            url = app.url()
        ))
    }

    #[test]
    fn counting_machines_without_flyctl_or_a_token_is_refused_at_once() {
        let app = HealthApp::start();
        app.set("/health", Behaviour::Healthy);
        let (dir, path) = machines_config(&app);
        // No flyctl: an empty PATH, no SHIPGATE_FLY.
        let out = run(with_config(&path)
            .env("PATH", dir.path())
            .env("FLY_API_TOKEN", "FlyV1 fm2_test")
            .args(["health", "--environment", "production"]));
        assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("`health.machines: true`")
                && out.stderr.contains("neither `flyctl` nor `fly` is on PATH"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: install flyctl"),
            "{}",
            out.stderr
        );
        // flyctl, but no token.
        let out = run(with_config(&path).env("SHIPGATE_FLY", fake_flyctl()).args([
            "health",
            "--environment",
            "production",
        ]));
        assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("FLY_API_TOKEN is not set"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: set FLY_API_TOKEN"),
            "{}",
            out.stderr
        );
        // Refused before any probe.
        assert_eq!(app.count("/health"), 0);
    }

    #[test]
    fn the_initial_delay_is_told_before_the_first_round() {
        let app = HealthApp::start();
        app.set("/health", Behaviour::Healthy);
        let (dir, path) = machines_config(&app);
        let config = std::fs::read_to_string(&path).expect("config");
        std::fs::write(&path, config.replace("machines: true", "machines: false")).expect("write");
        let out = run(with_config(&path).args(["health", "--environment", "production"]));
        drop(dir);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        let waiting = lines
            .iter()
            .position(|l| l.contains("health: first round in 1s (initial_delay)"))
            .unwrap_or_else(|| panic!("no initial_delay line:\n{}", out.stderr));
        let first = lines
            .iter()
            .position(|l| l.contains("health round 1:"))
            .unwrap_or_else(|| panic!("no round:\n{}", out.stderr));
        assert!(waiting < first, "{}", out.stderr);
    }

    #[test]
    fn health_needs_something_to_probe() {
        let out = run(shipgate().args(["health"]));
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("--environment"), "{}", out.stderr);
        let out = run(shipgate().args(["health", "--url", "ftp://example.com"]));
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("write an http(s) URL"),
            "{}",
            out.stderr
        );
    }
}

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

/// The policy of the TLS tests: `/health` alone, `tls_min_days: 30`, and any failed round or
/// error ends the gate.
fn tls_policy() -> HealthPolicy {
    HealthPolicy {
        tls_min_days: Some(30),
        failure_limit: 0,
        consecutive_error_limit: 0,
        headers: Vec::new(),
        ..policy(vec![health_endpoint()])
    }
}

fn notes(verdict: &shipgate::decision::Verdict) -> Vec<&str> {
    verdict
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Note { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_certificate_with_10_days_left_fails_tls_min_days_30() {
    let ca = TestCa::new("shipgate test CA");
    // An hour over 10 days, so that the seconds the test takes do not make it 9.
    let app = HealthApp::start_https(ca.server_certificate(DAY * 10 + HOUR));
    app.set("/health", Behaviour::Healthy);
    assert!(app.url().starts_with("https://127.0.0.1:"), "{}", app.url());
    let prober =
        Prober::with_extra_roots(Duration::from_secs(5), &[ca.der()]).expect("the prober builds");
    let policy = tls_policy();
    let round = block_on(prober.round(&app.base(), &policy, &NOTHING, Duration::from_secs(10)));
    assert_eq!(
        round.samples[0].outcome,
        Outcome::Success,
        "the endpoint itself is healthy"
    );
    let Tls::Seen(certificate) = &round.tls else {
        panic!("expected the certificate to be seen, got {:?}", round.tls);
    };
    assert_eq!(certificate.host, "127.0.0.1");
    let now = wall_clock();
    let left = certificate.not_after - now;
    assert!(
        left > chrono::Duration::days(10) && left <= chrono::Duration::hours(10 * 24 + 1),
        "notAfter read as {} ({left} from now)",
        certificate.not_after
    );
    let date = certificate.not_after.format("%Y-%m-%d").to_string();
    let verdict = evaluate(&policy, &[round], false, now);
    assert_eq!(
        (verdict.status, verdict.summary.as_str()),
        (
            Status::Fail,
            format!(
                "certificate of 127.0.0.1 expires in 10 days ({date}; tls_min_days 30) in 1 of 1 rounds (failure_limit 0)"
            )
            .as_str()
        )
    );
}

#[test]
fn a_certificate_with_90_days_left_passes_and_is_noted() {
    let ca = TestCa::new("shipgate test CA");
    let app = HealthApp::start_https(ca.server_certificate(DAY * 90 + HOUR));
    app.set("/health", Behaviour::Healthy);
    let prober =
        Prober::with_extra_roots(Duration::from_secs(5), &[ca.der()]).expect("the prober builds");
    let policy = tls_policy();
    let taken: Vec<Round> = (0..3u32)
        .map(|n| {
            block_on(prober.round(
                &app.base(),
                &policy,
                &NOTHING,
                policy.initial_delay + policy.interval * n,
            ))
        })
        .collect();
    let verdict = evaluate(&policy, &taken, false, wall_clock());
    assert_eq!(verdict.status, Status::Pass, "{}", verdict.summary);
    let noted: Vec<&str> = notes(&verdict)
        .into_iter()
        .filter(|n| n.starts_with("certificate of 127.0.0.1 valid until "))
        .collect();
    assert_eq!(noted.len(), 1, "{:#?}", notes(&verdict));
    assert!(
        noted[0].ends_with(" UTC (90 days left; tls_min_days 30)"),
        "{}",
        noted[0]
    );
    assert_eq!(
        app.count("/health"),
        3,
        "one connection, one handshake, per probe"
    );
}

#[test]
fn an_untrusted_certificate_could_not_be_measured_never_passes() {
    let ca = TestCa::new("shipgate test CA");
    let app = HealthApp::start_https(ca.server_certificate(DAY * 90));
    app.set("/health", Behaviour::Healthy);
    let policy = tls_policy();
    let other_ca = TestCa::new("another test CA");
    let trusts_another =
        Prober::with_extra_roots(Duration::from_secs(5), &[other_ca.der()]).expect("the prober");
    for prober in [prober(), trusts_another] {
        let round = block_on(prober.round(&app.base(), &policy, &NOTHING, Duration::from_secs(10)));
        let Outcome::Error { reason } = &round.samples[0].outcome else {
            panic!("expected an error, got {:?}", round.samples[0].outcome);
        };
        assert!(
            reason.starts_with("TLS handshake failed: invalid peer certificate: "),
            "{reason}"
        );
        assert_eq!(round.tls, Tls::Unseen);
        let verdict = evaluate(&policy, &[round], false, wall_clock());
        assert_eq!(verdict.status, Status::Fail, "{}", verdict.summary);
        assert!(
            verdict.summary.starts_with(
                "could not measure in 1 rounds in a row (consecutive_error_limit 0): /health TLS handshake failed: "
            ),
            "{}",
            verdict.summary
        );
        assert!(
            notes(&verdict).contains(&"certificate of `url` not checked: no expiry was read"),
            "{:#?}",
            notes(&verdict)
        );
    }
    assert_eq!(app.count("/health"), 0, "no request got past the handshake");
}

#[test]
fn tls_min_days_does_not_apply_to_plain_http() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let policy = HealthPolicy {
        consecutive_successes: 1,
        ..tls_policy()
    };
    let round = block_on(prober().round(&app.base(), &policy, &NOTHING, Duration::from_secs(10)));
    assert_eq!(round.tls, Tls::Plain);
    let verdict = evaluate(&policy, &[round], false, wall_clock());
    assert_eq!(verdict.status, Status::Pass, "{}", verdict.summary);
    assert!(notes(&verdict)
        .contains(&"tls_min_days does not apply: `url` is plain http, with no certificate"));
}

#[test]
fn the_expiry_of_a_der_certificate_is_read() {
    let ca = TestCa::new("shipgate test CA");
    let not_after = shipgate::probe::not_after(ca.der()).expect("the CA certificate parses");
    let left = not_after - wall_clock();
    assert!(
        left > chrono::Duration::days(3640) && left <= chrono::Duration::days(3651),
        "{not_after}"
    );
    assert!(shipgate::probe::not_after(b"not a certificate").is_err());
}
