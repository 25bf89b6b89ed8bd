//! What shipgate writes to GitHub, as pure text: the sticky PR comment (with its hidden marker),
//! the gate check run's output, and size limits applied without breaking the Markdown.

use crate::decision::{Decision, Evidence, GateId, Outcome};

/// GitHub rejects an issue comment body over 65,536 characters (kept in bytes, to be safe).
pub const COMMENT_LIMIT: usize = 65_536;
/// ... and a check run's `output.summary` (or `text`) over 65,535 bytes.
pub const CHECK_RUN_LIMIT: usize = 65_535;
/// A check run title is shown on one line; keep it short.
const TITLE_LIMIT: usize = 200;

const MARKER_PREFIX: &str = "<!-- shipgate:";

/// The hidden first line of shipgate's comment: which comment this is (`key`) and a hash of
/// what it says, so an unchanged report is not posted again.
pub fn marker(key: &str, hash: u64) -> String {
    format!("{MARKER_PREFIX}{key} hash={hash:016x} -->")
}

/// `(key, hash)` of a comment body written by shipgate, if it is one.
pub fn parse_marker(body: &str) -> Option<(String, u64)> {
    let line = body.lines().next()?.trim();
    let inner = line
        .strip_prefix(MARKER_PREFIX)?
        .strip_suffix("-->")?
        .trim();
    let (key, hash) = inner.rsplit_once(" hash=")?;
    Some((key.to_owned(), u64::from_str_radix(hash, 16).ok()?))
}

/// FNV-1a: stable across runs and versions (std's hasher is not), and enough to spot a change.
pub fn content_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The sticky comment: marker, then the Markdown report. The hash covers what the report says
/// about the facts, not when it was made: the time of evaluation and the window's "now" are left
/// out, so re-running on the same facts writes nothing.
pub fn comment_body(decision: &Decision, key: &str, run_url: Option<&str>) -> String {
    let report = super::markdown::render(decision);
    let head = marker(key, fingerprint(decision));
    truncate(&format!("{head}\n{report}"), COMMENT_LIMIT, run_url)
}

fn fingerprint(decision: &Decision) -> u64 {
    let mut stable = decision.clone();
    stable.evaluated_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    for verdict in &mut stable.verdicts {
        if verdict.gate == GateId::DeployWindow {
            // "open at Tue 10:00 PST (...)": the rule, state and next opening stay in the evidence.
            verdict.summary.clear();
        }
        for evidence in &mut verdict.evidence {
            if let Evidence::Window { at, .. } = evidence {
                at.utc = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
                at.local.clear();
            }
        }
    }
    content_hash(&serde_json::to_string(&stable).unwrap_or_default())
}

/// The sticky comment when the config itself is invalid: what is wrong, where, and the fix.
pub fn invalid_config_body(
    key: &str,
    diagnostics: &[crate::config::Diagnostic],
    run_url: Option<&str>,
) -> String {
    let mut report = String::from("### shipgate readiness: **invalid config**\n\nNo gate can be evaluated until the config is fixed:\n\n");
    for diagnostic in diagnostics {
        let location = match (diagnostic.line, diagnostic.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", diagnostic.file.display()),
            _ => diagnostic.file.display().to_string(),
        };
        report.push_str(&format!(
            "- `{}`: {}\n  hint: {}\n",
            location.replace('`', "'"),
            super::markdown::cell(&diagnostic.message),
            super::markdown::cell(&diagnostic.hint)
        ));
    }
    let head = marker(key, content_hash(&report));
    truncate(&format!("{head}\n{report}"), COMMENT_LIMIT, run_url)
}

/// The gate check run's conclusion: only a go passes branch protection.
pub fn check_run_conclusion(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Go | Outcome::Ready | Outcome::Deployed => "success",
        _ => "failure",
    }
}

/// Title and summary of the gate check run.
pub fn check_run_output(decision: &Decision, run_url: Option<&str>) -> (String, String) {
    let mut title: String = decision
        .summary
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if title.chars().count() > TITLE_LIMIT {
        title = title.chars().take(TITLE_LIMIT - 1).collect::<String>() + "…";
    }
    (
        title,
        truncate(&super::markdown::render(decision), CHECK_RUN_LIMIT, run_url),
    )
}

/// Cuts `text` to at most `limit` bytes (GitHub measures a check run's summary in bytes, and
/// bytes are never fewer than characters) at a line boundary, closes an open `<details>`, and
/// says where the whole report is.
pub fn truncate(text: &str, limit: usize, run_url: Option<&str>) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let footer = match run_url {
        Some(url) => format!("\n\n… truncated: the full report is in [the run]({url})."),
        None => "\n\n… truncated: the full report is in the run's log.".to_owned(),
    };
    let closing = "\n\n</details>";
    let budget = limit.saturating_sub(footer.len() + closing.len());
    let mut kept = String::new();
    for line in text.split_inclusive('\n') {
        if kept.len() + line.len() > budget {
            break;
        }
        kept.push_str(line);
    }
    if kept.is_empty() {
        for c in text.chars() {
            if kept.len() + c.len_utf8() > budget {
                break;
            }
            kept.push(c);
        }
    }
    let open = kept.matches("<details>").count() > kept.matches("</details>").count();
    if open {
        kept.push_str(closing);
    }
    kept.push_str(&footer);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_ignore_other_comments() {
        let body = format!("{}\n### report", marker("readiness:production", 0xabc));
        assert_eq!(
            parse_marker(&body),
            Some(("readiness:production".to_owned(), 0xabc))
        );
        assert_eq!(parse_marker("<!-- other-bot:x hash=1 -->"), None);
        assert_eq!(parse_marker("LGTM <!-- shipgate:x hash=1 -->"), None);
    }

    #[test]
    fn a_70000_character_report_is_cut_under_the_limit_with_a_link() {
        let mut text = String::from("### report\n\n<details><summary>evidence</summary>\n\n");
        while text.len() < 70_000 {
            text.push_str("- passing: a check with a long name (check run success)\n");
        }
        let cut = truncate(
            &text,
            COMMENT_LIMIT,
            Some("https://github.com/o/r/actions/runs/1"),
        );
        assert!(
            cut.chars().count() <= COMMENT_LIMIT,
            "{}",
            cut.chars().count()
        );
        assert!(cut.ends_with(
            "… truncated: the full report is in [the run](https://github.com/o/r/actions/runs/1)."
        ));
        assert_eq!(
            cut.matches("<details>").count(),
            cut.matches("</details>").count()
        );
        let cut = truncate(&text, CHECK_RUN_LIMIT, None);
        assert!(cut.len() <= CHECK_RUN_LIMIT);
        // Multi-byte text: the limit is in bytes.
        let wide = "- ✅ 检查通过 (check run success)\n".repeat(3000);
        let cut = truncate(&wide, CHECK_RUN_LIMIT, None);
        assert!(cut.len() <= CHECK_RUN_LIMIT, "{} bytes", cut.len());
        assert!(cut.len() > CHECK_RUN_LIMIT - 200);
        assert_eq!(truncate("short", COMMENT_LIMIT, None), "short");
    }

    #[test]
    fn the_hash_is_stable_and_sensitive() {
        assert_eq!(content_hash("abc"), content_hash("abc"));
        assert_ne!(content_hash("abc"), content_hash("abd"));
        assert_eq!(content_hash(""), 0xcbf2_9ce4_8422_2325);
    }
}
