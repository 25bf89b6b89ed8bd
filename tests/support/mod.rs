//! Test support shared by the integration tests.

pub mod fake_github;
pub mod health_app;
pub mod metrics_app;
pub mod metrics_server;
pub mod postgres;
pub mod runner;
pub mod smtp_server;

use std::path::{Path, PathBuf};

/// `target/<profile>/examples/fake_flyctl`, next to this binary's `deps/` directory, built when
/// it is missing or older than its source (a filtered `cargo test` or a `cargo bench` does not
/// build examples, and a stale fake would test old behaviour). The fake depends only on its own
/// file, so its timestamp says whether it is current; calling cargo every time would rebuild
/// build-script crates whose inputs differ inside a test process.
pub fn fake_flyctl() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("this binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/NAME-HASH");
            let fake = profile_dir.join("examples/fake_flyctl");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fake_flyctl.rs");
            let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
            let current = match (modified(&fake), modified(&source)) {
                (Some(built), Some(written)) => built >= written,
                _ => false,
            };
            if !current {
                let mut build = std::process::Command::new(env!("CARGO"));
                build
                    .args(["build", "--quiet", "--example", "fake_flyctl"])
                    .current_dir(env!("CARGO_MANIFEST_DIR"));
                if profile_dir.file_name().is_some_and(|n| n == "release") {
                    build.arg("--release");
                }
                let status = build.status().expect("cargo runs");
                assert!(status.success(), "building the fake flyctl failed");
            }
            assert!(fake.exists(), "{} is missing", fake.display());
            fake
        })
        .clone()
}
