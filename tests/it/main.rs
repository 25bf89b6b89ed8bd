//! One integration-test binary: every test runs the real `shipgate` binary.

mod common;
#[path = "../support/mod.rs"]
mod support;

mod action;
mod approval;
mod architecture;
mod checks;
mod cli;
mod config;
mod delivery;
mod deploy;
mod fake_github_selftest;
mod faults;
mod fly;
mod github;
mod github_writes;
mod init;
mod metrics;
mod notify;
mod postgres_selftest;
mod probe;
mod properties;
mod protection;
mod record;
mod render_snapshots;
mod runner_selftest;
mod serve;
mod steps;
mod watch;
mod watch_logs;
mod window;
