//! shipgate: a deploy gate for Fly.io apps shipped from GitHub.
//!
//! The crate is a pure core with thin edges. The core (`config`, `calendar`, `facts`, `gate`,
//! `decision`, `render`, `plan`) has no async, no network, no clock reads and no environment
//! reads: gates are functions of gathered facts and return one `Decision`, which every renderer
//! draws from. The edges (`cli`, `env`, `run`, and later GitHub, fly and HTTP probes) gather facts,
//! read the clock once, and write results; they hold no policy.

#[macro_use]
mod open_enum;

pub mod action;
pub mod report;
pub mod workflow_command;

pub mod cli;
pub mod config;
pub mod decision;
pub mod delivery;
pub mod env;
pub mod facts;
pub mod fly;
pub mod gate;
pub mod github;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod probe;
pub mod process;
pub mod render;
pub mod rollback;
pub mod run;
pub mod secret;
pub mod serve;
pub mod time;
pub mod words;
