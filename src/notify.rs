//! The notification edge: POSTs JSON to a chat webhook (Slack, Teams, Discord, any
//! Slack-compatible one) and sends email over SMTP (STARTTLS or implicit TLS, with `lettre`).
//! Delivery is bounded: a few attempts with exponential backoff (5xx, 429 and transport errors
//! are retried; a `Retry-After` within the limit is honoured), all within a total time limit.
//! Webhook URLs and SMTP passwords are secrets: no error here names them. A failed notification
//! is the caller's warning, never a failed deploy.

use crate::words::plural;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::secret::Secret;

/// How hard one notification is tried.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub attempts: u32,
    /// The wait after the first failure; doubled after each one.
    pub first_backoff: Duration,
    /// Every attempt and wait of one notification, together.
    pub total: Duration,
    /// One request, or one SMTP conversation step.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attempts: 3,
            first_backoff: Duration::from_millis(500),
            total: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt (5xx, 429, transport), after `after` if the server said so.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Another attempt would fail the same way (4xx, a refused address).
    Fatal(String),
}

/// Runs `attempt` until it succeeds, fails for good, runs out of attempts or of time.
/// Returns how many attempts it took, or why it gave up.
pub async fn deliver<F, Fut>(limits: &Limits, mut attempt: F) -> Result<u32, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let deadline = Instant::now() + limits.total;
    let tries = async {
        let mut backoff = limits.first_backoff;
        let mut n = 0;
        loop {
            n += 1;
            let why = match attempt().await {
                Ok(()) => return Ok(n),
                Err(Failure::Fatal(why)) => {
                    return Err(format!("{why} ({n} {})", plural(n, "attempt")))
                }
                Err(Failure::Retry { why, after }) => (why, after),
            };
            let (why, after) = why;
            if n >= limits.attempts {
                return Err(format!("{why} ({n} {})", plural(n, "attempt")));
            }
            let wait = after.unwrap_or(backoff);
            let left = deadline.saturating_duration_since(Instant::now());
            if wait >= left {
                return Err(format!(
                    "{why} ({n} {}; the next would start past the {}s limit)",
                    plural(n, "attempt"),
                    limits.total.as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2);
        }
    };
    match tokio::time::timeout_at(deadline, tries).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "gave up after the {}s limit",
            limits.total.as_secs()
        )),
    }
}

/// POSTs `message` to the webhook. The URL is a secret and never printed.
pub async fn post(
    webhook: &Secret,
    message: &serde_json::Value,
    limits: &Limits,
) -> Result<u32, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(limits.request_timeout)
        .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    deliver(limits, || async {
        let response = client
            .post(webhook.expose())
            .json(message)
            .send()
            .await
            // reqwest's errors name the URL: say what failed without it.
            .map_err(|e| Failure::Retry {
                why: format!(
                    "the webhook could not be reached ({})",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ),
                after: None,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let why = format!("the webhook answered {}", status.as_u16());
        if status.is_server_error() || status.as_u16() == 429 {
            let after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Err(Failure::Retry { why, after })
        } else {
            Err(Failure::Fatal(why))
        }
    })
    .await
}

/// An SMTP server, read from `smtp://user:pass@host:587` (STARTTLS, required) or
/// `smtps://user:pass@host:465` (implicit TLS). There is no plain-text mode.
pub struct Smtp {
    host: String,
    port: u16,
    implicit_tls: bool,
    credentials: Option<(String, Option<Secret>)>,
    /// Extra PEM roots (`SHIPGATE_SMTP_CA_FILE`), trusted beside the public ones.
    extra_roots: Option<Vec<u8>>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Smtp({}:{}, {})",
            self.host,
            self.port,
            if self.implicit_tls { "TLS" } else { "STARTTLS" }
        )
    }
}

impl Smtp {
    /// Reads the URL. The errors never repeat it (it may hold a password).
    pub fn parse(url: &Secret, extra_roots: Option<Vec<u8>>) -> Result<Smtp, String> {
        let parsed = url::Url::parse(url.expose()).map_err(|e| match e {
            url::ParseError::EmptyHost => "has no host".to_owned(),
            e => format!("is not a URL ({e})"),
        })?;
        let implicit_tls = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(format!(
                    "has the scheme `{other}`; use smtp:// (STARTTLS) or smtps:// (TLS)"
                ))
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "has no host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed
            .port()
            .unwrap_or(if implicit_tls { 465 } else { 587 });
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            (
                decode(parsed.username()),
                Secret::new(decode(parsed.password().unwrap_or_default())),
            )
        });
        Ok(Smtp {
            host,
            port,
            implicit_tls,
            credentials,
            extra_roots,
        })
    }

    /// The password, for masking.
    pub fn password(&self) -> Option<&Secret> {
        self.credentials.as_ref().and_then(|(_, p)| p.as_ref())
    }

    /// Sends one message (a plain-text and an HTML part) to every recipient.
    pub async fn send(
        &self,
        from: &str,
        to: &[String],
        subject: &str,
        text: &str,
        html: &str,
        limits: &Limits,
    ) -> Result<u32, String> {
        use lettre::message::{Mailbox, MultiPart};
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let _ = rustls::crypto::ring::default_provider().install_default();
        let mailbox = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|e| format!("`{text}` is not an email address ({e})"))
        };
        let mut message = Message::builder().from(mailbox(from)?).subject(subject);
        for to in to {
            message = message.to(mailbox(to)?);
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            ))
            .map_err(|e| format!("cannot build the email: {e}"))?;
        let mut tls = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.extra_roots {
            let roots = Certificate::from_pem(pem)
                .map_err(|e| format!("SHIPGATE_SMTP_CA_FILE holds no PEM certificate ({e})"))?;
            tls = tls.add_root_certificate(roots);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(if self.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Required(tls)
            })
            .timeout(Some(limits.request_timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password
                    .as_ref()
                    .map(|p| p.expose().to_owned())
                    .unwrap_or_default(),
            ));
        }
        let transport = builder.build();
        deliver(limits, || async {
            match transport.send(message.clone()).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(Failure::Fatal(format!(
                    "the SMTP server refused the message: {e}"
                ))),
                Err(e) => Err(Failure::Retry {
                    why: format!("the SMTP server could not take the message: {e}"),
                    after: None,
                }),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_and_stop_at_the_attempt_limit() {
        let limits = Limits::default();
        let calls = Cell::new(0);
        let start = Instant::now();
        let result = deliver(&limits, || {
            calls.set(calls.get() + 1);
            async {
                Err(Failure::Retry {
                    why: "the webhook answered 503".into(),
                    after: None,
                })
            }
        })
        .await;
        assert_eq!(calls.get(), 3);
        assert_eq!(
            result,
            Err("the webhook answered 503 (3 attempts)".to_owned())
        );
        // 0.5s, then 1s: paused time, so exact.
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_within_the_limit_and_refused_past_it() {
        let limits = Limits::default();
        let calls = Cell::new(0);
        let start = Instant::now();
        let result = deliver(&limits, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n == 1 {
                    Err(Failure::Retry {
                        why: "the webhook answered 429".into(),
                        after: Some(Duration::from_secs(7)),
                    })
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(start.elapsed(), Duration::from_secs(7));

        let calls = Cell::new(0);
        let result = deliver(&limits, || {
            calls.set(calls.get() + 1);
            async {
                Err(Failure::Retry {
                    why: "the webhook answered 429".into(),
                    after: Some(Duration::from_secs(3600)),
                })
            }
        })
        .await;
        assert_eq!(calls.get(), 1);
        assert!(result.is_err_and(|e| e.contains("past the 30s limit")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_answer_is_not_retried_and_a_hang_ends_at_the_total_limit() {
        let limits = Limits::default();
        let calls = Cell::new(0);
        let result = deliver(&limits, || {
            calls.set(calls.get() + 1);
            async { Err(Failure::Fatal("the webhook answered 404".into())) }
        })
        .await;
        assert_eq!(calls.get(), 1);
        assert_eq!(
            result,
            Err("the webhook answered 404 (1 attempt)".to_owned())
        );

        let start = Instant::now();
        let result = deliver(&limits, || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await;
        assert_eq!(result, Err("gave up after the 30s limit".to_owned()));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[test]
    fn smtp_urls_are_read_without_printing_them() {
        let url = |text: &str| Secret::new(text).expect("non-empty");
        let smtp = Smtp::parse(
            &url("smtp://ops%40example.com:s3cr%2Ft@mail.example.com"),
            None,
        )
        .expect("valid");
        assert_eq!(format!("{smtp:?}"), "Smtp(mail.example.com:587, STARTTLS)");
        assert_eq!(smtp.password().map(Secret::expose), Some("s3cr/t"));
        let smtps = Smtp::parse(&url("smtps://mail.example.com"), None).expect("valid");
        assert_eq!(format!("{smtps:?}"), "Smtp(mail.example.com:465, TLS)");
        for (bad, error) in [
            ("smtp://user:hunter2@", "has no host"),
            ("smtp:///path", "has no host"),
            (
                "http://user:hunter2@mail.example.com",
                "has the scheme `http`",
            ),
            ("hunter2", "is not a URL"),
        ] {
            let got = Smtp::parse(&url(bad), None).expect_err(bad);
            assert!(
                got.starts_with(error) && !got.contains("hunter2"),
                "{bad}: {got}"
            );
        }
    }
}
