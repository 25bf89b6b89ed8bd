//! What the post-deploy watch measured: each rule's readings over time, as the metric sources
//! returned them. Whether a reading is a success or a failure is the gate's to say
//! (`gate::watch`), against the rule's condition.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One reading of one rule's metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reading {
    /// The metric's value, in the rule's base unit (a ratio, seconds, per second, a count).
    Value { value: f64 },
    /// The source answered but had nothing to measure (an empty vector, no traffic, the first
    /// scrape), and why. Argo's "inconclusive".
    NoData { why: String },
    /// The source could not be read (refused, timed out, rejected the query, unparsable), and why.
    /// Argo's "error".
    Error { why: String },
}

/// A reading and when it was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub reading: Reading,
}

/// Everything one rule measured, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSeries {
    /// The rule's name, as configured (or its shortcut's, `error_rate`).
    pub rule: String,
    pub measured: Vec<Measured>,
}

/// How the watch ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchEnd {
    /// It ran its whole duration.
    Completed,
    /// A rule decided it early (past a limit); the gate says which.
    Decided,
    /// A signal stopped it.
    Cancelled { signal: String },
}

/// What is known of the post-deploy watch.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchFacts {
    /// Not run, and why (`no watch configured`, `runs after the deploy`, `the deploy failed`).
    NotRun(String),
    /// The watch's readings.
    Watched {
        rules: Vec<RuleSeries>,
        /// How long it was planned to run, and how long it ran, in milliseconds.
        planned_ms: u64,
        elapsed_ms: u64,
        end: WatchEnd,
    },
}
