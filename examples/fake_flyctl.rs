//! A fake `flyctl` for tests: the real flags and JSON shapes (flyctl's own) of
//! `releases`, `status`, `machine list`, `logs --no-tail` and `deploy`, with state kept in the JSON file named by
//! `FAKE_FLY_STATE`. Tests steer it through that file's `"behaviour"`:
//!
//! - `"ok"` (default): deploy succeeds; a new `complete` release, every machine on the new image;
//! - `"fail"`: exit 1 with flyctl's health-check timeout error; the release is `failed`;
//! - `"fail_once"`: this deploy as `"fail"`, then `"ok"` from the next one;
//! - `"hang"`: sleeps (with a child process in its group), writing both pids to `"pid_file"`;
//! - `"no_machines_started"`: exit 0, but every machine is left `stopped`;
//! - `"critical_checks"`: exit 0, but every machine's checks are `critical`;
//! - `"checks_pending"`: exit 0, but no started machine has check results yet (as after an
//!   `immediate` deploy, where flyctl does not wait for them);
//! - `"worker_down"`: exit 0, but the machines of the `worker` process group are left `stopped`.
//!
//! `"fleet"` picks the machines listed before the first deploy (when the state has none):
//! `"two"` (default), two started machines of group `app`; or `"kinds"`, every kind of machine
//! `fly machine list --json` shows on a real app (see [`kinds`]). A deploy updates each machine as
//! flyctl does: machines of the Fly Apps platform get the new image and release, and are started,
//! except standbys, the release command's machine (it ran and exited) and machines a service
//! autostops that were stopped; console and one-off machines are not touched. Check results
//! follow the checks each machine's config defines. `status --json` lists what flyctl's
//! `ListActive` keeps: no release-command or console machines.
//!
//! `logs --no-tail --json` prints the state's `"logs"` list (`{"timestamp", "message",
//! "instance", "level", "region"}`; tests append to it) as flyctl prints log entries.
//!
//! The token is printed nowhere, except in one debug line when `FAKE_FLY_ECHO_TOKEN=1`. A build
//! that prints what it should not is `FAKE_FLY_PRINT=TEXT`: one stdout line `build: TEXT`. With
//! `FLY_ACCESS_TOKEN` in its environment it prints `DEBUG FLY_ACCESS_TOKEN is set` (flyctl would
//! use it before `FLY_API_TOKEN`).
//! With `FAKE_FLY_TIMES` naming a file, each run appends `START_NS END_NS COMMAND` (Unix time)
//! to it, so a benchmark can subtract fly's own time from shipgate's.

#![allow(clippy::disallowed_methods)] // a stand-in for flyctl, which reads its environment freely

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

static STARTED: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();

fn main() -> ExitCode {
    STARTED.get_or_init(SystemTime::now);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__sleep") {
        std::thread::sleep(Duration::from_secs(600));
        return ExitCode::SUCCESS;
    }
    let code = match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::from(1)
        }
    };
    log_time(&args);
    code
}

/// Appends this run's start and end to `$FAKE_FLY_TIMES`, when set.
fn log_time(args: &[String]) {
    let Some(path) = std::env::var_os("FAKE_FLY_TIMES") else {
        return;
    };
    let ns = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    };
    let start = STARTED.get().copied().unwrap_or_else(SystemTime::now);
    let line = format!(
        "{} {} {}\n",
        ns(start),
        ns(SystemTime::now()),
        args.first().map_or("", String::as_str)
    );
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

#[derive(Default)]
struct Flags {
    app: Option<String>,
    config: Option<String>,
    strategy: Option<String>,
    image: Option<String>,
    json: bool,
    remote_only: bool,
    yes: bool,
    no_tail: bool,
    machine: Option<String>,
    region: Option<String>,
}

fn parse_flags(args: &[String], allowed: &[&str]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with('-') => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let long = match name {
            "-a" => "--app",
            "-c" => "--config",
            "-i" => "--image",
            "-j" => "--json",
            "-n" => "--no-tail",
            "-m" | "--instance" => "--machine",
            "-r" => "--region",
            "-y" | "--auto-confirm" => "--yes",
            other => other,
        };
        if !long.starts_with('-') {
            return Err(format!("unexpected argument {long:?}"));
        }
        if !allowed.contains(&long) {
            return Err(format!("unknown flag: {long}"));
        }
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| format!("flag needs an argument: {long}"))
        };
        match long {
            "--app" => flags.app = Some(value()?),
            "--config" => flags.config = Some(value()?),
            "--strategy" => flags.strategy = Some(value()?),
            "--image" => flags.image = Some(value()?),
            "--json" => flags.json = true,
            "--remote-only" => flags.remote_only = true,
            "--yes" => flags.yes = true,
            "--no-tail" => flags.no_tail = true,
            "--machine" => flags.machine = Some(value()?),
            "--region" => flags.region = Some(value()?),
            _ => return Err(format!("unknown flag: {long}")),
        }
    }
    Ok(flags)
}

fn run(args: &[String]) -> Result<(), String> {
    let token = std::env::var("FLY_API_TOKEN").unwrap_or_default();
    if std::env::var("FAKE_FLY_ECHO_TOKEN").as_deref() == Ok("1") {
        eprintln!("DEBUG using access token {token}");
    }
    if let Ok(text) = std::env::var("FAKE_FLY_PRINT") {
        println!("build: {text}");
    }
    if std::env::var_os("FLY_ACCESS_TOKEN").is_some() {
        eprintln!("DEBUG FLY_ACCESS_TOKEN is set");
    }
    let (command, rest) = match args {
        [first, second, rest @ ..] if is_machine(first) && second == "list" => {
            ("machine list", rest)
        }
        [first, rest @ ..] => (first.as_str(), rest),
        [] => return Err("no command given".to_owned()),
    };
    let flags = match command {
        "releases" => parse_flags(rest, &["--app", "--config", "--json", "--image"])?,
        "status" | "machine list" => parse_flags(rest, &["--app", "--config", "--json"])?,
        "logs" => parse_flags(
            rest,
            &[
                "--app",
                "--config",
                "--json",
                "--no-tail",
                "--machine",
                "--region",
            ],
        )?,
        "deploy" => parse_flags(
            rest,
            &[
                "--app",
                "--config",
                "--strategy",
                "--image",
                "--remote-only",
                "--yes",
            ],
        )?,
        other => return Err(format!("unknown command \"{other}\" for \"flyctl\"")),
    };
    if token.trim().is_empty() {
        return Err("No access token available. Please login with 'flyctl auth login'".to_owned());
    }
    let app = flags
        .app
        .clone()
        .ok_or("the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag")?;
    let path = state_path()?;
    let mut state = load(&path, &app)?;
    match command {
        "releases" => print_json(&state["releases"], flags.json),
        "machine list" => print_json(&state["machines"], flags.json),
        "logs" => logs(&state, &flags),
        "status" => {
            let active: Vec<Value> = state["machines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| !matches!(group(m), RELEASE_COMMAND | CONSOLE))
                .cloned()
                .collect();
            let status = json!({
                "AppURL": format!("https://{app}.fly.dev"),
                "Deployed": true,
                "Hostname": format!("{app}.fly.dev"),
                "ID": app,
                "Machines": active,
                "Name": app,
                "Organization": {"ID": "", "InternalNumericID": "1", "Name": "", "Slug": "personal", "RawSlug": "", "PaidPlan": false},
                "PlatformVersion": "machines",
                "Status": "deployed",
                "Version": state["version"],
            });
            print_json(&status, flags.json)
        }
        _ => deploy(&path, &mut state, &app, &flags),
    }
}

fn is_machine(word: &str) -> bool {
    matches!(word, "machine" | "machines" | "m")
}

fn state_path() -> Result<PathBuf, String> {
    std::env::var_os("FAKE_FLY_STATE")
        .map(PathBuf::from)
        .ok_or_else(|| "FAKE_FLY_STATE is not set".to_owned())
}

/// The state file, with defaults filled in: version 0, no releases, the machines of `"fleet"`
/// on the current release (`"version"`, the newest release's image).
fn load(path: &PathBuf, app: &str) -> Result<Value, String> {
    let mut state: Value = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            serde_json::from_str(&text).map_err(|e| format!("fake state: {e}"))?
        }
        _ => json!({}),
    };
    let object = state.as_object_mut().ok_or("fake state is not an object")?;
    object.entry("behaviour").or_insert(json!("ok"));
    object.entry("version").or_insert(json!(0));
    object.entry("releases").or_insert(json!([]));
    let fleet = object
        .get("fleet")
        .and_then(Value::as_str)
        .unwrap_or("two")
        .to_owned();
    if !object.contains_key("machines") {
        let version = object["version"].as_u64().unwrap_or(0);
        let image = object["releases"][0]["ImageRef"]
            .as_str()
            .map(str::to_owned);
        let image = image.as_deref();
        let machines = match fleet.as_str() {
            "two" => vec![
                machine("148e21ea7e3589", "iad", app, image, version),
                machine("e286065f969386", "ams", app, image, version),
            ],
            "kinds" => kinds(app, image, version),
            other => return Err(format!("fake state: unknown fleet {other:?}")),
        };
        object.insert("machines".to_owned(), Value::Array(machines));
    }
    Ok(state)
}

const RELEASE_COMMAND: &str = "fly_app_release_command";
const CONSOLE: &str = "fly_app_console";

/// A machine's `config.metadata.fly_process_group`, or "".
fn group(machine: &Value) -> &str {
    machine["config"]["metadata"]["fly_process_group"]
        .as_str()
        .unwrap_or_default()
}

/// Every kind of machine a real app's `fly machine list --json` shows, before the first deploy:
///
/// - `148e21ea7e3589` (iad), `e286065f969386` (ams): group `app`, started, behind a service that
///   autostops and autostarts them, with one service check;
/// - `3d8d9e1b2c4f70` (lhr): group `app`, the same service, stopped by autostop: no check results;
/// - `9080e6f1c2d3a4` (iad): group `worker`, no services, started, no checks;
/// - `5683d920b4e5f6` (iad): the `worker` standby (`config.standbys`), stopped;
/// - `1781973f0a9b8c` (iad): the release command's machine, stopped;
/// - `32874400c1d2e3` (iad): a `fly console` machine, started;
/// - `d8907e1f2a3b4c` (iad): a one-off from `fly machine run` (no process group, not on the Fly Apps
///   platform), started, with a top-level check configured and no results.
fn kinds(app: &str, image: Option<&str>, version: u64) -> Vec<Value> {
    let service = json!([{
        "protocol": "tcp",
        "internal_port": 8080,
        "autostop": true,
        "autostart": true,
        "min_machines_running": 1,
        "ports": [{"port": 443, "handlers": ["tls", "http"]}],
        "checks": [{"type": "http", "port": 8080, "path": "/healthz", "interval": "15s", "timeout": "2s"}]
    }]);
    let with = |mut m: Value, edit: &dyn Fn(&mut Value)| {
        edit(&mut m);
        m
    };
    let in_group = |m: &mut Value, name: &str| {
        m["config"]["metadata"]["fly_process_group"] = json!(name);
        m["config"]["env"]["FLY_PROCESS_GROUP"] = json!(name);
    };
    let no_checks = |m: &mut Value| {
        m["config"]["services"] = json!([]);
        m["config"]["checks"] = json!({});
        m["checks"] = json!([]);
    };
    let stopped = |m: &mut Value| {
        m["state"] = json!("stopped");
        m["checks"] = json!([]);
        m["events"] = json!([{"type": "exit", "status": "stopped", "source": "flyd", "timestamp": 1755015900000u64}]);
    };
    let served = |m: &mut Value| {
        m["config"]["services"] = service.clone();
        m["config"]["checks"] = json!({});
        m["checks"] = check_results(m, "passing");
    };
    vec![
        with(
            machine("148e21ea7e3589", "iad", app, image, version),
            &served,
        ),
        with(
            machine("e286065f969386", "ams", app, image, version),
            &served,
        ),
        with(
            machine("3d8d9e1b2c4f70", "lhr", app, image, version),
            &|m| {
                served(m);
                stopped(m);
            },
        ),
        with(
            machine("9080e6f1c2d3a4", "iad", app, image, version),
            &|m| {
                in_group(m, "worker");
                no_checks(m);
            },
        ),
        with(
            machine("5683d920b4e5f6", "iad", app, image, version),
            &|m| {
                in_group(m, "worker");
                no_checks(m);
                stopped(m);
                m["config"]["standbys"] = json!(["9080e6f1c2d3a4"]);
                m["config"]["env"]["FLY_STANDBY_FOR"] = json!("9080e6f1c2d3a4");
            },
        ),
        with(
            machine("1781973f0a9b8c", "iad", app, image, version),
            &|m| {
                in_group(m, RELEASE_COMMAND);
                no_checks(m);
                stopped(m);
                m["config"]["restart"] = json!({"policy": "no"});
                m["config"]["auto_destroy"] = json!(true);
            },
        ),
        with(
            machine("32874400c1d2e3", "iad", app, image, version),
            &|m| {
                in_group(m, CONSOLE);
                no_checks(m);
                m["config"]["metadata"] = json!({"fly_platform_version": "v2", "fly_process_group": CONSOLE, "fly_flyctl_version": "0.4.87"});
            },
        ),
        with(
            machine("d8907e1f2a3b4c", "iad", app, image, version),
            &|m| {
                no_checks(m);
                m["config"]["metadata"] = json!({});
                m["config"]["env"] = json!({});
                m["config"]["checks"] = json!({"ping": {"type": "tcp", "port": 9000}});
            },
        ),
    ]
}

/// One result per check the machine's config defines, all with `status`: top-level checks by
/// name, service checks as `servicecheck-NN-TYPE-PORT`.
fn check_results(machine: &Value, status: &str) -> Value {
    let config = &machine["config"];
    let mut names: Vec<String> = config["checks"]
        .as_object()
        .map(|checks| checks.keys().cloned().collect())
        .unwrap_or_default();
    let mut n = 0;
    for service in config["services"].as_array().into_iter().flatten() {
        for check in service["checks"].as_array().into_iter().flatten() {
            names.push(format!(
                "servicecheck-{n:02}-{}-{}",
                check["type"].as_str().unwrap_or("tcp"),
                check["port"].as_u64().unwrap_or(0)
            ));
            n += 1;
        }
    }
    let output = if status == "passing" {
        "Success"
    } else {
        "connect: connection refused"
    };
    Value::Array(
        names
            .into_iter()
            .map(|name| json!({"name": name, "status": status, "output": output, "updated_at": "2026-08-12T16:25:00Z"}))
            .collect(),
    )
}

/// `m` after a deploy of `image` as release `version` with `behaviour`, as flyctl leaves it.
fn deployed(m: &Value, image: &str, version: u64, behaviour: &str) -> Value {
    let metadata = &m["config"]["metadata"];
    let managed = metadata["fly_platform_version"] == "v2";
    if !managed || group(m) == CONSOLE {
        return m.clone();
    }
    let mut updated = m.clone();
    updated["image_ref"] = image_ref(image);
    updated["config"]["image"] = json!(image);
    updated["config"]["metadata"]["fly_release_version"] = json!(version.to_string());
    updated["config"]["metadata"]["fly_release_id"] = json!(format!("rel_{version}"));
    updated["instance_id"] = json!(format!("01FAKEINSTANCE{version:012}"));
    updated["version"] = json!(format!("01FAKEINSTANCE{version:012}"));
    let standby = m["config"]["standbys"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    let autoscaled = m["config"]["services"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            matches!(&s["autostop"], Value::Bool(true))
                || matches!(s["autostop"].as_str(), Some("stop" | "suspend"))
                || s["autostart"] == true
        });
    let was = m["state"].as_str().unwrap_or_default();
    let state = if group(m) == RELEASE_COMMAND || standby {
        "stopped"
    } else if matches!(was, "stopped" | "suspended") && autoscaled {
        was
    } else {
        "started"
    };
    let state = match behaviour {
        "no_machines_started" => "stopped",
        "worker_down" if group(m) == "worker" => "stopped",
        _ => state,
    };
    updated["state"] = json!(state);
    updated["checks"] = match (state, behaviour) {
        ("started", "checks_pending") => json!([]),
        ("started", "critical_checks" | "fail") => {
            let results = check_results(m, "critical");
            if results.as_array().is_some_and(|r| r.is_empty()) {
                json!([{"name": "servicecheck-00-http-8080", "status": "critical", "output": "connect: connection refused", "updated_at": "2026-08-12T16:25:00Z"}])
            } else {
                results
            }
        }
        ("started", _) => check_results(m, "passing"),
        _ => json!([]),
    };
    updated
}

fn save(path: &PathBuf, state: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("fake state: {e}"))
}

fn machine(id: &str, region: &str, app: &str, image: Option<&str>, version: u64) -> Value {
    let image = image
        .map(str::to_owned)
        .unwrap_or_else(|| format!("registry.fly.io/{app}:deployment-initial"));
    json!({
        "id": id,
        "name": format!("{region}-machine"),
        "state": "started",
        "region": region,
        "image_ref": image_ref(&image),
        "instance_id": format!("01FAKEINSTANCE{version:012}"),
        "version": format!("01FAKEINSTANCE{version:012}"),
        "private_ip": "fdaa:0:1:a7b:1::2",
        "created_at": "2026-08-12T16:00:00Z",
        "updated_at": "2026-08-12T16:21:00Z",
        "config": {
            "image": image,
            "env": {},
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "metadata": {
                "fly_release_version": version.to_string(),
                "fly_release_id": format!("rel_{version}"),
                "fly_process_group": "app",
                "fly_platform_version": "v2",
                "fly_flyctl_version": "0.4.87"
            },
            "services": [],
            "checks": {"alive": {"type": "http", "port": 8080, "path": "/healthz"}},
            "restart": {}
        },
        "events": [{"type": "start", "status": "started", "source": "flyd", "timestamp": 1755015660000u64}],
        "checks": [{"name": "alive", "status": "passing", "output": "Success", "updated_at": "2026-08-12T16:21:00Z"}],
        "host_status": "ok",
        "cordoned": false
    })
}

/// Splits `registry/repository[:tag][@digest]` into fly-go's `MachineImageRef` parts.
fn image_ref(image: &str) -> Value {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, digest),
        None => (image, ""),
    };
    let (registry, path) = match rest.split_once('/') {
        Some((registry, path)) if registry.contains('.') || registry.contains(':') => {
            (registry, path)
        }
        _ => ("docker.io", rest),
    };
    let (repository, tag) = match path.rsplit_once(':') {
        Some((repository, tag)) => (repository, tag),
        None => (path, ""),
    };
    json!({"registry": registry, "repository": repository, "tag": tag, "digest": digest, "labels": {}})
}

fn print_json(value: &Value, json: bool) -> Result<(), String> {
    if !json {
        return Err("the fake supports only --json output".to_owned());
    }
    // flyctl's render.JSON indents with four spaces.
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut serializer).map_err(|e| e.to_string())?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// `fly logs --no-tail --json`: the entries of `"logs"` (tests append them), each printed as
/// flyctl's `render.JSON` does (four-space indent, one object after another), filtered by
/// `--machine` and `--region` as the logs API filters them. Like flyctl's `--no-tail` poll, an
/// empty buffer prints nothing and waits (it polls until a line comes).
fn logs(state: &Value, flags: &Flags) -> Result<(), String> {
    if !flags.no_tail {
        return Err("the fake supports only --no-tail".to_owned());
    }
    let entries: Vec<&Value> = state["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| flags.machine.as_ref().is_none_or(|m| e["instance"] == **m))
        .filter(|e| flags.region.as_ref().is_none_or(|r| e["region"] == **r))
        .collect();
    if entries.is_empty() {
        std::thread::sleep(Duration::from_secs(600));
        return Ok(());
    }
    for entry in entries {
        let full = json!({
            "level": entry["level"].as_str().unwrap_or("info"),
            "instance": entry["instance"],
            "message": entry["message"],
            "region": entry["region"].as_str().unwrap_or("iad"),
            "timestamp": entry["timestamp"],
            "meta": {
                "Instance": entry["instance"],
                "Region": entry["region"].as_str().unwrap_or("iad"),
                "Event": {"Provider": "app"},
                "HTTP": {"Request": {"ID": "", "Method": "", "Version": ""}, "Response": {"status_code": 0}},
                "Error": {"Code": 0, "Message": ""},
                "URL": {"Full": ""}
            }
        });
        print_json(&full, flags.json)?;
    }
    Ok(())
}

fn deploy(path: &PathBuf, state: &mut Value, app: &str, flags: &Flags) -> Result<(), String> {
    let mut behaviour = state["behaviour"].as_str().unwrap_or("ok").to_owned();
    if behaviour == "fail_once" {
        // This deploy fails; the next one (a rollback, say) succeeds.
        state["behaviour"] = json!("ok");
        behaviour = "fail".to_owned();
    }
    let version = state["version"].as_u64().unwrap_or(0) + 1;
    let strategy = flags
        .strategy
        .clone()
        .unwrap_or_else(|| "rolling".to_owned());
    let image = flags
        .image
        .clone()
        .unwrap_or_else(|| format!("registry.fly.io/{app}:deployment-01FAKE{version:020}"));
    let config = flags.config.as_deref().unwrap_or("fly.toml");
    println!("==> Verifying app config");
    println!("Validating {config}");
    println!("✓ Configuration is valid");
    println!("--> Verified app config");
    if flags.image.is_none() {
        println!("==> Building image");
        println!("==> Building image with Depot");
        println!("--> Pushing image done");
    }
    println!("image: {image}");
    println!("Watch your deployment at https://fly.io/apps/{app}/monitoring");
    println!("-------");
    println!("Updating existing machines in '{app}' with {strategy} strategy");
    state["version"] = json!(version);

    let status = match behaviour.as_str() {
        "fail" => "failed",
        "hang" => "running",
        _ => "complete",
    };
    let release = json!({
        "ID": format!("rel_{version}"),
        "Version": version,
        "Stable": status == "complete",
        "InProgress": false,
        "Reason": "",
        "Description": format!("Deploy image {image}"),
        "Status": status,
        "DeploymentStrategy": "",
        "Metadata": null,
        "User": {"ID": "U1", "Name": "Deploy Bot", "Email": "deploy@example.com", "EnablePaidHobby": false},
        "EvaluationID": "",
        "CreatedAt": format!("2026-08-12T16:{:02}:00Z", version % 60),
        "ImageRef": image,
    });
    let releases = state["releases"]
        .as_array_mut()
        .ok_or("releases is not a list")?;
    releases.insert(0, release);

    let first_id = state["machines"][0]["id"]
        .as_str()
        .unwrap_or("148e21ea7e3589")
        .to_owned();
    if let Some(machines) = state["machines"].as_array_mut() {
        for m in machines.iter_mut() {
            *m = deployed(m, &image, version, &behaviour);
        }
    }
    save(path, state)?;

    match behaviour.as_str() {
        "fail" => {
            println!("  Updating {first_id} [app]");
            println!("  Machine {first_id} [app] update failed");
            eprintln!("Error: timeout reached waiting for health checks to pass for machine {first_id}: failed to get VM {first_id}: Get \"https://api.machines.dev/v1/apps/{app}/machines/{first_id}\": net/http: request canceled");
            eprintln!("Your machine never reached the state \"started\".");
            eprintln!("You can try increasing the timeout with the --wait-timeout flag");
            log_time(&["deploy".to_owned()]);
            std::process::exit(1);
        }
        "hang" => {
            let child =
                std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
                    .arg("__sleep")
                    .stdin(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| e.to_string())?;
            if let Some(pid_file) = state["pid_file"].as_str() {
                let pids = format!("{}\n{}\n", std::process::id(), child.id());
                std::fs::write(pid_file, pids).map_err(|e| e.to_string())?;
            }
            println!("  Waiting for {first_id} [app] to have state: started");
            std::thread::sleep(Duration::from_secs(600));
            Ok(())
        }
        _ => {
            println!("  Machine {first_id} [app] update succeeded");
            println!("Checking DNS configuration for {app}.fly.dev");
            println!("Visit your newly deployed app at https://{app}.fly.dev/");
            // flyctl v0.4.56+: the release as one JSON line, on success only.
            if std::env::var_os("FLY_EMIT_RELEASE_JSON").is_some_and(|v| v == "1") {
                println!(
                    "{}",
                    json!({"id": format!("rel_{version}"), "version": version, "image_ref": image})
                );
            }
            Ok(())
        }
    }
}
