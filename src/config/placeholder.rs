//! `${sha}`, `${version}` and `${image}` inside a health endpoint's expected JSON values: what the
//! run deployed, filled in when the endpoint is probed, so that health asks whether the new
//! release is the one answering. Only string values are filled (object keys never); any other
//! `${...}` is refused when the config is validated.

use serde_json::Value;

/// A value a health expectation can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `${sha}`: the commit deployed, 40 hex characters.
    Sha,
    /// `${version}`: the Fly release version fly reported making, in decimal (`42`).
    Version,
    /// `${image}`: the image fly reported deploying (`registry.fly.io/app:deployment-…`).
    Image,
}

impl Placeholder {
    pub const ALL: [Placeholder; 3] = [Placeholder::Sha, Placeholder::Version, Placeholder::Image];

    /// The name between the braces: `sha`.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Sha => "sha",
            Placeholder::Version => "version",
            Placeholder::Image => "image",
        }
    }

    /// What it stands for: `the deployed commit`.
    pub fn meaning(self) -> &'static str {
        match self {
            Placeholder::Sha => "the deployed commit",
            Placeholder::Version => "the deployed Fly release version",
            Placeholder::Image => "the deployed image",
        }
    }

    fn named(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfilled {
    /// The placeholder's value is not known to this run.
    Unknown(Placeholder),
    /// `${...}` that is not a placeholder, as written (validation refuses it first).
    Bad(String),
}

/// Checks every string inside `value` (object values and array items, not keys); `Err` is the
/// first `${...}` that is not a placeholder, or an unclosed `${`, as written.
pub fn check(value: &Value) -> Result<(), String> {
    fill(value, &|_| Some(String::new())).map_err(|unfilled| match unfilled {
        Unfilled::Bad(text) => text,
        Unfilled::Unknown(placeholder) => format!("${{{}}}", placeholder.name()),
    })?;
    Ok(())
}

/// `value` with every placeholder in its strings replaced by what `known` says it is.
pub fn fill(
    value: &Value,
    known: &dyn Fn(Placeholder) -> Option<String>,
) -> Result<Value, Unfilled> {
    Ok(match value {
        Value::String(text) => Value::String(fill_text(text, known)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill(item, known))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, item)| Ok((key.clone(), fill(item, known)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

fn fill_text(
    text: &str,
    known: &dyn Fn(Placeholder) -> Option<String>,
) -> Result<String, Unfilled> {
    substitute(text, |name| {
        let placeholder =
            Placeholder::named(name).ok_or_else(|| Unfilled::Bad(format!("${{{name}}}")))?;
        known(placeholder).ok_or(Unfilled::Unknown(placeholder))
    })
    .map_err(|error| match error {
        Substitution::Unclosed(text) => Unfilled::Bad(text),
        Substitution::Lookup(unfilled) => unfilled,
    })
}

/// Why [`substitute`] stopped: an unclosed `${…` (as written, cut short), or what `lookup` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Substitution<E> {
    Unclosed(String),
    Lookup(E),
}

/// `text` with every `${name}` replaced by what `lookup(name)` answers; the one scanner behind
/// every template shipgate fills (health expectations, step arguments, PromQL queries).
pub fn substitute<E>(
    text: &str,
    mut lookup: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, Substitution<E>> {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        filled.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(Substitution::Unclosed(excerpt(&rest[at..])));
        };
        filled.push_str(&lookup(&after[..end]).map_err(Substitution::Lookup)?);
        rest = &after[end + 1..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// Every `${name}` in `text`, in order; `Err` is an unclosed `${…` as written.
pub fn names(text: &str) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    substitute(text, |name| {
        found.push(name.to_owned());
        Ok::<_, ()>(String::new())
    })
    .map_err(|error| match error {
        Substitution::Unclosed(text) => text,
        Substitution::Lookup(()) => String::new(),
    })?;
    Ok(found)
}

/// An unclosed `${…`, cut short for a message.
fn excerpt(text: &str) -> String {
    let mut cut: String = text.chars().take(20).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known(placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::Sha => Some("3e7a91c".to_owned()),
            Placeholder::Version => Some("42".to_owned()),
            Placeholder::Image => None,
        }
    }

    #[test]
    fn placeholders_are_filled_inside_strings_only() {
        let template = json!({
            "${sha}": ["v${version}", "${sha}-${version}", 7, null, true],
            "plain": "no placeholder, a lone $ and { }",
        });
        assert_eq!(
            fill(&template, &known),
            Ok(json!({
                "${sha}": ["v42", "3e7a91c-42", 7, null, true],
                "plain": "no placeholder, a lone $ and { }",
            }))
        );
        assert_eq!(
            fill(&json!("${image}"), &known),
            Err(Unfilled::Unknown(Placeholder::Image))
        );
    }

    #[test]
    fn anything_else_in_braces_is_refused() {
        assert_eq!(
            check(&json!({"a": ["${sha}", "${version}", "${image}"]})),
            Ok(())
        );
        for (template, bad) in [
            (json!("${SHA}"), "${SHA}"),
            (json!(["ok", "${commit}"]), "${commit}"),
            (json!("${}"), "${}"),
            (json!("v${version"), "${version"),
            (json!({"x": "${ sha }"}), "${ sha }"),
        ] {
            assert_eq!(check(&template), Err(bad.to_owned()), "{template}");
        }
    }
}
