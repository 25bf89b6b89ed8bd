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
    let raw: raw::RawConfig =
        serde_yaml_ng::from_str(source).map_err(|error| invalid(vec![from_serde(path, &error)]))?;
    validate::validate(&raw).map_err(|issues| {
        invalid(
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
                .collect(),
        )
    })
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

fn from_serde(path: &Path, error: &serde_yaml_ng::Error) -> Diagnostic {
    let text = error.to_string();
    let location = error.location();
    // serde_yaml_ng appends " at line L column C"; the location is printed up front instead.
    let message = match text.rfind(" at line ") {
        Some(i) if location.is_some() => text[..i].to_owned(),
        _ => text.clone(),
    };
    let message = plain_types(&message);
    Diagnostic {
        file: path.to_owned(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
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
