//! A real SMTP server for a test: Debian's `python3-aiosmtpd` (its `Controller`) on a free
//! 127.0.0.1 port, requiring STARTTLS with a certificate from a [`TestCa`] minted for the test,
//! and AUTH (PLAIN/LOGIN, only after STARTTLS) with the user and password the test picks. Each
//! message it accepts is written to a directory as `NNNN.json` (envelope, headers, the decoded
//! plain-text and HTML parts, the raw message), read back with [`SmtpServer::messages`].
//!
//! It panics, never skips, when it cannot start (`.ci/run` installs `python3-aiosmtpd`). Stopped
//! on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::health_app::TestCa;

const SERVER: &str = r#"
import email, email.policy, json, os, signal, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir, cert, key, user, password, port = sys.argv[1:7]

class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return body.get_content() if body is not None else None
        self.n += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "tls": session.ssl is not None,
            "subject": str(message["subject"]),
            "from": str(message["from"]),
            "to": str(message["to"]),
            "text": part("plain"),
            "html": part("html"),
            "raw": raw.decode("utf-8", "replace"),
        }
        path = os.path.join(outdir, "%04d.json" % self.n)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == user.encode() and auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=context,
                        require_starttls=True, authenticator=authenticator, auth_required=True)
controller.start()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
while True:
    signal.pause()
"#;

/// The server. Serves until dropped.
pub struct SmtpServer {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA's certificate as a PEM file, for `SHIPGATE_SMTP_CA_FILE`.
    pub ca_file: PathBuf,
}

/// One message the server accepted.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub authenticated: bool,
    pub tls: bool,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub raw: String,
}

/// Debian's interpreter, where `python3-aiosmtpd` is installed (a `python3` earlier on PATH,
/// such as pyenv's, does not see it).
fn python() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/python3");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("python3")
    }
}

impl SmtpServer {
    /// Starts it with AUTH for `user`/`password`.
    pub fn start(user: &str, password: &str) -> SmtpServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ca = TestCa::new("shipgate test SMTP CA");
        let (chain, key) = ca.server_pem(Duration::from_secs(86_400));
        let cert_file = dir.path().join("server.pem");
        let key_file = dir.path().join("server.key");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&cert_file, chain).expect("write the server certificate");
        std::fs::write(&key_file, key).expect("write the server key");
        std::fs::write(&ca_file, ca.pem()).expect("write the CA");
        let messages = dir.path().join("messages");
        std::fs::create_dir(&messages).expect("messages dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(python())
            .arg("-c")
            .arg(SERVER)
            .arg(&messages)
            .arg(&cert_file)
            .arg(&key_file)
            .arg(user)
            .arg(password)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr")).expect("a log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 for the SMTP server ({e}); apt-get install python3-aiosmtpd")
            });
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
            panic!(
                "the SMTP server (python3-aiosmtpd) did not start: {stderr}\n(apt-get install python3-aiosmtpd)"
            );
        }
        SmtpServer {
            child,
            dir,
            port,
            user: user.to_owned(),
            password: password.to_owned(),
            ca_file,
        }
    }

    /// `smtp://USER:PASSWORD@127.0.0.1:PORT`: STARTTLS with AUTH.
    pub fn url(&self) -> String {
        format!(
            "smtp://{}:{}@127.0.0.1:{}",
            self.user, self.password, self.port
        )
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("messages"))
            .expect("messages dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("a message");
                serde_json::from_str(&text).expect("a message record")
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
