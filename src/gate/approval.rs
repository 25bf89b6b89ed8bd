//! The `approval` gate: the deploy run was approved through the GitHub Environment's required
//! reviewers. A rejection fails it, naming who; no approval fails it; an approval by the run's
//! own actor does not count where the environment forbids self-review. Outside Actions (no run to
//! ask about) it is "not checked", which blocks a deploy.

use crate::config::ApprovalPolicy;
use crate::decision::{Evidence, GateId, Status, Verdict};
use crate::facts::approval::{ApprovalFacts, Review, ReviewState};
use crate::facts::{Facts, Readable};

/// Where the gate can be decided at all.
pub const WHERE_HINT: &str =
    "runs in a GitHub Actions job whose environment has required reviewers";

/// What the reviews of a run say about one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement<'a> {
    /// Approved; the approvals that count.
    Approved(Vec<&'a Review>),
    /// A reviewer rejected it.
    Rejected(&'a Review),
    /// Approved only by the run's own actor, where the environment forbids self-review.
    SelfApproved(&'a Review),
    /// Approved only by the run's own actor, and whether the environment forbids self-review
    /// could not be read.
    SelfApprovedUnknown(&'a Review, &'a str),
    /// No review of this environment.
    NoReview,
}

/// Judges the reviews of `environment`. Any rejection decides (GitHub fails a rejected job; an
/// approval recorded elsewhere in the history does not undo it); `pending` entries are not
/// reviews yet.
pub fn judge<'a>(facts: &'a ApprovalFacts, environment: &str) -> Judgement<'a> {
    let reviews: Vec<&Review> = facts
        .reviews
        .iter()
        .filter(|r| r.covers(environment))
        .collect();
    if let Some(rejected) = reviews.iter().find(|r| r.state == ReviewState::Rejected) {
        return Judgement::Rejected(rejected);
    }
    let approvals: Vec<&Review> = reviews
        .into_iter()
        .filter(|r| r.state == ReviewState::Approved)
        .collect();
    let by_actor = |r: &&Review| {
        facts
            .actor
            .as_deref()
            .is_some_and(|actor| actor.eq_ignore_ascii_case(r.login()))
    };
    let (own, others): (Vec<&Review>, Vec<&Review>) = approvals.into_iter().partition(by_actor);
    if !others.is_empty() {
        return Judgement::Approved(others);
    }
    let Some(own) = own.first().copied() else {
        return Judgement::NoReview;
    };
    match &facts.environment {
        Readable::Read(settings) if settings.prevent_self_review() => Judgement::SelfApproved(own),
        Readable::Read(_) => Judgement::Approved(vec![own]),
        Readable::Unknown(why) | Readable::NotAsked(why) => {
            Judgement::SelfApprovedUnknown(own, why)
        }
    }
}

/// Whether the run is approved for `environment`: the approvers, or why not. For
/// `windows.emergency.requires_approval`.
pub fn approved(facts: &Readable<ApprovalFacts>, environment: &str) -> Result<String, String> {
    let facts = match facts {
        Readable::Read(facts) => facts,
        Readable::Unknown(why) | Readable::NotAsked(why) => {
            return Err(format!("the run's approval is not known ({why})"))
        }
    };
    match judge(facts, environment) {
        Judgement::Approved(reviews) => Ok(logins(&reviews)),
        Judgement::Rejected(review) => Err(format!("rejected by {}", review.login())),
        Judgement::SelfApproved(review) => Err(format!(
            "approved only by {}, who triggered the run, and `{environment}` forbids self-review",
            review.login()
        )),
        Judgement::SelfApprovedUnknown(review, why) => Err(format!(
            "approved only by {}, who triggered the run, and whether `{environment}` forbids self-review is not known ({why})",
            review.login()
        )),
        Judgement::NoReview => Err(format!(
            "the run has no approval for `{environment}` from its required reviewers"
        )),
    }
}

fn logins(reviews: &[&Review]) -> String {
    let mut names: Vec<&str> = reviews.iter().map(|r| r.login()).collect();
    names.dedup();
    names.join(", ")
}

fn evidence(review: &Review, environment: &str) -> Evidence {
    Evidence::Approval {
        environment: environment.to_owned(),
        state: review.state.as_str().to_owned(),
        by: review.login().to_owned(),
        comment: review.comment().map(str::to_owned),
    }
}

/// The gate over gathered facts.
pub fn gate(facts: &Facts, policy: Option<&ApprovalPolicy>) -> Verdict {
    let verdict = |status, summary: String| Verdict::new(GateId::Approval, status, summary);
    if !policy.is_some_and(|p| p.required) {
        return verdict(
            Status::Skipped,
            "no approval is required for this environment".to_owned(),
        );
    }
    let environment = facts.subject.environment.as_deref().unwrap_or_default();
    let facts = match &facts.approval {
        Readable::Read(facts) => facts,
        Readable::Unknown(why) | Readable::NotAsked(why) => {
            return verdict(
                Status::NotChecked,
                format!("not checked ({why}): needs a run approved by `{environment}`'s required reviewers"),
            )
            .with_evidence(vec![Evidence::Note {
                text: format!("hint: {WHERE_HINT}"),
            }]);
        }
    };
    let run = &facts.run_id;
    match judge(facts, environment) {
        Judgement::Approved(reviews) => verdict(
            Status::Pass,
            format!("run {run} approved for `{environment}` by {}", logins(&reviews)),
        )
        .with_evidence(reviews.iter().map(|r| evidence(r, environment)).collect()),
        Judgement::Rejected(review) => verdict(
            Status::Fail,
            format!("run {run} was rejected for `{environment}` by {}", review.login()),
        )
        .with_evidence(vec![evidence(review, environment)]),
        Judgement::SelfApproved(review) => verdict(
            Status::Fail,
            format!(
                "run {run} was approved only by {}, who triggered it; `{environment}` forbids self-review, so self-approval is not approval here",
                review.login()
            ),
        )
        .with_evidence(vec![evidence(review, environment)]),
        Judgement::SelfApprovedUnknown(review, why) => verdict(
            Status::NotChecked,
            format!(
                "run {run} was approved only by {}, who triggered it, and whether `{environment}` forbids self-review could not be read ({why})",
                review.login()
            ),
        )
        .with_evidence(vec![
            evidence(review, environment),
            Evidence::Note {
                text: "hint: give the token read access to the repository's environments (`actions: read` and `deployments: read`), or have someone else approve".to_owned(),
            },
        ]),
        Judgement::NoReview => {
            let mut notes = vec![Evidence::Note {
                text: "hint: with required reviewers GitHub does not start the job until they approve, so this usually means the deploy job does not name `environment: ".to_owned()
                    + environment
                    + "`"
            }];
            if let Readable::Read(settings) = &facts.environment {
                if !settings.has_required_reviewers() {
                    notes.push(Evidence::Note {
                        text: format!("the GitHub Environment `{environment}` has no required reviewers: add them under Settings → Environments"),
                    });
                }
            }
            verdict(
                Status::Fail,
                format!("the environment's required reviewers have not approved this run ({run} has no approval for `{environment}`)"),
            )
            .with_evidence(notes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Subject;
    use crate::facts::approval::{EnvironmentSettings, Login, ProtectionRule, ReviewedEnvironment};

    fn review(state: &str, by: &str, environment: &str) -> Review {
        Review {
            environments: vec![ReviewedEnvironment {
                name: environment.to_owned(),
            }],
            state: ReviewState::from(state.to_owned()),
            user: Some(Login {
                login: by.to_owned(),
            }),
            comment: Some(format!("{state} by {by}")),
        }
    }

    fn settings(prevent_self_review: Option<bool>) -> Readable<EnvironmentSettings> {
        Readable::Read(EnvironmentSettings {
            protection_rules: prevent_self_review
                .map(|p| ProtectionRule {
                    rule_type: "required_reviewers".to_owned(),
                    prevent_self_review: Some(p),
                })
                .into_iter()
                .collect(),
        })
    }

    fn facts(reviews: Vec<Review>, environment: Readable<EnvironmentSettings>) -> Facts {
        let mut facts = Facts::nothing_gathered(
            "2026-12-01T10:00:00Z".parse().expect("instant"),
            Subject {
                environment: Some("production".to_owned()),
                ..Subject::default()
            },
            "test",
        );
        facts.approval = Readable::Read(ApprovalFacts {
            run_id: "42".to_owned(),
            actor: Some("alice".to_owned()),
            reviews,
            environment,
        });
        facts
    }

    const REQUIRED: ApprovalPolicy = ApprovalPolicy {
        required: true,
        reviewers_from: crate::config::ReviewersFrom::Environment,
    };

    /// (case, reviews, environment settings, status, part of the summary)
    type Case = (
        &'static str,
        Vec<Review>,
        Readable<EnvironmentSettings>,
        Status,
        &'static str,
    );

    #[test]
    fn the_reviews_decide() {
        let table: Vec<Case> = vec![
            (
                "another reviewer approved",
                vec![review("approved", "bob", "production")],
                settings(Some(true)),
                Status::Pass,
                "approved for `production` by bob",
            ),
            (
                "environment names are case-insensitive",
                vec![review("approved", "bob", "Production")],
                settings(Some(true)),
                Status::Pass,
                "by bob",
            ),
            (
                "an approval of another environment",
                vec![review("approved", "bob", "staging")],
                settings(Some(true)),
                Status::Fail,
                "have not approved this run",
            ),
            (
                "no review",
                vec![],
                settings(Some(false)),
                Status::Fail,
                "have not approved this run",
            ),
            (
                "a pending entry",
                vec![review("pending", "bob", "production")],
                settings(Some(false)),
                Status::Fail,
                "have not approved",
            ),
            (
                "rejected",
                vec![review("rejected", "carol", "production")],
                settings(Some(false)),
                Status::Fail,
                "rejected for `production` by carol",
            ),
            (
                "a rejection beats an approval",
                vec![
                    review("approved", "bob", "production"),
                    review("rejected", "carol", "production"),
                ],
                settings(Some(false)),
                Status::Fail,
                "rejected for `production` by carol",
            ),
            (
                "self-approval where forbidden",
                vec![review("approved", "Alice", "production")],
                settings(Some(true)),
                Status::Fail,
                "self-approval is not approval here",
            ),
            (
                "self-approval where allowed",
                vec![review("approved", "alice", "production")],
                settings(Some(false)),
                Status::Pass,
                "by alice",
            ),
            (
                "self-approval, settings unknown",
                vec![review("approved", "alice", "production")],
                Readable::Unknown("HTTP 403".to_owned()),
                Status::NotChecked,
                "could not be read (HTTP 403)",
            ),
            (
                "self and another: the other counts",
                vec![
                    review("approved", "alice", "production"),
                    review("approved", "bob", "production"),
                ],
                settings(Some(true)),
                Status::Pass,
                "by bob",
            ),
            (
                "another reviewer, settings unknown",
                vec![review("approved", "bob", "production")],
                Readable::Unknown("HTTP 404".to_owned()),
                Status::Pass,
                "by bob",
            ),
        ];
        for (case, reviews, environment, status, summary) in table {
            let verdict = gate(&facts(reviews, environment), Some(&REQUIRED));
            assert_eq!(verdict.status, status, "{case}: {}", verdict.summary);
            assert!(
                verdict.summary.contains(summary),
                "{case}: {}",
                verdict.summary
            );
        }
    }

    #[test]
    fn the_approval_is_evidence() {
        let verdict = gate(
            &facts(
                vec![review("approved", "bob", "production")],
                settings(Some(true)),
            ),
            Some(&REQUIRED),
        );
        assert_eq!(
            verdict.evidence,
            [Evidence::Approval {
                environment: "production".to_owned(),
                state: "approved".to_owned(),
                by: "bob".to_owned(),
                comment: Some("approved by bob".to_owned()),
            }]
        );
    }

    #[test]
    fn not_required_is_skipped_and_outside_actions_is_not_checked() {
        let facts_read = facts(vec![], settings(Some(true)));
        assert_eq!(gate(&facts_read, None).status, Status::Skipped);
        assert_eq!(
            gate(&facts_read, Some(&ApprovalPolicy::default())).status,
            Status::Skipped
        );
        let mut outside = facts_read.clone();
        outside.approval =
            Readable::NotAsked("outside GitHub Actions: no GITHUB_RUN_ID".to_owned());
        let verdict = gate(&outside, Some(&REQUIRED));
        assert_eq!(verdict.status, Status::NotChecked);
        assert!(verdict
            .summary
            .starts_with("not checked (outside GitHub Actions"));
        assert!(
            matches!(&verdict.evidence[..], [Evidence::Note { text }] if text.contains(WHERE_HINT))
        );
    }

    #[test]
    fn approved_says_who_or_why_not() {
        let read = |reviews, env| facts(reviews, env).approval;
        assert_eq!(
            approved(
                &read(
                    vec![review("approved", "bob", "production")],
                    settings(Some(true))
                ),
                "production"
            ),
            Ok("bob".to_owned())
        );
        let self_only = read(
            vec![review("approved", "alice", "production")],
            settings(Some(true)),
        );
        assert!(
            approved(&self_only, "production").is_err_and(|e| e.contains("forbids self-review"))
        );
        assert!(approved(&read(vec![], settings(None)), "production")
            .is_err_and(|e| e.contains("no approval for `production`")));
        assert!(approved(
            &Readable::NotAsked("outside GitHub Actions".to_owned()),
            "production"
        )
        .is_err_and(|e| e.contains("not known (outside GitHub Actions)")));
    }
}
