//! The fly edge: runs `flyctl` without a shell, with a timeout, and parses its JSON.
//!
//! No policy lives here. Every child runs in its own process group, so a timeout ends flyctl and
//! everything it started; `FLY_API_TOKEN` is set on the child only, and every line of output has
//! the token replaced by `***` before it is logged, streamed or returned. Exit 0 from `fly deploy`
//! does not mean the machines are healthy: the caller checks (flyctl's documented exit codes).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::{FLY_ACCESS_TOKEN, FLY_API_TOKEN, SHIPGATE_FLY};
pub use crate::facts::fly::*;
use crate::process::{self, Masker, ProcessError, Spawn};
pub use crate::process::{Line, Stream};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum FlyError {
    #[error("no fly binary found: {detail}; set {SHIPGATE_FLY} to the path of flyctl")]
    NotFound { detail: String },
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fly did not finish within {}s and was stopped", after.as_secs_f64())]
    TimedOut {
        after: Duration,
        last_lines: Vec<String>,
    },
    #[error("fly exited with code {code}{}", last_line_suffix(last_lines))]
    Failed { code: i32, last_lines: Vec<String> },
    #[error("fly was killed by signal {signal}")]
    Killed { signal: i32 },
    #[error("fly was stopped: shipgate received {signal}")]
    Cancelled {
        signal: &'static str,
        last_lines: Vec<String>,
    },
    #[error("could not read the output of `{command}`: {detail}")]
    Unparsable { command: String, detail: String },
}

/// flyctl's own `Error: …` line when there is one (stdout and stderr interleave), else the last.
fn last_line_suffix(lines: &[String]) -> String {
    let mut non_empty = lines.iter().rev().filter(|line| !line.trim().is_empty());
    lines
        .iter()
        .rev()
        .find(|line| line.starts_with("Error: "))
        .or_else(|| non_empty.next())
        .map(|line| format!(": {}", line.trim()))
        .unwrap_or_default()
}

/// What a finished (exit 0) fly run printed, in the order it was read: for parsers, as printed
/// (never shown; what is shown went through the masker).
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub lines: Vec<Line>,
}

impl Output {
    /// Standard output alone, one line per line: what the JSON parsers read.
    pub fn stdout(&self) -> String {
        self.text_of(Stream::Stdout)
    }

    pub fn stderr(&self) -> String {
        self.text_of(Stream::Stderr)
    }

    fn text_of(&self, stream: Stream) -> String {
        let mut text = String::new();
        for line in self.lines.iter().filter(|l| l.stream == stream) {
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }
}

/// A located fly binary, the token it runs with, and the other secrets its output is masked of.
#[derive(Debug, Clone)]
pub struct Fly {
    program: PathBuf,
    token: Option<Secret>,
    /// Every other secret shipgate holds (the GitHub token, the webhook URL): a build that prints
    /// one must not carry it into the log, the report, a dispatch input or a notification.
    masked: Vec<Secret>,
    env: Vec<(String, String)>,
}

impl Fly {
    /// `SHIPGATE_FLY` when given (it must name an executable file, or a program on PATH), else
    /// `flyctl`, else `fly`, searched on PATH without a shell.
    pub fn locate(ambient_fly: Option<&str>) -> Result<Self, FlyError> {
        #[allow(clippy::disallowed_methods)] // PATH is the process's own search path, not config
        let path = std::env::var_os("PATH");
        Self::locate_in(ambient_fly, path.as_deref())
    }

    /// `locate` with the search path given: what tests call.
    pub fn locate_in(ambient_fly: Option<&str>, path: Option<&OsStr>) -> Result<Self, FlyError> {
        let search = |name: &str| -> Option<PathBuf> {
            std::env::split_paths(path?)
                .filter(|dir| !dir.as_os_str().is_empty())
                .map(|dir| dir.join(name))
                .find(|candidate| is_executable(candidate))
        };
        if let Some(given) = ambient_fly.map(str::trim).filter(|v| !v.is_empty()) {
            let program = if given.contains('/') {
                let candidate = PathBuf::from(given);
                is_executable(&candidate).then_some(candidate)
            } else {
                search(given)
            };
            return program.map(Fly::at).ok_or_else(|| FlyError::NotFound {
                detail: format!("{SHIPGATE_FLY}={given} is not an executable file"),
            });
        }
        search("flyctl")
            .or_else(|| search("fly"))
            .map(Fly::at)
            .ok_or_else(|| FlyError::NotFound {
                detail: "neither `flyctl` nor `fly` is on PATH".to_owned(),
            })
    }

    /// A fly binary at a known path, with no token.
    pub fn at(program: impl Into<PathBuf>) -> Self {
        Fly {
            program: program.into(),
            token: None,
            masked: Vec::new(),
            env: vec![("NO_COLOR".to_owned(), "1".to_owned())],
        }
    }

    /// Sets one more variable on every child (the parent's environment is inherited as is).
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs every command with `FLY_API_TOKEN` set to `token` on the child.
    pub fn with_token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }

    /// Masks these secrets too in every line fly prints.
    pub fn with_masked(mut self, secrets: impl IntoIterator<Item = Secret>) -> Self {
        self.masked.extend(secrets);
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs `fly ARGS` (program name not included), logging each masked line at debug level.
    pub async fn run(&self, args: &[String], timeout: Duration) -> Result<Output, FlyError> {
        self.run_streaming(args, timeout, |_| {}).await
    }

    /// Runs `fly ARGS`, handing each masked line to `on_line` as it arrives. Ok only on exit 0.
    pub async fn run_streaming(
        &self,
        args: &[String],
        timeout: Duration,
        on_line: impl FnMut(&Line),
    ) -> Result<Output, FlyError> {
        self.run_until(args, timeout, on_line, std::future::pending())
            .await
    }

    /// [`Fly::run_streaming`] that also ends when `cancel` resolves (to the signal's name): then
    /// fly's whole process group is stopped, as on a timeout, and the error says why.
    pub async fn run_until(
        &self,
        args: &[String],
        timeout: Duration,
        mut on_line: impl FnMut(&Line),
        cancel: impl std::future::Future<Output = &'static str>,
    ) -> Result<Output, FlyError> {
        let program = self.program.to_str().ok_or_else(|| FlyError::Spawn {
            program: self.program.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path of the fly binary is not UTF-8",
            ),
        })?;
        let argv: Vec<String> = std::iter::once(program.to_owned())
            .chain(args.iter().cloned())
            .collect();
        // flyctl prefers FLY_ACCESS_TOKEN to FLY_API_TOKEN: an ambient one would silently win,
        // unmasked. fly runs with the token shipgate was given, or none.
        let removed = [FLY_API_TOKEN, FLY_ACCESS_TOKEN];
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(name, _)| !removed.contains(&name.as_str()))
            .cloned()
            .collect();
        if let Some(token) = &self.token {
            env.push((FLY_API_TOKEN.to_owned(), token.expose().to_owned()));
        }
        let masker = Masker::with_fly_token(self.token.as_ref(), &self.masked);
        // Parsers read the lines as printed (a masked short token would corrupt JSON); everything
        // shown (the stream, the log, an error's last lines) is masked.
        let spawn = Spawn {
            argv: &argv,
            env,
            env_remove: removed.iter().map(|name| (*name).to_owned()).collect(),
            cwd: None,
            timeout,
            masker: &masker,
            collect: true,
        };
        let on_line = |line: &Line| {
            tracing::debug!(target: "shipgate::fly", "{}", line.text);
            on_line(line);
        };
        match process::run(spawn, on_line, cancel).await {
            Ok(finished) => Ok(Output {
                lines: finished.lines,
            }),
            Err(ProcessError::Spawn { program, source }) => {
                Err(FlyError::Spawn { program, source })
            }
            Err(ProcessError::TimedOut { after, last_lines }) => {
                Err(FlyError::TimedOut { after, last_lines })
            }
            Err(ProcessError::Failed { code, last_lines }) => {
                Err(FlyError::Failed { code, last_lines })
            }
            Err(ProcessError::Killed { signal, .. }) => Err(FlyError::Killed { signal }),
            Err(ProcessError::Cancelled { signal, last_lines }) => {
                Err(FlyError::Cancelled { signal, last_lines })
            }
        }
    }

    /// `fly releases --app APP --json`: the last 25 releases, newest first.
    pub async fn releases(&self, app: &str, timeout: Duration) -> Result<Vec<Release>, FlyError> {
        let output = self
            .run(&strings(&["releases", "--app", app, "--json"]), timeout)
            .await?;
        parse_releases(&output.stdout())
    }

    /// `fly status --app APP --json`: the current version and the active machines.
    pub async fn status(&self, app: &str, timeout: Duration) -> Result<AppStatus, FlyError> {
        let output = self
            .run(&strings(&["status", "--app", app, "--json"]), timeout)
            .await?;
        parse_status(&output.stdout())
    }

    /// `fly machine list --app APP --json`: every non-destroyed machine.
    pub async fn machines(&self, app: &str, timeout: Duration) -> Result<Vec<Machine>, FlyError> {
        let output = self
            .run(
                &strings(&["machine", "list", "--app", app, "--json"]),
                timeout,
            )
            .await?;
        parse_machines(&output.stdout())
    }

    /// Runs the argument vector of `plan::fly_deploy_args`. Its first element names the program
    /// and is replaced by this located binary. Ok on exit 0 only, which does not mean healthy.
    /// `FLY_EMIT_RELEASE_JSON=1` is set so that the release it made can be read back with
    /// [`emitted_release`].
    pub async fn deploy(
        &self,
        args: &[String],
        timeout: Duration,
        on_line: impl FnMut(&Line),
    ) -> Result<Output, FlyError> {
        self.deploy_until(args, timeout, on_line, std::future::pending())
            .await
    }

    /// [`Fly::deploy`] that `cancel` resolving (a signal) stops, with its process group.
    pub async fn deploy_until(
        &self,
        args: &[String],
        timeout: Duration,
        on_line: impl FnMut(&Line),
        cancel: impl std::future::Future<Output = &'static str>,
    ) -> Result<Output, FlyError> {
        let rest = args.get(1..).unwrap_or_default();
        let mut fly = self.clone();
        fly.env
            .push((FLY_EMIT_RELEASE_JSON.to_owned(), "1".to_owned()));
        fly.run_until(rest, timeout, on_line, cancel).await
    }
}

/// Makes `fly deploy` (v0.4.56+) print the release it made as one JSON line on success.
pub const FLY_EMIT_RELEASE_JSON: &str = "FLY_EMIT_RELEASE_JSON";

/// The release a successful `fly deploy` reported, found among its human stdout lines (the last
/// line starting with `{"id"` that parses); `None` from an older flyctl.
pub fn emitted_release(output: &Output) -> Option<EmittedRelease> {
    output
        .lines
        .iter()
        .rev()
        .filter(|line| line.stream == Stream::Stdout)
        .map(|line| line.text.trim())
        .filter(|text| text.starts_with("{\"id\""))
        .find_map(|text| serde_json::from_str(text).ok())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub fn parse_releases(json: &str) -> Result<Vec<Release>, FlyError> {
    let mut releases: Vec<Release> = parse_json(json, "fly releases --json")
        .map(|v: Option<Vec<Release>>| v.unwrap_or_default())?;
    releases.sort_by_key(|r| std::cmp::Reverse(r.version()));
    Ok(releases)
}

/// Reads the `fly status --json` object; a bare machine array is accepted too.
pub fn parse_status(json: &str) -> Result<AppStatus, FlyError> {
    let value: serde_json::Value = parse_json(json, "fly status --json")?;
    if value.is_array() {
        return Ok(AppStatus {
            machines: from_value(value, "fly status --json")?,
            ..AppStatus::default()
        });
    }
    from_value(value, "fly status --json")
}

pub fn parse_machines(json: &str) -> Result<Vec<Machine>, FlyError> {
    parse_json(json, "fly machine list --json").map(|v: Option<Vec<Machine>>| v.unwrap_or_default())
}

/// Parses the JSON document in `text`, skipping any human lines flyctl printed before it.
fn parse_json<T: serde::de::DeserializeOwned>(text: &str, command: &str) -> Result<T, FlyError> {
    let start = text.find(['[', '{']).ok_or_else(|| FlyError::Unparsable {
        command: command.to_owned(),
        detail: "no JSON in the output".to_owned(),
    })?;
    serde_json::from_str(&text[start..]).map_err(|e| FlyError::Unparsable {
        command: command.to_owned(),
        detail: e.to_string(),
    })
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    command: &str,
) -> Result<T, FlyError> {
    serde_json::from_value(value).map_err(|e| FlyError::Unparsable {
        command: command.to_owned(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shapes of flyctl's JSON (fly-go v0.9.6), with an unknown status added.
    const RELEASES: &str = r#"Some human line flyctl printed first
[
    {
        "ID": "rel_1", "Version": 41, "Stable": true, "InProgress": false, "Reason": "",
        "Description": "Deploy image", "Status": "complete", "DeploymentStrategy": "",
        "Metadata": null,
        "User": {"ID": "U1", "Name": "Me", "Email": "me@example.com", "EnablePaidHobby": false},
        "EvaluationID": "", "CreatedAt": "2026-08-12T16:21:00Z",
        "ImageRef": "registry.fly.io/myapp:deployment-01H"
    },
    {
        "ID": "rel_2", "Version": 42, "Stable": false, "Status": "pending_review",
        "User": null, "CreatedAt": "not a time", "ImageRef": ""
    }
]"#;

    const MACHINE: &str = r#"{
        "id": "148e21ea7e3589", "name": "red-sun", "state": "started", "region": "iad",
        "image_ref": {"registry": "registry.fly.io", "repository": "myapp", "tag": "deployment-01H",
                      "digest": "sha256:abc", "labels": {"fly.version": "1"}},
        "instance_id": "01J", "version": "01J", "private_ip": "fdaa:0:1::2",
        "config": {"image": "registry.fly.io/myapp:deployment-01H", "env": {}, "guest": {},
                   "metadata": {"fly_release_version": "42", "fly_process_group": "app"},
                   "services": [], "checks": {}, "restart": {}},
        "events": [{"type": "start", "status": "started", "source": "flyd", "timestamp": 1712345678901}],
        "checks": [{"name": "servicecheck-00-http-8080", "status": "passing", "output": "OK",
                    "updated_at": "2026-08-12T16:21:00Z"}],
        "nonce": "n", "host_status": "ok", "cordoned": false, "containers": []
    }"#;

    #[test]
    fn the_emitted_release_line_is_found_among_human_lines() {
        let line = |stream, text: &str| Line {
            stream,
            text: text.to_owned(),
        };
        let output = Output {
            lines: vec![
                line(Stream::Stdout, "==> Verifying app config"),
                line(Stream::Stderr, r#"{"id":"not","version":1}"#),
                line(Stream::Stdout, r#"{"id":"broken"#),
                line(
                    Stream::Stdout,
                    r#"{"id":"rel_7","version":7,"image_ref":"registry.fly.io/app:d7"}"#,
                ),
                line(Stream::Stdout, "Visit your newly deployed app"),
            ],
        };
        assert_eq!(
            emitted_release(&output),
            Some(EmittedRelease {
                id: Some("rel_7".into()),
                version: Some(7),
                image_ref: Some("registry.fly.io/app:d7".into()),
            })
        );
        assert_eq!(emitted_release(&Output::default()), None);
    }

    #[test]
    fn releases_parse_newest_first_keeping_unknown_statuses() {
        let releases = parse_releases(RELEASES).expect("parses");
        assert_eq!(releases[0].version(), 42);
        assert_eq!(
            releases[0].status,
            ReleaseStatus::Other("pending_review".to_owned())
        );
        assert_eq!(releases[0].image_ref, None);
        assert_eq!(releases[0].created_at, None);
        assert_eq!(releases[1].status, ReleaseStatus::Complete);
        assert_eq!(
            releases[1].user.as_ref().and_then(|u| u.email.as_deref()),
            Some("me@example.com")
        );
        assert_eq!(
            releases[1].image_ref.as_deref(),
            Some("registry.fly.io/myapp:deployment-01H")
        );
        assert!(releases[1].created_at.is_some());
    }

    #[test]
    fn machines_parse_with_image_version_and_checks() {
        let machines = parse_machines(&format!("[{MACHINE}]")).expect("parses");
        let machine = &machines[0];
        assert_eq!(machine.state, MachineState::Started);
        assert_eq!(
            machine.image().as_deref(),
            Some("registry.fly.io/myapp:deployment-01H@sha256:abc")
        );
        assert_eq!(machine.release_version(), Some(42));
        assert_eq!(machine.process_group(), Some("app"));
        assert!(machine.checks_passing());
    }

    #[test]
    fn status_parses_pascal_case_with_snake_case_machines() {
        let json = format!(
            r#"{{"AppURL": "", "Deployed": true, "Hostname": "myapp.fly.dev", "ID": "myapp",
                "Machines": [{MACHINE}], "Name": "myapp",
                "Organization": {{"Slug": "personal"}}, "PlatformVersion": "machines",
                "Status": "deployed", "Version": 42}}"#
        );
        let status = parse_status(&json).expect("parses");
        assert_eq!(status.version, Some(42));
        assert_eq!(status.machines.len(), 1);
        assert_eq!(
            parse_status(&format!("[{MACHINE}]"))
                .expect("bare")
                .machines
                .len(),
            1
        );
    }

    #[test]
    fn image_falls_back_to_config_and_odd_states_stay_text() {
        let json = r#"[{"id": "m1", "state": "launching", "image_ref": {"registry": "", "repository": ""},
                        "config": {"image": "registry.fly.io/myapp@sha256:def"},
                        "checks": [{"name": "c", "status": "critical"}]},
                       {"id": "m2", "checks": null, "config": null}]"#;
        let machines = parse_machines(json).expect("parses");
        assert_eq!(
            machines[0].state,
            MachineState::Other("launching".to_owned())
        );
        assert_eq!(
            machines[0].image().as_deref(),
            Some("registry.fly.io/myapp@sha256:def")
        );
        assert!(!machines[0].checks_passing());
        assert!(!machines[1].checks_passing(), "no results means not yet");
        assert_eq!(machines[1].image(), None);
    }

    #[test]
    fn machine_kinds_parse_standbys_services_checks_and_autostop() {
        let json = r#"[
            {"id": "a", "state": "stopped", "config": {
                "metadata": {"fly_process_group": "app", "fly_platform_version": "v2"},
                "services": [{"internal_port": 8080, "autostop": "suspend", "autostart": true,
                              "checks": [{"type": "http", "port": 8080, "path": "/"}]},
                             {"internal_port": 9090, "autostop": false,
                              "checks": [{"type": "tcp"}, {"type": "tcp"}]}],
                "checks": {"alive": {"type": "http"}}}},
            {"id": "s", "state": "stopped", "config": {
                "metadata": {"fly_process_group": "worker"}, "standbys": ["w1"]}},
            {"id": "r", "state": "stopped", "config": {"metadata": {"process_group": "release_command"}}},
            {"id": "u", "state": "unknown", "host_status": "unreachable", "incomplete_config": {
                "metadata": {"fly_process_group": "app", "fly_release_version": "9"}}},
            {"id": "x", "config": {"services": [{"autostop": 3}], "standbys": "w1", "checks": []}}
        ]"#;
        let machines = parse_machines(json).expect("parses");
        let config = machines[0].config.as_ref().expect("config");
        assert_eq!(config.services[0].autostop, Some(Autostop::Suspend));
        assert_eq!(config.services[1].autostop, Some(Autostop::Off));
        assert_eq!(machines[0].configured_checks(), 4);
        assert!(machines[0].autoscaled() && machines[0].on_apps_platform());
        assert_eq!(machines[1].standby_for(), ["w1"]);
        assert!(!machines[1].on_apps_platform());
        assert!(machines[2].is_release_command());
        assert_eq!(machines[2].process_group(), Some("release_command"));
        assert_eq!(machines[3].process_group(), Some("app"));
        assert_eq!(machines[3].release_version(), Some(9));
        // Odd shapes read as absent, never as an error.
        assert_eq!(
            machines[4].config.as_ref().expect("config").services[0].autostop,
            None
        );
        assert!(machines[4].standby_for().is_empty());
        assert_eq!(machines[4].configured_checks(), 0);
        assert!(!machines[4].autoscaled());
    }

    #[test]
    fn garbage_is_unparsable_naming_the_command() {
        let error = parse_releases("Error: not json").expect_err("no JSON");
        assert!(error.to_string().contains("fly releases --json"), "{error}");
    }
}
