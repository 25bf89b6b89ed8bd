//! `environments.NAME.protection_rule`: how `shipgate serve` answers GitHub's deployment
//! protection rule for the environment, as written (raw), checked (every problem located) and
//! typed (model). Only what differs from `deploy` lives here: the gates and their policy are the
//! environment's own.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::issues::{suggest, Issues};
use super::locate::YamlPath;

/// How the protection-rule server answers for this environment.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProtectionRule {
    /// A request that arrives while the deploy window is closed (and passes every other gate):
    /// `reject` it, naming the next opening, or `hold` it and approve it at the next opening if
    /// the checks still pass then. Default `reject`.
    pub closed_window: Option<String>,
}

/// What to do with a request the deploy window alone blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedWindow {
    /// Answer `rejected`, with the next opening in the comment.
    #[default]
    Reject,
    /// Answer nothing yet; evaluate again at the next opening.
    Hold,
}

impl ClosedWindow {
    pub const ALL: [(&'static str, ClosedWindow); 2] = [
        ("reject", ClosedWindow::Reject),
        ("hold", ClosedWindow::Hold),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClosedWindow::Reject => "reject",
            ClosedWindow::Hold => "hold",
        }
    }
}

/// The checked `protection_rule:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ProtectionRulePolicy {
    pub closed_window: ClosedWindow,
}

/// Checks `protection_rule:`; an unknown `closed_window` is an issue at its key.
pub(super) fn protection_rule_policy(
    raw: Option<&RawProtectionRule>,
    path: &YamlPath,
    issues: &mut Issues,
) -> ProtectionRulePolicy {
    let Some(text) = raw.and_then(|r| r.closed_window.as_deref()) else {
        return ProtectionRulePolicy::default();
    };
    match ClosedWindow::ALL.iter().find(|(name, _)| *name == text) {
        Some((_, closed_window)) => ProtectionRulePolicy {
            closed_window: *closed_window,
        },
        None => {
            let names: Vec<&str> = ClosedWindow::ALL.iter().map(|(n, _)| *n).collect();
            issues.push(
                &path.key("closed_window"),
                format!("unknown `closed_window` value `{text}`"),
                suggest("use one of", text, &names),
            );
            ProtectionRulePolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str =
        "version: 1\nenvironments:\n  production:\n    app: web\n    health:\n      machines: true\n";

    #[test]
    fn closed_window_defaults_to_reject_and_reads_hold() {
        let config = crate::config::parse(Path::new("shipgate.yml"), BASE).expect("valid");
        let env = config.environment("production").expect("production");
        assert_eq!(env.protection_rule.closed_window, ClosedWindow::Reject);
        let held = format!("{BASE}    protection_rule:\n      closed_window: hold\n");
        let config = crate::config::parse(Path::new("shipgate.yml"), &held).expect("valid");
        let env = config.environment("production").expect("production");
        assert_eq!(env.protection_rule.closed_window, ClosedWindow::Hold);
    }

    #[test]
    fn an_unknown_closed_window_value_is_located_and_named() {
        let bad = format!("{BASE}    protection_rule:\n      closed_window: wait\n");
        let error = crate::config::parse(Path::new("shipgate.yml"), &bad).expect_err("invalid");
        let crate::config::ConfigError::Invalid { diagnostics, .. } = error else {
            panic!("expected located problems, got {error}");
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let problem = &diagnostics[0];
        assert!(problem.message.contains("`wait`"), "{}", problem.message);
        assert!(problem.hint.contains("`hold`"), "{}", problem.hint);
        assert_eq!(problem.line, Some(8), "{problem}");
    }
}
