//! Reads each environment's fly.toml (as `fly deploy --config` would: relative to the working
//! directory) and refuses the strategies flyctl would refuse for it, before anything changes.
//! Synchronous: called before the async runtime starts.

use std::path::Path;

use crate::config::fly_toml::{conflict, FlyToml};
use crate::config::Environment;

use super::RunError;

/// Checks `env`'s strategy against its fly.toml. A missing fly.toml passes: `config validate`
/// may run outside the app's checkout, and `deploy` lets flyctl name its own error. A fly.toml
/// that cannot be read or parsed, or a strategy flyctl refuses for it, is invalid input (exit 2).
pub fn check(env: &Environment) -> Result<(), RunError> {
    let path = Path::new(&env.fly_config);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(
                environment = %env.name,
                path = %path.display(),
                "no fly.toml here: its strategy is not checked against it"
            );
            return Ok(());
        }
        Err(error) => {
            return Err(RunError::input(
                format!(
                    "environment `{}`: cannot read {}: {error}",
                    env.name,
                    path.display()
                ),
                "check `fly_config` (a path relative to the working directory, as `fly deploy --config` reads it)",
            ))
        }
    };
    let fly = FlyToml::parse(&text).map_err(|error| {
        RunError::input(
            format!(
                "environment `{}`: cannot parse {}: {}",
                env.name,
                path.display(),
                error.to_string().trim_end()
            ),
            "fix the TOML: flyctl reads the same file",
        )
    })?;
    // Without `strategy:` in the config, fly.toml's `[deploy] strategy` (or rolling) is used.
    let (strategy, source) = match (env.strategy, fly.deploy_strategy) {
        (Some(strategy), _) => (strategy, ""),
        (None, Some(strategy)) => (strategy, ", from fly.toml's [deploy] strategy"),
        (None, None) => (crate::config::Strategy::Rolling, ""),
    };
    match conflict(&fly, strategy) {
        None => Ok(()),
        Some(conflict) => Err(RunError::input(
            format!(
                "environment `{}`: strategy `{}`{source} {} ({})",
                env.name,
                strategy.as_str(),
                conflict.reason(),
                path.display()
            ),
            conflict.fix(),
        )),
    }
}
