//! The server's state in SQLite (the default, one file) or PostgreSQL (several replicas on one
//! database), through `sqlx::Any` with the same migrations (`migrations/`) for both. Every
//! change of a request's state is one conditional `UPDATE`, so a request is claimed, held and
//! answered by one replica only: the row's state is the lock.

use std::borrow::Cow;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

use crate::run::protection::{AnswerState, ProtectionRequest};

/// The migrations, compiled in: the same SQL runs on SQLite and PostgreSQL.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "serve", include_str!("../../migrations/0001_serve.sql"))];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--database-url must start with sqlite:// or postgres:// (got {0:?})")]
    Scheme(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A request this replica now holds the right to evaluate and answer.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub request: ProtectionRequest,
    /// Evaluations that ended in an error so far.
    pub attempts: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Store {
    /// Opens (creating a SQLite file when missing) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, max_connections) = if url.starts_with("sqlite:") {
            // Create the file on first start.
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            // One connection: SQLite has one writer at a time, and writers queued in the pool
            // wait less than writers sleeping in SQLite's busy handler.
            (url, 1)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (url.to_owned(), 16)
        } else {
            return Err(StoreError::Scheme(redacted(url)));
        };
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL (sqlx's default) with NORMAL: a commit is durable across a crash of
                        // the process without an fsync each; only a power loss can take back the
                        // last commits. FULL would fsync every delivery's commit.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(connection)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        let migrator = Migrator {
            migrations: Cow::Owned(
                MIGRATIONS
                    .iter()
                    .map(|(version, description, sql)| {
                        Migration::new(
                            *version,
                            Cow::Borrowed(*description),
                            MigrationType::Simple,
                            Cow::Borrowed(*sql),
                            false,
                        )
                    })
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        migrator.run(&pool).await?;
        Ok(Store { pool })
    }

    /// `/readyz`: the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Records a delivery and its request, claimed by `replica` until `lease_until`. False when
    /// the delivery was admitted before (a redelivery): nothing is written then.
    pub async fn admit(
        &self,
        request: &ProtectionRequest,
        replica: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO deliveries (delivery_id, received_at) VALUES ($1, $2) \
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(&request.delivery_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO requests (delivery_id, installation_id, repo, environment, sha, git_ref, \
             run_id, callback_url, state, claimed_by, lease_until, attempts, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'evaluating', $9, $10, 0, $11)",
        )
        .bind(&request.delivery_id)
        .bind(request.installation_id as i64)
        .bind(&request.repo)
        .bind(&request.environment)
        .bind(&request.sha)
        .bind(request.git_ref.clone())
        .bind(request.run_id as i64)
        .bind(&request.callback_url)
        .bind(replica)
        .bind(millis(lease_until))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Claims up to `limit` requests that are due: holds whose time has come, and evaluations
    /// whose replica's lease ran out (it died). Each is claimed by one replica only.
    pub async fn claim_due(
        &self,
        replica: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        // The outer `state = …` conditions are what makes the claim exclusive: on PostgreSQL a
        // second replica updating the same row waits for the first, then re-checks them against
        // the row the first one wrote and skips it; SQLite has one writer at a time.
        let rows = sqlx::query(
            "UPDATE requests SET state = 'evaluating', claimed_by = $1, lease_until = $2 \
             WHERE (state = 'held' AND delivery_id IN \
                      (SELECT delivery_id FROM holds WHERE until_at <= $3 ORDER BY until_at LIMIT $4)) \
                OR (state = 'evaluating' AND lease_until < $3) \
             RETURNING delivery_id, installation_id, repo, environment, sha, git_ref, run_id, \
                       callback_url, attempts",
        )
        .bind(replica)
        .bind(millis(lease_until))
        .bind(millis(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(claimed_of).collect()
    }

    /// The earliest time a held request is due, if any is held.
    pub async fn next_hold_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(h.until_at) AS next FROM holds h \
             JOIN requests r ON r.delivery_id = h.delivery_id WHERE r.state = 'held'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?.map(from_millis))
    }

    /// How many requests are held now (across replicas).
    pub async fn holds_pending(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM requests WHERE state = 'held'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Holds a request this replica evaluates until `until`; false when it is no longer this
    /// replica's (its lease ran out and another took it).
    pub async fn hold(
        &self,
        delivery_id: &str,
        replica: &str,
        until: DateTime<Utc>,
        comment: &str,
        now: DateTime<Utc>,
        failed_attempt: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE requests SET state = 'held', claimed_by = NULL, lease_until = NULL, \
             attempts = attempts + $3 \
             WHERE delivery_id = $1 AND state = 'evaluating' AND claimed_by = $2",
        )
        .bind(delivery_id)
        .bind(replica)
        .bind(i64::from(failed_attempt))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO holds (delivery_id, until_at, comment, held_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (delivery_id) DO UPDATE SET until_at = excluded.until_at, \
             comment = excluded.comment, held_at = excluded.held_at",
        )
        .bind(delivery_id)
        .bind(millis(until))
        .bind(comment)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Claims the answer of a request this replica evaluates: true exactly once per request,
    /// for the replica that then sends it.
    pub async fn claim_answer(
        &self,
        delivery_id: &str,
        replica: &str,
        state: AnswerState,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE requests SET state = 'answered', answer = $3, answered_at = $4, \
             claimed_by = $2, lease_until = NULL \
             WHERE delivery_id = $1 AND state = 'evaluating' AND claimed_by = $2",
        )
        .bind(delivery_id)
        .bind(replica)
        .bind(state.as_str())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM holds WHERE delivery_id = $1")
            .bind(delivery_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Puts every request `replica` still has a claim on back as due at `now` (at shutdown: the
    /// queued and the stopped evaluations), for the next start or another replica. How many.
    pub async fn release_claimed(
        &self,
        replica: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO holds (delivery_id, until_at, comment, held_at) \
             SELECT delivery_id, $2, 'put back at shutdown', $2 FROM requests \
             WHERE state = 'evaluating' AND claimed_by = $1 \
             ON CONFLICT (delivery_id) DO UPDATE SET until_at = excluded.until_at, \
             comment = excluded.comment, held_at = excluded.held_at",
        )
        .bind(replica)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        let released = sqlx::query(
            "UPDATE requests SET state = 'held', claimed_by = NULL, lease_until = NULL \
             WHERE state = 'evaluating' AND claimed_by = $1",
        )
        .bind(replica)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(released)
    }

    /// Appends to the audit trail.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_decision(
        &self,
        delivery_id: &str,
        verdict: &str,
        comment: &str,
        at: DateTime<Utc>,
        duration_ms: i64,
        replica: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO decisions (delivery_id, verdict, comment, decided_at, duration_ms, \
             replica, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(delivery_id)
        .bind(verdict)
        .bind(comment)
        .bind(millis(at))
        .bind(duration_ms)
        .bind(replica)
        .bind(error.map(str::to_owned))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn claimed_of(row: &AnyRow) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        request: ProtectionRequest {
            delivery_id: row.try_get("delivery_id")?,
            installation_id: row.try_get::<i64, _>("installation_id")? as u64,
            repo: row.try_get("repo")?,
            environment: row.try_get("environment")?,
            sha: row.try_get("sha")?,
            git_ref: row.try_get("git_ref")?,
            run_id: row.try_get::<i64, _>("run_id")? as u64,
            callback_url: row.try_get("callback_url")?,
        },
        attempts: row.try_get("attempts")?,
    })
}

/// A database URL with its password (if any) left out, for messages.
pub fn redacted(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(not a URL)".to_owned(),
    }
}
