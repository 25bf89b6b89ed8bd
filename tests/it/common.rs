//! The harness: runs the real binary with the ambient CI environment scrubbed, so tests behave
//! the same on a laptop and inside GitHub Actions.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const SCRUBBED_PREFIXES: &[&str] = &[
    "GITHUB_",
    "GH_",
    "RUNNER_",
    "ACTIONS_",
    "INPUT_",
    "FLY_",
    "SHIPGATE_",
];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(path: &str) -> PathBuf {
    root().join("tests/fixtures").join(path)
}

/// Relative to the crate root, where every command runs, so outputs name it the same everywhere.
pub fn example_config() -> PathBuf {
    PathBuf::from("examples/shipgate.yml")
}

/// `shipgate` with a clean environment, run from the crate root.
pub fn shipgate() -> Command {
    let mut command = Command::cargo_bin("shipgate").expect("the shipgate binary is built");
    #[allow(clippy::disallowed_methods)] // scrubbing the ambient environment is the point
    for (name, _) in std::env::vars() {
        if SCRUBBED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(&name);
        }
    }
    command.env("NO_COLOR", "1").current_dir(root());
    command
}

/// `shipgate --config PATH ...`.
pub fn with_config(config: &Path) -> Command {
    let mut command = shipgate();
    command.arg("--config").arg(config);
    command
}

/// Writes `text` to a temporary config file.
pub fn temp_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shipgate.yml");
    std::fs::write(&path, text).expect("write config");
    (dir, path)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(command: &mut Command) -> Run {
    let output = command.output().expect("shipgate runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub use crate::support::fake_flyctl;
