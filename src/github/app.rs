//! Authenticating as a GitHub App (`shipgate serve`), with octocrab's App support: the app's
//! private key signs an RS256 JWT (issued 60 s in the past, valid 9 minutes, `iss` = the app id),
//! which buys an installation token per installation
//! (`POST /app/installations/{id}/access_tokens`). Each installation's token is kept until
//! [`TOKEN_MARGIN`] before its `expires_at`; concurrent requests for one installation wait for
//! one fetch. The token then authenticates an ordinary [`Client`], so every read and write is the
//! one `deploy` makes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use octocrab::models::{AppId, InstallationId};
use octocrab::secrecy::ExposeSecret;
use octocrab::{EncodingKey, Octocrab};

use super::client::{Client, GitHubError, RetryPolicy, API_VERSION};
use crate::secret::Secret;

/// An installation token is fetched again when it expires within this margin (GitHub's last an
/// hour), so no request goes out with a token about to lapse.
pub const TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A GitHub App's id and private key. Neither `Debug` nor any message shows the key.
pub struct AppKey {
    app_id: u64,
    key: EncodingKey,
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppKey")
            .field("app_id", &self.app_id)
            .field("key", &"***")
            .finish()
    }
}

/// Why the app's credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    #[error("`{given}` is not a GitHub App id (a positive number)")]
    BadId { given: String },
    #[error("the private key is not an RSA private key in PEM ({detail})")]
    BadKey { detail: String },
}

impl AppKey {
    /// `app_id` as written (the app's settings page shows it) and the private key GitHub
    /// generated (`-----BEGIN RSA PRIVATE KEY-----`, PKCS#1; PKCS#8 works too).
    pub fn from_pem(app_id: &str, pem: &Secret) -> Result<AppKey, AppKeyError> {
        let app_id = app_id
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| AppKeyError::BadId {
                given: app_id.trim().chars().take(40).collect(),
            })?;
        // A key pasted into a one-line variable often has its line breaks written as `\n`.
        let text = pem.expose();
        let unfolded =
            (!text.contains('\n') && text.contains("\\n")).then(|| text.replace("\\n", "\n"));
        let text = unfolded.as_deref().unwrap_or(text);
        // jsonwebtoken's messages name the PEM problem, never the key's bytes.
        let key = EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| AppKeyError::BadKey {
            detail: e.to_string(),
        })?;
        Ok(AppKey { app_id, key })
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }
}

/// One installation's octocrab client: it holds the installation token and its expiry.
type Slot = Arc<tokio::sync::Mutex<Option<Octocrab>>>;

/// The app, authenticated with its JWT, and a token cache per installation.
pub struct App {
    octocrab: Octocrab,
    api_url: String,
    app_id: u64,
    installations: Mutex<HashMap<u64, Slot>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.app_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The app at `api_url` (`https://api.github.com`, or `https://HOST/api/v3`). Must be called
    /// inside a tokio runtime.
    pub fn new(api_url: &str, key: AppKey) -> Result<App, GitHubError> {
        // The client checks the URL and says what is wrong with it.
        Client::new(api_url, None, RetryPolicy::default())?;
        let api_url = api_url.trim_end_matches('/').to_owned();
        let bad = |detail: String| GitHubError::BadUrl {
            url: api_url.clone(),
            detail,
        };
        let octocrab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| bad(e.to_string()))?
            .add_header(
                http::header::HeaderName::from_static("x-github-api-version"),
                API_VERSION.to_owned(),
            )
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .set_write_timeout(Some(Duration::from_secs(30)))
            .app(AppId(key.app_id), key.key)
            .build()
            .map_err(|e| GitHubError::Unavailable {
                url: api_url.clone(),
                detail: e.to_string(),
            })?;
        Ok(App {
            octocrab,
            app_id: key.app_id,
            api_url,
            installations: Mutex::default(),
        })
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// The installation's token: the one kept while it is valid for more than [`TOKEN_MARGIN`],
    /// else a new one. Concurrent calls for one installation share one fetch.
    pub async fn installation_token(&self, installation: u64) -> Result<Secret, GitHubError> {
        let slot: Slot = {
            let mut slots = self.installations.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(installation).or_default())
        };
        let mut crab = slot.lock().await;
        let path = format!("/app/installations/{installation}/access_tokens");
        if crab.is_none() {
            let installed = self
                .octocrab
                .installation(InstallationId(installation))
                .map_err(|e| octocrab_error(e, &path, &self.api_url))?;
            *crab = Some(installed);
        }
        let Some(installed) = crab.as_ref() else {
            unreachable!("set above")
        };
        let margin = chrono::Duration::from_std(TOKEN_MARGIN).unwrap_or_default();
        let token = installed
            .installation_token_with_buffer(margin)
            .await
            .map_err(|e| octocrab_error(e, &path, &self.api_url))?;
        Secret::new(token.expose_secret()).ok_or_else(|| GitHubError::Decode {
            path,
            detail: "GitHub answered an empty installation token".to_owned(),
        })
    }

    /// A [`Client`] acting as the installation.
    pub async fn client(
        &self,
        installation: u64,
        retry: RetryPolicy,
    ) -> Result<Client, GitHubError> {
        let token = self.installation_token(installation).await?;
        Client::new(&self.api_url, Some(&token), retry)
    }
}

/// An octocrab failure in the client's terms: GitHub's answer (status and message), or why
/// GitHub could not be asked.
fn octocrab_error(error: octocrab::Error, path: &str, api_url: &str) -> GitHubError {
    match error {
        octocrab::Error::GitHub { source, .. } => GitHubError::Http {
            method: "POST",
            path: path.to_owned(),
            status: source.status_code.as_u16(),
            message: source.message,
        },
        octocrab::Error::JWT { source, .. } => GitHubError::Unavailable {
            url: format!("{api_url}{path}"),
            detail: format!("the app's JWT could not be signed: {source}"),
        },
        other => {
            let mut detail = other.to_string();
            let mut source = std::error::Error::source(&other);
            while let Some(inner) = source {
                detail.push_str(": ");
                detail.push_str(&inner.to_string());
                source = inner.source();
            }
            GitHubError::Unavailable {
                url: format!("{api_url}{path}"),
                detail,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_id_or_key_is_named_without_the_key() {
        let pem = Secret::new(
            "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----",
        )
        .expect("non-empty");
        let error = AppKey::from_pem("12x", &pem).expect_err("bad id");
        assert!(error.to_string().contains("`12x`"), "{error}");
        let error = AppKey::from_pem("123", &pem).expect_err("bad key");
        let text = format!("{error} {error:?}");
        assert!(text.contains("not an RSA private key"), "{text}");
        assert!(!text.contains("not a key"), "{text}");
    }
}
