//! The post-deploy watch end to end: the real binary deploys through the fake GitHub and the fake
//! flyctl, then watches a real metrics app (`support::metrics_app`) through a real Prometheus or
//! VictoriaMetrics (`support::metrics_server`), or by scraping the app itself. The app serves
//! `/health` too, so one environment `url` serves the health gate and the `scrape` source.
//!
//! Queries use a 5s rate window: five scrapes at the servers' 1s scrape interval. Rounds are
//! counted, never timed: the watch reads `duration / interval` times whatever the machine's speed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::deploy::{
    decision, deploy_args, deploy_with, deployment_states, deployments, finished, github,
    previous_release, spawn_deploy_with, terminate_when, Fly, APP, GH_TOKEN, OLD_IMAGE, REPO,
};
use crate::support::metrics_app::{MetricsApp, Mode};
use crate::support::metrics_server::{Kind, MetricsServer};

/// The share of the app's requests answered 5xx. The servers scrape the app as job `APP`, so
/// `${app}` selects it.
const ERROR_RATIO: &str = "sum(rate(http_requests_total{job=\"${app}\",status=~\"5..\"}[5s])) / sum(rate(http_requests_total{job=\"${app}\"}[5s]))";

/// The app's requests per second (100 when it makes traffic).
const THROUGHPUT: &str = "sum(rate(http_requests_total{job=\"${app}\"}[5s]))";

/// A config like `deploy::config`'s, its `url` (health and scrape) the metrics app, with `watch`
/// (the block's lines, indented under `watch:`).
fn config(app: &MetricsApp, watch: &str) -> (tempfile::TempDir, PathBuf) {
    let watch: String = watch
        .lines()
        .map(|line| format!("      {line}\n"))
        .collect();
    temp_config(&format!(
        "version: 1
checks:
  required: [build]
  from_branch_rules: false
  wait: 0s
  interval: 1s
environments:
  production:
    app: {APP}
    fly_config: fly.toml
    strategy: rolling
    url: {url}
    windows: false
    deploy_timeout: 30s
    health:
      initial_delay: 0s
      interval: 1s
      consecutive_successes: 2
      failure_limit: 0
      deadline: 10s
      request_timeout: 2s
      machines: false
      endpoints:
        - path: /health
          status: [200]
          json: {{ \"/status\": \"healthy\" }}
    rollback:
      direct: true
    watch:
{watch}",
        url = app.url(),
    ))
}

/// A `watch:` block of `prometheus` rules, each `(name, query, condition)`.
fn prometheus_watch(duration: &str, interval: &str, rules: &[(&str, &str, &str)]) -> String {
    let mut text = format!("duration: {duration}\ninterval: {interval}\nrules:\n");
    for (name, query, condition) in rules {
        text.push_str(&format!(
            "  - name: {name}\n    prometheus: '{query}'\n    {condition}\n"
        ));
    }
    text
}

fn prometheus_env(server: &MetricsServer) -> [(&'static str, String); 1] {
    [("SHIPGATE_PROMETHEUS_URL", server.url().to_string())]
}

fn deploy(
    fake: &crate::support::fake_github::FakeGitHub,
    path: &std::path::Path,
    fly: &Fly,
    envs: &[(&'static str, String)],
) -> Run {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    deploy_with(fake, path, fly, &deploy_args(), &envs)
}

/// `GET path` on `address` (`127.0.0.1:PORT`): the status and the body.
fn get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("the server answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    (status, body.to_owned())
}

fn address(server: &MetricsServer) -> String {
    let url = server.url();
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().expect("a port")
    )
}

/// Waits until the server has enough scrapes of the app for `query` (with `${app}` filled) to
/// have a number, so that the watch's first reading is a value; returns it.
fn wait_for_data(server: &MetricsServer, query: &str) -> f64 {
    let query = query.replace("${app}", APP);
    let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let limit = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < limit {
        let (status, body) = get(&address(server), &format!("/api/v1/query?query={encoded}"));
        let answer: Value = serde_json::from_str(&body).unwrap_or_default();
        let value = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite());
        if let (200, Some(value)) = (status, value) {
            return value;
        }
        last = body;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "{:?} never had data for {query}: {last}\n{}",
        server.kind(),
        server.log()
    );
}

/// How many `/api/v1/query` requests Prometheus has answered, from its own metrics (read from
/// `/metrics`, which is not counted there).
fn queries_answered(server: &MetricsServer) -> u64 {
    let (status, body) = get(&address(server), "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|line| {
            line.starts_with("prometheus_http_requests_total{")
                && line.contains("handler=\"/api/v1/query\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The `watch` verdict of a decision.
fn watch_verdict(decision: &Value) -> Value {
    decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == "watch")
        .cloned()
        .unwrap_or_else(|| panic!("no watch verdict in {decision}"))
}

/// The readings of a rule's evidence, and their phases.
fn readings(evidence: &Value) -> Vec<(String, String)> {
    assert_eq!(evidence["kind"], "rule", "{evidence}");
    evidence["readings"]
        .as_array()
        .expect("readings")
        .iter()
        .map(|r| {
            (
                r["phase"].as_str().unwrap_or_default().to_owned(),
                r["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The percentage in `why` after `prefix` (`error_rate failed (7.5% against ...`).
fn percent_after(why: &str, prefix: &str) -> f64 {
    let rest = why
        .split_once(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} not in {why:?}"))
        .1;
    rest.split('%')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no percentage after {prefix:?} in {why:?}"))
}

#[test]
fn a_healthy_release_passes_a_prometheus_watch() {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(Kind::Prometheus, app.address(), APP);
    assert_eq!(wait_for_data(&server, ERROR_RATIO), 0.0);
    let (_dir, path) = config(
        &app,
        &prometheus_watch("4s", "1s", &[("error_rate", ERROR_RATIO, "max: 5%")]),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = deploy(&fake, &path, &fly, &prometheus_env(&server));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "deployed");
    let watch = watch_verdict(&decision);
    assert_eq!(watch["status"], "pass", "{watch}");
    // The summary shows the time watched in whole seconds.
    assert_eq!(watch["summary"], "1 rule(s) held for 4s", "{watch}");
    let evidence = &watch["evidence"][0];
    assert_eq!(evidence["rule"], "error_rate");
    assert_eq!(evidence["condition"], "<= 5%");
    assert_eq!(
        evidence["metric"],
        format!("prometheus: {ERROR_RATIO}"),
        "the query as written"
    );
    // duration / interval readings, each the healthy app's 0%.
    let read = readings(evidence);
    assert_eq!(
        read,
        vec![("successful".to_owned(), "0%".to_owned()); 4],
        "{evidence}"
    );
    assert_eq!(evidence["successful"], 4);
    assert_eq!(evidence["failed"], 0);
    assert!(
        out.stderr.contains("watch 4/4: error_rate 0% successful"),
        "{}",
        out.stderr
    );
    assert_eq!(fly.deploys().len(), 1, "{:?}", fly.deploys());
    assert_eq!(deployment_states(&fake), ["in_progress", "success"]);
    // The watch is a timed step of the report, after health, its detail the verdict's summary.
    let steps = decision["report"]["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "gates",
            "deployment",
            "record",
            "fly deploy",
            "health",
            "watch"
        ]
    );
    assert_eq!(steps[5]["detail"], watch["summary"]);
    assert!(
        steps[5]["duration_ms"].as_u64() >= Some(4000),
        "{}",
        steps[5]
    );
}

#[test]
fn a_failing_release_fails_a_victoria_metrics_watch_and_is_rolled_back() {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(Kind::VictoriaMetrics, app.address(), APP);
    assert_eq!(wait_for_data(&server, ERROR_RATIO), 0.0);
    let (_dir, path) = config(
        &app,
        &prometheus_watch("6s", "1s", &[("error_rate", ERROR_RATIO, "max: 5%")]),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    // The new release fails as soon as it is deployed: half its requests answer 500.
    let out = std::thread::scope(|scope| {
        let switch = scope.spawn(|| {
            let limit = Instant::now() + Duration::from_secs(60);
            while Instant::now() < limit {
                if !fly.deploys().is_empty() {
                    app.set_mode(Mode::Failing);
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let out = deploy(&fake, &path, &fly, &prometheus_env(&server));
        assert!(switch.join().expect("the switch"), "fly never deployed");
        out
    });
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rolled_back");
    let deploys = fly.deploys();
    assert_eq!(deploys.len(), 2, "{deploys:?}");
    assert_eq!(
        deploys[1],
        format!("deploy --app {APP} --config fly.toml --strategy immediate --remote-only --yes --image {OLD_IMAGE}")
    );
    let incident = &decision["report"]["incident"];
    let why = incident["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("watch failed: error_rate failed (") && why.contains("% against <= 5%)"),
        "{why}"
    );
    // On the way from the healthy 0% to the failing app's 50% (a window edge between the app's
    // two counter updates may tip it a little over), past the 5% limit.
    let value = percent_after(why, "error_rate failed (");
    assert!(value > 5.0 && value <= 60.0, "{why}");
    assert_eq!(incident["rollback_triggered"], true);
    assert_eq!(incident["recovered"], true);
    let watch = watch_verdict(&decision);
    assert_eq!(watch["status"], "fail", "{watch}");
    assert_eq!(watch["evidence"][0]["failed"], 1, "{watch}");
    // The watch stopped at its first failed reading: that reading is the last.
    let read = readings(&watch["evidence"][0]);
    assert_eq!(
        read.last().map(|(phase, _)| phase.as_str()),
        Some("failed"),
        "{read:?}"
    );
    assert!(read.len() < 6, "stopped early: {read:?}");
    assert_eq!(
        deployment_states(&fake),
        ["in_progress", "failure", "in_progress", "success"]
    );
}

#[test]
fn a_failing_app_scraped_directly_fails_the_watch_and_is_rolled_back() {
    let app = MetricsApp::start(Mode::Failing);
    let (_dir, path) = config(
        &app,
        "duration: 4s\ninterval: 1s\nsource: scrape\nrules:\n  - error_rate: {max: 5%}\n",
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = deploy(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rolled_back");
    let why = decision["report"]["incident"]["why"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.starts_with("watch failed: error_rate failed (") && why.contains("% against <= 5%)"),
        "{why}"
    );
    // Half the requests fail (the app counts its 200s and 500s a moment apart, so a scrape
    // may fall between the two).
    let value = percent_after(why, "error_rate failed (");
    assert!((40.0..=60.0).contains(&value), "{why}");
    let watch = watch_verdict(&decision);
    assert_eq!(watch["status"], "fail", "{watch}");
    let evidence = &watch["evidence"][0];
    assert_eq!(
        evidence["metric"],
        "scrape: increase of http_requests_total{status=~\"5..\"} / increase of http_requests_total"
    );
    assert_eq!(
        readings(evidence).len(),
        1,
        "the first reading failed it: {evidence}"
    );
    // The baseline and one measure: one GET of /metrics each.
    assert_eq!(app.scrapes(), 2);
    assert_eq!(fly.deploys().len(), 2, "{:?}", fly.deploys());
    assert!(fly.deploys()[1].contains("--strategy immediate"));
    assert_eq!(
        deployment_states(&fake),
        ["in_progress", "failure", "in_progress", "success"]
    );
}

#[test]
fn the_watch_queries_prometheus_once_per_rule_per_interval() {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(Kind::Prometheus, app.address(), APP);
    assert!(wait_for_data(&server, THROUGHPUT) > 0.0);
    wait_for_data(&server, ERROR_RATIO);
    let (_dir, path) = config(
        &app,
        &prometheus_watch(
            "6s",
            "2s",
            &[
                ("error_rate", ERROR_RATIO, "max: 5%"),
                ("throughput", THROUGHPUT, "min: 50/s"),
            ],
        ),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let before = queries_answered(&server);
    let out = deploy(&fake, &path, &fly, &prometheus_env(&server));
    let after = queries_answered(&server);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // 6s / 2s = 3 rounds of 2 rules; nothing before the watch (no query check in a deploy).
    assert_eq!(after - before, 6, "{}", out.stderr);
    let watch = watch_verdict(&decision(&out));
    assert_eq!(watch["status"], "pass", "{watch}");
    for evidence in watch["evidence"].as_array().expect("evidence") {
        let read = readings(evidence);
        assert_eq!(read.len(), 3, "{evidence}");
        assert!(
            read.iter().all(|(phase, _)| phase == "successful"),
            "{evidence}"
        );
    }
    // The rate is shown in the threshold's unit: about 100/s.
    let (_, rate) = &readings(&watch["evidence"][1])[0];
    let rate: f64 = rate
        .strip_suffix("/s")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{rate}"));
    assert!((50.0..=150.0).contains(&rate), "{rate}");
}

#[test]
fn a_prometheus_rule_without_its_url_deploys_nothing() {
    let app = MetricsApp::start(Mode::Healthy);
    let (_dir, path) = config(
        &app,
        &prometheus_watch("4s", "1s", &[("error_rate", ERROR_RATIO, "max: 5%")]),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = deploy(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "the watch of `production` queries Prometheus, but SHIPGATE_PROMETHEUS_URL is not set"
        ),
        "{}",
        out.stderr
    );
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert!(deployments(&fake).is_empty());
    assert_eq!(app.scrapes(), 0);
}

#[test]
fn plan_refuses_a_query_the_server_rejects() {
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(Kind::Prometheus, app.address(), APP);
    let fake = github();
    let plan = |query: &str| {
        let (_dir, path) = config(
            &app,
            &prometheus_watch(
                "4s",
                "1s",
                &[
                    ("error_rate", ERROR_RATIO, "max: 5%"),
                    ("checkout errors", query, "max: 5%"),
                ],
            ),
        );
        let mut command = with_config(&path);
        command
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", GH_TOKEN)
            .env("GITHUB_REPOSITORY", REPO)
            .env("SHIPGATE_PROMETHEUS_URL", server.url().as_str())
            .args(["plan", "--environment", "production", "--ref", "main"]);
        run(&mut command)
    };
    let before = queries_answered(&server);
    let out = plan("sum(rate(http_requests_total[5s])");
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "the watch rule `checkout errors` of `production`: the Prometheus server rejects its query:"
        ) && out.stderr.contains("unclosed left parenthesis"),
        "{}",
        out.stderr
    );
    // Asked once each, in order, up to the one rejected.
    assert_eq!(queries_answered(&server) - before, 2);
    // The same plan with a query the server takes is a go.
    let out = plan("sum(rate(http_requests_total[5s]))");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Nothing was ever deployed.
    assert!(deployments(&fake).is_empty());
}

#[test]
fn a_threshold_without_a_unit_is_a_config_error() {
    let app = MetricsApp::start(Mode::Paused);
    let (_dir, path) = config(
        &app,
        &prometheus_watch("4s", "1s", &[("error_rate", ERROR_RATIO, "max: 5")]),
    );
    let out = run(with_config(&path).args(["config", "validate"]));
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("`5` has no unit"), "{said}");
    assert!(said.contains("watch.rules[0].max"), "{said}");
}

#[test]
fn sigterm_during_the_watch_exits_6_and_records_an_error() {
    let app = MetricsApp::start(Mode::Healthy);
    let (_dir, path) = config(
        &app,
        "duration: 60s\ninterval: 1s\nsource: scrape\nrules:\n  - error_rate: {max: 5%}\n",
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let child = spawn_deploy_with(&fake, &path, &fly, &[]);
    // The baseline and two measures: the watch is under way.
    terminate_when(&child, || app.scrapes() >= 3);
    let out = finished(child);
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "cancelled");
    let why = decision["report"]["incident"]["why"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(why, "shipgate received SIGTERM during the watch");
    let watch = watch_verdict(&decision);
    assert_eq!(watch["status"], "fail", "{watch}");
    assert!(
        watch["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("stopped by SIGTERM after ") && s.ends_with(" of 1m")),
        "{watch}"
    );
    let read = readings(&watch["evidence"][0]);
    assert!(
        !read.is_empty() && read.len() < 60,
        "the readings before the signal: {read:?}"
    );
    let steps = decision["report"]["steps"].as_array().expect("steps");
    let last = steps.last().expect("a step");
    assert_eq!(last["name"], "watch", "{steps:?}");
    assert_eq!(last["detail"], watch["summary"]);
    assert_eq!(fly.deploys().len(), 1, "no rollback redeploy");
    assert_eq!(deployment_states(&fake), ["in_progress", "error"]);
}

/// `/proc/<pid>/stat`: the state letter and the CPU time so far (user, system), in clock ticks.
fn proc_stat(pid: u32) -> Option<(char, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, which may hold spaces): field 3 on.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    Some((
        state,
        fields.get(11)?.parse().ok()?,
        fields.get(12)?.parse().ok()?,
    ))
}

/// `VmHWM` of `/proc/<pid>/status`, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The figures for the README, measured by `tools/bench-watch.sh`: `deploy` with a watch of
/// `BENCH_WATCH_SECONDS` (default 60) at 1s, one `prometheus` rule, against real Prometheus.
/// Prints the queries made and shipgate's CPU time while it watched (from `/proc/<pid>/stat`,
/// from the watch's first query to the process's exit, which adds the end of the deploy: an upper
/// bound) as a share of one core.
#[test]
#[ignore = "a minute long: tools/bench-watch.sh runs it"]
fn bench_a_watch_of_a_minute() {
    const TICKS_PER_SECOND: f64 = 100.0; // USER_HZ on Linux
    #[allow(clippy::disallowed_methods)] // the measurement's length, from the script
    let seconds: u64 = std::env::var("BENCH_WATCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let app = MetricsApp::start(Mode::Healthy);
    let server = MetricsServer::start(Kind::Prometheus, app.address(), APP);
    wait_for_data(&server, ERROR_RATIO);
    let (_dir, path) = config(
        &app,
        &prometheus_watch(
            &format!("{seconds}s"),
            "1s",
            &[("error_rate", ERROR_RATIO, "max: 5%")],
        ),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let before = queries_answered(&server);
    let started = Instant::now();
    let url = server.url().to_string();
    let child = spawn_deploy_with(
        &fake,
        &path,
        &fly,
        &[("SHIPGATE_PROMETHEUS_URL", url.as_str())],
    );
    let pid = child.id();
    let cpu = |(_, user, system): (char, u64, u64)| (user, system);
    let mut first: Option<(Instant, (u64, u64))> = None;
    let mut peak = 0;
    let limit = Instant::now() + Duration::from_secs(seconds + 120);
    let total = loop {
        assert!(Instant::now() < limit, "the deploy did not end");
        let Some(stat) = proc_stat(pid) else {
            panic!("shipgate's /proc entry went away before it was waited for");
        };
        if stat.0 == 'Z' {
            // Ended, not yet reaped: its final CPU time.
            break (Instant::now(), cpu(stat));
        }
        peak = peak.max(peak_kib(pid).unwrap_or(0));
        let queries = queries_answered(&server) - before;
        let now = (Instant::now(), cpu(stat));
        if queries >= 1 && first.is_none() {
            first = Some(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = started.elapsed();
    let out = finished(child);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let queries = queries_answered(&server) - before;
    let Some((from, (user0, system0))) = first else {
        panic!("the watch's first query was not seen: {queries} queries");
    };
    let (to, (user1, system1)) = total;
    let watched = to.duration_since(from).as_secs_f64();
    let user = (user1 - user0) as f64 / TICKS_PER_SECOND;
    let system = (system1 - system0) as f64 / TICKS_PER_SECOND;
    let share = (user + system) / watched * 100.0;
    let whole = (user1 + system1) as f64 / TICKS_PER_SECOND;
    println!("bench-watch: watch {seconds}s at 1s, 1 prometheus rule, real Prometheus");
    println!("bench-watch: queries made: {queries} (expected {seconds})");
    println!(
        "bench-watch: shipgate CPU while watching ({watched:.1}s, from its first query to its exit): {user:.2}s user + {system:.2}s sys = {share:.2}% of one core"
    );
    println!(
        "bench-watch: shipgate CPU, whole deploy ({:.1}s wall): {:.2}s user + {:.2}s sys = {:.2}% of one core",
        wall.as_secs_f64(),
        user1 as f64 / TICKS_PER_SECOND,
        system1 as f64 / TICKS_PER_SECOND,
        whole / wall.as_secs_f64() * 100.0
    );
    println!(
        "bench-watch: shipgate peak RSS: {:.1} MiB",
        peak as f64 / 1024.0
    );
    assert_eq!(queries, seconds, "one query per interval");
    assert!(share < 1.0, "target: under 1% of one core, got {share:.2}%");
}
