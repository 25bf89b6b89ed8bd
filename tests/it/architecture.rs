//! The module structure, held against ARCHITECTURE.md: no import cycles between the crate's
//! top-level modules, and the arrows the architecture forbids are absent. Read from the source
//! (`crate::` paths in `use` lines and in code), so a new arrow fails here before review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its files name through `crate::`. With
/// `with_unit_tests`, the `#[cfg(test)]` modules count too: a core module's unit tests must not
/// reach an edge either (they would pull the edge into the core's build and hide the arrow).
fn module_graph_of(with_unit_tests: bool) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let first = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("a name");
            let module = first.trim_end_matches(".rs").to_owned();
            // The binary and the module map are not modules of the library.
            if module == "main" || module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            // Without unit tests: only the code before the `#[cfg(test)]` module at the end.
            let text = if with_unit_tests {
                text.as_str()
            } else {
                text.split("\n#[cfg(test)]").next().unwrap_or_default()
            };
            let targets = graph.entry(module.clone()).or_default();
            for target in crate_references(text) {
                if target != module {
                    targets.insert(target);
                }
            }
        }
    }
    graph
}

/// The graph of the library's own code (unit tests left out): the one cycles are checked on.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    module_graph_of(false)
}

/// The first path segment of each item of a `use` group line: `a::X, b` -> `a`, `b`.
fn group_items(line: &str, found: &mut BTreeSet<String>) {
    for item in line.split(',') {
        let name: String = item
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name != "self" {
            found.insert(name);
        }
    }
}

/// The top-level modules named as `crate::NAME` in code (comments left out), including inside
/// `use crate::{a, b::c}` groups.
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `use crate::{a::X, b}`: the group may span lines; the first segment of every
                // item on this line counts, and the next lines are read as items too.
                group_items(group, &mut found);
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            rest = after;
        }
    }
    // Items of a multi-line `use crate::{` group.
    let mut in_group = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default().trim();
        if code.starts_with("use crate::{") || code.starts_with("pub use crate::{") {
            in_group = !code.contains("};");
            continue;
        }
        if in_group {
            if code.starts_with('}') {
                in_group = false;
                continue;
            }
            group_items(code, &mut found);
        }
    }
    found
}

/// One cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then(|| {
        path.push(start.to_owned());
        path
    })
}

#[test]
fn the_reader_sees_crate_paths_in_every_form() {
    let text = "use crate::config::Environment;\n\
                use crate::{decision::Verdict, facts};\n\
                pub use crate::{\n    render::text,\n    secret::Secret,\n};\n\
                let x = crate::time::local_instant(a, b, c); // crate::action is a comment\n";
    let found: Vec<String> = crate_references(text).into_iter().collect();
    assert_eq!(
        found,
        ["config", "decision", "facts", "render", "secret", "time"]
    );
}

#[test]
fn there_are_no_import_cycles_between_modules() {
    let graph = module_graph();
    assert!(graph.contains_key("gate") && graph.contains_key("run"));
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| cycle.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_core_imports_no_edge_and_the_sequencer_no_runner() {
    // Runners (`action`, `serve`) sit on top: nothing below imports them.
    // Unit tests included: a gate's test that decodes a GitHub answer is an arrow to the edge.
    let graph = module_graph_of(true);
    let forbidden: &[(&str, &[&str])] = &[
        (
            "gate",
            &[
                "github", "fly", "probe", "process", "metrics", "run", "action", "serve", "notify",
            ],
        ),
        (
            "facts",
            &[
                "github", "fly", "probe", "process", "metrics", "run", "action", "serve", "gate",
            ],
        ),
        (
            "decision",
            &[
                "github", "fly", "probe", "process", "metrics", "run", "action", "serve", "gate",
            ],
        ),
        (
            "config",
            &[
                "gate", "github", "fly", "probe", "process", "metrics", "run", "action", "serve",
            ],
        ),
        (
            "delivery",
            &[
                "github", "fly", "probe", "process", "metrics", "run", "action", "serve", "gate",
                "render", "notify",
            ],
        ),
        ("time", &["config", "gate", "run", "action", "serve"]),
        (
            "render",
            &[
                "github", "fly", "probe", "process", "metrics", "run", "action", "serve",
            ],
        ),
        (
            "process",
            &[
                "action", "serve", "config", "facts", "fly", "gate", "github", "notify", "probe",
                "run", "report", "render", "decision",
            ],
        ),
        ("run", &["action", "serve"]),
        ("report", &["run", "action", "serve"]),
    ];
    let mut wrong = Vec::new();
    for (from, targets) in forbidden {
        for to in graph.get(*from).into_iter().flatten() {
            if targets.contains(&to.as_str()) {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows the architecture forbids: {wrong:?}"
    );
}

#[test]
fn the_metrics_edge_imports_only_config_facts_secret_and_fly() {
    let graph = module_graph();
    let imports = graph.get("metrics").expect("src/metrics exists");
    let allowed = ["config", "facts", "secret", "fly"];
    let wrong: Vec<&String> = imports
        .iter()
        .filter(|m| !allowed.contains(&m.as_str()))
        .collect();
    assert!(wrong.is_empty(), "metrics imports {wrong:?}");
    assert!(imports.contains("config") && imports.contains("facts"));
}

#[test]
fn the_server_is_a_runner_nothing_imports() {
    let graph = module_graph_of(true);
    let importers: Vec<&String> = graph
        .iter()
        .filter(|(module, targets)| module.as_str() != "serve" && targets.contains("serve"))
        .map(|(module, _)| module)
        .collect();
    assert!(importers.is_empty(), "{importers:?} import serve");
    let serve = graph.get("serve").expect("src/serve exists");
    assert!(serve.contains("run"), "serve drives run's Protection");
}
