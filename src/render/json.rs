//! `--format json`: the Decision as `shipgate.decision/v1`.

use crate::decision::Decision;

pub fn render(decision: &Decision) -> String {
    let mut text = serde_json::to_string_pretty(decision)
        .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"));
    text.push('\n');
    text
}
