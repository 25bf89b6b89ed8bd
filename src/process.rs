//! The child-process edge: runs one program without a shell, in its own process group, with a
//! timeout and a cancel future, streaming its output line by line, masked.
//!
//! No policy lives here. flyctl (`fly.rs`) and the user's deploy steps run through [`run`]: the
//! first collects every raw line for its JSON parsers (`collect: true`), the others must not hold
//! their output (`collect: false`), so that a step printing 100 MB streams in bounded memory.
//! Memory is bounded by the last-lines ring ([`KEPT_LINES`]) and by a cap on a single line
//! ([`MAX_LINE_BYTES`]): the rest of a longer line is dropped (when not collecting), so output
//! without newlines is bounded too. Everything shown (handed to `on_line`, kept in `last_lines`)
//! has every secret replaced by `***`; only the collected raw lines are as printed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, Command};

use crate::secret::Secret;

/// How many trailing masked output lines a run keeps (in [`Finished`] and every error).
pub const KEPT_LINES: usize = 20;
/// The longest line shown; the rest of a longer line is dropped and [`CUT_MARKER`] appended.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Appended to a line cut at [`MAX_LINE_BYTES`].
pub const CUT_MARKER: &str = " [… line longer than 64 KiB; the rest of it was dropped]";
/// How long a process group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Which of the child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of output without its line end: masked when shown, as printed when collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

/// Replaces every secret it was given with `***`.
#[derive(Clone)]
pub struct Masker {
    /// Longest first, so a whole token is masked before any part of it.
    needles: Vec<String>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker({} secrets)", self.needles.len())
    }
}

impl Masker {
    pub fn new(secrets: &[Secret]) -> Masker {
        Masker::from_needles(secrets.iter().map(|s| s.expose().to_owned()).collect())
    }

    /// Masks a fly token, each long part of a `FlyV1 a,b` macaroon token (flyctl may print one
    /// part alone), and every other secret given.
    pub fn with_fly_token(token: Option<&Secret>, others: &[Secret]) -> Masker {
        let mut needles: Vec<String> = others.iter().map(|s| s.expose().to_owned()).collect();
        if let Some(token) = token {
            let value = token.expose();
            needles.push(value.to_owned());
            let body = value.strip_prefix("FlyV1 ").unwrap_or(value);
            needles.extend(
                body.split(',')
                    .map(str::trim)
                    .filter(|part| part.len() >= 16 && *part != value)
                    .map(str::to_owned),
            );
        }
        Masker::from_needles(needles)
    }

    fn from_needles(mut needles: Vec<String>) -> Masker {
        needles.retain(|n| !n.is_empty());
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Masker { needles }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), "***");
            }
        }
        text
    }

    /// [`Masker::mask`] for text cut short: a secret the cut split leaves its start at the end,
    /// which is masked too.
    fn mask_cut(&self, text: &str) -> String {
        let mut masked = self.mask(text);
        for needle in &self.needles {
            let partial = (1..needle.len())
                .rev()
                .filter(|k| needle.is_char_boundary(*k))
                .find(|k| masked.ends_with(&needle[..*k]));
            if let Some(k) = partial {
                masked.truncate(masked.len() - k);
                masked.push_str("***");
                break;
            }
        }
        masked
    }
}

/// What to run and how.
pub struct Spawn<'a> {
    /// `argv[0]` is the program; without a `/` it is looked up on PATH. Never a shell line.
    pub argv: &'a [String],
    /// Set on the child, on top of the inherited environment (after `env_remove`, so a name in
    /// both ends set).
    pub env: Vec<(String, String)>,
    /// Removed from the inherited environment.
    pub env_remove: Vec<String>,
    pub cwd: Option<&'a Path>,
    pub timeout: Duration,
    pub masker: &'a Masker,
    /// Keep every raw (unmasked, uncut) line for parsers. When false nothing is held but the last
    /// [`KEPT_LINES`] masked lines, and a line longer than [`MAX_LINE_BYTES`] is cut as read.
    pub collect: bool,
}

/// A run that exited 0.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Every line as printed (unmasked, never shown), in the order read; empty unless `collect`.
    pub lines: Vec<Line>,
    /// The last [`KEPT_LINES`] lines shown, masked.
    pub last_lines: Vec<String>,
    /// Lines read on both streams (a cut line counts once).
    pub line_count: u64,
    /// Bytes read on both streams, line ends included.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("did not finish within {}s and was stopped", after.as_secs_f64())]
    TimedOut {
        after: Duration,
        last_lines: Vec<String>,
    },
    #[error("exited with code {code}")]
    Failed { code: i32, last_lines: Vec<String> },
    #[error("was killed by signal {signal}")]
    Killed {
        signal: i32,
        last_lines: Vec<String>,
    },
    #[error("was stopped: shipgate received {signal}")]
    Cancelled {
        signal: &'static str,
        last_lines: Vec<String>,
    },
}

impl ProcessError {
    /// The last lines shown before the run ended (masked); none when it never started.
    pub fn last_lines(&self) -> &[String] {
        match self {
            ProcessError::Spawn { .. } => &[],
            ProcessError::TimedOut { last_lines, .. }
            | ProcessError::Failed { last_lines, .. }
            | ProcessError::Killed { last_lines, .. }
            | ProcessError::Cancelled { last_lines, .. } => last_lines,
        }
    }
}

/// Runs `spawn.argv`, handing each masked line to `on_line` as it arrives. Ok only on exit 0.
///
/// A timeout, or `cancel` resolving (to the name of the signal shipgate received), ends the
/// child's whole process group: SIGTERM, a short grace, SIGKILL. Dropping the returned future
/// before it ends sends the group SIGKILL.
pub async fn run(
    spawn: Spawn<'_>,
    on_line: impl FnMut(&Line),
    cancel: impl Future<Output = &'static str>,
) -> Result<Finished, ProcessError> {
    let Some(program) = spawn.argv.first() else {
        return Err(ProcessError::Spawn {
            program: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no program given"),
        });
    };
    let mut command = Command::new(program);
    command
        .args(&spawn.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for name in &spawn.env_remove {
        command.env_remove(name);
    }
    command.envs(spawn.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = spawn.cwd {
        command.current_dir(cwd);
    }
    let spawn_error = |source| ProcessError::Spawn {
        program: program.clone(),
        source,
    };
    let mut child = command.spawn().map_err(spawn_error)?;
    let mut guard = GroupGuard::of(&child);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let limit = (!spawn.collect).then_some(MAX_LINE_BYTES);
    let sink = RefCell::new(Sink {
        masker: spawn.masker,
        on_line,
        collect: spawn.collect,
        lines: Vec::new(),
        ring: VecDeque::with_capacity(KEPT_LINES),
        line_count: 0,
    });
    let work = tokio::time::timeout(spawn.timeout, async {
        let (out, err) = tokio::join!(
            pump(stdout, Stream::Stdout, limit, &sink),
            pump(stderr, Stream::Stderr, limit, &sink)
        );
        (out + err, child.wait().await)
    });
    let finished = tokio::select! {
        finished = work => Ok(finished),
        signal = cancel => Err(signal),
    };
    let sink = sink.into_inner();
    let last_lines: Vec<String> = sink.ring.into_iter().collect();
    let (bytes, status) = match finished {
        Err(signal) => {
            kill_group(&mut child).await;
            guard.disarm();
            return Err(ProcessError::Cancelled { signal, last_lines });
        }
        Ok(Err(_elapsed)) => {
            kill_group(&mut child).await;
            guard.disarm();
            return Err(ProcessError::TimedOut {
                after: spawn.timeout,
                last_lines,
            });
        }
        Ok(Ok(done)) => done,
    };
    let status = status.map_err(spawn_error)?;
    // Reaped: the group's id may be reused once its last member is gone.
    guard.disarm();
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(Finished {
            lines: sink.lines,
            last_lines,
            line_count: sink.line_count,
            bytes,
        }),
        (Some(code), _) => Err(ProcessError::Failed { code, last_lines }),
        (None, signal) => Err(ProcessError::Killed {
            signal: signal.unwrap_or(0),
            last_lines,
        }),
    }
}

/// Where the pumps put each line: masked to `on_line` and the ring, raw to `lines` if collecting.
struct Sink<'a, F> {
    masker: &'a Masker,
    on_line: F,
    collect: bool,
    lines: Vec<Line>,
    ring: VecDeque<String>,
    line_count: u64,
}

impl<F: FnMut(&Line)> Sink<'_, F> {
    fn accept(&mut self, stream: Stream, raw: &[u8], cut: bool) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        let (shown, cut) = if text.len() > MAX_LINE_BYTES {
            let mut end = MAX_LINE_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (&text[..end], true)
        } else {
            (&text[..], cut)
        };
        let masked = if cut {
            let mut masked = self.masker.mask_cut(shown);
            masked.push_str(CUT_MARKER);
            masked
        } else {
            self.masker.mask(shown)
        };
        let line = Line {
            stream,
            text: masked,
        };
        (self.on_line)(&line);
        if self.ring.len() == KEPT_LINES {
            self.ring.pop_front();
        }
        self.ring.push_back(line.text);
        self.line_count += 1;
        if self.collect {
            self.lines.push(Line {
                stream,
                text: text.into_owned(),
            });
        }
    }
}

/// Splits bytes into lines, holding at most `limit` bytes of one (when given).
struct Splitter {
    pending: Vec<u8>,
    /// Inside a line already cut: its bytes are dropped up to its end.
    skipping: bool,
    limit: Option<usize>,
}

impl Splitter {
    /// Hands each complete (or cut) line to `emit(bytes, cut)`.
    fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let (body, ends) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            if !self.skipping {
                let room = self
                    .limit
                    .map_or(usize::MAX, |limit| limit.saturating_sub(self.pending.len()));
                if body.len() > room {
                    self.pending.extend_from_slice(&body[..room]);
                    emit(&self.pending, true);
                    self.pending.clear();
                    self.skipping = true;
                } else {
                    self.pending.extend_from_slice(body);
                }
            }
            if ends {
                if !self.skipping {
                    emit(&self.pending, false);
                    self.pending.clear();
                }
                self.skipping = false;
            }
        }
    }

    /// The last line, when the stream ended without a newline.
    fn finish(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        if !self.skipping && !self.pending.is_empty() {
            emit(&self.pending, false);
        }
        self.pending = Vec::new();
    }
}

/// Reads `stream` line by line (lossy UTF-8, so odd bytes never stop the read) into `sink`;
/// returns the bytes read. Written on `poll_read` so the crate needs only tokio's `process`
/// feature, not `io-util`.
async fn pump<R: AsyncRead + Unpin, F: FnMut(&Line)>(
    stream: Option<R>,
    which: Stream,
    limit: Option<usize>,
    sink: &RefCell<Sink<'_, F>>,
) -> u64 {
    let Some(mut stream) = stream else { return 0 };
    // The borrow ends before the next await: the two pumps never hold it together.
    let mut emit = |raw: &[u8], cut: bool| sink.borrow_mut().accept(which, raw, cut);
    let mut splitter = Splitter {
        pending: Vec::new(),
        skipping: false,
        limit,
    };
    let mut bytes = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = std::future::poll_fn(|cx| {
            let mut buffer = ReadBuf::new(&mut chunk);
            std::pin::Pin::new(&mut stream)
                .poll_read(cx, &mut buffer)
                .map_ok(|()| buffer.filled().len())
        })
        .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                bytes += n as u64;
                splitter.feed(&chunk[..n], &mut emit);
            }
        }
    }
    splitter.finish(&mut emit);
    bytes
}

/// SIGKILLs the child's group when a run is dropped before its child was reaped (while the child
/// is unreaped its id, and so the group's, cannot be reused).
struct GroupGuard(Option<rustix::process::Pid>);

impl GroupGuard {
    fn of(child: &Child) -> Self {
        GroupGuard(group_of(child))
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

fn group_of(child: &Child) -> Option<rustix::process::Pid> {
    child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(rustix::process::Pid::from_raw)
}

/// Ends the child's whole process group: SIGTERM, then SIGKILL after a short grace, through
/// rustix's safe `kill(-pgid)` (the crate forbids `unsafe`; no `kill` program is needed, which
/// slim images lack).
async fn kill_group(child: &mut Child) {
    let Some(group) = group_of(child) else {
        return;
    };
    // The child leads its own group (`process_group(0)`): the signal reaches it and everything
    // it started. Errors (the group is already gone) need no handling.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
    }
    // Members of the group may outlive the leader; SIGKILL reaches any that are left.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const SECRET: &str = "s3cr3t-value-0123456789";
    const LONG: Duration = Duration::from_secs(60);

    /// A shell line as the child: only tests run a shell.
    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()]
    }

    fn masker() -> Masker {
        Masker::new(&[Secret::new(SECRET).expect("a secret")])
    }

    fn spawn<'a>(argv: &'a [String], masker: &'a Masker, collect: bool) -> Spawn<'a> {
        Spawn {
            argv,
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
            timeout: LONG,
            masker,
            collect,
        }
    }

    /// Runs `script` to its end, returning the run and every line `on_line` saw.
    async fn run_sh(script: &str, collect: bool) -> (Result<Finished, ProcessError>, Vec<Line>) {
        let argv = sh(script);
        let masker = masker();
        let mut seen = Vec::new();
        let result = run(
            spawn(&argv, &masker, collect),
            |line| seen.push(line.clone()),
            std::future::pending(),
        )
        .await;
        (result, seen)
    }

    fn alive(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|state| state != 'Z' && state != 'X'),
            Err(_) => false,
        }
    }

    /// SIGKILL is delivered at once, but the kernel tears processes down on its own time: look
    /// until it is gone, with a deadline far above that (a loaded machine must not fail it).
    async fn assert_gone(pid: &str) {
        assert!(pid.parse::<u32>().is_ok(), "not a pid: {pid:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(pid), "process {pid} is still running");
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[tokio::test]
    async fn exit_zero_is_ok_with_counts_and_any_other_end_is_an_error() {
        let (ok, seen) = run_sh("echo one; echo two >&2; printf 'three\\r\\n'", false).await;
        let ok = ok.expect("exit 0");
        assert_eq!(ok.line_count, 3);
        assert_eq!(ok.bytes, "one\ntwo\nthree\r\n".len() as u64);
        assert_eq!(ok.last_lines.len(), 3);
        assert!(ok.last_lines.contains(&"three".to_owned()));
        assert_eq!(seen.len(), 3);
        let two = seen.iter().find(|l| l.text == "two").expect("stderr line");
        assert_eq!(two.stream, Stream::Stderr);

        let (failed, _) = run_sh("echo before; exit 3", false).await;
        let failed = failed.expect_err("exit 3");
        assert!(
            matches!(&failed, ProcessError::Failed { code: 3, last_lines } if last_lines == &["before"]),
            "{failed:?}"
        );
        assert_eq!(failed.last_lines(), ["before"]);

        let (killed, _) = run_sh("echo bye; kill -9 $$", false).await;
        let killed = killed.expect_err("killed");
        assert!(
            matches!(&killed, ProcessError::Killed { signal: 9, last_lines } if last_lines == &["bye"]),
            "{killed:?}"
        );

        let argv = vec!["/nonexistent/shipgate-no-such-program".to_owned()];
        let masker = masker();
        let error = run(spawn(&argv, &masker, false), |_| {}, std::future::pending())
            .await
            .expect_err("no such program");
        assert!(
            matches!(&error, ProcessError::Spawn { program, .. } if program == &argv[0]),
            "{error:?}"
        );
        assert!(error.last_lines().is_empty());
        let error = run(spawn(&[], &masker, false), |_| {}, std::future::pending())
            .await
            .expect_err("no program");
        assert!(matches!(error, ProcessError::Spawn { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn env_env_remove_and_cwd_reach_the_child() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let argv = sh("echo \"$SHIPGATE_T_SET:${SHIPGATE_T_GONE-unset}:${HOME:+home}\"; pwd -P");
        let masker = masker();
        let mut spawn = spawn(&argv, &masker, true);
        spawn.env = vec![
            ("SHIPGATE_T_SET".to_owned(), "set".to_owned()),
            (
                "SHIPGATE_T_GONE".to_owned(),
                "removed first, then set".to_owned(),
            ),
        ];
        spawn.env_remove = vec!["SHIPGATE_T_GONE".to_owned(), "HOME".to_owned()];
        spawn.cwd = Some(dir.path());
        let finished = run(spawn, |_| {}, std::future::pending())
            .await
            .expect("exit 0");
        let cwd = dir.path().canonicalize().expect("canonical");
        assert_eq!(
            texts(&finished.lines),
            ["set:removed first, then set:", cwd.to_str().expect("utf-8")]
        );
    }

    #[tokio::test]
    async fn a_timeout_ends_the_whole_group_grandchild_included() {
        let argv = sh("sleep 600 & echo \"$!\"; wait");
        let masker = masker();
        let mut spawn = spawn(&argv, &masker, false);
        spawn.timeout = Duration::from_secs(3);
        let error = run(spawn, |_| {}, std::future::pending())
            .await
            .expect_err("sleeps past the timeout");
        let ProcessError::TimedOut { after, last_lines } = &error else {
            panic!("not a timeout: {error:?}");
        };
        assert_eq!(*after, Duration::from_secs(3));
        let pid = last_lines
            .first()
            .expect("the grandchild's pid was printed");
        assert_gone(pid).await;
    }

    #[tokio::test]
    async fn cancel_ends_the_whole_group_and_names_the_signal() {
        let argv = sh("sleep 600 & echo \"$!\"; echo ready; wait");
        let masker = masker();
        let (ready, cancelled) = tokio::sync::oneshot::channel::<()>();
        let mut ready = Some(ready);
        let error = run(
            spawn(&argv, &masker, false),
            |line| {
                if line.text == "ready" {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
            },
            async {
                let _ = cancelled.await;
                "SIGTERM"
            },
        )
        .await
        .expect_err("cancelled");
        let ProcessError::Cancelled { signal, last_lines } = &error else {
            panic!("not cancelled: {error:?}");
        };
        assert_eq!(*signal, "SIGTERM");
        assert_eq!(last_lines.get(1).map(String::as_str), Some("ready"));
        assert_gone(&last_lines[0]).await;
    }

    #[tokio::test]
    async fn secrets_are_masked_on_both_streams_but_collected_as_printed() {
        let script = format!("echo \"out {SECRET} x\"; echo \"err {SECRET}\" >&2; exit 1");
        let (error, seen) = run_sh(&script, true).await;
        let error = error.expect_err("exit 1");
        let mut shown = texts(&seen);
        shown.sort_unstable();
        assert_eq!(shown, ["err ***", "out *** x"]);
        assert!(error.last_lines().iter().all(|l| !l.contains(SECRET)));
        assert_eq!(error.last_lines().len(), 2);

        let script = format!("echo \"out {SECRET}\"; echo \"err {SECRET}\" >&2");
        let (finished, _) = run_sh(&script, true).await;
        let finished = finished.expect("exit 0");
        let raw: Vec<(Stream, &str)> = finished
            .lines
            .iter()
            .map(|l| (l.stream, l.text.as_str()))
            .collect();
        assert!(raw.contains(&(Stream::Stdout, &*format!("out {SECRET}"))));
        assert!(raw.contains(&(Stream::Stderr, &*format!("err {SECRET}"))));
        assert!(finished.last_lines.iter().all(|l| !l.contains(SECRET)));
    }

    #[tokio::test]
    async fn only_the_last_lines_are_kept_and_nothing_is_collected_unless_asked() {
        let (error, seen) = run_sh("seq 1 100; exit 1", false).await;
        assert_eq!(seen.len(), 100);
        let expected: Vec<String> = (81..=100).map(|n| n.to_string()).collect();
        assert_eq!(error.expect_err("exit 1").last_lines(), expected);

        let (finished, _) = run_sh("seq 1 100", false).await;
        let finished = finished.expect("exit 0");
        assert!(finished.lines.is_empty());
        assert_eq!(finished.line_count, 100);
        assert_eq!(finished.last_lines, expected);

        let (finished, _) = run_sh("seq 1 100", true).await;
        assert_eq!(finished.expect("exit 0").lines.len(), 100);
    }

    #[tokio::test]
    async fn a_last_line_without_a_newline_is_a_line() {
        let (finished, seen) = run_sh("echo first; printf 'no newline'", false).await;
        assert_eq!(texts(&seen), ["first", "no newline"]);
        assert_eq!(finished.expect("exit 0").line_count, 2);
    }

    #[tokio::test]
    async fn a_long_line_is_cut_once_and_the_next_line_reads_whole() {
        let script = "head -c 200000 /dev/zero | tr '\\0' x; echo; echo after; \
                      head -c 100000 /dev/zero | tr '\\0' y";
        let (finished, seen) = run_sh(script, false).await;
        let finished = finished.expect("exit 0");
        assert_eq!(finished.line_count, 3);
        assert_eq!(finished.bytes, 200_000 + 1 + 6 + 100_000);
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0].text,
            format!("{}{CUT_MARKER}", "x".repeat(MAX_LINE_BYTES))
        );
        assert_eq!(seen[1].text, "after");
        assert_eq!(
            seen[2].text,
            format!("{}{CUT_MARKER}", "y".repeat(MAX_LINE_BYTES))
        );

        // Collected, the raw line is whole (a parser needs it) and only what is shown is cut.
        let (finished, seen) = run_sh("head -c 100000 /dev/zero | tr '\\0' z", true).await;
        let finished = finished.expect("exit 0");
        assert_eq!(finished.lines[0].text.len(), 100_000);
        assert!(seen[0].text.ends_with(CUT_MARKER));
        assert_eq!(seen[0].text.len(), MAX_LINE_BYTES + CUT_MARKER.len());
    }

    #[test]
    fn the_splitter_cuts_across_chunks_and_resumes_at_the_next_newline() {
        let mut lines: Vec<(String, bool)> = Vec::new();
        let mut emit = |raw: &[u8], cut: bool| {
            lines.push((String::from_utf8_lossy(raw).into_owned(), cut));
        };
        let mut splitter = Splitter {
            pending: Vec::new(),
            skipping: false,
            limit: Some(4),
        };
        for chunk in [&b"ab"[..], b"cd\nabc", b"defg", b"h\n\nxy", b"zzzzzz"] {
            splitter.feed(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        let expected = [("abcd", false), ("abcd", true), ("", false), ("xyzz", true)];
        let lines: Vec<(&str, bool)> = lines.iter().map(|(t, c)| (t.as_str(), *c)).collect();
        assert_eq!(lines, expected);
        assert!(splitter.pending.capacity() == 0);
    }

    #[test]
    fn a_secret_split_by_a_cut_is_masked_too() {
        let masker = masker();
        let half = &SECRET[..SECRET.len() / 2];
        assert_eq!(
            masker.mask_cut(&format!("a {SECRET} b {half}")),
            "a *** b ***"
        );
        assert_eq!(masker.mask_cut("nothing secret"), "nothing secret");
    }

    #[test]
    fn the_fly_masker_hides_the_token_and_its_macaroon_parts() {
        let token = Secret::new("FlyV1 fm2_aaaaaaaaaaaaaaaaaaaa,fm2_bbbbbbbbbbbbbbbbbbbb");
        let other = Secret::new("ghp_other_secret").expect("a secret");
        let masker = Masker::with_fly_token(token.as_ref(), &[other]);
        assert_eq!(
            masker.mask("t=FlyV1 fm2_aaaaaaaaaaaaaaaaaaaa,fm2_bbbbbbbbbbbbbbbbbbbb x fm2_bbbbbbbbbbbbbbbbbbbb ghp_other_secret"),
            "t=*** x *** ***"
        );
        assert_eq!(format!("{masker:?}"), "Masker(4 secrets)");
    }
}
