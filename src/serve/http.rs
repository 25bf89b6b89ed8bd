//! The HTTP side: `POST /webhook`, `GET /healthz`, `GET /readyz`, `GET /metrics`. A delivery is
//! answered as soon as it is stored; the gates run in the background (`worker`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::metrics::DeliveryResult;
use super::{payload, signature, Shared, LEASE};

/// The largest body accepted (GitHub caps payloads at 25 MB; a protection-rule payload is a few
/// KB).
pub const MAX_BODY: usize = 1024 * 1024;

/// The event this server acts on; every other one is acknowledged and dropped.
const EVENT: &str = "deployment_protection_rule";

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "readyz: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let holds = match shared.store.holds_pending().await {
        Ok(holds) => holds,
        Err(error) => {
            tracing::warn!(%error, "metrics: cannot count the holds pending");
            -1
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(holds),
    )
        .into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A log-safe rendering of a header value a sender chose: bounded, printable ASCII only.
fn printable(value: Option<&str>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) => v
            .chars()
            .take(80)
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect(),
    }
}

fn refuse(
    shared: &Shared,
    event: &str,
    delivery: &str,
    result: DeliveryResult,
    status: StatusCode,
    reason: &str,
) -> Response {
    shared.metrics.delivery(event, result);
    tracing::warn!(
        delivery,
        event,
        status = status.as_u16(),
        reason,
        "delivery refused"
    );
    (status, format!("{reason}\n")).into_response()
}

async fn webhook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let event = printable(header_str(&headers, "x-github-event"));
    let delivery = printable(header_str(&headers, "x-github-delivery"));
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the body is over {MAX_BODY} bytes")
            } else {
                format!("the body could not be read: {}", rejection.body_text())
            };
            return refuse(
                &shared,
                &event,
                &delivery,
                DeliveryResult::BadRequest,
                status,
                &reason,
            );
        }
    };
    // Nothing of the body is read before its signature holds.
    let signature_header = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    if let Err(error) =
        signature::verify(shared.secret.expose().as_bytes(), &body, signature_header)
    {
        return refuse(
            &shared,
            &event,
            &delivery,
            DeliveryResult::Unauthorized,
            StatusCode::UNAUTHORIZED,
            &error.to_string(),
        );
    }
    let content_type = header_str(&headers, "content-type").unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return refuse(
            &shared,
            &event,
            &delivery,
            DeliveryResult::Unsupported,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "Content-Type {:?} is not application/json (set the webhook's content type to JSON)",
                printable(Some(content_type))
            ),
        );
    }
    if event != EVENT {
        shared.metrics.delivery(&event, DeliveryResult::Ignored);
        tracing::debug!(delivery, event, "event ignored");
        return (
            StatusCode::ACCEPTED,
            "ignored: not a deployment_protection_rule event\n",
        )
            .into_response();
    }
    match payload::action(&body) {
        Ok(Some(action)) if action == "requested" => {}
        Ok(action) => {
            shared.metrics.delivery(&event, DeliveryResult::Ignored);
            tracing::debug!(
                delivery,
                action = printable(action.as_deref()),
                "action ignored"
            );
            return (StatusCode::ACCEPTED, "ignored: not action requested\n").into_response();
        }
        Err(error) => {
            return refuse(
                &shared,
                &event,
                &delivery,
                DeliveryResult::BadRequest,
                StatusCode::BAD_REQUEST,
                &error.to_string(),
            )
        }
    }
    let Some(delivery_id) = header_str(&headers, "x-github-delivery")
        .filter(|d| !d.is_empty() && d.len() <= 200 && d.chars().all(|c| c.is_ascii_graphic()))
    else {
        return refuse(
            &shared,
            &event,
            &delivery,
            DeliveryResult::BadRequest,
            StatusCode::BAD_REQUEST,
            "no usable X-GitHub-Delivery header (GitHub sends one with every delivery)",
        );
    };
    let request = match payload::parse(delivery_id, &body) {
        Ok(request) => request,
        Err(error) => {
            return refuse(
                &shared,
                &event,
                &delivery,
                DeliveryResult::BadRequest,
                StatusCode::BAD_REQUEST,
                &error.to_string(),
            )
        }
    };
    let now = shared.clock.now();
    match shared
        .store
        .admit(&request, &shared.replica, now, now + LEASE)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            shared.metrics.delivery(&event, DeliveryResult::Duplicate);
            tracing::info!(
                delivery,
                repo = request.repo,
                "redelivery: already admitted, not evaluated again"
            );
            return (StatusCode::ACCEPTED, "already received\n").into_response();
        }
        Err(error) => {
            return refuse(
                &shared,
                &event,
                &delivery,
                DeliveryResult::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot store the delivery: {error}"),
            )
        }
    }
    shared.metrics.delivery(&event, DeliveryResult::Accepted);
    super::worker::enqueue(&shared, request, 0).await;
    (StatusCode::ACCEPTED, "accepted\n").into_response()
}
