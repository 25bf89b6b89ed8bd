//! The step's file commands: `GITHUB_OUTPUT` in the runner's heredoc form and the job summary
//! (`GITHUB_STEP_SUMMARY`), written the way the runner reads them.

use std::collections::BTreeMap;
use std::io::Write;

use crate::render::outputs::OUTPUTS;
use crate::workflow_command::random_token;

/// One `GITHUB_OUTPUT` entry in the runner's heredoc form, ending with a newline. The delimiter is
/// `ghadelimiter_` + `token`, made longer until it is not in the value.
pub fn output_entry(name: &str, value: &str, token: &str) -> String {
    let mut delimiter = format!("ghadelimiter_{token}");
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// The job summary's limit (`CreateStepSummaryCommand.AttachmentSizeLimit`).
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Appends `text` to the job summary file.
pub fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes every output, each with its own delimiter.
pub fn write_outputs(
    file: &mut std::fs::File,
    outputs: &BTreeMap<&'static str, String>,
) -> std::io::Result<()> {
    let token = random_token();
    let mut text = String::new();
    for name in OUTPUTS {
        let value = outputs.get(name).map_or("", String::as_str);
        text.push_str(&output_entry(name, value, &token));
    }
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_use_the_runners_heredoc_with_a_delimiter_not_in_the_value() {
        assert_eq!(
            output_entry("sha", "abc", "t0"),
            "sha<<ghadelimiter_t0\nabc\nghadelimiter_t0\n"
        );
        let tricky = "a\nghadelimiter_t0\nb";
        let entry = output_entry("decision", tricky, "t0");
        assert!(entry.starts_with("decision<<ghadelimiter_t0_\n"));
        assert!(entry.ends_with("\nghadelimiter_t0_\n"));
    }
}
