//! The metrics edge against real components: Prometheus and VictoriaMetrics scraping a real app
//! (`support::metrics_app`), the app's endpoint scraped directly, and `fly logs` through the fake
//! flyctl. Servers are polled with bounded retries; the assertions are on values.

use std::time::{Duration, Instant};

use serde_json::json;
use shipgate::config::{
    Condition, LabelMatcher, MatchOp, Metric, PrometheusSource, Rule, ScrapeQuery, ScrapeSource,
    Selector, Threshold, Unit, WatchPolicy,
};
use shipgate::facts::watch::Reading;
use shipgate::fly::Fly;
use shipgate::metrics::{check_query, CheckError, Meter, MetricsError, Target};
use shipgate::secret::Secret;

use crate::support::metrics_app::{MetricsApp, Mode};
use crate::support::metrics_server::{Kind, MetricsServer};

const JOB: &str = "shipgate-test-app";

fn policy(interval: Duration, rules: Vec<Rule>) -> WatchPolicy {
    WatchPolicy {
        duration: interval * 10,
        emergency_duration: None,
        interval,
        failure_limit: 0,
        inconclusive_limit: None,
        consecutive_error_limit: 0,
        prometheus: PrometheusSource::default(),
        scrape: ScrapeSource::default(),
        rules,
    }
}

fn rule(name: &str, metric: Metric, max: f64) -> Rule {
    Rule {
        name: name.to_owned(),
        metric,
        condition: Condition {
            max: Some(Threshold {
                value: max,
                unit: Unit::Ratio,
                text: format!("{max}"),
            }),
            min: None,
        },
    }
}

fn target(app: &str, interval: Duration) -> Target<'static> {
    Target {
        app: Box::leak(app.to_owned().into_boxed_str()),
        version: Some(7),
        base_url: None,
        interval,
        fly: None,
        prometheus_url: None,
        prometheus_auth: None,
        machines: Vec::new(),
    }
}

const ERROR_RATIO: &str = "sum(rate(http_requests_total{job=\"${app}\",status=~\"5..\"}[${interval}])) / sum(rate(http_requests_total{job=\"${app}\"}[${interval}]))";

/// Measures until `accept` takes the one reading, at most `tries` times, half a second apart;
/// returns every reading seen.
async fn poll_until(
    meter: &mut Meter,
    tries: usize,
    accept: impl Fn(&Reading) -> bool,
) -> Vec<Reading> {
    let mut seen = Vec::new();
    for _ in 0..tries {
        let reading = meter.measure().await.remove(0);
        let done = accept(&reading);
        seen.push(reading);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    seen
}

fn value(reading: &Reading) -> Option<f64> {
    match reading {
        Reading::Value { value } => Some(*value),
        _ => None,
    }
}

async fn error_ratio_rises_when_the_app_fails(kind: Kind) {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(kind, app.address(), JOB);
    let interval = Duration::from_secs(5);
    let watch = policy(
        interval,
        vec![rule(
            "error_rate",
            Metric::Prometheus {
                query: ERROR_RATIO.to_owned(),
            },
            0.01,
        )],
    );
    let mut meter = Meter::new(
        &watch,
        Target {
            prometheus_url: Some(server.url()),
            // Neither server checks it; it must not upset them either.
            prometheus_auth: Secret::new("Bearer test-token-not-checked"),
            ..target(JOB, interval)
        },
    )
    .expect("a meter");
    meter.baseline().await;

    // Healthy: once the server has two scrapes in the window, the ratio is 0.
    let healthy = poll_until(&mut meter, 60, |r| value(r).is_some()).await;
    let last = healthy.last().expect("a reading");
    assert_eq!(
        value(last),
        Some(0.0),
        "{kind:?}: healthy readings {healthy:?}\n{}",
        server.log()
    );

    // Failing: half the requests answer 500; once the window holds failing traffic only, 0.5.
    app.set_mode(Mode::Failing);
    let failing = poll_until(&mut meter, 60, |r| {
        value(r).is_some_and(|v| (v - 0.5).abs() < 0.01)
    })
    .await;
    let last = value(failing.last().expect("a reading"));
    assert!(
        last.is_some_and(|v| (v - 0.5).abs() < 0.01),
        "{kind:?}: failing readings {failing:?}"
    );
    // On the way up, every value was a ratio between the two.
    for reading in &failing {
        if let Some(v) = value(reading) {
            assert!((0.0..=0.5 + 1e-9).contains(&v), "{kind:?}: {failing:?}");
        }
    }
}

async fn bad_and_empty_queries(kind: Kind) {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(kind, app.address(), JOB);
    let interval = Duration::from_secs(5);
    let broken = "sum(rate(http_requests_total[5s])";
    let watch = policy(
        interval,
        vec![
            rule(
                "broken",
                Metric::Prometheus {
                    query: broken.to_owned(),
                },
                0.01,
            ),
            rule(
                "nothing",
                Metric::Prometheus {
                    query: "http_requests_total{job=\"no-such-job\"}".to_owned(),
                },
                0.01,
            ),
            rule(
                "by_version",
                Metric::Prometheus {
                    query: "vector(${version}) / 100".to_owned(),
                },
                0.5,
            ),
        ],
    );
    let mut meter = Meter::new(
        &watch,
        Target {
            prometheus_url: Some(server.url()),
            ..target(JOB, interval)
        },
    )
    .expect("a meter");
    let readings = meter.measure().await;
    assert_eq!(readings.len(), 3);

    // Each server's own words for the unclosed parenthesis (VictoriaMetrics' message also holds
    // the evaluation time, so the two answers are compared by what they say of the query).
    let says = match kind {
        Kind::Prometheus => "parse error: unclosed left parenthesis",
        Kind::VictoriaMetrics => "unexpected token",
    };
    let rejected = check_query(&server.url(), None, broken).await;
    let Err(CheckError::Rejected(message)) = &rejected else {
        panic!("{kind:?}: check_query accepted a broken query: {rejected:?}");
    };
    assert!(message.contains(says), "{kind:?}: {message}");
    match &readings[0] {
        Reading::Error { why } => assert!(
            why.starts_with("the server rejected the query: ") && why.contains(says),
            "{kind:?}: {why}"
        ),
        other => panic!("{kind:?}: a broken query read {other:?}"),
    }
    assert!(
        matches!(&readings[1], Reading::NoData { why } if why.contains("no samples")),
        "{kind:?}: {:?}",
        readings[1]
    );
    assert_eq!(readings[2], Reading::Value { value: 0.07 }, "{kind:?}");

    assert_eq!(
        check_query(&server.url(), None, "sum(rate(http_requests_total[1m]))").await,
        Ok(()),
        "{kind:?}"
    );
    // A server that is not there is no verdict on the query.
    let gone = url::Url::parse("http://127.0.0.1:9").expect("url");
    assert!(matches!(
        check_query(&gone, None, "up").await,
        Err(CheckError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_error_ratio_rises_when_the_app_fails() {
    error_ratio_rises_when_the_app_fails(Kind::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_error_ratio_rises_when_the_app_fails() {
    error_ratio_rises_when_the_app_fails(Kind::VictoriaMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_rejects_a_bad_query_and_reads_an_empty_vector_as_no_data() {
    bad_and_empty_queries(Kind::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_rejects_a_bad_query_and_reads_an_empty_vector_as_no_data() {
    bad_and_empty_queries(Kind::VictoriaMetrics).await;
}

#[test]
fn a_rule_without_its_source_names_what_to_set() {
    let interval = Duration::from_secs(5);
    let watch = policy(
        interval,
        vec![rule(
            "error_rate",
            Metric::Prometheus {
                query: "up".to_owned(),
            },
            0.01,
        )],
    );
    let error = Meter::new(&watch, target(JOB, interval)).expect_err("no URL");
    assert!(matches!(error, MetricsError::PrometheusUrlUnset { .. }));
    assert!(
        error
            .to_string()
            .contains("SHIPGATE_PROMETHEUS_URL is not set"),
        "{error}"
    );
    let scrape = policy(
        interval,
        vec![rule(
            "rps",
            Metric::Scrape(ScrapeQuery::Gauge {
                gauge: selector("up", &[]),
            }),
            1.0,
        )],
    );
    let error = Meter::new(&scrape, target(JOB, interval)).expect_err("no base URL");
    assert!(error.to_string().contains("no url to scrape"), "{error}");
    let logs = policy(
        interval,
        vec![rule(
            "panics",
            Metric::Logs {
                pattern: "panic".to_owned(),
            },
            0.0,
        )],
    );
    let error = Meter::new(&logs, target(JOB, interval)).expect_err("no fly");
    assert!(error.to_string().contains("no fly binary"), "{error}");
}

fn selector(name: &str, labels: &[(&str, MatchOp, &str)]) -> Selector {
    Selector {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|(label, op, value)| LabelMatcher {
                label: (*label).to_owned(),
                op: *op,
                value: (*value).to_owned(),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraping_the_app_computes_rate_ratio_quantile_and_gauge() {
    let app = MetricsApp::start(Mode::Paused);
    let base = app.url();
    let interval = Duration::from_secs(5);
    let requests = || selector("http_requests_total", &[]);
    let watch = policy(
        interval,
        vec![
            rule(
                "rps",
                Metric::Scrape(ScrapeQuery::Rate {
                    counter: requests(),
                }),
                1000.0,
            ),
            rule(
                "errors",
                Metric::Scrape(ScrapeQuery::Ratio {
                    numerator: selector("http_requests_total", &[("status", MatchOp::Re, "5..")]),
                    denominator: requests(),
                }),
                0.01,
            ),
            rule(
                "p95",
                Metric::Scrape(ScrapeQuery::Quantile {
                    histogram: selector("http_request_duration_seconds", &[]),
                    quantile: 0.95,
                }),
                1.0,
            ),
            rule(
                "inflight",
                Metric::Scrape(ScrapeQuery::Gauge {
                    gauge: selector("app_inflight_requests", &[]),
                }),
                100.0,
            ),
        ],
    );
    let mut meter = Meter::new(
        &watch,
        Target {
            base_url: Some(&base),
            ..target(JOB, interval)
        },
    )
    .expect("a meter");

    // No baseline yet: the first measure is one.
    app.set_inflight(3.0);
    let first = meter.measure().await;
    assert!(matches!(&first[0], Reading::NoData { why } if why.contains("baseline")));
    assert!(matches!(&first[1], Reading::NoData { why } if why.contains("baseline")));
    assert_eq!(first[3], Reading::Value { value: 3.0 });

    // 90 fast successes and 10 slow errors.
    let before = Instant::now();
    app.record(200, 0.02, 90);
    app.record(500, 0.8, 10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let readings = meter.measure().await;
    let spanned = before.elapsed().as_secs_f64();
    let rps = value(&readings[0]).expect("a rate");
    // 100 requests over the seconds between the two scrapes, which lie within this test's span
    // and are at least the 200 ms slept.
    assert!(
        rps >= 100.0 / (spanned + 0.05) && rps <= 100.0 / 0.2,
        "{rps} over {spanned}s"
    );
    assert_eq!(readings[1], Reading::Value { value: 0.1 });
    // Rank 95 of 100: 5 of the 10 observations in (0.5, 1].
    assert_eq!(readings[2], Reading::Value { value: 0.75 });

    // The app restarts: its counters start again from 0; the increase is what they count now.
    app.reset();
    app.record(200, 0.02, 40);
    let readings = meter.measure().await;
    assert!(value(&readings[0]).is_some_and(|v| v > 0.0));
    assert_eq!(readings[1], Reading::Value { value: 0.0 });
    // Rank 38 of 40, all in (0.01, 0.025]: 0.01 + 0.015 * 38/40.
    let p95 = value(&readings[2]).expect("a quantile");
    assert!((p95 - (0.01 + 0.015 * 0.95)).abs() < 1e-12, "{p95}");

    // No traffic: a zero rate, and no ratio nor quantile to speak of.
    let readings = meter.measure().await;
    assert_eq!(readings[0], Reading::Value { value: 0.0 });
    assert!(
        matches!(&readings[1], Reading::NoData { why } if why.contains("no requests")),
        "{:?}",
        readings[1]
    );
    assert!(
        matches!(&readings[2], Reading::NoData { why } if why.contains("no observations")),
        "{:?}",
        readings[2]
    );
    assert_eq!(app.scrapes(), 4, "one GET per measure, shared by the rules");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_that_fails_is_an_error_for_every_scrape_rule() {
    let base = url::Url::parse("http://127.0.0.1:9").expect("url");
    let interval = Duration::from_secs(2);
    let watch = policy(
        interval,
        vec![rule(
            "inflight",
            Metric::Scrape(ScrapeQuery::Gauge {
                gauge: selector("app_inflight_requests", &[]),
            }),
            100.0,
        )],
    );
    let mut meter = Meter::new(
        &watch,
        Target {
            base_url: Some(&base),
            ..target(JOB, interval)
        },
    )
    .expect("a meter");
    let readings = meter.measure().await;
    assert!(
        matches!(&readings[0], Reading::Error { why } if why.starts_with("could not scrape http://127.0.0.1:9/metrics")),
        "{readings:?}"
    );
}

const TOKEN: &str = "FlyV1 fm2_lJPECAAAAAAAAtestsecretTOKEN";

struct LogsSetup {
    _dir: tempfile::TempDir,
    state: std::path::PathBuf,
}

impl LogsSetup {
    fn new() -> LogsSetup {
        let dir = tempfile::tempdir().expect("a temp dir");
        let state = dir.path().join("state.json");
        std::fs::write(&state, json!({"logs": []}).to_string()).expect("state written");
        LogsSetup { _dir: dir, state }
    }

    fn append(&self, lines: &[(&str, &str, &str)]) {
        let text = std::fs::read_to_string(&self.state).expect("state");
        let mut state: serde_json::Value = serde_json::from_str(&text).expect("json");
        for (timestamp, instance, message) in lines {
            state["logs"]
                .as_array_mut()
                .expect("a list")
                .push(json!({"timestamp": timestamp, "instance": instance, "message": message, "region": "iad", "level": "info"}));
        }
        std::fs::write(&self.state, state.to_string()).expect("state written");
    }

    fn fly(&self, token: Option<&str>) -> Fly {
        Fly::at(crate::support::fake_flyctl())
            .with_token(token.and_then(Secret::new))
            .with_env("FAKE_FLY_STATE", self.state.display().to_string())
    }
}

const NEW: &str = "148e21ea7e3589";
const OTHER: &str = "e286065f969386";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_rules_count_new_lines_of_the_new_machines() {
    let setup = LogsSetup::new();
    setup.append(&[
        (
            "2026-08-12T16:25:00.000000001Z",
            NEW,
            "panic: before the deploy",
        ),
        ("2026-08-12T16:25:00.5Z", NEW, "GET / 200"),
    ]);
    let fly = setup.fly(Some(TOKEN));
    let interval = Duration::from_secs(5);
    let watch = policy(
        interval,
        vec![
            rule(
                "panics",
                Metric::Logs {
                    pattern: "panic|FATAL".to_owned(),
                },
                0.0,
            ),
            rule(
                "gets",
                Metric::Logs {
                    pattern: "^GET ".to_owned(),
                },
                100.0,
            ),
        ],
    );
    let mut meter = Meter::new(
        &watch,
        Target {
            fly: Some(&fly),
            machines: vec![NEW.to_owned()],
            ..target("web", interval)
        },
    )
    .expect("a meter");
    meter.baseline().await;
    setup.append(&[
        // At the cursor's instant but not read before: new.
        ("2026-08-12T16:25:00.5Z", NEW, "panic: at the same instant"),
        ("2026-08-12T16:25:01Z", NEW, "FATAL out of memory"),
        (
            "2026-08-12T16:25:02Z",
            OTHER,
            "panic: on a machine not followed",
        ),
        ("2026-08-12T16:25:03+00:00", NEW, "GET /a 200"),
        ("2026-08-12T16:25:04Z", NEW, "GET /b 500"),
    ]);
    assert_eq!(
        meter.measure().await,
        [Reading::Value { value: 2.0 }, Reading::Value { value: 2.0 }]
    );
    // Nothing new: nothing counted again.
    assert_eq!(
        meter.measure().await,
        [Reading::Value { value: 0.0 }, Reading::Value { value: 0.0 }]
    );
    setup.append(&[("2026-08-12T16:25:05Z", NEW, "panic: again")]);
    assert_eq!(
        meter.measure().await,
        [Reading::Value { value: 1.0 }, Reading::Value { value: 0.0 }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_rules_read_an_empty_buffer_as_no_data_and_a_failure_as_an_error() {
    let setup = LogsSetup::new();
    let interval = Duration::from_secs(1);
    let watch = policy(
        interval,
        vec![rule(
            "panics",
            Metric::Logs {
                pattern: "panic".to_owned(),
            },
            0.0,
        )],
    );
    // flyctl's --no-tail waits while the buffer is empty; the meter's timeout ends it.
    let fly = setup.fly(Some(TOKEN));
    let mut meter = Meter::new(
        &watch,
        Target {
            fly: Some(&fly),
            ..target("web", interval)
        },
    )
    .expect("a meter");
    let readings = meter.measure().await;
    assert!(
        matches!(&readings[0], Reading::NoData { why } if why.contains("no line within 1s")),
        "{readings:?}"
    );
    // A cursor at nothing: lines that come are new.
    setup.append(&[("2026-08-12T16:25:00Z", NEW, "panic: first")]);
    assert_eq!(meter.measure().await, [Reading::Value { value: 1.0 }]);

    let unauthorised = setup.fly(None);
    let mut meter = Meter::new(
        &watch,
        Target {
            fly: Some(&unauthorised),
            ..target("web", interval)
        },
    )
    .expect("a meter");
    let readings = meter.measure().await;
    assert!(
        matches!(&readings[0], Reading::Error { why } if why.contains("No access token available")),
        "{readings:?}"
    );
    assert!(!format!("{readings:?}").contains("testsecret"));
}
