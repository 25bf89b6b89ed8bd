//! The memory check for deploy steps, a benchmark rather than a test: runs `process::run` with
//! `collect: false` on a child printing 100 MB (1,000,000 lines of 100 bytes, then one 10 MB line
//! with no newline) and prints this process's peak RSS (VmHWM) before and after, with the lines
//! and bytes read. The target is a peak under 30 MB.
//!
//! `cargo run --release --example step_output_bench` (a debug build works too); `-- --collect`
//! runs it collecting every line, as fly's runs do, for comparison.

use std::time::{Duration, Instant};

use shipgate::process::{self, Masker, Spawn};
use shipgate::secret::Secret;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let collect = std::env::args().any(|arg| arg == "--collect");
    let before = vm_hwm_kib();
    // A shell only here, in a benchmark: the child that prints a lot.
    let argv: Vec<String> = [
        "/bin/sh",
        "-c",
        "head -c 100000000 /dev/zero | tr '\\0' x | fold -w 100; echo; \
         head -c 10000000 /dev/zero | tr '\\0' y",
    ]
    .map(str::to_owned)
    .into();
    let masker = Masker::new(&[Secret::new("xxxx-not-in-the-output-secret").expect("secret")]);
    let mut shown_bytes = 0u64;
    let started = Instant::now();
    let finished = runtime
        .block_on(process::run(
            Spawn {
                argv: &argv,
                env: Vec::new(),
                env_remove: Vec::new(),
                cwd: None,
                timeout: Duration::from_secs(600),
                masker: &masker,
                collect,
            },
            |line| shown_bytes += line.text.len() as u64,
            std::future::pending(),
        ))
        .expect("the child exits 0");
    let elapsed = started.elapsed();
    let after = vm_hwm_kib();
    println!("collect:         {collect}");
    println!("lines read:      {}", finished.line_count);
    println!("bytes read:      {}", finished.bytes);
    println!("bytes shown:     {shown_bytes}");
    println!("lines collected: {}", finished.lines.len());
    println!("peak RSS before: {:.1} MiB", before as f64 / 1024.0);
    println!("peak RSS after:  {:.1} MiB", after as f64 / 1024.0);
    println!("wall time:       {:.2}s", elapsed.as_secs_f64());
}
