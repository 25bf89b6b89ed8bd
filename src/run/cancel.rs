//! Cancellation: SIGTERM (the Actions runner cancelling a job) and SIGINT (Ctrl-C). A command that
//! changes production listens for both while it runs, so that a signal stops fly's process group,
//! settles the GitHub Deployment and reports what may be running, instead of dying mid-deploy.

use super::RunError;

/// The signals a deploy or rollback listens for, once it has started.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    received: Option<&'static str>,
}

impl Signals {
    /// Starts listening (inside the runtime). From here on the signals no longer end the process:
    /// the command must end itself.
    pub fn listen() -> Result<Self, RunError> {
        use tokio::signal::unix::{signal, SignalKind};
        let unavailable = |error: std::io::Error| RunError::Unavailable {
            message: format!("cannot listen for SIGTERM and SIGINT: {error}"),
            hints: vec!["nothing was changed".to_owned()],
        };
        Ok(Signals {
            term: signal(SignalKind::terminate()).map_err(unavailable)?,
            interrupt: signal(SignalKind::interrupt()).map_err(unavailable)?,
            received: None,
        })
    }

    /// Resolves when a signal arrives (at once if one already has), naming it. Cancel-safe:
    /// awaited in `select!` arms, again and again.
    pub async fn received(&mut self) -> &'static str {
        if let Some(name) = self.received {
            return name;
        }
        let name = tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        };
        self.received = Some(name);
        name
    }

    /// The signal received so far, if any.
    pub fn which(&self) -> Option<&'static str> {
        self.received
    }
}
