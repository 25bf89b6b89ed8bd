//! Test support shared by the integration tests.

pub mod fake_github;
pub mod health_app;
