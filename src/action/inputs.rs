//! The action's inputs: the table `action.yml` declares, how the runner passes them
//! (`INPUT_<NAME>`, hyphens kept, values untrimmed, `required` not enforced), and their mapping
//! onto the CLI's own argument vector, which clap then parses exactly as for a terminal: one
//! validated path for CLI and action. Pure: no IO.

use std::collections::BTreeMap;
use std::ffi::OsString;

use serde_json::Value;

/// What kind of value an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    /// `true` (the config's `checks.wait`), `false` (no wait) or a duration.
    Wait,
    Secret,
}

/// One input of `action.yml`.
#[derive(Debug, Clone, Copy)]
pub struct Input {
    pub name: &'static str,
    /// The default as `action.yml` declares it (the runner fills it in when the input is unset).
    pub default: &'static str,
    pub kind: Kind,
    /// The commands that use it; empty: all.
    pub used_by: &'static [&'static str],
}

/// The commands the `command` input accepts.
pub const COMMANDS: &[&str] = &[
    "plan",
    "checks",
    "window",
    "gate",
    "readiness",
    "deploy",
    "rollback",
    "health",
];

/// Every input of `action.yml`, in its order. A test holds `action.yml`, the README's usage block
/// and this list together.
pub const INPUTS: &[Input] = &[
    Input {
        name: "command",
        default: "",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "environment",
        default: "",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "ref",
        default: "",
        kind: Kind::Text,
        used_by: &["plan", "checks", "gate", "readiness", "deploy"],
    },
    Input {
        name: "reason",
        default: "",
        kind: Kind::Text,
        used_by: &["window", "deploy", "rollback"],
    },
    Input {
        name: "emergency",
        default: "false",
        kind: Kind::Bool,
        used_by: &["window", "deploy"],
    },
    Input {
        name: "skip-staging",
        default: "false",
        kind: Kind::Bool,
        used_by: &["deploy"],
    },
    Input {
        name: "image",
        default: "",
        kind: Kind::Text,
        used_by: &["deploy"],
    },
    Input {
        name: "to",
        default: "",
        kind: Kind::Text,
        used_by: &["rollback"],
    },
    Input {
        name: "config",
        default: ".github/shipgate.yml",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "github-token",
        default: "${{ github.token }}",
        kind: Kind::Secret,
        used_by: &[],
    },
    Input {
        name: "fly-api-token",
        default: "",
        kind: Kind::Secret,
        used_by: &["deploy", "rollback", "health"],
    },
    Input {
        name: "comment",
        default: "false",
        kind: Kind::Bool,
        used_by: &["readiness"],
    },
    Input {
        name: "check-run",
        default: "false",
        kind: Kind::Bool,
        used_by: &["readiness"],
    },
    Input {
        name: "check-name",
        default: "shipgate",
        kind: Kind::Text,
        used_by: &["gate"],
    },
    Input {
        name: "wait",
        default: "true",
        kind: Kind::Wait,
        used_by: &["checks", "gate"],
    },
    Input {
        name: "dry-run",
        default: "false",
        kind: Kind::Bool,
        used_by: &["deploy"],
    },
    Input {
        name: "record",
        default: "",
        kind: Kind::Text,
        used_by: &["deploy", "rollback"],
    },
];

/// The runner's environment name of an input: spaces to `_`, upper case, hyphens kept.
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.replace(' ', "_").to_uppercase())
}

/// A bad input: exit 2, with an `::error::` naming the input and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
    pub hint: String,
}

impl InputError {
    fn new(input: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError {
            input: input.to_owned(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// The inputs as the container received them, by input name.
#[derive(Default, Clone)]
pub struct Inputs {
    values: BTreeMap<String, String>,
}

/// The values of secret inputs (`github-token`, `fly-api-token`) never print.
impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |name: &str| {
            INPUTS
                .iter()
                .any(|input| input.name == name && input.kind == Kind::Secret)
        };
        f.debug_map()
            .entries(self.values.iter().map(|(name, value)| {
                (
                    name,
                    if secret(name) {
                        "[redacted]"
                    } else {
                        value.as_str()
                    },
                )
            }))
            .finish()
    }
}

impl Inputs {
    /// From `INPUT_*` variables: names are matched back to the inputs of [`INPUTS`].
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let by_env: BTreeMap<String, &str> = INPUTS
            .iter()
            .map(|input| (env_name(input.name), input.name))
            .collect();
        let values = vars
            .into_iter()
            .filter_map(|(key, value)| by_env.get(&key).map(|name| ((*name).to_owned(), value)))
            .collect();
        Inputs { values }
    }

    /// An input's value, trimmed (the runner does not trim; a stray space or newline from a YAML
    /// block scalar must not change the meaning). Unset means its default.
    pub fn get(&self, name: &str) -> &str {
        // A default that is an expression (`${{ github.token }}`) is the runner's to fill in.
        self.values.get(name).map_or_else(
            || {
                INPUTS
                    .iter()
                    .find(|i| i.name == name)
                    .map_or("", |i| i.default)
                    .split("${{")
                    .next()
                    .unwrap_or_default()
            },
            |v| v.trim(),
        )
    }

    fn set(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    fn flag(&self, name: &str) -> Result<bool, InputError> {
        match self.get(name) {
            "" => Ok(false),
            text => boolean(text).ok_or_else(|| {
                InputError::new(
                    name,
                    format!(
                        "input `{name}` is `{}`, not a boolean",
                        crate::render::one_line(text)
                    ),
                    format!("set `{name}: 'true'` or `{name}: 'false'`"),
                )
            }),
        }
    }
}

/// The YAML 1.2 core schema's booleans, as the toolkit's `getBooleanInput` accepts them.
fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// The commit of the workflow's event: `pull_request.head.sha` on pull-request events (`GITHUB_SHA`
/// is a merge commit there), else `GITHUB_SHA`.
pub fn event_commit(
    event_name: Option<&str>,
    event: &Value,
    github_sha: Option<&str>,
) -> Option<String> {
    let pull_request_event = matches!(
        event_name,
        Some("pull_request" | "pull_request_target" | "pull_request_review")
    );
    if pull_request_event {
        if let Some(sha) = event
            .pointer("/pull_request/head/sha")
            .and_then(Value::as_str)
        {
            return Some(sha.to_owned());
        }
    }
    github_sha.map(str::to_owned)
}

/// Maps the inputs onto the CLI's argument vector (`shipgate --config C --format text COMMAND
/// ...`). Free text is passed as `--flag=value`, so a value that starts with `-` stays a value.
/// `event_commit` is the event's commit, used by `plan`, `checks` and `deploy` without `ref`.
/// Also returns warnings for inputs that the command does not use.
pub fn arguments(
    inputs: &Inputs,
    event_commit: Option<&str>,
) -> Result<(Vec<OsString>, Vec<String>), InputError> {
    let command = inputs.get("command");
    if command.is_empty() {
        return Err(InputError::new(
            "command",
            "input `command` is missing or empty",
            format!("set `command:` to one of {}", COMMANDS.join(", ")),
        ));
    }
    if !COMMANDS.contains(&command) {
        return Err(InputError::new(
            "command",
            format!(
                "input `command` is `{}`, not a shipgate command",
                crate::render::one_line(command)
            ),
            crate::config::suggest(
                &format!("use one of {}", COMMANDS.join(", ")),
                command,
                COMMANDS,
            ),
        ));
    }
    let mut warnings = Vec::new();
    for input in INPUTS {
        let applies = input.used_by.is_empty() || input.used_by.contains(&command);
        let left_default = inputs.get(input.name) == input.default
            || (input.kind == Kind::Bool && inputs.flag(input.name) == Ok(false));
        if !applies && !left_default {
            warnings.push(format!(
                "input `{}` is not used by `command: {command}`; it is ignored",
                input.name
            ));
        }
    }
    let mut args: Vec<OsString> = vec!["shipgate".into()];
    let config = inputs.get("config");
    if config.is_empty() {
        return Err(InputError::new(
            "config",
            "input `config` is empty",
            "leave it unset for .github/shipgate.yml, or give the config file's path",
        ));
    }
    args.push(format!("--config={config}").into());
    args.push(command.into());
    let mut push = |flag: &str, value: &str| args.push(format!("--{flag}={value}").into());
    let required = |name: &str, why: &str| -> Result<String, InputError> {
        let value = inputs.get(name);
        if value.is_empty() {
            Err(InputError::new(
                name,
                format!("input `{name}` is missing or empty; `command: {command}` needs it"),
                why.to_owned(),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    let environment_hint = "set `environment:` to an environment of the config, e.g. production";
    let reason_hint = "set `reason:`, e.g. from a workflow_dispatch input: say what ships and why";
    let event_ref = || {
        event_commit.map(str::to_owned).ok_or_else(|| {
            InputError::new(
                "ref",
                "input `ref` is empty and the event names no commit (no GITHUB_SHA)",
                "set `ref:` to a branch, tag or SHA",
            )
        })
    };
    let the_ref = || -> Result<String, InputError> {
        if inputs.set("ref") {
            Ok(inputs.get("ref").to_owned())
        } else {
            event_ref()
        }
    };
    let wait = || -> Result<Option<String>, InputError> {
        match inputs.get("wait") {
            "" => Ok(None),
            text if boolean(text) == Some(true) => Ok(None),
            text if boolean(text) == Some(false) => Ok(Some("0s".to_owned())),
            other => crate::config::duration::parse(other)
                .map(|_| Some(other.to_owned()))
                .map_err(|error| {
                    InputError::new(
                        "wait",
                        format!("input `wait` is `{}`: {error}", crate::render::one_line(other)),
                        "set `wait:` to 'true' (the config's checks.wait), 'false', or a duration such as 90s or 20m",
                    )
                }),
        }
    };
    let environment = inputs.get("environment");
    match command {
        "plan" => {
            push("environment", &required("environment", environment_hint)?);
            push("ref", &the_ref()?);
        }
        "checks" => {
            if !environment.is_empty() {
                push("environment", environment);
            }
            push("ref", &the_ref()?);
            if let Some(wait) = wait()? {
                push("wait", &wait);
            }
        }
        "window" => {
            if !environment.is_empty() {
                push("environment", environment);
            }
            if inputs.flag("emergency")? {
                args.push("--emergency".into());
                args.push(format!("--reason={}", required("reason", reason_hint)?).into());
            }
        }
        "gate" => {
            if inputs.set("ref") {
                push("ref", inputs.get("ref"));
            }
            if !environment.is_empty() {
                push("environment", environment);
            }
            let name = required("check-name", "leave `check-name` unset for `shipgate`")?;
            push("check-name", &name);
            if let Some(wait) = wait()? {
                push("wait", &wait);
            }
        }
        "readiness" => {
            if inputs.set("ref") {
                push("ref", inputs.get("ref"));
            }
            if !environment.is_empty() {
                push("environment", environment);
            }
            if inputs.flag("comment")? {
                args.push("--comment".into());
            }
            if inputs.flag("check-run")? {
                args.push("--check-run".into());
            }
        }
        "health" => {
            push("environment", &required("environment", environment_hint)?);
        }
        "deploy" => {
            push("environment", &required("environment", environment_hint)?);
            push("ref", &the_ref()?);
            push("reason", &required("reason", reason_hint)?);
            let emergency = inputs.flag("emergency")?;
            if emergency {
                args.push("--emergency".into());
            }
            if inputs.flag("skip-staging")? {
                if !emergency {
                    return Err(InputError::new(
                        "skip-staging",
                        "input `skip-staging` is 'true' without `emergency: 'true'`",
                        "skipping staging is an emergency measure: set `emergency: 'true'` and a `reason`",
                    ));
                }
                args.push("--skip-staging".into());
            }
            if inputs.set("image") {
                args.push(format!("--image={}", inputs.get("image")).into());
            }
            if inputs.flag("dry-run")? {
                args.push("--dry-run".into());
            }
            if inputs.set("record") {
                args.push(format!("--record={}", inputs.get("record")).into());
            }
        }
        "rollback" => {
            push("environment", &required("environment", environment_hint)?);
            args.push(format!("--reason={}", required("reason", reason_hint)?).into());
            if inputs.set("to") {
                args.push(format!("--to={}", inputs.get("to")).into());
            }
            if inputs.set("record") {
                args.push(format!("--record={}", inputs.get("record")).into());
            }
        }
        _ => unreachable!("checked against COMMANDS above"),
    }
    // Every boolean is checked, even the ones this command ignores: a typo must not pass silently.
    for input in INPUTS.iter().filter(|i| i.kind == Kind::Bool) {
        inputs.flag(input.name)?;
    }
    Ok((args, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        Inputs::from_env(
            pairs
                .iter()
                .map(|(name, value)| (env_name(name), (*value).to_owned())),
        )
    }

    fn argv(pairs: &[(&str, &str)], commit: Option<&str>) -> Result<Vec<String>, InputError> {
        arguments(&inputs(pairs), commit).map(|(args, _)| {
            args.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn secret_inputs_never_print() {
        let read = inputs(&[("github-token", "ghs_secretvalue123"), ("command", "plan")]);
        let shown = format!("{read:?}");
        assert!(!shown.contains("ghs_secretvalue123"), "{shown}");
        assert!(
            shown.contains("[redacted]") && shown.contains("plan"),
            "{shown}"
        );
    }

    #[test]
    fn input_names_map_as_the_runner_maps_them() {
        assert_eq!(env_name("github-token"), "INPUT_GITHUB-TOKEN");
        assert_eq!(env_name("dry-run"), "INPUT_DRY-RUN");
        let read = Inputs::from_env([
            ("INPUT_DRY-RUN".to_owned(), " true\n".to_owned()),
            ("INPUT_DRY_RUN".to_owned(), "false".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(read.get("dry-run"), "true");
        assert_eq!(read.get("config"), ".github/shipgate.yml");
    }

    #[test]
    fn deploy_maps_onto_the_cli_flags() {
        assert_eq!(
            argv(
                &[
                    ("command", "deploy"),
                    ("environment", "production"),
                    ("reason", "-rf INC-1; $(reboot)"),
                    ("emergency", "True"),
                    ("skip-staging", "TRUE"),
                    ("image", "registry.fly.io/app:v2"),
                    ("dry-run", "true"),
                ],
                Some("abc123")
            )
            .expect("valid"),
            [
                "shipgate",
                "--config=.github/shipgate.yml",
                "deploy",
                "--environment=production",
                "--ref=abc123",
                "--reason=-rf INC-1; $(reboot)",
                "--emergency",
                "--skip-staging",
                "--image=registry.fly.io/app:v2",
                "--dry-run",
            ]
        );
    }

    #[test]
    fn record_maps_onto_deploy_and_rollback() {
        let deploy = argv(
            &[
                ("command", "deploy"),
                ("environment", "production"),
                ("reason", "INC-1"),
                ("record", " deploy-records\n"),
            ],
            Some("abc123"),
        )
        .expect("valid");
        assert_eq!(
            deploy.last().map(String::as_str),
            Some("--record=deploy-records")
        );
        let rollback = argv(
            &[
                ("command", "rollback"),
                ("environment", "production"),
                ("reason", "INC-1"),
                ("record", "-records"),
            ],
            None,
        )
        .expect("valid");
        // A value that starts with `-` stays a value.
        assert_eq!(
            rollback.last().map(String::as_str),
            Some("--record=-records")
        );
        let unset = argv(
            &[
                ("command", "deploy"),
                ("environment", "production"),
                ("reason", "INC-1"),
            ],
            Some("abc123"),
        )
        .expect("valid");
        assert!(
            !unset.iter().any(|a| a.starts_with("--record")),
            "{unset:?}"
        );
        let (_, warnings) = arguments(
            &inputs(&[
                ("command", "plan"),
                ("environment", "production"),
                ("record", "deploy-records"),
            ]),
            Some("abc"),
        )
        .expect("valid");
        assert_eq!(
            warnings,
            ["input `record` is not used by `command: plan`; it is ignored"]
        );
        for args in [deploy, rollback] {
            let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(&args);
            assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err());
        }
    }

    #[test]
    fn every_command_parses_with_the_cli() {
        let cases: &[&[(&str, &str)]] = &[
            &[("command", "plan"), ("environment", "production")],
            &[("command", "checks"), ("wait", "false")],
            &[("command", "checks"), ("wait", "20m"), ("ref", "main")],
            &[
                ("command", "window"),
                ("emergency", "true"),
                ("reason", "INC-9 outage fix"),
            ],
            &[("command", "gate"), ("check-name", "deploy-gate")],
            &[
                ("command", "readiness"),
                ("comment", "true"),
                ("check-run", "true"),
            ],
            &[("command", "health"), ("environment", "staging")],
            &[
                ("command", "rollback"),
                ("environment", "production"),
                ("reason", "INC-9"),
                ("to", "v41"),
            ],
        ];
        for case in cases {
            let args = arguments(&inputs(case), Some("abc")).expect("valid").0;
            let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(&args);
            assert!(parsed.is_ok(), "{case:?}: {:?}", parsed.err());
        }
    }

    #[test]
    fn bad_inputs_name_the_input_and_the_fix() {
        let error = |pairs: &[(&str, &str)]| argv(pairs, Some("abc")).expect_err("invalid");
        let missing = error(&[]);
        assert_eq!(missing.input, "command");
        assert!(missing.message.contains("missing or empty"));
        let blank = error(&[("command", "  ")]);
        assert_eq!(blank.input, "command");
        let unknown = error(&[("command", "deploi")]);
        assert!(
            unknown.hint.contains("did you mean `deploy`"),
            "{unknown:?}"
        );
        let boolean = error(&[
            ("command", "deploy"),
            ("environment", "p"),
            ("reason", "r"),
            ("emergency", "yes-please"),
        ]);
        assert_eq!(boolean.input, "emergency");
        assert!(boolean.message.contains("`yes-please`, not a boolean"));
        assert!(boolean.hint.contains("'true'"));
        // A boolean the command does not use is checked too.
        assert_eq!(
            error(&[
                ("command", "plan"),
                ("environment", "p"),
                ("comment", "yes")
            ])
            .input,
            "comment"
        );
        assert_eq!(
            error(&[("command", "deploy"), ("environment", "p")]).input,
            "reason"
        );
        assert_eq!(
            error(&[("command", "deploy"), ("reason", "r")]).input,
            "environment"
        );
        assert_eq!(
            error(&[
                ("command", "deploy"),
                ("environment", "p"),
                ("reason", "r"),
                ("skip-staging", "true")
            ])
            .input,
            "skip-staging"
        );
        assert_eq!(
            error(&[("command", "checks"), ("wait", "forever")]).input,
            "wait"
        );
        assert_eq!(
            argv(&[("command", "checks")], None)
                .expect_err("no commit")
                .input,
            "ref"
        );
    }

    #[test]
    fn inputs_the_command_ignores_are_warned_about() {
        let (_, warnings) = arguments(
            &inputs(&[
                ("command", "plan"),
                ("environment", "p"),
                ("to", "v3"),
                ("dry-run", "false"),
            ]),
            Some("abc"),
        )
        .expect("valid");
        assert_eq!(
            warnings,
            ["input `to` is not used by `command: plan`; it is ignored"]
        );
    }

    #[test]
    fn a_pull_request_event_gates_its_head_not_the_merge_commit() {
        let event = serde_json::json!({"pull_request": {"head": {"sha": "head123"}, "merge_commit_sha": "merge456"}});
        assert_eq!(
            event_commit(Some("pull_request"), &event, Some("merge456")).as_deref(),
            Some("head123")
        );
        assert_eq!(
            event_commit(Some("push"), &event, Some("push789")).as_deref(),
            Some("push789")
        );
    }
}
