//! The `required-checks` gate: every required name must be reported, and passing, by the latest
//! attempt of its check run and/or commit status.

use std::collections::BTreeMap;

use crate::config::ChecksPolicy;
use crate::decision::{
    CheckSource, CheckState, Evidence, GateId, RequiredBy, SourceState, Status, Verdict,
};
use crate::facts::{ChecksFacts, Readable};
use crate::github::model::{
    CheckRun, CheckRunStatus, CommitStatus, Conclusion, RequiredContext, StatusState,
};

/// Whether more rounds may follow. A missing check is pending while waiting and fails at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Waiting,
    Final,
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

    required.retain(|name, _| {
        let reason = if facts.own.names.iter().any(|own| own == name) {
            Some("shipgate's own check".to_owned())
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
        let (state, sources) = evaluate_name(name, requirement.app_id, &runs, &facts.statuses);
        by_state.entry(state).or_default().push(name.clone());
        evidence.push(Evidence::Check {
            name: name.clone(),
            state,
            required_by: requirement.required_by.clone(),
            sources,
            app_id: requirement.app_id,
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
        (Status::Fail, summary)
    } else if let (Some(missing), Round::Final) = (list(CheckState::Missing), round) {
        (
            Status::Fail,
            format!("missing: {missing} (never reported on this commit)"),
        )
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
    statuses: &[CommitStatus],
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
        let status = statuses
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
    // GitHub's rule: when both a check run and a status exist for a name, both must pass.
    let state = sources
        .iter()
        .map(|s| s.state)
        .max()
        .unwrap_or(CheckState::Missing);
    (state, sources)
}
