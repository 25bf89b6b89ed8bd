//! GitHub Actions workflow commands (`::name props::data`), encoded as the toolkit encodes them.
//! Below both the reporter and the action entrypoint: the one place that knows the syntax.

/// Workflow-command data escaping (`%`, CR, LF), as the toolkit's `escapeData`.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property escaping: data escaping plus `:` and `,`, as the toolkit's `escapeProperty`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::name key=value,key=value::data`, every property and the data escaped.
pub fn command(name: &str, properties: &[(&str, String)], data: &str) -> String {
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    let space = if properties.is_empty() { "" } else { " " };
    format!(
        "::{name}{space}{}::{}",
        properties.join(","),
        escape_data(data)
    )
}

/// A token no output can guess, for `::stop-commands::` and heredoc delimiters: 128 bits from
/// the operating system's CSPRNG (a seeded PRNG could be predicted by what runs beside it).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness at all: still unique per call, if guessable.
        bytes = fastrand::u128(..).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `::stop-commands::TOKEN`: until `::TOKEN::`, the runner acts on no workflow command, so text
/// that is not shipgate's (fly's output, names from GitHub) cannot issue any.
pub fn stop_commands(token: &str) -> String {
    format!("::stop-commands::{token}")
}

/// Ends [`stop_commands`].
pub fn resume_commands(token: &str) -> String {
    format!("::{token}::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_data_and_properties() {
        assert_eq!(escape_data("50%\r\nx"), "50%25%0D%0Ax");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(
            command(
                "error",
                &[("file", "a,b.yml".into()), ("line", "3".into())],
                "bad\nvalue"
            ),
            "::error file=a%2Cb.yml,line=3::bad%0Avalue"
        );
        assert_eq!(command("endgroup", &[], ""), "::endgroup::");
        assert_eq!(random_token().len(), 32);
    }
}
