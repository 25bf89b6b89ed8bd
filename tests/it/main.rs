//! One integration-test binary: every test runs the real `shipgate` binary.

mod common;

mod checks;
mod cli;
mod config;
mod properties;
mod window;
