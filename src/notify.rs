//! The notification edge: POSTs the deploy message to `$SHIPGATE_WEBHOOK_URL`. The URL is a
//! secret (a Slack webhook URL is a credential) and never printed. A failed notification is a
//! warning, never a failed deploy.

use std::time::Duration;

use crate::secret::Secret;

pub async fn post(webhook: &Secret, message: &serde_json::Value) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    let response = client
        .post(webhook.expose())
        .json(message)
        .send()
        .await
        // reqwest's errors name the URL: say what failed without it.
        .map_err(|e| {
            format!(
                "the webhook could not be reached ({})",
                if e.is_timeout() {
                    "timed out"
                } else {
                    "connection failed"
                }
            )
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the webhook answered {}",
            response.status().as_u16()
        ))
    }
}
