//! HTTP as GitHub speaks it: the request as the routes see it, answers and GitHub-shaped errors,
//! authentication, the primary rate limit and its headers, faults, `ETag`/`If-None-Match`, and
//! `per_page`/`page` pagination with a `Link` header.

use serde_json::{json, Map, Value};

use super::state::State;
use super::util::{fnv, now_epoch};
use super::{Fault, DOCS};

pub(super) const SECONDARY_LIMIT_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few \
     minutes before you try again. If you reach out to GitHub Support for help, please include \
     the request ID";
pub(super) const SECONDARY_LIMIT_DOCS: &str =
    "https://docs.github.com/free-pro-team@latest/rest/overview/\
     rate-limits-for-the-rest-api#about-secondary-rate-limits";
pub(super) const PRIMARY_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

pub(super) struct Req {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
    /// `http://host:port` as the client addressed us.
    pub(super) base: String,
}

impl Req {
    pub(super) fn new(parts: &axum::http::request::Parts, body: &[u8], fallback_base: &str) -> Req {
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = parts.uri.query().unwrap_or("").to_string();
        let base = headers
            .iter()
            .find(|(name, _)| name == "host")
            .map(|(_, host)| format!("http://{host}"))
            .unwrap_or_else(|| fallback_base.to_string());
        Req {
            method: parts.method.as_str().to_ascii_uppercase(),
            path: parts.uri.path().to_string(),
            params: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            query,
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            base,
        }
    }

    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The JSON object body (`{}` when empty); 400 "Problems parsing JSON" otherwise.
    pub(super) fn json(&self) -> Result<Map<String, Value>, Answer> {
        if self.body.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(invalid(
                "Invalid request.\n\nThe body must be a JSON object.",
            )),
            Err(_) => Err(error(400, "Problems parsing JSON", DOCS)),
        }
    }
}

pub(super) enum Payload {
    Json(Value),
    Html(String),
    /// A body in a media type other than JSON (`application/vnd.github.sha`).
    Text {
        content_type: &'static str,
        text: String,
    },
    Empty,
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) payload: Payload,
    /// Link header for a paginated list.
    pub(super) link: Option<String>,
}

impl Answer {
    pub(super) fn header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

pub(super) fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        payload: Payload::Json(body),
        link: None,
    }
}

pub(super) fn text(content_type: &'static str, text: String) -> Answer {
    Answer {
        payload: Payload::Text { content_type, text },
        ..ok(Value::Null)
    }
}

pub(super) fn created(body: Value) -> Answer {
    Answer {
        status: 201,
        ..ok(body)
    }
}

pub(super) fn no_content() -> Answer {
    Answer {
        status: 204,
        headers: Vec::new(),
        payload: Payload::Empty,
        link: None,
    }
}

/// `{"message", "documentation_url", "status"}`, as GitHub sends errors.
pub(super) fn error(status: u16, message: &str, documentation_url: &str) -> Answer {
    Answer {
        status,
        ..ok(json!({
            "message": message,
            "documentation_url": documentation_url,
            "status": status.to_string(),
        }))
    }
}

pub(super) fn not_found() -> Answer {
    error(404, "Not Found", DOCS)
}

pub(super) fn invalid(message: &str) -> Answer {
    error(422, message, DOCS)
}

pub(super) fn missing(field: &str) -> Answer {
    invalid(&format!("Invalid request.\n\n\"{field}\" wasn't supplied."))
}

pub(super) fn not_a_string(field: &str, value: &Value) -> Answer {
    invalid(&format!(
        "Invalid request.\n\nFor 'properties/{field}', {value} is not a string."
    ))
}

pub(super) fn no_commit(git_ref: &str) -> Answer {
    error(
        422,
        &format!("No commit found for SHA: {git_ref}"),
        "https://docs.github.com/rest/commits/commits#get-a-commit",
    )
}

pub(super) fn validation_failed(resource: &str, field: &str, message: &str, docs: &str) -> Answer {
    Answer {
        status: 422,
        ..ok(json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "custom", "field": field, "message": message}],
            "documentation_url": docs,
            "status": "422",
        }))
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("Error"),
    }
}

/// A required string field of a JSON body.
pub(super) fn required_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, Answer> {
    match body.get(field) {
        None | Some(Value::Null) => Err(missing(field)),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(not_a_string(field, other)),
    }
}

/// An optional string field: `Ok(None)` when absent or null.
pub(super) fn optional_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, Answer> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(not_a_string(field, other)),
    }
}

impl State {
    pub(super) fn serve(&mut self, req: &Req, fault: Option<Fault>, number: u64) -> Reply {
        let now = now_epoch();
        self.rate_limit.roll(now);
        let request_id = format!(
            "FA4E:{:04X}:{:06X}:{:08X}",
            std::process::id() & 0xFFFF,
            number,
            now
        );
        let mut rate_override = None;
        let mut malformed = false;
        let answer = match fault {
            Some(Fault::Status(status)) => error(status, reason(status), DOCS),
            Some(Fault::Html(status)) => Answer {
                status,
                headers: Vec::new(),
                payload: Payload::Html(format!(
                    "<html><body><h1>{status} {}</h1>\nThe server didn't respond in time.\n</body></html>\n",
                    reason(status)
                )),
                link: None,
            },
            Some(Fault::SecondaryRateLimit { retry_after_secs }) => error(
                403,
                &format!("{SECONDARY_LIMIT_MESSAGE} {request_id}."),
                SECONDARY_LIMIT_DOCS,
            )
            .header("retry-after", retry_after_secs),
            Some(Fault::TooManyRequests { retry_after_secs }) => error(
                429,
                &format!("{SECONDARY_LIMIT_MESSAGE} {request_id}."),
                SECONDARY_LIMIT_DOCS,
            )
            .header("retry-after", retry_after_secs),
            Some(Fault::PrimaryRateLimit { reset_in_secs }) => {
                rate_override = Some(now + reset_in_secs);
                self.primary_limit_exceeded(&request_id)
            }
            Some(Fault::MalformedJson) => {
                malformed = true;
                self.authorized(req, &request_id)
            }
            Some(Fault::Slow(_)) | None => self.authorized(req, &request_id),
        };

        let mut headers = answer.headers;
        let mut status = answer.status;
        let mut body = match answer.payload {
            Payload::Json(value) => {
                headers.push((
                    "content-type".to_string(),
                    "application/json; charset=utf-8".to_string(),
                ));
                serde_json::to_vec(&value).unwrap_or_default()
            }
            Payload::Html(html) => {
                headers.push(("content-type".to_string(), "text/html".to_string()));
                html.into_bytes()
            }
            Payload::Text { content_type, text } => {
                headers.push(("content-type".to_string(), content_type.to_string()));
                text.into_bytes()
            }
            Payload::Empty => Vec::new(),
        };
        if let Some(link) = answer.link {
            headers.push(("link".to_string(), link));
        }

        if malformed {
            status = 200;
            headers.retain(|(name, _)| name != "content-type");
            headers.push((
                "content-type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ));
            let keep = body.len() / 2;
            body.truncate(keep);
            if body.is_empty() {
                body = b"{\"message\":".to_vec();
            }
        } else if req.method == "GET" && status == 200 {
            let tag = etag(&body, self.strong_etags);
            let matches = req
                .header("if-none-match")
                .is_some_and(|wanted| etag_matches(wanted, &tag));
            headers.push(("etag".to_string(), tag));
            if matches {
                status = 304;
                body.clear();
                headers.retain(|(name, _)| name != "content-type" && name != "link");
            }
        }

        // A 304 is free; everything else uses up one request.
        if status != 304 && rate_override.is_none() {
            self.rate_limit.used += 1;
        }
        let limit = &self.rate_limit;
        let (remaining, used, reset) = match rate_override {
            Some(reset) => (0, limit.limit, reset),
            None => (limit.remaining(), limit.used.min(limit.limit), limit.reset),
        };
        headers.extend([
            ("x-ratelimit-limit".to_string(), limit.limit.to_string()),
            ("x-ratelimit-remaining".to_string(), remaining.to_string()),
            ("x-ratelimit-reset".to_string(), reset.to_string()),
            ("x-ratelimit-used".to_string(), used.to_string()),
            ("x-ratelimit-resource".to_string(), limit.resource.clone()),
            ("x-github-request-id".to_string(), request_id),
            (
                "x-github-api-version-selected".to_string(),
                req.header("x-github-api-version")
                    .unwrap_or("2022-11-28")
                    .to_string(),
            ),
            (
                "x-github-media-type".to_string(),
                "github.v3; format=json".to_string(),
            ),
        ]);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(super) fn primary_limit_exceeded(&self, request_id: &str) -> Answer {
        error(
            403,
            &format!(
                "API rate limit exceeded for installation ID 1. If you reach out to GitHub Support \
                 for help, please include the request ID {request_id}."
            ),
            PRIMARY_LIMIT_DOCS,
        )
    }

    /// Authentication, then the primary rate limit, then routing.
    pub(super) fn authorized(&mut self, req: &Req, request_id: &str) -> Answer {
        // A GitHub App: `/app/...` takes its JWT (checked there), the rest a token it issued.
        if self.app.is_some() {
            if req.path.starts_with("/app/") {
                return self.route(req);
            }
            if let Some(refused) = self.installation_token_refused(req) {
                return refused;
            }
        }
        if let Some(token) = &self.required_token {
            match req.header("authorization") {
                None => return error(401, "Requires authentication", DOCS),
                Some(value) => {
                    let given = value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                        .or_else(|| value.strip_prefix("token "))
                        .unwrap_or("");
                    if given != token {
                        return error(401, "Bad credentials", DOCS);
                    }
                }
            }
        }
        if self.rate_limit.remaining() == 0 {
            return self.primary_limit_exceeded(request_id);
        }
        self.route(req)
    }
}

/// One page of `items` per `per_page` (default 30, 1..=100) and `page` (default 1), and the
/// `Link` header GitHub would send (none when everything fits on page 1).
pub(super) fn paginate(req: &Req, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
    let per_page = match req.param("per_page").and_then(|n| n.parse::<usize>().ok()) {
        None | Some(0) => 30,
        Some(n) => n.min(100),
    };
    let page = req
        .param("page")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut rels = Vec::new();
    if page > 1 {
        rels.push((page - 1, "prev"));
    }
    if page < last {
        rels.push((page + 1, "next"));
        rels.push((last, "last"));
    }
    if page > 1 {
        rels.push((1, "first"));
    }
    let link = (!rels.is_empty()).then(|| {
        rels.iter()
            .map(|(n, rel)| format!("<{}>; rel=\"{rel}\"", page_url(req, *n)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    (slice, link)
}

/// The request's own URL with `page` set to `page` (other parameters kept, in order).
pub(super) fn page_url(req: &Req, page: usize) -> String {
    let mut parts: Vec<String> = req
        .query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    let page_part = format!("page={page}");
    match parts
        .iter_mut()
        .find(|part| part.split('=').next() == Some("page"))
    {
        Some(part) => *part = page_part,
        None => parts.push(page_part),
    }
    format!("{}{}?{}", req.base, req.path, parts.join("&"))
}

pub(super) fn paginated_array(req: &Req, items: Vec<Value>) -> Answer {
    let (page, link) = paginate(req, items);
    Answer {
        link,
        ..ok(Value::Array(page))
    }
}

pub(super) fn etag(body: &[u8], strong: bool) -> String {
    let hex: String = (0..4u64)
        .map(|lane| format!("{:016x}", fnv(body, lane)))
        .collect();
    if strong {
        format!("\"{hex}\"")
    } else {
        format!("W/\"{hex}\"")
    }
}

/// Weak comparison, as GitHub does for `If-None-Match` (a list, or `*`).
pub(super) fn etag_matches(if_none_match: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(tag))
}

pub(super) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
