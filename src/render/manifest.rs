//! The GitHub App manifest of `shipgate serve` (GitHub's manifest flow: the JSON is posted from a
//! form to `https://github.com/settings/apps/new`, and GitHub creates the app from it). Pure.

use serde_json::{json, Value};

/// The longest name GitHub accepts for an app.
pub const MAX_APP_NAME: usize = 34;

/// The server's public base URL, checked: `https://HOST` (a path prefix is kept, a trailing `/`
/// dropped). Loopback may be plain http, for trying the server locally.
pub fn base_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let loopback = url
        .host_str()
        .is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]");
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(format!(
                "`{text}` uses {other}: GitHub delivers webhooks to https URLs only"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{text}` carries a user or password; remove it"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment; give the base URL only"
        ));
    }
    Ok(url)
}

/// `shipgate-` and the host's first label (`shipgate-deploys` for `deploys.fly.dev`), within
/// GitHub's length limit.
pub fn default_name(base: &url::Url) -> String {
    let label = base
        .host_str()
        .and_then(|h| h.split('.').next())
        .unwrap_or("server");
    let mut name = format!("shipgate-{label}");
    name.truncate(MAX_APP_NAME);
    name
}

/// `base` joined with `path` (`/webhook`), keeping any path prefix of `base`.
fn at(base: &url::Url, path: &str) -> String {
    format!("{}{path}", base.as_str().trim_end_matches('/'))
}

/// The manifest: the app receives `deployment_protection_rule` at `BASE/webhook`, may read
/// actions, checks, contents and statuses, and write deployments (to answer the rule); it is
/// private to the account that creates it.
pub fn app_manifest(base: &url::Url, name: &str) -> Value {
    json!({
        "name": name,
        "url": at(base, ""),
        "description": "shipgate: the deploy gates (required checks, deploy windows, staging first) as a GitHub deployment protection rule",
        "hook_attributes": {
            "url": at(base, "/webhook"),
            "active": true,
        },
        "redirect_url": at(base, "/"),
        "public": false,
        "default_permissions": {
            "actions": "read",
            "checks": "read",
            "contents": "read",
            "deployments": "write",
            "statuses": "read",
        },
        "default_events": ["deployment_protection_rule"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_the_webhook_permissions_and_event() {
        let base = base_url("https://shipgate-gates.fly.dev/").expect("valid");
        let manifest = app_manifest(&base, &default_name(&base));
        assert_eq!(manifest["name"], "shipgate-shipgate-gates");
        assert_eq!(manifest["url"], "https://shipgate-gates.fly.dev");
        assert_eq!(
            manifest["hook_attributes"]["url"],
            "https://shipgate-gates.fly.dev/webhook"
        );
        assert_eq!(manifest["public"], false);
        assert_eq!(manifest["default_permissions"]["deployments"], "write");
        assert_eq!(manifest["default_permissions"]["actions"], "read");
        assert_eq!(
            manifest["default_events"],
            json!(["deployment_protection_rule"])
        );
        let prefixed = base_url("https://example.com/gates").expect("valid");
        assert_eq!(
            app_manifest(&prefixed, "x")["hook_attributes"]["url"],
            "https://example.com/gates/webhook"
        );
    }

    #[test]
    fn only_https_or_loopback_urls_are_accepted() {
        assert!(base_url("http://127.0.0.1:8080").is_ok());
        assert!(base_url("http://localhost:8080").is_ok());
        let error = base_url("http://gates.example.com").expect_err("plain http");
        assert!(error.contains("https"), "{error}");
        assert!(base_url("gates.example.com").is_err());
        assert!(base_url("https://u:p@gates.example.com").is_err());
        assert!(base_url("https://gates.example.com/?x=1").is_err());
        let long = base_url("https://a-very-long-host-name-for-the-gate-server.example.com")
            .expect("valid");
        assert!(default_name(&long).len() <= MAX_APP_NAME);
    }
}
