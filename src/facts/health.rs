//! What the health probes and Fly's machine list showed, round by round, as the `health` gate
//! reads it. The probe edge turns what it saw into these values; the gate only reads them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::placeholder::Placeholder;
use crate::config::Endpoint;

/// What the release under test is, as far as the run knows it: the values of `${sha}`,
/// `${version}` and `${image}` in a health endpoint's expected JSON. `None` where the run does
/// not know: `shipgate health` deployed nothing, fly did not report the release, a rollback
/// redeploys an image whose commit it was not told. An expectation naming an unknown value fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// The commit deployed (40 hex characters).
    pub sha: Option<String>,
    /// The Fly release version fly reported making.
    pub version: Option<u64>,
    /// The image fly reported deploying, or the one it was told to deploy.
    pub image: Option<String>,
}

impl Expected {
    /// Nothing known: every placeholder fails.
    pub fn nothing() -> Expected {
        Expected::default()
    }

    /// The value `placeholder` stands for, when known.
    pub fn value(&self, placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::Sha => self.sha.clone(),
            Placeholder::Version => self.version.map(|version| version.to_string()),
            Placeholder::Image => self.image.clone(),
        }
    }
}

/// One probe of one configured endpoint in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The configured endpoint's path (`/health`), also when its fallback answered.
    pub endpoint: String,
    /// Which path gave this outcome: the endpoint itself or its fallback.
    pub via: Via,
    pub outcome: Outcome,
    /// Time to the complete response; `None` for an error (and ignored there: nothing answered).
    pub latency: Option<Duration>,
}

/// The path a sample's outcome came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Endpoint,
    /// The endpoint answered `status`, one of its fallback's `when` (it has no such endpoint),
    /// so the outcome is the fallback's.
    Fallback {
        status: u16,
    },
}

impl Sample {
    /// What answered, for logs and verdicts: `/health`, or `/health 404 -> /` when the endpoint
    /// answered 404 and its fallback `/` gave the outcome. `endpoints` are the policy's, where
    /// the fallback's path is read.
    pub fn label(&self, endpoints: &[Endpoint]) -> String {
        let Via::Fallback { status } = self.via else {
            return self.endpoint.clone();
        };
        let fallback = endpoints
            .iter()
            .find(|e| e.path == self.endpoint)
            .and_then(|e| e.fallback.as_ref());
        match fallback {
            Some(fallback) => format!("{} {status} -> {}", self.endpoint, fallback.path),
            None => format!("{} {status} -> its fallback", self.endpoint),
        }
    }
}

/// What one measurement showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The service answered, badly: a status not in the list, a JSON Pointer mismatch, a body that
    /// is not Prometheus text, a missing header. (A certificate expiring within `tls_min_days` is
    /// judged on the round: [`Round::tls`].)
    /// `reason` reads after the path: `answered 503`, `answered {"status":"degraded"}`.
    Failure {
        reason: String,
    },
    /// Nothing could be measured: connection refused, DNS, timeout, TLS handshake.
    /// `reason` reads after the path: `connection refused`, `timed out after 5s`.
    Error {
        reason: String,
    },
}

/// The machines of the new version, as Fly reported them in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    /// Machines of the new version in state `started`.
    pub started: usize,
    /// Machines of the new version, whatever their state.
    pub total: usize,
    /// Started machines whose Fly health checks all pass (a machine with no checks configured
    /// counts as passing, as `fly deploy` treats it).
    pub checks_passing: usize,
    /// Ids of the machines that are not started or whose checks do not all pass.
    pub unhealthy: Vec<String>,
}

impl MachineState {
    /// At least one machine, and every one started with its checks passing.
    pub fn healthy(&self) -> bool {
        self.total > 0 && self.started == self.total && self.checks_passing == self.total
    }
}

/// Everything measured in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// When the round started, since the gate began (so the first is at about `initial_delay`).
    pub offset: Duration,
    pub samples: Vec<Sample>,
    /// `None` when machine state was not read, or could not be.
    pub machines: Option<MachineState>,
    /// The certificate of `url`, as the round's probes saw it.
    pub tls: Tls,
}

/// What a round saw of the TLS certificate of `url`, for `tls_min_days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// `url` is plain `http`: there is no certificate.
    Plain,
    /// No probe of the round completed a TLS handshake (the samples' errors say why), or no
    /// endpoint was probed.
    Unseen,
    /// The end-entity certificate the server presented, verified by the handshake; when the
    /// round's probes were shown more than one, the one that expires first.
    Seen(Certificate),
    /// A verified certificate whose expiry could not be read.
    Unreadable { host: String, reason: String },
}

/// A server certificate, as far as the gate needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The host of `url` it was presented for: `example.com`, `127.0.0.1`.
    pub host: String,
    /// The end of its validity (`notAfter`).
    pub not_after: DateTime<Utc>,
}
