//! Rollback policy over Fly's release history (pure): which release is running, which one a
//! rollback returns to, and how many rollbacks happened in a row.
//!
//! Fly has no rollback command: a rollback is a redeploy of an earlier release's image
//! (flyctl's behaviour), so in `fly releases --json` it shows as a new release whose `ImageRef`
//! is the image of an older release. That is how rollbacks are recognised here, whoever ran them.

use crate::facts::fly::{Release, ReleaseStatus};

/// A release as reports name it: version and image.
pub fn label(release: &Release) -> String {
    format!(
        "v{} ({})",
        release.version(),
        release.image_ref.as_deref().unwrap_or("no image")
    )
}

fn good(release: &Release) -> bool {
    release.status == ReleaseStatus::Complete && release.image_ref.is_some()
}

/// The running release, the one a failed deploy returns to: the newest `complete` release with
/// an image. `releases` are newest first (as `fly::parse_releases` sorts them).
pub fn running(releases: &[Release]) -> Option<&Release> {
    releases.iter().find(|r| good(r))
}

/// Where `rollback` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release from the history.
    Release { label: String, image: String },
    /// An image named by `--to` that is not in the history.
    Image(String),
    /// `--to VERSION` names no release with an image.
    NoSuchVersion(u64),
    /// No `complete` release with an image before the current one.
    Nothing,
}

/// `--to` given as `42` or `v42`.
fn version_of(to: &str) -> Option<u64> {
    to.strip_prefix('v').unwrap_or(to).parse().ok()
}

/// The rollback target: the release `--to` names (a version, or an image), else the newest
/// `complete` release with an image older than the current (newest) release.
pub fn target(releases: &[Release], to: Option<&str>) -> Target {
    let of = |r: &Release| Target::Release {
        label: label(r),
        image: r.image_ref.clone().unwrap_or_default(),
    };
    match to.map(str::trim).filter(|to| !to.is_empty()) {
        Some(to) => match version_of(to) {
            Some(version) => releases
                .iter()
                .find(|r| r.version == Some(version) && r.image_ref.is_some())
                .map_or(Target::NoSuchVersion(version), of),
            None => releases
                .iter()
                .find(|r| r.image_ref.as_deref() == Some(to))
                .map_or_else(|| Target::Image(to.to_owned()), of),
        },
        None => releases
            .iter()
            .skip(1)
            .find(|r| good(r))
            .map_or(Target::Nothing, of),
    }
}

/// The image of the next older release that has one.
fn older_image(releases: &[Release], index: usize) -> Option<&str> {
    releases[index + 1..]
        .iter()
        .find_map(|older| older.image_ref.as_deref())
}

/// Whether the release at `index` returned to the image of an older release, other than the one
/// just before it (the same image again is a redeploy: a secrets change, a restart, a second
/// rollback of the same failure).
fn is_rollback(releases: &[Release], index: usize) -> bool {
    let Some(image) = releases[index].image_ref.as_deref() else {
        return false;
    };
    older_image(releases, index) != Some(image)
        && releases[index + 1..]
            .iter()
            .any(|older| older.image_ref.as_deref() == Some(image))
}

/// How many rollbacks happened in a row, newest first: each return to an earlier image counts,
/// and a deploy of a new image counts as part of the run only when a rollback undid it (a failed
/// deploy between two rollbacks). A release of the same image as the one before it (a redeploy,
/// a secrets change, the workflow and the direct rollback both returning to the same image)
/// neither counts nor ends the run. The run ends at the first new image that stayed.
/// `rollback.max_consecutive` is compared with this.
pub fn streak(releases: &[Release]) -> u32 {
    let mut count = 0;
    let mut newer_was_rollback = false;
    for index in 0..releases.len() {
        let Some(image) = releases[index].image_ref.as_deref() else {
            continue;
        };
        if older_image(releases, index) == Some(image) {
            continue;
        }
        if is_rollback(releases, index) {
            count += 1;
            newer_was_rollback = true;
        } else if newer_was_rollback {
            // A new image that the newer rollback undid: still in the run.
            newer_was_rollback = false;
        } else {
            break;
        }
    }
    count
}

/// Why an automatic rollback must not start, if it must not: nothing to return to, already
/// `max_consecutive` rollbacks in a row, or a target whose image reference is the failed one's (a
/// mutable tag such as `app:main`: redeploying it goes nowhere). `releases` are those recorded
/// before the deploy; `failed_image` is what the failed deploy shipped, when known.
pub fn refusal(
    releases: &[Release],
    failed_image: Option<&str>,
    max_consecutive: u32,
) -> Option<String> {
    let Some(previous) = running(releases) else {
        return Some("there is no previous complete release with an image to return to".to_owned());
    };
    let streak = streak(releases);
    if streak >= max_consecutive {
        return Some(format!(
            "{streak} rollback(s) in a row already (rollback.max_consecutive: {max_consecutive}); automatic rollback refused"
        ));
    }
    let image = previous.image_ref.as_deref();
    if failed_image.is_some() && failed_image == image {
        return Some(format!(
            "the previous release has the same image reference as the failed one ({}): redeploying it would not go back; deploy immutable references (a digest or a unique tag)",
            image.unwrap_or_default()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Newest first: `(version, status, image)`.
    fn history(entries: &[(u64, &str, Option<&str>)]) -> Vec<Release> {
        entries
            .iter()
            .map(|(version, status, image)| Release {
                version: Some(*version),
                status: ReleaseStatus::from((*status).to_owned()),
                image_ref: image.map(str::to_owned),
                ..Release::default()
            })
            .collect()
    }

    #[test]
    fn running_is_the_newest_complete_release_with_an_image() {
        let releases = history(&[
            (5, "failed", Some("img:5")),
            (4, "complete", None),
            (3, "complete", Some("img:3")),
        ]);
        assert_eq!(running(&releases).and_then(|r| r.version), Some(3));
        assert!(running(&history(&[(1, "failed", Some("a"))])).is_none());
    }

    #[test]
    fn target_skips_the_current_release_and_bad_ones() {
        let releases = history(&[
            (5, "complete", Some("img:5")),
            (4, "failed", Some("img:4")),
            (3, "complete", None),
            (2, "complete", Some("img:2")),
        ]);
        assert_eq!(
            target(&releases, None),
            Target::Release {
                label: "v2 (img:2)".into(),
                image: "img:2".into()
            }
        );
        assert_eq!(
            target(&history(&[(1, "complete", Some("a"))]), None),
            Target::Nothing
        );
        assert_eq!(target(&[], None), Target::Nothing);
    }

    #[test]
    fn target_by_version_or_image() {
        let releases = history(&[(5, "complete", Some("img:5")), (4, "failed", Some("img:4"))]);
        assert!(
            matches!(target(&releases, Some("v4")), Target::Release { image, .. } if image == "img:4")
        );
        assert!(
            matches!(target(&releases, Some(" 5 ")), Target::Release { image, .. } if image == "img:5")
        );
        assert_eq!(target(&releases, Some("v9")), Target::NoSuchVersion(9));
        assert!(
            matches!(target(&releases, Some("img:4")), Target::Release { label, .. } if label == "v4 (img:4)")
        );
        assert_eq!(
            target(&releases, Some("registry.fly.io/app:old")),
            Target::Image("registry.fly.io/app:old".into())
        );
        // A blank `--to` is no `--to`: v4 failed, so nothing is before the current release.
        assert_eq!(target(&releases, Some("  ")), Target::Nothing);
    }

    #[test]
    fn refusal_names_why_no_automatic_rollback_starts() {
        let good = history(&[(2, "complete", Some("b")), (1, "complete", Some("a"))]);
        assert_eq!(refusal(&good, Some("c"), 3), None);
        assert!(refusal(&[], Some("c"), 3).is_some_and(|r| r.contains("no previous")));
        assert!(refusal(&good, Some("b"), 3).is_some_and(|r| r.contains("same image reference")));
        let looping = history(&[
            (2, "complete", Some("a")),
            (1, "failed", Some("b")),
            (0, "complete", Some("a")),
        ]);
        assert!(refusal(&looping, None, 1).is_some_and(|r| r.contains("1 rollback(s) in a row")));
    }

    #[test]
    fn streak_counts_rollbacks_and_the_failed_deploys_between_them() {
        // A good deploy, then three failed deploys each rolled back to img:a.
        let releases = history(&[
            (8, "complete", Some("a")),
            (7, "failed", Some("d")),
            (6, "complete", Some("a")),
            (5, "complete", Some("c")),
            (4, "complete", Some("a")),
            (3, "failed", Some("b")),
            (2, "complete", Some("a")),
            (1, "complete", Some("z")),
        ]);
        assert_eq!(streak(&releases), 3);
        // A new image that stayed ends the run.
        let mut fixed = releases.clone();
        fixed.insert(0, history(&[(9, "complete", Some("e"))]).remove(0));
        assert_eq!(streak(&fixed), 0);
        // One manual rollback right after a deploy.
        assert_eq!(
            streak(&history(&[
                (3, "complete", Some("a")),
                (2, "complete", Some("b")),
                (1, "complete", Some("a")),
            ])),
            1
        );
        assert_eq!(streak(&history(&[(1, "complete", Some("a"))])), 0);
        // The rollback workflow and the direct rollback both returned to `a`: one rollback.
        assert_eq!(
            streak(&history(&[
                (4, "complete", Some("a")),
                (3, "complete", Some("a")),
                (2, "failed", Some("b")),
                (1, "complete", Some("a")),
                (0, "complete", Some("z")),
            ])),
            1
        );
        // Restarts and secrets changes reuse the running image: not rollbacks.
        assert_eq!(
            streak(&history(&[
                (3, "complete", Some("b")),
                (2, "complete", Some("b")),
                (1, "complete", Some("a")),
            ])),
            0
        );
        // A mutable tag deployed again and again is not a rollback either.
        assert_eq!(
            streak(&history(&[
                (3, "complete", Some("app:main")),
                (2, "complete", Some("app:main")),
                (1, "complete", Some("app:main")),
            ])),
            0
        );
        assert_eq!(streak(&[]), 0);
        // Releases without an image (config-only) are not counted and do not end the run.
        assert_eq!(
            streak(&history(&[
                (4, "complete", None),
                (3, "complete", Some("a")),
                (2, "failed", Some("b")),
                (1, "complete", Some("a")),
            ])),
            1
        );
    }
}
