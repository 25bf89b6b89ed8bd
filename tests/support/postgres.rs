//! A real PostgreSQL server for tests, started by the test itself from the distribution's
//! binaries: `initdb` into a temp dir (trust authentication, superuser `postgres`), `pg_ctl start`
//! listening on 127.0.0.1 only, on a free port, with its socket in the temp dir. Dropping it stops
//! the server (`pg_ctl stop -m immediate`) and removes the directory.
//!
//! The server binaries are found as `initdb` on PATH, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout); the client tools (`psql`, `pg_dump`,
//! `pg_restore`) are taken from the same directory, so their version matches the server's.
//!
//! The server refuses to run as root. When the tests run as root (a CI container), the temp dir
//! is given to the `postgres` user (or `nobody` when there is none) and `initdb`, `pg_ctl` and the
//! server run as that user through `runuser -u USER --`; the client tools run as the test does,
//! over TCP. When it cannot start the server, it panics saying why: a test that needs PostgreSQL
//! never skips.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The superuser `initdb` creates, and the database every cluster has.
const USER: &str = "postgres";
/// How many ports to try when another process takes the free port first.
const PORT_ATTEMPTS: usize = 3;

pub struct Postgres {
    port: u16,
    data: PathBuf,
    bin_dir: PathBuf,
    /// `Some(user)` when the tests run as root and the server runs as `user`.
    run_as: Option<String>,
    /// Dropped after the server is stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Initialises a cluster in a new temp dir and starts it; panics with the reason if it can't.
    pub fn start() -> Postgres {
        let bin_dir = server_bin_dir();
        let run_as = rustix::process::geteuid().is_root().then(unprivileged_user);
        let dir = tempfile::Builder::new()
            .prefix("shipgate-pg-")
            .tempdir()
            .expect("a temp dir for PostgreSQL");
        if let Some(user) = &run_as {
            let (uid, gid) = ids_of(user);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot give {} to {user}: {e}", dir.path().display()));
        }
        let data = dir.path().join("data");
        let mut initdb = privileged(&run_as, &bin_dir.join("initdb"), dir.path());
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync"])
            .env("LC_ALL", "C");
        succeed(initdb, "initdb");

        let log = dir.path().join("server.log");
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut pg_ctl = privileged(&run_as, &bin_dir.join("pg_ctl"), dir.path());
            pg_ctl
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                // pg_ctl hands these to the server through a shell: the temp dir has no spaces.
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
                    dir.path().display()
                ))
                .arg("start");
            let output = run(pg_ctl, "pg_ctl start");
            if output.status.success() {
                let postgres = Postgres {
                    port,
                    data,
                    bin_dir,
                    run_as,
                    dir,
                };
                postgres.wait_until_ready();
                return postgres;
            }
            last_failure = format!(
                "{}\n{}\nserver log:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!(
            "PostgreSQL did not start in {PORT_ATTEMPTS} attempts; the last said:\n{last_failure}"
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: trust authentication, no password.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The directory the server's files (and its socket) are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A tool of the server's version (`psql`, `pg_dump`, `pg_restore`, `pg_isready`), found
    /// without starting a server; else the one on PATH.
    pub fn bin(name: &str) -> PathBuf {
        let beside = server_bin_dir().join(name);
        if beside.exists() {
            return beside;
        }
        which(name).unwrap_or_else(|| panic!("no {name} next to the server or on PATH"))
    }

    /// Runs `sql` with psql (`ON_ERROR_STOP`, no psqlrc, unaligned tuples only) and returns its
    /// standard output; panics with its standard error when it fails.
    pub fn psql(&self, sql: &str) -> String {
        let mut psql = Command::new(Self::bin("psql"));
        psql.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url())
            .args(["-c", sql]);
        let output = run(psql, "psql");
        assert!(
            output.status.success(),
            "psql failed ({}) on {sql:?}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("psql prints UTF-8")
    }

    fn wait_until_ready(&self) {
        // `pg_ctl -w` returned once the server accepts connections; pg_isready confirms it over
        // TCP, the way every client here connects.
        for _ in 0..100 {
            let mut ready = Command::new(Self::bin("pg_isready"));
            ready
                .args(["-h", "127.0.0.1", "-U", USER, "-d", "postgres", "-p"])
                .arg(self.port.to_string());
            if run(ready, "pg_isready").status.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "PostgreSQL started on port {} but pg_isready never answered; server log:\n{}",
            self.port,
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = privileged(&self.run_as, &self.bin_dir.join("pg_ctl"), self.dir.path());
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        // A failed stop must not turn a passing test into a panic while unwinding; say so.
        match stop.output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(e) => eprintln!("pg_ctl stop could not run: {e}"),
        }
    }
}

/// `program` as the server's user: itself, or through `runuser` when the tests run as root.
fn privileged(run_as: &Option<String>, program: &Path, cwd: &Path) -> Command {
    let mut command = match run_as {
        Some(user) => {
            let mut command = Command::new(which("runuser").unwrap_or_else(|| {
                panic!("running as root, PostgreSQL needs `runuser` (util-linux) to drop to {user}")
            }));
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    };
    // The test's own directory may be closed to the server's user.
    command.current_dir(cwd);
    command
}

fn run(mut command: Command, what: &str) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("could not run {what} ({command:?}): {e}"))
}

fn succeed(command: Command, what: &str) {
    let output = run(command, what);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn server_bin_dir() -> PathBuf {
    if let Some(initdb) = which("initdb") {
        // Debian links /usr/local/bin/initdb (when anyone does) into /usr/lib/postgresql/N/bin.
        let initdb = initdb.canonicalize().unwrap_or(initdb);
        if let Some(dir) = initdb.parent().filter(|d| d.join("pg_ctl").exists()) {
            return dir.to_owned();
        }
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries: neither `initdb` on PATH nor \
             /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql postgresql-client)"
        ),
    }
}

fn which(name: &str) -> Option<PathBuf> {
    #[allow(clippy::disallowed_methods)] // the test process's own search path
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The user the server runs as when the tests run as root.
fn unprivileged_user() -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let has = |name: &str| passwd.lines().any(|l| l.split(':').next() == Some(name));
    ["postgres", "nobody"]
        .into_iter()
        .find(|name| has(name))
        .map(str::to_owned)
        .expect("running as root, PostgreSQL needs a user to run as: neither postgres nor nobody exists")
}

/// The uid and gid of `user`, from /etc/passwd.
fn ids_of(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&user))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .unwrap_or_else(|| panic!("no uid and gid for {user} in /etc/passwd"))
}

/// A port nothing listens on now (another process may take it before the server does: `start`
/// tries again).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
