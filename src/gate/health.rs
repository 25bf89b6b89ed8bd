//! The `health` gate: rounds of probe samples (and, with `machines`, Fly machine state) taken
//! after a deploy, judged against the `health:` policy.
//!
//! Each measurement is a success, a failure (the service answered, badly) or an error (it could
//! not be measured), and the three are counted apart, as in Argo Rollouts' analysis
//! (`failureLimit` vs `consecutiveErrorLimit`). The probe and Fly edges turn what they saw into
//! [`Round`]s; this module only reads them, so a test is a table of literal rounds.
//!
//! Rounds are read in the order they were taken, and the first rule that decides ends the gate:
//!
//! 1. a round taken after `deadline` is not counted: the gate fails at the deadline;
//! 2. more failed rounds than `failure_limit` fail;
//! 3. more rounds in a row that could not measure than `consecutive_error_limit` fail;
//! 4. `consecutive_successes` healthy rounds in a row pass, unless the p95 latency of every
//!    answered sample so far is over `p95_latency`, which fails;
//! 5. no more rounds coming (`finished`) without a pass fails at the deadline;
//!
//! and otherwise the gate is pending.
//!
//! With `machines`, a round reads Fly's machines as [`super::machines`] counts them (the serving
//! machines of the deployed release). No serving machine started, a serving process group with
//! no machine started, or a machine not healthy is a failed round; a machine whose configured
//! checks have not all reported yet makes the round **pending**: neither healthy nor failed nor
//! unmeasured, it breaks a run of healthy rounds, and only the deadline ends a gate that stays so.
//!
//! With `tls_min_days`, a round whose certificate of `url` ([`Round::tls`]) expires in fewer days
//! than that, counted from `now`, is a failed round like any other failure; a certificate whose
//! expiry could not be read is a round that could not measure. A plain `http` URL has no
//! certificate: the check does not apply, and the evidence says so.

use crate::words::plural;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::duration::Human;
use crate::config::HealthPolicy;
use crate::decision::{Evidence, GateId, Status, Verdict};
pub use crate::facts::health::{
    Certificate, GroupState, MachineNote, MachineState, Outcome, Round, Sample, Tls, Via,
};

/// p95 by nearest rank: the latencies sorted ascending, the value at 1-based rank
/// `ceil(0.95 × n)`. It is always a measured value, never an interpolation: with fewer than 20
/// samples it is the largest, with 20 the second largest (rank 19), with 100 the 95th.
/// `None` for no samples.
pub fn p95(latencies: &[Duration]) -> Option<Duration> {
    if latencies.is_empty() {
        return None;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * 95).div_ceil(100);
    sorted.get(rank.max(1) - 1).copied()
}

/// The gate over gathered facts. `policy` is `None` where no health policy applies.
pub fn gate(facts: &crate::facts::Facts, policy: Option<&HealthPolicy>) -> Verdict {
    judge(&facts.health, policy, facts.now)
}

/// The gate over what was measured of a release's health; `now` counts certificate days.
pub fn judge(
    health: &crate::facts::HealthFacts,
    policy: Option<&HealthPolicy>,
    now: DateTime<Utc>,
) -> Verdict {
    use crate::facts::HealthFacts;
    let verdict = |status, summary: String| Verdict::new(GateId::Health, status, summary);
    match (health, policy) {
        (HealthFacts::NotMeasured(why), _) => verdict(Status::Skipped, why.clone()),
        (HealthFacts::DeployFailed(error), _) => {
            verdict(Status::Fail, format!("not run: fly deploy failed: {error}"))
        }
        (HealthFacts::NoMachineStarted(state), _) => verdict(
            Status::Fail,
            format!(
                "fly reported success but none of the {} serving machine(s) of {} is started",
                state.total(),
                state.release_label()
            ),
        )
        .with_evidence(machine_evidence(state)),
        (HealthFacts::NothingToMeasure, _) => verdict(
            Status::Skipped,
            "no health endpoints and no machine checks configured: fly's exit code decided"
                .to_owned(),
        ),
        (HealthFacts::Unmeasurable(why), _) => verdict(Status::Fail, why.clone()),
        (HealthFacts::Rounds(rounds), Some(policy)) => evaluate(policy, rounds, true, now),
        (HealthFacts::Rounds(_), None) => {
            verdict(Status::Skipped, "no health policy applies here".to_owned())
        }
    }
}

/// Whether the gate has decided on these rounds alone, so that no more rounds are needed.
/// `false` means: take another round (or, at the deadline, call [`evaluate`] with `finished`).
pub fn decided(policy: &HealthPolicy, rounds: &[Round], now: DateTime<Utc>) -> bool {
    evaluate(policy, rounds, false, now).status != Status::Pending
}

/// The `health` gate over the rounds taken so far. `finished` says that no more rounds will come
/// (the deadline passed on the clock of the edge that takes them): an undecided gate then fails.
/// `now` is the run's clock reading, from which a certificate's days left are counted.
pub fn evaluate(
    policy: &HealthPolicy,
    rounds: &[Round],
    finished: bool,
    now: DateTime<Utc>,
) -> Verdict {
    // Validation requires at least 1; 0 would pass a gate that saw nothing.
    let needed = policy.consecutive_successes.max(1) as usize;
    let mut tally = Tally::new(policy);
    let mut end = None;
    for round in rounds {
        if round.offset > policy.deadline {
            end = Some(End::Deadline {
                late_round: Some(round.offset),
            });
            break;
        }
        tally.add(policy, round, now);
        if tally.failed > policy.failure_limit as usize {
            end = Some(End::FailureLimit);
        } else if tally.error_streak > policy.consecutive_error_limit as usize {
            end = Some(End::ErrorLimit);
        } else if tally.success_streak >= needed {
            end = Some(End::Streak);
        }
        if end.is_some() {
            break;
        }
    }
    if end.is_none() && finished {
        end = Some(End::Deadline { late_round: None });
    }

    let latency = p95(&tally.latencies);
    let over_limit = match (latency, policy.p95_latency) {
        (Some(latency), Some(limit)) => latency > limit,
        _ => false,
    };
    let (status, mut summary) = match &end {
        None if tally.rounds == 0 => (Status::Pending, "no health rounds yet".to_owned()),
        None => (
            Status::Pending,
            format!(
                "{} of {needed} rounds in a row healthy so far ({} failed, {} could not measure{})",
                tally.success_streak,
                tally.failed,
                tally.unmeasured,
                tally.pending_part()
            ),
        ),
        Some(End::Streak) if over_limit => (
            Status::Fail,
            format!(
                "p95 latency {} is over the {} limit (after {needed} rounds in a row healthy)",
                Human(latency.unwrap_or_default()),
                Human(policy.p95_latency.unwrap_or_default())
            ),
        ),
        Some(End::Streak) => (
            Status::Pass,
            match latency {
                Some(latency) => {
                    format!("{needed} rounds in a row healthy (p95 {})", Human(latency))
                }
                None => format!("{needed} rounds in a row healthy"),
            },
        ),
        Some(End::FailureLimit) => {
            let headline = tally
                .worst(Kind::Failed)
                .map(|p| format!("{} in {} of {} rounds", p.text, p.rounds, tally.rounds))
                .unwrap_or_else(|| format!("{} failed rounds", tally.failed));
            (
                Status::Fail,
                format!("{headline} (failure_limit {})", policy.failure_limit),
            )
        }
        Some(End::ErrorLimit) => {
            let cause = tally
                .last_error
                .as_ref()
                .map(|text| format!(": {text}"))
                .unwrap_or_default();
            (
                Status::Fail,
                format!(
                    "could not measure in {} rounds in a row (consecutive_error_limit {}){cause}",
                    tally.error_streak, policy.consecutive_error_limit
                ),
            )
        }
        Some(End::Deadline { .. }) => (
            Status::Fail,
            format!(
                "no {needed} rounds in a row healthy by the {} deadline (longest {}; {} failed, {} could not measure{})",
                Human(policy.deadline),
                tally.longest_success,
                tally.failed,
                tally.unmeasured,
                tally.pending_part()
            ),
        ),
    };
    // Zero started machines is the cause whatever rule ended the gate: say so plainly. Checks
    // that never reported are the cause of a deadline reached while they were pending.
    if status == Status::Fail {
        let last = tally.last_machines.as_ref();
        if let Some(zero) = last.and_then(no_machines_started) {
            summary = zero;
        } else if let (Some(End::Deadline { .. }), Some(Kind::Pending)) = (&end, tally.last_kind) {
            if let Some(pending) = last.and_then(pending_checks) {
                summary = format!("at the {} deadline: {pending}", Human(policy.deadline));
            }
        }
    }

    let mut evidence = vec![
        note(format!(
            "rounds: {} taken; {} healthy, {} failed (failure_limit {}), {} could not measure{}",
            tally.rounds,
            tally.healthy,
            tally.failed,
            policy.failure_limit,
            tally.unmeasured,
            tally.pending_part()
        )),
        note(format!(
            "in a row: {} healthy now, longest {} (need {needed}); {} could not measure now, longest {} (consecutive_error_limit {})",
            tally.success_streak,
            tally.longest_success,
            tally.error_streak,
            tally.longest_error,
            policy.consecutive_error_limit
        )),
        note(match latency {
            Some(latency) => format!(
                "p95 latency {} (nearest rank over {} answered samples; {})",
                Human(latency),
                tally.latencies.len(),
                match policy.p95_latency {
                    Some(limit) if over_limit => format!("over the {} limit", Human(limit)),
                    Some(limit) => format!("limit {}", Human(limit)),
                    None => "no limit set".to_owned(),
                }
            ),
            None => "p95 latency: no answered samples".to_owned(),
        }),
    ];
    for problem in &tally.problems {
        let label = match problem.kind {
            Kind::Failed => "failed",
            Kind::Unmeasured => "could not measure",
            Kind::Pending => "pending",
        };
        evidence.push(note(format!(
            "{label}: {} in {} of {} rounds",
            problem.text, problem.rounds, tally.rounds
        )));
    }
    if let Some((path, stats)) = tally.worst_endpoint() {
        evidence.push(note(format!(
            "worst endpoint: {path} ({} ok, {} failed, {} could not measure{})",
            stats.ok,
            stats.failed,
            stats.errors,
            p95(&stats.latencies)
                .map(|l| format!(", p95 {}", Human(l)))
                .unwrap_or_default()
        )));
    }
    for (path, stats) in &tally.endpoints {
        if stats.via_fallback > 0 {
            evidence.push(note(format!(
                "{path} was answered by its fallback in {} of {} rounds",
                stats.via_fallback, tally.rounds
            )));
        }
    }
    if let Some(min_days) = policy.tls_min_days {
        evidence.push(note(match (&tally.certificate, tally.plain) {
            (Some(certificate), _) => format!(
                "certificate of {} valid until {} ({}; tls_min_days {min_days})",
                certificate.host,
                certificate.not_after.format("%Y-%m-%d %H:%M UTC"),
                match days_left(certificate, now) {
                    Some(days) => format!("{days} {} left", plural(days, "day")),
                    None => "expired".to_owned(),
                }
            ),
            (None, true) => {
                "tls_min_days does not apply: `url` is plain http, with no certificate".to_owned()
            }
            (None, false) => "certificate of `url` not checked: no expiry was read".to_owned(),
        }));
    }
    if policy.machines {
        let label = tally
            .last_machines
            .as_ref()
            .map_or_else(|| "the new version".to_owned(), MachineState::release_label);
        if !tally.unhealthy_machines.is_empty() {
            let ids: Vec<String> = tally
                .unhealthy_machines
                .iter()
                .map(|(id, (rounds, reason))| {
                    format!("{id}: {reason} ({rounds} of {} rounds)", tally.rounds)
                })
                .collect();
            evidence.push(note(format!(
                "machines not healthy on {label}: {}",
                ids.join("; ")
            )));
        }
        if !tally.pending_machines.is_empty() {
            let ids: Vec<String> = tally
                .pending_machines
                .iter()
                .map(|(id, rounds)| format!("{id} ({rounds} of {} rounds)", tally.rounds))
                .collect();
            evidence.push(note(format!(
                "machines with checks configured but not all reported on {label}: {}",
                ids.join(", ")
            )));
        }
        if let Some(state) = &tally.last_machines {
            evidence.extend(machine_evidence(state));
        }
    } else {
        evidence.push(note(
            "machine state not gated (`machines: false`)".to_owned(),
        ));
    }
    match end {
        Some(End::Deadline {
            late_round: Some(offset),
        }) => evidence.push(note(format!(
            "a round at {} came after the {} deadline and was not counted",
            Human(offset),
            Human(policy.deadline)
        ))),
        Some(_) if tally.rounds < rounds.len() => evidence.push(note(format!(
            "{} later rounds ignored: the gate was decided by round {}",
            rounds.len() - tally.rounds,
            tally.rounds
        ))),
        _ => {}
    }
    Verdict::new(GateId::Health, status, summary).with_evidence(evidence)
}

/// What ended the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Streak,
    FailureLimit,
    ErrorLimit,
    /// A round came after the deadline, or no more rounds will come.
    Deadline {
        late_round: Option<Duration>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Failed,
    Unmeasured,
    /// Measured, but not decided yet: machine checks configured that have not all reported.
    Pending,
}

/// One thing that went wrong, counted in the rounds it happened in.
#[derive(Debug, Clone)]
struct Problem {
    kind: Kind,
    /// Stable across rounds (the text of a machine problem changes with the ids).
    key: String,
    /// As last seen, reading like `/health answered 503`.
    text: String,
    rounds: usize,
}

#[derive(Debug, Clone, Default)]
struct EndpointStats {
    ok: usize,
    failed: usize,
    errors: usize,
    via_fallback: usize,
    latencies: Vec<Duration>,
}

#[derive(Debug, Default)]
struct Tally {
    rounds: usize,
    healthy: usize,
    failed: usize,
    unmeasured: usize,
    pending: usize,
    /// What the last round counted taken was (`None`: healthy).
    last_kind: Option<Kind>,
    success_streak: usize,
    error_streak: usize,
    longest_success: usize,
    longest_error: usize,
    /// Latencies of every answered sample (successes and failures), for the p95.
    latencies: Vec<Duration>,
    /// In first-seen order.
    problems: Vec<Problem>,
    last_error: Option<String>,
    /// Configured endpoints first, in policy order; then any other path sampled.
    endpoints: Vec<(String, EndpointStats)>,
    /// Machine id -> rounds it was not healthy in, and why when last seen.
    unhealthy_machines: BTreeMap<String, (usize, String)>,
    /// Machine id -> rounds its checks were pending in.
    pending_machines: BTreeMap<String, usize>,
    last_machines: Option<MachineState>,
    /// The certificate of `url` last seen (with `tls_min_days`).
    certificate: Option<Certificate>,
    /// A round found `url` to be plain http.
    plain: bool,
}

impl Tally {
    fn new(policy: &HealthPolicy) -> Self {
        Tally {
            endpoints: policy
                .endpoints
                .iter()
                .map(|e| (e.path.clone(), EndpointStats::default()))
                .collect(),
            ..Tally::default()
        }
    }

    fn add(&mut self, policy: &HealthPolicy, round: &Round, now: DateTime<Utc>) {
        let mut found: Vec<(Kind, String, String)> = Vec::new();
        for sample in &round.samples {
            let path = sample.label(&policy.endpoints);
            let stats = self.endpoint(&sample.endpoint);
            if matches!(sample.via, Via::Fallback { .. }) {
                stats.via_fallback += 1;
            }
            match &sample.outcome {
                Outcome::Success => stats.ok += 1,
                Outcome::Failure { reason } => {
                    stats.failed += 1;
                    let text = format!("{path} {reason}");
                    found.push((Kind::Failed, text.clone(), text));
                }
                Outcome::Error { reason } => {
                    stats.errors += 1;
                    let text = format!("{path} {reason}");
                    found.push((Kind::Unmeasured, text.clone(), text));
                }
            }
            if !matches!(sample.outcome, Outcome::Error { .. }) {
                if let Some(latency) = sample.latency {
                    stats.latencies.push(latency);
                    self.latencies.push(latency);
                }
            }
        }
        // A configured endpoint with no sample was not measured this round.
        for endpoint in &policy.endpoints {
            if !round.samples.iter().any(|s| s.endpoint == endpoint.path) {
                self.endpoint(&endpoint.path).errors += 1;
                let text = format!("{} was not probed", endpoint.path);
                found.push((Kind::Unmeasured, text.clone(), text));
            }
        }
        if policy.machines {
            match &round.machines {
                None => found.push((
                    Kind::Unmeasured,
                    "machines unread".to_owned(),
                    "machine state could not be read".to_owned(),
                )),
                Some(state) => {
                    for machine in &state.unhealthy {
                        let entry = self
                            .unhealthy_machines
                            .entry(machine.id.clone())
                            .or_default();
                        entry.0 += 1;
                        entry.1.clone_from(&machine.reason);
                    }
                    for id in &state.pending {
                        *self.pending_machines.entry(id.clone()).or_default() += 1;
                    }
                    if let Some(text) = no_machines_started(state) {
                        found.push((Kind::Failed, "machines none".to_owned(), text));
                    } else if let Some(text) = groups_down(state) {
                        found.push((Kind::Failed, "machines group down".to_owned(), text));
                    } else if !state.unhealthy.is_empty() {
                        found.push((
                            Kind::Failed,
                            "machines unhealthy".to_owned(),
                            unhealthy(state),
                        ));
                    } else if let Some(text) = pending_checks(state) {
                        found.push((Kind::Pending, "machines pending".to_owned(), text));
                    }
                    self.last_machines = Some(state.clone());
                }
            }
        }
        if let Some(min_days) = policy.tls_min_days {
            match &round.tls {
                Tls::Plain => self.plain = true,
                Tls::Unseen => {}
                Tls::Seen(certificate) => {
                    if let Some(text) = short_certificate(certificate, min_days, now) {
                        found.push((Kind::Failed, "tls short".to_owned(), text));
                    }
                    self.certificate = Some(certificate.clone());
                }
                Tls::Unreadable { host, reason } => found.push((
                    Kind::Unmeasured,
                    "tls unreadable".to_owned(),
                    format!("certificate of {host} could not be read: {reason}"),
                )),
            }
        }
        if round.samples.is_empty() && policy.endpoints.is_empty() && !policy.machines {
            let text = "nothing was measured".to_owned();
            found.push((Kind::Unmeasured, text.clone(), text));
        }

        self.rounds += 1;
        let kind = [Kind::Failed, Kind::Unmeasured, Kind::Pending]
            .into_iter()
            .find(|kind| found.iter().any(|(k, ..)| k == kind));
        self.last_kind = kind;
        match kind {
            None => {
                self.healthy += 1;
                self.success_streak += 1;
                self.error_streak = 0;
            }
            Some(Kind::Failed) => {
                self.failed += 1;
                self.success_streak = 0;
                self.error_streak = 0;
            }
            Some(Kind::Pending) => {
                // Measured, so not an error; not healthy yet either.
                self.pending += 1;
                self.success_streak = 0;
                self.error_streak = 0;
            }
            Some(Kind::Unmeasured) => {
                self.unmeasured += 1;
                self.success_streak = 0;
                self.error_streak += 1;
                self.last_error = found
                    .iter()
                    .find(|(k, ..)| *k == Kind::Unmeasured)
                    .map(|(.., text)| text.clone());
            }
        }
        self.longest_success = self.longest_success.max(self.success_streak);
        self.longest_error = self.longest_error.max(self.error_streak);

        let mut seen: Vec<&str> = Vec::new();
        for (kind, key, text) in &found {
            if seen.contains(&key.as_str()) {
                continue;
            }
            seen.push(key);
            match self.problems.iter_mut().find(|p| p.key == *key) {
                Some(problem) => {
                    problem.rounds += 1;
                    problem.text.clone_from(text);
                }
                None => self.problems.push(Problem {
                    kind: *kind,
                    key: key.clone(),
                    text: text.clone(),
                    rounds: 1,
                }),
            }
        }
    }

    /// `, 2 pending` when rounds were pending, else nothing (the counts read as before).
    fn pending_part(&self) -> String {
        if self.pending > 0 {
            format!(", {} pending", self.pending)
        } else {
            String::new()
        }
    }

    fn endpoint(&mut self, path: &str) -> &mut EndpointStats {
        let index = match self.endpoints.iter().position(|(p, _)| p == path) {
            Some(index) => index,
            None => {
                self.endpoints
                    .push((path.to_owned(), EndpointStats::default()));
                self.endpoints.len() - 1
            }
        };
        &mut self.endpoints[index].1
    }

    /// The problem of this kind seen in the most rounds; the first seen wins a tie.
    fn worst(&self, kind: Kind) -> Option<&Problem> {
        let mut worst: Option<&Problem> = None;
        for problem in self.problems.iter().filter(|p| p.kind == kind) {
            if worst.is_none_or(|w| problem.rounds > w.rounds) {
                worst = Some(problem);
            }
        }
        worst
    }

    /// Most failures, then most errors, then the highest p95; the first configured wins a tie.
    fn worst_endpoint(&self) -> Option<(&str, &EndpointStats)> {
        let rank = |s: &EndpointStats| (s.failed, s.errors, p95(&s.latencies));
        let mut worst: Option<(&str, &EndpointStats)> = None;
        for (path, stats) in &self.endpoints {
            if worst.is_none_or(|(_, w)| rank(stats) > rank(w)) {
                worst = Some((path, stats));
            }
        }
        worst
    }
}

/// Whole days from `now` to the certificate's end, rounded down; `None` once it has ended.
fn days_left(certificate: &Certificate, now: DateTime<Utc>) -> Option<i64> {
    (certificate.not_after > now).then(|| (certificate.not_after - now).num_days())
}

/// The failure of a certificate that ends within `min_days` of `now`, or `None`.
fn short_certificate(
    certificate: &Certificate,
    min_days: u32,
    now: DateTime<Utc>,
) -> Option<String> {
    let date = certificate.not_after.format("%Y-%m-%d");
    match days_left(certificate, now) {
        None => Some(format!(
            "certificate of {} expired on {date} (tls_min_days {min_days})",
            certificate.host
        )),
        Some(days) if days < i64::from(min_days) => Some(format!(
            "certificate of {} expires in {days} {} ({date}; tls_min_days {min_days})",
            certificate.host,
            plural(days, "day")
        )),
        Some(_) => None,
    }
}

fn no_machines_started(state: &MachineState) -> Option<String> {
    let label = state.release_label();
    match (state.started(), state.total()) {
        (0, 0) => Some(format!("0 serving machines started on {label}")),
        (0, total) => Some(format!(
            "0 of {total} serving machines started on {label}{}",
            left_stopped(state)
                .map(|text| format!("; {text}"))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

/// `2 left stopped by autostop`, when any were.
fn left_stopped(state: &MachineState) -> Option<String> {
    match state.left_stopped() {
        0 => None,
        n => Some(format!("{n} left stopped by autostop")),
    }
}

/// The serving process groups with no machine started, or `None`.
fn groups_down(state: &MachineState) -> Option<String> {
    let down: Vec<String> = state
        .groups_down()
        .map(|g| format!("{} (0 of {} started)", g.name, g.total))
        .collect();
    if down.is_empty() {
        return None;
    }
    let mut text = format!(
        "no machine started in process group {} on {}",
        down.join(", "),
        state.release_label()
    );
    text.push_str(&not_healthy_part(state));
    Some(text)
}

fn unhealthy(state: &MachineState) -> String {
    let mut text = format!(
        "{} of {} machines started and {} with checks passing on {}",
        state.started(),
        state.total(),
        state.checks_passing(),
        state.release_label()
    );
    text.push_str(&not_healthy_part(state));
    text
}

/// ` (not healthy: id: stopped; id: check alive critical)`, or nothing.
fn not_healthy_part(state: &MachineState) -> String {
    if state.unhealthy.is_empty() {
        return String::new();
    }
    let machines: Vec<String> = state
        .unhealthy
        .iter()
        .map(|m| format!("{}: {}", m.id, m.reason))
        .collect();
    format!(" (not healthy: {})", machines.join("; "))
}

/// The machines whose configured checks have not all reported, or `None`.
fn pending_checks(state: &MachineState) -> Option<String> {
    if state.pending.is_empty() {
        return None;
    }
    Some(format!(
        "checks configured but not all reported on {} machine(s) of {}: {}",
        state.pending.len(),
        state.release_label(),
        state.pending.join(", ")
    ))
}

/// What the last machine read showed, for the evidence: the count, per process group when
/// there are several, and the machines not counted.
fn machine_evidence(state: &MachineState) -> Vec<Evidence> {
    let mut evidence = vec![note(format!(
        "serving machines of {}, last read: {} of {} started, {} with checks passing{}{}",
        state.release_label(),
        state.started(),
        state.total(),
        state.checks_passing(),
        match state.pending.len() {
            0 => String::new(),
            n => format!(", {n} with checks pending"),
        },
        left_stopped(state)
            .map(|text| format!(", {text}"))
            .unwrap_or_default()
    ))];
    if state.groups.len() > 1 {
        let groups: Vec<String> = state
            .groups
            .iter()
            .map(|g| {
                let stopped = match g.left_stopped {
                    0 => String::new(),
                    n => format!(", {n} left stopped"),
                };
                format!("{} {} of {} started{stopped}", g.name, g.started, g.total)
            })
            .collect();
        evidence.push(note(format!("by process group: {}", groups.join("; "))));
    }
    if !state.ignored.is_empty() {
        let ignored: Vec<String> = state
            .ignored
            .iter()
            .map(|m| format!("{} ({})", m.id, m.reason))
            .collect();
        evidence.push(note(format!("not counted: {}", ignored.join(", "))));
    }
    evidence
}

fn note(text: String) -> Evidence {
    Evidence::Note { text }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{Endpoint, Fallback};

    const SICK_MACHINE: &str = "148ed193b95089";

    /// The run's clock reading in these tests.
    fn now() -> DateTime<Utc> {
        "2026-11-22T09:30:00Z".parse().expect("a literal time")
    }

    fn policy() -> HealthPolicy {
        HealthPolicy {
            initial_delay: Duration::from_secs(10),
            interval: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
            consecutive_successes: 3,
            failure_limit: 0,
            consecutive_error_limit: 4,
            request_timeout: Duration::from_secs(5),
            p95_latency: None,
            machines: false,
            tls_min_days: None,
            headers: Vec::new(),
            endpoints: vec![Endpoint {
                path: "/health".to_owned(),
                status: vec![200],
                json: BTreeMap::new(),
                fallback: Some(Fallback {
                    path: "/".to_owned(),
                    status: vec![200, 302],
                    when: vec![404, 405],
                }),
                prometheus: false,
            }],
        }
    }

    /// `/health` answered 404: it does not exist, and its fallback gave the outcome.
    const MISSING: Via = Via::Fallback { status: 404 };

    fn sample(via: Via, outcome: Outcome, ms: Option<u64>) -> Sample {
        Sample {
            endpoint: "/health".to_owned(),
            via,
            outcome,
            latency: ms.map(Duration::from_millis),
        }
    }

    fn failure(reason: &str) -> Outcome {
        Outcome::Failure {
            reason: reason.to_owned(),
        }
    }

    fn group(name: &str, started: usize, total: usize, checks_passing: usize) -> GroupState {
        GroupState {
            name: name.to_owned(),
            total,
            started,
            left_stopped: 0,
            checks_passing,
        }
    }

    /// `total` machines in group `app`, `started` of them started, `checks_passing` passing;
    /// a machine not passing is the sick one, failing its check.
    fn machines(started: usize, total: usize, checks_passing: usize) -> Option<MachineState> {
        let unhealthy = if checks_passing < total {
            vec![MachineNote {
                id: SICK_MACHINE.to_owned(),
                reason: "check alive critical".to_owned(),
            }]
        } else {
            Vec::new()
        };
        Some(MachineState {
            groups: if total == 0 {
                Vec::new()
            } else {
                vec![group("app", started, total, checks_passing)]
            },
            unhealthy,
            ..MachineState::default()
        })
    }

    /// Two healthy machines in `app`, and the sick one, started, with its checks not all
    /// reported yet.
    fn pending_machines() -> Option<MachineState> {
        Some(MachineState {
            groups: vec![group("app", 3, 3, 2)],
            pending: vec![SICK_MACHINE.to_owned()],
            ..MachineState::default()
        })
    }

    /// `app` healthy; `worker`'s only machine stopped.
    fn worker_down() -> Option<MachineState> {
        Some(MachineState {
            release: Some(7),
            groups: vec![group("app", 2, 2, 2), group("worker", 0, 1, 0)],
            unhealthy: vec![MachineNote {
                id: "w1".to_owned(),
                reason: "stopped".to_owned(),
            }],
            ..MachineState::default()
        })
    }

    /// One round per letter, 10s apart from 10s on. Every round but `Z`, `U`, `P`, `W` and `N`
    /// finds the two machines of the new version healthy.
    ///
    /// S success 100ms · L success 400ms · B success from the fallback · F answered 503 ·
    /// D answered degraded JSON · G /health answered 404 and its fallback 500 · E connection refused ·
    /// M /health not probed · Z 0 machines · U a machine failing its checks ·
    /// P a machine with checks pending · W the worker group down · N machines unread
    fn script(letters: &str) -> Vec<Round> {
        letters
            .chars()
            .enumerate()
            .map(|(i, letter)| {
                let ok = sample(Via::Endpoint, Outcome::Success, Some(100));
                let (samples, machines) = match letter {
                    'S' => (vec![ok], machines(2, 2, 2)),
                    'L' => (
                        vec![sample(Via::Endpoint, Outcome::Success, Some(400))],
                        machines(2, 2, 2),
                    ),
                    'B' => (
                        vec![sample(MISSING, Outcome::Success, Some(100))],
                        machines(2, 2, 2),
                    ),
                    'F' => (
                        vec![sample(Via::Endpoint, failure("answered 503"), Some(50))],
                        machines(2, 2, 2),
                    ),
                    'D' => (
                        vec![sample(
                            Via::Endpoint,
                            failure(r#"answered {"status":"degraded"}"#),
                            Some(80),
                        )],
                        machines(2, 2, 2),
                    ),
                    'G' => (
                        vec![sample(MISSING, failure("answered 500"), Some(60))],
                        machines(2, 2, 2),
                    ),
                    'E' => (
                        vec![sample(
                            Via::Endpoint,
                            Outcome::Error {
                                reason: "connection refused".to_owned(),
                            },
                            None,
                        )],
                        machines(2, 2, 2),
                    ),
                    'M' => (Vec::new(), machines(2, 2, 2)),
                    'Z' => (vec![ok], machines(0, 0, 0)),
                    'U' => (vec![ok], machines(2, 2, 1)),
                    'P' => (vec![ok], pending_machines()),
                    'W' => (vec![ok], worker_down()),
                    'N' => (vec![ok], None),
                    other => panic!("no round is scripted by {other:?}"),
                };
                Round {
                    offset: Duration::from_secs(10 + 10 * i as u64),
                    samples,
                    machines,
                    tls: Tls::Plain,
                }
            })
            .collect()
    }

    fn notes(verdict: &Verdict) -> Vec<&str> {
        verdict
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Note { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    type Tweak = fn(&mut HealthPolicy);

    #[test]
    fn rounds_decide_by_streaks_limits_and_deadline() {
        let table: &[(&str, Tweak, &str, bool, Status, &str)] = &[
            (
                "three healthy rounds in a row pass",
                |_| {},
                "SSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "two are not yet enough",
                |_| {},
                "SS",
                false,
                Status::Pending,
                "2 of 3 rounds in a row healthy so far (0 failed, 0 could not measure)",
            ),
            (
                "no rounds is pending, not a pass",
                |_| {},
                "",
                false,
                Status::Pending,
                "no health rounds yet",
            ),
            (
                "a tolerated failure breaks the streak, which starts again",
                |p| p.failure_limit = 1,
                "SSFSSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "the streak counts only rounds after the failure",
                |p| p.failure_limit = 1,
                "SSFSS",
                false,
                Status::Pending,
                "2 of 3 rounds in a row healthy so far (1 failed, 0 could not measure)",
            ),
            (
                "failure_limit 0: one bad answer fails",
                |_| {},
                "D",
                false,
                Status::Fail,
                r#"/health answered {"status":"degraded"} in 1 of 1 rounds (failure_limit 0)"#,
            ),
            (
                "a failing fallback names both paths",
                |_| {},
                "SG",
                false,
                Status::Fail,
                "/health 404 -> / answered 500 in 1 of 2 rounds (failure_limit 0)",
            ),
            (
                "the fallback answering well is a success",
                |_| {},
                "BSB",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "flapping is pending while rounds come",
                |p| p.failure_limit = 10,
                "SFSFSF",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (3 failed, 0 could not measure)",
            ),
            (
                "flapping never reaches the streak: fail when the rounds end",
                |p| p.failure_limit = 10,
                "SFSFSF",
                true,
                Status::Fail,
                "no 3 rounds in a row healthy by the 5m deadline (longest 1; 3 failed, 0 could not measure)",
            ),
            (
                "flapping until a round comes after the deadline",
                |p| {
                    p.failure_limit = 10;
                    p.deadline = Duration::from_secs(45);
                },
                "SFSFS",
                false,
                Status::Fail,
                "no 3 rounds in a row healthy by the 45s deadline (longest 1; 2 failed, 0 could not measure)",
            ),
            (
                "failures past failure_limit fail",
                |p| p.failure_limit = 2,
                "FSFSF",
                false,
                Status::Fail,
                "/health answered 503 in 3 of 5 rounds (failure_limit 2)",
            ),
            (
                "failures up to failure_limit are tolerated",
                |p| p.failure_limit = 2,
                "FSF",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (2 failed, 0 could not measure)",
            ),
            (
                "errors in a row past consecutive_error_limit fail",
                |p| p.consecutive_error_limit = 2,
                "SEEE",
                false,
                Status::Fail,
                "could not measure in 3 rounds in a row (consecutive_error_limit 2): /health connection refused",
            ),
            (
                "errors that are not in a row do not fail",
                |p| p.consecutive_error_limit = 2,
                "EESEE",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (0 failed, 4 could not measure)",
            ),
            (
                "a failed round also breaks an error streak",
                |p| {
                    p.consecutive_error_limit = 2;
                    p.failure_limit = 1;
                },
                "EEFEE",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (1 failed, 4 could not measure)",
            ),
            (
                "errors do not count as failures",
                |_| {},
                "EESSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "an endpoint with no sample could not be measured",
                |_| {},
                "MMMMM",
                false,
                Status::Fail,
                "could not measure in 5 rounds in a row (consecutive_error_limit 4): /health was not probed",
            ),
            (
                "the deadline reached while pending fails",
                |_| {},
                "SS",
                true,
                Status::Fail,
                "no 3 rounds in a row healthy by the 5m deadline (longest 2; 0 failed, 0 could not measure)",
            ),
            (
                "a round after the deadline does not complete the streak",
                |p| p.deadline = Duration::from_secs(25),
                "SSS",
                false,
                Status::Fail,
                "no 3 rounds in a row healthy by the 25s deadline (longest 2; 0 failed, 0 could not measure)",
            ),
            (
                "a round exactly at the deadline counts",
                |p| p.deadline = Duration::from_secs(30),
                "SSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "p95 over the limit fails although every round was healthy",
                |p| p.p95_latency = Some(Duration::from_millis(300)),
                "SSL",
                false,
                Status::Fail,
                "p95 latency 400ms is over the 300ms limit (after 3 rounds in a row healthy)",
            ),
            (
                "p95 at the limit passes",
                |p| p.p95_latency = Some(Duration::from_millis(400)),
                "SSL",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 400ms)",
            ),
            (
                "p95 is judged at the end, not while pending",
                |p| p.p95_latency = Some(Duration::from_millis(300)),
                "LL",
                false,
                Status::Pending,
                "2 of 3 rounds in a row healthy so far (0 failed, 0 could not measure)",
            ),
            (
                "machines: healthy machines and endpoints pass",
                |p| p.machines = true,
                "SSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "machines: zero machines fails, said plainly",
                |p| p.machines = true,
                "Z",
                false,
                Status::Fail,
                "0 serving machines started on the new version",
            ),
            (
                "machines: zero machines is a failed round under failure_limit",
                |p| {
                    p.machines = true;
                    p.failure_limit = 2;
                },
                "ZZ",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (2 failed, 0 could not measure)",
            ),
            (
                "machines: zero machines in the last read is the cause at the deadline",
                |p| {
                    p.machines = true;
                    p.failure_limit = 5;
                },
                "SZ",
                true,
                Status::Fail,
                "0 serving machines started on the new version",
            ),
            (
                "machines: a machine failing its checks fails the round",
                |p| p.machines = true,
                "SU",
                false,
                Status::Fail,
                "2 of 2 machines started and 1 with checks passing on the new version (not healthy: 148ed193b95089: check alive critical) in 1 of 2 rounds (failure_limit 0)",
            ),
            (
                "machines: a serving group with no machine started fails the round",
                |p| p.machines = true,
                "SW",
                false,
                Status::Fail,
                "no machine started in process group worker (0 of 1 started) on release v7 (not healthy: w1: stopped) in 1 of 2 rounds (failure_limit 0)",
            ),
            (
                "machines: checks pending are neither a pass nor a failure",
                |p| p.machines = true,
                "SSP",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (0 failed, 0 could not measure, 1 pending)",
            ),
            (
                "machines: checks pending are not errors either",
                |p| p.machines = true,
                "PPPPPP",
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (0 failed, 0 could not measure, 6 pending)",
            ),
            (
                "machines: checks that report in time pass",
                |p| p.machines = true,
                "PPSSS",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
            (
                "machines: checks still pending at the deadline are the cause",
                |p| p.machines = true,
                "SSPP",
                true,
                Status::Fail,
                "at the 5m deadline: checks configured but not all reported on 1 machine(s) of the new version: 148ed193b95089",
            ),
            (
                "machines: a deadline after pending rounds that ended healthy is the usual one",
                |p| p.machines = true,
                "PSS",
                true,
                Status::Fail,
                "no 3 rounds in a row healthy by the 5m deadline (longest 2; 0 failed, 0 could not measure, 1 pending)",
            ),
            (
                "machines: unread machine state could not be measured",
                |p| p.machines = true,
                "NNNNN",
                false,
                Status::Fail,
                "could not measure in 5 rounds in a row (consecutive_error_limit 4): machine state could not be read",
            ),
            (
                "machines: ignored with `machines: false`",
                |_| {},
                "ZUN",
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
            ),
        ];
        for (name, tweak, letters, finished, status, summary) in table {
            let mut policy = policy();
            tweak(&mut policy);
            let rounds = script(letters);
            let verdict = evaluate(&policy, &rounds, *finished, now());
            assert_eq!(verdict.gate, GateId::Health, "{name}");
            assert_eq!(
                (verdict.status, verdict.summary.as_str()),
                (*status, *summary),
                "{name}"
            );
            assert!(!verdict.summary.contains('\n'), "{name}: one line");
            assert_eq!(
                decided(&policy, &rounds, now()),
                evaluate(&policy, &rounds, false, now()).status != Status::Pending,
                "{name}"
            );
        }
    }

    /// The certificate of `example.com`, ending this long after [`now`].
    fn seen(days: i64, hours: i64) -> Tls {
        Tls::Seen(Certificate {
            host: "example.com".to_owned(),
            not_after: now() + chrono::Duration::days(days) + chrono::Duration::hours(hours),
        })
    }

    #[test]
    fn tls_min_days_table() {
        let unreadable = || Tls::Unreadable {
            host: "example.com".to_owned(),
            reason: "bad DER".to_owned(),
        };
        // name, tls_min_days, failure_limit, rounds (letters of `script`, with their `tls`),
        // finished, status, summary, the certificate's evidence note.
        #[allow(clippy::type_complexity)]
        let table: Vec<(&str, Option<u32>, u32, &str, Vec<Tls>, bool, Status, &str, Option<&str>)> = vec![
            (
                "12 days left under 30 fails the first round",
                Some(30),
                0,
                "S",
                vec![seen(12, 3)],
                false,
                Status::Fail,
                "certificate of example.com expires in 12 days (2026-12-04; tls_min_days 30) in 1 of 1 rounds (failure_limit 0)",
                Some("certificate of example.com valid until 2026-12-04 12:30 UTC (12 days left; tls_min_days 30)"),
            ),
            (
                "90 days left passes",
                Some(30),
                0,
                "SSS",
                vec![seen(90, 0), seen(90, 0), seen(90, 0)],
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
                Some("certificate of example.com valid until 2027-02-20 09:30 UTC (90 days left; tls_min_days 30)"),
            ),
            (
                "exactly tls_min_days left passes",
                Some(30),
                0,
                "SSS",
                vec![seen(30, 0), seen(30, 0), seen(30, 0)],
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
                Some("certificate of example.com valid until 2026-12-22 09:30 UTC (30 days left; tls_min_days 30)"),
            ),
            (
                "an hour short of the 30th day counts as 29",
                Some(30),
                0,
                "S",
                vec![seen(29, 23)],
                false,
                Status::Fail,
                "certificate of example.com expires in 29 days (2026-12-22; tls_min_days 30) in 1 of 1 rounds (failure_limit 0)",
                None,
            ),
            (
                "one day is said in the singular",
                Some(7),
                0,
                "S",
                vec![seen(1, 2)],
                false,
                Status::Fail,
                "certificate of example.com expires in 1 day (2026-11-23; tls_min_days 7) in 1 of 1 rounds (failure_limit 0)",
                Some("certificate of example.com valid until 2026-11-23 11:30 UTC (1 day left; tls_min_days 7)"),
            ),
            (
                "a certificate already ended at `now` fails",
                Some(30),
                0,
                "S",
                vec![seen(0, -1)],
                false,
                Status::Fail,
                "certificate of example.com expired on 2026-11-22 (tls_min_days 30) in 1 of 1 rounds (failure_limit 0)",
                Some("certificate of example.com valid until 2026-11-22 08:30 UTC (expired; tls_min_days 30)"),
            ),
            (
                "without tls_min_days a short certificate is not judged",
                None,
                0,
                "SSS",
                vec![seen(2, 0), seen(2, 0), seen(2, 0)],
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
                None,
            ),
            (
                "plain http: the check does not apply",
                Some(30),
                0,
                "SSS",
                vec![Tls::Plain, Tls::Plain, Tls::Plain],
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
                Some("tls_min_days does not apply: `url` is plain http, with no certificate"),
            ),
            (
                "an unreadable certificate could not be measured",
                Some(30),
                0,
                "SSSSS",
                vec![unreadable(), unreadable(), unreadable(), unreadable(), unreadable()],
                false,
                Status::Fail,
                "could not measure in 5 rounds in a row (consecutive_error_limit 4): certificate of example.com could not be read: bad DER",
                Some("certificate of `url` not checked: no expiry was read"),
            ),
            (
                "no handshake: the samples' errors say why",
                Some(30),
                0,
                "EE",
                vec![Tls::Unseen, Tls::Unseen],
                true,
                Status::Fail,
                "no 3 rounds in a row healthy by the 5m deadline (longest 0; 0 failed, 2 could not measure)",
                Some("certificate of `url` not checked: no expiry was read"),
            ),
            (
                "a short certificate is a failed round under failure_limit",
                Some(30),
                2,
                "SS",
                vec![seen(12, 0), seen(12, 0)],
                false,
                Status::Pending,
                "0 of 3 rounds in a row healthy so far (2 failed, 0 could not measure)",
                None,
            ),
            (
                "a certificate renewed during the gate passes",
                Some(30),
                1,
                "SSSS",
                vec![seen(12, 0), seen(90, 0), seen(90, 0), seen(90, 0)],
                false,
                Status::Pass,
                "3 rounds in a row healthy (p95 100ms)",
                Some("certificate of example.com valid until 2027-02-20 09:30 UTC (90 days left; tls_min_days 30)"),
            ),
        ];
        for (name, min_days, failure_limit, letters, tls, finished, status, summary, tls_note) in
            table
        {
            let mut policy = policy();
            policy.tls_min_days = min_days;
            policy.failure_limit = failure_limit;
            let mut rounds = script(letters);
            assert_eq!(rounds.len(), tls.len(), "{name}: one `tls` per round");
            for (round, tls) in rounds.iter_mut().zip(tls) {
                round.tls = tls;
            }
            let verdict = evaluate(&policy, &rounds, finished, now());
            assert_eq!(
                (verdict.status, verdict.summary.as_str()),
                (status, summary),
                "{name}"
            );
            assert_eq!(
                decided(&policy, &rounds, now()),
                evaluate(&policy, &rounds, false, now()).status != Status::Pending,
                "{name}"
            );
            let notes = notes(&verdict);
            let certificate_notes: Vec<&str> = notes
                .iter()
                .copied()
                .filter(|n| n.contains("certificate") || n.contains("tls_min_days"))
                .filter(|n| !n.starts_with("failed:") && !n.starts_with("could not measure:"))
                .collect();
            match (tls_note, min_days) {
                (Some(expected), _) => assert_eq!(certificate_notes, [expected], "{name}"),
                (None, None) => assert!(certificate_notes.is_empty(), "{name}: {notes:#?}"),
                (None, Some(_)) => assert_eq!(certificate_notes.len(), 1, "{name}: {notes:#?}"),
            }
        }
    }

    #[test]
    fn a_short_certificate_is_named_in_the_evidence() {
        let mut policy = policy();
        policy.tls_min_days = Some(30);
        policy.failure_limit = 5;
        let mut rounds = script("SS");
        for round in &mut rounds {
            round.tls = seen(12, 3);
        }
        let verdict = evaluate(&policy, &rounds, false, now());
        assert!(notes(&verdict).contains(
            &"failed: certificate of example.com expires in 12 days (2026-12-04; tls_min_days 30) in 2 of 2 rounds"
        ));
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let table: &[(&[u64], Option<u64>)] = &[
            (&[], None),
            (&[7], Some(7)),
            (&[1, 2], Some(2)),
            (&[300, 100, 200], Some(300)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Some(10)),
            // ceil(0.95 × 20) = 19: the second largest.
            (
                &[
                    20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
                ],
                Some(19),
            ),
            // ceil(0.95 × 21) = 20.
            (
                &[
                    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                ],
                Some(20),
            ),
            (&[5, 5, 5, 1000], Some(1000)),
        ];
        for (ms, expected) in table {
            let latencies: Vec<Duration> = ms.iter().map(|&m| Duration::from_millis(m)).collect();
            assert_eq!(
                p95(&latencies),
                expected.map(Duration::from_millis),
                "{ms:?}"
            );
        }
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(p95(&hundred), Some(Duration::from_millis(95)));
    }

    #[test]
    fn decided_says_whether_more_rounds_are_needed() {
        let table = [
            ("", false),
            ("SS", false),
            ("SSS", true),
            ("F", true),
            ("EEEE", false),
            ("EEEEE", true),
        ];
        for (letters, expected) in table {
            assert_eq!(
                decided(&policy(), &script(letters), now()),
                expected,
                "{letters}"
            );
        }
    }

    #[test]
    fn evidence_tells_successes_failures_and_errors_apart() {
        let mut policy = policy();
        policy.failure_limit = 5;
        policy.machines = true;
        policy.p95_latency = Some(Duration::from_secs(3));
        let verdict = evaluate(&policy, &script("SFEUSS"), true, now());
        assert_eq!(
            (verdict.status, verdict.summary.as_str()),
            (
                Status::Fail,
                "no 3 rounds in a row healthy by the 5m deadline (longest 2; 2 failed, 1 could not measure)"
            )
        );
        assert_eq!(
            notes(&verdict),
            [
                "rounds: 6 taken; 3 healthy, 2 failed (failure_limit 5), 1 could not measure",
                "in a row: 2 healthy now, longest 2 (need 3); 0 could not measure now, longest 1 (consecutive_error_limit 4)",
                "p95 latency 100ms (nearest rank over 5 answered samples; limit 3s)",
                "failed: /health answered 503 in 1 of 6 rounds",
                "could not measure: /health connection refused in 1 of 6 rounds",
                "failed: 2 of 2 machines started and 1 with checks passing on the new version (not healthy: 148ed193b95089: check alive critical) in 1 of 6 rounds",
                "worst endpoint: /health (4 ok, 1 failed, 1 could not measure, p95 100ms)",
                "machines not healthy on the new version: 148ed193b95089: check alive critical (1 of 6 rounds)",
                "serving machines of the new version, last read: 2 of 2 started, 2 with checks passing",
            ]
        );
    }

    #[test]
    fn the_worst_endpoint_and_the_fallback_are_named() {
        let mut policy = policy();
        policy.failure_limit = 5;
        policy.endpoints.push(Endpoint {
            path: "/metrics".to_owned(),
            status: vec![200],
            json: BTreeMap::new(),
            fallback: None,
            prometheus: true,
        });
        let metrics = |outcome: Outcome, ms: Option<u64>| Sample {
            endpoint: "/metrics".to_owned(),
            via: Via::Endpoint,
            outcome,
            latency: ms.map(Duration::from_millis),
        };
        let rounds: Vec<Round> = [
            (
                sample(MISSING, Outcome::Success, Some(90)),
                metrics(failure("is not Prometheus text"), Some(30)),
            ),
            (
                sample(Via::Endpoint, Outcome::Success, Some(110)),
                metrics(Outcome::Success, Some(20)),
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (health, metrics))| Round {
            offset: Duration::from_secs(10 + 10 * i as u64),
            samples: vec![health, metrics],
            machines: None,
            tls: Tls::Plain,
        })
        .collect();
        let verdict = evaluate(&policy, &rounds, false, now());
        assert_eq!(verdict.status, Status::Pending);
        let notes = notes(&verdict);
        for expected in [
            "failed: /metrics is not Prometheus text in 1 of 2 rounds",
            "worst endpoint: /metrics (1 ok, 1 failed, 0 could not measure, p95 30ms)",
            "/health was answered by its fallback in 1 of 2 rounds",
            "machine state not gated (`machines: false`)",
            "p95 latency 110ms (nearest rank over 4 answered samples; no limit set)",
        ] {
            assert!(notes.contains(&expected), "{expected:?} in {notes:#?}");
        }
    }

    #[test]
    fn rounds_after_the_decision_or_the_deadline_are_noted_not_counted() {
        let verdict = evaluate(&policy(), &script("SSSFF"), false, now());
        assert_eq!(verdict.status, Status::Pass);
        assert!(
            notes(&verdict).contains(&"2 later rounds ignored: the gate was decided by round 3")
        );

        let mut short = policy();
        short.deadline = Duration::from_secs(25);
        let verdict = evaluate(&short, &script("SSS"), false, now());
        assert!(notes(&verdict)
            .contains(&"a round at 30s came after the 25s deadline and was not counted"));
    }

    #[test]
    fn zero_machines_of_many_started_is_said_plainly() {
        let mut policy = policy();
        policy.machines = true;
        let round = Round {
            offset: Duration::from_secs(10),
            samples: vec![sample(Via::Endpoint, Outcome::Success, Some(100))],
            machines: Some(MachineState {
                release: Some(7),
                groups: vec![group("app", 0, 3, 0)],
                unhealthy: ["a", "b"]
                    .map(|id| MachineNote {
                        id: id.to_owned(),
                        reason: "stopped".to_owned(),
                    })
                    .to_vec(),
                ignored: vec![MachineNote {
                    id: "r".to_owned(),
                    reason: "release command".to_owned(),
                }],
                ..MachineState::default()
            }),
            tls: Tls::Plain,
        };
        let mut state = round.machines.clone().expect("machines");
        state.groups[0].left_stopped = 1;
        let verdict = evaluate(&policy, &[round], false, now());
        assert_eq!(
            (verdict.status, verdict.summary.as_str()),
            (
                Status::Fail,
                "0 of 3 serving machines started on release v7"
            )
        );
        assert!(notes(&verdict).contains(&"not counted: r (release command)"));

        let verdict = judge(
            &crate::facts::HealthFacts::NoMachineStarted(state),
            Some(&policy),
            now(),
        );
        assert_eq!(
            verdict.summary,
            "fly reported success but none of the 3 serving machine(s) of release v7 is started"
        );
        assert_eq!(
            notes(&verdict),
            [
                "serving machines of release v7, last read: 0 of 3 started, 0 with checks passing, 1 left stopped by autostop",
                "not counted: r (release command)",
            ]
        );
    }

    #[test]
    fn the_evidence_names_groups_pending_checks_and_what_was_not_counted() {
        let mut policy = policy();
        policy.machines = true;
        let mut state = worker_down().expect("state");
        state.groups[1].left_stopped = 1;
        state.unhealthy.clear();
        state.groups[0].started = 1;
        state.pending = vec!["a2".to_owned()];
        state.ignored = vec![
            MachineNote {
                id: "s1".to_owned(),
                reason: "standby for w1".to_owned(),
            },
            MachineNote {
                id: "c1".to_owned(),
                reason: "console".to_owned(),
            },
        ];
        let round = Round {
            offset: Duration::from_secs(10),
            samples: vec![sample(Via::Endpoint, Outcome::Success, Some(100))],
            machines: Some(state),
            tls: Tls::Plain,
        };
        let verdict = evaluate(&policy, &[round], false, now());
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(
            verdict.summary,
            "no machine started in process group worker (0 of 1 started) on release v7 in 1 of 1 rounds (failure_limit 0)"
        );
        let notes = notes(&verdict);
        for expected in [
            "machines with checks configured but not all reported on release v7: a2 (1 of 1 rounds)",
            "serving machines of release v7, last read: 1 of 3 started, 2 with checks passing, 1 with checks pending, 1 left stopped by autostop",
            "by process group: app 1 of 2 started; worker 0 of 1 started, 1 left stopped",
            "not counted: s1 (standby for w1), c1 (console)",
        ] {
            assert!(notes.contains(&expected), "{expected:?} in {notes:#?}");
        }
    }
}
