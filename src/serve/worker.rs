//! The background side: evaluations (a bounded queue, a bounded number at once) and the hold
//! scheduler, which wakes at the earliest hold's time, claims what is due and evaluates it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use super::store::Claimed;
use super::Shared;
use crate::run::protection::{AnswerState, ProtectionRequest, Verdict};

/// Evaluations that fail (no decision could be made) are tried again this many times in all,
/// then the request is rejected saying why: a deploy is never approved without a decision.
const MAX_ATTEMPTS: i64 = 4;

/// How many due requests the scheduler claims at once.
const CLAIM_BATCH: i64 = 64;

/// Hands a request this replica claimed to the evaluations; when the queue is full (or closing),
/// it goes back to the store as due now, for the scheduler (of any replica) to take.
pub(super) async fn enqueue(shared: &Shared, request: ProtectionRequest, attempts: i64) {
    let claimed = Claimed { request, attempts };
    if let Err(error) = shared.queue.try_send(claimed) {
        let claimed = match error {
            mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => c,
        };
        let now = shared.clock.now();
        let id = &claimed.request.delivery_id;
        match shared
            .store
            .hold(
                id,
                &shared.replica,
                now,
                "queued: the server was busy",
                now,
                false,
            )
            .await
        {
            Ok(_) => shared.wake.notify_one(),
            Err(error) => {
                tracing::warn!(delivery = id, %error, "cannot queue the request; it is taken again when its lease ends")
            }
        }
    }
}

/// Runs evaluations from the queue, at most `concurrency` at once, until `shutdown`; then lets
/// those in flight finish within `grace` and puts back what is left.
pub(super) async fn dispatch(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Claimed>,
    mut shutdown: watch::Receiver<bool>,
    concurrency: usize,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let claimed = tokio::select! {
            _ = shutdown.changed() => break,
            claimed = queue.recv() => match claimed {
                Some(claimed) => claimed,
                None => break,
            },
        };
        let shared = shared.clone();
        tasks.spawn(async move {
            evaluate(&shared, claimed).await;
            drop(permit);
        });
    }
    queue.close();
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "waiting for the evaluations in flight");
    }
    let finished =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "evaluations still running after the grace period: stopped, to be evaluated again"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    // Whatever this replica still holds a claim on (queued, or stopped above) is due now, for
    // the next start or another replica.
    let now = shared.clock.now();
    match shared.store.release_claimed(&shared.replica, now).await {
        Ok(0) => {}
        Ok(released) => tracing::info!(released, "requests put back to be evaluated again"),
        Err(error) => {
            tracing::warn!(%error, "cannot put requests back; they are taken again when their lease ends")
        }
    }
}

/// Claims due holds (and requests whose replica died) and queues them; sleeps until the earliest
/// hold is due, a new hold is stored, or `poll` has passed (another replica may have stored one).
pub(super) async fn schedule(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    poll: Duration,
) {
    loop {
        let now = shared.clock.now();
        let claimed = match shared
            .store
            .claim_due(&shared.replica, now, now + super::LEASE, CLAIM_BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot read the holds due");
                Vec::new()
            }
        };
        let full_batch = claimed.len() as i64 == CLAIM_BATCH;
        for claimed in claimed {
            tokio::select! {
                _ = shutdown.changed() => return,
                sent = shared.queue.send(claimed) => if sent.is_err() { return },
            }
        }
        if full_batch {
            continue;
        }
        let wait = match shared.store.next_hold_at().await {
            Ok(Some(at)) => (at - shared.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(poll),
            Ok(None) => poll,
            Err(error) => {
                tracing::warn!(%error, "cannot read the next hold");
                poll
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Asks the gates about a request this replica claimed and acts on the verdict: answer it once,
/// hold it, or try again later.
async fn evaluate(shared: &Shared, claimed: Claimed) {
    let request = &claimed.request;
    let started = Instant::now();
    let verdict = shared
        .protection
        .evaluate(request, shared.clock.now())
        .await;
    let duration = started.elapsed();
    match verdict {
        Ok(Verdict::Approve { comment }) => {
            answer(shared, request, AnswerState::Approved, &comment, duration).await
        }
        Ok(Verdict::Reject { comment }) => {
            answer(shared, request, AnswerState::Rejected, &comment, duration).await
        }
        Ok(Verdict::Hold { until, comment }) => {
            hold(shared, request, until, &comment, duration, None).await
        }
        Err(error) => {
            let error = format!("{error:#}");
            if claimed.attempts + 1 >= MAX_ATTEMPTS {
                let comment = format!(
                    "shipgate could not evaluate the gates ({MAX_ATTEMPTS} attempts): {error}"
                );
                answer(shared, request, AnswerState::Rejected, &comment, duration).await
            } else {
                // 1, 2, 4 … minutes.
                let backoff = chrono::Duration::minutes(1 << claimed.attempts.clamp(0, 6));
                let until = shared.clock.now() + backoff;
                hold(
                    shared,
                    request,
                    until,
                    "evaluation failed; trying again",
                    duration,
                    Some(&error),
                )
                .await
            }
        }
    }
}

fn log_decision(request: &ProtectionRequest, decision: &str, duration: Duration, comment: &str) {
    tracing::info!(
        delivery = request.delivery_id,
        repo = request.repo,
        environment = request.environment,
        sha = request.sha,
        decision,
        duration_ms = duration.as_millis() as u64,
        comment,
        "protection rule decided"
    );
}

async fn hold(
    shared: &Shared,
    request: &ProtectionRequest,
    until: chrono::DateTime<chrono::Utc>,
    comment: &str,
    duration: Duration,
    error: Option<&str>,
) {
    let now = shared.clock.now();
    let id = &request.delivery_id;
    let outcome = if error.is_some() { "error" } else { "held" };
    shared.metrics.decision(outcome, duration.as_secs_f64());
    match shared
        .store
        .hold(id, &shared.replica, until, comment, now, error.is_some())
        .await
    {
        Ok(true) => {
            shared.wake.notify_one();
            if let Some(error) = error {
                tracing::warn!(
                    delivery = id,
                    repo = request.repo,
                    environment = request.environment,
                    sha = request.sha,
                    decision = "error",
                    duration_ms = duration.as_millis() as u64,
                    retry_at = %until,
                    error,
                    "protection rule not decided: evaluating again later"
                );
            } else {
                log_decision(
                    request,
                    "held",
                    duration,
                    &format!("{comment} (until {until})"),
                );
            }
        }
        Ok(false) => {
            tracing::info!(
                delivery = id,
                "another replica took this request over; not held here"
            )
        }
        Err(store_error) => {
            tracing::warn!(delivery = id, error = %store_error, "cannot store the hold; the request is taken again when its lease ends")
        }
    }
    record(shared, id, outcome, comment, now, duration, error).await;
}

async fn answer(
    shared: &Shared,
    request: &ProtectionRequest,
    state: AnswerState,
    comment: &str,
    duration: Duration,
) {
    let now = shared.clock.now();
    let id = &request.delivery_id;
    match shared
        .store
        .claim_answer(id, &shared.replica, state, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(
                delivery = id,
                "already answered (or taken over by another replica); not answered again"
            );
            return;
        }
        Err(error) => {
            tracing::warn!(delivery = id, %error, "cannot claim the answer; the request is taken again when its lease ends");
            return;
        }
    }
    shared
        .metrics
        .decision(state.as_str(), duration.as_secs_f64());
    let sent = shared.protection.answer(request, state, comment).await;
    let error = sent.err().map(|e| format!("{e:#}"));
    match &error {
        None => log_decision(request, state.as_str(), duration, comment),
        Some(error) => tracing::warn!(
            delivery = id,
            repo = request.repo,
            environment = request.environment,
            sha = request.sha,
            decision = state.as_str(),
            duration_ms = duration.as_millis() as u64,
            error,
            "protection rule decided, but GitHub did not take the answer"
        ),
    }
    record(
        shared,
        id,
        state.as_str(),
        comment,
        now,
        duration,
        error.as_deref(),
    )
    .await;
}

async fn record(
    shared: &Shared,
    id: &str,
    verdict: &str,
    comment: &str,
    at: chrono::DateTime<chrono::Utc>,
    duration: Duration,
    error: Option<&str>,
) {
    if let Err(store_error) = shared
        .store
        .record_decision(
            id,
            verdict,
            comment,
            at,
            duration.as_millis() as i64,
            &shared.replica,
            error,
        )
        .await
    {
        tracing::warn!(delivery = id, error = %store_error, "cannot write the decision to the audit trail");
    }
}
