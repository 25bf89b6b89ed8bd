use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use shipgate::cli::Cli;
use shipgate::config::ConfigError;
use shipgate::env::{Ambient, SHIPGATE_LOG};
use shipgate::run::{self, RunError};

#[allow(clippy::disallowed_methods)] // the one clock reading of a run
fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server runs on its own; `serve manifest` is an ordinary command.
    if let shipgate::cli::Command::Serve(args @ shipgate::cli::ServeArgs { command: None, .. }) =
        &cli.command
    {
        return ExitCode::from(shipgate::serve::main(args, cli.global.verbose));
    }
    init_logging(cli.global.verbose);
    let ambient = Ambient::read();
    if matches!(cli.command, shipgate::cli::Command::Action) {
        let step = shipgate::action::Step::from(shipgate::env::step_env());
        return ExitCode::from(shipgate::action::run(&step, &ambient, chrono::Utc::now));
    }
    match run::run(&cli, &ambient, chrono::Utc::now) {
        Ok(output) => {
            if !cli.global.quiet {
                let mut stdout = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = stdout.write_all(output.render(cli.global.format).as_bytes());
            }
            ExitCode::from(output.exit_code())
        }
        Err(error) => {
            report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

fn report(error: &RunError) {
    let mut stderr = std::io::stderr().lock();
    match error {
        RunError::Config(ConfigError::Invalid { diagnostics, .. }) => {
            for diagnostic in diagnostics {
                let _ = writeln!(stderr, "{diagnostic}\n  hint: {}", diagnostic.hint);
            }
            let _ = writeln!(stderr, "error: {error}");
        }
        RunError::Config(ConfigError::Read { source, .. }) => {
            let hint = if source.kind() == std::io::ErrorKind::InvalidData {
                "save the file as UTF-8"
            } else {
                "check the path given to --config (or SHIPGATE_CONFIG)"
            };
            let _ = writeln!(stderr, "error: {error}\nhint: {hint}");
        }
        RunError::Cancelled { message } => {
            let _ = writeln!(stderr, "error: {message}");
        }
        RunError::Input { message, hints } | RunError::Unavailable { message, hints } => {
            let _ = writeln!(stderr, "error: {message}");
            for hint in hints {
                let _ = writeln!(stderr, "hint: {hint}");
            }
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,octocrab=off",
        1 => "info,octocrab=off",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(SHIPGATE_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
