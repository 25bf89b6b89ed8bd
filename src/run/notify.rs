//! Telling the team (`notify:`): `started` once the gates passed and the Deployment exists, the
//! rest when the deploy or rollback ends. Each channel sends the events it lists. The channels'
//! URLs are read and checked at start, before anything changes (a bad SMTP URL is exit 2); a
//! channel that cannot send is a warning, never a failed deploy.

use super::{Context, RunError};
use crate::config::{ChannelKind, Environment, NotifyChannel, NotifyEvent};
use crate::decision::Decision;
use crate::github::gather::Repo;
use crate::notify::{Limits, Smtp};
use crate::process::Masker;
use crate::secret::Secret;

/// Where one channel sends, read from the environment.
enum Target {
    /// A chat webhook; `None` when its variable is unset (a warning when it would send).
    Chat {
        url: Option<Secret>,
        variable: String,
    },
    Email {
        smtp: Option<Smtp>,
        variable: String,
        to: Vec<String>,
        from: String,
    },
}

/// The environment's channels, ready to send.
pub struct Notifier {
    channels: Vec<(NotifyChannel, Target)>,
    masker: Masker,
    limits: Limits,
}

impl Notifier {
    /// Reads every channel's variable. An SMTP URL that cannot be used is exit 2.
    pub fn prepare(context: &Context<'_>, env: &Environment) -> Result<Notifier, RunError> {
        let ambient = context.ambient;
        let mut secrets = ambient.other_secrets();
        secrets.extend(ambient.fly_token.clone());
        let mut channels = Vec::new();
        for channel in &env.notify.channels {
            let chat = |variable: &str| Target::Chat {
                url: crate::env::named(variable).and_then(Secret::new),
                variable: variable.to_owned(),
            };
            let target = match &channel.kind {
                ChannelKind::Webhook => Target::Chat {
                    url: ambient.webhook_url.clone(),
                    variable: crate::env::SHIPGATE_WEBHOOK_URL.to_owned(),
                },
                ChannelKind::Slack { url_env }
                | ChannelKind::Teams { url_env }
                | ChannelKind::Discord { url_env } => chat(url_env),
                ChannelKind::Email {
                    to,
                    from,
                    smtp_url_env,
                } => {
                    let url = crate::env::named(smtp_url_env).and_then(Secret::new);
                    let smtp = match url {
                        Some(url) => {
                            secrets.push(url.clone());
                            let smtp = Smtp::parse(&url, extra_roots()?).map_err(|why| {
                                RunError::input(
                                    format!(
                                        "${smtp_url_env} (environments.{}.notify.email) {why}",
                                        env.name
                                    ),
                                    "use smtp://USER:PASSWORD@HOST:587 (STARTTLS) or smtps://USER:PASSWORD@HOST:465 (TLS)",
                                )
                            })?;
                            secrets.extend(smtp.password().cloned());
                            Some(smtp)
                        }
                        None => None,
                    };
                    Target::Email {
                        smtp,
                        variable: smtp_url_env.clone(),
                        to: to.clone(),
                        from: from.clone(),
                    }
                }
            };
            if let Target::Chat { url: Some(url), .. } = &target {
                secrets.push(url.clone());
            }
            channels.push((channel.clone(), target));
        }
        Ok(Notifier {
            channels,
            masker: Masker::with_fly_token(None, &secrets),
            limits: Limits::default(),
        })
    }

    /// `started`: the gates passed and production is about to change. `decision` holds the
    /// gates (their overrides) and the subject.
    pub async fn started(
        &self,
        context: &Context<'_>,
        decision: &Decision,
        reason: &str,
        repo: Option<&Repo>,
    ) {
        self.send(context, decision, &[NotifyEvent::Started], reason, repo)
            .await;
    }

    /// How a deploy or rollback ended: the events its decision makes.
    pub async fn ended(
        &self,
        context: &Context<'_>,
        decision: &Decision,
        reason: &str,
        repo: Option<&Repo>,
    ) {
        let events = crate::render::notify::events_of(decision);
        self.send(context, decision, &events, reason, repo).await;
    }

    async fn send(
        &self,
        context: &Context<'_>,
        decision: &Decision,
        events: &[NotifyEvent],
        reason: &str,
        repo: Option<&Repo>,
    ) {
        let run_url = repo.and_then(|repo| context.ambient.run_url(&repo.to_string()));
        for event in events {
            let wanted: Vec<&(NotifyChannel, Target)> = self
                .channels
                .iter()
                .filter(|(channel, _)| channel.events.contains(event))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let notice = crate::render::notify::notice(
                decision,
                *event,
                &crate::render::notify::Context {
                    reason,
                    actor: context.ambient.actor.as_deref(),
                    run_url: run_url.as_deref(),
                    at: context.clock.now(),
                },
            );
            let notice = self.mask(notice);
            let sends = wanted
                .into_iter()
                .map(|(channel, target)| self.send_one(context, &notice, channel, target));
            futures::future::join_all(sends).await;
        }
    }

    /// No secret shipgate holds reaches a message.
    fn mask(&self, mut notice: crate::render::notify::Notice) -> crate::render::notify::Notice {
        notice.title = self.masker.mask(&notice.title);
        notice.headline = self.masker.mask(&notice.headline);
        for (_, value) in &mut notice.fields {
            *value = self.masker.mask(value);
        }
        notice.run_url = notice.run_url.filter(|url| self.masker.mask(url) == *url);
        notice
    }

    async fn send_one(
        &self,
        context: &Context<'_>,
        notice: &crate::render::notify::Notice,
        channel: &NotifyChannel,
        target: &Target,
    ) {
        use crate::render::notify as render;
        let name = channel.kind.name();
        let event = notice.event.as_str();
        let result = match target {
            Target::Chat {
                url: None,
                variable,
            } => Err(format!("{variable} is not set")),
            Target::Email {
                smtp: None,
                variable,
                ..
            } => Err(format!("{variable} is not set")),
            Target::Chat { url: Some(url), .. } => {
                let message = match channel.kind {
                    ChannelKind::Teams { .. } => render::teams(notice),
                    ChannelKind::Discord { .. } => render::discord(notice),
                    _ => render::slack(notice),
                };
                crate::notify::post(url, &message, &self.limits).await
            }
            Target::Email {
                smtp: Some(smtp),
                to,
                from,
                ..
            } => {
                let email = render::email(notice);
                smtp.send(
                    from,
                    to,
                    &email.subject,
                    &email.text,
                    &email.html,
                    &self.limits,
                )
                .await
            }
        };
        match result {
            Ok(attempts) => tracing::debug!(channel = name, event, attempts, "notification sent"),
            Err(why) => context.reporter.warning(&self.masker.mask(&format!(
                "the `{event}` notification ({name}) was not delivered: {why}"
            ))),
        }
    }
}

/// `SHIPGATE_SMTP_CA_FILE`: extra PEM roots the SMTP server's certificate may chain to (a
/// private CA; the tests' own). Unreadable is exit 2.
fn extra_roots() -> Result<Option<Vec<u8>>, RunError> {
    let Some(path) = crate::env::named(crate::env::SHIPGATE_SMTP_CA_FILE) else {
        return Ok(None);
    };
    std::fs::read(&path).map(Some).map_err(|e| {
        RunError::input(
            format!("cannot read SHIPGATE_SMTP_CA_FILE {path}: {e}"),
            "name a PEM file of CA certificates, or unset it",
        )
    })
}
