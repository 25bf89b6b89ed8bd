//! The deploy record (`--record DIR`): the Decision of a `deploy` or `rollback` saved as
//! `DIR/<date>-<env>-<sha7>.json` (exactly `--format json`, `shipgate.decision/v1`) and `.md`
//! (exactly `--format markdown`), and `report --from-json` reading such a file back. A record
//! that cannot be written is a warning: it never changes the outcome of the run.

use std::path::{Path, PathBuf};

use super::{Output, RunError};
use crate::decision::{Decision, SavedError};
use crate::render::{self, Format};
use crate::report::Reporter;

const DIR_HINT: &str = "give --record (the action's `record` input) a directory; it is created \
                        if missing, e.g. --record deploy-records";

/// Before anything changes: a `--record` path that exists and is not a directory is bad input.
pub fn check(dir: &Path) -> Result<(), RunError> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(RunError::input(
            format!(
                "--record {} is a file, not a directory",
                render::one_line(&dir.display().to_string())
            ),
            DIR_HINT,
        )),
        _ => Ok(()),
    }
}

/// The record's file name without extension: `2026-11-30-production-a1b2c3d`; a rollback is
/// named after the release it returned to, `2026-11-30-production-rollback-v42`.
pub fn stem(decision: &Decision) -> String {
    let date = decision.evaluated_at.format("%Y-%m-%d");
    let env = safe(decision.subject.environment.as_deref().unwrap_or("unknown"));
    let what = if decision.command == "rollback" {
        let report = decision.report.as_ref();
        let target = report
            .and_then(|r| r.incident.as_ref())
            .and_then(|i| i.to.as_ref())
            .or_else(|| report.and_then(|r| r.deployed.as_ref()));
        match target {
            Some(release) => match (release.version, &release.image) {
                (Some(version), _) => format!("rollback-v{version}"),
                (None, Some(image)) => format!("rollback-{}", safe(tag(image))),
                (None, None) => "rollback".to_owned(),
            },
            None => "rollback".to_owned(),
        }
    } else {
        let sha = decision.subject.sha.as_deref().unwrap_or("unknown");
        safe(sha.get(..7).unwrap_or(sha))
    };
    format!("{date}-{env}-{what}")
}

/// An image's tag (or digest), the part that tells releases apart.
fn tag(image: &str) -> &str {
    image
        .rsplit_once('@')
        .map(|(_, digest)| {
            digest
                .trim_start_matches("sha256:")
                .get(..12)
                .unwrap_or(digest)
        })
        .or_else(|| image.rsplit_once(':').map(|(_, tag)| tag))
        .unwrap_or(image)
}

/// Letters, digits, `.`, `_` and `-` only: a name can never leave the directory.
fn safe(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.trim_start_matches('.').to_owned()
}

/// Writes both files; a second run with the same name the same day gets `-2`, `-3`, ... Any
/// failure is a warning through the reporter, and the paths written are returned.
pub fn write(dir: &Path, decision: &Decision, reporter: &dyn Reporter) -> Vec<PathBuf> {
    match try_write(dir, decision) {
        Ok(paths) => {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            reporter.progress(&format!("deploy record written: {}", shown.join(", ")));
            paths
        }
        Err(error) => {
            reporter.warning(&format!(
                "the deploy record was not written to {}: {error}; the run's outcome stands",
                dir.display()
            ));
            Vec::new()
        }
    }
}

fn try_write(dir: &Path, decision: &Decision) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let stem = stem(decision);
    let free = |name: &str| {
        !dir.join(format!("{name}.json")).exists() && !dir.join(format!("{name}.md")).exists()
    };
    let name = std::iter::once(stem.clone())
        .chain((2..1000).map(|n| format!("{stem}-{n}")))
        .find(|name| free(name))
        .unwrap_or(stem);
    let json = dir.join(format!("{name}.json"));
    let markdown = dir.join(format!("{name}.md"));
    std::fs::write(&json, render::render(decision, Format::Json))?;
    std::fs::write(&markdown, render::render(decision, Format::Markdown))?;
    Ok(vec![json, markdown])
}

/// `report --from-json FILE`: the saved Decision rendered in `format`. Exit 0: the record's own
/// outcome is history, not this command's.
pub fn report(path: &Path, format: Format) -> Result<Output, RunError> {
    let shown = render::one_line(&path.display().to_string());
    let text = std::fs::read_to_string(path).map_err(|error| {
        RunError::input(
            format!("cannot read {shown}: {error}"),
            "give the .json of a deploy record (written by --record DIR) or of --format json",
        )
    })?;
    let decision = Decision::from_json(&text).map_err(|error| {
        let hint = match &error {
            SavedError::Schema { .. } => format!(
                "this shipgate reads `{}` files: the .json of a deploy record or of --format json; \
                 a file of another version is read by that version of shipgate",
                crate::decision::SCHEMA
            ),
            SavedError::NotJson(_) if path.extension().is_some_and(|e| e == "md") => {
                "give the record's .json, not its .md".to_owned()
            }
            _ => "give the .json of a deploy record (written by --record DIR) or of --format json"
                .to_owned(),
        };
        RunError::input(format!("{shown}: {error}"), hint)
    })?;
    Ok(Output::Text {
        text: render::render(&decision, format),
        exit_code: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::{safe, tag};

    #[test]
    fn names_cannot_leave_the_directory() {
        assert_eq!(safe("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(safe("prod uction/x"), "prod-uction-x");
        assert_eq!(safe("staging-eu_1.a"), "staging-eu_1.a");
    }

    #[test]
    fn an_image_is_named_by_its_tag_or_digest() {
        assert_eq!(tag("registry.fly.io/app:deployment-01H"), "deployment-01H");
        assert_eq!(
            tag("registry.fly.io/app@sha256:0123456789abcdef0123"),
            "0123456789ab"
        );
        assert_eq!(tag("plain"), "plain");
    }
}
