//! `shipgate init`: writes the deploy policy (`.github/shipgate.yml`) and the four workflows into
//! a repository, all of them or none. The workflows are the templates of `workflows-templates/`,
//! embedded as they are; the policy is filled from the flags and the default branch's required
//! checks (read through the same edge as `checks`), then validated as `config validate` would.

use crate::words::plural;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::github::{self as run_github};
use super::{gather, Context, Output, RunError};
use crate::cli::InitArgs;
use crate::config::{self, ChecksPolicy, ConfigError};
use crate::facts::Readable;

/// The policy template; `{name}` fields are filled with YAML-quoted values.
const CONFIG_TEMPLATE: &str = include_str!("shipgate.yml");

/// The workflows `init` writes, by path in the repository: the templates, byte for byte.
const WORKFLOWS: [(&str, &str); 4] = [
    (
        ".github/workflows/deploy-production.yml",
        include_str!("../../../workflows-templates/deploy-production.yml"),
    ),
    (
        ".github/workflows/deploy-staging.yml",
        include_str!("../../../workflows-templates/deploy-staging.yml"),
    ),
    (
        ".github/workflows/pr-readiness.yml",
        include_str!("../../../workflows-templates/pr-readiness.yml"),
    ),
    (
        ".github/workflows/rollback-production.yml",
        include_str!("../../../workflows-templates/rollback-production.yml"),
    ),
];

/// The check run `gate` completes: branch rules may require it, the policy never lists it.
const GATE_CHECK: &str = "shipgate";

/// Where the required checks of the policy came from.
#[derive(Debug, PartialEq, Eq)]
enum Checks {
    /// `--checks`, or read from the default branch.
    Listed(Vec<String>),
    /// Not known: the file gets a commented placeholder; the reason is said.
    Placeholder(String),
}

/// `shipgate init`.
pub fn init(
    context: &Context<'_>,
    args: &InitArgs,
    repo: Option<&str>,
) -> Result<Output, RunError> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(RunError::input(
            format!("{} is not a directory", dir.display()),
            "run `shipgate init` in the repository's root, or pass --dir PATH",
        ));
    }
    let checks = match &args.checks {
        Some(names) => Checks::Listed(clean(names.iter().map(String::as_str))),
        None => super::block_on(read_checks(context, repo))?,
    };
    let policy = render_policy(args, &checks)?;

    // `./.github/...` reads better as `.github/...`.
    let place = |path: &str| match dir.as_os_str() == "." {
        true => PathBuf::from(path),
        false => dir.join(path),
    };
    let mut files: Vec<(PathBuf, &str)> = vec![(place(config::DEFAULT_PATH), &policy)];
    files.extend(WORKFLOWS.iter().map(|(path, text)| (place(path), *text)));
    let existing: Vec<String> = files
        .iter()
        .filter(|(path, _)| path.exists())
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        return Err(RunError::Input {
            message: format!(
                "{} {} already exist{}: {}; nothing was written",
                existing.len(),
                plural(existing.len(), "file"),
                if existing.len() == 1 { "s" } else { "" },
                existing.join(", ")
            ),
            hints: vec!["pass --force to overwrite them, or move them away first".to_owned()],
        });
    }
    write_all(&files)?;

    let reporter = context.reporter;
    for (path, _) in &files {
        reporter.progress(&format!("wrote {}", path.display()));
    }
    match &checks {
        Checks::Listed(names) if names.is_empty() => {
            reporter.warning("no required checks: the policy requires none besides the branch rules; list them under `checks.required`");
        }
        Checks::Listed(names) => reporter.progress(&format!(
            "required checks: {}",
            names.join(", ")
        )),
        Checks::Placeholder(why) => reporter.warning(&format!(
            "{why}: `checks.required` is a commented placeholder in {}; list your CI's checks there (or run again with --checks NAME,...)",
            config::DEFAULT_PATH
        )),
    }
    for step in next_steps(args) {
        reporter.progress(&format!("next: {step}"));
    }
    Ok(Output::Text {
        text: String::new(),
        exit_code: 0,
    })
}

/// What is left to do on GitHub and Fly, in order.
fn next_steps(args: &InitArgs) -> Vec<String> {
    vec![
        "create the environments (Settings > Environments): `production` with required reviewers, `staging`, and `production-rollback` without reviewers; limit each one's deployment branches to main".to_owned(),
        format!(
            "set the secret FLY_API_TOKEN in each environment: a deploy token of its app (`fly tokens create deploy -a {}` for production and -rollback, `-a {}` for staging); SHIPGATE_WEBHOOK_URL too if you notify a webhook",
            args.app, args.staging_app
        ),
        format!("require the check `{GATE_CHECK}` in the default branch's rules (a ruleset or branch protection)"),
        "pin `shipgate/shipgate@v1` in the workflows to the release's commit SHA (how: the top of each workflow)".to_owned(),
        "check: `shipgate config validate` and `shipgate plan --environment production --offline`; then commit and push to main".to_owned(),
    ]
}

/// The default branch's required checks (rulesets and branch protection), as `checks` reads
/// them; a placeholder when there is no token or repository, or GitHub would not say.
async fn read_checks(context: &Context<'_>, repo: Option<&str>) -> Result<Checks, RunError> {
    if context.ambient.github_token.is_none() {
        return Ok(Checks::Placeholder(
            "no GITHUB_TOKEN or GH_TOKEN to read the default branch's required checks".to_owned(),
        ));
    }
    let Some(repo) = repo.and_then(crate::github::gather::Repo::parse) else {
        return Ok(Checks::Placeholder(
            "no --repo or GITHUB_REPOSITORY to read the required checks of".to_owned(),
        ));
    };
    context.reporter.progress(&format!(
        "reading the required checks of {repo}'s default branch"
    ));
    let client = run_github::client(context.ambient, &repo, Duration::from_secs(60))?;
    let policy = ChecksPolicy {
        required: Vec::new(),
        from_branch_rules: true,
        ignore: Vec::new(),
        wait: Duration::ZERO,
        interval: Duration::from_secs(15),
    };
    let rules = gather::required_rules(&client, &repo, &policy, None).await?;
    let mut names = Vec::new();
    let mut unknown = Vec::new();
    for (source, readable) in [
        ("rulesets", &rules.rulesets),
        ("branch protection", &rules.protection),
    ] {
        match readable {
            Readable::Read(contexts) => names.extend(contexts.iter().map(|c| c.context.as_str())),
            Readable::Unknown(why) | Readable::NotAsked(why) => {
                unknown.push(format!("{source}: {why}"));
            }
        }
    }
    let names = clean(names);
    if names.is_empty() && !unknown.is_empty() {
        return Ok(Checks::Placeholder(format!(
            "the default branch's required checks could not be read ({})",
            unknown.join("; ")
        )));
    }
    for why in &unknown {
        context.reporter.warning(&format!("not read: {why}"));
    }
    Ok(Checks::Listed(names))
}

/// Trimmed, without empties, duplicates and the gate's own check; in the order given.
fn clean<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != GATE_CHECK && seen.insert(*name))
        .map(str::to_owned)
        .collect()
}

/// The policy from the template, validated as `config validate` validates it: a bad flag value
/// is named by its flag.
fn render_policy(args: &InitArgs, checks: &Checks) -> Result<String, RunError> {
    let checks = match checks {
        Checks::Listed(names) => format!(
            "  # The CI checks a commit needs before it deploys.\n  required: [{}]",
            names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ")
        ),
        Checks::Placeholder(_) => "  # TODO: the CI checks a commit needs before it deploys, e.g.\n  #   required: [build, test]\n  required: []".to_owned(),
    };
    let url = |app: &str| quote(&format!("https://{app}.fly.dev"));
    let text = CONFIG_TEMPLATE
        .replace("{checks}", &checks)
        .replace("{timezone}", &quote(&args.timezone))
        .replace("{staging_app}", &quote(&args.staging_app))
        .replace("{staging_url}", &url(&args.staging_app))
        .replace("{app}", &quote(&args.app))
        .replace("{url}", &url(&args.app));
    match config::parse(Path::new(config::DEFAULT_PATH), &text) {
        Ok(_) => Ok(text),
        Err(ConfigError::Invalid { diagnostics, .. }) => {
            let flag = |message: &str| {
                [
                    ("windows.timezone", "--timezone"),
                    ("environments.staging.app", "--staging-app"),
                    ("environments.staging.url", "--staging-app"),
                    ("environments.production.app", "--app"),
                    ("environments.production.url", "--app"),
                    ("checks.required", "--checks"),
                ]
                .into_iter()
                .find(|(path, _)| message.starts_with(path))
                .map(|(path, flag)| (path.len(), flag))
            };
            let first = diagnostics.first();
            let (message, hint) = match first {
                Some(d) => match flag(&d.message) {
                    Some((skip, flag)) => (
                        format!(
                            "{flag}: {}",
                            d.message[skip..].trim_start_matches([':', ' '])
                        ),
                        d.hint.clone(),
                    ),
                    None => (d.message.clone(), d.hint.clone()),
                },
                None => ("the policy would be invalid".to_owned(), String::new()),
            };
            let mut hints = vec![hint];
            hints.extend(
                diagnostics
                    .iter()
                    .skip(1)
                    .map(|d| format!("also: {} ({})", d.message, d.hint)),
            );
            Err(RunError::Input {
                message: format!("{message}; nothing was written"),
                hints,
            })
        }
        Err(error) => Err(RunError::Config(error)),
    }
}

/// A YAML scalar that reads back as exactly `text`: a JSON string is a YAML double-quoted one.
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// Writes every file or none: each goes to a temporary file beside it first, and only when all
/// are written are they renamed into place.
fn write_all(files: &[(PathBuf, &str)]) -> Result<(), RunError> {
    let fail = |path: &Path, error: std::io::Error| {
        RunError::input(
            format!("cannot write {}: {error}", path.display()),
            "check that the directory is writable; nothing was written",
        )
    };
    let mut staged: Vec<(tempfile::NamedTempFile, &Path)> = Vec::new();
    for (path, text) in files {
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| fail(path, e))?;
        let mut temp = tempfile::NamedTempFile::new_in(parent).map_err(|e| fail(path, e))?;
        std::io::Write::write_all(&mut temp, text.as_bytes()).map_err(|e| fail(path, e))?;
        staged.push((temp, path));
    }
    for (temp, path) in staged {
        temp.persist(path).map_err(|e| fail(path, e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(timezone: &str) -> InitArgs {
        InitArgs {
            app: "hotdash-production".to_owned(),
            staging_app: "hotdash-staging".to_owned(),
            timezone: timezone.to_owned(),
            checks: None,
            dir: PathBuf::from("."),
            force: false,
        }
    }

    #[test]
    fn the_policy_reads_back_with_the_flags_values() {
        let checks = Checks::Listed(vec![
            "build".to_owned(),
            "CI / test: \"unit\" #1".to_owned(),
        ]);
        let text = render_policy(&args("America/New_York"), &checks).expect("valid");
        let config = config::parse(Path::new("p.yml"), &text).expect("parses");
        let production = config.environment("production").expect("production");
        assert_eq!(production.app, "hotdash-production");
        assert_eq!(
            production.checks.required,
            ["build", "CI / test: \"unit\" #1"]
        );
        let windows = production.windows.as_ref().expect("production has windows");
        assert_eq!(windows.timezone, chrono_tz::America::New_York);
        assert_eq!(
            config.environment("staging").expect("staging").app,
            "hotdash-staging"
        );
    }

    #[test]
    fn a_placeholder_is_a_comment_and_no_requirement() {
        let text =
            render_policy(&args("UTC"), &Checks::Placeholder("why".to_owned())).expect("valid");
        assert!(text.contains("#   required: [build, test]"), "{text}");
        let config = config::parse(Path::new("p.yml"), &text).expect("parses");
        assert!(config
            .environment("production")
            .expect("production")
            .checks
            .required
            .is_empty());
    }

    #[test]
    fn a_bad_value_is_named_by_its_flag() {
        let Err(RunError::Input { message, hints }) =
            render_policy(&args("Mars/Olympus"), &Checks::Listed(Vec::new()))
        else {
            panic!("a bad time zone is refused");
        };
        assert!(message.starts_with("--timezone: "), "{message}");
        assert!(message.contains("Mars/Olympus"), "{message}");
        assert!(!hints[0].is_empty());
    }

    #[test]
    fn checks_are_cleaned_in_order() {
        assert_eq!(
            clean([" test", "build", "", "test", "shipgate", "lint "]),
            ["test", "build", "lint"]
        );
    }

    #[test]
    fn every_template_is_written() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows-templates");
        let mut templates: Vec<String> = std::fs::read_dir(dir)
            .expect("workflows-templates/")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".yml"))
            .collect();
        templates.sort();
        let written: Vec<&str> = WORKFLOWS
            .iter()
            .filter_map(|(path, _)| Path::new(path).file_name()?.to_str())
            .collect();
        assert_eq!(templates, written);
    }
}
