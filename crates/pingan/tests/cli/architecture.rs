//! The layout's rules, read from the sources: within each crate, the top-level modules depend on
//! one another without a cycle (a module reaches another through `crate::name`), so that each
//! domain can be read, and moved, on its own. Tests and comments do not count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules of the same crate it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The modules `source` names through `crate::…`, its tests and line comments left out.
fn named_modules(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String =
        code.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `pingan_store::…` and the like, or `$crate::`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each item at the top level.
            let (mut depth, mut item_start) = (0, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        named.insert(identifier(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            named.insert(identifier(rest));
        }
    }
    named
}

fn identifier(text: &str) -> String {
    text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The module graph of the crate whose sources lie in `src`.
fn graph_of(src: &Path) -> Graph {
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap();
                let top = relative.components().next().unwrap().as_os_str().to_string_lossy();
                let module = top.trim_end_matches(".rs").to_owned();
                if module != "lib" && module != "main" {
                    sources.push((module, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    graph(&sources)
}

fn graph(sources: &[(String, String)]) -> Graph {
    let modules: BTreeSet<&String> = sources.iter().map(|(module, _)| module).collect();
    let mut graph = Graph::new();
    for (module, source) in sources {
        let named = named_modules(source).into_iter().filter(|m| m != module && modules.contains(m));
        graph.entry(module.clone()).or_default().extend(named);
    }
    graph
}

/// A cycle of `graph`, as the modules along it (the first again at the end), if it has one.
fn a_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(module: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let graph = graph_of(&src);
        assert!(graph.values().any(|named| !named.is_empty()) || graph.len() < 3, "{} read as no graph", src.display());
        if let Some(cycle) = a_cycle(&graph) {
            panic!("{}: the modules {} depend on each other in a circle", src.display(), cycle.join(" → "));
        }
        checked += 1;
    }
    assert!(checked >= 7, "{checked} crates checked");
}

#[test]
fn the_check_finds_a_cycle_and_reads_names_as_rust_writes_them() {
    let files = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(m, s)| ((*m).to_owned(), (*s).to_owned())).collect()
    };
    let cycle = files(&[
        ("engine", "use crate::access::Scope;\nfn f() { crate::store::g() }"),
        ("access", "use crate::{clock, units::{Unit, Kind}};"),
        ("units", "// crate::engine is only mentioned\nuse pingan_core::crate_name;\n#[cfg(test)]\nuse crate::engine;"),
        ("clock", "use crate::{engine};"),
        ("store", ""),
    ]);
    let circular = graph(&cycle);
    assert_eq!(circular["access"], BTreeSet::from(["clock".to_owned(), "units".to_owned()]));
    assert!(circular["units"].is_empty(), "comments, tests and other crates' names: {:?}", circular["units"]);
    assert_eq!(a_cycle(&circular), Some(vec!["access".into(), "clock".into(), "engine".into(), "access".into()]));
    let without =
        files(&[("engine", "use crate::access::Scope;"), ("access", "use crate::units::Unit;"), ("units", "")]);
    assert_eq!(a_cycle(&graph(&without)), None);
}

/// Every read and write of the web layer goes through a use case, which applies scope and logging:
/// no source of `pingan-web` names the store or a way to it.
#[test]
fn the_web_layer_never_reaches_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("pingan-web/src");
    let mut folders = vec![src];
    let mut read = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let code: String =
                source.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            // The store's name as a whole word (`pingan_store::StoreError` is an error, not a way
            // in), and any call through a field or method of that name.
            let names = ["pingan_store::Store", "dyn Store"].into_iter().filter(|name| {
                code.match_indices(name)
                    .any(|(at, _)| !code[at + name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
            });
            let calls = [".store()", ".store."].into_iter().filter(|call| code.contains(call));
            let ways: Vec<&str> = names.chain(calls).collect();
            assert!(ways.is_empty(), "{} reaches the store: {ways:?}", path.display());
            read += 1;
        }
    }
    assert!(read > 20, "{read} sources read");
}
