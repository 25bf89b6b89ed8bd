//! Tests of the runner stand-ins (tests/support/runner.rs): the `GITHUB_OUTPUT` parser, rule by
//! rule as `actions/runner` applies them on Linux, and the input and context environment.

use std::collections::BTreeMap;

use crate::common::root;
use crate::support::runner::*;

fn parsed(text: &str) -> BTreeMap<String, String> {
    parse_file_commands(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn error(text: &str) -> String {
    match parse_file_commands(text) {
        Ok(values) => panic!("{text:?} parsed as {values:?}"),
        Err(error) => error,
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn an_empty_file_and_blank_lines_set_nothing() {
    assert_eq!(parsed(""), map(&[]));
    assert_eq!(parsed("\n\n\n"), map(&[]));
    assert_eq!(parsed("\na=1\n\n\nb=2\n\n"), map(&[("a", "1"), ("b", "2")]));
}

#[test]
fn the_toolkit_heredoc_form_reads_back_exactly() {
    // What @actions/core setOutput writes: NAME<<ghadelimiter_UUID, the value, the delimiter.
    let d = "ghadelimiter_5d1c2c4e-7c0b-4f43-a2a8-4a2f0e6e9a11";
    let text = format!(
        "outcome<<{d}\nrolled_back\n{d}\ndecision<<{d}\n{{\n  \"a\": \"x=y<<z\"\n}}\n{d}\n"
    );
    assert_eq!(
        parsed(&text),
        map(&[
            ("outcome", "rolled_back"),
            ("decision", "{\n  \"a\": \"x=y<<z\"\n}")
        ])
    );
}

#[test]
fn name_equals_value_keeps_everything_after_the_first_equals_sign() {
    assert_eq!(
        parsed("url=https://x.test/?a=b&c=d\nempty=\nspaced= v \n"),
        map(&[
            ("url", "https://x.test/?a=b&c=d"),
            ("empty", ""),
            ("spaced", " v ")
        ])
    );
}

#[test]
fn whichever_of_equals_and_heredoc_comes_first_decides() {
    // `=` first: a plain value that happens to contain `<<`.
    assert_eq!(parsed("a=b<<c\n"), map(&[("a", "b<<c")]));
    // `<<` first: a heredoc whose delimiter contains `=`.
    assert_eq!(parsed("a<<b=c\nvalue\nb=c\n"), map(&[("a", "value")]));
    // Neither: an error, even for text that looks harmless.
    assert_eq!(error("just text\n"), "Invalid format 'just text'");
}

#[test]
fn a_heredoc_runs_to_the_first_line_exactly_equal_to_the_delimiter() {
    let text = "a<<EOF\n EOF\nEOF \nEOFX\nxEOF\nEOF\nb=2\n";
    assert_eq!(
        parsed(text),
        map(&[("a", " EOF\nEOF \nEOFX\nxEOF"), ("b", "2")])
    );
    // Lines inside the value are not parsed as commands.
    assert_eq!(
        parsed("a<<END\nb=2\nc<<X\nEND\n"),
        map(&[("a", "b=2\nc<<X")])
    );
}

#[test]
fn heredoc_values_keep_inner_blank_lines_and_may_be_empty() {
    assert_eq!(parsed("a<<E\nE\n"), map(&[("a", "")]));
    assert_eq!(parsed("a<<E\n\nE\n"), map(&[("a", "")]));
    assert_eq!(parsed("a<<E\n\n\nE\n"), map(&[("a", "\n")]));
    assert_eq!(parsed("a<<E\nx\n\ny\n\nE\n"), map(&[("a", "x\n\ny\n")]));
}

#[test]
fn a_later_value_of_a_name_wins() {
    assert_eq!(
        parsed("a=1\nb<<E\nfirst\nE\na<<E\nsecond\nE\nb=2\n"),
        map(&[("a", "second"), ("b", "2")])
    );
}

#[test]
fn an_empty_name_or_delimiter_is_an_error() {
    assert_eq!(
        error("<<EOF\nv\nEOF\n"),
        "Invalid format '<<EOF'. Name must not be empty and delimiter must not be empty"
    );
    assert_eq!(
        error("a<<\nv\n\n"),
        "Invalid format 'a<<'. Name must not be empty and delimiter must not be empty"
    );
    assert_eq!(error("=v\n"), "Invalid format '=v'. Name must not be empty");
}

#[test]
fn a_heredoc_without_its_delimiter_is_an_error() {
    assert_eq!(
        error("a<<EOF\nvalue\n"),
        "Invalid value. Matching delimiter not found 'EOF'"
    );
    assert_eq!(
        error("a<<EOF\n"),
        "Invalid value. Matching delimiter not found 'EOF'"
    );
    assert_eq!(
        error("a<<EOF"),
        "Invalid value. Matching delimiter not found 'EOF'"
    );
}

#[test]
fn a_value_line_ending_the_file_without_a_newline_is_an_error() {
    assert_eq!(
        error("a<<EOF\nvalue"),
        "Invalid value. EOF marker missing new line."
    );
    // The runner's own case: the delimiter on the value's line, not on a line of its own.
    assert_eq!(
        error("a<<EOF\nline one line two EOF"),
        "Invalid value. EOF marker missing new line."
    );
    // The delimiter line itself, and a NAME=VALUE line, may end the file without one.
    assert_eq!(parsed("a<<EOF\nvalue\nEOF"), map(&[("a", "value")]));
    assert_eq!(parsed("a=1\nb=2"), map(&[("a", "1"), ("b", "2")]));
}

#[test]
fn crlf_is_not_a_line_ending_on_linux_runners() {
    // Lines end at \n only: the \r stays in names, values and delimiters.
    assert_eq!(parsed("a=1\r\nb=2\r\n"), map(&[("a", "1\r"), ("b", "2\r")]));
    // A CRLF heredoc: the delimiter is "EOF\r", matched by the CRLF delimiter line, and every
    // value line keeps its \r, the last one included.
    assert_eq!(
        parsed("a<<EOF\r\nx\r\ny\r\nEOF\r\n"),
        map(&[("a", "x\r\ny\r")])
    );
    // An LF header with a CRLF delimiter line never closes.
    assert_eq!(
        error("a<<EOF\nx\r\nEOF\r\n"),
        "Invalid value. Matching delimiter not found 'EOF'"
    );
    // A blank CRLF line is not empty: "\r" is neither NAME=VALUE nor NAME<<DELIM.
    assert_eq!(error("a=1\r\n\r\n"), "Invalid format '\r'");
}

#[test]
fn inputs_are_named_as_the_runner_names_them() {
    assert_eq!(input_variable("command"), "INPUT_COMMAND");
    assert_eq!(input_variable("dry-run"), "INPUT_DRY-RUN");
    assert_eq!(input_variable("github-token"), "INPUT_GITHUB-TOKEN");
    assert_eq!(input_variable("my input"), "INPUT_MY_INPUT");
    assert_eq!(input_variable("snake_case"), "INPUT_SNAKE_CASE");
    assert_eq!(
        input_env(&[("skip-staging", " true "), ("reason", "a\nb")]),
        vec![
            ("INPUT_SKIP-STAGING".to_owned(), " true ".to_owned()),
            ("INPUT_REASON".to_owned(), "a\nb".to_owned())
        ]
    );
}

#[test]
fn every_input_of_action_yml_is_passed_with_its_default() {
    let action = std::fs::read_to_string(root().join("action.yml")).expect("action.yml");
    let env: BTreeMap<String, String> = action_inputs(
        &action,
        &[("command", "plan"), ("dry-run", "true")],
        "ghs_x",
    )
    .expect("inputs")
    .into_iter()
    .collect();
    assert_eq!(env["INPUT_COMMAND"], "plan");
    assert_eq!(env["INPUT_DRY-RUN"], "true");
    assert_eq!(env["INPUT_GITHUB-TOKEN"], "ghs_x");
    assert_eq!(env["INPUT_CONFIG"], ".github/shipgate.yml");
    assert_eq!(env["INPUT_WAIT"], "true");
    assert_eq!(env["INPUT_EMERGENCY"], "false");
    assert_eq!(env["INPUT_REF"], "");
    assert_eq!(env["INPUT_CHECK-NAME"], "shipgate");
    assert_eq!(env["INPUT_RECORD"], "");
    assert_eq!(env.len(), 17, "{env:?}");
    assert!(env.keys().all(|name| name.starts_with("INPUT_")));
    let unknown = action_inputs(&action, &[("dryrun", "true")], "t").expect_err("unknown input");
    assert!(unknown.contains("dryrun"), "{unknown}");
}

#[test]
fn the_run_context_names_the_repository_owner_and_passes_values_by_name_only() {
    let context = RunContext::new(
        "push",
        "octo-org/octo-repo",
        "abc",
        "refs/heads/main",
        "http://127.0.0.1:1",
    );
    let env: BTreeMap<String, String> = context.env().into_iter().collect();
    assert_eq!(env["GITHUB_REPOSITORY_OWNER"], "octo-org");
    assert_eq!(env["GITHUB_API_URL"], "http://127.0.0.1:1");
    assert_eq!(env["GITHUB_EVENT_NAME"], "push");
    let options = env_options(&[("INPUT_GITHUB-TOKEN".to_owned(), "secret".to_owned())]);
    assert_eq!(options, ["-e", "INPUT_GITHUB-TOKEN"]);
}
