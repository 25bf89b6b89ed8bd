//! What the GitHub Actions runner does around a container action, for tests that run the action
//! the way a workflow does: how it names inputs (`INPUT_<NAME>`), fills their defaults from
//! `action.yml`, sets the run context (`GITHUB_*`), and how it reads `GITHUB_OUTPUT` afterwards.
//!
//! The parser follows `actions/runner`'s `src/Runner.Worker/FileCommandManager.cs`
//! (`EnvFileKeyValuePairs`, shared by `GITHUB_OUTPUT`, `GITHUB_ENV` and `GITHUB_STATE`) as the
//! Linux runner runs it.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// Parses a `GITHUB_OUTPUT` file the way the runner does after the step, into name → value (a
/// later value of a name replaces an earlier one, as `SetOutput` does).
///
/// The rules, from `EnvFileKeyValuePairs` on Linux:
/// - Lines end at `\n` only: a `\r` before it is part of the line (the runner recognises `\r\n`
///   only when built for Windows). So in a CRLF file a `NAME=VALUE` value keeps its `\r`, a
///   heredoc's delimiter is `DELIM\r` and each value line keeps its `\r`, and a blank `\r` line is
///   not empty but an invalid line.
/// - Empty lines are skipped. Every other line is `NAME=VALUE` or `NAME<<DELIM`, whichever of `=`
///   and `<<` comes first; a line with neither is an error.
/// - A heredoc value is the text of the following lines up to (not including) the newline before
///   the first line exactly equal to `DELIM`. No such line: "Matching delimiter not found". A
///   value line that ends the file without a newline: "EOF marker missing new line" (the
///   delimiter line itself may end the file without one).
/// - `NAME<<DELIM` with an empty name or delimiter is an error. So is `=VALUE` here; the runner
///   means to reject it too ("Name must not be empty") but its check tests the whole line instead
///   of the name, so it would set an output named "": never what an action means to write.
pub fn parse_file_commands(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    let mut at = 0;
    while let Some((line, _)) = read_line(text, &mut at) {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(format!("Invalid format '{line}'. Name must not be empty"));
                }
                values.insert(name.to_owned(), value.to_owned());
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!(
                        "Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
                    ));
                }
                let start = at;
                let mut end = at;
                loop {
                    match read_line(text, &mut at) {
                        None => {
                            return Err(format!(
                                "Invalid value. Matching delimiter not found '{delimiter}'"
                            ))
                        }
                        Some((value_line, _)) if value_line == delimiter => break,
                        Some((_, false)) => {
                            return Err("Invalid value. EOF marker missing new line.".to_owned())
                        }
                        Some((_, true)) => end = at - 1,
                    }
                }
                values.insert(name.to_owned(), text[start..end].to_owned());
            }
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(values)
}

/// The line starting at `*at` (without its `\n`) and whether a `\n` ended it; moves `*at` past it.
fn read_line<'t>(text: &'t str, at: &mut usize) -> Option<(&'t str, bool)> {
    let rest = text.get(*at..).filter(|rest| !rest.is_empty())?;
    match rest.find('\n') {
        Some(n) => {
            *at += n + 1;
            Some((&rest[..n], true))
        }
        None => {
            *at = text.len();
            Some((rest, false))
        }
    }
}

/// The variable the runner passes an input as: `INPUT_` + the name with spaces turned into `_`,
/// upper-cased; hyphens are kept (`dry-run` → `INPUT_DRY-RUN`).
pub fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// `INPUT_*` variables for these (name, value) inputs, values untouched (the runner does not trim).
pub fn input_env(inputs: &[(&str, &str)]) -> Vec<(String, String)> {
    inputs
        .iter()
        .map(|(name, value)| (input_variable(name), (*value).to_owned()))
        .collect()
}

/// Every input `action.yml` declares, as the runner passes them to the container: the given
/// value, else the declared default (`${{ github.token }}` evaluated to `github_token`; an input
/// without a default is passed as empty). Errors on an input `action.yml` does not declare and on
/// a default using another expression.
pub fn action_inputs(
    action_yml: &str,
    given: &[(&str, &str)],
    github_token: &str,
) -> Result<Vec<(String, String)>, String> {
    let action: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(action_yml).map_err(|e| format!("action.yml: {e}"))?;
    let declared = action["inputs"]
        .as_mapping()
        .ok_or("action.yml declares no inputs")?;
    let mut names = Vec::new();
    for (name, input) in declared {
        let name = name.as_str().ok_or("an input name is not a string")?;
        let default = match &input["default"] {
            serde_yaml_ng::Value::Null => String::new(),
            serde_yaml_ng::Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other)
                .map_err(|e| e.to_string())?
                .trim_end()
                .to_owned(),
        };
        names.push((name.to_owned(), default));
    }
    if let Some((unknown, _)) = given
        .iter()
        .find(|(name, _)| !names.iter().any(|(n, _)| n == name))
    {
        return Err(format!("action.yml declares no input {unknown:?}"));
    }
    names
        .into_iter()
        .map(|(name, default)| {
            let value = match given.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => (*value).to_owned(),
                None if default.trim() == "${{ github.token }}" => github_token.to_owned(),
                None if default.contains("${{") => {
                    return Err(format!("input {name}: cannot evaluate {default:?}"))
                }
                None => default,
            };
            Ok((input_variable(&name), value))
        })
        .collect()
}

/// The run context the runner sets for every step (`GITHUB_*`, the ones shipgate reads).
#[derive(Clone, Debug)]
pub struct RunContext {
    pub event_name: String,
    pub repository: String,
    /// `GITHUB_SHA`: on pull_request events a merge commit, not the PR's head.
    pub sha: String,
    pub git_ref: String,
    pub api_url: String,
    pub server_url: String,
    pub run_id: String,
    pub actor: String,
    pub job: String,
}

impl RunContext {
    /// A context for `event_name` in `repository`, against the API at `api_url`.
    pub fn new(
        event_name: &str,
        repository: &str,
        sha: &str,
        git_ref: &str,
        api_url: &str,
    ) -> Self {
        RunContext {
            event_name: event_name.to_owned(),
            repository: repository.to_owned(),
            sha: sha.to_owned(),
            git_ref: git_ref.to_owned(),
            api_url: api_url.to_owned(),
            server_url: "https://github.com".to_owned(),
            run_id: "16200000001".to_owned(),
            actor: "octocat".to_owned(),
            job: "gate".to_owned(),
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let owner = self.repository.split('/').next().unwrap_or_default();
        [
            ("GITHUB_EVENT_NAME", self.event_name.as_str()),
            ("GITHUB_REPOSITORY", &self.repository),
            ("GITHUB_REPOSITORY_OWNER", owner),
            ("GITHUB_SHA", &self.sha),
            ("GITHUB_REF", &self.git_ref),
            ("GITHUB_API_URL", &self.api_url),
            ("GITHUB_SERVER_URL", &self.server_url),
            ("GITHUB_RUN_ID", &self.run_id),
            ("GITHUB_RUN_NUMBER", "1"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_ACTOR", &self.actor),
            ("GITHUB_TRIGGERING_ACTOR", &self.actor),
            ("GITHUB_JOB", &self.job),
            ("GITHUB_WORKFLOW", "shipgate"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }
}

/// `docker run` / `podman run` options passing these variables the way the runner does: `-e NAME`
/// only, the value taken from the environment of the `run` process (so secrets never appear on
/// a command line). Set the same pairs on that process with [`std::process::Command::envs`].
pub fn env_options(vars: &[(String, String)]) -> Vec<String> {
    vars.iter()
        .flat_map(|(name, _)| ["-e".to_owned(), name.clone()])
        .collect()
}
