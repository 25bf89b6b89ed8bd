//! What a config problem is (where, what, the fix), the list every check adds to, and the
//! checks that every part of the file shares: durations within their limit, names with a "did
//! you mean".

use std::time::Duration;

use super::duration;
use super::locate::YamlPath;

/// One problem in the file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: YamlPath,
    pub message: String,
    pub hint: String,
}

/// The problems found (`.0`), and what is allowed but probably wrong (`.1`, warnings).
#[derive(Default)]
pub(super) struct Issues(pub(super) Vec<Issue>, pub(super) Vec<Issue>);

impl Issues {
    pub(super) fn push(
        &mut self,
        path: &YamlPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        // Inherited blocks are checked once per environment; report each problem once.
        add_once(&mut self.0, path, message.into(), hint.into());
    }

    /// Something allowed but probably wrong: reported, never failing the config.
    pub(super) fn warn(
        &mut self,
        path: &YamlPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        add_once(&mut self.1, path, message.into(), hint.into());
    }
}

fn add_once(list: &mut Vec<Issue>, path: &YamlPath, message: String, hint: String) {
    let issue = Issue {
        path: path.clone(),
        message,
        hint,
    };
    if !list.contains(&issue) {
        list.push(issue);
    }
}

/// The longest duration a config may set (a deny rule's cron `duration` has its own limit): a
/// config can come from a pull request, and no wait, timeout or deadline should outlive a day.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

pub(super) fn parse_duration(text: &str, path: &YamlPath, issues: &mut Issues) -> Duration {
    let value = parse_any_duration(text, path, issues);
    if value > MAX_DURATION {
        issues.push(
            path,
            format!(
                "`{text}` is longer than the limit of {}",
                duration::Human(MAX_DURATION)
            ),
            "use at most `24h`",
        );
        return MAX_DURATION;
    }
    value
}

pub(super) fn parse_any_duration(text: &str, path: &YamlPath, issues: &mut Issues) -> Duration {
    duration::parse(text).unwrap_or_else(|error| {
        issues.push(
            path,
            format!("bad duration: {error}"),
            "write durations like `90s`, `5m`, `1h30m` (units d, h, m, s, ms)",
        );
        Duration::ZERO
    })
}

/// `hint` followed by the closest known name, if one is close.
pub fn suggest(hint: &str, given: &str, known: &[&str]) -> String {
    let list = if known.len() <= 8 {
        format!(
            ": {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    match closest(given, known) {
        Some(best) => format!("{hint}{list} (did you mean `{best}`?)"),
        None => format!("{hint}{list}"),
    }
}

pub fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&given_lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
