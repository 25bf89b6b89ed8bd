//! The `required-checks` gate: every required name must be reported, and passing, by the latest
//! attempt of its check run and/or commit status.

use std::collections::BTreeMap;

use crate::config::ChecksPolicy;
use crate::decision::{
    CheckSource, CheckState, Evidence, GateId, RequiredBy, SourceState, Status, Verdict,
};
use crate::facts::checks::{
    CheckRun, CheckRunStatus, CommitStatus, Conclusion, RequiredContext, StatusState,
};
use crate::facts::{ChecksFacts, Facts, Readable};

pub use crate::facts::checks::Round;

/// The gate over gathered facts: checks that were not gathered are `not checked`, and say what
/// would have been required.
pub fn gate(facts: &Facts, policy: &ChecksPolicy) -> Verdict {
    match &facts.checks {
        Readable::Read(checks) => evaluate(policy, checks, checks.round),
        Readable::NotAsked(why) | Readable::Unknown(why) => Verdict::new(
            GateId::RequiredChecks,
            Status::NotChecked,
            format!(
                "not checked ({why}): would require {}",
                required_text(policy)
            ),
        ),
    }
}

/// The required set as the config states it, for a gate that could not read GitHub.
fn required_text(policy: &ChecksPolicy) -> String {
    let mut required = policy.required.join(", ");
    if policy.from_branch_rules {
        required.push_str(if required.is_empty() {
            "the branch's rulesets and protection"
        } else {
            ", plus the branch's rulesets and protection"
        });
    }
    required
}

/// GitHub's classes: success, neutral and skipped pass; every other conclusion, known or not,
/// fails; a run that is not completed is pending.
pub fn check_run_state(run: &CheckRun) -> CheckState {
    match (&run.status, &run.conclusion) {
        (
            CheckRunStatus::Completed,
            Some(Conclusion::Success | Conclusion::Neutral | Conclusion::Skipped),
        ) => CheckState::Passing,
        (CheckRunStatus::Completed, _) => CheckState::Failing,
        // An unknown status with a conclusion is treated as completed.
        (
            CheckRunStatus::Other(_),
            Some(Conclusion::Success | Conclusion::Neutral | Conclusion::Skipped),
        ) => CheckState::Passing,
        (CheckRunStatus::Other(_), Some(_)) => CheckState::Failing,
        _ => CheckState::Pending,
    }
}

pub fn status_state(status: &CommitStatus) -> CheckState {
    match status.state {
        StatusState::Success => CheckState::Passing,
        StatusState::Pending => CheckState::Pending,
        StatusState::Failure | StatusState::Error | StatusState::Other(_) => CheckState::Failing,
    }
}

struct Required {
    required_by: Vec<RequiredBy>,
    app_id: Option<u64>,
}

pub fn evaluate(policy: &ChecksPolicy, facts: &ChecksFacts, round: Round) -> Verdict {
    let mut evidence = Vec::new();
    let mut required: BTreeMap<String, Required> = BTreeMap::new();
    let mut add = |name: &str, by: RequiredBy, app_id: Option<u64>| {
        let entry = required.entry(name.to_owned()).or_insert(Required {
            required_by: Vec::new(),
            app_id: None,
        });
        if !entry.required_by.contains(&by) {
            entry.required_by.push(by);
        }
        entry.app_id = entry.app_id.or(app_id);
    };
    for name in &policy.required {
        add(name, RequiredBy::Config, None);
    }
    evidence.push(Evidence::RequiredSource {
        source: RequiredBy::Config,
        state: SourceState::Read {
            names: policy.required.clone(),
        },
    });
    let mut known_rules = false;
    if policy.from_branch_rules {
        for (source, readable) in [
            (RequiredBy::Ruleset, &facts.rulesets),
            (RequiredBy::BranchProtection, &facts.protection),
        ] {
            let state = match readable {
                Readable::Read(contexts) => {
                    known_rules = true;
                    for RequiredContext { context, app_id } in contexts {
                        add(context, source, *app_id);
                    }
                    SourceState::Read {
                        names: contexts.iter().map(|c| c.context.clone()).collect(),
                    }
                }
                Readable::Unknown(reason) => SourceState::Unknown {
                    reason: reason.clone(),
                },
                Readable::NotAsked(reason) => SourceState::NotChecked {
                    reason: reason.clone(),
                },
            };
            evidence.push(Evidence::RequiredSource { source, state });
        }
    }

    // The job running shipgate is a check run on this commit too: requiring it would deadlock.
    let own_jobs: Vec<&str> = facts
        .check_runs
        .iter()
        .filter(|run| {
            facts.own.check_run_ids.contains(&run.id)
                || facts.own.job.as_ref().is_some_and(|job| job.is(run))
        })
        .map(|run| run.name.as_str())
        .collect();
    required.retain(|name, _| {
        let reason = if facts.own.names.iter().any(|own| own == name) {
            Some("shipgate's own check".to_owned())
        } else if own_jobs.contains(&name.as_str()) {
            Some("the job running shipgate".to_owned())
        } else {
            policy
                .ignore
                .iter()
                .find(|p| p.matches(name))
                .map(|p| format!("matches ignore `{}`", p.as_str()))
        };
        if let Some(reason) = &reason {
            evidence.push(Evidence::Excluded {
                name: name.clone(),
                reason: reason.clone(),
            });
        }
        reason.is_none()
    });

    if required.is_empty() {
        let summary = if policy.from_branch_rules && !known_rules && policy.required.is_empty() {
            "no required checks could be determined: the branch rules were not readable and `checks.required` is empty"
        } else {
            "nothing is required: refusing to pass a gate that checks nothing"
        };
        evidence.push(Evidence::Note {
            text: "list the checks that must pass under `checks.required` in the config".to_owned(),
        });
        return Verdict::new(GateId::RequiredChecks, Status::Fail, summary).with_evidence(evidence);
    }

    let runs: Vec<&CheckRun> = facts
        .check_runs
        .iter()
        .filter(|run| !facts.own.check_run_ids.contains(&run.id))
        .collect();
    let mut by_state: BTreeMap<CheckState, Vec<String>> = BTreeMap::new();
    for (name, requirement) in &required {
        let (state, sources) = evaluate_name(name, requirement.app_id, &runs, facts);
        by_state.entry(state).or_default().push(name.clone());
        evidence.push(Evidence::Check {
            name: name.clone(),
            state,
            required_by: requirement.required_by.clone(),
            sources,
            app_id: requirement.app_id,
        });
        if let Some(app_id) = requirement.app_id {
            let others: Vec<String> = runs
                .iter()
                .filter(|run| {
                    run.name == *name && run.app.as_ref().and_then(|a| a.id) != Some(app_id)
                })
                .map(|run| {
                    let app = run.app.as_ref();
                    let slug = app.and_then(|a| a.slug.as_deref()).unwrap_or("unknown app");
                    match app.and_then(|a| a.id) {
                        Some(id) => format!("{slug} (app {id})"),
                        None => slug.to_owned(),
                    }
                })
                .collect();
            if !others.is_empty() {
                evidence.push(Evidence::Note {
                    text: format!(
                        "{name}: ignored check runs from {}: the branch rules require app {app_id}",
                        others.join(", ")
                    ),
                });
            }
        }
    }
    if !facts.lists_complete {
        evidence.push(Evidence::Note {
            text: "not every check run and status was read: a failing check run decided the gate"
                .to_owned(),
        });
    }
    let unrequired_failing: Vec<&str> = latest_runs(&runs)
        .into_iter()
        .filter(|run| {
            !required.contains_key(&run.name) && check_run_state(run) == CheckState::Failing
        })
        .map(|run| run.name.as_str())
        .collect();
    if !unrequired_failing.is_empty() {
        evidence.push(Evidence::Note {
            text: format!(
                "not required, but failing: {}",
                unrequired_failing.join(", ")
            ),
        });
    }

    let total = required.len();
    let list = |state| by_state.get(&state).map(|names| names.join(", "));
    let (status, summary) = if let Some(failing) = list(CheckState::Failing) {
        let mut summary = format!("failing: {failing}");
        if let Some(missing) = list(CheckState::Missing) {
            summary.push_str(&format!("; missing: {missing}"));
        }
        if let Some(pending) = list(CheckState::Pending) {
            summary.push_str(&format!("; pending: {pending}"));
        }
        (Status::Fail, summary)
    } else if let (Some(missing), Round::Final) = (list(CheckState::Missing), round) {
        let mut summary = format!("missing: {missing} (never reported on this commit)");
        if let Some(pending) = list(CheckState::Pending) {
            summary.push_str(&format!("; pending: {pending}"));
        }
        (Status::Fail, summary)
    } else if by_state.contains_key(&CheckState::Pending)
        || by_state.contains_key(&CheckState::Missing)
    {
        let waiting: Vec<String> = [CheckState::Pending, CheckState::Missing]
            .into_iter()
            .flat_map(|state| {
                by_state
                    .get(&state)
                    .into_iter()
                    .flatten()
                    .map(move |n| format!("{n} ({})", state.as_str()))
            })
            .collect();
        let prefix = if round == Round::Final {
            "still pending"
        } else {
            "waiting for"
        };
        (
            Status::Pending,
            format!(
                "{prefix} {} of {total}: {}",
                waiting.len(),
                waiting.join(", ")
            ),
        )
    } else {
        (
            Status::Pass,
            format!("{total} of {total} required checks pass"),
        )
    };
    Verdict::new(GateId::RequiredChecks, status, summary).with_evidence(evidence)
}

/// The latest check run per name: GitHub's ids grow with every attempt, so a re-run wins.
fn latest_runs<'a>(runs: &[&'a CheckRun]) -> Vec<&'a CheckRun> {
    let mut latest: BTreeMap<&str, &CheckRun> = BTreeMap::new();
    for run in runs {
        let entry = latest.entry(run.name.as_str()).or_insert(run);
        if run.id > entry.id {
            *entry = run;
        }
    }
    latest.into_values().collect()
}

fn evaluate_name(
    name: &str,
    app_id: Option<u64>,
    runs: &[&CheckRun],
    facts: &ChecksFacts,
) -> (CheckState, Vec<CheckSource>) {
    let mut sources = Vec::new();
    let run = runs
        .iter()
        .filter(|run| run.name == name)
        .filter(|run| app_id.is_none() || run.app.as_ref().and_then(|a| a.id) == app_id)
        .max_by_key(|run| run.id);
    if let Some(run) = run {
        let result = match (&run.status, &run.conclusion) {
            (CheckRunStatus::Completed, Some(conclusion)) => conclusion.as_str().to_owned(),
            (CheckRunStatus::Completed, None) => "completed without a conclusion".to_owned(),
            (status, _) => status.as_str().to_owned(),
        };
        sources.push(CheckSource {
            kind: "check_run",
            result,
            state: check_run_state(run),
            url: run.html_url.clone().or_else(|| run.details_url.clone()),
            app: run.app.as_ref().and_then(|a| a.slug.clone()),
        });
    }
    // A check pinned to an app can only be satisfied by that app's check run: a commit status
    // does not say which app posted it.
    if app_id.is_none() {
        let status = facts
            .statuses
            .iter()
            .filter(|status| status.context == name)
            .max_by_key(|status| (status.updated_at.or(status.created_at), status.id));
        if let Some(status) = status {
            sources.push(CheckSource {
                kind: "status",
                result: status.state.as_str().to_owned(),
                state: status_state(status),
                url: status.target_url.clone(),
                app: None,
            });
        }
    }
    // The pages not read might hold it: not known, so not "missing".
    let unreported = if facts.lists_complete || app_id.is_some() {
        CheckState::Missing
    } else {
        CheckState::Pending
    };
    // GitHub's rule: when both a check run and a status exist for a name, both must pass.
    let state = sources.iter().map(|s| s.state).max().unwrap_or(unreported);
    (state, sources)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::facts::OwnChecks;

    /// GitHub Actions' app id, as seen in rulesets' `integration_id`.
    const ACTIONS: u64 = 15368;
    const SHA: &str = "9c1d2e4f7a8b3c5d6e0f1a2b4c6d8e0f2a4b6c8d";
    const HOTDASH: [&str; 5] = [
        "Docs Policy",
        "Danger",
        "Gitleaks",
        "AI Config",
        "Health Check",
    ];

    // ----- builders -------------------------------------------------------------------------

    fn policy(required: &[&str]) -> ChecksPolicy {
        ChecksPolicy {
            required: required.iter().map(|name| (*name).to_owned()).collect(),
            from_branch_rules: false,
            ignore: Vec::new(),
            wait: Duration::from_secs(20 * 60),
            interval: Duration::from_secs(15),
        }
    }

    fn with_branch_rules(mut policy: ChecksPolicy) -> ChecksPolicy {
        policy.from_branch_rules = true;
        policy
    }

    fn ignoring(mut policy: ChecksPolicy, globs: &[&str]) -> ChecksPolicy {
        policy.ignore = globs
            .iter()
            .map(|glob| glob::Pattern::new(glob).expect("valid glob"))
            .collect();
        policy
    }

    /// A check run as GitHub sends it, reported by `app`.
    fn run_by(
        id: u64,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
        app: (u64, &str),
    ) -> CheckRun {
        let completed_at = if status == "completed" {
            json!("2026-11-18T16:59:40Z")
        } else {
            Value::Null
        };
        let job_url =
            format!("https://github.com/hotdash-dev/hotdash/actions/runs/19732214075/job/{id}");
        serde_json::from_value(json!({
            "id": id,
            "name": name,
            "node_id": "CR_kwDOLpHkHc8AAAANFo2keQ",
            "head_sha": SHA,
            "external_id": "d1c8e3a4-6b1c-5f2e-9d41-0a7f0c3e5b2d",
            "url": format!("https://api.github.com/repos/hotdash-dev/hotdash/check-runs/{id}"),
            "html_url": job_url,
            "details_url": job_url,
            "status": status,
            "conclusion": conclusion,
            "started_at": "2026-11-18T16:58:45Z",
            "completed_at": completed_at,
            "output": {
                "title": null,
                "summary": null,
                "text": null,
                "annotations_count": 0,
                "annotations_url": format!("https://api.github.com/repos/hotdash-dev/hotdash/check-runs/{id}/annotations")
            },
            "check_suite": { "id": 45011873264_u64 },
            "app": { "id": app.0, "slug": app.1, "node_id": "MDM6QXBwMTUzNjg=", "name": "GitHub Actions" },
            "pull_requests": []
        }))
        .expect("a check run in GitHub's shape")
    }

    fn run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> CheckRun {
        run_by(id, name, status, conclusion, (ACTIONS, "github-actions"))
    }

    fn done(id: u64, name: &str, conclusion: &str) -> CheckRun {
        run(id, name, "completed", Some(conclusion))
    }

    fn passed(id: u64, name: &str) -> CheckRun {
        done(id, name, "success")
    }

    /// A commit status as GitHub sends it (`/status` or `/statuses`).
    fn status(id: u64, context: &str, state: &str, at: &str) -> CommitStatus {
        serde_json::from_value(json!({
            "url": format!("https://api.github.com/repos/hotdash-dev/hotdash/statuses/{SHA}"),
            "avatar_url": "https://avatars.githubusercontent.com/in/1037522?v=4",
            "id": id,
            "node_id": "SC_kwDOLpHkHc8AAAAJGlXy0A",
            "state": state,
            "description": "uptime probe",
            "target_url": format!("https://uptime.hotdash.dev/checks/{id}"),
            "context": context,
            "created_at": at,
            "updated_at": at
        }))
        .expect("a commit status in GitHub's shape")
    }

    fn facts(check_runs: Vec<CheckRun>, statuses: Vec<CommitStatus>) -> ChecksFacts {
        ChecksFacts {
            check_runs,
            statuses,
            rulesets: Readable::NotAsked("not asked in this test".to_owned()),
            protection: Readable::NotAsked("not asked in this test".to_owned()),
            own: OwnChecks::default(),
            round: Round::Final,
            lists_complete: true,
        }
    }

    fn contexts(list: &[(&str, Option<u64>)]) -> Vec<RequiredContext> {
        list.iter()
            .map(|(context, app_id)| RequiredContext {
                context: (*context).to_owned(),
                app_id: *app_id,
            })
            .collect()
    }

    // ----- readers --------------------------------------------------------------------------

    /// Each required check's name and state, in evidence order.
    fn states(verdict: &Verdict) -> Vec<(String, CheckState)> {
        verdict
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Check { name, state, .. } => Some((name.clone(), *state)),
                _ => None,
            })
            .collect()
    }

    fn state_of(verdict: &Verdict, wanted: &str) -> CheckState {
        states(verdict)
            .into_iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, state)| state)
            .unwrap_or_else(|| panic!("no check evidence for {wanted:?} in {verdict:#?}"))
    }

    fn required_names(verdict: &Verdict) -> Vec<String> {
        states(verdict).into_iter().map(|(name, _)| name).collect()
    }

    /// The full check evidence of one name: (required_by, sources, app_id).
    fn check(verdict: &Verdict, wanted: &str) -> (Vec<RequiredBy>, Vec<CheckSource>, Option<u64>) {
        verdict
            .evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Check {
                    name,
                    required_by,
                    sources,
                    app_id,
                    ..
                } if name == wanted => Some((required_by.clone(), sources.clone(), *app_id)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no check evidence for {wanted:?} in {verdict:#?}"))
    }

    fn excluded(verdict: &Verdict) -> Vec<(String, String)> {
        verdict
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Excluded { name, reason } => Some((name.clone(), reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn notes(verdict: &Verdict) -> Vec<String> {
        verdict
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Note { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn required_sources(verdict: &Verdict) -> Vec<(RequiredBy, SourceState)> {
        verdict
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::RequiredSource { source, state } => Some((*source, state.clone())),
                _ => None,
            })
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    // ----- classes of results ---------------------------------------------------------------

    #[test]
    fn with_lists_unread_a_check_without_a_source_is_unknown_not_missing() {
        let mut unread = facts(vec![done(1, "Gitleaks", "failure")], vec![]);
        unread.lists_complete = false;
        let verdict = evaluate(&policy(&["Gitleaks", "ci/legacy"]), &unread, Round::Final);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.summary, "failing: Gitleaks; pending: ci/legacy");
        assert!(verdict.evidence.contains(&Evidence::Note {
            text: "not every check run and status was read: a failing check run decided the gate"
                .to_owned()
        }));
        // Read, the same absence is a missing check.
        let read = facts(vec![done(1, "Gitleaks", "failure")], vec![]);
        let verdict = evaluate(&policy(&["Gitleaks", "ci/legacy"]), &read, Round::Final);
        assert_eq!(verdict.summary, "failing: Gitleaks; missing: ci/legacy");
    }

    #[test]
    fn conclusions_pass_or_fail_by_class() {
        let table = [
            ("success", CheckState::Passing, Status::Pass),
            ("neutral", CheckState::Passing, Status::Pass),
            ("skipped", CheckState::Passing, Status::Pass),
            ("failure", CheckState::Failing, Status::Fail),
            ("cancelled", CheckState::Failing, Status::Fail),
            ("timed_out", CheckState::Failing, Status::Fail),
            ("action_required", CheckState::Failing, Status::Fail),
            ("stale", CheckState::Failing, Status::Fail),
            ("startup_failure", CheckState::Failing, Status::Fail),
            // A value GitHub may add later, and one that only looks like a pass.
            ("quarantined", CheckState::Failing, Status::Fail),
            ("Success", CheckState::Failing, Status::Fail),
        ];
        for (conclusion, state, status) in table {
            let run = done(56234119801, "Gitleaks", conclusion);
            assert_eq!(check_run_state(&run), state, "conclusion {conclusion}");
            for round in [Round::Waiting, Round::Final] {
                let verdict = evaluate(
                    &policy(&["Gitleaks"]),
                    &facts(vec![run.clone()], vec![]),
                    round,
                );
                assert_eq!(
                    verdict.status, status,
                    "conclusion {conclusion} in {round:?}"
                );
                assert_eq!(verdict.gate, GateId::RequiredChecks);
                let (_, sources, _) = check(&verdict, "Gitleaks");
                assert_eq!(sources.len(), 1, "conclusion {conclusion}");
                assert_eq!(sources[0].kind, "check_run");
                assert_eq!(
                    sources[0].result, conclusion,
                    "the result is what GitHub said"
                );
                assert_eq!(sources[0].state, state);
            }
        }
    }

    #[test]
    fn unfinished_runs_are_pending() {
        for status in ["queued", "in_progress", "waiting", "requested", "pending"] {
            let run = run(56234119801, "Danger", status, None);
            assert_eq!(
                check_run_state(&run),
                CheckState::Pending,
                "status {status}"
            );
            let verdict = evaluate(
                &policy(&["Danger"]),
                &facts(vec![run], vec![]),
                Round::Waiting,
            );
            assert_eq!(verdict.status, Status::Pending, "status {status}");
            assert_eq!(state_of(&verdict, "Danger"), CheckState::Pending);
            assert_eq!(verdict.summary, "waiting for 1 of 1: Danger (pending)");
            let (_, sources, _) = check(&verdict, "Danger");
            assert_eq!(sources[0].result, status, "the result names the status");
        }
    }

    #[test]
    fn odd_status_and_conclusion_pairs() {
        let table = [
            // An unknown status: with a conclusion it is finished, without one it is not.
            ("deferred", None, CheckState::Pending, "deferred"),
            ("deferred", Some("success"), CheckState::Passing, "deferred"),
            ("deferred", Some("skipped"), CheckState::Passing, "deferred"),
            ("deferred", Some("failure"), CheckState::Failing, "deferred"),
            (
                "deferred",
                Some("quarantined"),
                CheckState::Failing,
                "deferred",
            ),
            // Completed without a conclusion is not a pass.
            (
                "completed",
                None,
                CheckState::Failing,
                "completed without a conclusion",
            ),
            // A known unfinished status wins over a stray conclusion.
            (
                "in_progress",
                Some("success"),
                CheckState::Pending,
                "in_progress",
            ),
            ("queued", Some("failure"), CheckState::Pending, "queued"),
        ];
        for (status, conclusion, state, result) in table {
            let run = run(56234119801, "AI Config", status, conclusion);
            assert_eq!(check_run_state(&run), state, "{status} / {conclusion:?}");
            let verdict = evaluate(
                &policy(&["AI Config"]),
                &facts(vec![run], vec![]),
                Round::Final,
            );
            assert_eq!(
                state_of(&verdict, "AI Config"),
                state,
                "{status} / {conclusion:?}"
            );
            let (_, sources, _) = check(&verdict, "AI Config");
            assert_eq!(sources[0].result, result, "{status} / {conclusion:?}");
        }
    }

    #[test]
    fn commit_status_states() {
        let table = [
            ("success", CheckState::Passing, Status::Pass),
            ("pending", CheckState::Pending, Status::Pending),
            ("failure", CheckState::Failing, Status::Fail),
            ("error", CheckState::Failing, Status::Fail),
            ("expired", CheckState::Failing, Status::Fail),
        ];
        for (state, check_state, verdict_status) in table {
            let st = status(
                39112098811,
                "ci/circleci: build",
                state,
                "2026-11-18T17:02:37Z",
            );
            assert_eq!(status_state(&st), check_state, "state {state}");
            let verdict = evaluate(
                &policy(&["ci/circleci: build"]),
                &facts(vec![], vec![st]),
                Round::Final,
            );
            assert_eq!(verdict.status, verdict_status, "state {state}");
            let (_, sources, _) = check(&verdict, "ci/circleci: build");
            assert_eq!(
                sources,
                [CheckSource {
                    kind: "status",
                    result: state.to_owned(),
                    state: check_state,
                    url: Some("https://uptime.hotdash.dev/checks/39112098811".to_owned()),
                    app: None,
                }]
            );
        }
    }

    #[test]
    fn check_run_evidence_links_the_job_and_names_the_app() {
        let verdict = evaluate(
            &policy(&["Gitleaks"]),
            &facts(vec![passed(56234119807, "Gitleaks")], vec![]),
            Round::Final,
        );
        let (required_by, sources, app_id) = check(&verdict, "Gitleaks");
        assert_eq!(required_by, [RequiredBy::Config]);
        assert_eq!(app_id, None);
        assert_eq!(
            sources,
            [CheckSource {
                kind: "check_run",
                result: "success".to_owned(),
                state: CheckState::Passing,
                url: Some(
                    "https://github.com/hotdash-dev/hotdash/actions/runs/19732214075/job/56234119807"
                        .to_owned()
                ),
                app: Some("github-actions".to_owned()),
            }]
        );

        // Without html_url, details_url is the link.
        let mut run = passed(56234119807, "Gitleaks");
        run.html_url = None;
        run.details_url = Some("https://ci.hotdash.dev/builds/881".to_owned());
        let verdict = evaluate(
            &policy(&["Gitleaks"]),
            &facts(vec![run], vec![]),
            Round::Final,
        );
        let (_, sources, _) = check(&verdict, "Gitleaks");
        assert_eq!(
            sources[0].url.as_deref(),
            Some("https://ci.hotdash.dev/builds/881")
        );
    }

    // ----- which attempt counts -------------------------------------------------------------

    #[test]
    fn the_latest_attempt_of_a_check_run_counts() {
        // (attempts as (id, conclusion) in the order GitHub listed them, expected state)
        let table: [(&[(u64, &str)], CheckState); 5] = [
            (&[(100, "failure"), (101, "success")], CheckState::Passing),
            (&[(101, "success"), (100, "failure")], CheckState::Passing),
            (&[(100, "success"), (101, "failure")], CheckState::Failing),
            (&[(101, "failure"), (100, "success")], CheckState::Failing),
            (
                &[(100, "failure"), (102, "success"), (101, "cancelled")],
                CheckState::Passing,
            ),
        ];
        for (attempts, expected) in table {
            let runs = attempts
                .iter()
                .map(|(id, conclusion)| done(*id, "Danger", conclusion))
                .collect();
            let verdict = evaluate(&policy(&["Danger"]), &facts(runs, vec![]), Round::Final);
            assert_eq!(state_of(&verdict, "Danger"), expected, "{attempts:?}");
            let (_, sources, _) = check(&verdict, "Danger");
            assert_eq!(
                sources.len(),
                1,
                "only one attempt is reported: {attempts:?}"
            );
        }

        // A re-run that is still in progress makes the check pending again.
        let runs = vec![
            passed(100, "Danger"),
            run(101, "Danger", "in_progress", None),
        ];
        let verdict = evaluate(&policy(&["Danger"]), &facts(runs, vec![]), Round::Waiting);
        assert_eq!(verdict.status, Status::Pending);
    }

    #[test]
    fn the_latest_commit_status_of_a_context_counts() {
        // `/statuses` lists newest first, possibly several per context.
        let table = [
            (
                vec![
                    status(2, "Health Check", "success", "2026-11-18T17:05:00Z"),
                    status(1, "Health Check", "failure", "2026-11-18T17:00:00Z"),
                ],
                CheckState::Passing,
            ),
            (
                vec![
                    status(1, "Health Check", "pending", "2026-11-18T17:00:00Z"),
                    status(2, "Health Check", "error", "2026-11-18T17:05:00Z"),
                ],
                CheckState::Failing,
            ),
            (
                // Same time: the higher id is the later one.
                vec![
                    status(7, "Health Check", "success", "2026-11-18T17:00:00Z"),
                    status(6, "Health Check", "pending", "2026-11-18T17:00:00Z"),
                ],
                CheckState::Passing,
            ),
        ];
        for (statuses, expected) in table {
            let verdict = evaluate(
                &policy(&["Health Check"]),
                &facts(vec![], statuses),
                Round::Final,
            );
            assert_eq!(state_of(&verdict, "Health Check"), expected);
        }
    }

    #[test]
    fn a_check_run_and_a_status_of_the_same_name_must_both_pass() {
        let table = [
            ("success", "success", CheckState::Passing),
            ("success", "failure", CheckState::Failing),
            ("success", "error", CheckState::Failing),
            ("failure", "success", CheckState::Failing),
            ("success", "pending", CheckState::Pending),
            ("skipped", "success", CheckState::Passing),
            ("cancelled", "pending", CheckState::Failing),
        ];
        for (conclusion, state, expected) in table {
            let verdict = evaluate(
                &policy(&["Health Check"]),
                &facts(
                    vec![done(56247733027, "Health Check", conclusion)],
                    vec![status(
                        39112098811,
                        "Health Check",
                        state,
                        "2026-11-18T17:02:37Z",
                    )],
                ),
                Round::Final,
            );
            assert_eq!(
                state_of(&verdict, "Health Check"),
                expected,
                "run {conclusion}, status {state}"
            );
            let (_, sources, _) = check(&verdict, "Health Check");
            let kinds: Vec<&str> = sources.iter().map(|s| s.kind).collect();
            assert_eq!(kinds, ["check_run", "status"]);
        }
    }

    // ----- missing, failing, pending --------------------------------------------------------

    #[test]
    fn missing_failing_and_pending_are_reported_apart() {
        let runs = vec![
            passed(10, "Docs Policy"),
            done(11, "Gitleaks", "failure"),
            run(12, "Danger", "in_progress", None),
        ];
        let policy = policy(&["Docs Policy", "Danger", "Gitleaks", "Health Check"]);
        for round in [Round::Waiting, Round::Final] {
            let verdict = evaluate(&policy, &facts(runs.clone(), vec![]), round);
            assert_eq!(
                states(&verdict),
                [
                    ("Danger".to_owned(), CheckState::Pending),
                    ("Docs Policy".to_owned(), CheckState::Passing),
                    ("Gitleaks".to_owned(), CheckState::Failing),
                    ("Health Check".to_owned(), CheckState::Missing),
                ],
                "{round:?}"
            );
            let (_, sources, _) = check(&verdict, "Health Check");
            assert!(sources.is_empty(), "a missing check has no source");
            // Fail fast: a failure decides even while others are pending or missing.
            assert_eq!(verdict.status, Status::Fail, "{round:?}");
            assert_eq!(
                verdict.summary,
                "failing: Gitleaks; missing: Health Check; pending: Danger"
            );
        }
    }

    #[test]
    fn missing_is_pending_while_waiting_and_fails_at_the_end() {
        let policy = policy(&["Docs Policy", "Health Check"]);
        let facts = facts(vec![passed(10, "Docs Policy")], vec![]);

        let waiting = evaluate(&policy, &facts, Round::Waiting);
        assert_eq!(waiting.status, Status::Pending);
        assert_eq!(state_of(&waiting, "Health Check"), CheckState::Missing);
        assert_eq!(
            waiting.summary,
            "waiting for 1 of 2: Health Check (missing)"
        );

        let last = evaluate(&policy, &facts, Round::Final);
        assert_eq!(last.status, Status::Fail);
        assert_eq!(state_of(&last, "Health Check"), CheckState::Missing);
        assert_eq!(
            last.summary,
            "missing: Health Check (never reported on this commit)"
        );
    }

    #[test]
    fn pending_and_missing_are_listed_while_waiting() {
        let verdict = evaluate(
            &policy(&["AI Config", "Danger", "Health Check"]),
            &facts(
                vec![passed(10, "AI Config"), run(11, "Danger", "queued", None)],
                vec![],
            ),
            Round::Waiting,
        );
        assert_eq!(verdict.status, Status::Pending);
        assert_eq!(
            verdict.summary,
            "waiting for 2 of 3: Danger (pending), Health Check (missing)"
        );
    }

    #[test]
    fn still_pending_at_the_end_blocks_but_is_not_a_failure() {
        let verdict = evaluate(
            &policy(&["Danger", "Gitleaks"]),
            &facts(
                vec![
                    run(11, "Danger", "in_progress", None),
                    passed(12, "Gitleaks"),
                ],
                vec![],
            ),
            Round::Final,
        );
        assert_eq!(verdict.status, Status::Pending);
        assert_eq!(verdict.summary, "still pending 1 of 2: Danger (pending)");
    }

    #[test]
    fn a_failure_fails_fast_while_others_are_pending() {
        for round in [Round::Waiting, Round::Final] {
            let verdict = evaluate(
                &policy(&HOTDASH),
                &facts(
                    vec![
                        run(10, "Docs Policy", "queued", None),
                        run(11, "Danger", "in_progress", None),
                        done(12, "Gitleaks", "timed_out"),
                        run(13, "AI Config", "waiting", None),
                    ],
                    vec![status(5, "Health Check", "pending", "2026-11-18T17:00:00Z")],
                ),
                round,
            );
            assert_eq!(verdict.status, Status::Fail, "{round:?}");
            assert_eq!(
                verdict.summary,
                "failing: Gitleaks; pending: AI Config, Danger, Docs Policy, Health Check",
                "{round:?}"
            );
        }
    }

    #[test]
    fn every_required_check_passing_passes() {
        let runs: Vec<CheckRun> = HOTDASH
            .iter()
            .zip(56234119801_u64..)
            .map(|(name, id)| passed(id, name))
            .collect();
        for round in [Round::Waiting, Round::Final] {
            let verdict = evaluate(&policy(&HOTDASH), &facts(runs.clone(), vec![]), round);
            assert_eq!(verdict.status, Status::Pass, "{round:?}");
            assert_eq!(verdict.summary, "5 of 5 required checks pass");
            assert_eq!(
                required_names(&verdict),
                [
                    "AI Config",
                    "Danger",
                    "Docs Policy",
                    "Gitleaks",
                    "Health Check"
                ]
            );
            assert!(notes(&verdict).is_empty(), "{:?}", notes(&verdict));
        }
    }

    #[test]
    fn unrequired_failures_are_noted_but_do_not_block() {
        let verdict = evaluate(
            &policy(&["Gitleaks"]),
            &facts(
                vec![
                    passed(10, "Gitleaks"),
                    done(11, "Lint", "failure"),
                    done(12, "test (ubuntu-latest, 22)", "cancelled"),
                    // An old failure superseded by a passing re-run is not noted.
                    done(13, "Storybook", "failure"),
                    passed(14, "Storybook"),
                ],
                vec![],
            ),
            Round::Final,
        );
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(required_names(&verdict), ["Gitleaks"]);
        assert_eq!(
            notes(&verdict),
            ["not required, but failing: Lint, test (ubuntu-latest, 22)"]
        );
    }

    // ----- what is required -----------------------------------------------------------------

    #[test]
    fn ignore_globs_leave_checks_out() {
        let mut facts = facts(
            vec![
                passed(10, "Gitleaks"),
                done(11, "Deploy Preview (pr-418)", "failure"),
                run(12, "test (windows-latest, 22)", "in_progress", None),
                passed(13, "test (ubuntu-latest, 22)"),
            ],
            vec![],
        );
        facts.rulesets = Readable::Read(contexts(&[
            ("Deploy Preview (pr-418)", None),
            ("test (windows-latest, 22)", None),
            ("test (ubuntu-latest, 22)", None),
        ]));
        facts.protection = Readable::Read(Vec::new());
        let lenient = ignoring(
            with_branch_rules(policy(&["Gitleaks"])),
            &["Deploy Preview*", "test (windows-*"],
        );
        let verdict = evaluate(&lenient, &facts, Round::Waiting);
        assert_eq!(verdict.status, Status::Pass, "{verdict:#?}");
        assert_eq!(
            required_names(&verdict),
            ["Gitleaks", "test (ubuntu-latest, 22)"]
        );
        assert_eq!(
            excluded(&verdict),
            [
                (
                    "Deploy Preview (pr-418)".to_owned(),
                    "matches ignore `Deploy Preview*`".to_owned()
                ),
                (
                    "test (windows-latest, 22)".to_owned(),
                    "matches ignore `test (windows-*`".to_owned()
                ),
            ]
        );

        // Without the ignore list the same facts block.
        let verdict = evaluate(
            &with_branch_rules(policy(&["Gitleaks"])),
            &facts,
            Round::Waiting,
        );
        assert_eq!(verdict.status, Status::Fail);
        assert!(excluded(&verdict).is_empty());
    }

    #[test]
    fn an_ignore_glob_also_applies_to_configured_names() {
        let verdict = evaluate(
            &ignoring(policy(&["Gitleaks", "AI Config"]), &["AI *"]),
            &facts(vec![passed(10, "Gitleaks")], vec![]),
            Round::Final,
        );
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(required_names(&verdict), ["Gitleaks"]);
        assert_eq!(excluded(&verdict)[0].0, "AI Config");
    }

    #[test]
    fn the_gates_own_check_is_never_waited_on() {
        // "One required check to rule them all": protection requires `shipgate`, which is the
        // check run this very gate is about to complete.
        let mut facts = facts(
            vec![
                passed(10, "Gitleaks"),
                run(20, "shipgate", "in_progress", None),
            ],
            vec![],
        );
        facts.rulesets = Readable::Read(Vec::new());
        facts.protection = Readable::Read(contexts(&[("shipgate", Some(ACTIONS))]));
        for round in [Round::Waiting, Round::Final] {
            let verdict = evaluate(&with_branch_rules(policy(&["Gitleaks"])), &facts, round);
            assert_eq!(verdict.status, Status::Pass, "{round:?}: {verdict:#?}");
            assert_eq!(required_names(&verdict), ["Gitleaks"]);
            assert_eq!(
                excluded(&verdict),
                [("shipgate".to_owned(), "shipgate's own check".to_owned())]
            );
        }

        // Configured by hand, it is excluded all the same.
        let verdict = evaluate(&policy(&["Gitleaks", "shipgate"]), &facts, Round::Final);
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(excluded(&verdict)[0].0, "shipgate");
    }

    #[test]
    fn the_gates_own_check_run_ids_are_never_counted() {
        // shipgate runs inside a job whose run would otherwise be the latest attempt of a
        // required name; that run is its own, so the earlier, finished attempt decides.
        let mut facts = facts(
            vec![
                passed(100, "Health Check"),
                run(200, "Health Check", "in_progress", None),
            ],
            vec![],
        );
        let without = evaluate(&policy(&["Health Check"]), &facts, Round::Waiting);
        assert_eq!(
            without.status,
            Status::Pending,
            "the in-progress run is the latest"
        );

        // Run 200 is the job running shipgate: its name leaves the required set (the rule: "minus the
        // gate's own check run and the job running it"), so nothing is left to require.
        facts.own.check_run_ids = vec![200];
        let with = evaluate(&policy(&["Health Check"]), &facts, Round::Waiting);
        assert_eq!(with.status, Status::Fail);
        assert!(with.evidence.contains(&Evidence::Excluded {
            name: "Health Check".to_owned(),
            reason: "the job running shipgate".to_owned(),
        }));

        // And its own job is never "not required, but failing".
        let mut facts = facts_with_own_failing_job();
        facts.own.check_run_ids = vec![300];
        let verdict = evaluate(&policy(&["Gitleaks"]), &facts, Round::Final);
        assert!(notes(&verdict).is_empty(), "{:?}", notes(&verdict));
        facts.own.check_run_ids = vec![];
        let verdict = evaluate(&policy(&["Gitleaks"]), &facts, Round::Final);
        assert_eq!(
            notes(&verdict),
            ["not required, but failing: Deploy production / gate"]
        );
    }

    fn facts_with_own_failing_job() -> ChecksFacts {
        facts(
            vec![
                passed(10, "Gitleaks"),
                done(300, "Deploy production / gate", "failure"),
            ],
            vec![],
        )
    }

    /// The required set is taken "minus the gate's own check run and the job
    /// running it". A ruleset that requires the job running shipgate must not make the gate wait
    /// for (or fail on) itself.
    #[test]
    fn the_job_running_the_gate_is_not_required_of_itself() {
        let mut facts = facts(
            vec![
                passed(10, "Gitleaks"),
                run(300, "Deploy production / gate", "in_progress", None),
            ],
            vec![],
        );
        facts.own.check_run_ids = vec![300];
        facts.rulesets = Readable::Read(contexts(&[("Deploy production / gate", Some(ACTIONS))]));
        facts.protection = Readable::Read(Vec::new());
        let verdict = evaluate(
            &with_branch_rules(policy(&["Gitleaks"])),
            &facts,
            Round::Final,
        );
        assert_eq!(verdict.status, Status::Pass, "{verdict:#?}");
        assert_eq!(required_names(&verdict), ["Gitleaks"]);
        assert_eq!(excluded(&verdict).len(), 1);
    }

    #[test]
    fn an_app_pinned_check_ignores_other_apps() {
        let impostor = (1048576, "quick-green-ci");
        let actions = (ACTIONS, "github-actions");
        // (check runs as (id, conclusion, app), statuses, expected state, app of the source)
        #[allow(clippy::type_complexity)]
        let table: [(
            &[(u64, &str, (u64, &str))],
            &[&str],
            CheckState,
            Option<&str>,
        ); 5] = [
            // Only the impostor reported: the pinned check is missing.
            (&[(20, "success", impostor)], &[], CheckState::Missing, None),
            // The impostor's later green run does not hide the real failure.
            (
                &[(10, "failure", actions), (20, "success", impostor)],
                &[],
                CheckState::Failing,
                Some("github-actions"),
            ),
            // And its later red run does not fail a real pass.
            (
                &[(10, "success", actions), (20, "failure", impostor)],
                &[],
                CheckState::Passing,
                Some("github-actions"),
            ),
            // A commit status does not say which app posted it: it cannot satisfy a pin.
            (&[], &["success"], CheckState::Missing, None),
            (
                &[(10, "success", actions)],
                &["failure"],
                CheckState::Passing,
                Some("github-actions"),
            ),
        ];
        for (runs, statuses, expected, app) in table {
            let mut facts = facts(
                runs.iter()
                    .map(|(id, conclusion, by)| {
                        run_by(*id, "Gitleaks", "completed", Some(conclusion), *by)
                    })
                    .collect(),
                statuses
                    .iter()
                    .map(|state| status(1, "Gitleaks", state, "2026-11-18T17:00:00Z"))
                    .collect(),
            );
            facts.rulesets = Readable::Read(contexts(&[("Gitleaks", Some(ACTIONS))]));
            facts.protection = Readable::Read(Vec::new());
            // Configured without a pin too: the pin still applies.
            let verdict = evaluate(
                &with_branch_rules(policy(&["Gitleaks"])),
                &facts,
                Round::Final,
            );
            let (required_by, sources, app_id) = check(&verdict, "Gitleaks");
            assert_eq!(
                state_of(&verdict, "Gitleaks"),
                expected,
                "{runs:?} {statuses:?}"
            );
            assert_eq!(app_id, Some(ACTIONS));
            assert_eq!(required_by, [RequiredBy::Config, RequiredBy::Ruleset]);
            assert_eq!(
                sources.len(),
                usize::from(app.is_some()),
                "{runs:?} {statuses:?}"
            );
            assert_eq!(sources.first().and_then(|s| s.app.as_deref()), app);
            assert!(sources.iter().all(|s| s.kind == "check_run"));
        }

        // Unpinned, the impostor's latest run would count.
        let verdict = evaluate(
            &policy(&["Gitleaks"]),
            &facts(
                vec![
                    run_by(10, "Gitleaks", "completed", Some("failure"), actions),
                    run_by(20, "Gitleaks", "completed", Some("success"), impostor),
                ],
                vec![],
            ),
            Round::Final,
        );
        assert_eq!(state_of(&verdict, "Gitleaks"), CheckState::Passing);
    }

    fn union_facts() -> ChecksFacts {
        let mut facts = facts(
            vec![
                passed(10, "Docs Policy"),
                passed(11, "Gitleaks"),
                done(12, "Lint", "failure"),
                passed(13, "build"),
            ],
            vec![],
        );
        facts.rulesets = Readable::Read(contexts(&[("Gitleaks", Some(ACTIONS)), ("Lint", None)]));
        facts.protection = Readable::Read(contexts(&[("build", None), ("Docs Policy", None)]));
        facts
    }

    #[test]
    fn the_required_set_is_the_union_of_config_rulesets_and_protection() {
        let verdict = evaluate(
            &with_branch_rules(policy(&["Docs Policy", "Gitleaks"])),
            &union_facts(),
            Round::Final,
        );
        assert_eq!(
            required_names(&verdict),
            ["Docs Policy", "Gitleaks", "Lint", "build"]
        );
        assert_eq!(
            check(&verdict, "Docs Policy").0,
            [RequiredBy::Config, RequiredBy::BranchProtection]
        );
        assert_eq!(
            check(&verdict, "Gitleaks").0,
            [RequiredBy::Config, RequiredBy::Ruleset]
        );
        assert_eq!(check(&verdict, "Gitleaks").2, Some(ACTIONS));
        assert_eq!(check(&verdict, "Lint").0, [RequiredBy::Ruleset]);
        assert_eq!(check(&verdict, "build").0, [RequiredBy::BranchProtection]);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.summary, "failing: Lint");
        assert_eq!(
            required_sources(&verdict),
            [
                (
                    RequiredBy::Config,
                    SourceState::Read {
                        names: names(&["Docs Policy", "Gitleaks"])
                    }
                ),
                (
                    RequiredBy::Ruleset,
                    SourceState::Read {
                        names: names(&["Gitleaks", "Lint"])
                    }
                ),
                (
                    RequiredBy::BranchProtection,
                    SourceState::Read {
                        names: names(&["build", "Docs Policy"])
                    }
                ),
            ]
        );
    }

    #[test]
    fn without_from_branch_rules_only_the_config_is_required() {
        let verdict = evaluate(
            &policy(&["Docs Policy", "Gitleaks"]),
            &union_facts(),
            Round::Final,
        );
        assert_eq!(required_names(&verdict), ["Docs Policy", "Gitleaks"]);
        assert_eq!(
            check(&verdict, "Gitleaks").2,
            None,
            "no pin from an unread ruleset"
        );
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(
            required_sources(&verdict),
            [(
                RequiredBy::Config,
                SourceState::Read {
                    names: names(&["Docs Policy", "Gitleaks"])
                }
            )]
        );
        assert_eq!(notes(&verdict), ["not required, but failing: Lint"]);
    }

    #[test]
    fn unreadable_rule_sources_are_recorded_not_taken_as_none() {
        let mut facts = facts(
            HOTDASH
                .iter()
                .zip(1_u64..)
                .map(|(n, id)| passed(id, n))
                .collect(),
            vec![],
        );
        facts.rulesets = Readable::NotAsked("no `branch_rules` answer in the file".to_owned());
        facts.protection =
            Readable::Unknown("403 Resource not accessible by integration".to_owned());
        let verdict = evaluate(&with_branch_rules(policy(&HOTDASH)), &facts, Round::Final);
        assert_eq!(verdict.status, Status::Pass);
        let sources = required_sources(&verdict);
        assert_eq!(sources.len(), 3);
        assert_eq!(
            sources[1],
            (
                RequiredBy::Ruleset,
                SourceState::NotChecked {
                    reason: "no `branch_rules` answer in the file".to_owned()
                }
            )
        );
        assert_eq!(
            sources[2],
            (
                RequiredBy::BranchProtection,
                SourceState::Unknown {
                    reason: "403 Resource not accessible by integration".to_owned()
                }
            )
        );
    }

    #[test]
    fn a_gate_that_checks_nothing_refuses_to_pass() {
        let unreadable = || {
            let mut facts = facts(
                vec![
                    passed(10, "Gitleaks"),
                    run(11, "shipgate", "in_progress", None),
                ],
                vec![],
            );
            facts.rulesets = Readable::Unknown("404".to_owned());
            facts.protection = Readable::Unknown("403".to_owned());
            facts
        };
        let empty_rules = || {
            let mut facts = unreadable();
            facts.rulesets = Readable::Read(Vec::new());
            facts.protection = Readable::Read(Vec::new());
            facts
        };
        let only_self = || {
            let mut facts = unreadable();
            facts.rulesets = Readable::Read(Vec::new());
            facts.protection = Readable::Read(contexts(&[("shipgate", None)]));
            facts
        };
        let nothing = "nothing is required: refusing to pass a gate that checks nothing";
        let unknown = "no required checks could be determined: the branch rules were not readable and `checks.required` is empty";
        let table = [
            (policy(&[]), unreadable(), nothing),
            (with_branch_rules(policy(&[])), unreadable(), unknown),
            (with_branch_rules(policy(&[])), empty_rules(), nothing),
            (with_branch_rules(policy(&[])), only_self(), nothing),
            (policy(&["shipgate"]), unreadable(), nothing),
            (
                ignoring(policy(&["Gitleaks"]), &["*"]),
                unreadable(),
                nothing,
            ),
        ];
        for (i, (policy, facts, summary)) in table.into_iter().enumerate() {
            for round in [Round::Waiting, Round::Final] {
                let verdict = evaluate(&policy, &facts, round);
                assert_eq!(verdict.status, Status::Fail, "case {i} {round:?}");
                assert_eq!(verdict.summary, summary, "case {i}");
                assert!(states(&verdict).is_empty(), "case {i}");
                assert_eq!(
                    notes(&verdict),
                    ["list the checks that must pass under `checks.required` in the config"],
                    "case {i}"
                );
            }
        }
    }
}
