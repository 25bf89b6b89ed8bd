//! The watch's `logs` source end to end: the new release's log lines, read with the fake
//! flyctl's `logs --no-tail --json`, counted per interval against a maximum.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::deploy::{
    config, decision, deploy_args, deploy_with, github, previous_release, Fly, APP, OPEN,
};
use crate::support::health_app::{Behaviour, HealthApp};

/// The ids of the machines of `version`, as fly lists them now.
fn machines_of(fly: &Fly, version: u64) -> Vec<String> {
    let out = Command::new(fly.dir.path().join("flyctl"))
        .args(["machine", "list", "--app", APP, "--json"])
        .env("FAKE_FLY_STATE", fly.dir.path().join("state.json"))
        .env("FLY_API_TOKEN", crate::deploy::FLY_TOKEN)
        .output()
        .expect("fake flyctl");
    // The fake may be writing its state as the deploy runs: no list yet is an empty one.
    let machines: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    machines
        .iter()
        .filter(|m| m["config"]["metadata"]["fly_release_version"] == json!(version.to_string()))
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

/// A log line's time is the wall clock's, as the app's would be.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn line(instance: &str, message: &str) -> Value {
    json!({
        "timestamp": wall_clock().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "message": message,
        "instance": instance,
        "level": "info",
        "region": "iad",
    })
}

#[test]
fn a_panic_in_the_new_release_logs_fails_the_watch_and_rolls_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let (_dir, path) = config(&app, OPEN);
    let text = std::fs::read_to_string(&path)
        .expect("config")
        .replace(
            "    rollback:\n      direct: true\n",
            "    rollback:\n      direct: true\n    watch:\n      duration: 4s\n      interval: 1s\n      rules:\n        - {name: startup errors, logs: '(?i)\\bpanic', max: 0}\n",
        );
    std::fs::write(&path, text).expect("config");
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    // An old line from before the deploy is not the new release's.
    fly.set("logs", json!([line("old-machine", "panic: an old one")]));
    let out = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for _ in 0..3000 {
                if !fly.deploys().is_empty() {
                    let machines = machines_of(&fly, 2);
                    if let Some(id) = machines.first() {
                        // Let the watch take its baseline, then the new release panics.
                        std::thread::sleep(Duration::from_millis(1500));
                        let mut logs = vec![line("old-machine", "panic: an old one")];
                        logs.push(line(id, "listening on :8080"));
                        logs.push(line(id, "thread 'main' panicked at src/db.rs:12"));
                        fly.set("logs", Value::Array(logs));
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let out = deploy_with(&fake, &path, &fly, &deploy_args(), &[]);
        assert!(writer.join().expect("writer"), "the deploy never started");
        out
    });
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let why = decision["report"]["incident"]["why"]
        .as_str()
        .unwrap_or_default();
    assert!(why.starts_with("watch failed: startup errors"), "{why}");
    let watch = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == "watch")
        .expect("the watch verdict");
    assert_eq!(watch["status"], "fail");
    assert_eq!(watch["evidence"][0]["failed"], 1, "{watch}");
    // The logs were read once per interval, not more.
    let reads = fly.calls().iter().filter(|c| c.starts_with("logs")).count();
    assert!((2..=5).contains(&reads), "{reads} logs reads");
    assert_eq!(fly.deploys().len(), 2);
}
