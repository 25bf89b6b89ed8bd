//! What a running command says while it runs: progress lines, warnings, step timings and the
//! streamed output of the programs it runs. Every such line goes through one [`Reporter`]; the
//! sequencer (`run/`) never prints and never knows whether it runs in a terminal or in Actions.
//!
//! The result itself (the Decision) is rendered apart, by `render/`.

use std::sync::Mutex;

use crate::decision::Step;
use crate::workflow_command;

/// Where a running command's progress goes. `Sync`, so a command's future can move between
/// threads (the protection-rule server evaluates on a multi-threaded runtime).
pub trait Reporter: Sync {
    /// A line of progress: `shipgate: waiting 2m of 20m: build (in_progress)`.
    fn progress(&self, text: &str);
    /// Something went wrong that does not change the outcome.
    fn warning(&self, text: &str);
    /// A finished step and how long it took.
    fn step(&self, step: &Step) {
        self.progress(&format!(
            "step {}: {} ({})",
            step.name,
            crate::render::one_line(&step.detail),
            crate::render::ms_text(step.duration_ms)
        ));
    }
    /// The start of another program's output (`fly deploy`), titled with its command line. That
    /// output is not shipgate's to trust: in Actions, no workflow command inside it takes effect.
    fn begin_output(&self, title: &str);
    /// One line of that program's output.
    fn output_line(&self, line: &str);
    /// The end of the output begun by [`Reporter::begin_output`].
    fn end_output(&self);
}

/// A terminal (or any log that is not an Actions log): plain lines on stderr.
#[derive(Debug, Default)]
pub struct Terminal;

impl Reporter for Terminal {
    fn progress(&self, text: &str) {
        eprintln!("shipgate: {}", crate::render::one_line(text));
    }

    fn warning(&self, text: &str) {
        eprintln!("warning: {text}");
    }

    fn begin_output(&self, title: &str) {
        eprintln!("shipgate: running {title}");
    }

    fn output_line(&self, line: &str) {
        eprintln!("  {line}");
    }

    fn end_output(&self) {}
}

/// A GitHub Actions log: as [`Terminal`], and another program's output sits in a collapsible
/// group with workflow commands stopped inside it (a random token ends the stop).
#[derive(Debug, Default)]
pub struct Actions {
    stopped: Mutex<Option<String>>,
}

impl Reporter for Actions {
    fn progress(&self, text: &str) {
        Terminal.progress(text);
    }

    fn warning(&self, text: &str) {
        Terminal.warning(text);
    }

    fn begin_output(&self, title: &str) {
        Terminal.begin_output(title);
        let token = workflow_command::random_token();
        eprintln!("{}", workflow_command::command("group", &[], title));
        eprintln!("{}", workflow_command::stop_commands(&token));
        if let Ok(mut stopped) = self.stopped.lock() {
            *stopped = Some(token);
        }
    }

    fn output_line(&self, line: &str) {
        Terminal.output_line(line);
    }

    fn end_output(&self) {
        let token = self.stopped.lock().ok().and_then(|mut t| t.take());
        if let Some(token) = token {
            eprintln!("{}", workflow_command::resume_commands(&token));
            eprintln!("{}", workflow_command::command("endgroup", &[], ""));
        }
    }
}

/// A server's log (`shipgate serve`): each line a `tracing` event, so it carries the request's
/// span (repository, environment, SHA) and follows `--log-format`.
#[derive(Debug, Default)]
pub struct Log;

impl Reporter for Log {
    fn progress(&self, text: &str) {
        tracing::info!("{}", crate::render::one_line(text));
    }

    fn warning(&self, text: &str) {
        tracing::warn!("{}", crate::render::one_line(text));
    }

    fn begin_output(&self, title: &str) {
        tracing::info!("running {title}");
    }

    fn output_line(&self, line: &str) {
        tracing::info!("  {line}");
    }

    fn end_output(&self) {}
}

/// Collects every line, for tests of what a command says.
#[derive(Debug, Default)]
pub struct Recorded {
    pub lines: Mutex<Vec<String>>,
}

impl Recorded {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Reporter for Recorded {
    fn progress(&self, text: &str) {
        self.push(format!("shipgate: {text}"));
    }

    fn warning(&self, text: &str) {
        self.push(format!("warning: {text}"));
    }

    fn begin_output(&self, title: &str) {
        self.push(format!("begin {title}"));
    }

    fn output_line(&self, line: &str) {
        self.push(format!("  {line}"));
    }

    fn end_output(&self) {
        self.push("end".to_owned());
    }
}
