//! The fault matrix: `deploy` against every fault the fakes can inject, one row per fault. Each
//! row states the same five things: the exit code, how many `fly deploy` runs there were, how
//! many rollback-workflow dispatches were sent, the final state of each GitHub Deployment record
//! (oldest first), and that no secret was printed or sent to GitHub or the webhook.
//!
//! The README's "What happens when things go wrong" table is this table.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::deploy::*;
use crate::common::Run;
use crate::support::fake_github::*;
use crate::support::health_app::{Behaviour, HealthApp};

/// The secret part of the notification webhook's URL.
const HOOK_SECRET: &str = "T0HOOKsecret9f3a71c2";

/// One deploy with its fakes, as a row's `setup` leaves it.
struct World {
    app: HealthApp,
    fake: FakeGitHub,
    fly: Fly,
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// The notification webhook (a secret: `SHIPGATE_WEBHOOK_URL`).
    hook: String,
    /// `FAKE_FLY_PRINT`: a line every fly run prints.
    fly_prints: Option<String>,
    /// `/health` turns healthy once the rollback's redeploy has started.
    heals_on_rollback: bool,
    /// Done once, as soon as the first `fly deploy` has started.
    when_fly_starts: Option<fn(&World)>,
    signal: Signal,
}

/// When the deploy receives SIGTERM.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Never,
    /// While the gates wait for a pending required check (set up by the row).
    WhileCheckPending,
    /// While `fly deploy` hangs (the row's fly is `hang` with a `pid_file`).
    DuringFly,
}

impl World {
    /// A healthy app, GitHub with a passing `build` check, fly `ok` with one previous release,
    /// the deploy window open, and a notification webhook.
    fn new() -> World {
        let app = HealthApp::start();
        app.set("/health", Behaviour::Healthy);
        let hook_path = format!("/hook/{HOOK_SECRET}");
        app.set(&hook_path, Behaviour::Status(200));
        let hook = format!("{}{hook_path}", app.url());
        let (dir, path) = config(&app, OPEN);
        let world = World {
            fake: github(),
            fly: Fly::new("ok", previous_release()),
            _dir: dir,
            path,
            hook,
            fly_prints: None,
            heals_on_rollback: false,
            when_fly_starts: None,
            signal: Signal::Never,
            app,
        };
        world.edit(
            "    rollback:\n",
            "    notify: { webhook: true }\n    rollback:\n",
        );
        world
    }

    /// Replaces `from` (which must be there) with `to` in the config.
    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.path).expect("config");
        assert!(text.contains(from), "{from:?} not in:\n{text}");
        std::fs::write(&self.path, text.replace(from, to)).expect("config");
    }

    fn fly(&mut self, behaviour: &str) -> &Fly {
        self.fly = Fly::new(behaviour, previous_release());
        &self.fly
    }

    /// `/health` answers as `behaviour` until the rollback redeploys, healthy from then on. A
    /// second of initial delay gives the watcher time to see the redeploy.
    fn unhealthy_until_rolled_back(&mut self, behaviour: Behaviour) {
        self.app.set("/health", behaviour);
        self.heals_on_rollback = true;
        self.edit("initial_delay: 0s", "initial_delay: 1s");
    }

    /// `/health` falls back to `/` (200) when it does not exist.
    fn with_fallback(&self) {
        self.app.set("/", Behaviour::Status(200));
        self.edit(
            "          json: { \"/status\": \"healthy\" }\n",
            "          json: { \"/status\": \"healthy\" }\n          fallback: { path: /, status: [200] }\n",
        );
    }

    fn refused(&self) {
        self.edit(
            &format!("url: {}", self.app.url()),
            &format!("url: {}", HealthApp::refused_url()),
        );
    }

    /// A required `lint` check still running, and 10 minutes of waiting for it.
    fn check_pending(&self) {
        self.fake
            .add_check_runs(REPO, SHA, [check_run(101, "lint", "in_progress", None)]);
        self.edit("required: [build]", "required: [build, lint]");
        self.edit("wait: 0s", "wait: 10m");
    }

    /// fly hangs (writing its pids), then the next deploy is `then`.
    fn hanging_fly(&mut self, then: &str) {
        self.fly("hang");
        let pid_file = self.fly.dir.path().join("pids");
        self.fly.set("pid_file", json!(pid_file));
        self.fly.then(2, then);
    }

    fn secrets(&self) -> Vec<&str> {
        vec![
            GH_TOKEN,
            FLY_TOKEN,
            "fm2_lJPECAAAAAAAAdeploysecretTOKEN",
            "fm2_lJPEdeploysecondTOKEN",
            &self.hook,
            HOOK_SECRET,
        ]
    }

    fn run(&self) -> Run {
        let mut envs = vec![("SHIPGATE_WEBHOOK_URL", self.hook.as_str())];
        if let Some(text) = &self.fly_prints {
            envs.push(("FAKE_FLY_PRINT", text.as_str()));
        }
        if self.signal != Signal::Never {
            let child = spawn_deploy_with(&self.fake, &self.path, &self.fly, &envs);
            let pid_file = self.fly.dir.path().join("pids");
            match self.signal {
                Signal::WhileCheckPending => {
                    terminate_when(&child, || self.fake.count("GET", "/check-runs") >= 1)
                }
                _ => terminate_when(&child, || pid_file.exists()),
            }
            return finished(child);
        }
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let watcher = scope.spawn(|| {
                let mut started = false;
                let limit = std::time::Instant::now() + Duration::from_secs(120);
                while !done.load(Ordering::SeqCst) && std::time::Instant::now() < limit {
                    let deploys = self.fly.deploys().len();
                    if deploys >= 1 && !started {
                        started = true;
                        if let Some(act) = self.when_fly_starts {
                            act(self);
                        }
                    }
                    if deploys >= 2 && self.heals_on_rollback {
                        self.app.set("/health", Behaviour::Healthy);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            let out = deploy_with(&self.fake, &self.path, &self.fly, &deploy_args(), &envs);
            done.store(true, Ordering::SeqCst);
            watcher.join().expect("watcher");
            out
        })
    }
}

/// One row of the matrix.
struct Cell {
    name: &'static str,
    setup: fn(&mut World),
    exit: i32,
    fly_deploys: usize,
    dispatches: usize,
    /// The final state of each Deployment record, oldest first (`-` for one with no status).
    records: &'static [&'static str],
}

const fn cell(
    name: &'static str,
    setup: fn(&mut World),
    exit: i32,
    fly_deploys: usize,
    dispatches: usize,
    records: &'static [&'static str],
) -> Cell {
    Cell {
        name,
        setup,
        exit,
        fly_deploys,
        dispatches,
        records,
    }
}

#[rustfmt::skip]
const CELLS: &[Cell] = &[
    // GitHub before the deploy.
    cell("github 503 on every request before the deploy", |w| w.fake.fail_next("/repos/", Fault::Status(503), 1000), 5, 0, 0, &[]),
    cell("github 502 once before the deploy (retried)", |w| w.fake.fail_next("/repos/", Fault::Status(502), 1), 0, 1, 0, &["success"]),
    cell("github HTML 502 on every request before the deploy", |w| w.fake.fail_next("/repos/", Fault::Html(502), 1000), 5, 0, 0, &[]),
    cell("github 429 once before the deploy (waited)", |w| w.fake.fail_next("/repos/", Fault::TooManyRequests { retry_after_secs: 1 }, 1), 0, 1, 0, &["success"]),
    cell("github secondary rate limit once before the deploy (waited)", |w| w.fake.fail_next("/repos/", Fault::SecondaryRateLimit { retry_after_secs: 1 }, 1), 0, 1, 0, &["success"]),
    cell("github secondary rate limit on every request before the deploy", |w| w.fake.fail_next("/repos/", Fault::SecondaryRateLimit { retry_after_secs: 1 }, 1000), 5, 0, 0, &[]),
    cell("github malformed JSON for the check runs", |w| w.fake.fail_next("/check-runs", Fault::MalformedJson, 1), 5, 0, 0, &[]),
    cell("github 503 creating the Deployment", |w| w.fake.fail_next_method("POST", "/deployments", Fault::Status(503), 1), 5, 0, 0, &[]),
    // GitHub once fly has started.
    cell("github 502 on a status write once fly started", |w| w.when_fly_starts = Some(|w| w.fake.fail_next_method("POST", "/statuses", Fault::Status(502), 1)), 0, 1, 0, &["success"]),
    cell("github 502 on the failure status write", |w| {
        w.unhealthy_until_rolled_back(Behaviour::Status(503));
        w.when_fly_starts = Some(|w| w.fake.fail_next_method("POST", "/statuses", Fault::Status(502), 1));
    }, 3, 2, 0, &["failure", "success"]),
    // fly.
    cell("fly deploy exits 1", |w| { w.fly("fail").then(2, "ok"); }, 3, 2, 0, &["failure", "success"]),
    cell("fly deploy hangs past deploy_timeout", |w| {
        w.hanging_fly("ok");
        w.edit("deploy_timeout: 30s", "deploy_timeout: 2s");
    }, 3, 2, 0, &["failure", "success"]),
    cell("fly deploy leaves zero machines started", |w| { w.fly("no_machines_started").then(2, "ok"); }, 3, 2, 0, &["failure", "success"]),
    cell("fly deploy leaves critical checks", |w| {
        w.fly("critical_checks").then(2, "ok");
        w.edit("machines: false", "machines: true");
    }, 3, 2, 0, &["failure", "success"]),
    cell("fly releases answers JSON that is not a release list", |w| w.fly.set("releases", json!("<html>bad gateway</html>")), 5, 0, 0, &["error"]),
    cell("no previous release to roll back to", |w| w.fly = Fly::new("fail", json!([])), 4, 1, 0, &["failure"]),
    cell("the rollback's own fly deploy fails", |w| { w.fly("fail"); }, 4, 2, 0, &["failure", "failure"]),
    // The rollback workflow.
    cell("rollback workflow dispatched", |w| {
        w.fly("fail").then(2, "ok");
        with_rollback_workflow(&w.path, true);
    }, 3, 2, 1, &["failure", "success"]),
    cell("rollback workflow dispatch answers 404", |w| {
        w.fly("fail").then(2, "ok");
        with_rollback_workflow(&w.path, true);
        w.fake.fail_next_method("POST", "/dispatches", Fault::Status(404), 1);
    }, 3, 2, 1, &["failure", "success"]),
    // A 422 may be an older GitHub Enterprise Server refusing `return_run_details`: the dispatch
    // is sent once more without it.
    cell("rollback workflow dispatch answers 422", |w| {
        w.fly("fail").then(2, "ok");
        with_rollback_workflow(&w.path, true);
        w.fake.fail_next_method("POST", "/dispatches", Fault::Status(422), 1);
    }, 3, 2, 2, &["failure", "success"]),
    cell("rollback workflow dispatch answers 502", |w| {
        w.fly("fail").then(2, "ok");
        with_rollback_workflow(&w.path, true);
        w.fake.fail_next_method("POST", "/dispatches", Fault::Status(502), 1);
    }, 3, 2, 1, &["failure", "success"]),
    cell("rollback workflow only, dispatch answers 502", |w| {
        w.fly("fail");
        with_rollback_workflow(&w.path, false);
        w.fake.fail_next_method("POST", "/dispatches", Fault::Status(502), 1);
    }, 4, 1, 1, &["failure"]),
    // Health.
    cell("health degraded", |w| w.unhealthy_until_rolled_back(Behaviour::Json(200, json!({"status": "degraded"}))), 3, 2, 0, &["failure", "success"]),
    cell("health degraded, with a fallback", |w| {
        w.unhealthy_until_rolled_back(Behaviour::Json(200, json!({"status": "degraded"})));
        w.with_fallback();
    }, 3, 2, 0, &["failure", "success"]),
    cell("health 503", |w| w.unhealthy_until_rolled_back(Behaviour::Status(503)), 3, 2, 0, &["failure", "success"]),
    cell("health 503, with a fallback", |w| {
        w.unhealthy_until_rolled_back(Behaviour::Status(503));
        w.with_fallback();
    }, 3, 2, 0, &["failure", "success"]),
    cell("health 404, with a fallback that answers", |w| {
        w.app.set("/health", Behaviour::Status(404));
        w.with_fallback();
    }, 0, 1, 0, &["success"]),
    cell("health flapping", |w| w.unhealthy_until_rolled_back(Behaviour::Flapping(vec![Behaviour::Healthy, Behaviour::Status(503)])), 3, 2, 0, &["failure", "success"]),
    cell("health flapping, with a fallback", |w| {
        w.unhealthy_until_rolled_back(Behaviour::Flapping(vec![Behaviour::Healthy, Behaviour::Status(503)]));
        w.with_fallback();
    }, 3, 2, 0, &["failure", "success"]),
    cell("health slower than request_timeout", |w| w.unhealthy_until_rolled_back(Behaviour::Slow(Duration::from_secs(4), Box::new(Behaviour::Healthy))), 3, 2, 0, &["failure", "success"]),
    cell("health slower than request_timeout, with a fallback", |w| {
        w.unhealthy_until_rolled_back(Behaviour::Slow(Duration::from_secs(4), Box::new(Behaviour::Healthy)));
        w.with_fallback();
    }, 3, 2, 0, &["failure", "success"]),
    cell("health connection refused", |w| w.refused(), 4, 2, 0, &["failure", "failure"]),
    cell("health connection refused, with a fallback", |w| {
        w.with_fallback();
        w.refused();
    }, 4, 2, 0, &["failure", "failure"]),
    // Cancellation.
    cell("SIGTERM while a required check is pending", |w| {
        w.check_pending();
        w.signal = Signal::WhileCheckPending;
    }, 6, 0, 0, &[]),
    cell("SIGTERM during fly deploy", |w| {
        w.hanging_fly("ok");
        w.signal = Signal::DuringFly;
    }, 6, 1, 0, &["error"]),
    cell("SIGTERM during fly deploy, with a rollback workflow", |w| {
        w.hanging_fly("ok");
        with_rollback_workflow(&w.path, true);
        w.signal = Signal::DuringFly;
    }, 6, 1, 1, &["error"]),
    // Secrets.
    cell("fly prints the GitHub token, the webhook URL and the Fly token", |w| {
        w.fly_prints = Some(format!("{GH_TOKEN} {} {FLY_TOKEN}", w.hook));
    }, 0, 1, 0, &["success"]),
];

/// Runs one row; the problems found, empty when it holds.
fn check(cell: &Cell) -> Vec<String> {
    let mut world = World::new();
    (cell.setup)(&mut world);
    let out = world.run();
    let mut problems = Vec::new();
    let mut expect = |what: &str, got: String, want: String| {
        if got != want {
            problems.push(format!("{what}: got {got}, expected {want}"));
        }
    };
    expect("exit code", out.code.to_string(), cell.exit.to_string());
    expect(
        "fly deploys",
        world.fly.deploys().len().to_string(),
        cell.fly_deploys.to_string(),
    );
    expect(
        "dispatches sent",
        world.fake.count("POST", "/dispatches").to_string(),
        cell.dispatches.to_string(),
    );
    let records: Vec<String> = deployments(&world.fake)
        .iter()
        .map(|d| {
            let id = d["id"].as_u64().unwrap_or_default();
            world.fake.repo(REPO, |repo| {
                repo.deployment_statuses
                    .get(&id)
                    .and_then(|s| s.last())
                    .and_then(|s| s["state"].as_str())
                    .unwrap_or("-")
                    .to_owned()
            })
        })
        .collect();
    expect(
        "Deployment records",
        format!("{records:?}"),
        format!("{:?}", cell.records),
    );
    if world.fly_prints.is_some() && !out.stderr.contains("build: *** *** ***") {
        problems.push("fly's line is not shown masked".to_owned());
    }
    let mut places = vec![
        ("stdout".to_owned(), out.stdout.clone()),
        ("stderr".to_owned(), out.stderr.clone()),
    ];
    for request in world.fake.requests() {
        places.push((
            format!("GitHub {} {}", request.method, request.path),
            request.body,
        ));
    }
    for body in world.app.bodies(&format!("/hook/{HOOK_SECRET}")) {
        places.push(("the notification".to_owned(), body));
    }
    for secret in world.secrets() {
        for (place, text) in &places {
            if text.contains(secret) {
                problems.push(format!("{secret:?} in {place}"));
            }
        }
    }
    if !problems.is_empty() {
        problems.push(format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr));
    }
    problems
}

/// Every row, three at a time; all failures reported together. `FAULTS=substring` runs only the
/// rows whose name contains it.
#[test]
fn every_cell_of_the_fault_matrix() {
    #[allow(clippy::disallowed_methods)] // a filter for running one row while working on it
    let only = std::env::var("FAULTS").unwrap_or_default();
    let cells: Vec<&Cell> = CELLS.iter().filter(|c| c.name.contains(&only)).collect();
    assert!(!cells.is_empty(), "no row matches FAULTS={only}");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let Some(cell) = cells.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    return;
                };
                let problems =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(cell)))
                        .unwrap_or_else(|_| vec!["panicked".to_owned()]);
                if !problems.is_empty() {
                    failures.lock().expect("failures").push(format!(
                        "## {}\n{}",
                        cell.name,
                        problems.join("\n")
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n\n")
    );
}
