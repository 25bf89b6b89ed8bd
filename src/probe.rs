//! The HTTP probe edge: GETs the `health:` endpoints of a running app and turns what it saw into
//! the health gate's facts ([`Sample`], [`Round`]). It measures and classifies; it holds no
//! policy (streaks, limits and deadlines are [`crate::gate::health`]'s).
//!
//! Each probe is one `GET` of the base URL joined with the endpoint's path, with redirects not
//! followed (a `302` on `/` is seen as `302`), no proxy, `user-agent: shipgate/<version>`, and
//! `request_timeout` over the whole exchange, body included. Bodies are read up to
//! [`BODY_LIMIT`].
//!
//! - Nothing measured (connection refused or reset, DNS, timeout, TLS handshake, body read
//!   error) is an [`Outcome::Error`].
//! - An answer that does not satisfy the endpoint (status not listed, a JSON Pointer whose value
//!   differs, a body that is not Prometheus text, a required header missing) is an
//!   [`Outcome::Failure`]. Reasons read after the path: `answered 503`,
//!   `answered {"status":"degraded"} (expected /status = "healthy")`,
//!   `is missing header x-content-type-options`.
//! - An expected JSON value may name `${sha}`, `${version}` or `${image}`: they are filled from
//!   the [`Expected`] the caller passes (what the run deployed; the probe reads nothing else). A
//!   value the run does not know fails the sample, saying so, rather than passing:
//!   `cannot check /version = "${sha}": the deployed commit is not known to this run`.
//! - A `fallback` is for an app that has no such endpoint: it is probed only when the endpoint
//!   answers one of the fallback's `when` statuses (`404`, `405`), and then its outcome (its own
//!   status list, and the required headers) is the sample's, [`Via::Fallback`]. An endpoint that
//!   answers badly (a 503, a degraded body, garbage) or not at all (a timeout) is never rescued
//!   by its fallback: the endpoint's own outcome stands.
//!
//! For `tls_min_days`, each round also reports the certificate of `url` ([`Round::tls`]): every
//! probe is a fresh connection (no pooling), and after a handshake, which verifies the chain
//! exactly as reqwest does by default (`rustls-platform-verifier`), the end-entity certificate's
//! `notAfter` is read from reqwest's [`reqwest::tls::TlsInfo`]. A plain `http` URL reports
//! [`Tls::Plain`]. The gate counts the days left; an untrusted or expired certificate fails the
//! handshake and is an [`Outcome::Error`], never a pass. [`Prober::with_extra_roots`] trusts more
//! CAs besides the platform's (tests use it for a CA they mint).
//!
//! Fly machine state (`Round::machines`) is read by the caller.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::duration::Human;
use crate::config::placeholder::{self, Unfilled};
use crate::config::{Endpoint, HealthPolicy};
use crate::facts::health::{Certificate, Expected, Outcome, Round, Sample, Tls, Via};

/// The most of a body that is read; a larger body is cut here.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The longest body excerpt in a failure reason, in characters.
const EXCERPT: usize = 120;

/// The prober could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("could not set up the HTTP client for health probes: {0}")]
    Client(#[source] reqwest::Error),
    #[error("could not read an extra root certificate for health probes: {0}")]
    Root(#[source] reqwest::Error),
}

/// One HTTP client for every probe of a gate.
#[derive(Debug, Clone)]
pub struct Prober {
    client: reqwest::Client,
    request_timeout: Duration,
}

/// What one GET saw, before it is judged.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    /// The body was longer than [`BODY_LIMIT`] and was cut.
    cut: bool,
    latency: Duration,
    /// The `notAfter` of the server's certificate, or why it could not be read; `None` without
    /// TLS.
    certificate: Option<Result<DateTime<Utc>, String>>,
}

impl Prober {
    /// A client with rustls, no redirects followed, no proxy, and `request_timeout` for each
    /// whole request (connect, headers and body).
    pub fn new(request_timeout: Duration) -> Result<Prober, ProbeError> {
        Prober::with_extra_roots(request_timeout, &[])
    }

    /// [`Prober::new`], trusting these CA certificates (DER) besides the platform's roots.
    pub fn with_extra_roots(
        request_timeout: Duration,
        roots: &[&[u8]],
    ) -> Result<Prober, ProbeError> {
        // One TLS crypto provider for the whole binary (ring, as octocrab uses): reqwest is built
        // without one of its own. Installing twice is harmless; the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let roots = roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProbeError::Root)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
            .timeout(request_timeout)
            .connect_timeout(request_timeout)
            // A fresh connection, so a fresh handshake and certificate, for every probe.
            .pool_max_idle_per_host(0)
            .tls_info(true)
            .tls_certs_merge(roots)
            .build()
            .map_err(ProbeError::Client)?;
        Ok(Prober {
            client,
            request_timeout,
        })
    }

    /// One round: every endpoint of `policy` probed in order, and the certificate of `base` as
    /// those probes saw it. `expected` fills the placeholders of the endpoints' JSON
    /// expectations. `machines` is left `None` for the caller to fill from Fly.
    pub async fn round(
        &self,
        base: &url::Url,
        policy: &HealthPolicy,
        expected: &Expected,
        offset: Duration,
    ) -> Round {
        let mut samples = Vec::with_capacity(policy.endpoints.len());
        let mut seen = Vec::new();
        for endpoint in &policy.endpoints {
            samples.push(
                self.probe_seeing(base, endpoint, &policy.headers, expected, &mut seen)
                    .await,
            );
        }
        Round {
            offset,
            samples,
            machines: None,
            tls: round_tls(base, seen),
        }
    }

    /// Probes `endpoint` (and its fallback, when the endpoint answers one of the fallback's
    /// `when` statuses) under `base`. `headers` are
    /// the names every answer must carry (compared case-insensitively); `expected` fills the
    /// placeholders of the endpoint's JSON expectations.
    pub async fn probe(
        &self,
        base: &url::Url,
        endpoint: &Endpoint,
        headers: &[String],
        expected: &Expected,
    ) -> Sample {
        self.probe_seeing(base, endpoint, headers, expected, &mut Vec::new())
            .await
    }

    /// [`Prober::probe`], adding to `seen` the certificate expiry read on each answer.
    async fn probe_seeing(
        &self,
        base: &url::Url,
        endpoint: &Endpoint,
        headers: &[String],
        expected: &Expected,
        seen: &mut Vec<Result<DateTime<Utc>, String>>,
    ) -> Sample {
        let (outcome, latency, answered) = match self.get(&join(base, &endpoint.path)).await {
            Ok(answer) => {
                seen.extend(answer.certificate.clone());
                (
                    judge(&answer, &endpoint.status, endpoint, headers, expected),
                    Some(answer.latency),
                    Some(answer.status),
                )
            }
            Err(reason) => (Outcome::Error { reason }, None, None),
        };
        let missing = match (&answered, &endpoint.fallback) {
            (Some(status), Some(fallback))
                if outcome != Outcome::Success && fallback.when.contains(status) =>
            {
                Some((*status, fallback))
            }
            _ => None,
        };
        let Some((status, fallback)) = missing else {
            return Sample {
                endpoint: endpoint.path.clone(),
                via: Via::Endpoint,
                outcome,
                latency,
            };
        };
        // The app has no such endpoint: the fallback's outcome is the sample's.
        let plain = Endpoint {
            path: fallback.path.clone(),
            status: fallback.status.clone(),
            json: Default::default(),
            fallback: None,
            prometheus: false,
        };
        let (outcome, latency) = match self.get(&join(base, &fallback.path)).await {
            Ok(answer) => {
                seen.extend(answer.certificate.clone());
                (
                    judge(&answer, &fallback.status, &plain, headers, expected),
                    Some(answer.latency),
                )
            }
            Err(reason) => (Outcome::Error { reason }, None),
        };
        Sample {
            endpoint: endpoint.path.clone(),
            via: Via::Fallback { status },
            outcome,
            latency,
        }
    }

    /// One GET, the body read up to [`BODY_LIMIT`]; `Err` is the reason nothing was measured.
    async fn get(&self, url: &url::Url) -> Result<Answer, String> {
        let started = Instant::now();
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(not_after);
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(&e))? {
            let room = BODY_LIMIT - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
            cut,
            latency: started.elapsed(),
            certificate,
        })
    }

    /// A short reason for a transport error: `connection refused`, `timed out after 5s`, ...
    fn transport(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("timed out after {}", Human(self.request_timeout));
        }
        let mut chain = Vec::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = source {
            if let Some(io) = current.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        return "connection refused".to_owned()
                    }
                    std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                    std::io::ErrorKind::TimedOut => {
                        return format!("timed out after {}", Human(self.request_timeout))
                    }
                    _ => {}
                }
            }
            chain.push(current.to_string());
            source = current.source();
        }
        let all = chain.join(": ").to_lowercase();
        let innermost = one_line(chain.last().map(String::as_str).unwrap_or("unknown error"));
        if all.contains("dns error") || all.contains("failed to lookup address") {
            format!("DNS lookup failed: {innermost}")
        } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
            format!("TLS handshake failed: {innermost}")
        } else if error.is_connect() {
            format!("could not connect: {innermost}")
        } else if error.is_body() || error.is_decode() {
            format!("body could not be read: {innermost}")
        } else {
            format!("request failed: {innermost}")
        }
    }
}

/// `base` with `path` appended: the base's own path kept as a prefix, no `//` between them, and a
/// `?query` in `path` kept as the query.
pub fn join(base: &url::Url, path: &str) -> url::Url {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    url.set_query(query);
    url.set_fragment(None);
    url
}

/// The round's [`Tls`]: `Plain` for an `http` base; else the certificate that ends first of those
/// read, or why none could be read, or `Unseen` when no handshake completed.
fn round_tls(base: &url::Url, seen: Vec<Result<DateTime<Utc>, String>>) -> Tls {
    if base.scheme() != "https" {
        return Tls::Plain;
    }
    let host = base.host_str().unwrap_or_default().to_owned();
    let mut first_end = None;
    let mut unreadable = None;
    for reading in seen {
        match reading {
            Ok(end) => {
                first_end = Some(first_end.map_or(end, |first: DateTime<Utc>| first.min(end)))
            }
            Err(reason) => unreadable = Some(reason),
        }
    }
    match (first_end, unreadable) {
        (Some(not_after), _) => Tls::Seen(Certificate { host, not_after }),
        (None, Some(reason)) => Tls::Unreadable { host, reason },
        (None, None) => Tls::Unseen,
    }
}

/// The `notAfter` of a DER-encoded X.509 certificate.
pub fn not_after(der: &[u8]) -> Result<DateTime<Utc>, String> {
    use x509_cert::der::Decode;
    let certificate = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    let since_epoch = certificate
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration();
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| "its notAfter is out of range".to_owned())
}

/// Judges an answer against an endpoint: status, then body (JSON Pointers, with the
/// placeholders of their expected values filled from `expected`; Prometheus text), then required
/// headers.
fn judge(
    answer: &Answer,
    status: &[u16],
    endpoint: &Endpoint,
    headers: &[String],
    expected: &Expected,
) -> Outcome {
    let fail = |reason: String| Outcome::Failure { reason };
    if !status.contains(&answer.status) {
        return fail(format!("answered {}", answer.status));
    }
    let needs_body = !endpoint.json.is_empty() || endpoint.prometheus;
    if needs_body && answer.cut {
        return fail(format!(
            "answered a body over the {} KiB limit",
            BODY_LIMIT / 1024
        ));
    }
    if !endpoint.json.is_empty() {
        let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
        let shown = match &parsed {
            Some(value) => excerpt(&value.to_string()),
            None => excerpt(&String::from_utf8_lossy(&answer.body)),
        };
        for (pointer, template) in &endpoint.json {
            let expected = match placeholder::fill(template, &|p| expected.value(p)) {
                Ok(value) => value,
                Err(Unfilled::Unknown(placeholder)) => {
                    return fail(format!(
                        "cannot check {pointer} = {template}: {} is not known to this run",
                        placeholder.meaning()
                    ))
                }
                Err(Unfilled::Bad(text)) => {
                    return fail(format!(
                        "cannot check {pointer} = {template}: `{text}` is not a placeholder"
                    ))
                }
            };
            let expected = &expected;
            let found = parsed.as_ref().and_then(|value| value.pointer(pointer));
            if found != Some(expected) {
                return fail(match (&parsed, shown.is_empty()) {
                    (Some(_), _) => format!("answered {shown} (expected {pointer} = {expected})"),
                    (None, true) => {
                        format!(
                            "answered an empty body (expected JSON with {pointer} = {expected})"
                        )
                    }
                    (None, false) => {
                        format!("answered {shown} (not JSON; expected {pointer} = {expected})")
                    }
                });
            }
        }
    }
    if endpoint.prometheus {
        let text = String::from_utf8_lossy(&answer.body);
        if let Err(problem) = prometheus_text(&text) {
            return fail(format!(
                "answered a body that is not Prometheus text ({problem})"
            ));
        }
    }
    for name in headers {
        // HeaderMap lookups are case-insensitive for valid names; an invalid name cannot be sent.
        if !answer
            .headers
            .contains_key(name.to_ascii_lowercase().as_str())
        {
            return fail(format!("is missing header {}", name.to_ascii_lowercase()));
        }
    }
    Outcome::Success
}

/// One line, at most [`EXCERPT`] characters, `…` when cut.
fn excerpt(text: &str) -> String {
    let line = one_line(text);
    if line.chars().count() <= EXCERPT {
        return line;
    }
    let mut cut: String = line.chars().take(EXCERPT).collect();
    cut.push('…');
    cut
}

/// Whitespace runs (newlines included) folded to one space, trimmed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks that `text` is Prometheus text exposition (format 0.0.4): every line blank, a comment
/// (`# HELP name ...`, `# TYPE name counter|gauge|histogram|summary|untyped`, or any other `#`
/// line), or a sample `name{label="value",...} value [timestamp]` with a valid metric name, a
/// float value (`NaN`, `+Inf`, `-Inf` included) and an integer timestamp. At least one sample
/// is required. `Err` names the first bad line, e.g. `line 3: bad value "abc"`.
pub fn prometheus_text(text: &str) -> Result<(), String> {
    let mut samples = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |problem: String| format!("line {}: {problem}", index + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            match words.next() {
                Some("TYPE") => {
                    let name = words.next().unwrap_or("");
                    if !crate::metrics::text::metric_name(name) {
                        return Err(at(format!("bad metric name {:?} in # TYPE", excerpt(name))));
                    }
                    let kind = words.next().unwrap_or("");
                    if !matches!(
                        kind,
                        "counter" | "gauge" | "histogram" | "summary" | "untyped"
                    ) {
                        return Err(at(format!("unknown metric type {:?}", excerpt(kind))));
                    }
                }
                Some("HELP") => {
                    let name = words.next().unwrap_or("");
                    if !crate::metrics::text::metric_name(name) {
                        return Err(at(format!("bad metric name {:?} in # HELP", excerpt(name))));
                    }
                }
                _ => {}
            }
            continue;
        }
        // The sample grammar is the watch's scrape parser's: one reading of the format.
        crate::metrics::text::sample(line).map_err(at)?;
        samples += 1;
    }
    if samples == 0 {
        return Err("no samples".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_prefix_and_never_doubles_slashes() {
        let cases = [
            ("https://a.fly.dev", "/health", "https://a.fly.dev/health"),
            ("https://a.fly.dev/", "/health", "https://a.fly.dev/health"),
            (
                "https://a.fly.dev/api",
                "/health",
                "https://a.fly.dev/api/health",
            ),
            (
                "https://a.fly.dev/api/",
                "/health",
                "https://a.fly.dev/api/health",
            ),
            ("https://a.fly.dev/api/", "/", "https://a.fly.dev/api/"),
            ("https://a.fly.dev", "/m?x=1", "https://a.fly.dev/m?x=1"),
        ];
        for (base, path, want) in cases {
            let base = url::Url::parse(base).expect("test URL");
            assert_eq!(join(&base, path).as_str(), want, "{base} + {path}");
        }
    }

    #[test]
    fn prometheus_text_accepts_the_exposition_format() {
        let text = "# HELP http_requests_total The total.\n\
                    # TYPE http_requests_total counter\n\
                    http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                    http_requests_total{method=\"post\",code=\"400\",} 3\n\
                    \n\
                    msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
                    metric_without_labels 12.47\n\
                    up NaN\n\
                    a +Inf\n\
                    b -Inf\n\
                    c{} -0.5\n\
                    # EOF\n";
        assert_eq!(prometheus_text(text), Ok(()));
    }

    #[test]
    fn prometheus_text_names_the_first_bad_line() {
        let cases = [
            ("", "no samples"),
            ("# only a comment\n", "no samples"),
            ("<html>oops</html>", "line 1: bad metric name"),
            ("ok 1\n2bad 1\n", "line 2: bad metric name"),
            ("m abc\n", "line 1: bad value"),
            ("m infinite\n", "line 1: bad value"),
            ("m\n", "line 1: no value"),
            ("m 1 soon\n", "line 1: bad timestamp"),
            ("m 1 2 3\n", "line 1: unexpected"),
            ("m{a=\"x} 1\n", "line 1: label a has an unterminated value"),
            ("m{a=x} 1\n", "line 1: label a has no quoted value"),
            ("m{1a=\"x\"} 1\n", "line 1: bad label name"),
            ("# TYPE m gauges\nm 1\n", "line 1: unknown metric type"),
        ];
        for (text, want) in cases {
            let got = prometheus_text(text).expect_err(text);
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn excerpts_are_one_short_line() {
        let long = "x".repeat(500);
        let cut = excerpt(&format!("a\n  b\t{long}"));
        assert!(cut.starts_with("a b x"));
        assert_eq!(cut.chars().count(), EXCERPT + 1);
        assert!(cut.ends_with('…'));
    }
}
