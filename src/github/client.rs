//! The GitHub REST client: octocrab for transport and auth (its own retry is not compiled in), and
//! shipgate's policy on top. GETs retry transport errors and 5xx with jittered backoff; rate limits
//! (403/429 with `retry-after`, or `x-ratelimit-remaining: 0`) wait as GitHub asks, bounded by the
//! command's deadline; writes are never blindly retried. Pages follow `Link: rel="next"`, and
//! polls send `If-None-Match`, so an unchanged poll is a 304 that costs no rate limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER,
};
use http::StatusCode;
use octocrab::Octocrab;
use tokio::time::Instant;

use crate::secret::Secret;

/// GitHub's REST API version shipgate is written against.
pub const API_VERSION: &str = "2022-11-28";

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub could not be reached at {url}: {detail}")]
    Unavailable { url: String, detail: String },
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Http {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("GitHub's answer to {path} could not be read: {detail}")]
    Decode { path: String, detail: String },
    #[error("bad GitHub API URL `{url}`: {detail}")]
    BadUrl { url: String, detail: String },
}

impl GitHubError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How hard to try. The defaults suit CI; tests shorten the delays.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts for a GET that meets transport errors or 5xx (the first included).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest single wait a rate limit may ask for.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// Counters for the performance report and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u32,
    pub not_modified: u32,
    pub retries: u32,
    pub rate_limit_waits: u32,
}

/// One page of a list: its body (fresh, or the cached one when GitHub said 304) and the next URL.
#[derive(Debug, Clone)]
pub struct Page {
    pub body: String,
    pub next: Option<String>,
    pub not_modified: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    etag: String,
    body: String,
    next: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

pub struct Client {
    octocrab: Octocrab,
    base: String,
    retry: RetryPolicy,
    deadline: Option<Instant>,
    cache: Mutex<HashMap<String, Cached>>,
    stats: Mutex<Stats>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `api_url` (`https://api.github.com`, or `https://HOST/api/v3` on GitHub
    /// Enterprise Server). Must be called inside a tokio runtime.
    pub fn new(
        api_url: &str,
        token: Option<&Secret>,
        retry: RetryPolicy,
    ) -> Result<Client, GitHubError> {
        let shown = url::Url::parse(api_url)
            .map(|mut u| {
                let _ = u.set_password(None);
                let _ = u.set_username("");
                u.to_string()
            })
            .unwrap_or_else(|_| "(not a URL)".to_owned());
        let bad = |detail: String| GitHubError::BadUrl {
            url: shown.clone(),
            detail,
        };
        let parsed = url::Url::parse(api_url).map_err(|e| bad(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "remove `user:password@` from it: the token goes in GITHUB_TOKEN".to_owned(),
            ));
        }
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(bad(
                "use an http(s) URL such as https://api.github.com".to_owned()
            ));
        }
        let base = api_url.trim_end_matches('/').to_owned();
        let mut builder = Octocrab::builder()
            .base_uri(base.as_str())
            .map_err(|e| bad(e.to_string()))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .set_write_timeout(Some(Duration::from_secs(30)))
            .add_header(
                HeaderName::from_static("x-github-api-version"),
                API_VERSION.to_owned(),
            )
            .add_header(ACCEPT, "application/vnd.github+json".to_owned());
        if let Some(token) = token {
            builder = builder.personal_token(token.expose().to_owned());
        }
        let octocrab = builder.build().map_err(|e| GitHubError::Unavailable {
            url: base.clone(),
            detail: e.to_string(),
        })?;
        Ok(Client {
            octocrab,
            base,
            retry,
            deadline: None,
            cache: Mutex::default(),
            stats: Mutex::default(),
        })
    }

    /// Waits past this instant fail as unavailable instead of sleeping.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    pub fn stats(&self) -> Stats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, change: impl FnOnce(&mut Stats)) {
        change(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// `path` (`/repos/o/r/...`) or an absolute URL from a `Link` header.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn send(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<Answer, GitHubError> {
        self.count(|s| s.requests += 1);
        let unavailable = |detail: String| GitHubError::Unavailable {
            url: url.to_owned(),
            detail,
        };
        let response = match method {
            "GET" => {
                let mut headers = HeaderMap::new();
                if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
                    headers.insert(IF_NONE_MATCH, etag);
                }
                self.octocrab._get_with_headers(url, Some(headers)).await
            }
            "POST" => self.octocrab._post(url, body).await,
            "PATCH" => self.octocrab._patch(url, body).await,
            "DELETE" => self.octocrab._delete(url, None::<&()>).await,
            _ => return Err(unavailable(format!("unsupported method {method}"))),
        }
        .map_err(|e| unavailable(transport_detail(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self
            .octocrab
            .body_to_string(response)
            .await
            .map_err(|e| unavailable(transport_detail(&e)))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// How long GitHub asks to wait before trying again, if this is a rate-limit answer.
    fn rate_limit_wait(answer: &Answer) -> Option<Duration> {
        if !matches!(answer.status.as_u16(), 403 | 429) {
            return None;
        }
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if let Some(seconds) = header(RETRY_AFTER.as_str()).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_secs(seconds));
        }
        if header("x-ratelimit-remaining") == Some("0") {
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            return Some(Duration::from_secs(reset.saturating_sub(now).max(1) as u64));
        }
        // GitHub's secondary limits without `retry-after`: wait at least a minute (its guidance).
        (answer.status == StatusCode::TOO_MANY_REQUESTS
            || answer.body.contains("secondary rate limit"))
        .then_some(Duration::from_secs(60))
    }

    /// Rate-limit answers waited out for one request before giving up (GitHub asks clients to back
    /// off, not to hammer: reference A8).
    const RATE_LIMIT_RETRIES: u32 = 3;

    /// Waits as a rate-limit answer asks: at least 1 s, doubling on each repeat, at most
    /// `RATE_LIMIT_RETRIES` times for one request.
    async fn rate_limited(
        &self,
        asked: Duration,
        waits: &mut u32,
        url: &str,
    ) -> Result<(), GitHubError> {
        *waits += 1;
        if *waits > Self::RATE_LIMIT_RETRIES {
            return Err(GitHubError::Unavailable {
                url: url.to_owned(),
                detail: format!(
                    "still rate-limited after {} waits",
                    Self::RATE_LIMIT_RETRIES
                ),
            });
        }
        self.count(|s| s.rate_limit_waits += 1);
        let wait = asked
            .max(Duration::from_secs(1))
            .saturating_mul(1 << (*waits - 1));
        self.wait(wait, url, "GitHub's rate limit").await
    }

    async fn wait(&self, wait: Duration, url: &str, why: &str) -> Result<(), GitHubError> {
        let limit = self.retry.max_rate_limit_wait;
        let remaining = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if wait > limit || remaining.is_some_and(|r| wait > r) {
            return Err(GitHubError::Unavailable {
                url: url.to_owned(),
                detail: format!(
                    "{why} asks to wait {}s, past this command's deadline{}",
                    wait.as_secs(),
                    remaining
                        .map(|r| format!(" ({}s left)", r.as_secs()))
                        .unwrap_or_default()
                ),
            });
        }
        tracing::warn!(seconds = wait.as_secs_f32(), %url, "{why}: waiting as GitHub asks");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .retry
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.retry.max_delay);
        // Full jitter between half and all of the delay, so parallel jobs do not retry in step.
        exponential.mul_f64(0.5 + fastrand::f64() / 2.0)
    }

    /// A GET under the retry policy. `Ok` holds a 2xx or a 304.
    async fn get_answer(&self, url: &str, etag: Option<&str>) -> Result<Answer, GitHubError> {
        let mut attempt = 0;
        let mut rate_limit_waits = 0;
        loop {
            attempt += 1;
            let result = self.send("GET", url, None, etag).await;
            let retry_in = match &result {
                Ok(answer)
                    if answer.status.is_success() || answer.status == StatusCode::NOT_MODIFIED =>
                {
                    return result;
                }
                Ok(answer) => {
                    if let Some(wait) = Self::rate_limit_wait(answer) {
                        self.rate_limited(wait, &mut rate_limit_waits, url).await?;
                        attempt -= 1;
                        continue;
                    }
                    if !answer.status.is_server_error() || attempt >= self.retry.attempts {
                        return Err(http_error("GET", url, answer));
                    }
                    self.backoff(attempt)
                }
                Err(_) if attempt >= self.retry.attempts => return result,
                Err(_) => self.backoff(attempt),
            };
            self.count(|s| s.retries += 1);
            tracing::info!(attempt, %url, delay_ms = retry_in.as_millis() as u64, "retrying GitHub GET");
            if let Some(deadline) = self.deadline {
                if Instant::now() + retry_in > deadline {
                    return Err(match result {
                        Ok(answer) => http_error("GET", url, &answer),
                        Err(error) => error,
                    });
                }
            }
            tokio::time::sleep(retry_in).await;
        }
    }

    /// GET one resource; the body as text.
    pub async fn get(&self, path: &str) -> Result<String, GitHubError> {
        let url = self.url(path);
        let answer = self.get_answer(&url, None).await?;
        Ok(answer.body)
    }

    /// GET one page, conditionally: a 304 returns the cached body of the same URL.
    pub async fn get_page(&self, path: &str) -> Result<Page, GitHubError> {
        let url = self.url(path);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&url)
            .cloned();
        let answer = self
            .get_answer(&url, cached.as_ref().map(|c| c.etag.as_str()))
            .await?;
        if answer.status == StatusCode::NOT_MODIFIED {
            self.count(|s| s.not_modified += 1);
            // An ETag covers the body, not the `Link` header: a full last page stays the same
            // when items are added on a new page after it. Read that one page again in full.
            if cached
                .as_ref()
                .is_some_and(|c| c.next.is_none() && full_page(&c.body))
            {
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&url);
                return Box::pin(self.get_page(path)).await;
            }
            if let Some(cached) = cached {
                return Ok(Page {
                    body: cached.body,
                    next: cached.next,
                    not_modified: true,
                });
            }
            return Err(GitHubError::Decode {
                path: url,
                detail: "304 Not Modified for a request without If-None-Match".to_owned(),
            });
        }
        let next = answer
            .headers
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        if let Some(etag) = answer.headers.get(ETAG).and_then(|v| v.to_str().ok()) {
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
                url,
                Cached {
                    etag: etag.to_owned(),
                    body: answer.body.clone(),
                    next: next.clone(),
                },
            );
        }
        Ok(Page {
            body: answer.body,
            next,
            not_modified: false,
        })
    }

    /// Every page of a list, following `Link: rel="next"`. `path` should carry `per_page=100`.
    pub async fn get_pages(&self, path: &str) -> Result<Vec<Page>, GitHubError> {
        let mut pages = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(path) = next {
            if pages.len() >= 1000 {
                return Err(GitHubError::Decode {
                    path,
                    detail: "more than 1000 pages".to_owned(),
                });
            }
            let page = self.get_page(&path).await?;
            next = page.next.clone();
            pages.push(page);
        }
        Ok(pages)
    }

    /// A write, sent once. A rate-limit refusal (the request was not carried out) is waited out
    /// and sent again; anything else is returned for the caller to re-read and decide.
    pub async fn write(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), GitHubError> {
        let url = self.url(path);
        let mut rate_limit_waits = 0;
        loop {
            let answer = self.send(method, &url, body, None).await?;
            if answer.status.is_success() {
                return Ok((answer.status.as_u16(), answer.body));
            }
            match Self::rate_limit_wait(&answer) {
                Some(wait) => self.rate_limited(wait, &mut rate_limit_waits, &url).await?,
                None => return Err(http_error(method, &url, &answer)),
            }
        }
    }
}

fn transport_detail(error: &octocrab::Error) -> String {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        detail.push_str(": ");
        detail.push_str(&inner.to_string());
        source = inner.source();
    }
    detail
}

fn http_error(method: &'static str, url: &str, answer: &Answer) -> GitHubError {
    #[derive(serde::Deserialize)]
    struct Body {
        message: Option<String>,
    }
    let message = serde_json::from_str::<Body>(&answer.body)
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_else(|| {
            answer
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_owned()
        });
    let path = url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned());
    GitHubError::Http {
        method,
        path,
        status: answer.status.as_u16(),
        message,
    }
}

/// Whether a page holds 100 items (`per_page` at its maximum): a JSON array, or the first array
/// in an object (`check_runs`, `statuses`, `workflow_runs`).
fn full_page(body: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    let items = match &value {
        serde_json::Value::Array(items) => Some(items.len()),
        serde_json::Value::Object(map) => map.values().find_map(|v| v.as_array().map(Vec::len)),
        _ => None,
    };
    items.is_some_and(|n| n >= 100)
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_in_githubs_format() {
        let header = r#"<https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=10>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some(
                "https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=2"
            )
        );
        let last = r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=9>; rel="prev""#;
        assert_eq!(next_link(last), None);
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn enterprise_server_paths_keep_api_v3() {
        let client = Client::new(
            "https://ghe.example.com/api/v3/",
            None,
            RetryPolicy::default(),
        )
        .expect("client");
        assert_eq!(
            client.url("/repos/o/r/commits/main"),
            "https://ghe.example.com/api/v3/repos/o/r/commits/main"
        );
        // Link headers already carry the full URL.
        let next = "https://ghe.example.com/api/v3/repos/o/r/commits/x/check-runs?page=2";
        assert_eq!(client.url(next), next);
        let github =
            Client::new("https://api.github.com", None, RetryPolicy::default()).expect("client");
        assert_eq!(github.url("/user"), "https://api.github.com/user");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bad_api_url_is_refused() {
        assert!(matches!(
            Client::new("ftp://example.com", None, RetryPolicy::default()),
            Err(GitHubError::BadUrl { .. })
        ));
        assert!(matches!(
            Client::new("not a url", None, RetryPolicy::default()),
            Err(GitHubError::BadUrl { .. })
        ));
    }
}
