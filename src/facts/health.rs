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

/// The serving machines of the deployed release, as Fly reported them in one round, counted by
/// `gate::machines::count` from `fly machine list --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineState {
    /// The release counted: the one the deploy made when known, else the highest among the
    /// app's serving machines; `None` when no serving machine names its release (all counted).
    pub release: Option<u64>,
    /// The serving process groups of that release, by name.
    pub groups: Vec<GroupState>,
    /// Serving machines of the release that are neither started nor left stopped on purpose,
    /// or whose checks report other than `passing`, with why.
    pub unhealthy: Vec<MachineNote>,
    /// Started serving machines of the release with checks configured that have not all
    /// reported yet: not passing, not failing.
    pub pending: Vec<String>,
    /// Machines not counted, with why: a standby, the release command, a console, a one-off, a
    /// machine of another release.
    pub ignored: Vec<MachineNote>,
}

/// One serving process group of the release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// `fly_process_group` (`app` for a platform machine that names none).
    pub name: String,
    /// Its machines of the release, whatever their state.
    pub total: usize,
    /// In state `started`.
    pub started: usize,
    /// Stopped or suspended, and left so by `fly deploy` because a service stops and starts
    /// them on demand (`autostop`/`autostart`): not a failure.
    pub left_stopped: usize,
    /// Started, with every configured check reported `passing` (or none configured, as
    /// `fly deploy` treats it).
    pub checks_passing: usize,
}

/// A machine and what was found about it: `stopped`, `check servicecheck-00-http critical`,
/// `standby`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineNote {
    pub id: String,
    pub reason: String,
}

impl MachineState {
    /// Serving machines of the release, whatever their state.
    pub fn total(&self) -> usize {
        self.groups.iter().map(|g| g.total).sum()
    }

    /// Serving machines of the release in state `started`.
    pub fn started(&self) -> usize {
        self.groups.iter().map(|g| g.started).sum()
    }

    /// Serving machines of the release left stopped on purpose.
    pub fn left_stopped(&self) -> usize {
        self.groups.iter().map(|g| g.left_stopped).sum()
    }

    /// Started serving machines of the release with their checks passing.
    pub fn checks_passing(&self) -> usize {
        self.groups.iter().map(|g| g.checks_passing).sum()
    }

    /// The serving groups with no started machine.
    pub fn groups_down(&self) -> impl Iterator<Item = &GroupState> {
        self.groups.iter().filter(|g| g.started == 0)
    }

    /// At least one serving machine; at least one started in every serving group; no machine
    /// unhealthy and none with checks pending.
    pub fn healthy(&self) -> bool {
        !self.groups.is_empty()
            && self.groups_down().next().is_none()
            && self.unhealthy.is_empty()
            && self.pending.is_empty()
    }

    /// `release v7`, or `the new version` when no release was named.
    pub fn release_label(&self) -> String {
        match self.release {
            Some(version) => format!("release v{version}"),
            None => "the new version".to_owned(),
        }
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

impl Round {
    /// At a glance, as the deploy timeline draws it: every probe succeeded and the machines,
    /// when read, were healthy. (The gate also judges the certificate's days and pending checks.)
    pub fn healthy(&self) -> bool {
        self.samples
            .iter()
            .all(|sample| sample.outcome == Outcome::Success)
            && self.machines.as_ref().is_none_or(MachineState::healthy)
    }
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
