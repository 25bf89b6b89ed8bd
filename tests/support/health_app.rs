//! A scriptable app to probe: real HTTP on 127.0.0.1 from its own thread and tokio runtime (like
//! the fake GitHub), answering each path as a test sets it with [`HealthApp::set`]. Paths not
//! set answer 404. Requests are counted per path.
//!
//! [`HealthApp::start_https`] serves the same over TLS with a certificate from a [`TestCa`]
//! minted for the test, valid for as long as the test chooses.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How a path answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 `{"status":"healthy","timestamp":...,"uptime":...}` with `strict-transport-security`
    /// and `x-content-type-options`.
    Healthy,
    /// This status with this JSON body (`content-type: application/json`), no other headers.
    Json(u16, serde_json::Value),
    /// This status with an empty body.
    Status(u16),
    /// This status (301, 302, ...) with `location`.
    Redirect(u16, String),
    /// Waits, then answers as the inner behaviour.
    Slow(Duration, Box<Behaviour>),
    /// The n-th request (from 0) answers as `list[n % len]`.
    Flapping(Vec<Behaviour>),
    /// 200 with this body as `text/plain; version=0.0.4`.
    Prometheus(String),
}

struct Inner {
    routes: HashMap<String, Behaviour>,
    counts: HashMap<String, usize>,
    /// Request bodies per path, in order (for webhook receivers).
    bodies: HashMap<String, Vec<String>>,
}

struct Shared {
    inner: Mutex<Inner>,
    started: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The app. Serves until dropped.
pub struct HealthApp {
    shared: Arc<Shared>,
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HealthApp {
    /// Binds 127.0.0.1 on a free port and serves plain HTTP from a background thread.
    pub fn start() -> HealthApp {
        HealthApp::serve(None)
    }

    /// [`HealthApp::start`] over TLS, presenting `certificate`: the URL is
    /// `https://127.0.0.1:PORT`.
    pub fn start_https(certificate: ServerCertificate) -> HealthApp {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the ring provider's protocol versions")
        .with_no_client_auth()
        .with_single_cert(certificate.chain, certificate.key)
        .expect("the test certificate and its key match");
        HealthApp::serve(Some(Arc::new(config)))
    }

    fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> HealthApp {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the health app to 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("make the health app's listener non-blocking");
        let url = format!(
            "{}://{}",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr().expect("the health app's address")
        );
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                routes: HashMap::new(),
                counts: HashMap::new(),
                bodies: HashMap::new(),
            }),
            started: Instant::now(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("health-app".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the health app's tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("register the health app's listener");
                    let serve = async move {
                        match tls {
                            None => axum::serve(listener, app).await,
                            Some(config) => {
                                let listener = TlsListener {
                                    tcp: listener,
                                    acceptor: tokio_rustls::TlsAcceptor::from(config),
                                };
                                axum::serve(listener, app).await
                            }
                        }
                    };
                    tokio::select! {
                        result = serve => {
                            if let Err(error) = result {
                                eprintln!("health app stopped: {error}");
                            }
                        }
                        _ = stop => {}
                    }
                });
                // Drop in-flight connections (a `Slow` answer) at once.
                runtime.shutdown_background();
            })
            .expect("spawn the health app's thread");
        HealthApp {
            shared,
            url,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:43123` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The base URL parsed.
    pub fn base(&self) -> url::Url {
        url::Url::parse(&self.url).expect("the health app's URL parses")
    }

    /// Makes `path` (e.g. `/health`, or `/api/health` under a prefix) answer as `behaviour`.
    pub fn set(&self, path: &str, behaviour: Behaviour) -> &HealthApp {
        self.shared
            .lock()
            .routes
            .insert(path.to_string(), behaviour);
        self
    }

    /// Requests received on `path` so far (query excluded).
    /// The bodies of the requests received on `path`, oldest first.
    pub fn bodies(&self, path: &str) -> Vec<String> {
        self.shared
            .lock()
            .bodies
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    pub fn count(&self, path: &str) -> usize {
        self.shared.lock().counts.get(path).copied().unwrap_or(0)
    }

    /// A URL on 127.0.0.1 where nothing listens: a listener bound, then dropped.
    pub fn refused_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to free");
        let address = listener.local_addr().expect("the freed port's address");
        drop(listener);
        format!("http://{address}")
    }
}

impl Drop for HealthApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// TCP connections on 127.0.0.1, each through a TLS handshake before axum sees it.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, address) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            // A client that refuses the certificate ends the handshake: wait for the next one.
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A certificate authority minted for one test. Its certificate is not trusted anywhere: a
/// prober trusts it only when given [`TestCa::der`].
pub struct TestCa {
    der: Vec<u8>,
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A server's certificate chain (leaf first) and its key, for [`HealthApp::start_https`].
pub struct ServerCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        validity(&mut params, 10 * 365 * 86_400);
        let certificate = params.self_signed(&key).expect("a self-signed CA");
        TestCa {
            der: certificate.der().to_vec(),
            pem: certificate.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The CA's certificate (DER), for `Prober::with_extra_roots`.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The CA's certificate (PEM), for a PEM roots file (`SHIPGATE_SMTP_CA_FILE`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate as [`TestCa::server_certificate`], as PEM: the chain (leaf first)
    /// and the PKCS#8 key, for servers that read files (the SMTP server).
    pub fn server_pem(&self, valid_for: Duration) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("a server key");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, valid_for.as_secs() as i64);
        let leaf = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate signed by the CA");
        (format!("{}{}", leaf.pem(), self.pem), key.serialize_pem())
    }

    /// A certificate for `127.0.0.1` and `localhost`, valid from a day ago until `valid_for`
    /// from now (the wall clock, to the second), signed by this CA.
    pub fn server_certificate(&self, valid_for: Duration) -> ServerCertificate {
        let key = rcgen::KeyPair::generate().expect("a server key");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, valid_for.as_secs() as i64);
        let leaf = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate signed by the CA");
        ServerCertificate {
            chain: vec![leaf.der().clone(), CertificateDer::from(self.der.clone())],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// Sets `params` valid from a day ago until `valid_for_secs` from now (the wall clock, to the
/// second).
fn validity(params: &mut rcgen::CertificateParams, valid_for_secs: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(unix_seconds(-86_400));
    params.not_after = epoch + Duration::from_secs(unix_seconds(valid_for_secs));
}

/// Seconds since the Unix epoch of the wall clock moved by `offset_secs`.
fn unix_seconds(offset_secs: i64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    (now + offset_secs).max(0) as u64
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let (behaviour, nth) = {
        let mut inner = shared.lock();
        if !body.is_empty() {
            inner
                .bodies
                .entry(path.clone())
                .or_default()
                .push(String::from_utf8_lossy(&body).into_owned());
        }
        let count = inner.counts.entry(path.clone()).or_insert(0);
        let nth = *count;
        *count += 1;
        (inner.routes.get(&path).cloned(), nth)
    };
    let Some(mut behaviour) = behaviour else {
        return answer(404, &[], "not found");
    };
    loop {
        behaviour = match behaviour {
            Behaviour::Slow(wait, then) => {
                tokio::time::sleep(wait).await;
                *then
            }
            Behaviour::Flapping(list) if !list.is_empty() => list[nth % list.len()].clone(),
            Behaviour::Flapping(_) => return answer(500, &[], "empty Flapping list"),
            Behaviour::Healthy => {
                let body = serde_json::json!({
                    "status": "healthy",
                    "timestamp": now_rfc3339(),
                    "uptime": shared.started.elapsed().as_secs(),
                });
                return answer(
                    200,
                    &[
                        ("content-type", "application/json"),
                        (
                            "strict-transport-security",
                            "max-age=63072000; includeSubDomains",
                        ),
                        ("x-content-type-options", "nosniff"),
                    ],
                    &body.to_string(),
                );
            }
            Behaviour::Json(status, body) => {
                return answer(
                    status,
                    &[("content-type", "application/json")],
                    &body.to_string(),
                )
            }
            Behaviour::Status(status) => return answer(status, &[], ""),
            Behaviour::Redirect(status, location) => {
                return answer(status, &[("location", location.as_str())], "")
            }
            Behaviour::Prometheus(text) => {
                return answer(
                    200,
                    &[("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    &text,
                )
            }
        };
    }
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("a valid test answer")
}

/// The wall clock, as the app would stamp its answer (the fake's own clock, not the gate's).
fn now_rfc3339() -> String {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|at| at.to_rfc3339())
        .unwrap_or_default()
}
