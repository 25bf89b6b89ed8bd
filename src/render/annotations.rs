//! Annotations: problems rendered as Actions `::error` / `::warning` workflow commands, shown on
//! the run's page and, with a file and line, on the config file itself.

use crate::config::Diagnostic;
use crate::workflow_command::command;

/// `::error title=TITLE::TEXT`.
pub fn error(title: &str, text: &str) -> String {
    command("error", &[("title", title.to_owned())], text)
}

/// `::warning title=TITLE::TEXT`.
pub fn warning(title: &str, text: &str) -> String {
    command("warning", &[("title", title.to_owned())], text)
}

/// One `::error` per config problem, at its file, line and column.
pub fn config_problems(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let mut properties = vec![("file", diagnostic.file.display().to_string())];
            if let Some(line) = diagnostic.line {
                properties.push(("line", line.to_string()));
            }
            if let Some(column) = diagnostic.column {
                properties.push(("col", column.to_string()));
            }
            properties.push(("title", "shipgate config".to_owned()));
            command(
                "error",
                &properties,
                &format!("{}; {}", diagnostic.message, diagnostic.hint),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_problems_point_at_their_line() {
        let diagnostic = Diagnostic {
            file: ".github/shipgate.yml".into(),
            line: Some(4),
            column: Some(7),
            message: "environments.production.strategy: unknown strategy `rollin`".to_owned(),
            hint: "did you mean `rolling`?".to_owned(),
        };
        assert_eq!(
            config_problems(&[diagnostic]),
            ["::error file=.github/shipgate.yml,line=4,col=7,title=shipgate config::environments.production.strategy: unknown strategy `rollin`; did you mean `rolling`?"]
        );
        assert_eq!(
            error("shipgate: wait", "a\nb"),
            "::error title=shipgate%3A wait::a%0Ab"
        );
        assert_eq!(
            warning("shipgate", "50%"),
            "::warning title=shipgate::50%25"
        );
    }
}
