//! The GitHub side against the stateful fake: gathering, waiting, retries and write-backs.

use std::time::Duration;

use crate::common::*;
use crate::support::fake_github::*;

const REPO: &str = "hotdash-dev/hotdash";
const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
const TOKEN: &str = "ghs_testtoken0123456789";
const HOTDASH: [&str; 5] = [
    "Docs Policy",
    "Danger",
    "Gitleaks",
    "AI Config",
    "Health Check",
];

fn shipgate_against(fake: &FakeGitHub) -> assert_cmd::Command {
    let mut command = with_config(&example_config());
    command
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPO);
    command
}

/// main -> SHA, the five HotDash checks green, and a ruleset that requires `build`.
fn hotdash(fake: &FakeGitHub) {
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(
        REPO,
        SHA,
        HOTDASH
            .iter()
            .enumerate()
            .map(|(i, name)| check_run(100 + i as u64, name, "completed", Some("success"))),
    );
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None)],
                true,
            )],
        );
        // Protected, but the partial view shows no checks and the token may not read the rest.
        repo.set_branch_protection("main", serde_json::json!({ "enabled": true }));
        repo.set_classic_protection("*", ClassicProtection::Forbidden);
    });
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(200, "build", "completed", Some("success"))],
    );
}

fn json_out(out: &Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

#[test]
fn checks_save_writes_answers_that_from_file_decides_the_same_way() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    // One source disagrees: a failing status for a check whose run passed, and one required
    // check of the ruleset that never ran.
    fake.add_statuses(REPO, SHA, [commit_status(300, "Gitleaks", "failure")]);
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None), ("deploy-preview", Some(15368))],
                true,
            )],
        );
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("answers.json");
    let saved_arg = saved.to_str().expect("UTF-8 path");
    let live = run(shipgate_against(&fake).args([
        "checks", "--ref", "main", "--wait", "0", "--save", saved_arg, "--format", "json",
    ]));
    assert_eq!(live.code, 1, "{}\n{}", live.stdout, live.stderr);
    let requests = fake.requests().len();
    let offline = run(with_config(&example_config()).args([
        "checks",
        "--from-file",
        saved_arg,
        "--format",
        "json",
    ]));
    assert_eq!(fake.requests().len(), requests, "--from-file asks nothing");
    assert_eq!(offline.code, live.code, "{}", offline.stderr);
    let (live, offline) = (json_out(&live), json_out(&offline));
    assert_eq!(offline["subject"]["sha"], SHA);
    let (live, offline) = (&live["verdicts"][0], &offline["verdicts"][0]);
    assert_eq!(offline["status"], live["status"]);
    assert_eq!(offline["summary"], live["summary"]);
    let checks = |verdict: &serde_json::Value| -> Vec<serde_json::Value> {
        verdict["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .filter(|e| e["kind"] == "check")
            .cloned()
            .collect()
    };
    assert_eq!(checks(offline), checks(live));
    assert!(
        checks(live)
            .iter()
            .any(|c| c["name"] == "Gitleaks" && c["state"] == "failing")
            && checks(live)
                .iter()
                .any(|c| c["name"] == "deploy-preview" && c["state"] == "missing"),
        "{live}"
    );
}

#[test]
fn checks_on_a_ref_read_github_and_pass() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["subject"]["sha"], SHA);
    assert_eq!(
        decision["verdicts"][0]["summary"],
        "6 of 6 required checks pass"
    );
    // The ruleset counted; classic protection answered 403 and is "unknown", not "none".
    let evidence = decision["verdicts"][0]["evidence"]
        .as_array()
        .expect("evidence");
    assert!(
        evidence
            .iter()
            .any(|e| e["source"] == "ruleset" && e["names"] == serde_json::json!(["build"])),
        "{evidence:?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e["source"] == "branch_protection" && e["state"] == "unknown"),
        "{evidence:?}"
    );

    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.path.ends_with("/commits/main")));
    for request in &requests {
        assert_eq!(
            request.header("x-github-api-version"),
            Some("2022-11-28"),
            "{request:?}"
        );
        // One media type per request: the JSON one, or the bare SHA when resolving the ref.
        let accepts: Vec<&str> = request
            .headers
            .iter()
            .filter(|(name, _)| name == "accept" || name == "x-github-api-version")
            .map(|(_, value)| value.as_str())
            .collect();
        let expected = if request.path.ends_with("/commits/main") {
            "application/vnd.github.sha"
        } else {
            "application/vnd.github+json"
        };
        assert_eq!(accepts.len(), 2, "one Accept, one version: {request:?}");
        assert!(accepts.contains(&expected), "{request:?}");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.method, "GET", "checks never writes");
    }
    let check_runs = requests
        .iter()
        .find(|r| r.path.ends_with("/check-runs"))
        .expect("check runs read");
    assert_eq!(check_runs.param("per_page").as_deref(), Some("100"));
    assert_eq!(check_runs.param("filter").as_deref(), Some("latest"));
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "the token never prints"
    );
}

#[test]
fn a_required_check_that_never_appears_waits_then_fails_as_missing() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(REPO, 7, &[("e2e", None)], true)],
        );
    });
    let out = run(shipgate_against(&fake).args([
        "checks", "--ref", "main", "--wait", "2s", "--format", "json",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["verdicts"][0]["status"], "fail");
    assert_eq!(
        decision["verdicts"][0]["summary"],
        "missing: e2e (never reported on this commit)"
    );
    assert!(
        out.stderr
            .contains("shipgate: waiting 0s of 2s: e2e (missing)"),
        "{}",
        out.stderr
    );
    // Every poll after the first is answered 304: unchanged polls cost no rate limit.
    let polls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/check-runs"))
        .collect();
    assert!(polls.len() >= 2, "{polls:?}");
    assert!(
        polls[1..].iter().all(|r| r.status == 304),
        "{:?}",
        polls.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(polls[1..]
        .iter()
        .all(|r| r.header("if-none-match").is_some()));
}

#[test]
fn a_check_that_finishes_while_waiting_passes_the_gate() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(300, "deploy-preview", "in_progress", None)],
    );
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("deploy-preview", None)],
                true,
            )],
        );
    });
    fake.on_poll("/check-runs", 2, |state| {
        state
            .repo(REPO)
            .set_check_run(300, "completed", Some("success"));
    });
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main", "--wait", "30s"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("deploy-preview (in_progress)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failure_while_others_are_pending_fails_fast() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [
            check_run(301, "Gitleaks", "completed", Some("failure")),
            check_run(302, "Danger", "in_progress", None),
        ],
    );
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main", "--wait", "10m"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("failing: Gitleaks; pending: Danger"),
        "{}",
        out.stdout
    );
    // It decided on the first poll and did not wait for the pending check.
    assert_eq!(
        fake.count("GET", "/check-runs"),
        1,
        "{:#?}",
        fake.requests()
    );
}

#[test]
fn server_errors_are_retried_and_rate_limits_waited_out() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next("/check-runs", Fault::Status(502), 1);
    fake.fail_next(
        "/status",
        Fault::SecondaryRateLimit {
            retry_after_secs: 1,
        },
        1,
    );
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The two lists are read concurrently: each is retried in its own order.
    let answers = |suffix: &str| -> Vec<u16> {
        fake.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .map(|r| r.status)
            .collect()
    };
    assert_eq!(answers("/check-runs"), [502, 200]);
    assert_eq!(answers("/status"), [403, 200]);
}

#[test]
fn github_down_is_unavailable_exit_5() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next("/commits/main", Fault::Status(503), 10);
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main"]));
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("error: GitHub answered 503"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.count("GET", "/commits/main"),
        4,
        "four attempts, then give up"
    );
}

#[test]
fn an_unknown_ref_or_bad_token_is_bad_input() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "nope"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("hint: check --ref"), "{}", out.stderr);

    fake.require_token(Some("the-right-one"));
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("Bad credentials") && out.stderr.contains("hint: check GITHUB_TOKEN"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN));
}

#[test]
fn a_thousand_check_runs_are_read_in_ten_pages() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 1000));
    fake.add_check_runs(
        REPO,
        SHA,
        HOTDASH
            .iter()
            .enumerate()
            .map(|(i, name)| check_run(100 + i as u64, name, "completed", Some("success"))),
    );
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("check 0999", None)],
                true,
            )],
        );
    });
    let out = run(shipgate_against(&fake)
        .args(["checks", "--ref", "main", "--wait", "0", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        fake.count("GET", "/check-runs"),
        11,
        "ceil(1005 / 100) pages"
    );
    let decision = json_out(&out);
    assert_eq!(
        decision["verdicts"][0]["summary"],
        "6 of 6 required checks pass"
    );
}

#[test]
fn readiness_on_a_pr_that_breaks_the_config_says_so_in_the_comment() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.repo(REPO, |repo| {
        repo.add_pull(pull_request(REPO, 9, SHA, "feature", "main"));
    });
    let (_dir, path) =
        temp_config("version: 1\nenvironments:\n  production: { app: demo, strategy: rollng }\n");
    let mut command = with_config(&path);
    command
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .args(["readiness", "--pr", "9", "-e", "production", "--comment"]);
    let out = run(&mut command);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let posted = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/issues/9/comments"))
        .expect("a comment");
    let body = posted.json()["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        body.starts_with("<!-- shipgate:readiness:production hash="),
        "{body}"
    );
    assert!(body.contains("**invalid config**"), "{body}");
    assert!(
        body.contains(":3:38`: environments.production.strategy: unknown strategy `rollng`"),
        "{body}"
    );
    assert!(body.contains("hint: use one of: `rolling`"), "{body}");
}

#[test]
fn a_404_on_protection_of_a_protected_branch_is_unknown_not_none() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.repo(REPO, |repo| {
        // Protected, requiring `lint` in the partial view; the admin endpoint answers 404.
        repo.set_branch_protection("main", branch_protection("everyone", &[("lint", None)]));
        repo.set_classic_protection("*", ClassicProtection::NotProtected);
    });
    let out = run(shipgate_against(&fake)
        .args(["checks", "--ref", "main", "--wait", "0", "--format", "json"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(
        decision["verdicts"][0]["summary"],
        "missing: lint (never reported on this commit)"
    );
}

#[test]
fn rate_limits_are_waited_out_a_few_times_then_reported_unavailable() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next(
        "/commits/main",
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        1000,
    );
    let started = std::time::Instant::now();
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main", "--wait", "0"]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("still rate-limited after 3 waits"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.count("GET", "/commits/main"),
        4,
        "the first answer and three waits, not a flood"
    );
    // At least 1 s, doubling: 1 + 2 + 4 seconds.
    assert!(started.elapsed() >= Duration::from_secs(7));
}

#[test]
fn a_permanent_refusal_is_bad_input_not_unavailable() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next("/commits/main", Fault::Status(409), 1);
    let out = run(shipgate_against(&fake).args(["checks", "--ref", "main", "--wait", "0"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("hint: GitHub refused the request as it stands"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.count("GET", "/commits/main"),
        1,
        "a 4xx is not retried"
    );
}

#[test]
fn plan_online_reads_the_checks_and_the_staging_deployments() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    let out = run(shipgate_against(&fake).args([
        "plan",
        "-e",
        "production",
        "--ref",
        "main",
        "--at",
        "2026-11-24T10:00:00-08:00",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["subject"]["sha"], SHA);
    let verdicts = decision["verdicts"].as_array().expect("verdicts");
    assert_eq!(verdicts[0]["status"], "pass", "{:?}", verdicts[0]);
    assert_eq!(verdicts[2]["gate"], "staging");
    assert_eq!(
        verdicts[2]["summary"],
        "staging: this commit was never deployed there"
    );
    // Online, every gate before the deploy was checked (one of them failed).
    assert_eq!(
        decision["plan"]["checked"],
        serde_json::json!({"all": true})
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/deployments")
            && r.param("environment").as_deref() == Some("staging")));
}

// ----- the library: names in URLs, polling ---------------------------------------------------

mod library {
    use serde_json::json;
    use shipgate::facts::Readable;
    use shipgate::github::client::{Client, RetryPolicy};
    use shipgate::github::gather::{self, Repo};
    use shipgate::github::write;
    use shipgate::secret::Secret;

    use super::{REPO, SHA, TOKEN};
    use crate::support::fake_github::*;

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }

    fn client(fake: &FakeGitHub) -> Client {
        let token = Secret::new(TOKEN).expect("a token");
        Client::new(fake.url(), Some(&token), RetryPolicy::default()).expect("a client")
    }

    fn repo() -> Repo {
        Repo::parse(REPO).expect("owner/name")
    }

    /// A branch, an environment and a workflow file whose names hold `/`, a space, `#` and `?`:
    /// each reaches GitHub as one path segment or one query value, and comes back the same.
    #[test]
    fn names_with_slash_space_hash_and_question_mark_round_trip() {
        const BRANCH: &str = "release/1.2 #3?";
        const ENVIRONMENT: &str = "prod/eu #1?&task=x";
        const WORKFLOW: &str = "roll back #1?.yml";
        let fake = FakeGitHub::start();
        fake.set_ref(REPO, BRANCH, SHA);
        fake.set_ref(REPO, "release", "0000000000000000000000000000000000000001");
        fake.repo(REPO, |repo| {
            repo.set_rules(
                BRANCH,
                vec![required_status_checks_rule(REPO, 7, &[("e2e", None)], true)],
            );
            repo.set_branch_protection(BRANCH, branch_protection("everyone", &[("lint", None)]));
        });
        fake.set_dispatch_returns_run_details(false);
        let repo = repo();

        block_on(async {
            let client = client(&fake);
            assert_eq!(
                gather::resolve_ref(&client, &repo, BRANCH)
                    .await
                    .expect("resolved"),
                SHA
            );
            let branch = gather::branch(&client, &repo, BRANCH)
                .await
                .expect("read")
                .expect("the branch exists");
            assert_eq!(branch.name, BRANCH);
            assert!(branch.protected);
            match gather::ruleset_checks(&client, &repo, BRANCH)
                .await
                .expect("read")
            {
                Readable::Read(checks) => {
                    assert_eq!(
                        checks
                            .iter()
                            .map(|c| c.context.as_str())
                            .collect::<Vec<_>>(),
                        ["e2e"]
                    );
                }
                other => panic!("{other:?}"),
            }

            for environment in [ENVIRONMENT, "prod"] {
                write::create_deployment(
                    &client,
                    &repo,
                    write::NewDeployment {
                        sha: SHA,
                        environment,
                        task: write::TASK_DEPLOY,
                        production: true,
                        description: "deploy",
                        payload: json!({}),
                    },
                )
                .await
                .expect("created");
            }
            let (id, _) = write::latest_deployment_state(&client, &repo, SHA, ENVIRONMENT)
                .await
                .expect("read")
                .expect("the deployment to that environment");
            let deployment = fake.repo(REPO, |r| {
                r.deployments
                    .iter()
                    .find(|d| d["id"] == id)
                    .cloned()
                    .expect("recorded")
            });
            assert_eq!(deployment["environment"], ENVIRONMENT);

            let dispatched = write::dispatch_workflow(
                &client,
                &repo,
                WORKFLOW,
                BRANCH,
                json!({ "correlation_id": "sg-c0ffee" })
                    .as_object()
                    .expect("an object"),
                "sg-c0ffee",
                std::time::SystemTime::now().into(),
            )
            .await
            .expect("dispatched");
            assert!(dispatched.run_id.is_some(), "found through the runs list");
        });

        let requests = fake.requests();
        let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
        for expected in [
            "/repos/hotdash-dev/hotdash/commits/release%2F1.2%20%233%3F",
            "/repos/hotdash-dev/hotdash/branches/release%2F1.2%20%233%3F",
            "/repos/hotdash-dev/hotdash/rules/branches/release%2F1.2%20%233%3F",
            "/repos/hotdash-dev/hotdash/actions/workflows/roll%20back%20%231%3F.yml/dispatches",
            "/repos/hotdash-dev/hotdash/actions/workflows/roll%20back%20%231%3F.yml/runs",
        ] {
            assert!(paths.contains(&expected), "{expected} not in {paths:#?}");
        }
        let listed = requests
            .iter()
            .find(|r| r.method == "GET" && r.path.ends_with("/deployments"))
            .expect("deployments listed");
        assert_eq!(listed.param("environment").as_deref(), Some(ENVIRONMENT));
        assert_eq!(listed.param("task").as_deref(), Some("deploy"));
        let dispatch = requests
            .iter()
            .find(|r| r.path.ends_with("/dispatches"))
            .expect("dispatched");
        assert_eq!(dispatch.json()["ref"], BRANCH);
        assert!(
            requests.iter().all(|r| r.status < 400),
            "{:?}",
            requests
                .iter()
                .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
                .collect::<Vec<_>>()
        );
    }

    /// A thousand check runs (ten pages of 100, ids 10000..=10999, newest first on page 1).
    fn thousand_runs(fake: &FakeGitHub) {
        fake.set_ref(REPO, "main", SHA);
        fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 1000));
    }

    fn check_run_pages(fake: &FakeGitHub) -> Vec<(usize, u16)> {
        fake.requests()
            .iter()
            .filter(|r| r.path.ends_with("/check-runs"))
            .map(|r| {
                let page = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                (page, r.status)
            })
            .collect()
    }

    #[test]
    fn pages_after_the_first_are_read_a_few_at_a_time_in_order_at_one_request_each() {
        let fake = FakeGitHub::start();
        thousand_runs(&fake);
        // Latency keeps each request in flight long enough for the next ones to arrive.
        fake.set_latency(std::time::Duration::from_millis(300));
        let (runs, changed) = block_on(async {
            gather::check_runs(&client(&fake), &repo(), SHA)
                .await
                .expect("read")
        });
        assert!(changed);
        let ids: Vec<u64> = runs.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            (10_000..11_000).rev().collect::<Vec<u64>>(),
            "page order"
        );
        let mut pages: Vec<usize> = check_run_pages(&fake).iter().map(|(p, _)| *p).collect();
        assert_eq!(pages[0], 1, "page 1 first: it names the last page");
        pages.sort_unstable();
        assert_eq!(
            pages,
            (1..=10).collect::<Vec<_>>(),
            "ceil(1000/100), each once"
        );
        // Pages 2..10 went out together, never more than four at a time.
        assert_eq!(
            fake.most_in_flight(),
            shipgate::github::client::PAGE_CONCURRENCY,
            "pages in flight at once"
        );
    }

    #[test]
    fn an_unchanged_list_is_all_304s_and_reuses_the_pages_decoded_before() {
        let fake = FakeGitHub::start();
        thousand_runs(&fake);
        fake.add_statuses(
            REPO,
            SHA,
            (0..300).map(|i| commit_status(30_000 + i, &format!("ci/{i:03}"), "success")),
        );
        let path = format!("/repos/{REPO}/commits/{SHA}/check-runs?filter=latest&per_page=100");
        block_on(async {
            let client = client(&fake);
            let first = client
                .get_list::<shipgate::github::model::CheckRunsPage>(&path)
                .await
                .expect("read");
            let again = client
                .get_list::<shipgate::github::model::CheckRunsPage>(&path)
                .await
                .expect("read");
            assert!(first.changed() && !again.changed());
            assert_eq!(first.pages.len(), 10);
            assert_eq!(again.pages.len(), 10);
            for (before, now) in first.pages.iter().zip(&again.pages) {
                assert!(now.not_modified);
                assert!(
                    std::sync::Arc::ptr_eq(&before.value, &now.value),
                    "a 304 gives back the page decoded before, not a new parse"
                );
            }
            // Three full pages of statuses: the last one is not read again in full after its
            // 304, since `total_count` on every page would have changed with a new status.
            for _ in 0..2 {
                let (statuses, _) = gather::statuses(&client, &repo(), SHA).await.expect("read");
                assert_eq!(statuses.len(), 300);
            }
        });
        let statuses: Vec<u16> = fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/status"))
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, [200, 200, 200, 304, 304, 304]);
        let second: Vec<u16> = check_run_pages(&fake)[10..]
            .iter()
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(second, [304; 10]);
    }

    /// An ETag covers one page: a check run that completes on page 2 leaves page 1 unchanged,
    /// so page 1's 304 says nothing about the rest, and every page is asked again.
    #[test]
    fn a_run_that_changes_on_a_later_page_is_seen_though_page_1_is_unchanged() {
        let fake = FakeGitHub::start();
        fake.set_ref(REPO, "main", SHA);
        fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 150));
        fake.add_check_runs(REPO, SHA, [check_run(5_000, "e2e", "in_progress", None)]);
        block_on(async {
            let client = client(&fake);
            let (runs, _) = gather::check_runs(&client, &repo(), SHA)
                .await
                .expect("read");
            assert_eq!(runs.len(), 151);
            fake.repo(REPO, |r| {
                r.set_check_run(5_000, "completed", Some("success"));
            });
            let (runs, changed) = gather::check_runs(&client, &repo(), SHA)
                .await
                .expect("read");
            assert!(changed);
            let e2e = runs.iter().find(|r| r.name == "e2e").expect("e2e");
            assert_eq!(e2e.status.as_str(), "completed");
        });
        assert_eq!(
            check_run_pages(&fake),
            [(1, 200), (2, 200), (1, 304), (2, 200)]
        );
    }

    fn failing(runs: &[shipgate::github::model::CheckRun]) -> bool {
        runs.iter().any(|r| {
            r.conclusion
                .as_ref()
                .is_some_and(|c| c.as_str() == "failure")
        })
    }

    #[test]
    fn reading_check_runs_stops_at_the_page_that_decides_the_gate() {
        let fake = FakeGitHub::start();
        thousand_runs(&fake);
        // On page 3 (ids 10799..=10700).
        fake.repo(REPO, |r| {
            r.set_check_run(10_750, "completed", Some("failure"));
        });
        fake.set_latency(std::time::Duration::from_millis(20));
        let mut seen = Vec::new();
        let read = block_on(async {
            gather::check_runs_until(&client(&fake), &repo(), SHA, |page| {
                seen.push(page.len());
                failing(page)
            })
            .await
            .expect("read")
        });
        assert!(read.stopped);
        assert_eq!(
            seen,
            [100, 100, 100],
            "pages seen in order, up to the deciding one"
        );
        assert_eq!(read.runs.len(), 300);
        assert!(read.runs.iter().any(|r| r.id == 10_750));
        let mut pages: Vec<usize> = check_run_pages(&fake).iter().map(|(p, _)| *p).collect();
        pages.sort_unstable();
        assert!(
            pages == [1, 2, 3] || pages == [1, 2, 3, 4],
            "at most one request after page 3: {pages:?}"
        );

        // Deciding on page 1: page 2 is never asked for.
        fake.clear_requests();
        fake.repo(REPO, |r| {
            r.set_check_run(10_999, "completed", Some("failure"));
        });
        let read = block_on(async {
            gather::check_runs_until(&client(&fake), &repo(), SHA, failing)
                .await
                .expect("read")
        });
        assert!(read.stopped);
        assert_eq!(read.runs.len(), 100);
        assert_eq!(check_run_pages(&fake), [(1, 200)]);

        // Nothing decides: every page, as `check_runs` reads them.
        fake.clear_requests();
        let read = block_on(async {
            gather::check_runs_until(&client(&fake), &repo(), SHA, |_| false)
                .await
                .expect("read")
        });
        assert!(!read.stopped);
        assert_eq!(read.runs.len(), 1000);
        assert_eq!(check_run_pages(&fake).len(), 10);
    }
}

#[test]
fn a_failing_page_of_check_runs_ends_the_round_with_at_most_one_read_after_it() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    // 1,000 check runs, newest first: ids 10999..10000, ten pages; 10750 is on page 3.
    fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 1000));
    fake.add_statuses(REPO, SHA, [commit_status(900, "ci/legacy", "success")]);
    fake.repo(REPO, |repo| {
        repo.set_check_run(10_750, "completed", Some("failure"));
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[
                    ("check 0751", None),
                    ("check 0001", None),
                    ("ci/legacy", None),
                ],
                true,
            )],
        );
        repo.set_branch_protection("main", serde_json::json!({ "enabled": false }));
    });
    let out = run(shipgate_against(&fake).args([
        "checks", "--ref", "main", "--wait", "10m", "--format", "json",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let summary = decision["verdicts"][0]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.starts_with("failing: check 0751"), "{summary}");
    // Pages 1 to 3 decide; at most the page after them was already asked for.
    let pages = fake.count("GET", "/check-runs");
    assert!((3..=4).contains(&pages), "{pages} pages of check runs read");
    assert!(fake.count("GET", "/status") <= 1);
    // What was not read is not called missing.
    assert!(!summary.contains("missing"), "{summary}");
}
