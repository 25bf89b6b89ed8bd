//! Property tests: the config parser and the window evaluator never panic, and the window's
//! answers agree with each other (a promised opening is open).

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use shipgate::config;
use shipgate::decision::{Evidence, Status};
use shipgate::gate::window;

const EXAMPLE: &str = include_str!("../../examples/shipgate.yml");

fn check_diagnostics(text: &str) {
    if let Err(config::ConfigError::Invalid { diagnostics, .. }) =
        config::parse(Path::new("p.yml"), text)
    {
        assert!(!diagnostics.is_empty());
        let lines = text.lines().count() + 1;
        for diagnostic in diagnostics {
            assert!(
                !diagnostic.message.is_empty() && !diagnostic.hint.is_empty(),
                "{diagnostic:?}"
            );
            if let Some(line) = diagnostic.line {
                assert!(
                    line >= 1 && line <= lines,
                    "line {line} of {lines}: {diagnostic:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,400}") {
        check_diagnostics(&text);
    }

    #[test]
    fn any_edit_of_the_example_parses_or_fails_cleanly(
        at in 0usize..EXAMPLE.len(),
        cut in 0usize..40,
        insert in prop::sample::select(vec!["", ":", "- ", "[", "]", "{", "\"", "'", "\n", "  ", "\t", "*", "&a", "!!str ", "24:00", "-1", "99999999999", "null", "~", "é"]),
    ) {
        let mut text = EXAMPLE.to_owned();
        let start = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + cut).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, insert);
        check_diagnostics(&text);
    }
}

const ZONES: [&str; 6] = [
    "UTC",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
];

#[derive(Debug, Clone)]
struct Policy {
    zone: &'static str,
    allow: Vec<(u8, u8, u16, u16)>,
    deny_weekly: Option<(u8, u16, u16)>,
    deny_cron: Option<(u8, u8, u8, u16)>,
    holidays: bool,
    runway_minutes: u16,
}

fn hours(start: u16, end: u16) -> String {
    format!(
        "\"{:02}:{:02}-{:02}:{:02}\"",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Policy {
    fn yaml(&self) -> String {
        let mut text = format!(
            "version: 1\nchecks: {{ required: [ci] }}\nwindows:\n  timezone: {}\n",
            self.zone
        );
        if !self.allow.is_empty() {
            text.push_str("  allow:\n");
            for (first, last, start, end) in &self.allow {
                text.push_str(&format!(
                    "    - {{ days: {}-{}, hours: {} }}\n",
                    DAYS[*first as usize],
                    DAYS[*last as usize],
                    hours(*start, *end)
                ));
            }
        }
        let mut deny = Vec::new();
        if let Some((day, start, end)) = self.deny_weekly {
            deny.push(format!(
                "    - {{ days: {}, hours: {} }}\n",
                DAYS[day as usize],
                hours(start, end)
            ));
        }
        if let Some((minute, hour, dow, duration)) = self.deny_cron {
            deny.push(format!(
                "    - {{ cron: \"{minute} {hour} * * {dow}\", duration: {duration}m }}\n"
            ));
        }
        if !deny.is_empty() {
            text.push_str("  deny:\n");
            text.extend(deny);
        }
        if self.holidays {
            text.push_str("  holidays: [us-federal]\n");
        }
        text.push_str(&format!(
            "  runway: {}m\nenvironments:\n  production: {{ app: demo }}\n",
            self.runway_minutes
        ));
        text
    }
}

fn range() -> impl Strategy<Value = (u16, u16)> {
    (0u16..1439).prop_flat_map(|start| (Just(start), (start + 1)..=1440))
}

fn policies() -> impl Strategy<Value = Policy> {
    (
        prop::sample::select(ZONES.to_vec()),
        prop::collection::vec(
            (0u8..7, 0u8..7, range()).prop_map(|(a, b, (s, e))| (a, b, s, e)),
            0..3,
        ),
        prop::option::of((0u8..7, range()).prop_map(|(d, (s, e))| (d, s, e))),
        prop::option::of((0u8..60, 0u8..24, 0u8..7, 1u16..(48 * 60))),
        any::<bool>(),
        0u16..600,
    )
        .prop_map(
            |(zone, allow, deny_weekly, deny_cron, holidays, runway_minutes)| Policy {
                zone,
                allow,
                deny_weekly,
                deny_cron,
                holidays,
                runway_minutes,
            },
        )
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2020-01-01 .. 2035-01-01, to the minute.
    (0i64..(15 * 366 * 24 * 60)).prop_map(|minutes| {
        Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    })
}

fn open_and_next(
    verdict: &shipgate::decision::Verdict,
) -> (bool, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match &verdict.evidence[0] {
        Evidence::Window {
            open,
            closes_at,
            next_opening,
            ..
        } => (
            *open,
            closes_at.as_ref().map(|w| w.utc),
            next_opening.as_ref().map(|w| w.utc),
        ),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn window_answers_agree_with_each_other(policy in policies(), now in instant()) {
        let yaml = policy.yaml();
        let config = config::parse(Path::new("p.yml"), &yaml).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
        let windows = config.windows.expect("windows");
        let runway = Duration::minutes(i64::from(policy.runway_minutes));
        let verdict = window::evaluate(Some(&windows), now, None);
        let (open, closes_at, next_opening) = open_and_next(&verdict);
        prop_assert_eq!(verdict.status == Status::Pass, open);
        if open {
            // Open means open for at least the runway.
            if let Some(closes) = closes_at {
                prop_assert!(closes - now >= runway, "closes {closes} now {now}");
            }
        } else if let Some(next) = next_opening {
            // The promised opening is open, and it is the first one.
            prop_assert!(next >= now);
            let (open_then, ..) = open_and_next(&window::evaluate(Some(&windows), next, None));
            prop_assert!(open_then, "promised {next} from {now}\n{yaml}");
            if next > now {
                let before = next - Duration::seconds(1);
                let (open_before, ..) = open_and_next(&window::evaluate(Some(&windows), before, None));
                prop_assert!(!open_before, "open at {before} before the promised {next}\n{yaml}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Durations: any text parses to a duration or fails with a message; what parses prints back
    /// to a text that parses to the same duration.
    #[test]
    fn any_duration_text_parses_or_fails_cleanly(text in "\\PC{0,40}") {
        match config::duration::parse(&text) {
            Ok(parsed) => {
                let shown = config::duration::Human(parsed).to_string();
                prop_assert_eq!(config::duration::parse(&shown).ok(), Some(parsed), "{}", shown);
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    /// Action inputs: any values map onto CLI arguments clap accepts, or name the bad input.
    #[test]
    fn any_action_inputs_map_or_name_the_bad_input(
        command in prop::sample::select(shipgate::action::inputs::COMMANDS.to_vec()),
        values in prop::collection::vec(("[a-z-]{1,12}", "\\PC{0,30}"), 0..8),
    ) {
        let vars = std::iter::once(("INPUT_COMMAND".to_owned(), command.to_owned())).chain(
            values
                .into_iter()
                .map(|(name, value)| (shipgate::action::inputs::env_name(&name), value)),
        );
        let inputs = shipgate::action::Inputs::from_env(vars);
        match shipgate::action::arguments(&inputs, Some("abc123")) {
            Ok((argv, _)) => {
                // Whatever clap says, it says it without panicking, and the command is kept.
                let parsed = <shipgate::cli::Cli as clap::Parser>::try_parse_from(&argv);
                if let Ok(cli) = parsed {
                    let shown = format!("{:?}", cli.command).to_lowercase();
                    prop_assert!(shown.starts_with(command), "{} vs {}", shown, command);
                }
            }
            Err(error) => {
                prop_assert!(!error.input.is_empty());
                prop_assert!(!error.hint.is_empty());
            }
        }
    }

    /// fly's JSON: any text, and any JSON value, parses or fails with an error naming the command.
    #[test]
    fn any_fly_output_parses_or_names_the_command(text in "\\PC{0,200}") {
        for (result, command) in [
            (shipgate::fly::parse_releases(&text).map(drop), "fly releases --json"),
            (shipgate::fly::parse_machines(&text).map(drop), "fly machine list --json"),
            (shipgate::fly::parse_status(&text).map(drop), "fly status --json"),
        ] {
            if let Err(error) = result {
                prop_assert!(error.to_string().contains(command), "{}", error);
            }
        }
    }

    #[test]
    fn any_json_shape_from_fly_is_read_leniently(value in json_value()) {
        let text = value.to_string();
        // Fields of the wrong type read as absent: a list of objects is always read.
        let releases = shipgate::fly::parse_releases(&text);
        if value.as_array().is_some_and(|list| list.iter().all(serde_json::Value::is_object)) {
            prop_assert!(releases.is_ok(), "{:?}", releases.err());
        }
        let _ = shipgate::fly::parse_machines(&text);
    }
}

/// Arbitrary JSON of a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "Version", "Status", "ImageRef", "id", "state", "config", "checks", "metadata"
                ]),
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
