//! The GitHub REST client: octocrab for transport and auth (its own retry is not compiled in), and
//! shipgate's policy on top. GETs retry transport errors and 5xx with jittered backoff; rate limits
//! (403/429 with `retry-after`, or `x-ratelimit-remaining: 0`) wait as GitHub asks, bounded by the
//! command's deadline; writes are never blindly retried.
//!
//! Lists ([`Client::get_list`]) are read in full every time, each page conditionally: a page keeps
//! its ETag and its decoded value, so an unchanged page is a 304 that costs no rate limit and no
//! JSON parsing. Every page is asked again on every read, because an ETag covers one page's body
//! only: a check run completing on page 5 leaves page 1 unchanged. Once page 1's `Link` header
//! names the last page, pages 2..N go out a few at a time ([`PAGE_CONCURRENCY`]), their answers
//! kept in page order; without `rel="last"`, `rel="next"` is followed one page at a time.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use http::header::{HeaderMap, HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER};
use http::StatusCode;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::secret::Secret;

/// GitHub's REST API version shipgate is written against (octocrab sends it on every request).
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

/// Pages of one list requested at the same time, once page 1 names the last page. GitHub allows
/// 100 concurrent requests before its secondary limit; a handful keeps a poll's wall time near
/// one round trip per 4 pages without coming close.
pub const PAGE_CONCURRENCY: usize = 4;

/// A list never has more pages than this (GitHub caps lists it filters at 1,000 items).
const MAX_PAGES: usize = 1000;

/// One page of a list read by [`Client::get_list`]: its decoded value, shared with the client's
/// cache, and whether GitHub answered 304 (then the value is the one decoded when it last changed).
#[derive(Debug)]
pub struct ListPage<T> {
    pub value: Arc<T>,
    pub not_modified: bool,
}

/// A list read by [`Client::get_list`] or [`Client::get_list_until`], pages in order.
#[derive(Debug)]
pub struct List<T> {
    pub pages: Vec<ListPage<T>>,
    /// The stop predicate returned true on the last page in `pages`; the pages after it (if
    /// any) were not read.
    pub stopped: bool,
}

impl<T> List<T> {
    /// Whether any page changed since the previous read (every page a 304: nothing changed).
    pub fn changed(&self) -> bool {
        self.pages.iter().any(|p| !p.not_modified)
    }
}

/// The relations of a `Link` header that shipgate follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    pub next: Option<String>,
    pub last: Option<String>,
}

impl Links {
    pub fn parse(header: &str) -> Links {
        Links {
            next: link_rel(header, "next"),
            last: link_rel(header, "last"),
        }
    }
}

/// What the client keeps of a page it read: enough to ask again conditionally and, on a 304,
/// to answer without reading or decoding anything.
#[derive(Clone)]
struct Cached {
    etag: String,
    links: Links,
    /// The decoded page (an `Arc<T>` of the type it was read as).
    value: Arc<dyn Any + Send + Sync>,
    /// A 304 on this page cannot vouch that no page follows it: it is the last page, full, and
    /// carries no `total_count` that would change with the list's length.
    may_hide_next: bool,
    /// The body as read, kept only when the pages are to be saved ([`Client::with_saved_pages`]).
    body: Option<Arc<str>>,
}

/// List pages kept between runs (a file the caller reads and writes): each page's URL, `ETag`,
/// `Link` relations and body, so a later run asks conditionally and an unchanged page is a 304.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SavedPages {
    pub pages: std::collections::BTreeMap<String, SavedPage>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedPage {
    pub etag: String,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub last: Option<String>,
    pub body: String,
    #[serde(default)]
    pub may_hide_next: bool,
}

/// GitHub's JSON media type, asked for unless a request names another.
const JSON_MEDIA_TYPE: &str = "application/vnd.github+json";

/// What a GET asks for beyond the URL.
#[derive(Default, Clone, Copy)]
struct Get<'a> {
    /// `If-None-Match`: the `ETag` of the copy held.
    etag: Option<&'a str>,
    /// `Accept`, when not [`JSON_MEDIA_TYPE`].
    accept: Option<&'static str>,
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
    page_concurrency: usize,
    cache: Mutex<HashMap<String, Cached>>,
    /// Pages saved by an earlier run, not read yet in this one.
    saved: Mutex<HashMap<String, SavedPage>>,
    keep_bodies: bool,
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
            .set_write_timeout(Some(Duration::from_secs(30)));
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
            page_concurrency: PAGE_CONCURRENCY,
            cache: Mutex::default(),
            saved: Mutex::default(),
            keep_bodies: false,
            stats: Mutex::default(),
        })
    }

    /// Waits past this instant fail as unavailable instead of sleeping.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Pages of one list requested at the same time (at least 1: one page after the other).
    pub fn with_page_concurrency(mut self, pages: usize) -> Self {
        self.page_concurrency = pages.max(1);
        self
    }

    /// Starts from pages an earlier run saved, and keeps what it reads for [`Client::saved_pages`].
    pub fn with_saved_pages(mut self, saved: SavedPages) -> Self {
        self.saved = Mutex::new(saved.pages.into_iter().collect());
        self.keep_bodies = true;
        self
    }

    /// The list pages to save for the next run: those read now, and those saved before and not
    /// asked again.
    pub fn saved_pages(&self) -> SavedPages {
        let mut pages: std::collections::BTreeMap<String, SavedPage> = self
            .saved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(url, page)| (url.clone(), page.clone()))
            .collect();
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        for (url, cached) in cache.iter() {
            if let Some(body) = &cached.body {
                pages.insert(
                    url.clone(),
                    SavedPage {
                        etag: cached.etag.clone(),
                        next: cached.links.next.clone(),
                        last: cached.links.last.clone(),
                        body: body.to_string(),
                        may_hide_next: cached.may_hide_next,
                    },
                );
            }
        }
        SavedPages { pages }
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
        get: Get<'_>,
    ) -> Result<Answer, GitHubError> {
        self.count(|s| s.requests += 1);
        let unavailable = |detail: String| GitHubError::Unavailable {
            url: url.to_owned(),
            detail,
        };
        let method = match method {
            "GET" => http::Method::GET,
            "POST" => http::Method::POST,
            "PATCH" => http::Method::PATCH,
            "DELETE" => http::Method::DELETE,
            _ => return Err(unavailable(format!("unsupported method {method}"))),
        };
        // Every request names its media type itself: one `Accept`, never two.
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(ACCEPT, get.accept.unwrap_or(JSON_MEDIA_TYPE));
        if let Some(etag) = get.etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let request = self
            .octocrab
            .build_request(request, body)
            .map_err(|e| unavailable(transport_detail(&e)))?;
        let response = self
            .octocrab
            .execute(request)
            .await
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
    async fn get_answer(&self, url: &str, get: Get<'_>) -> Result<Answer, GitHubError> {
        let mut attempt = 0;
        let mut rate_limit_waits = 0;
        loop {
            attempt += 1;
            let result = self.send("GET", url, None, get).await;
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
        let answer = self.get_answer(&url, Get::default()).await?;
        Ok(answer.body)
    }

    /// GET one resource in another media type (`Accept: application/vnd.github.sha` answers a
    /// commit as its bare SHA); the body as text.
    pub async fn get_as(&self, path: &str, accept: &'static str) -> Result<String, GitHubError> {
        let url = self.url(path);
        let get = Get {
            accept: Some(accept),
            ..Get::default()
        };
        Ok(self.get_answer(&url, get).await?.body)
    }

    /// Every page of a list: page 1, then pages 2..N a few at a time once page 1's `Link`
    /// header names the last page N (answers kept in page order), then `rel="next"` for as long
    /// as a page has one (no `rel="last"`, or the list grew while it was read). Each page is
    /// asked conditionally, and a 304 reuses the page decoded last time. `path` should carry
    /// `per_page=100`.
    pub async fn get_list<T>(&self, path: &str) -> Result<List<T>, GitHubError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.read_list(path, None).await
    }

    /// [`Client::get_list`], but `stop` sees each page as it arrives, in page order, and a `true`
    /// ends the read there. To waste at most one request after the deciding page, two pages are
    /// in flight at a time, not [`PAGE_CONCURRENCY`]: while page k is looked at, only page k+1
    /// has been asked for.
    pub async fn get_list_until<T, F>(
        &self,
        path: &str,
        mut stop: F,
    ) -> Result<List<T>, GitHubError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
        F: FnMut(&T) -> bool + Send,
    {
        self.read_list(path, Some(&mut stop)).await
    }

    async fn read_list<T>(
        &self,
        path: &str,
        mut stop: Option<&mut (dyn FnMut(&T) -> bool + Send)>,
    ) -> Result<List<T>, GitHubError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let width = if stop.is_some() {
            self.page_concurrency.min(2)
        } else {
            self.page_concurrency
        };
        let mut list = List {
            pages: Vec::new(),
            stopped: false,
        };
        // Keeps a page; whether the read ends there.
        let mut keep = |list: &mut List<T>, page: ListPage<T>| {
            list.stopped = stop.as_mut().is_some_and(|stop| stop(&page.value));
            list.pages.push(page);
            list.stopped
        };
        let (first, mut links) = self.list_page::<T>(&self.url(path)).await?;
        if keep(&mut list, first) {
            return Ok(list);
        }
        let numbered = links
            .last
            .as_deref()
            .and_then(|last| Some((last.to_owned(), page_number(last)?)));
        if let Some((last, count)) = numbered {
            if count > MAX_PAGES {
                return Err(too_many_pages(&last));
            }
            let urls: Vec<String> = (2..=count).filter_map(|n| with_page(&last, n)).collect();
            let mut pages = stream::iter(urls)
                .map(|url| async move { self.list_page::<T>(&url).await })
                .buffered(width);
            links = Links::default();
            while let Some(answer) = pages.next().await {
                let (page, page_links) = answer?;
                links = page_links;
                if keep(&mut list, page) {
                    return Ok(list);
                }
            }
        }
        let mut next = links.next;
        while let Some(url) = next {
            if list.pages.len() >= MAX_PAGES {
                return Err(too_many_pages(&url));
            }
            let (page, links) = self.list_page::<T>(&self.url(&url)).await?;
            next = links.next;
            if keep(&mut list, page) {
                return Ok(list);
            }
        }
        Ok(list)
    }

    /// One page of a list, conditionally: a 304 gives the value decoded when the page last
    /// changed, and its `Link` relations as they were then.
    async fn list_page<T>(&self, url: &str) -> Result<(ListPage<T>, Links), GitHubError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .cloned()
            .and_then(|c| Some((c.value.clone().downcast::<T>().ok()?, c)));
        // A page an earlier run saved: asked with its ETag, decoded from its body on a 304.
        let saved = match cached {
            Some(_) => None,
            None => self
                .saved
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(url),
        };
        let mut etag = cached
            .as_ref()
            .map(|(_, c)| c.etag.clone())
            .or_else(|| saved.as_ref().map(|s| s.etag.clone()));
        let answer = loop {
            let get = Get {
                etag: etag.as_deref(),
                accept: None,
            };
            let answer = self.get_answer(url, get).await?;
            if answer.status != StatusCode::NOT_MODIFIED {
                break answer;
            }
            self.count(|s| s.not_modified += 1);
            match (&cached, etag.is_some()) {
                (Some((value, cached)), true) if !cached.may_hide_next => {
                    let page = ListPage {
                        value: value.clone(),
                        not_modified: true,
                    };
                    return Ok((page, cached.links.clone()));
                }
                // An ETag covers the body, not the `Link` header: a full last page stays the
                // same when items are added on a new page after it. Read that page in full.
                (Some(_), true) => etag = None,
                (None, true) => match saved.as_ref().filter(|s| !s.may_hide_next) {
                    Some(saved) => match serde_json::from_str::<T>(&saved.body) {
                        Ok(decoded) => {
                            let value: Arc<T> = Arc::new(decoded);
                            let links = Links {
                                next: saved.next.clone(),
                                last: saved.last.clone(),
                            };
                            self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
                                url.to_owned(),
                                Cached {
                                    etag: saved.etag.clone(),
                                    links: links.clone(),
                                    value: value.clone(),
                                    may_hide_next: false,
                                    body: Some(Arc::from(saved.body.as_str())),
                                },
                            );
                            let page = ListPage {
                                value,
                                not_modified: true,
                            };
                            return Ok((page, links));
                        }
                        // A saved body that no longer decodes: read the page in full.
                        Err(_) => etag = None,
                    },
                    None => etag = None,
                },
                _ => {
                    return Err(GitHubError::Decode {
                        path: url_path(url),
                        detail: "304 Not Modified for a request without If-None-Match".to_owned(),
                    })
                }
            }
        };
        let decoded = serde_json::from_str(&answer.body).map_err(|e| GitHubError::Decode {
            path: url_path(url),
            detail: e.to_string(),
        })?;
        let value: Arc<T> = Arc::new(decoded);
        let links = answer
            .headers
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .map(Links::parse)
            .unwrap_or_default();
        let kept = answer
            .headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|etag| Cached {
                etag: etag.to_owned(),
                links: links.clone(),
                value: value.clone(),
                may_hide_next: links.next.is_none() && may_hide_next(&answer.body),
                body: self.keep_bodies.then(|| Arc::from(answer.body.as_str())),
            });
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match kept {
            Some(kept) => drop(cache.insert(url.to_owned(), kept)),
            None => drop(cache.remove(url)),
        }
        let page = ListPage {
            value,
            not_modified: false,
        };
        Ok((page, links))
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
            let answer = self.send(method, &url, body, Get::default()).await?;
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

fn too_many_pages(url: &str) -> GitHubError {
    GitHubError::Decode {
        path: url_path(url),
        detail: format!("more than {MAX_PAGES} pages"),
    }
}

/// The path of a URL, for messages.
fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned())
}

/// Whether a 304 on this last page could hide a page added after it: it holds 100 items
/// (`per_page` at its maximum) and no `total_count`. A list answered as an object carries its
/// `total_count` on every page, so an item added anywhere changes every page's ETag; a plain JSON
/// array has nothing that changes when an item lands on a new page.
fn may_hide_next(body: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    let items = match &value {
        serde_json::Value::Array(items) => Some(items.len()),
        serde_json::Value::Object(map) if map.contains_key("total_count") => None,
        serde_json::Value::Object(map) => map.values().find_map(|v| v.as_array().map(Vec::len)),
        _ => None,
    };
    items.is_some_and(|n| n >= 100)
}

/// The URL of a `Link` header with relation `rel`.
fn link_rel(header: &str, rel: &str) -> Option<String> {
    let quoted = format!("rel=\"{rel}\"");
    let bare = format!("rel={rel}");
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let found = params.split(';').any(|p| {
            let p = p.trim();
            p == quoted || p == bare
        });
        found.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The `page` parameter of a list URL.
fn page_number(url: &str) -> Option<usize> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
}

/// A page URL of GitHub's with its `page` parameter set to `page`, the rest kept as GitHub wrote
/// it (its `Link` URLs differ only there).
fn with_page(url: &str, page: usize) -> Option<String> {
    let (base, query) = url.split_once('?')?;
    let mut found = false;
    let query: Vec<String> = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("page=") {
                found = true;
                format!("page={page}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    found.then(|| format!("{base}?{}", query.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_and_last_links_in_githubs_format() {
        let header = r#"<https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=10>; rel="last""#;
        let links = Links::parse(header);
        assert_eq!(
            links.next.as_deref(),
            Some(
                "https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=2"
            )
        );
        let last = links.last.expect("last");
        assert_eq!(page_number(&last), Some(10));
        assert_eq!(
            with_page(&last, 7).as_deref(),
            Some(
                "https://api.github.com/repositories/1/commits/abc/check-runs?per_page=100&page=7"
            )
        );
        let on_last = r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=9>; rel="prev""#;
        assert_eq!(Links::parse(on_last), Links::default());
        assert_eq!(with_page("https://api.github.com/x?per_page=100", 2), None);
    }

    #[test]
    fn only_a_full_array_can_hide_a_page_behind_a_304() {
        let items = |n: usize| vec![serde_json::json!({ "id": 1 }); n];
        assert!(may_hide_next(&serde_json::json!(items(100)).to_string()));
        assert!(!may_hide_next(&serde_json::json!(items(99)).to_string()));
        let counted = serde_json::json!({ "total_count": 300, "statuses": items(100) });
        assert!(!may_hide_next(&counted.to_string()));
        let uncounted = serde_json::json!({ "statuses": items(100) });
        assert!(may_hide_next(&uncounted.to_string()));
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
