//! GitHub's real JSON shapes, for tests to put in the state (and for the server's own objects).

use serde_json::{json, Value};

use super::util::iso;
use super::{ACTIONS_APP_ID, ACTIONS_BOT_LOGIN, FIXTURE_EPOCH, WEB};

/// The GitHub Actions app object, as on Actions job check runs.
pub fn actions_app() -> Value {
    json!({
        "id": ACTIONS_APP_ID,
        "client_id": "Iv1.05c79e9ad1f6bdfa",
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "owner": {"login": "github", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=",
                  "type": "Organization", "site_admin": false},
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": "https://github.com/apps/github-actions",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2019-12-10T19:04:12Z",
    })
}

/// A GitHub Actions job check run. Timestamps come from the fixed builder clock: started at
/// [`FIXTURE_EPOCH`] + `id` seconds, completed a minute later when `status == "completed"`.
/// `head_sha` and the URLs are filled in by [`Repo::add_check_run`].
pub fn check_run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> Value {
    let mut run = json!({
        "id": id,
        "name": name,
        "node_id": format!("CR_kwDOFAKE{id}"),
        "head_sha": "",
        "external_id": "",
        "url": "",
        "html_url": "",
        "details_url": "",
        "status": status,
        "conclusion": null,
        "started_at": null,
        "completed_at": null,
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": ""},
        "check_suite": {"id": 30_000_000 + id / 1000},
        "app": actions_app(),
        "pull_requests": [],
    });
    set_run_state(&mut run, id, status, conclusion);
    run
}

/// `count` completed, successful check runs named `check 0001`, `check 0002`, ... with ids
/// `first_id`, `first_id + 1`, ...
pub fn bulk_check_runs(first_id: u64, count: usize) -> Vec<Value> {
    (0..count as u64)
        .map(|i| {
            check_run(
                first_id + i,
                &format!("check {:04}", i + 1),
                "completed",
                Some("success"),
            )
        })
        .collect()
}

/// A commit status (`state`: `error|failure|pending|success`), created at [`FIXTURE_EPOCH`] +
/// `id` seconds by `github-actions[bot]`. `url` is filled in by [`Repo::add_status`].
pub fn commit_status(id: u64, context: &str, state: &str) -> Value {
    let at = iso(FIXTURE_EPOCH + id as i64);
    json!({
        "url": "",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
        "id": id,
        "node_id": format!("SC_kwDOFAKE{id}"),
        "state": state,
        "description": format!("{context}: {state}"),
        "target_url": format!("https://ci.example.com/{id}"),
        "context": context,
        "created_at": at,
        "updated_at": at,
        "creator": user_json(ACTIONS_BOT_LOGIN, 41_898_282, "Bot"),
    })
}

/// A `required_status_checks` rule from a ruleset, as `GET /rules/branches/{b}` lists it.
/// `checks` are `(context, integration_id)`.
pub fn required_status_checks_rule(
    ruleset_source: &str,
    ruleset_id: u64,
    checks: &[(&str, Option<u64>)],
    strict: bool,
) -> Value {
    let checks: Vec<Value> = checks
        .iter()
        .map(|(context, integration)| match integration {
            Some(id) => json!({"context": context, "integration_id": id}),
            None => json!({"context": context}),
        })
        .collect();
    json!({
        "type": "required_status_checks",
        "parameters": {
            "required_status_checks": checks,
            "strict_required_status_checks_policy": strict,
            "do_not_enforce_on_create": false,
        },
        "ruleset_source_type": "Repository",
        "ruleset_source": ruleset_source,
        "ruleset_id": ruleset_id,
    })
}

/// Any other rule (`deletion`, `non_fast_forward`, an unknown future type, ...).
pub fn rule(rule_type: &str, ruleset_source: &str, ruleset_id: u64) -> Value {
    json!({
        "type": rule_type,
        "ruleset_source_type": "Repository",
        "ruleset_source": ruleset_source,
        "ruleset_id": ruleset_id,
    })
}

/// The partial `protection` object of `GET /branches/{b}`. `enforcement_level`: `off`,
/// `non_admins` or `everyone`; `checks` are `(context, app_id)`.
pub fn branch_protection(enforcement_level: &str, checks: &[(&str, Option<u64>)]) -> Value {
    let contexts: Vec<&str> = checks.iter().map(|(context, _)| *context).collect();
    let checks: Vec<Value> = checks
        .iter()
        .map(|(context, app_id)| json!({"context": context, "app_id": app_id}))
        .collect();
    json!({
        "enabled": true,
        "required_status_checks": {
            "enforcement_level": enforcement_level,
            "contexts": contexts,
            "checks": checks,
        },
    })
}

/// An open, non-draft pull request from `head_ref` (in `repo` itself) into `base_ref`.
pub fn pull_request(
    repo: &str,
    number: u64,
    head_sha: &str,
    head_ref: &str,
    base_ref: &str,
) -> Value {
    let owner = repo.split('/').next().unwrap_or(repo);
    let repo_json = |full_name: &str| {
        json!({"id": 1, "name": full_name.rsplit('/').next().unwrap_or(full_name),
               "full_name": full_name, "fork": false})
    };
    json!({
        "id": 2_000_000_000 + number,
        "node_id": format!("PR_kwDOFAKE{number}"),
        "number": number,
        "state": "open",
        "locked": false,
        "draft": false,
        "title": format!("Pull request #{number}"),
        "user": user_json("octocat", 583_231, "User"),
        "html_url": format!("{WEB}/{repo}/pull/{number}"),
        "head": {"label": format!("{owner}:{head_ref}"), "ref": head_ref, "sha": head_sha,
                 "repo": repo_json(repo)},
        "base": {"label": format!("{owner}:{base_ref}"), "ref": base_ref,
                 "sha": "0000000000000000000000000000000000000000", "repo": repo_json(repo)},
        "merged": false,
        "mergeable": null,
        "created_at": iso(FIXTURE_EPOCH),
        "updated_at": iso(FIXTURE_EPOCH),
    })
}

/// A workflow run (add it with [`Repo::add_workflow_run`], which fills `workflow_id`, `path` and
/// the URLs).
pub fn workflow_run(
    id: u64,
    display_title: &str,
    event: &str,
    status: &str,
    conclusion: Option<&str>,
    head_sha: &str,
) -> Value {
    let at = iso(FIXTURE_EPOCH + id as i64 % 86_400);
    json!({
        "id": id,
        "name": display_title.split_whitespace().next().unwrap_or("workflow"),
        "node_id": format!("WFR_kwDOFAKE{id}"),
        "head_branch": "main",
        "head_sha": head_sha,
        "path": "",
        "display_title": display_title,
        "run_number": id % 10_000,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": 0,
        "url": "",
        "html_url": "",
        "created_at": at,
        "updated_at": at,
        "run_attempt": 1,
        "run_started_at": at,
        "actor": user_json("octocat", 583_231, "User"),
        "triggering_actor": user_json("octocat", 583_231, "User"),
        "pull_requests": [],
    })
}

pub(super) fn user_json(login: &str, id: u64, user_type: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_FAKE{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "html_url": format!("{WEB}/{}", login.trim_end_matches("[bot]")),
        "type": user_type,
        "site_admin": false,
    })
}

pub(super) fn set_run_state(run: &mut Value, id: u64, status: &str, conclusion: Option<&str>) {
    let started = FIXTURE_EPOCH + id as i64;
    run["status"] = json!(status);
    run["conclusion"] = json!(conclusion);
    run["started_at"] = if status == "queued" {
        Value::Null
    } else {
        json!(iso(started))
    };
    run["completed_at"] = if status == "completed" {
        json!(iso(started + 60))
    } else {
        Value::Null
    };
}

/// A pull request merged at `merged_at` (RFC 3339) as `merge_commit_sha` into `main`.
pub fn merged_pull_request(
    repo: &str,
    number: u64,
    merge_commit_sha: &str,
    merged_at: &str,
) -> Value {
    let mut pull = pull_request(
        repo,
        number,
        &format!("{:0>40x}", number),
        &format!("feature-{number}"),
        "main",
    );
    pull["state"] = json!("closed");
    pull["merged"] = json!(true);
    pull["merged_at"] = json!(merged_at);
    pull["closed_at"] = json!(merged_at);
    pull["merge_commit_sha"] = json!(merge_commit_sha);
    pull
}

/// A Deployment of `sha` to `environment` with `task`, created at `created_at` (RFC 3339) by
/// `github-actions[bot]`, as `GET /deployments` lists it. Add it with [`Repo::add_deployment`].
pub fn deployment(id: u64, sha: &str, environment: &str, task: &str, created_at: &str) -> Value {
    json!({
        "url": "",
        "id": id,
        "node_id": format!("DE_kwDOFAKE{id}"),
        "sha": sha,
        "ref": sha,
        "task": task,
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": null,
        "creator": user_json(ACTIONS_BOT_LOGIN, 41_898_282, "Bot"),
        "created_at": created_at,
        "updated_at": created_at,
        "statuses_url": "",
        "repository_url": "",
        "transient_environment": false,
        "production_environment": environment == "production",
        "performed_via_github_app": null,
    })
}

/// A Deployment status (`state`: error, failure, inactive, in_progress, queued, pending, success)
/// created at `created_at`. Add it with [`Repo::add_deployment_status`].
pub fn deployment_status(id: u64, state: &str, created_at: &str) -> Value {
    json!({
        "url": "",
        "id": id,
        "node_id": format!("DES_kwDOFAKE{id}"),
        "state": state,
        "creator": user_json(ACTIONS_BOT_LOGIN, 41_898_282, "Bot"),
        "description": "",
        "environment": "",
        "target_url": "",
        "log_url": "",
        "environment_url": "",
        "created_at": created_at,
        "updated_at": created_at,
        "deployment_url": "",
        "repository_url": "",
        "performed_via_github_app": null,
    })
}

/// One entry of a run's review history (`GET /actions/runs/{id}/approvals`): `state` is
/// `approved` or `rejected`, by the user `login`, for the environments named. The environment
/// objects carry ids derived from their names; GitHub records no time for a review.
pub fn environment_approval(
    state: &str,
    login: &str,
    environments: &[&str],
    comment: &str,
) -> Value {
    let user_id = 5_000_000 + super::util::fnv(login.as_bytes(), 0) % 1_000_000;
    let environments: Vec<Value> = environments
        .iter()
        .map(|name| {
            let id = 160_000_000 + super::util::fnv(name.as_bytes(), 0) % 1_000_000;
            json!({
                "id": id,
                "node_id": format!("EN_kwDOFAKE{id}"),
                "name": name,
                "url": format!("https://api.github.com/repos/o/r/environments/{name}"),
                "html_url": format!("{WEB}/o/r/deployments/activity_log?environments_filter={name}"),
                "created_at": iso(FIXTURE_EPOCH),
                "updated_at": iso(FIXTURE_EPOCH),
            })
        })
        .collect();
    json!({
        "state": state,
        "comment": comment,
        "environments": environments,
        "user": user_json(login, user_id, "User"),
    })
}

/// A GitHub Environment (`GET /environments/{name}`): a `wait_timer` rule, a
/// `required_reviewers` rule naming `reviewers` with `prevent_self_review` (none when `reviewers`
/// is empty), and a `branch_policy` rule. `url` and `html_url` are filled in by
/// [`Repo::set_environment`].
pub fn environment(name: &str, reviewers: &[&str], prevent_self_review: bool) -> Value {
    let id = 160_000_000 + super::util::fnv(name.as_bytes(), 0) % 1_000_000;
    let mut rules = vec![
        json!({"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": 0}),
    ];
    if !reviewers.is_empty() {
        let reviewers: Vec<Value> = reviewers
            .iter()
            .map(|login| json!({"type": "User", "reviewer": user_json(login, 5_000_000 + super::util::fnv(login.as_bytes(), 0) % 1_000_000, "User")}))
            .collect();
        rules.push(json!({
            "id": 3755,
            "node_id": "MDQ6R2F0ZTM3NTU=",
            "prevent_self_review": prevent_self_review,
            "type": "required_reviewers",
            "reviewers": reviewers,
        }));
    }
    rules.push(json!({"id": 3756, "node_id": "MDQ6R2F0ZTM3NTY=", "type": "branch_policy"}));
    json!({
        "id": id,
        "node_id": format!("EN_kwDOFAKE{id}"),
        "name": name,
        "url": "",
        "html_url": "",
        "created_at": iso(FIXTURE_EPOCH),
        "updated_at": iso(FIXTURE_EPOCH),
        "protection_rules": rules,
        "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true},
    })
}
