//! Shared by the benchmarks: run a process to the end while sampling its peak memory.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The process's peak resident set (VmHWM), in KiB, while it runs.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub struct Finished {
    pub status: ExitStatus,
    pub wall: Duration,
    pub peak_kib: u64,
    pub stdout: String,
}

/// Runs `command` (stdout captured, stderr dropped), sampling VmHWM every millisecond.
pub fn run_measured(command: &mut Command) -> Finished {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the benchmarked process starts");
    let pid = child.id();
    let mut peak_kib = 0;
    // Read stdout on a thread so a large output never blocks the child.
    let mut pipe = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    Finished {
        status,
        wall: started.elapsed(),
        peak_kib,
        stdout: reader.join().unwrap_or_default(),
    }
}
