//! `rtech graph`: the plan's step graph in DOT, as apply would run it.

use std::collections::BTreeSet;

use crate::emulator::Emulator;
use crate::support::*;

/// The node names and the edges (`from`, `to`) of a DOT text as `rtech graph` writes it.
fn parse(dot: &str) -> (BTreeSet<String>, Vec<(String, String)>) {
    let name = |s: &str| s.trim().trim_matches('"').to_string();
    let mut nodes = BTreeSet::new();
    let mut edges = vec![];
    for line in dot.lines().map(str::trim) {
        if let Some((a, b)) = line.strip_suffix(';').and_then(|l| l.split_once(" -> ")) {
            edges.push((name(a), name(b)));
        } else if let Some((n, _)) = line.split_once(" [label=") {
            nodes.insert(name(n));
        }
    }
    (nodes, edges)
}

#[test]
fn the_graph_has_a_node_per_change_and_an_edge_per_wait() {
    let emu = Emulator::start();
    let plan = plan_json(&emu, "dev");
    let r = run_ok(rtech(&emu).args(["graph", "--env", "dev"]), 0);
    assert!(
        r.stdout.starts_with("digraph \"rtech dev\" {"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("}\n"), "{}", r.stdout);
    let (nodes, edges) = parse(&r.stdout);
    // Every change of the plan (all creates from empty), and the held-back ones.
    let mut ids: BTreeSet<String> = changes(&plan).into_iter().map(|(id, _)| id).collect();
    ids.extend(
        plan["blocked"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| b["id"].as_str().unwrap().to_string()),
    );
    assert_eq!(nodes, ids);
    assert!(edges
        .iter()
        .all(|(a, b)| nodes.contains(a) && nodes.contains(b)));
    assert!(
        edges.contains(&("vpc/main".to_string(), "subnet/public-a".to_string())),
        "{edges:?}"
    );
    // Nothing waits on itself, and what has no dependency waits for nothing.
    assert!(edges.iter().all(|(a, b)| a != b));
    assert!(!edges.iter().any(|(_, b)| b == "vpc/main"));

    // --target narrows it as it narrows the plan.
    let r = run_ok(
        rtech(&emu).args(["graph", "--env", "dev", "--target", "subnet/public-a"]),
        0,
    );
    let (nodes, edges) = parse(&r.stdout);
    assert_eq!(
        nodes,
        BTreeSet::from(["vpc/main".to_string(), "subnet/public-a".to_string()])
    );
    assert_eq!(
        edges,
        [("vpc/main".to_string(), "subnet/public-a".to_string())]
    );
}
