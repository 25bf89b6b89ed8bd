//! The steps around a deploy, end to end: the real binary, the fake GitHub and fly, and a real
//! PostgreSQL started by the test (a backup before the deploy, a migration that fails, a restore
//! after a rollback).

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::deploy::{
    config, decision, deploy_args, deploy_with, deployment_states, deployments, github,
    previous_release, Fly, OPEN,
};
use crate::support::health_app::{Behaviour, HealthApp};
use crate::support::postgres::Postgres;

/// A secret a step is given through `${env.NAME}`: it must never be printed.
const DB_SECRET: &str = "s3cr3t-database-password-8c1f";

/// The deploy test's config with a `steps:` block (YAML, indented for the environment).
fn with_steps(app: &HealthApp, steps: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = config(app, OPEN);
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replace(
        "    rollback:\n      direct: true\n",
        &format!("    rollback:\n      direct: true\n    steps:\n{steps}"),
    );
    assert!(text.contains("steps:"), "{text}");
    std::fs::write(&path, text).expect("config");
    (dir, path)
}

/// A tool of the server's version, as a step names it.
fn tool(name: &str) -> String {
    Postgres::bin(name).display().to_string()
}

/// Connection settings for libpq through the step's `env`: the port from shipgate's environment.
const PG_ENV: &str = "{PGHOST: 127.0.0.1, PGPORT: \"${env.TEST_PGPORT}\", PGUSER: postgres, PGDATABASE: postgres, PGPASSWORD: \"${env.TEST_DB_SECRET}\"}";

fn seeded() -> Postgres {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL)");
    pg.psql("INSERT INTO users VALUES (1, 'ada@example.com'), (2, 'grace@example.com')");
    pg
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn run_deploy(pg: &Postgres, path: &Path, fly: &Fly, fake: &FakeGitHubRef) -> Run {
    let port = pg.port().to_string();
    let out = deploy_with(
        fake,
        path,
        fly,
        &deploy_args(),
        &[("TEST_PGPORT", &port), ("TEST_DB_SECRET", DB_SECRET)],
    );
    assert!(
        !out.stdout.contains(DB_SECRET) && !out.stderr.contains(DB_SECRET),
        "a step's secret was printed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

type FakeGitHubRef = crate::support::fake_github::FakeGitHub;

#[test]
fn a_backup_is_taken_and_a_failing_migration_stops_the_deploy_before_fly() {
    let pg = seeded();
    let work = tempfile::tempdir().expect("temp dir");
    let backup = work.path().join("pre-deploy.dump");
    let migration = write(
        work.path(),
        "migrate.sql",
        "BEGIN;\nALTER TABLE users ADD COLUMN plan text;\nUPDATE users SET plan = nosuch;\nCOMMIT;\n",
    );
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let (_dir, path) = with_steps(
        &app,
        &format!(
            "      before_deploy:
        - name: backup
          run: [{pg_dump}, --format=custom, --file, {backup}, --table, users]
          env: {PG_ENV}
        - name: migrate
          run: [{psql}, -X, -v, ON_ERROR_STOP=1, -f, {migration}]
          env: {PG_ENV}
          timeout: 30s
",
            pg_dump = tool("pg_dump"),
            psql = tool("psql"),
            backup = backup.display(),
            migration = migration.display(),
        ),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = run_deploy(&pg, &path, &fly, &fake);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    // fly never ran; the backup is there; the failed migration changed nothing.
    assert!(fly.deploys().is_empty(), "{:?}", fly.calls());
    assert!(std::fs::metadata(&backup).expect("the backup").len() > 0);
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'"),
        "2\n"
    );
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "blocked");
    assert!(
        decision["summary"]
            .as_str()
            .is_some_and(|s| s.contains("before_deploy step `migrate` exited with code 3")),
        "{}",
        decision["summary"]
    );
    let steps = decision["report"]["steps"].as_array().expect("steps");
    let migrate = steps
        .iter()
        .find(|s| s["name"] == "migrate")
        .expect("the migrate step");
    assert_eq!(migrate["command"]["status"], "failed");
    assert_eq!(migrate["command"]["exit_code"], 3);
    assert!(
        migrate["command"]["last_lines"]
            .as_array()
            .expect("last lines")
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("nosuch"))),
        "{migrate}"
    );
    let backup_step = steps
        .iter()
        .find(|s| s["name"] == "backup")
        .expect("backup");
    assert_eq!(backup_step["command"]["status"], "succeeded");
    // The record names the step; nothing else was written.
    assert_eq!(deployments(&fake).len(), 1);
    assert_eq!(deployment_states(&fake), ["in_progress", "failure"]);
    let descriptions = fake.repo(crate::deploy::REPO, |repo| {
        repo.deployment_statuses
            .values()
            .flatten()
            .map(|s| s["description"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    });
    assert!(
        descriptions.iter().any(|d| d.contains("`migrate`")),
        "{descriptions:?}"
    );
}

#[test]
fn a_failed_smoke_test_rolls_back_and_the_database_is_restored() {
    let pg = seeded();
    let work = tempfile::tempdir().expect("temp dir");
    let backup = work.path().join("pre-deploy.dump");
    let migration = write(
        work.path(),
        "migrate.sql",
        "BEGIN;\nALTER TABLE users ADD COLUMN plan text;\nDELETE FROM users WHERE id = 2;\nCOMMIT;\n",
    );
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let (_dir, path) = with_steps(
        &app,
        &format!(
            "      before_deploy:
        - name: backup
          run: [{pg_dump}, --format=custom, --file, {backup}, --table, users]
          env: {PG_ENV}
        - name: migrate
          run: [{psql}, -X, -q, -v, ON_ERROR_STOP=1, -f, {migration}]
          env: {PG_ENV}
      after_deploy:
        - name: smoke tests
          run: [{psql}, -X, -v, ON_ERROR_STOP=1, -c, \"SELECT email FROM users WHERE id = 2 AND 1/(SELECT count(*) - 1 FROM users) > 0\"]
          env: {PG_ENV}
      on_rollback:
        - name: restore
          run: [{pg_restore}, --clean, --if-exists, --single-transaction, --dbname, postgres, {backup}]
          env: {PG_ENV}
",
            pg_dump = tool("pg_dump"),
            psql = tool("psql"),
            pg_restore = tool("pg_restore"),
            backup = backup.display(),
            migration = migration.display(),
        ),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = run_deploy(&pg, &path, &fly, &fake);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rolled_back");
    assert_eq!(fly.deploys().len(), 2, "{:?}", fly.calls());
    let why = decision["report"]["incident"]["why"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.starts_with("after_deploy step `smoke tests` exited with code 1"),
        "{why}"
    );
    // The restore put the table back as the backup had it: both rows, no `plan` column.
    assert_eq!(
        pg.psql("SELECT email FROM users ORDER BY id"),
        "ada@example.com\ngrace@example.com\n"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'"),
        "2\n"
    );
    let names: Vec<&str> = decision["report"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "gates",
            "deployment",
            "record",
            "backup",
            "migrate",
            "fly deploy",
            "health",
            "smoke tests",
            "fly deploy",
            "health",
            "restore"
        ]
    );
}

#[test]
fn a_failing_restore_after_a_rollback_is_rollback_failed() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let (_dir, path) = with_steps(
        &app,
        "      after_deploy:
        - name: smoke tests
          run: [false]
      on_rollback:
        - name: restore
          run: [ls, /no/such/backup.dump]
",
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &[]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rollback_failed");
    assert_eq!(fly.deploys().len(), 2);
    assert!(
        decision["summary"]
            .as_str()
            .is_some_and(|s| s.contains("on_rollback step `restore` exited with code 2")),
        "{}",
        decision["summary"]
    );
    // The rollback's own record says what failed.
    let states = deployment_states(&fake);
    assert_eq!(
        states.iter().filter(|s| *s == "failure").count(),
        2,
        "{states:?}"
    );
}

#[test]
fn a_step_secret_is_masked_and_an_unset_one_stops_the_deploy_before_anything() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let (_dir, path) = with_steps(
        &app,
        "      after_deploy:
        - name: print it
          run: [printenv, TOKEN_FOR_SMOKE]
          env: {TOKEN_FOR_SMOKE: \"token=${env.SMOKE_TOKEN}\"}
        - name: no github token
          run: [printenv, GITHUB_TOKEN]
",
    );
    // Unset: exit 2 before any Deployment or fly call.
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("SMOKE_TOKEN"), "{}", out.stderr);
    assert!(fly.calls().is_empty());
    assert!(deployments(&fake).is_empty());

    // Set: the step prints it, masked; a step never sees shipgate's GitHub token (printenv
    // exits 1 without it, so the second step fails and the deploy rolls back).
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &deploy_args(),
        &[("SMOKE_TOKEN", DB_SECRET)],
    );
    assert!(!out.stdout.contains(DB_SECRET) && !out.stderr.contains(DB_SECRET));
    assert!(out.stderr.contains("token=***"), "{}", out.stderr);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert!(decision["report"]["incident"]["why"]
        .as_str()
        .is_some_and(|w| w.contains("`no github token` exited with code 1")));
}

#[test]
fn bad_steps_are_refused_with_their_location() {
    for (steps, message) in [
        (
            "      before_deploy:\n        - {name: x, run: [echo, \"${commit}\"]}\n",
            "unknown variable `${commit}`",
        ),
        (
            "      before_deploy:\n        - {name: x, run: []}\n",
            "empty argument vector",
        ),
        (
            "      before_deploy:\n        - {name: x, run: [echo, \"${version}\"]}\n",
            "`${version}` is not known before the deploy",
        ),
        (
            "      after_deploy:\n        - {name: x, run: [echo, \"${env.SECRET}\"]}\n",
            "unknown variable `${env.SECRET}`",
        ),
        (
            "      after_deploy:\n        - {name: x, run: [\"npm run smoke\"]}\n",
            "steps never run a shell",
        ),
    ] {
        let app = HealthApp::start();
        let (_dir, path) = with_steps(&app, steps);
        let out = run(with_config(&path).args(["config", "validate"]));
        assert_eq!(out.code, 2, "{steps}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{steps}: {}", out.stderr);
        assert!(out.stderr.contains(".steps."), "located: {}", out.stderr);
    }
}

#[test]
fn a_manual_rollback_runs_the_restore_and_a_restore_needing_the_commit_fails_loudly() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let work = tempfile::tempdir().expect("temp dir");
    let marker = work.path().join("restored");
    let (_dir, path) = with_steps(
        &app,
        &format!(
            "      on_rollback:
        - name: restore
          run: [touch, \"{}-${{previous_version}}-${{version}}\"]
",
            marker.display()
        ),
    );
    let fake = github();
    let fly = crate::deploy::Fly::new("ok", crate::deploy::two_releases());
    let out = crate::deploy::rollback(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The rollback went from v2 to a new release v3 of the old image.
    assert!(
        work.path().join("restored-2-3").exists(),
        "{:?}",
        std::fs::read_dir(work.path()).map(|d| d.count())
    );

    // A manual rollback does not know which deploy's commit it undoes.
    let (_dir, path) = with_steps(
        &app,
        "      on_rollback:
        - name: restore
          run: [echo, \"backups/${sha}.dump\"]
",
    );
    let fake = github();
    let fly = crate::deploy::Fly::new("ok", crate::deploy::two_releases());
    let out = crate::deploy::rollback(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let summary = decision(&out)["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.contains("on_rollback step `restore` could not start")
            && summary.contains("does not know which deploy's commit"),
        "{summary}"
    );
}

#[test]
fn sigterm_during_a_migration_stops_its_process_group_and_nothing_deploys() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let work = tempfile::tempdir().expect("temp dir");
    let started = work.path().join("started");
    let (_dir, path) = with_steps(
        &app,
        &format!(
            "      before_deploy:
        - name: migrate
          run: [python3, -c, \"import pathlib, time; pathlib.Path('{}').write_text('x'); time.sleep(60)\"]
",
            started.display()
        ),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let child = crate::deploy::spawn_deploy_with(&fake, &path, &fly, &[]);
    crate::deploy::terminate_when(&child, || started.exists());
    let out = crate::deploy::finished(child);
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys().is_empty(), "{:?}", fly.calls());
    assert_eq!(deployment_states(&fake), ["in_progress", "error"]);
    // The step's process is gone with its group: nothing still sleeps on the migration.
    let procs = std::process::Command::new("pgrep")
        .args(["-f", &started.display().to_string()])
        .output()
        .expect("pgrep");
    assert!(
        procs.stdout.is_empty(),
        "still running: {}",
        String::from_utf8_lossy(&procs.stdout)
    );
}
