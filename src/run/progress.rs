//! What every step of a deploy or rollback leaves: its duration and detail, told through the
//! reporter as it ends and kept for the report. Below the steps themselves (`deploy/steps.rs`,
//! `hooks.rs`, `watch.rs`), which all record through it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::decision::{Evidence, Step, Verdict};
use crate::report::Reporter;

/// Timeout of the read-only fly commands (`releases`, `machine list`).
pub const FLY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Every step with its duration, in order, and the notes that go with the health verdict.
pub struct Steps<'a> {
    reporter: &'a dyn Reporter,
    /// When the run started, on the wall clock and on the monotonic one: each step's start is
    /// kept as an offset from it.
    pub started_at: DateTime<Utc>,
    origin: Instant,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

impl<'a> Steps<'a> {
    /// Steps of a run that started at `started_at` (the run's clock reading), counted from now.
    pub fn new(reporter: &'a dyn Reporter, started_at: DateTime<Utc>) -> Self {
        Steps {
            reporter,
            started_at,
            origin: Instant::now(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn done(&mut self, step: &str, started: Instant, detail: impl Into<String>) {
        let step = Step {
            name: step.to_owned(),
            duration_ms: ms(started.elapsed()),
            detail: detail.into(),
            started_ms: None,
            rounds: Vec::new(),
            command: None,
        };
        self.record(step);
    }

    /// A finished step, told and kept. Its start, unless set, is now less its duration.
    pub fn record(&mut self, mut step: Step) {
        if step.started_ms.is_none() {
            step.started_ms = Some(ms(self.origin.elapsed()).saturating_sub(step.duration_ms));
        }
        self.reporter.step(&step);
        self.steps.push(step);
    }

    pub fn reporter(&self) -> &'a dyn Reporter {
        self.reporter
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.reporter.progress(&text);
        self.notes.push(text);
    }

    /// The notes, appended to the verdict they explain (the health gate's).
    pub fn annotate(&mut self, verdict: &mut Verdict) {
        verdict.evidence.extend(
            std::mem::take(&mut self.notes)
                .into_iter()
                .map(|text| Evidence::Note { text }),
        );
    }
}

pub fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The exact command line, for logs and `--dry-run`: the plan's quoting, one for every argv shown.
pub use crate::plan::argv_text as command_line;
