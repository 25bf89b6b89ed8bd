//! Meaning: turns the raw file into the typed `Config`, collecting every problem with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Weekday};
use chrono_tz::Tz;

use super::duration;
pub use super::issues::{closest, suggest, Issue};
use super::issues::{parse_any_duration, parse_duration, Issues};
use super::locate::YamlPath;
use super::model::*;
use super::placeholder::{self, Placeholder};
use super::raw::*;
use super::timezone::Zone;
use crate::time::{FloatingDay, FLOATING_NAMES};

/// The typed config and its warnings, or every problem found.
pub fn validate(raw: &RawConfig) -> Result<(Config, Vec<Issue>), Vec<Issue>> {
    let mut issues = Issues::default();
    let root = YamlPath::root();
    if raw.version != 1 {
        issues.push(
            &root.key("version"),
            format!("unsupported version {}", raw.version),
            "set `version: 1`; it is the only format this shipgate reads",
        );
    }
    if raw.environments.is_empty() {
        issues.push(
            &root.key("environments"),
            "no environments are defined",
            "add at least one, e.g. `production: { app: my-app }`",
        );
    }
    let top_checks = raw.checks.as_ref().map(|c| (c, root.key("checks")));
    let top_windows = raw.windows.as_ref().map(|w| (w, root.key("windows")));
    let names: BTreeSet<&str> = raw.environments.keys().map(String::as_str).collect();

    let mut environments = BTreeMap::new();
    for (name, env) in raw.environments.iter() {
        let path = root.key("environments").key(name);
        if !valid_environment_name(name) {
            issues.push(
                &path,
                format!("environment name `{name}` is not a plain name"),
                "use letters, digits, `-` and `_` only (e.g. `production`)",
            );
        }
        if let Some(environment) = environment(
            name,
            env,
            &path,
            top_checks.clone(),
            top_windows.clone(),
            &names,
            &mut issues,
        ) {
            environments.insert(name.clone(), environment);
        }
    }
    let checks = checks_policy(top_checks, None, &mut issues);
    let windows = top_windows.and_then(|(top, path)| window_policy(&[(top, path)], &mut issues));
    check_requires_cycles(raw, &mut issues);
    if issues.0.is_empty() {
        Ok((
            Config {
                checks,
                windows,
                environments,
                warnings: Vec::new(),
            },
            issues.1,
        ))
    } else {
        Err(issues.0)
    }
}

fn valid_environment_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn environment(
    name: &str,
    raw: &RawEnvironment,
    path: &YamlPath,
    top_checks: Option<(&RawChecks, YamlPath)>,
    top_windows: Option<(&RawWindows, YamlPath)>,
    names: &BTreeSet<&str>,
    issues: &mut Issues,
) -> Option<Environment> {
    let before = issues.0.len();
    if !valid_fly_app_name(&raw.app) {
        issues.push(
            &path.key("app"),
            format!("`{}` is not a Fly app name", raw.app),
            "Fly app names use lowercase letters, digits and `-` (e.g. `hotdash-production`)",
        );
    }
    let fly_config = raw
        .fly_config
        .clone()
        .unwrap_or_else(|| "fly.toml".to_owned());
    if fly_config.trim().is_empty() {
        issues.push(
            &path.key("fly_config"),
            "empty path",
            "name the fly.toml to deploy with, e.g. `fly.toml`",
        );
    }
    let strategy = match &raw.strategy {
        None => None,
        Some(text) => match Strategy::ALL.iter().find(|(n, _)| n == text) {
            Some((_, strategy)) => Some(*strategy),
            None => {
                let names: Vec<&str> = Strategy::ALL.iter().map(|(n, _)| *n).collect();
                issues.push(
                    &path.key("strategy"),
                    format!("unknown strategy `{text}`"),
                    suggest("use one of", text, &names),
                );
                None
            }
        },
    };
    let deploy_args = deploy_args(raw, path, issues);
    let url = raw
        .url
        .as_ref()
        .and_then(|text| parse_url(text, &path.key("url"), issues));

    let checks = checks_policy(
        top_checks,
        raw.checks.as_ref().map(|c| (c, path.key("checks"))),
        issues,
    );
    let windows = match &raw.windows {
        Some(EnvWindows::Off) => None,
        Some(EnvWindows::Inherit) | None => {
            top_windows.and_then(|(top, top_path)| window_policy(&[(top, top_path)], issues))
        }
        Some(EnvWindows::Override(own)) => {
            let mut layers = Vec::new();
            if let Some(top) = top_windows {
                layers.push(top);
            }
            layers.push((own, path.key("windows")));
            window_policy(&layers, issues)
        }
    };

    let mut requires = Vec::new();
    for (i, required) in raw.requires.iter().flatten().enumerate() {
        let here = path.key("requires").index(i);
        if required == name {
            issues.push(
                &here,
                format!("`{name}` requires itself"),
                "remove it from `requires`",
            );
        } else if !names.contains(required.as_str()) {
            let known: Vec<&str> = names.iter().copied().filter(|n| *n != name).collect();
            issues.push(
                &here,
                format!("unknown environment `{required}`"),
                suggest(
                    "define it under `environments`, or use one of",
                    required,
                    &known,
                ),
            );
        } else {
            requires.push(required.clone());
        }
    }

    let deploy_timeout = positive_duration(
        raw.deploy_timeout.as_ref(),
        "15m",
        &path.key("deploy_timeout"),
        issues,
    );
    let health = health_policy(
        raw.health.as_ref(),
        &path.key("health"),
        raw.url.is_some(),
        issues,
    );
    if raw.url.is_none() && !health.endpoints.is_empty() {
        issues.push(
            &path.key("health").key("endpoints"),
            "health endpoints are configured but the environment has no `url`",
            "add `url: https://<app>.fly.dev` to the environment so the endpoints can be probed",
        );
    }
    // The certificate is read from the endpoints' answers: with none, or over plain http,
    // `tls_min_days` would never be checked and the gate would pass without it.
    if health.tls_min_days.is_some() {
        let https = url.as_ref().is_some_and(|u| u.scheme() == "https");
        if !https || health.endpoints.is_empty() {
            issues.push(
                &path.key("health").key("tls_min_days"),
                "`tls_min_days` needs an https `url` and at least one endpoint: the certificate is read from their answers",
                "set `url: https://...` and list an endpoint (e.g. `- path: /health`), or remove `tls_min_days`",
            );
        }
    }
    if health.endpoints.is_empty() && !health.machines {
        issues.push(
            &path.key("health"),
            "the health gate would check nothing: no endpoints and `machines: false`",
            "list endpoints (with the environment's `url`) or set `machines: true`",
        );
    }
    let rollback = rollback_policy(raw.rollback.as_ref(), &path.key("rollback"), issues);
    let notify = notify_policy(raw.notify.as_ref(), &path.key("notify"), issues);
    let steps = super::validate_watch::steps_policy(raw.steps.as_ref(), &path.key("steps"), issues);
    let approval = approval_policy(raw.approval.as_ref(), &path.key("approval"), issues);
    let watch = super::validate_watch::watch_policy(
        raw.watch.as_ref(),
        &path.key("watch"),
        raw.url.is_some(),
        issues,
    );
    let protection_rule = super::protection::protection_rule_policy(
        raw.protection_rule.as_ref(),
        &path.key("protection_rule"),
        issues,
    );
    let delivery_targets = super::delivery::targets(
        raw.delivery_targets.as_ref(),
        &path.key("delivery_targets"),
        issues,
    );

    let windows = windows.map(|mut policy| {
        if policy.runway_source == RunwaySource::Unset {
            let watch = watch.as_ref().map(|w| w.duration);
            policy.runway = deploy_timeout + health.deadline + watch.unwrap_or_default();
            policy.runway_source = RunwaySource::Derived {
                deploy_timeout,
                health_deadline: health.deadline,
                watch,
            };
        }
        policy
    });
    (issues.0.len() == before).then(|| Environment {
        name: name.to_owned(),
        app: raw.app.clone(),
        fly_config,
        strategy,
        deploy_args,
        url,
        windows,
        checks,
        requires,
        deploy_timeout,
        health,
        rollback,
        notify,
        steps,
        watch,
        // GitHub's `production_environment` on the Deployments this environment records.
        production: raw.production_environment.unwrap_or(name == "production"),
        delivery_targets,
        approval,
        protection_rule,
    })
}

/// `approval:`: whether a deploy needs an approved run, and whose approval counts.
fn approval_policy(
    raw: Option<&RawApproval>,
    path: &YamlPath,
    issues: &mut Issues,
) -> ApprovalPolicy {
    let Some(raw) = raw else {
        return ApprovalPolicy::default();
    };
    let reviewers_from = match &raw.reviewers_from {
        None => ReviewersFrom::Environment,
        Some(text) => match ReviewersFrom::ALL.iter().find(|(n, _)| n == text) {
            Some((_, from)) => *from,
            None => {
                let names: Vec<&str> = ReviewersFrom::ALL.iter().map(|(n, _)| *n).collect();
                issues.push(
                    &path.key("reviewers_from"),
                    format!("unknown reviewers source `{text}`"),
                    suggest(
                        "approvals come from the GitHub Environment's required reviewers; use one of",
                        text,
                        &names,
                    ),
                );
                ReviewersFrom::Environment
            }
        },
    };
    ApprovalPolicy {
        required: raw.required.unwrap_or(false),
        reviewers_from,
    }
}

/// The most `deploy.args` items, and the longest one.
pub const MAX_DEPLOY_ARGS: usize = 64;
pub const MAX_DEPLOY_ARG_LENGTH: usize = 1024;

/// `fly deploy` flags shipgate sets itself, each with what owns it, or that would make a deploy
/// that did not happen look done. Long form, short form.
const OWNED_FLAGS: [(&str, Option<char>, &str); 7] = [
    ("--app", Some('a'), "set from `environments.<name>.app`"),
    (
        "--config",
        Some('c'),
        "set from `environments.<name>.fly_config`",
    ),
    (
        "--image",
        Some('i'),
        "set by shipgate: `deploy --image`, and the previous image on a rollback",
    ),
    (
        "--strategy",
        None,
        "set from `environments.<name>.strategy`",
    ),
    (
        "--access-token",
        Some('t'),
        "never in the config: the token comes from the FLY_API_TOKEN secret",
    ),
    (
        "--detach",
        None,
        "not allowed: fly would return before the machines are healthy",
    ),
    (
        "--build-only",
        None,
        "not allowed: fly would exit 0 without deploying",
    ),
];

fn deploy_args(raw: &RawEnvironment, path: &YamlPath, issues: &mut Issues) -> Vec<String> {
    let Some(args) = raw.deploy.as_ref().and_then(|d| d.args.as_ref()) else {
        return Vec::new();
    };
    let path = path.key("deploy").key("args");
    if args.len() > MAX_DEPLOY_ARGS {
        issues.push(
            &path,
            format!(
                "{} arguments; at most {MAX_DEPLOY_ARGS} are allowed",
                args.len()
            ),
            "pass only the extra `fly deploy` flags this app needs",
        );
        return Vec::new();
    }
    for (i, arg) in args.iter().enumerate() {
        let here = path.index(i);
        if arg.chars().count() > MAX_DEPLOY_ARG_LENGTH {
            issues.push(
                &here,
                format!("an argument of {} characters; at most {MAX_DEPLOY_ARG_LENGTH}", arg.chars().count()),
                "a long value belongs in a file: `--build-secret` reads secrets from the environment",
            );
            continue;
        }
        if arg.contains('\0') {
            issues.push(&here, "the argument holds a NUL character", "remove it");
            continue;
        }
        if i == 0 && !arg.starts_with('-') {
            issues.push(
                &here,
                format!("`{arg}` is not a flag"),
                "`deploy.args` holds `fly deploy` flags and their values, starting with a flag: `[--build-arg, NAME=VALUE]`",
            );
            continue;
        }
        if let Some((flag, why)) = owned_flag(arg) {
            issues.push(
                &here,
                format!("`{arg}` is a flag shipgate owns: `{flag}` is {why}"),
                "remove it from `deploy.args`",
            );
        }
    }
    args.clone()
}

/// The owned flag `arg` sets, if any: `--app`, `--app=x`, `-a`, `-ax`, `-a=x`.
fn owned_flag(arg: &str) -> Option<(&'static str, &'static str)> {
    if let Some(long) = arg.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or(long);
        return OWNED_FLAGS
            .iter()
            .find(|(flag, ..)| flag[2..] == *name)
            .map(|(flag, _, why)| (*flag, *why));
    }
    // pflag reads `-ya` as `-y -a`: any owned letter in a cluster of short flags, before a value.
    let cluster = arg.strip_prefix('-')?;
    for letter in cluster.chars() {
        if let Some((flag, _, why)) = OWNED_FLAGS
            .iter()
            .find(|(_, short, _)| *short == Some(letter))
        {
            return Some((*flag, *why));
        }
        if letter != 'y' {
            // The first flag that takes a value swallows the rest of the cluster.
            return None;
        }
    }
    None
}

fn valid_fly_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn parse_url(text: &str, path: &YamlPath, issues: &mut Issues) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            issues.push(
                path,
                "the URL carries credentials",
                "remove `user:password@`: health probes need none, and the URL is printed in plans and summaries",
            );
            None
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            issues.push(
                path,
                format!("`{text}` has a query or fragment"),
                "write the base URL only (e.g. `https://my-app.fly.dev`); endpoint paths are appended to it",
            );
            None
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        Ok(_) => {
            issues.push(
                path,
                format!("`{text}` is not an http(s) URL"),
                "write the app's public URL, e.g. `https://my-app.fly.dev`",
            );
            None
        }
        Err(error) => {
            issues.push(
                path,
                format!("`{text}` is not a URL: {error}"),
                "write the app's public URL, e.g. `https://my-app.fly.dev`",
            );
            None
        }
    }
}

/// Merges a top-level block with an environment's block, field by field: the environment wins for
/// every field it sets, and the path reported for a field is where its value came from.
fn pick<'a, B, T>(
    layers: &'a [(&'a B, YamlPath)],
    field: impl Fn(&'a B) -> Option<&'a T>,
) -> Option<(&'a T, &'a YamlPath)> {
    layers
        .iter()
        .rev()
        .find_map(|(block, path)| field(block).map(|value| (value, path)))
}

fn checks_policy(
    top: Option<(&RawChecks, YamlPath)>,
    own: Option<(&RawChecks, YamlPath)>,
    issues: &mut Issues,
) -> ChecksPolicy {
    let layers: Vec<(&RawChecks, YamlPath)> = top.into_iter().chain(own).collect();
    let block_path = layers
        .last()
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| YamlPath::root().key("checks"));
    let required: Vec<String> = pick(&layers, |c| c.required.as_ref())
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    if let Some((names, path)) = pick(&layers, |c| c.required.as_ref()) {
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                issues.push(
                    &path.key("required").index(i),
                    "empty check name",
                    "write the check-run name or status context, e.g. `build`",
                );
            }
        }
    }
    let from_branch_rules = pick(&layers, |c| c.from_branch_rules.as_ref())
        .map(|(v, _)| *v)
        .unwrap_or(true);
    if required.is_empty() && !from_branch_rules {
        issues.push(
            &block_path,
            "no checks would be required: `required` is empty and `from_branch_rules` is false",
            "list the checks that must pass under `required`, or set `from_branch_rules: true`",
        );
    }
    let mut ignore = Vec::new();
    if let Some((patterns, path)) = pick(&layers, |c| c.ignore.as_ref()) {
        for (i, text) in patterns.iter().enumerate() {
            match glob::Pattern::new(text) {
                Ok(pattern) => ignore.push(pattern),
                Err(error) => issues.push(
                    &path.key("ignore").index(i),
                    format!("bad glob `{text}`: {}", error.msg),
                    "use `*`, `?` and `[abc]`; escape a literal `[` as `[[]`",
                ),
            }
        }
    }
    let wait = duration_field(
        &layers,
        |c| c.wait.as_ref(),
        "wait",
        DEFAULT_CHECKS_WAIT,
        issues,
    );
    let interval = duration_field(&layers, |c| c.interval.as_ref(), "interval", "15s", issues);
    if interval < Duration::from_secs(1) {
        let path = pick(&layers, |c| c.interval.as_ref())
            .map(|(_, p)| p.key("interval"))
            .unwrap_or(block_path);
        issues.push(
            &path,
            "the poll interval must be at least 1s",
            "use e.g. `15s`; unchanged polls are free, but GitHub still counts requests",
        );
    }
    ChecksPolicy {
        required,
        from_branch_rules,
        ignore,
        wait,
        interval,
    }
}

/// How long the checks gate waits for pending checks when `checks.wait` is not set: a gate
/// started alongside CI waits for it, as long as a typical CI run takes.
pub const DEFAULT_CHECKS_WAIT: &str = "20m";

fn duration_field<'a, B>(
    layers: &'a [(&'a B, YamlPath)],
    field: impl Fn(&'a B) -> Option<&'a DurationText>,
    key: &str,
    default: &str,
    issues: &mut Issues,
) -> Duration {
    match pick(layers, field) {
        Some((text, path)) => parse_duration(&text.0, &path.key(key), issues),
        None => duration::parse(default).unwrap_or_default(),
    }
}

fn positive_duration(
    text: Option<&DurationText>,
    default: &str,
    path: &YamlPath,
    issues: &mut Issues,
) -> Duration {
    let Some(text) = text else {
        return duration::parse(default).unwrap_or_default();
    };
    let value = parse_duration(&text.0, path, issues);
    if value.is_zero() && duration::parse(&text.0).is_ok() {
        issues.push(
            path,
            "must be more than 0",
            format!("use a positive duration, e.g. `{default}`"),
        );
    }
    value
}

fn window_policy(layers: &[(&RawWindows, YamlPath)], issues: &mut Issues) -> Option<WindowPolicy> {
    let before = issues.0.len();
    let timezone = match pick(layers, |w| w.timezone.as_ref()) {
        None => Tz::UTC,
        Some((name, path)) => parse_timezone(name, &path.key("timezone"), issues),
    };
    let mut allow = Vec::new();
    if let Some((rules, path)) = pick(layers, |w| w.allow.as_ref()) {
        for (i, rule) in rules.iter().enumerate() {
            let here = path.key("allow").index(i);
            if rule.days.is_none() && rule.hours.is_none() {
                issues.push(
                    &here,
                    "an allow rule needs `days`, `hours` or both",
                    "e.g. `{ days: mon-fri, hours: \"09:00-17:00\" }`",
                );
                continue;
            }
            let days = rule.days.as_ref().map_or(DaySet::EVERY_DAY, |d| {
                parse_days(d, &here.key("days"), issues)
            });
            let hours = rule.hours.as_ref().map_or(HourRange::WHOLE_DAY, |h| {
                parse_hours(h, &here.key("hours"), issues)
            });
            let name = rule
                .name
                .clone()
                .unwrap_or_else(|| format!("allow {days} {hours}"));
            allow.push(AllowRule { name, days, hours });
        }
    }
    let mut deny = Vec::new();
    if let Some((rules, path)) = pick(layers, |w| w.deny.as_ref()) {
        for (i, rule) in rules.iter().enumerate() {
            if let Some(rule) = deny_rule(rule, &path.key("deny").index(i), timezone, issues) {
                deny.push(rule);
            }
        }
    }
    let mut holidays = Vec::new();
    if let Some((names, path)) = pick(layers, |w| w.holidays.as_ref()) {
        for (i, name) in names.iter().enumerate() {
            match HolidayCalendar::ALL.iter().find(|(n, _)| n == name) {
                Some((_, calendar)) => holidays.push(*calendar),
                None => {
                    let known: Vec<&str> = HolidayCalendar::ALL.iter().map(|(n, _)| *n).collect();
                    issues.push(
                        &path.key("holidays").index(i),
                        format!("unknown holiday calendar `{name}`"),
                        suggest("use one of", name, &known)
                            .replace(" (did", ", or list the dates under `extra_holidays` (did"),
                    );
                }
            }
        }
    }
    let mut extra_holidays = Vec::new();
    let mut floating_holidays = Vec::new();
    if let Some((dates, path)) = pick(layers, |w| w.extra_holidays.as_ref()) {
        for (i, text) in dates.iter().enumerate() {
            let here = path.key("extra_holidays").index(i);
            if is_floating(text) {
                if let Some(day) = parse_floating(text, &here, issues) {
                    floating_holidays.push(day);
                }
            } else if let Some(date) = parse_date(text, &here, issues) {
                extra_holidays.push(date);
            }
        }
    }
    let runway = duration_field(layers, |w| w.runway.as_ref(), "runway", "0", issues);
    let runway_source = if pick(layers, |w| w.runway.as_ref()).is_some() {
        RunwaySource::Configured
    } else {
        RunwaySource::Unset
    };
    if runway > Duration::from_secs(7 * 86_400) {
        let path = pick(layers, |w| w.runway.as_ref())
            .map(|(_, p)| p.key("runway"))
            .unwrap_or_default();
        issues.push(
            &path,
            "runway longer than a week",
            "runway is how long a deploy and its verification take, e.g. `30m`",
        );
    }
    let emergency_layers: Vec<(&RawEmergency, YamlPath)> = layers
        .iter()
        .filter_map(|(w, p)| w.emergency.as_ref().map(|e| (e, p.key("emergency"))))
        .collect();
    let emergency = EmergencyPolicy {
        allowed: pick(&emergency_layers, |e| e.allowed.as_ref()).is_none_or(|(v, _)| *v),
        min_reason_length: pick(&emergency_layers, |e| e.min_reason_length.as_ref())
            .map_or(15, |(v, _)| *v as usize),
        actors: pick(&emergency_layers, |e| e.actors.as_ref())
            .map(|(v, _)| v.clone())
            .unwrap_or_default(),
        requires_approval: pick(&emergency_layers, |e| e.requires_approval.as_ref())
            .is_some_and(|(v, _)| *v),
    };
    (issues.0.len() == before).then_some(WindowPolicy {
        timezone,
        allow,
        deny,
        holidays,
        extra_holidays,
        floating_holidays,
        runway,
        runway_source,
        emergency,
    })
}

fn deny_rule(
    raw: &RawDenyRule,
    path: &YamlPath,
    timezone: Tz,
    issues: &mut Issues,
) -> Option<DenyRule> {
    let weekly = raw.days.is_some() || raw.hours.is_some();
    let range = raw.from.is_some() || raw.to.is_some();
    let cron = raw.cron.is_some() || raw.duration.is_some();
    let forms = [weekly, range, cron].iter().filter(|f| **f).count();
    let hint = "a deny rule is one of: `days`/`hours` (weekly), `from`/`to` (dates), or `cron` + `duration`";
    if forms != 1 {
        let message = if forms == 0 {
            "empty deny rule"
        } else {
            "deny rule mixes forms"
        };
        issues.push(path, message, hint);
        return None;
    }
    let before = issues.0.len();
    let kind = if weekly {
        let days = raw.days.as_ref().map_or(DaySet::EVERY_DAY, |d| {
            parse_days(d, &path.key("days"), issues)
        });
        let hours = raw.hours.as_ref().map_or(HourRange::WHOLE_DAY, |h| {
            parse_hours(h, &path.key("hours"), issues)
        });
        DenyKind::Weekly { days, hours }
    } else if range {
        let (Some(from_text), Some(to_text)) = (&raw.from, &raw.to) else {
            issues.push(
                path,
                "a date range needs both `from` and `to`",
                "e.g. `from: 2026-11-27` and `to: 2026-11-30` (inclusive days)",
            );
            return None;
        };
        match (is_floating(from_text), is_floating(to_text)) {
            (true, true) => {
                let from = parse_floating(from_text, &path.key("from"), issues);
                let to = parse_floating(to_text, &path.key("to"), issues);
                let (from, to) = (from?, to?);
                let name = raw
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("deny {from} to {to} every year"));
                return (issues.0.len() == before).then_some(DenyRule {
                    name,
                    kind: DenyKind::Yearly { from, to },
                });
            }
            (false, false) => {}
            (floating_from, _) => {
                let key = if floating_from { "to" } else { "from" };
                issues.push(
                    &path.key(key),
                    "a range between a day that moves every year and a fixed date",
                    "write both ends as floating days (`from: black-friday`, `to: cyber-monday`: closed every year), or both as dates",
                );
                return None;
            }
        }
        let from = parse_bound(from_text, &path.key("from"), issues)?;
        let to = parse_bound(to_text, &path.key("to"), issues)?;
        if bound_start(from, timezone) >= bound_end(to, timezone) {
            issues.push(
                &path.key("to"),
                format!("`to` ({to}) is not after `from` ({from})"),
                "swap them, or fix the date",
            );
            return None;
        }
        DenyKind::Range { from, to }
    } else {
        let (Some(pattern), Some(duration_text)) = (&raw.cron, &raw.duration) else {
            issues.push(
                path,
                "a cron deny rule needs both `cron` and `duration`",
                "e.g. `cron: \"0 18 * * thu\"` and `duration: 14h`",
            );
            return None;
        };
        let cron = parse_cron(pattern, &path.key("cron"), issues);
        let duration = parse_any_duration(&duration_text.0, &path.key("duration"), issues);
        if duration.is_zero() && duration::parse(&duration_text.0).is_ok() {
            issues.push(
                &path.key("duration"),
                "must be more than 0",
                "how long each occurrence denies deploys, e.g. `14h`",
            );
        } else if duration > MAX_CRON_DURATION {
            issues.push(
                &path.key("duration"),
                format!("longer than {}", duration::Human(MAX_CRON_DURATION)),
                "for a long freeze use a date range: `from: 2026-12-18` and `to: 2027-01-04`",
            );
        }
        DenyKind::Cron {
            pattern: pattern.clone(),
            cron: Box::new(cron?),
            duration,
        }
    };
    let name = raw.name.clone().unwrap_or_else(|| match &kind {
        DenyKind::Weekly { days, hours } => format!("deny {days} {hours}"),
        DenyKind::Range { from, to } => format!("deny {from} to {to}"),
        DenyKind::Yearly { from, to } => format!("deny {from} to {to} every year"),
        DenyKind::Cron {
            pattern, duration, ..
        } => format!("deny `{pattern}` for {}", duration::Human(*duration)),
    });
    (issues.0.len() == before).then_some(DenyRule { name, kind })
}

/// Start instant of a range bound: a date starts at local midnight.
pub fn bound_start(bound: Bound, timezone: Tz) -> DateTime<chrono::Utc> {
    match bound {
        Bound::Date(date) => crate::time::local_instant(timezone, date, chrono::NaiveTime::MIN),
        Bound::Instant(at) => at.with_timezone(&chrono::Utc),
    }
}

/// End instant of a range bound: a date is inclusive, so it ends at the next local midnight.
pub fn bound_end(bound: Bound, timezone: Tz) -> DateTime<chrono::Utc> {
    match bound {
        Bound::Date(date) => {
            let next = date.succ_opt().unwrap_or(date);
            crate::time::local_instant(timezone, next, chrono::NaiveTime::MIN)
        }
        Bound::Instant(at) => at.with_timezone(&chrono::Utc),
    }
}

fn parse_timezone(name: &str, path: &YamlPath, issues: &mut Issues) -> Tz {
    match super::timezone::zone(name) {
        Zone::Canonical(zone) => zone,
        Zone::Link { zone, canonical } => {
            issues.warn(
                path,
                format!("`{name}` is an old name kept for compatibility: it is `{canonical}`"),
                format!("write `{canonical}`"),
            );
            zone
        }
        Zone::Refused { message, hint } => {
            issues.push(path, message, hint);
            Tz::UTC
        }
    }
}

const DAY_NAMES: [(&str, Weekday); 14] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

fn weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, day)| *day)
}

/// `mon-fri`, `sat,sun`, `fri-mon` (wraps over the weekend), or a list of such.
pub(crate) fn parse_days_text(items: &[String]) -> Result<DaySet, String> {
    let mut set = DaySet::empty();
    for item in items {
        for part in item.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((from, to)) => {
                    let (Some(from), Some(to)) = (weekday(from), weekday(to)) else {
                        return Err(format!("`{part}` is not a day range"));
                    };
                    let mut day = from;
                    loop {
                        set.insert(day);
                        if day == to {
                            break;
                        }
                        day = day.succ();
                    }
                }
                None => set.insert(
                    weekday(part).ok_or_else(|| format!("`{part}` is not a day of the week"))?,
                ),
            }
        }
    }
    if set.is_empty() {
        return Err("no days given".to_owned());
    }
    Ok(set)
}

fn parse_days(days: &Days, path: &YamlPath, issues: &mut Issues) -> DaySet {
    parse_days_text(&days.0).unwrap_or_else(|error| {
        issues.push(
            path,
            error,
            "write days as `mon-fri`, `sat,sun` or `fri` (mon tue wed thu fri sat sun)",
        );
        DaySet::EVERY_DAY
    })
}

/// `HH:MM-HH:MM` within one day; the end may be `24:00`.
pub(crate) fn parse_hours_text(text: &str) -> Result<HourRange, String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}` is not an hour range"))?;
    let minute = |part: &str| -> Result<u16, String> {
        let part = part.trim();
        let not_hhmm = || format!("`{part}` is not HH:MM");
        let (h, m) = part.split_once(':').ok_or_else(not_hhmm)?;
        let digits = |s: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(h, 1..=2) || !digits(m, 2..=2) {
            return Err(not_hhmm());
        }
        let (h, m): (u16, u16) = (
            h.parse().map_err(|_| not_hhmm())?,
            m.parse().map_err(|_| not_hhmm())?,
        );
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(format!("`{part}` is not a time of day"));
        }
        Ok(h * 60 + m)
    };
    let (start_minute, end_minute) = (minute(start)?, minute(end)?);
    if start_minute == 1440 {
        return Err("a range cannot start at 24:00".to_owned());
    }
    if end_minute <= start_minute {
        return Err(format!("`{text}` ends before it starts"));
    }
    Ok(HourRange {
        start_minute,
        end_minute,
    })
}

fn parse_hours(text: &str, path: &YamlPath, issues: &mut Issues) -> HourRange {
    parse_hours_text(text).unwrap_or_else(|error| {
        let hint = if error.contains("ends before it starts") {
            "ranges cannot cross midnight: split it into two rules, e.g. `17:00-24:00` and `00:00-09:00` on the next days"
        } else {
            "write hours as `\"09:00-17:00\"` (24-hour clock; `24:00` is allowed as an end)"
        };
        issues.push(path, error, hint);
        HourRange::WHOLE_DAY
    })
}

/// Each occurrence of a cron deny rule lasts at most this long.
const MAX_CRON_DURATION: Duration = Duration::from_secs(31 * 86_400);

fn parse_date(text: &str, path: &YamlPath, issues: &mut Issues) -> Option<NaiveDate> {
    let text = text.trim();
    // chrono's %Y takes `26-12-24` as the year 26; a four-digit year is required.
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        issues.push(
            path,
            format!("`{text}` is not a date"),
            "write dates as YYYY-MM-DD, e.g. `2026-12-24`",
        );
        return None;
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(error) => {
            issues.push(
                path,
                format!("`{text}` is not a date: {error}"),
                "write dates as YYYY-MM-DD, e.g. `2026-12-24`",
            );
            None
        }
    }
}

/// Whether a date-like value names a floating day (`black-friday`, `4th thu nov`) rather than a
/// date or an instant: those start with a digit, and an ordinal (`4th`) does too.
fn is_floating(text: &str) -> bool {
    let text = text.trim_start().to_ascii_lowercase();
    match text.strip_prefix(|c: char| c.is_ascii_digit()) {
        None => true,
        Some(rest) => ["st", "nd", "rd", "th"].iter().any(|s| rest.starts_with(s)),
    }
}

fn parse_floating(text: &str, path: &YamlPath, issues: &mut Issues) -> Option<FloatingDay> {
    match FloatingDay::parse(text) {
        Ok(day) => Some(day),
        Err(error) => {
            let names: Vec<&str> = FLOATING_NAMES.iter().map(|(name, ..)| *name).collect();
            let base = text
                .trim()
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
            let mut hint = format!(
                "write a date (`2026-11-27`), a named day ({}), or the nth weekday of a month (`4th thu nov`, `last mon may`), each with an optional offset in days (`thanksgiving+1`, `easter-2`)",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
            if let Some(best) = closest(base, &names) {
                hint.push_str(&format!(" (did you mean `{best}`?)"));
            }
            issues.push(path, error, hint);
            None
        }
    }
}

fn parse_bound(text: &str, path: &YamlPath, issues: &mut Issues) -> Option<Bound> {
    let text = text.trim();
    if text.len() == 10 {
        return parse_date(text, path, issues).map(Bound::Date);
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(at) => Some(Bound::Instant(at)),
        Err(error) => {
            issues.push(
                path,
                format!("`{text}` is neither a date nor an RFC 3339 datetime: {error}"),
                "write `2026-11-27` (a whole local day) or `2026-11-27T18:00:00-08:00`",
            );
            None
        }
    }
}

fn parse_cron(pattern: &str, path: &YamlPath, issues: &mut Issues) -> Option<croner::Cron> {
    let hint = "use 5 fields: minute hour day-of-month month day-of-week, e.g. `0 18 * * thu`";
    if pattern.split_whitespace().count() != 5 || pattern.trim_start().starts_with('@') {
        issues.push(
            path,
            format!("`{pattern}` is not a 5-field cron expression"),
            hint,
        );
        return None;
    }
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    match parser.parse(pattern) {
        Ok(cron) => {
            // A pattern such as `0 0 31 2 *` parses but never fires; it would deny nothing.
            let reference =
                chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(365 * 56);
            if cron.find_next_occurrence(&reference, true).is_err() {
                issues.push(
                    path,
                    format!("`{pattern}` never fires"),
                    "check the day-of-month and month fields",
                );
                return None;
            }
            Some(cron)
        }
        Err(error) => {
            issues.push(
                path,
                format!("bad cron expression `{pattern}`: {error}"),
                hint,
            );
            None
        }
    }
}

fn health_policy(
    raw: Option<&RawHealth>,
    path: &YamlPath,
    has_url: bool,
    issues: &mut Issues,
) -> HealthPolicy {
    let empty = RawHealth::default();
    let raw = raw.unwrap_or(&empty);
    let d = |text: Option<&DurationText>, key: &str, default: &str, issues: &mut Issues| {
        positive_duration(text, default, &path.key(key), issues)
    };
    let initial_delay = match &raw.initial_delay {
        Some(text) => parse_duration(&text.0, &path.key("initial_delay"), issues),
        None => Duration::from_secs(10),
    };
    let interval = d(raw.interval.as_ref(), "interval", "10s", issues);
    if interval < Duration::from_secs(1) && !interval.is_zero() {
        issues.push(
            &path.key("interval"),
            "the interval between rounds must be at least 1s",
            "use e.g. `10s`",
        );
    }
    let deadline = d(raw.deadline.as_ref(), "deadline", "5m", issues);
    let request_timeout = d(
        raw.request_timeout.as_ref(),
        "request_timeout",
        "5s",
        issues,
    );
    let p95_latency = raw
        .p95_latency
        .as_ref()
        .map(|t| positive_duration(Some(t), "3s", &path.key("p95_latency"), issues));
    if deadline <= initial_delay && raw.deadline.is_some() {
        issues.push(
            &path.key("deadline"),
            "the deadline ends before the first round",
            "make `deadline` longer than `initial_delay`",
        );
    }
    let consecutive_successes = raw.consecutive_successes.unwrap_or(3);
    if consecutive_successes == 0 {
        issues.push(
            &path.key("consecutive_successes"),
            "must be at least 1",
            "use e.g. `3`: rounds in a row with every endpoint passing",
        );
    }
    let consecutive_error_limit = raw.consecutive_error_limit.unwrap_or(4);
    let mut endpoints = Vec::new();
    match &raw.endpoints {
        // Without a URL there is nothing to probe by default; Fly machine state still counts.
        None if !has_url => {}
        None => endpoints.push(Endpoint {
            path: "/health".to_owned(),
            status: vec![200],
            json: BTreeMap::new(),
            fallback: None,
            prometheus: false,
        }),
        Some(list) => {
            for (i, endpoint) in list.iter().enumerate() {
                let here = path.key("endpoints").index(i);
                check_probe_path(&endpoint.path, &here.key("path"), issues);
                let status = status_codes(endpoint.status.as_ref(), &here.key("status"), issues);
                let json = endpoint.json.clone().map(|m| m.0).unwrap_or_default();
                for (pointer, expected) in &json {
                    if !(pointer.is_empty() || pointer.starts_with('/')) {
                        issues.push(
                            &here.key("json").key(pointer),
                            format!("`{pointer}` is not a JSON Pointer"),
                            format!("JSON Pointers start with `/`, e.g. `/{pointer}`"),
                        );
                    }
                    if let Err(bad) = placeholder::check(expected) {
                        issues.push(
                            &here.key("json").key(pointer),
                            format!("`{bad}` is not a placeholder"),
                            placeholder_hint(&bad),
                        );
                    }
                }
                let fallback = endpoint.fallback.as_ref().map(|f| {
                    let there = here.key("fallback");
                    check_probe_path(&f.path, &there.key("path"), issues);
                    Fallback {
                        path: f.path.clone(),
                        status: status_codes(f.status.as_ref(), &there.key("status"), issues),
                        when: fallback_when(f.when.as_ref(), &status, &there.key("when"), issues),
                    }
                });
                endpoints.push(Endpoint {
                    path: endpoint.path.clone(),
                    status,
                    json,
                    fallback,
                    prometheus: endpoint.prometheus.unwrap_or(false),
                });
            }
        }
    }
    let mut headers = Vec::new();
    for (i, header) in raw.headers.iter().flatten().enumerate() {
        if header.is_empty()
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
        {
            issues.push(
                &path.key("headers").index(i),
                format!("`{header}` is not a header name"),
                "write the header name only, e.g. `strict-transport-security`",
            );
        } else {
            headers.push(header.to_ascii_lowercase());
        }
    }
    HealthPolicy {
        initial_delay,
        interval,
        deadline,
        consecutive_successes,
        failure_limit: raw.failure_limit.unwrap_or(0),
        consecutive_error_limit,
        request_timeout,
        p95_latency,
        machines: raw.machines.unwrap_or(true),
        tls_min_days: raw.tls_min_days,
        headers,
        endpoints,
    }
}

fn check_probe_path(text: &str, path: &YamlPath, issues: &mut Issues) {
    if !text.starts_with('/') || text.contains(char::is_whitespace) || text.starts_with("//") {
        issues.push(
            path,
            format!("`{text}` is not a path on the app"),
            "write a path relative to the environment's `url`, starting with `/`, e.g. `/health`",
        );
    }
}

fn status_codes(codes: Option<&Vec<u16>>, path: &YamlPath, issues: &mut Issues) -> Vec<u16> {
    let Some(codes) = codes else { return vec![200] };
    if codes.is_empty() {
        issues.push(
            path,
            "no status codes listed",
            "list the accepted codes, e.g. `[200]`",
        );
    }
    for (i, code) in codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            issues.push(
                &path.index(i),
                format!("{code} is not an HTTP status code"),
                "use codes from 100 to 599, e.g. `200` or `302`",
            );
        }
    }
    codes.clone()
}

/// The hint for a `${...}` that is not a placeholder: the closest one, and the three there are.
fn placeholder_hint(bad: &str) -> String {
    let names = Placeholder::ALL.map(Placeholder::name);
    let given = bad.trim_start_matches("${").trim_end_matches('}').trim();
    let all = "the placeholders are `${sha}` (the deployed commit), `${version}` (the Fly release version) and `${image}` (the deployed image)";
    match closest(given, &names) {
        Some(name) => format!("did you mean `${{{name}}}`? {all}"),
        None => all.to_owned(),
    }
}

/// A fallback's `when`: the endpoint's statuses that mean it does not exist. Default `[404, 405]`.
/// A status the endpoint accepts, or a 5xx but 501 (the app answering badly), is refused: the
/// fallback must never stand in for a sick app.
fn fallback_when(
    codes: Option<&Vec<u16>>,
    accepted: &[u16],
    path: &YamlPath,
    issues: &mut Issues,
) -> Vec<u16> {
    let Some(codes) = codes else {
        return vec![404, 405];
    };
    if codes.is_empty() {
        issues.push(
            path,
            "no status codes listed: the fallback would never be probed",
            "list the endpoint's answers that mean it does not exist, e.g. `[404, 405]`, or remove `fallback`",
        );
    }
    for (i, code) in codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            issues.push(
                &path.index(i),
                format!("{code} is not an HTTP status code"),
                "use codes from 100 to 599, e.g. `404`",
            );
        } else if accepted.contains(code) {
            issues.push(
                &path.index(i),
                format!("{code} is also in the endpoint's `status`: the endpoint cannot both pass and be missing with it"),
                format!("remove {code} from one of the two lists"),
            );
        } else if (500..=599).contains(code) && *code != 501 {
            issues.push(
                &path.index(i),
                format!("{code} means the app answered badly, not that it has no such endpoint"),
                "a fallback must not hide a failing endpoint: list statuses such as `404` or `405`",
            );
        }
    }
    codes.clone()
}

fn rollback_policy(
    raw: Option<&RawRollback>,
    path: &YamlPath,
    issues: &mut Issues,
) -> RollbackPolicy {
    let empty = RawRollback::default();
    let raw = raw.unwrap_or(&empty);
    if let Some(workflow) = &raw.workflow {
        let is_file =
            (workflow.ends_with(".yml") || workflow.ends_with(".yaml")) && !workflow.contains('/');
        let is_id = !workflow.is_empty() && workflow.bytes().all(|b| b.is_ascii_digit());
        if !is_file && !is_id {
            issues.push(
                &path.key("workflow"),
                format!("`{workflow}` is not a workflow file name or id"),
                "name the file in .github/workflows, e.g. `rollback-production.yml`",
            );
        }
    }
    let git_ref = raw.git_ref.clone().unwrap_or_else(|| "main".to_owned());
    if git_ref.trim().is_empty() {
        issues.push(
            &path.key("ref"),
            "empty ref",
            "the branch the rollback workflow runs on, e.g. `main`",
        );
    }
    let direct = raw.direct.unwrap_or(true);
    if !direct && raw.workflow.is_none() {
        issues.push(path, "no rollback path: `direct` is false and no `workflow` is set", "set `direct: true` (redeploy the previous image) and/or `workflow: rollback-production.yml`");
    }
    let max_consecutive = raw.max_consecutive.unwrap_or(3);
    if max_consecutive == 0 {
        issues.push(
            &path.key("max_consecutive"),
            "must be at least 1",
            "use e.g. `3`; to turn rollbacks off is not supported",
        );
    }
    // 0s would be missed by every rollback: a typo, not a target.
    let recovery_target = raw
        .recovery_target
        .as_ref()
        .map(|text| positive_duration(Some(text), "5m", &path.key("recovery_target"), issues));
    RollbackPolicy {
        workflow: raw.workflow.clone(),
        git_ref,
        direct,
        max_consecutive,
        recovery_target,
    }
}

fn notify_policy(raw: Option<&RawNotify>, path: &YamlPath, issues: &mut Issues) -> NotifyPolicy {
    let Some(raw) = raw else {
        return NotifyPolicy::default();
    };
    let mut channels = Vec::new();
    let webhook_events = events(raw.events.as_ref(), &path.key("events"), issues);
    if raw.webhook.unwrap_or(false) {
        channels.push(NotifyChannel {
            kind: ChannelKind::Webhook,
            events: webhook_events,
        });
    } else if raw.events.is_some() {
        issues.push(
            &path.key("events"),
            "`events` lists the events of `webhook`, which is off",
            "set `webhook: true`, or list the events under the channel (e.g. `slack: {events: [...]}`)",
        );
    }
    let chats = [
        ("slack", &raw.slack, "SHIPGATE_SLACK_WEBHOOK_URL"),
        ("teams", &raw.teams, "SHIPGATE_TEAMS_WEBHOOK_URL"),
        ("discord", &raw.discord, "SHIPGATE_DISCORD_WEBHOOK_URL"),
    ];
    for (key, chat, default) in chats {
        let Some(chat) = chat else { continue };
        let here = path.key(key);
        let url_env = variable_name(chat.url_env.as_ref(), default, &here.key("url_env"), issues);
        let kind = match key {
            "slack" => ChannelKind::Slack { url_env },
            "teams" => ChannelKind::Teams { url_env },
            _ => ChannelKind::Discord { url_env },
        };
        channels.push(NotifyChannel {
            kind,
            events: events(chat.events.as_ref(), &here.key("events"), issues),
        });
    }
    if let Some(email) = &raw.email {
        let here = path.key("email");
        if email.to.is_empty() {
            issues.push(
                &here.key("to"),
                "no recipients",
                "list at least one address, e.g. `to: [oncall@example.com]`",
            );
        }
        for (i, to) in email.to.iter().enumerate() {
            mailbox(to, &here.key("to").index(i), issues);
        }
        mailbox(&email.from, &here.key("from"), issues);
        channels.push(NotifyChannel {
            kind: ChannelKind::Email {
                to: email.to.clone(),
                from: email.from.clone(),
                smtp_url_env: variable_name(
                    email.smtp_url_env.as_ref(),
                    "SHIPGATE_SMTP_URL",
                    &here.key("smtp_url_env"),
                    issues,
                ),
            },
            events: events(email.events.as_ref(), &here.key("events"), issues),
        });
    }
    NotifyPolicy { channels }
}

/// A channel's events: known names, each once; none listed is the default set.
fn events(raw: Option<&Vec<String>>, path: &YamlPath, issues: &mut Issues) -> Vec<NotifyEvent> {
    let Some(raw) = raw else {
        return NotifyEvent::DEFAULT.to_vec();
    };
    let known: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.as_str()).collect();
    let mut events = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        match NotifyEvent::parse(name) {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => issues.push(
                &path.index(i),
                format!("`{name}` is listed twice"),
                "list each event once",
            ),
            None => issues.push(
                &path.index(i),
                format!("unknown event `{name}`"),
                suggest("use one of", name, &known),
            ),
        }
    }
    if raw.is_empty() {
        issues.push(
            path,
            "no events: this channel would never send",
            format!("list some of {}, or remove the channel", known.join(", ")),
        );
    }
    events.sort();
    events
}

/// An email address (`a@b.example`) or a mailbox (`Name <a@b.example>`), as SMTP will take it.
fn mailbox(text: &str, path: &YamlPath, issues: &mut Issues) {
    if text.parse::<lettre::message::Mailbox>().is_err() {
        issues.push(
            path,
            format!("`{text}` is not an email address"),
            "write `name@example.com` or `Name <name@example.com>`",
        );
    }
}

/// The name of the variable holding a value (never the value itself).
fn variable_name(
    value: Option<&String>,
    default: &str,
    path: &YamlPath,
    issues: &mut Issues,
) -> String {
    let Some(value) = value else {
        return default.to_owned();
    };
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        issues.push(
            path,
            format!("`{value}` is not an environment variable name"),
            format!("name the variable that holds it, e.g. `{default}`; never the value itself"),
        );
    }
    value.clone()
}

fn check_requires_cycles(raw: &RawConfig, issues: &mut Issues) {
    fn visit<'a>(
        name: &'a str,
        raw: &'a RawConfig,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = stack.iter().position(|n| *n == name) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(name);
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        stack.push(name);
        let env = raw.environments.get(name)?;
        for next in env.requires.iter().flatten() {
            if next != name && raw.environments.contains_key(next) {
                if let Some(cycle) = visit(next, raw, stack, done) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for name in raw.environments.keys() {
        if let Some(cycle) = visit(name, raw, &mut Vec::new(), &mut done) {
            issues.push(&YamlPath::root().key("environments").key(cycle[0]).key("requires"), format!("`requires` forms a cycle: {}", cycle.join(" -> ")), "remove one of the requirements; staging is required by production, not the other way round");
            return;
        }
    }
}
