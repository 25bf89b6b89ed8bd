//! The server's clock: the wall clock in production; tests give one they move.

use chrono::{DateTime, Utc};

/// Where the server reads "now": when a delivery arrives, when a hold is due.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, optionally shifted (a test starts a server "later" to reach a hold's time).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub offset: chrono::Duration,
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the server reads the clock once per event it handles
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}
