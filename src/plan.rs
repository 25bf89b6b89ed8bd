//! What `deploy` would run for an environment, derived from the config alone: the `fly deploy`
//! argument vector, the health gate, the rollback path and the notifications.

use crate::config::duration::Human;
use crate::config::Environment;
use crate::decision::DeployPlan;

/// The `fly deploy` argument vector for `environment` (program name first). It is passed to the
/// process directly; no shell ever sees it.
pub fn fly_deploy_args(fly: &str, environment: &Environment, image: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        fly,
        "deploy",
        "--app",
        &environment.app,
        "--config",
        &environment.fly_config,
        "--strategy",
        environment.strategy.as_str(),
        "--remote-only",
        "--yes",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(image) = image {
        args.extend(["--image".to_owned(), image.to_owned()]);
    }
    args
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
        rollback_lines.push(format!(
            "on failure: `{fly} deploy --app {} --config {} --image PREVIOUS_IMAGE --strategy immediate`, then the health gate",
            environment.app, environment.fly_config
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

    let mut notify = Vec::new();
    if environment.notify.webhook {
        notify.push("POST a Slack-compatible message to $SHIPGATE_WEBHOOK_URL".to_owned());
    }
    DeployPlan {
        deploy_command: fly_deploy_args(fly, environment, image),
        deploy_timeout: Human(environment.deploy_timeout).to_string(),
        health: health_lines,
        rollback: rollback_lines,
        notify,
    }
}

fn codes(codes: &[u16]) -> String {
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join("/")
}
