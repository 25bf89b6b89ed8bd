//! What `deploy` would run for an environment, derived from the config alone: the `fly deploy`
//! argument vector, the health gate, the rollback path and the notifications.

use crate::config::duration::Human;
use crate::config::{Environment, Metric, StepCommand, Strategy, WatchPolicy};
use crate::decision::{
    DeployPlan, EndpointPlan, FallbackPlan, HealthPlan, RollbackPlan, RollbackWorkflow,
};

/// The `fly deploy` argument vector for `environment` (program name first). It is passed to the
/// process directly; no shell ever sees it. `--strategy` only when the config sets one (else
/// fly.toml's `[deploy] strategy` rules); `deploy.args` last, as written.
pub fn fly_deploy_args(fly: &str, environment: &Environment, image: Option<&str>) -> Vec<String> {
    fly_deploy_args_with(fly, environment, image, environment.strategy)
}

/// [`fly_deploy_args`] with the strategy given (a rollback redeploys with `immediate`).
pub fn fly_deploy_args_with(
    fly: &str,
    environment: &Environment,
    image: Option<&str>,
    strategy: Option<Strategy>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        fly,
        "deploy",
        "--app",
        &environment.app,
        "--config",
        &environment.fly_config,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(strategy) = strategy {
        args.extend(["--strategy".to_owned(), strategy.as_str().to_owned()]);
    }
    args.extend(["--remote-only".to_owned(), "--yes".to_owned()]);
    if let Some(image) = image {
        args.extend(["--image".to_owned(), image.to_owned()]);
    }
    args.extend(environment.deploy_args.iter().cloned());
    args
}

/// Which strategy a deploy uses, in words, for the plan.
pub fn strategy_text(environment: &Environment) -> String {
    match environment.strategy {
        Some(strategy) => format!("strategy {}, set in the config", strategy.as_str()),
        None => "strategy from fly.toml's [deploy] strategy, rolling when it sets none".to_owned(),
    }
}

pub fn deploy_plan(fly: &str, environment: &Environment, image: Option<&str>) -> DeployPlan {
    let health = &environment.health;
    let base = environment
        .url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned());
    let mut health_lines = vec![format!(
        "after {}, a round every {} until {} in a row pass; deadline {}",
        Human(health.initial_delay),
        Human(health.interval),
        health.consecutive_successes,
        Human(health.deadline)
    )];
    for endpoint in &health.endpoints {
        let target = match &base {
            Some(base) => format!("{base}{}", endpoint.path),
            None => format!("{} (no `url` set)", endpoint.path),
        };
        let mut line = format!("GET {target} expecting {}", codes(&endpoint.status));
        for (pointer, value) in &endpoint.json {
            line.push_str(&format!(", JSON {pointer} = {value}"));
        }
        if endpoint.prometheus {
            line.push_str(", Prometheus text body");
        }
        if let Some(fallback) = &endpoint.fallback {
            line.push_str(&format!(
                "; if it answers {} (no such endpoint), GET {} expecting {} instead",
                codes(&fallback.when),
                fallback.path,
                codes(&fallback.status)
            ));
        }
        health_lines.push(line);
    }
    health_lines.push(format!(
        "fail past {} failed round(s) or {} unmeasurable rounds in a row; request timeout {}",
        health.failure_limit,
        health.consecutive_error_limit,
        Human(health.request_timeout)
    ));
    if let Some(p95) = health.p95_latency {
        health_lines.push(format!("p95 latency at most {}", Human(p95)));
    }
    if health.machines {
        health_lines.push(format!(
            "serving machines of `{}` on the new release: at least one started per process group, the rest started or stopped by autostop, every configured check passing",
            environment.app
        ));
    }
    if let Some(days) = health.tls_min_days {
        health_lines.push(format!(
            "TLS certificate valid for at least {days} more days"
        ));
    }
    if !health.headers.is_empty() {
        health_lines.push(format!("headers present: {}", health.headers.join(", ")));
    }

    let rollback = &environment.rollback;
    let mut rollback_lines = vec![
        "record the running release and its image (PREVIOUS_IMAGE) with `fly releases --json` before deploying".to_owned(),
    ];
    if rollback.direct {
        let argv = fly_deploy_args_with(
            fly,
            environment,
            Some("PREVIOUS_IMAGE"),
            Some(Strategy::Immediate),
        );
        rollback_lines.push(format!(
            "on failure: `{}`, then the health gate",
            argv_text(&argv)
        ));
    }
    if let Some(workflow) = &rollback.workflow {
        rollback_lines.push(format!(
            "on failure: dispatch `{workflow}` on `{}` with inputs reason, failed_sha, target_image, correlation_id",
            rollback.git_ref
        ));
    }
    rollback_lines.push(format!(
        "refuse automatic rollback after {} in a row",
        rollback.max_consecutive
    ));
    if let Some(target) = rollback.recovery_target {
        rollback_lines.push(format!(
            "recovery target {}: a miss is a warning and in every notification",
            Human(target)
        ));
    }

    let mut notify = Vec::new();
    for channel in &environment.notify.channels {
        let events: Vec<&str> = channel.events.iter().map(|e| e.as_str()).collect();
        let events = events.join(", ");
        notify.push(match &channel.kind {
            crate::config::ChannelKind::Webhook => {
                format!("POST a Slack-compatible message to $SHIPGATE_WEBHOOK_URL on {events}")
            }
            crate::config::ChannelKind::Slack { url_env } => {
                format!("Slack (Block Kit) to ${url_env} on {events}")
            }
            crate::config::ChannelKind::Teams { url_env } => {
                format!("Teams (Adaptive Card) to ${url_env} on {events}")
            }
            crate::config::ChannelKind::Discord { url_env } => {
                format!("Discord (embed) to ${url_env} on {events}")
            }
            crate::config::ChannelKind::Email {
                to, smtp_url_env, ..
            } => format!("email {} via ${smtp_url_env} on {events}", to.join(", ")),
        });
    }
    let steps = &environment.steps;
    rollback_lines.extend(commands(&steps.on_rollback, Some("after the redeploy")));
    DeployPlan {
        deploy_command: fly_deploy_args(fly, environment, image),
        deploy_timeout: Human(environment.deploy_timeout).to_string(),
        strategy: strategy_text(environment),
        before_deploy: commands(&steps.before_deploy, None),
        health: health_lines,
        after_deploy: commands(&steps.after_deploy, None),
        watch: environment
            .watch
            .as_ref()
            .map(watch_lines)
            .unwrap_or_default(),
        rollback: rollback_lines,
        notify,
        health_gate: Some(health_plan(environment, base.as_deref())),
        rollback_path: Some(rollback_plan(fly, environment)),
        checked: None,
    }
}

/// The health gate as data.
fn health_plan(environment: &Environment, base: Option<&str>) -> HealthPlan {
    let health = &environment.health;
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    HealthPlan {
        initial_delay_seconds: health.initial_delay.as_secs(),
        interval_seconds: health.interval.as_secs(),
        deadline_seconds: health.deadline.as_secs(),
        consecutive_successes: health.consecutive_successes,
        failure_limit: health.failure_limit,
        consecutive_error_limit: health.consecutive_error_limit,
        request_timeout_seconds: health.request_timeout.as_secs(),
        p95_latency_ms: health.p95_latency.map(ms),
        machines: health.machines,
        tls_min_days: health.tls_min_days,
        headers: health.headers.clone(),
        endpoints: health
            .endpoints
            .iter()
            .map(|endpoint| EndpointPlan {
                url: base.map(|base| format!("{base}{}", endpoint.path)),
                path: endpoint.path.clone(),
                status: endpoint.status.clone(),
                json: endpoint.json.clone(),
                prometheus: endpoint.prometheus,
                fallback: endpoint.fallback.as_ref().map(|f| FallbackPlan {
                    path: f.path.clone(),
                    status: f.status.clone(),
                    when: f.when.clone(),
                }),
            })
            .collect(),
    }
}

/// The rollback path as data.
fn rollback_plan(fly: &str, environment: &Environment) -> RollbackPlan {
    let rollback = &environment.rollback;
    RollbackPlan {
        // The argv a rollback runs (`run::deploy::rollback_args`): `--strategy immediate` always.
        direct_command: rollback.direct.then(|| {
            fly_deploy_args_with(
                fly,
                environment,
                Some("PREVIOUS_IMAGE"),
                Some(Strategy::Immediate),
            )
        }),
        workflow: rollback.workflow.as_ref().map(|file| RollbackWorkflow {
            file: file.clone(),
            git_ref: rollback.git_ref.clone(),
            inputs: ["reason", "failed_sha", "target_image", "correlation_id"]
                .map(str::to_owned)
                .to_vec(),
        }),
        max_consecutive: rollback.max_consecutive,
        recovery_target_seconds: rollback.recovery_target.map(|t| t.as_secs()),
        on_rollback: environment
            .steps
            .on_rollback
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    }
}

/// One line per configured command: its name, argument vector (templates as written) and limit.
fn commands(list: &[StepCommand], when: Option<&str>) -> Vec<String> {
    list.iter()
        .map(|c| {
            let env = if c.env.is_empty() {
                String::new()
            } else {
                format!(
                    " with {}",
                    c.env.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            let dir = c
                .working_directory
                .as_ref()
                .map(|d| format!(" in {d}"))
                .unwrap_or_default();
            format!(
                "{}`{}`: {}{env}{dir} (timeout {})",
                when.map(|w| format!("{w}: ")).unwrap_or_default(),
                c.name,
                argv_text(&c.run),
                Human(c.timeout)
            )
        })
        .collect()
}

/// The watch: schedule and limits, then each rule with what it reads (shortcuts expanded).
fn watch_lines(watch: &WatchPolicy) -> Vec<String> {
    let mut lines = vec![format!(
        "every {} for {}{}; fail past {} failed, {} errors in a row{}",
        Human(watch.interval),
        Human(watch.duration),
        watch
            .emergency_duration
            .map(|d| format!(" ({} after an emergency deploy)", Human(d)))
            .unwrap_or_default(),
        watch.failure_limit,
        watch.consecutive_error_limit,
        watch
            .inconclusive_limit
            .map(|l| format!(", {l} without data"))
            .unwrap_or_default()
    )];
    for rule in &watch.rules {
        let source = match &rule.metric {
            Metric::Prometheus { .. } => format!(" (from ${})", watch.prometheus.url_env),
            Metric::Scrape(_) => format!(" (from the app's {})", watch.scrape.path),
            Metric::Logs { .. } => " (fly logs of the new release)".to_owned(),
        };
        lines.push(format!(
            "{} {}: {}{source}",
            rule.name,
            rule.condition.describe(),
            rule.metric.describe()
        ));
    }
    lines
}

fn codes(codes: &[u16]) -> String {
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// An argument vector shown as one line, quoting what a reader would need quoted.
pub fn argv_text(args: &[String]) -> String {
    args.iter()
        .map(|arg| {
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
            {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(text: &str) -> Environment {
        let config =
            crate::config::parse(std::path::Path::new("shipgate.yml"), text).expect("valid config");
        config.environments["production"].clone()
    }

    #[test]
    fn strategy_only_when_set_and_extra_args_last() {
        let plain = environment("version: 1\nenvironments:\n  production:\n    app: demo\n");
        let argv = fly_deploy_args("fly", &plain, None);
        assert!(!argv.iter().any(|a| a == "--strategy"), "{argv:?}");
        // A rollback (`run::deploy::rollback_args`) always says `immediate`.
        let rollback = fly_deploy_args_with("fly", &plain, Some("img"), Some(Strategy::Immediate));
        let at = rollback
            .iter()
            .position(|a| a == "--strategy")
            .expect("--strategy");
        assert_eq!(rollback[at + 1], "immediate");

        let set = environment(
            "version: 1\nenvironments:\n  production:\n    app: demo\n    strategy: bluegreen\n    deploy:\n      args: [--wait-timeout, 10m]\n",
        );
        let argv = fly_deploy_args("fly", &set, Some("img"));
        assert_eq!(
            argv[6..],
            [
                "--strategy",
                "bluegreen",
                "--remote-only",
                "--yes",
                "--image",
                "img",
                "--wait-timeout",
                "10m"
            ]
        );
        let rollback = fly_deploy_args_with("fly", &set, Some("img"), Some(Strategy::Immediate));
        assert_eq!(rollback.iter().filter(|a| *a == "--strategy").count(), 1);
        assert!(rollback
            .windows(2)
            .any(|w| w == ["--strategy", "immediate"]));
    }
}
