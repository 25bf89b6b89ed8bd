//! A real Prometheus-compatible server for tests: Debian's `prometheus` or `victoria-metrics`
//! (both installed by `.ci/run`), on 127.0.0.1, scraping one target every second, with its data
//! in a temporary directory. It panics, with the server's own log, when it cannot start: a test
//! that needs it never skips. Dropping it kills it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prometheus,
    VictoriaMetrics,
}

impl Kind {
    pub fn program(self) -> &'static str {
        match self {
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoria-metrics",
        }
    }
}

pub struct MetricsServer {
    kind: Kind,
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

/// How long a server gets to answer ready.
const START_LIMIT: Duration = Duration::from_secs(60);

impl MetricsServer {
    /// Starts `kind`, scraping `target` (`127.0.0.1:PORT`, path `/metrics`) every second as job
    /// `job`, and waits until it answers ready.
    pub fn start(kind: Kind, target: &str, job: &str) -> MetricsServer {
        let dir = tempfile::tempdir().expect("a temp dir for the metrics server");
        let config = dir.path().join("scrape.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: {job}\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("the scrape config written");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let data = dir.path().join("data");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("the server's log file");
        let mut command = Command::new(kind.program());
        match kind {
            Kind::Prometheus => {
                command
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address={address}"));
            }
            Kind::VictoriaMetrics => {
                command
                    .arg(format!("-promscrape.config={}", config.display()))
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr={address}"))
                    // Samples are visible to queries at once (by default 30s after).
                    .arg("-search.latencyOffset=0s")
                    .arg("-search.disableCache");
            }
        }
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file again"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `{}` ({e}): install Debian's `prometheus` and \
                     `victoria-metrics` packages (.ci/run does)",
                    kind.program()
                )
            });
        let mut server = MetricsServer {
            kind,
            child,
            address,
            dir,
        };
        server.wait_ready(&log_path);
        server
    }

    fn wait_ready(&mut self, log: &Path) {
        let path = match self.kind {
            Kind::Prometheus => "/-/ready",
            Kind::VictoriaMetrics => "/health",
        };
        let started = Instant::now();
        while started.elapsed() < START_LIMIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before it was ready; its log:\n{}",
                    self.kind.program(),
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if get_status(&self.address, path) == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{} did not answer ready on {} within {}s; its log:\n{}",
            self.kind.program(),
            self.address,
            START_LIMIT.as_secs(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `http://127.0.0.1:PORT`: the HTTP API's base URL.
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.address)).expect("the server's URL")
    }

    /// The server's log so far (for a failing assertion's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The status of `GET path`, or `None` when nothing answered.
fn get_status(address: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
