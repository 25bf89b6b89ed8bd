//! Which of an app's machines the health gate counts, and how: the pure reading of one
//! `fly machine list --json` answer into a [`MachineState`].
//!
//! `fly machine list` shows every machine of the app. Only the machines that serve the deployed
//! release count:
//!
//! - not the release command's machine (`fly_app_release_command`), a console (`fly_app_console`,
//!   or `console`), or one of the test machines `fly deploy` runs (`fly_app_test_machine_command`);
//! - not a one-off: a machine with no process group that is not on the Fly Apps platform
//!   (`fly_platform_version` `v2`, which `fly deploy` writes on every machine it manages);
//! - not a standby (`config.standbys` names the machines it stands by for): `fly deploy` leaves
//!   standbys stopped;
//! - not destroyed or being destroyed;
//! - of the release (`config.metadata.fly_release_version`): the deployed one when known, else the
//!   highest among the machines left; when none of those names a release, all of them count.
//!
//! A counted machine is in its process group (`app` when it names none, as `fly deploy` does),
//! and is one of:
//!
//! - started: its checks pass when every configured check (`config.checks`,
//!   `config.services[].checks`) has reported `passing`, or when none is configured; a result
//!   other than `passing` makes it unhealthy; fewer results than configured checks is **pending**
//!   (after an `immediate` deploy flyctl does not wait for them);
//! - stopped or suspended with a service that stops or starts it on demand (`autostop`,
//!   `autostart`): left so by `fly deploy`, not a failure;
//! - anything else (stopped without autostop, `created`, `failed`, `replacing`, ...): unhealthy.
//!
//! The gate then wants, per serving group, at least one started machine (see
//! [`MachineState::healthy`]).

use std::collections::BTreeMap;

use crate::facts::fly::{
    CheckStatus, Machine, MachineState as State, CONSOLE_GROUP, DEFAULT_GROUP, TEST_MACHINE_GROUP,
};
pub use crate::facts::health::{GroupState, MachineNote, MachineState};

/// Why a machine does not count, or `None` when it serves (before the release is considered).
fn not_serving(machine: &Machine) -> Option<String> {
    if matches!(machine.state, State::Destroying | State::Destroyed) {
        return Some(machine.state.as_str().to_owned());
    }
    if machine.is_release_command() {
        return Some("release command".to_owned());
    }
    match machine.process_group() {
        Some(CONSOLE_GROUP | "console") => return Some("console".to_owned()),
        Some(TEST_MACHINE_GROUP) => return Some("test machine".to_owned()),
        None if !machine.on_apps_platform() => return Some("one-off, not deployed".to_owned()),
        _ => {}
    }
    let standby_for = machine.standby_for();
    if !standby_for.is_empty() {
        return Some(format!("standby for {}", standby_for.join(", ")));
    }
    None
}

/// How a counted machine stands.
enum Standing {
    Passing,
    Pending,
    Unhealthy(String),
    LeftStopped,
}

fn standing(machine: &Machine) -> Standing {
    match &machine.state {
        State::Started => {}
        State::Stopped | State::Suspended if machine.autoscaled() => return Standing::LeftStopped,
        State::Other(state) if state.is_empty() => {
            return Standing::Unhealthy("no state".to_owned())
        }
        state => return Standing::Unhealthy(state.as_str().to_owned()),
    }
    if let Some(check) = machine
        .check_results()
        .find(|c| c.status != CheckStatus::Passing)
    {
        let status = match check.status.as_str() {
            "" => "with no status",
            status => status,
        };
        return Standing::Unhealthy(format!("check {} {status}", check.name));
    }
    if machine.check_results().count() < machine.configured_checks() {
        Standing::Pending
    } else {
        Standing::Passing
    }
}

/// The health gate's count of `machines` (one `fly machine list --json` answer) for `release`,
/// the version the deploy made when known.
pub fn count(machines: &[Machine], release: Option<u64>) -> MachineState {
    let mut state = MachineState::default();
    let mut serving: Vec<&Machine> = Vec::new();
    for machine in machines {
        match not_serving(machine) {
            Some(reason) => state.ignored.push(note(machine, reason)),
            None => serving.push(machine),
        }
    }
    state.release = release.or_else(|| serving.iter().filter_map(|m| m.release_version()).max());
    let mut groups: BTreeMap<&str, GroupState> = BTreeMap::new();
    for machine in serving {
        if let Some(release) = state.release {
            match machine.release_version() {
                Some(version) if version == release => {}
                Some(version) => {
                    state
                        .ignored
                        .push(note(machine, format!("release v{version}")));
                    continue;
                }
                None => {
                    state
                        .ignored
                        .push(note(machine, "no release version".to_owned()));
                    continue;
                }
            }
        }
        let name = machine.process_group().unwrap_or(DEFAULT_GROUP);
        let group = groups.entry(name).or_insert_with(|| GroupState {
            name: name.to_owned(),
            ..GroupState::default()
        });
        group.total += 1;
        group.started += usize::from(machine.state == State::Started);
        match standing(machine) {
            Standing::Passing => group.checks_passing += 1,
            Standing::Pending => state.pending.push(machine.id.clone()),
            Standing::LeftStopped => group.left_stopped += 1,
            Standing::Unhealthy(reason) => state.unhealthy.push(note(machine, reason)),
        }
    }
    state.groups = groups.into_values().collect();
    state
}

fn note(machine: &Machine, reason: String) -> MachineNote {
    MachineNote {
        id: machine.id.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A machine as `fly machine list --json` shows it: started, on the platform, in group
    /// `app`, release 7, no checks configured and no results; `tweak` changes the JSON.
    fn machine(id: &str, tweak: impl FnOnce(&mut Value)) -> Machine {
        let mut value = json!({
            "id": id,
            "state": "started",
            "image_ref": {"registry": "registry.fly.io", "repository": "app", "tag": "deployment-7"},
            "config": {
                "image": "registry.fly.io/app:deployment-7",
                "metadata": {
                    "fly_release_version": "7",
                    "fly_process_group": "app",
                    "fly_platform_version": "v2"
                },
                "services": [],
                "checks": {}
            },
            "checks": [],
            "host_status": "ok",
            "cordoned": false
        });
        tweak(&mut value);
        serde_json::from_value(value).expect("a machine")
    }

    fn plain(id: &str) -> Machine {
        machine(id, |_| {})
    }

    fn group(m: &mut Value, name: &str) {
        m["config"]["metadata"]["fly_process_group"] = json!(name);
    }

    fn release(m: &mut Value, version: &str) {
        m["config"]["metadata"]["fly_release_version"] = json!(version);
    }

    fn stopped(m: &mut Value) {
        m["state"] = json!("stopped");
    }

    fn autostop(m: &mut Value, value: Value) {
        m["config"]["services"] = json!([{"protocol": "tcp", "internal_port": 8080, "autostop": value, "autostart": true, "min_machines_running": 0}]);
    }

    fn http_check(m: &mut Value) {
        m["config"]["checks"] =
            json!({"alive": {"type": "http", "port": 8080, "path": "/healthz"}});
    }

    fn result(m: &mut Value, name: &str, status: &str) {
        m["checks"]
            .as_array_mut()
            .expect("checks")
            .push(json!({"name": name, "status": status, "output": ""}));
    }

    fn ids(notes: &[MachineNote]) -> Vec<String> {
        notes
            .iter()
            .map(|n| format!("{} ({})", n.id, n.reason))
            .collect()
    }

    fn groups(state: &MachineState) -> Vec<String> {
        state
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{}: {}/{} started, {} left stopped, {} passing",
                    g.name, g.started, g.total, g.left_stopped, g.checks_passing
                )
            })
            .collect()
    }

    #[test]
    fn only_serving_machines_of_the_release_count() {
        let machines = vec![
            plain("app1"),
            machine("app2", |m| {
                stopped(m);
                autostop(m, json!(true));
                http_check(m);
            }),
            machine("worker1", |m| group(m, "worker")),
            machine("standby1", |m| {
                group(m, "worker");
                stopped(m);
                m["config"]["standbys"] = json!(["worker1"]);
            }),
            machine("release1", |m| {
                group(m, "fly_app_release_command");
                stopped(m);
            }),
            machine("console1", |m| {
                group(m, "fly_app_console");
                release(m, "6");
            }),
            machine("console2", |m| group(m, "console")),
            machine("tester1", |m| group(m, "fly_app_test_machine_command")),
            machine("oneoff1", |m| {
                m["config"]["metadata"] = json!({});
            }),
            machine("old1", |m| release(m, "6")),
            machine("gone1", |m| m["state"] = json!("destroying")),
        ];
        let state = count(&machines, Some(7));
        assert_eq!(state.release, Some(7));
        assert_eq!(
            groups(&state),
            [
                "app: 1/2 started, 1 left stopped, 1 passing",
                "worker: 1/1 started, 0 left stopped, 1 passing"
            ]
        );
        assert_eq!(
            ids(&state.ignored),
            [
                "standby1 (standby for worker1)",
                "release1 (release command)",
                "console1 (console)",
                "console2 (console)",
                "tester1 (test machine)",
                "oneoff1 (one-off, not deployed)",
                "gone1 (destroying)",
                "old1 (release v6)",
            ]
        );
        assert!(state.unhealthy.is_empty() && state.pending.is_empty());
        assert!(state.healthy());
    }

    #[test]
    fn the_release_defaults_to_the_highest_among_serving_machines() {
        let machines = vec![
            machine("a", |m| release(m, "8")),
            machine("b", |m| release(m, "7")),
            // Release commands and consoles do not pick the release.
            machine("r", |m| {
                group(m, "fly_app_release_command");
                release(m, "9");
            }),
            machine("n", |m| {
                m["config"]["metadata"]
                    .as_object_mut()
                    .expect("metadata")
                    .remove("fly_release_version");
            }),
        ];
        let state = count(&machines, None);
        assert_eq!(state.release, Some(8));
        assert_eq!(state.total(), 1);
        assert_eq!(
            ids(&state.ignored),
            [
                "r (release command)",
                "b (release v7)",
                "n (no release version)"
            ]
        );
        // A known release wins, even over higher ones.
        assert_eq!(count(&machines, Some(7)).total(), 1);
        assert_eq!(count(&machines, Some(7)).release, Some(7));
    }

    #[test]
    fn with_no_release_named_anywhere_every_serving_machine_counts() {
        let unversioned = |id: &str| {
            machine(id, |m| {
                m["config"]["metadata"] = json!({"fly_process_group": "app"});
            })
        };
        let state = count(&[unversioned("a"), unversioned("b")], None);
        assert_eq!(state.release, None);
        assert_eq!(state.total(), 2);
        assert_eq!(state.release_label(), "the new version");
    }

    #[test]
    fn a_platform_machine_without_a_group_is_in_app() {
        let state = count(
            &[machine("a", |m| {
                m["config"]["metadata"] =
                    json!({"fly_platform_version": "v2", "fly_release_version": "7"});
            })],
            None,
        );
        assert_eq!(
            groups(&state),
            ["app: 1/1 started, 0 left stopped, 1 passing"]
        );
    }

    #[test]
    fn a_group_with_no_started_machine_is_down() {
        let state = count(
            &[
                plain("app1"),
                machine("worker1", |m| {
                    group(m, "worker");
                    stopped(m);
                }),
                machine("worker2", |m| {
                    group(m, "worker");
                    m["state"] = json!("failed");
                }),
            ],
            Some(7),
        );
        assert_eq!(
            state
                .groups_down()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>(),
            ["worker"]
        );
        assert_eq!(
            ids(&state.unhealthy),
            ["worker1 (stopped)", "worker2 (failed)"]
        );
        assert!(!state.healthy());
    }

    #[test]
    fn autostopped_machines_are_no_failure_but_a_group_needs_one_started() {
        let asleep = |id: &str, value: Value| {
            machine(id, move |m| {
                m["state"] = json!("suspended");
                autostop(m, value);
            })
        };
        let one_up = count(
            &[
                plain("up"),
                asleep("z1", json!("suspend")),
                asleep("z2", json!("stop")),
            ],
            Some(7),
        );
        assert!(one_up.healthy(), "{one_up:?}");
        assert_eq!(one_up.left_stopped(), 2);

        let all_asleep = count(&[asleep("z1", json!(true))], Some(7));
        assert!(all_asleep.unhealthy.is_empty());
        assert_eq!(all_asleep.groups_down().count(), 1);
        assert!(!all_asleep.healthy());

        // `autostop: false` (or "off") without autostart: a stopped machine is a failure.
        let off = count(
            &[
                plain("up"),
                machine("z", |m| {
                    stopped(m);
                    m["config"]["services"] = json!([{"autostop": "off"}]);
                }),
            ],
            Some(7),
        );
        assert_eq!(ids(&off.unhealthy), ["z (stopped)"]);
    }

    #[test]
    fn checks_configured_without_results_are_pending_not_passing() {
        let cases: Vec<(&str, Machine, &str)> = vec![
            ("no checks configured, no results", plain("m"), "passing"),
            (
                "top-level check, no result",
                machine("m", http_check),
                "pending",
            ),
            (
                "service check, no result",
                machine("m", |m| {
                    m["config"]["services"] =
                        json!([{"internal_port": 8080, "checks": [{"type": "tcp"}]}]);
                }),
                "pending",
            ),
            (
                "two configured, one result",
                machine("m", |m| {
                    http_check(m);
                    m["config"]["services"] = json!([{"checks": [{"type": "tcp"}]}]);
                    result(m, "alive", "passing");
                }),
                "pending",
            ),
            (
                "configured and passing",
                machine("m", |m| {
                    http_check(m);
                    result(m, "alive", "passing");
                }),
                "passing",
            ),
            (
                "the compat check is no result",
                machine("m", |m| {
                    http_check(m);
                    result(m, "bg_deployments_compat", "passing");
                }),
                "pending",
            ),
            (
                "a critical result fails before all reported",
                machine("m", |m| {
                    http_check(m);
                    m["config"]["services"] = json!([{"checks": [{"type": "tcp"}]}]);
                    result(m, "servicecheck-00-tcp-8080", "critical");
                }),
                "unhealthy: check servicecheck-00-tcp-8080 critical",
            ),
            (
                "warning is not passing",
                machine("m", |m| {
                    http_check(m);
                    result(m, "alive", "warning");
                }),
                "unhealthy: check alive warning",
            ),
            (
                "results without configured checks are judged",
                machine("m", |m| result(m, "alive", "critical")),
                "unhealthy: check alive critical",
            ),
        ];
        for (name, machine, expected) in cases {
            let state = count(&[machine], Some(7));
            let got = match (
                state.checks_passing(),
                state.pending.as_slice(),
                state.unhealthy.as_slice(),
            ) {
                (1, [], []) => "passing".to_owned(),
                (0, [_], []) => "pending".to_owned(),
                (0, [], [note]) => format!("unhealthy: {}", note.reason),
                _ => format!("{state:?}"),
            };
            assert_eq!(got, expected, "{name}");
            assert_eq!(state.healthy(), expected == "passing", "{name}");
        }
    }

    #[test]
    fn a_stopped_machine_with_checks_left_by_autostop_is_not_pending() {
        let state = count(
            &[
                plain("up"),
                machine("z", |m| {
                    stopped(m);
                    autostop(m, json!("stop"));
                    http_check(m);
                }),
            ],
            Some(7),
        );
        assert!(state.pending.is_empty());
        assert!(state.healthy());
    }

    #[test]
    fn the_incomplete_config_of_an_unreachable_host_still_places_the_machine() {
        let state = count(
            &[
                plain("up"),
                machine("far", |m| {
                    m["host_status"] = json!("unreachable");
                    m["state"] = json!("unknown");
                    let config = m["config"].take();
                    m["incomplete_config"] = config;
                    m["config"] = Value::Null;
                }),
            ],
            Some(7),
        );
        assert_eq!(ids(&state.unhealthy), ["far (unknown)"]);
    }

    #[test]
    fn nothing_listed_is_no_serving_machine() {
        let state = count(&[], Some(7));
        assert_eq!((state.total(), state.started()), (0, 0));
        assert!(!state.healthy());
    }
}
