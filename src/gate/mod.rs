//! The gates, in the order they run and are shown. Each is a pure function of gathered facts and
//! the validated policy, and returns a `Verdict`; none reads the clock, the environment or the
//! network. [`evaluate`] is the one ordered list: every command that decides calls it.
//!
//! | id | module |
//! |---|---|
//! | `required-checks` | [`checks`] |
//! | `deploy-window` | [`window`] |
//! | `staging` | [`staging`] |
//! | `approval` | [`approval`] |
//! | `health` | [`health`] (Fly machines counted by [`machines`]) |
//! | `watch` | [`watch`] (the post-deploy metrics) |

pub mod approval;
pub mod checks;
pub mod health;
pub mod machines;
pub mod staging;
pub mod watch;
pub mod window;

use crate::config::{
    ApprovalPolicy, ChecksPolicy, Config, Environment, HealthPolicy, WatchPolicy, WindowPolicy,
};
use crate::decision::{GateId, Verdict};
use crate::facts::Facts;
pub use window::EmergencyRequest;

/// Every gate, in the order they are evaluated and shown.
pub const ALL: &[GateId] = &[
    GateId::RequiredChecks,
    GateId::DeployWindow,
    GateId::Staging,
    GateId::Approval,
    GateId::Health,
    GateId::Watch,
];

/// The policy the gates judge by: an environment's, or the config's top-level blocks (for
/// `checks` and `window` without `--environment`).
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub checks: &'a ChecksPolicy,
    pub windows: Option<&'a WindowPolicy>,
    /// Environments this commit must have reached first.
    pub requires: &'a [String],
    /// `None` where no health policy applies (top-level blocks).
    pub health: Option<&'a HealthPolicy>,
    /// `None` where no watch is configured.
    pub watch: Option<&'a WatchPolicy>,
    /// `None` where no environment is named (top-level blocks, `health --url`).
    pub approval: Option<&'a ApprovalPolicy>,
}

impl<'a> Policy<'a> {
    pub fn of(environment: &'a Environment) -> Self {
        Policy {
            checks: &environment.checks,
            windows: environment.windows.as_ref(),
            requires: &environment.requires,
            health: Some(&environment.health),
            watch: environment.watch.as_ref(),
            approval: Some(&environment.approval),
        }
    }

    pub fn top_level(config: &'a Config) -> Self {
        Policy {
            checks: &config.checks,
            windows: config.windows.as_ref(),
            requires: &[],
            health: None,
            watch: None,
            approval: None,
        }
    }

    /// The health policy alone (`health --url`).
    pub fn health_only(health: &'a HealthPolicy) -> Self {
        /// No checks are required where only health is judged.
        static NO_CHECKS: ChecksPolicy = ChecksPolicy {
            required: Vec::new(),
            from_branch_rules: false,
            ignore: Vec::new(),
            wait: std::time::Duration::ZERO,
            interval: std::time::Duration::ZERO,
        };
        Policy {
            checks: &NO_CHECKS,
            windows: None,
            requires: &[],
            health: Some(health),
            watch: None,
            approval: None,
        }
    }

    /// An environment's if one is named, else the top-level blocks.
    pub fn chosen(config: &'a Config, environment: Option<&'a Environment>) -> Self {
        environment.map_or_else(|| Policy::top_level(config), Policy::of)
    }
}

/// What a command asks of the gates: which of them it decides, and the overrides it carries.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The gates this command decides, whatever their order here ([`ALL`] orders them).
    pub gates: Vec<GateId>,
    /// An emergency deploy: opens a closed window where the policy allows it.
    pub emergency: Option<EmergencyRequest>,
    /// `--skip-staging` (with an emergency): a staging gate that does not pass is overridden.
    pub skip_staging: bool,
}

impl Request {
    pub fn of(gates: &[GateId]) -> Self {
        Request {
            gates: gates.to_vec(),
            ..Request::default()
        }
    }
}

/// The one ordered list of gates: the verdicts of the gates `request` asks for, in [`ALL`]'s
/// order. The same facts give the same verdicts, whichever command asks.
pub fn evaluate(facts: &Facts, policy: &Policy<'_>, request: &Request) -> Vec<Verdict> {
    ALL.iter()
        .filter(|gate| request.gates.contains(gate))
        .map(|gate| match gate {
            GateId::RequiredChecks => checks::gate(facts, policy.checks),
            GateId::DeployWindow => {
                // `emergency.requires_approval`: the override holds only on an approved run.
                let approved = request.emergency.as_ref().map(|_| {
                    let environment = facts.subject.environment.as_deref().unwrap_or_default();
                    approval::approved(&facts.approval, environment)
                });
                window::evaluate_with_approval(
                    policy.windows,
                    facts.now,
                    request.emergency.as_ref(),
                    approved.as_ref(),
                )
            }
            GateId::Staging => staging::gate(facts, policy, request),
            GateId::Approval => approval::gate(facts, policy.approval),
            GateId::Health => health::gate(facts, policy.health),
            GateId::Watch => watch::gate(&facts.watch, policy.watch),
        })
        .collect()
}
