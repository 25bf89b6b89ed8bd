//! The configuration file `.github/shipgate.yml`: parsed (`raw`), validated into typed policy
//! (`validate`, `model`), with every problem reported as `file:line:column: message` + `hint:`.

mod delivery;
pub mod duration;
pub mod fly_toml;
mod issues;
mod locate;
mod model;
pub mod placeholder;
mod protection;
mod raw;
mod timezone;
mod tz_links;
mod validate;
mod validate_watch;
mod watch;

use std::fmt;
use std::path::{Path, PathBuf};

pub use delivery::{parse_percent, DeliveryTargets};
pub use locate::{locate, YamlPath};
pub use model::*;
pub use protection::{ClosedWindow, ProtectionRulePolicy};
pub use validate::{bound_end, bound_start, closest, suggest};
pub use validate_watch::{
    parse_selector, parse_threshold, JOB_LIMIT, QUERY_PLACEHOLDERS, STEP_PLACEHOLDERS,
};
pub use watch::*;

/// The default location of the config file, relative to the repository root.
pub const DEFAULT_PATH: &str = ".github/shipgate.yml";

/// One located problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} has {} problem{}", file.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        file: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

/// The largest config file read. A config can come from a pull request: its size and nesting are
/// bounded before any YAML is parsed.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// The deepest nesting of mappings and sequences a config may have.
pub const MAX_DEPTH: usize = 32;

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_BYTES {
        return Err(too_large(path, size));
    }
    let source = std::fs::read_to_string(path).map_err(read_error)?;
    parse(path, &source)
}

fn too_large(path: &Path, size: u64) -> ConfigError {
    ConfigError::Invalid {
        file: path.to_owned(),
        diagnostics: vec![Diagnostic {
            file: path.to_owned(),
            line: None,
            column: None,
            message: format!("the config is {size} bytes; at most {MAX_BYTES} (1 MiB) are read"),
            hint: "a deploy policy fits in a few kilobytes: remove what is not shipgate's"
                .to_owned(),
        }],
    }
}

/// Where the config nests deeper than [`MAX_DEPTH`], if it does: flow collections (`[`, `{`)
/// outside quotes and comments, plus block levels (one per indentation step in force).
fn too_deep(source: &str) -> Option<(usize, usize)> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (number, line) in source.lines().enumerate() {
        let content = line.trim_start_matches([' ', '-']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if flow == 0 {
            let indent = line.len() - content.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => flow += 1,
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            if indents.len() + flow > MAX_DEPTH {
                return Some((number + 1, indents.len() + flow));
            }
        }
    }
    None
}

/// Parses and validates config text; `path` is used in messages only.
pub fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
    let invalid = |diagnostics| ConfigError::Invalid {
        file: path.to_owned(),
        diagnostics,
    };
    // A UTF-8 byte-order mark would otherwise read as a document of its own.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.len() as u64 > MAX_BYTES {
        return Err(too_large(path, source.len() as u64));
    }
    if let Some((line, depth)) = too_deep(source) {
        return Err(invalid(vec![Diagnostic {
            file: path.to_owned(),
            line: Some(line),
            column: None,
            message: format!("nested {depth} levels deep; at most {MAX_DEPTH} are read"),
            hint: "a shipgate config nests a few levels: check for runaway brackets".to_owned(),
        }]));
    }
    let (raw, shape_problems, pruned) = match shape(path, source) {
        Shape::Whole(raw) => (raw, Vec::new(), Vec::new()),
        Shape::Pruned {
            raw,
            problems,
            pruned,
        } => (raw, problems, pruned),
        Shape::Broken(problems) => return Err(invalid(in_file_order(problems))),
    };
    let located = |issues: Vec<validate::Issue>| -> Vec<Diagnostic> {
        issues
            .into_iter()
            .map(|issue| {
                let (line, column) = locate(source, &issue.path).unzip();
                let message = if issue.path.0.is_empty() {
                    issue.message
                } else {
                    format!("{}: {}", issue.path, issue.message)
                };
                Diagnostic {
                    file: path.to_owned(),
                    line,
                    column,
                    message,
                    hint: issue.hint,
                }
            })
            .collect()
    };
    match validate::validate(&raw) {
        Ok((mut config, warnings)) if shape_problems.is_empty() => {
            config.warnings = located(warnings);
            Ok(config)
        }
        Ok(_) => Err(invalid(in_file_order(shape_problems))),
        Err(issues) => {
            // A value removed for its type reads as unset: what validation says at or under it
            // (or about the block that holds it) is about the removal, not about the file.
            let issues = issues
                .into_iter()
                .filter(|issue| !pruned.iter().any(|p| affected_by(&issue.path, p)))
                .collect();
            let mut all = shape_problems;
            all.extend(located(issues));
            Err(invalid(in_file_order(all)))
        }
    }
}

/// The most shape problems (unknown keys, wrong types) collected before giving up: each one
/// found costs a read of the whole file, and a config can come from a pull request.
const MAX_SHAPE_PROBLEMS: usize = 20;

/// What serde made of the file's shape.
enum Shape {
    /// Every key known and every value of its type.
    Whole(raw::RawConfig),
    /// Unknown keys and mistyped values were found and removed: the rest still reads, so its
    /// meaning can be checked too. `pruned` are the paths of removed values (unknown keys are not
    /// among them: removing one changes nothing else).
    Pruned {
        raw: raw::RawConfig,
        problems: Vec<Diagnostic>,
        pruned: Vec<YamlPath>,
    },
    /// The YAML does not parse, or a required key is missing: only these problems are known.
    Broken(Vec<Diagnostic>),
}

/// Reads the file into the raw config, collecting every unknown key and mistyped value in one
/// pass: each one found is reported and removed from a copy of the document, which is read again.
/// The first read is of the file itself, so a valid file is read exactly once.
fn shape(path: &Path, source: &str) -> Shape {
    let first = serde_path_to_error::deserialize::<_, raw::RawConfig>(
        serde_yaml_ng::Deserializer::from_str(source),
    );
    let error = match first {
        Ok(raw) => return Shape::Whole(raw),
        Err(error) => error,
    };
    // The YAML itself must parse for anything to be removed from it.
    let Ok(mut document) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(source) else {
        return Shape::Broken(vec![from_serde(path, error.inner(), None)]);
    };
    let mut problems = Vec::new();
    let mut pruned = Vec::new();
    let mut error = error;
    let mut first_read = true;
    loop {
        let at = yaml_path(error.path());
        let unknown_key = error.inner().to_string().contains("unknown field `");
        // The file's own read has serde's location; a re-read copy's are located in the file.
        let location = if first_read {
            None
        } else {
            Some(key_or_value_location(source, &at, unknown_key))
        };
        problems.push(from_serde(path, error.inner(), location));
        let missing = error.inner().to_string().contains("missing field `");
        if missing {
            return Shape::Broken(problems);
        }
        if problems.len() >= MAX_SHAPE_PROBLEMS {
            problems.push(Diagnostic {
                file: path.to_owned(),
                line: None,
                column: None,
                message: format!(
                    "more problems may follow: reading stops after {MAX_SHAPE_PROBLEMS} unknown keys or values of the wrong type"
                ),
                hint: "fix these and run `shipgate config validate` again".to_owned(),
            });
            return Shape::Broken(problems);
        }
        match prune(&mut document, &at.0) {
            Some(removed) if !unknown_key => pruned.push(removed),
            Some(_) => {}
            None => return Shape::Broken(problems),
        }
        let Ok(text) = serde_yaml_ng::to_string(&document) else {
            return Shape::Broken(problems);
        };
        first_read = false;
        match serde_path_to_error::deserialize::<_, raw::RawConfig>(
            serde_yaml_ng::Deserializer::from_str(&text),
        ) {
            Ok(raw) => {
                return Shape::Pruned {
                    raw,
                    problems,
                    pruned,
                }
            }
            Err(next) => error = next,
        }
    }
}

fn yaml_path(path: &serde_path_to_error::Path) -> YamlPath {
    use serde_path_to_error::Segment as S;
    YamlPath(
        path.iter()
            .filter_map(|segment| match segment {
                S::Seq { index } => Some(locate::Segment::Index(*index)),
                S::Map { key } => Some(locate::Segment::Key(key.clone())),
                S::Enum { .. } | S::Unknown => None,
            })
            .collect(),
    )
}

/// Where a problem found in a re-read copy is in the file: at its value, or at the key itself
/// for an unknown key (as serde places it on a first read).
fn key_or_value_location(
    source: &str,
    at: &YamlPath,
    unknown_key: bool,
) -> (Option<usize>, Option<usize>) {
    let Some((line, column)) = locate(source, at) else {
        return (None, None);
    };
    if let (true, Some(locate::Segment::Key(key))) = (unknown_key, at.0.last()) {
        let text = source.lines().nth(line - 1).unwrap_or_default();
        let before: String = text.chars().take(column.saturating_sub(1)).collect();
        if let Some(at_key) = before.rfind(key.as_str()) {
            return (Some(line), Some(before[..at_key].chars().count() + 1));
        }
    }
    (Some(line), Some(column))
}

/// Removes the value at `path` from `document`; the path removed, if any. An item of a list is
/// removed with its whole list, so that the indexes of later problems stay those of the file.
fn prune(document: &mut serde_yaml_ng::Value, path: &[locate::Segment]) -> Option<YamlPath> {
    let (last, parent) = path.split_last()?;
    let locate::Segment::Key(key) = last else {
        return prune(document, parent);
    };
    let mut node = document;
    for segment in parent {
        node = match segment {
            locate::Segment::Key(k) => node.get_mut(k.as_str())?,
            locate::Segment::Index(i) => node.get_mut(*i)?,
        };
    }
    node.as_mapping_mut()?.remove(key.as_str())?;
    Some(YamlPath(path.to_vec()))
}

/// Whether a problem at `issue` may only be the effect of removing `pruned`: at or under it, or
/// at a block (below an environment) that holds it.
fn affected_by(issue: &YamlPath, pruned: &YamlPath) -> bool {
    issue.0.starts_with(&pruned.0) || (issue.0.len() >= 3 && pruned.0.starts_with(&issue.0))
}

/// Problems sorted by where they are in the file; those without a place last.
fn in_file_order(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
    diagnostics
}

/// The JSON Schema of the config file.
pub fn schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::RawConfig);
    schema.insert(
        "$id".to_owned(),
        "https://shipgate.dev/schema/shipgate.schema.json".into(),
    );
    schema.to_value()
}

/// A serde error as a problem; `at` replaces the error's own location (of a re-read copy).
fn from_serde(
    path: &Path,
    error: &serde_yaml_ng::Error,
    at: Option<(Option<usize>, Option<usize>)>,
) -> Diagnostic {
    let text = error.to_string();
    let location = error.location();
    // serde_yaml_ng appends " at line L column C"; the location is printed up front instead.
    let message = match text.rfind(" at line ") {
        Some(i) if location.is_some() => text[..i].to_owned(),
        _ => text.clone(),
    };
    let message = plain_types(&message);
    let (line, column) = at.unwrap_or_else(|| {
        (
            location.as_ref().map(|l| l.line()),
            location.as_ref().map(|l| l.column()),
        )
    });
    Diagnostic {
        file: path.to_owned(),
        line,
        column,
        hint: hint_for_serde(&message),
        message,
    }
}

/// serde names Rust types (`struct RawWindows`, `u32`); a config author thinks in YAML.
fn plain_types(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("struct Raw") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "struct Raw".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str("a block of keys");
        rest = &after[end..];
    }
    out.push_str(rest);
    for (rust, plain) in [
        (" as u128", ""),
        (" as i128", ""),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("a sequence", "a list"),
        ("sequence", "list"),
        ("expected a map", "expected a block of keys"),
        ("invalid type: map", "invalid type: block of keys"),
    ] {
        out = out.replace(rust, plain);
    }
    out
}

fn hint_for_serde(message: &str) -> String {
    if message.contains("repetition limit exceeded") {
        return "YAML aliases (`*anchor`) expand to too much: write the values out instead of repeating an alias".to_owned();
    }
    if message.contains("unknown field `<<`") {
        return "YAML merge keys (`<<: *anchor`) are not supported: write the keys out".to_owned();
    }
    if message.contains("duplicate") {
        return "each key may appear once per block: remove or rename the repeated one".to_owned();
    }
    if message.contains("invalid type: unit value") || message.contains("invalid type: null") {
        return "this value is empty: write it, or remove the key".to_owned();
    }
    if let Some(rest) = message.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest
            .split("expected ")
            .nth(1)
            .unwrap_or_default()
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        return match closest(field, &expected) {
            Some(best) => format!("`{field}` is not a key here; did you mean `{best}`?"),
            None if !expected.is_empty() => format!(
                "`{field}` is not a key here; the keys are {}",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("remove `{field}`"),
        };
    }
    if let Some(rest) = message.split("missing field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        return format!("add `{field}:` to this block");
    }
    if message.contains("invalid type") || message.contains("invalid value") {
        let expected = message.rsplit("expected ").next().unwrap_or("another type");
        return format!("write {expected} here");
    }
    if message.contains("duplicate") {
        return "each key may appear once per block: remove or merge the repeated one".to_owned();
    }
    "check the YAML syntax here: indentation, quoting, and a `:` after each key".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Diagnostic> {
        match parse(Path::new("shipgate.yml"), text) {
            Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn reading_stops_after_a_bounded_number_of_shape_problems() {
        let mut text = "version: 1\nenvironments:\n  production:\n    app: demo\n".to_owned();
        for i in 0..25 {
            text.push_str(&format!("    unknown_{i}: x\n"));
        }
        let found = problems(&text);
        assert_eq!(found.len(), MAX_SHAPE_PROBLEMS + 1, "{found:#?}");
        assert!(found[..MAX_SHAPE_PROBLEMS]
            .iter()
            .all(|d| d.message.contains("unknown field") && d.line.is_some()));
        let last = &found[MAX_SHAPE_PROBLEMS];
        assert!(
            last.message.contains("more problems may follow"),
            "{last:?}"
        );
        assert_eq!(last.line, None);
    }

    #[test]
    fn a_missing_key_after_other_problems_keeps_them() {
        let found = problems(
            "version: 1\nchecks:\n  wiat: 5m\nenvironments:\n  production:\n    fly_config: x\n",
        );
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("unknown field `wiat`"), "{messages:?}");
        assert!(messages[1].contains("missing field `app`"), "{messages:?}");
    }

    #[test]
    fn a_removed_value_does_not_report_what_its_removal_caused() {
        // `deny[0].days` has the wrong type: without it the rule would be "empty".
        let found = problems(
            "version: 1\nwindows:\n  deny:\n    - { days: {x: 1} }\nenvironments:\n  production:\n    app: demo\n",
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.starts_with("windows.deny[0].days: "),
            "{found:#?}"
        );
    }
}
