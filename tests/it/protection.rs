//! The deployment protection rule's GitHub side, as `shipgate serve` drives it: the app's JWT
//! (RS256 with a key generated here, verified by the fake GitHub), installation tokens and their
//! cache, the policy read from the default branch, the gates' answer, and the callback.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use shipgate::env::Ambient;
use shipgate::run::protect::GitHubProtection;
use shipgate::run::protection::{AnswerState, Protection, ProtectionRequest, Verdict};

use crate::common::{run, shipgate};
use crate::support::fake_github::{check_run, deployment, deployment_status, FakeGitHub, Fault};

const REPO: &str = "octo-org/octo-repo";
const APP_ID: u64 = 424_242;
const INSTALLATION: u64 = 77;
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const POLICY_PATH: &str = ".github/shipgate.yml";

/// Production: `build` required (polled every second for up to 20 s), weekdays 09:00-17:00 UTC,
/// staging first; `closed_window` as given.
fn policy(closed_window: &str) -> String {
    format!(
        "version: 1
checks:
  required: [build]
  from_branch_rules: false
  wait: 20s
  interval: 1s
environments:
  staging:
    app: web-staging
    health: {{ machines: true }}
  production:
    app: web
    requires: [staging]
    windows:
      timezone: UTC
      allow:
        - name: Business hours
          days: mon-fri
          hours: \"09:00-17:00\"
    health: {{ machines: true }}
    protection_rule:
      closed_window: {closed_window}
"
    )
}

/// A branch's weaker policy: nothing required, no windows, no staging.
const WEAK_POLICY: &str = "version: 1
checks:
  required: []
  from_branch_rules: false
environments:
  production:
    app: web
    health: { machines: true }
";

/// Monday 2026-12-07 10:00 UTC: the window is open.
fn monday_ten() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0)
        .single()
        .expect("a time")
}

/// Saturday 2026-12-05 10:00 UTC: closed until Monday 09:00.
fn saturday_ten() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0)
        .single()
        .expect("a time")
}

struct Key {
    _dir: tempfile::TempDir,
    private_file: PathBuf,
    private_pem: String,
    public_pem: String,
}

/// An RSA key pair made by `openssl` once per test run: the private half in PKCS#1, as GitHub
/// hands it out.
fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let private_file = dir.path().join("app.pem");
        let public_file = dir.path().join("app.pub.pem");
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "these tests need the openssl command to make an RSA key ({e}); install it with `apt-get install openssl`"
                    )
                });
            assert!(
                status.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        };
        let private = private_file.to_str().expect("a UTF-8 path");
        let public = public_file.to_str().expect("a UTF-8 path");
        openssl(&["genrsa", "-traditional", "-out", private, "2048"]);
        openssl(&["rsa", "-in", private, "-pubout", "-out", public]);
        let private_pem = std::fs::read_to_string(&private_file).expect("the private key");
        assert!(private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        Key {
            public_pem: std::fs::read_to_string(&public_file).expect("the public key"),
            private_pem,
            private_file,
            _dir: dir,
        }
    })
}

/// A fake GitHub where the app is installed (installation [`INSTALLATION`]), the default branch
/// holds `policy`, `build` passed on [`SHA`] and staging runs it.
fn github(policy: &str) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.install_app(APP_ID, &key().public_pem, &[INSTALLATION]);
    fake.repo(REPO, |repo| {
        repo.set_ref("main", SHA);
        repo.set_file("main", POLICY_PATH, policy);
        repo.add_check_runs(SHA, [check_run(1, "build", "completed", Some("success"))]);
        repo.add_deployment(deployment(
            10,
            SHA,
            "staging",
            "deploy",
            "2026-12-04T10:00:00Z",
        ));
        repo.add_deployment_status(10, deployment_status(11, "success", "2026-12-04T10:05:00Z"));
    });
    fake
}

fn protection(fake: &FakeGitHub) -> GitHubProtection {
    let ambient = Ambient {
        api_url: fake.url().to_owned(),
        app_id: Some(APP_ID.to_string()),
        app_private_key_file: Some(key().private_file.clone()),
        ..Ambient::default()
    };
    GitHubProtection::from_env(&ambient).expect("the app's credentials")
}

fn request(environment: &str) -> ProtectionRequest {
    ProtectionRequest {
        delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
        installation_id: INSTALLATION,
        repo: REPO.to_owned(),
        environment: environment.to_owned(),
        sha: SHA.to_owned(),
        git_ref: Some("refs/heads/main".to_owned()),
        run_id: 4_242,
        callback_url: format!(
            "https://api.github.com/repos/{REPO}/actions/runs/4242/deployment_protection_rule"
        ),
    }
}

fn token_requests(fake: &FakeGitHub) -> usize {
    fake.count("POST", "/app/installations/")
}

fn rejected(verdict: Verdict) -> String {
    match verdict {
        Verdict::Reject { comment } => comment,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_gates_approve_as_the_app_with_an_rs256_jwt() {
    let fake = github(&policy("reject"));
    let protection = protection(&fake);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let verdict = protection
        .evaluate(&request("production"), monday_ten())
        .await
        .expect("a verdict");
    let Verdict::Approve { comment } = verdict else {
        panic!("expected an approval, got {verdict:?}");
    };
    assert!(
        comment.starts_with("shipgate approved 0123456 to production:"),
        "{comment}"
    );
    for gate in [
        "required-checks: pass",
        "deploy-window: pass",
        "staging: pass",
    ] {
        assert!(comment.contains(gate), "{gate} missing from {comment}");
    }

    // The fake verified the JWT's RS256 signature with the public key; its claims are GitHub's.
    let app = fake.app().expect("the app");
    assert_eq!(app.jwts.len(), 1, "{:?}", app.jwts);
    let claims = &app.jwts[0];
    assert_eq!(claims["iss"].as_u64(), Some(APP_ID), "{claims}");
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert!(
        iat <= started - 30,
        "iat {iat} is not backdated from {started}"
    );
    assert!(
        exp - iat <= 11 * 60,
        "a JWT lives at most 10 minutes: {claims}"
    );
    // Every read went out with the installation token the fake issued.
    let issued = &app.tokens[0];
    assert_eq!(issued.0, INSTALLATION);
    let reads = fake.requests();
    assert!(reads
        .iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .all(|r| r.header("authorization") == Some(&format!("Bearer {}", issued.1))));

    protection
        .answer(&request("production"), AnswerState::Approved, &comment)
        .await
        .expect("the answer is accepted");
    let reviews = fake.repo(REPO, |repo| repo.protection_reviews.clone());
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    assert_eq!(reviews[0]["run_id"], 4_242);
    assert_eq!(reviews[0]["environment_name"], "production");
    assert_eq!(reviews[0]["state"], "approved");
    assert_eq!(reviews[0]["comment"], comment.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installation_token_is_kept_until_shortly_before_it_expires() {
    let fake = github(&policy("reject"));
    let protection = protection(&fake);
    // Two at once share one fetch; a later one reuses the token.
    let (one, two) = (request("production"), request("production"));
    let (first, second) = tokio::join!(
        protection.evaluate(&one, monday_ten()),
        protection.evaluate(&two, monday_ten())
    );
    first.expect("a verdict");
    second.expect("a verdict");
    protection
        .evaluate(&request("production"), monday_ten())
        .await
        .expect("a verdict");
    assert_eq!(token_requests(&fake), 1);

    // A token that expires within the margin (5 minutes) is fetched again each time.
    let short = github(&policy("reject"));
    short.update(|state| {
        if let Some(app) = state.app.as_mut() {
            app.token_lifetime_secs = 120;
        }
    });
    let protection = self::protection(&short);
    for _ in 0..2 {
        protection
            .evaluate(&request("production"), monday_ten())
            .await
            .expect("a verdict");
    }
    assert_eq!(token_requests(&short), 2);
    let app = short.app().expect("the app");
    assert_ne!(app.tokens[0].1, app.tokens[1].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_the_default_branchs_not_the_events() {
    let fake = github(&policy("reject"));
    fake.repo(REPO, |repo| {
        repo.default_branch = "trunk".to_owned();
        repo.files.clear();
        repo.set_file("trunk", POLICY_PATH, &policy("reject"));
        repo.set_ref("trunk", SHA);
        repo.set_file("weaken", POLICY_PATH, WEAK_POLICY);
        repo.add_check_runs(SHA, [check_run(2, "build", "completed", Some("failure"))]);
    });
    let mut from_branch = request("production");
    from_branch.git_ref = Some("refs/heads/weaken".to_owned());
    let comment = rejected(
        protection(&fake)
            .evaluate(&from_branch, monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(
        comment.contains("required-checks did not pass"),
        "{comment}"
    );
    let refs: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/contents/"))
        .map(|r| r.param("ref"))
        .collect();
    assert_eq!(refs, vec![Some("trunk".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_or_a_missing_staging_deploy_rejects_naming_the_gate() {
    let failing = github(&policy("reject"));
    failing.add_check_runs(
        REPO,
        SHA,
        [check_run(2, "build", "completed", Some("failure"))],
    );
    let comment = rejected(
        protection(&failing)
            .evaluate(&request("production"), monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(
        comment.contains("required-checks did not pass"),
        "{comment}"
    );
    assert!(comment.contains("build"), "{comment}");

    let unstaged = github(&policy("reject"));
    unstaged.repo(REPO, |repo| {
        repo.deployments.clear();
        repo.deployment_statuses.clear();
    });
    let comment = rejected(
        protection(&unstaged)
            .evaluate(&request("production"), monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(comment.contains("staging did not pass"), "{comment}");
    assert!(
        !comment.contains("required-checks did not pass"),
        "{comment}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_rejects_with_the_next_opening_or_holds_until_it() {
    let fake = github(&policy("reject"));
    let comment = rejected(
        protection(&fake)
            .evaluate(&request("production"), saturday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(comment.contains("deploy-window did not pass"), "{comment}");
    assert!(comment.contains("2026-12-07 09:00 UTC"), "{comment}");

    let held = github(&policy("hold"));
    match protection(&held)
        .evaluate(&request("production"), saturday_ten())
        .await
        .expect("a verdict")
    {
        Verdict::Hold { until, comment } => {
            assert_eq!(
                until,
                Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0)
                    .single()
                    .expect("a time")
            );
            assert!(comment.contains("until the window opens"), "{comment}");
        }
        other => panic!("expected a hold, got {other:?}"),
    }
    // At the opening, the same request is approved.
    let opening = Utc
        .with_ymd_and_hms(2026, 12, 7, 9, 0, 0)
        .single()
        .expect("a time");
    assert!(matches!(
        protection(&held)
            .evaluate(&request("production"), opening)
            .await
            .expect("a verdict"),
        Verdict::Approve { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_checks_are_waited_for() {
    let fake = github(&policy("reject"));
    fake.repo(REPO, |repo| {
        repo.check_runs.clear();
        repo.add_check_runs(SHA, [check_run(1, "build", "in_progress", None)]);
    });
    // The third look at the check runs finds `build` passed.
    fake.on_poll("/check-runs", 3, |state| {
        state
            .repo(REPO)
            .add_check_runs(SHA, [check_run(2, "build", "completed", Some("success"))]);
    });
    let verdict = protection(&fake)
        .evaluate(&request("production"), monday_ten())
        .await
        .expect("a verdict");
    assert!(matches!(verdict, Verdict::Approve { .. }), "{verdict:?}");
    assert_eq!(fake.count("GET", "/check-runs"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_environment_or_an_invalid_policy_rejects_naming_it() {
    let fake = github(&policy("reject"));
    let comment = rejected(
        protection(&fake)
            .evaluate(&request("prod-eu"), monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(
        comment.contains("`prod-eu` is not an environment"),
        "{comment}"
    );
    assert!(comment.contains("production, staging"), "{comment}");

    let invalid = github(&policy("wait"));
    let comment = rejected(
        protection(&invalid)
            .evaluate(&request("production"), monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(comment.contains("the policy is invalid"), "{comment}");
    assert!(
        comment.contains("unknown `closed_window` value `wait`"),
        "{comment}"
    );

    let missing = github(&policy("reject"));
    missing.repo(REPO, |repo| repo.files.clear());
    let comment = rejected(
        protection(&missing)
            .evaluate(&request("production"), monday_ten())
            .await
            .expect("a verdict"),
    );
    assert!(
        comment.contains("no .github/shipgate.yml on the default branch `main`"),
        "{comment}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_of_another_app_or_key_is_refused() {
    let other_app = github(&policy("reject"));
    other_app.install_app(APP_ID + 1, &key().public_pem, &[INSTALLATION]);
    let error = protection(&other_app)
        .evaluate(&request("production"), monday_ten())
        .await
        .expect_err("the JWT names another app");
    let text = format!("{error:#}");
    assert!(text.contains("401") && text.contains("'iss'"), "{text}");

    // The fake checks the signature: a key pair made apart from the app's fails it.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (private, public) = (dir.path().join("k.pem"), dir.path().join("k.pub"));
    for args in [
        vec![
            "genrsa",
            "-traditional",
            "-out",
            private.to_str().expect("utf-8"),
            "2048",
        ],
        vec![
            "rsa",
            "-in",
            private.to_str().expect("utf-8"),
            "-pubout",
            "-out",
            public.to_str().expect("utf-8"),
        ],
    ] {
        let output = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl runs");
        assert!(output.status.success(), "openssl {args:?}");
    }
    let other_key = github(&policy("reject"));
    let other_public = std::fs::read_to_string(&public).expect("the other public key");
    other_key.install_app(APP_ID, &other_public, &[INSTALLATION]);
    let error = protection(&other_key)
        .evaluate(&request("production"), monday_ten())
        .await
        .expect_err("signed with another key");
    let text = format!("{error:#}");
    assert!(
        text.contains("401") && text.contains("InvalidSignature"),
        "{text}"
    );
    assert!(other_key.app().expect("the app").tokens.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_installation_or_a_refused_answer_is_an_error_naming_it() {
    let fake = github(&policy("reject"));
    let protection = protection(&fake);
    let mut stranger = request("production");
    stranger.installation_id = 9_999;
    let error = protection
        .evaluate(&stranger, monday_ten())
        .await
        .expect_err("no token for an installation the app does not have");
    let text = format!("{error:#}");
    assert!(text.contains("404"), "{text}");
    assert!(text.contains("installation 9999"), "{text}");

    fake.fail_next_method("POST", "/deployment_protection_rule", Fault::Status(422), 1);
    let error = protection
        .answer(&request("production"), AnswerState::Rejected, "no")
        .await
        .expect_err("a refused answer");
    let text = format!("{error:#}");
    assert!(text.contains("422"), "{text}");
    assert!(text.contains("run 4242"), "{text}");
    assert!(fake.repo(REPO, |repo| repo.protection_reviews.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_and_tokens_never_show() {
    let fake = github(&policy("reject"));
    let protection = protection(&fake);
    protection
        .evaluate(&request("production"), monday_ten())
        .await
        .expect("a verdict");
    let token = fake.app().expect("the app").tokens[0].1.clone();
    let shown = format!("{protection:?} {:?}", protection.app());
    let key_body: String = key()
        .private_pem
        .lines()
        .nth(1)
        .expect("a key line")
        .to_owned();
    assert!(!shown.contains(&key_body), "{shown}");
    assert!(!shown.contains(&token), "{shown}");

    // A key whose line breaks were written as `\n` (a one-line variable) works as well.
    let one_line = Ambient {
        api_url: fake.url().to_owned(),
        app_id: Some(APP_ID.to_string()),
        app_private_key: shipgate::secret::Secret::new(
            key().private_pem.trim().replace('\n', "\\n"),
        ),
        ..Ambient::default()
    };
    let folded = GitHubProtection::from_env(&one_line).expect("a folded key");
    assert!(matches!(
        folded.evaluate(&request("production"), monday_ten()).await,
        Ok(Verdict::Approve { .. })
    ));

    // A key that is not one is named without being shown.
    let ambient = Ambient {
        api_url: fake.url().to_owned(),
        app_id: Some(APP_ID.to_string()),
        app_private_key: shipgate::secret::Secret::new(
            "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END RSA PRIVATE KEY-----",
        ),
        ..Ambient::default()
    };
    let error = GitHubProtection::from_env(&ambient).expect_err("a bad key");
    let text = format!("{error} {error:?}");
    assert!(text.contains("not an RSA private key"), "{text}");
    assert!(!text.contains("c2VjcmV0LWJ5dGVz"), "{text}");
    let no_id = Ambient {
        app_id: None,
        ..ambient
    };
    let error = GitHubProtection::from_env(&no_id).expect_err("no app id");
    assert!(error.to_string().contains("SHIPGATE_APP_ID"), "{error}");
}

#[test]
fn app_manifest_prints_the_apps_webhook_permissions_and_event() {
    let out = run(shipgate().args(["serve", "manifest", "--url", "https://gates.example.com"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let manifest: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://gates.example.com/webhook"
    );
    assert_eq!(
        manifest["default_events"],
        serde_json::json!(["deployment_protection_rule"])
    );
    assert_eq!(manifest["default_permissions"]["deployments"], "write");
    assert_eq!(manifest["public"], false);

    let out = run(shipgate().args(["serve", "manifest", "--url", "http://gates.example.com"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("https"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// End to end: `shipgate serve` with the GitHub App's Protection, against the fake GitHub

/// A clock the test moves.
struct MovableClock(std::sync::Mutex<DateTime<Utc>>);

impl shipgate::serve::clock::Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("the clock")
    }
}

/// The real `deployment_protection_rule.requested` payload, for [`REPO`], [`SHA`] and
/// [`INSTALLATION`], run `run_id`.
fn delivery_body(environment: &str, run_id: u64) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(include_str!(
        "../fixtures/events/deployment_protection_rule.requested.json"
    ))
    .expect("the fixture");
    value["environment"] = environment.into();
    value["sha"] = SHA.into();
    value["installation"]["id"] = INSTALLATION.into();
    value["repository"]["full_name"] = REPO.into();
    value["deployment_callback_url"] = format!(
        "https://api.github.com/repos/{REPO}/actions/runs/{run_id}/deployment_protection_rule"
    )
    .into();
    serde_json::to_vec(&value).expect("json")
}

async fn deliver(client: &reqwest::Client, addr: std::net::SocketAddr, id: &str, body: Vec<u8>) {
    const SECRET: &str = "end-to-end webhook secret";
    let signature = shipgate::serve::signature::sign(SECRET.as_bytes(), &body);
    let status = client
        .post(format!("http://{addr}/webhook"))
        .header("content-type", "application/json")
        .header("x-github-event", "deployment_protection_rule")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("the server answers")
        .status();
    assert_eq!(status.as_u16(), 202, "delivery {id}");
}

async fn reviews_until(fake: &FakeGitHub, count: usize) -> Vec<serde_json::Value> {
    for _ in 0..3000 {
        let reviews = fake.repo(REPO, |repo| repo.protection_reviews.clone());
        if reviews.len() >= count {
            return reviews;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("GitHub did not receive {count} protection-rule answers in 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_github_as_the_app_and_approves_a_hold_at_the_opening() {
    let fake = github(&policy("hold"));
    fake.repo(REPO, |repo| {
        repo.add_check_runs(
            "fedcba9876543210fedcba9876543210fedcba98",
            [check_run(2, "build", "completed", Some("failure"))],
        );
    });
    let protection = std::sync::Arc::new(protection(&fake));
    let clock = std::sync::Arc::new(MovableClock(std::sync::Mutex::new(saturday_ten())));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut options = shipgate::serve::Options::new(
        "127.0.0.1:0".parse().expect("an address"),
        format!("sqlite://{}", dir.path().join("serve.db").display()),
        shipgate::secret::Secret::new("end-to-end webhook secret").expect("a secret"),
    );
    options.poll_interval = std::time::Duration::from_millis(20);
    let running = shipgate::serve::start(options, protection, clock.clone())
        .await
        .expect("the server starts");
    let addr = running.addr();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();

    // Saturday: the window is closed and the policy holds; nothing is answered yet.
    deliver(
        &client,
        addr,
        "e2e-hold",
        delivery_body("production", 5_001),
    )
    .await;
    // A commit whose required check failed is rejected at once, naming the gate.
    let mut failing: serde_json::Value =
        serde_json::from_slice(&delivery_body("production", 5_002)).expect("json");
    failing["sha"] = "fedcba9876543210fedcba9876543210fedcba98".into();
    deliver(
        &client,
        addr,
        "e2e-failing",
        serde_json::to_vec(&failing).expect("json"),
    )
    .await;
    let reviews = reviews_until(&fake, 1).await;
    assert_eq!(
        reviews.len(),
        1,
        "only the failing commit is answered: {reviews:?}"
    );
    assert_eq!(reviews[0]["run_id"], 5_002);
    assert_eq!(reviews[0]["state"], "rejected");
    assert!(
        reviews[0]["comment"]
            .as_str()
            .is_some_and(|c| c.contains("required-checks")),
        "{reviews:?}"
    );

    // Monday 09:00:01: the hold is due; evaluated again, approved as the app, once.
    *clock.0.lock().expect("the clock") = Utc
        .with_ymd_and_hms(2026, 12, 7, 9, 0, 1)
        .single()
        .expect("a time");
    let reviews = reviews_until(&fake, 2).await;
    let held = &reviews[1];
    assert_eq!(held["run_id"], 5_001);
    assert_eq!(held["environment_name"], "production");
    assert_eq!(held["state"], "approved", "{held}");
    // A redelivery of the held request does nothing more.
    deliver(
        &client,
        addr,
        "e2e-hold",
        delivery_body("production", 5_001),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.repo(REPO, |repo| repo.protection_reviews.len()), 2);
    running.shutdown().await.expect("a clean stop");
}
