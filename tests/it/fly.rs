//! The fly edge against the fake flyctl (`examples/fake_flyctl.rs`), through the library.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use shipgate::fly::{CheckStatus, Fly, FlyError, MachineState, ReleaseStatus, Stream};
use shipgate::secret::Secret;

use crate::common::fake_flyctl;

const TOKEN: &str = "FlyV1 fm2_lJPECAAAAAAAAtestsecretTOKEN,fm2_lJPEtestsecondpartTOKEN";
const LONG: Duration = Duration::from_secs(20);

struct Setup {
    _dir: tempfile::TempDir,
    state: PathBuf,
    pid_file: PathBuf,
}

/// A state file for the fake, with `behaviour` set.
fn setup(behaviour: &str) -> Setup {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = dir.path().join("state.json");
    let pid_file = dir.path().join("pids");
    std::fs::write(
        &state,
        json!({"behaviour": behaviour, "pid_file": pid_file}).to_string(),
    )
    .expect("state written");
    Setup {
        _dir: dir,
        state,
        pid_file,
    }
}

fn set_behaviour(setup: &Setup, behaviour: &str) {
    let text = std::fs::read_to_string(&setup.state).expect("state");
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("json");
    state["behaviour"] = json!(behaviour);
    std::fs::write(&setup.state, state.to_string()).expect("state written");
}

/// The fake, with its own state file and a deploy token.
fn fly_for(setup: &Setup) -> Fly {
    Fly::at(fake_flyctl())
        .with_token(Secret::new(TOKEN))
        .with_env("FAKE_FLY_STATE", setup.state.display().to_string())
}

/// As `fly_for`, with the fake told to echo the token once.
fn echo_copy(setup: &Setup) -> Fly {
    fly_for(setup).with_env("FAKE_FLY_ECHO_TOKEN", "1")
}

fn deploy_args(app: &str, image: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "flyctl",
        "deploy",
        "--app",
        app,
        "--config",
        "fly.toml",
        "--strategy",
        "rolling",
        "--remote-only",
        "--yes",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(image) = image {
        args.extend(["--image".to_owned(), image.to_owned()]);
    }
    args
}

/// Whether `pid` is a live process: a zombie awaiting its reaper counts as gone.
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn two_deploys_then_releases_status_and_machines_parse() {
    let setup = setup("ok");
    let fly = fly_for(&setup);
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("first deploy");
    let image = "registry.fly.io/myapp:v1.2.3@sha256:abc123";
    fly.deploy(&deploy_args("myapp", Some(image)), LONG, |_| {})
        .await
        .expect("second deploy");

    let releases = fly.releases("myapp", LONG).await.expect("releases");
    assert_eq!(
        releases.iter().map(|r| r.version()).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(releases[0].status, ReleaseStatus::Complete);
    assert_eq!(releases[0].image_ref.as_deref(), Some(image));
    assert!(releases[1]
        .image_ref
        .as_deref()
        .is_some_and(|i| i.starts_with("registry.fly.io/myapp:deployment-")));
    assert_eq!(
        releases[0].user.as_ref().and_then(|u| u.email.as_deref()),
        Some("deploy@example.com")
    );
    assert!(releases[0].created_at.is_some());

    let status = fly.status("myapp", LONG).await.expect("status");
    assert_eq!(status.version, Some(2));
    assert_eq!(status.machines.len(), 2);
    for machine in &status.machines {
        assert_eq!(machine.state, MachineState::Started);
        assert_eq!(machine.image().as_deref(), Some(image));
        assert_eq!(machine.release_version(), Some(2));
        assert_eq!(machine.process_group(), Some("app"));
        assert!(machine.checks_passing());
    }

    let machines = fly.machines("myapp", LONG).await.expect("machines");
    assert_eq!(machines.len(), 2);
    assert_eq!(machines[0].id, "148e21ea7e3589");
    assert_eq!(machines[0].region.as_deref(), Some("iad"));
}

#[tokio::test]
async fn failed_deploy_is_failed_with_the_last_lines() {
    let setup = setup("fail");
    let fly = fly_for(&setup);
    let error = fly
        .deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect_err("the deploy fails");
    let FlyError::Failed { code, last_lines } = &error else {
        panic!("expected Failed, got {error:?}");
    };
    assert_eq!(*code, 1);
    assert!(
        last_lines
            .iter()
            .any(|l| l.starts_with("Error: timeout reached waiting for health checks")),
        "{last_lines:#?}"
    );
    assert!(
        error
            .to_string()
            .ends_with("Error: timeout reached waiting for health checks to pass for machine 148e21ea7e3589: failed to get VM 148e21ea7e3589: Get \"https://api.machines.dev/v1/apps/myapp/machines/148e21ea7e3589\": net/http: request canceled"),
        "{error}"
    );

    let releases = fly.releases("myapp", LONG).await.expect("releases");
    assert_eq!(releases[0].status, ReleaseStatus::Failed);
    let machines = fly.machines("myapp", LONG).await.expect("machines");
    assert!(machines
        .iter()
        .all(|m| m.checks.iter().all(|c| c.status == CheckStatus::Critical)));
}

#[tokio::test]
async fn exit_zero_with_no_machines_started_or_critical_checks_is_still_ok() {
    let setup = setup("no_machines_started");
    let fly = fly_for(&setup);
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("exit 0");
    let machines = fly.machines("myapp", LONG).await.expect("machines");
    assert!(machines.iter().all(|m| m.state == MachineState::Stopped));

    set_behaviour(&setup, "critical_checks");
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("exit 0");
    let status = fly.status("myapp", LONG).await.expect("status");
    assert!(status.machines.iter().all(|m| !m.checks_passing()));
}

/// A state file for the fake listing every kind of machine (`"fleet": "kinds"`).
fn setup_kinds(behaviour: &str) -> Setup {
    let setup = setup(behaviour);
    let text = std::fs::read_to_string(&setup.state).expect("state");
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("json");
    state["fleet"] = json!("kinds");
    std::fs::write(&setup.state, state.to_string()).expect("state written");
    setup
}

#[tokio::test]
async fn every_kind_of_machine_is_listed_and_read() {
    let setup = setup_kinds("ok");
    let fly = fly_for(&setup);
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("deploy");
    let machines = fly.machines("myapp", LONG).await.expect("machines");
    let by_id = |id: &str| {
        machines
            .iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    assert_eq!(machines.len(), 8);

    let serving = by_id("148e21ea7e3589");
    assert_eq!(serving.state, MachineState::Started);
    assert_eq!(serving.release_version(), Some(1));
    assert!(serving.on_apps_platform());
    assert!(serving.autoscaled());
    assert_eq!(serving.configured_checks(), 1);
    assert!(serving.checks_passing());

    let asleep = by_id("3d8d9e1b2c4f70");
    assert_eq!(asleep.state, MachineState::Stopped);
    assert_eq!(asleep.release_version(), Some(1), "a deploy updates it");
    assert!(asleep.autoscaled());
    assert_eq!((asleep.configured_checks(), asleep.checks.len()), (1, 0));

    let worker = by_id("9080e6f1c2d3a4");
    assert_eq!(worker.process_group(), Some("worker"));
    assert_eq!(worker.state, MachineState::Started);
    assert_eq!(worker.configured_checks(), 0);

    let standby = by_id("5683d920b4e5f6");
    assert_eq!(standby.standby_for(), ["9080e6f1c2d3a4"]);
    assert_eq!(standby.state, MachineState::Stopped);

    let release_command = by_id("1781973f0a9b8c");
    assert!(release_command.is_release_command());
    assert_eq!(release_command.state, MachineState::Stopped);

    let console = by_id("32874400c1d2e3");
    assert_eq!(console.process_group(), Some("fly_app_console"));
    assert_eq!(console.release_version(), None, "a deploy leaves it alone");

    let one_off = by_id("d8907e1f2a3b4c");
    assert_eq!(one_off.process_group(), None);
    assert!(!one_off.on_apps_platform());
    assert_eq!((one_off.configured_checks(), one_off.checks.len()), (1, 0));

    // flyctl's `status` lists what `ListActive` keeps.
    let status = fly.status("myapp", LONG).await.expect("status");
    assert_eq!(status.machines.len(), 6);

    let state = shipgate::gate::machines::count(&machines, Some(1));
    assert!(state.healthy(), "{state:?}");
    assert_eq!(
        (state.started(), state.total(), state.left_stopped()),
        (3, 4, 1)
    );
    assert_eq!(state.ignored.len(), 4);
}

#[tokio::test]
async fn the_fake_can_leave_checks_unreported_or_a_group_down() {
    let setup = setup_kinds("checks_pending");
    let fly = fly_for(&setup);
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("exit 0");
    let machines = fly.machines("myapp", LONG).await.expect("machines");
    let state = shipgate::gate::machines::count(&machines, None);
    assert_eq!(state.release, Some(1));
    assert_eq!(state.pending, ["148e21ea7e3589", "e286065f969386"]);
    assert!(state.unhealthy.is_empty());

    set_behaviour(&setup, "worker_down");
    fly.deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect("exit 0");
    let machines = fly.machines("myapp", LONG).await.expect("machines");
    let state = shipgate::gate::machines::count(&machines, Some(2));
    let down: Vec<&str> = state.groups_down().map(|g| g.name.as_str()).collect();
    assert_eq!(down, ["worker"]);
    assert!(
        state.pending.is_empty(),
        "checks report after a rolling deploy"
    );
}

#[tokio::test]
async fn a_hung_deploy_times_out_and_leaves_no_process() {
    let setup = setup("hang");
    // The fake appends its start and end here when it ends on its own; a killed fake writes
    // nothing.
    let times = setup.pid_file.with_file_name("times");
    let fly = fly_for(&setup).with_env("FAKE_FLY_TIMES", times.display().to_string());
    let error = fly
        .deploy(
            &deploy_args("myapp", None),
            Duration::from_millis(1500),
            |_| {},
        )
        .await
        .expect_err("the deploy hangs");
    assert!(
        matches!(error, FlyError::TimedOut { after, .. } if after == Duration::from_millis(1500)),
        "{error:?}"
    );
    // Killed at the timeout, not waited for: the fake sleeps for ten minutes before it ends.
    assert!(
        !times.exists(),
        "the fake ran to its end: {}",
        std::fs::read_to_string(&times).unwrap_or_default()
    );

    let pids = std::fs::read_to_string(&setup.pid_file).expect("the fake wrote its pids");
    let pids: Vec<&str> = pids.lines().collect();
    assert_eq!(pids.len(), 2, "the fake and its child");
    // SIGKILL is delivered at once, but the kernel tears the processes down on its own time: look
    // until they are gone, with a deadline far above that (a loaded machine must not fail it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|pid| alive(pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids {
        assert!(!alive(pid), "process {pid} is still running");
    }
}

#[tokio::test]
async fn the_token_is_masked_in_streamed_and_returned_output() {
    let setup = setup("ok");
    let fly = echo_copy(&setup);
    let mut streamed = Vec::new();
    let output = fly
        .deploy(&deploy_args("myapp", None), LONG, |line| {
            streamed.push(line.clone())
        })
        .await
        .expect("deploy");
    let echoed: Vec<_> = streamed
        .iter()
        .filter(|l| l.text.contains("using access token"))
        .collect();
    assert_eq!(echoed.len(), 1, "{streamed:#?}");
    assert_eq!(echoed[0].stream, Stream::Stderr);
    assert_eq!(echoed[0].text, "DEBUG using access token ***");
    // What is shown is masked; the returned output is what fly printed, for the parsers only.
    for line in &streamed {
        assert!(!line.text.contains("fm2_"), "{line:?}");
    }
    assert!(output.stderr().contains("fm2_"));

    set_behaviour(&setup, "fail");
    let error = fly
        .deploy(&deploy_args("myapp", None), LONG, |_| {})
        .await
        .expect_err("fails");
    assert!(!format!("{error:?} {error}").contains("fm2_"));
}

#[tokio::test]
async fn an_unknown_flag_fails_like_flyctl() {
    let setup = setup("ok");
    let fly = fly_for(&setup);
    let error = fly
        .run(
            &["deploy", "--app", "myapp", "--bogus"].map(str::to_owned),
            LONG,
        )
        .await
        .expect_err("unknown flag");
    let FlyError::Failed { code, last_lines } = &error else {
        panic!("expected Failed, got {error:?}");
    };
    assert_eq!(*code, 1);
    assert_eq!(
        last_lines.last().map(String::as_str),
        Some("Error: unknown flag: --bogus")
    );
}

#[test]
fn locate_names_shipgate_fly_when_nothing_is_found() {
    let empty = tempfile::tempdir().expect("a temp dir");
    let error = Fly::locate_in(None, Some(empty.path().as_os_str())).expect_err("nothing on PATH");
    assert!(matches!(error, FlyError::NotFound { .. }));
    assert!(error.to_string().contains("SHIPGATE_FLY"), "{error}");

    let error = Fly::locate_in(Some("/nonexistent/flyctl"), None).expect_err("missing");
    assert!(
        error
            .to_string()
            .contains("SHIPGATE_FLY=/nonexistent/flyctl"),
        "{error}"
    );

    let fake = fake_flyctl();
    let found = Fly::locate_in(Some(fake.to_str().expect("utf-8")), None).expect("given path");
    assert_eq!(found.program(), fake);

    // `flyctl` is preferred to `fly` on PATH.
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(&fake, dir.path().join("fly")).expect("copied");
    let found = Fly::locate_in(None, Some(dir.path().as_os_str())).expect("fly on PATH");
    assert_eq!(found.program(), dir.path().join("fly"));
    std::fs::copy(&fake, dir.path().join("flyctl")).expect("copied");
    let found = Fly::locate_in(None, Some(dir.path().as_os_str())).expect("flyctl on PATH");
    assert_eq!(found.program(), dir.path().join("flyctl"));
}

#[tokio::test]
async fn every_secret_is_masked_in_what_fly_prints_and_parsers_read_it_whole() {
    let setup = setup("ok");
    let github = "ghs_buildprintedthis0123456789";
    // A short token would corrupt JSON if masking came before parsing: `1` is in every version.
    let fly = Fly::at(fake_flyctl())
        .with_token(Secret::new("1"))
        .with_masked(Secret::new(github))
        .with_env("FAKE_FLY_STATE", setup.state.display().to_string())
        .with_env("FAKE_FLY_PRINT", format!("token={github}"))
        .with_env("FLY_ACCESS_TOKEN", "ambient-access-token");
    let mut streamed = Vec::new();
    fly.deploy(&deploy_args("myapp", None), LONG, |line| {
        streamed.push(line.text.clone())
    })
    .await
    .expect("deploy");
    assert!(
        streamed.contains(&"build: token=***".to_owned()),
        "{streamed:#?}"
    );
    assert!(streamed.iter().all(|line| !line.contains(github)));
    // An ambient FLY_ACCESS_TOKEN never reaches fly: flyctl would prefer it to the given token.
    assert!(
        !streamed
            .iter()
            .any(|line| line.contains("FLY_ACCESS_TOKEN")),
        "{streamed:#?}"
    );
    let releases = fly
        .releases("myapp", LONG)
        .await
        .expect("JSON parsed whole");
    assert!(!releases.is_empty());
}
