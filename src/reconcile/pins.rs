//! Pins of what the three repo envs expand to and plan as from empty: the plan text and JSON
//! (what users see) and the desired model (what saved plans carry), as insta snapshots.
//! A restructuring of services must leave all of them byte-identical.

use crate::plan::render;
use crate::testutil::{env_spec, try_diff};

fn pin(env: &str) {
    let spec = env_spec(env);
    let desired = super::expand(&spec);
    let mut plan = try_diff(env, &desired, &[], false).expect("plan from empty");
    // As the session judges it: the env's waivers, on a fixed day.
    plan.policy = crate::policy::evaluate(&plan, &[], &spec.policy.waivers, "2026-12-02");
    let text = render::text(
        &plan,
        render::Style { color: false },
        &format!("envs/{env}.toml"),
    );
    insta::assert_snapshot!(format!("{env}_plan_text"), text);
    let json = serde_json::to_string_pretty(&render::json(&plan)).expect("json");
    insta::assert_snapshot!(format!("{env}_plan_json"), json);
    let model = serde_json::to_string_pretty(&desired).expect("desired serialises");
    insta::assert_snapshot!(format!("{env}_desired"), model);
}

#[test]
fn dev_plan_from_empty_is_pinned() {
    pin("dev");
}

#[test]
fn staging_plan_from_empty_is_pinned() {
    pin("staging");
}

#[test]
fn prod_plan_from_empty_is_pinned() {
    pin("prod");
}

/// Every kind's props, from the three envs, read into the kind's typed struct and written
/// back unchanged: a field named differently in expand, observe and the struct fails here.
#[test]
fn every_kind_round_trips_its_props_from_the_three_envs() {
    let registry = super::Registry::all();
    let mut kinds = std::collections::BTreeSet::new();
    for env in ["dev", "staging", "prod"] {
        for r in super::expand(&env_spec(env)) {
            let kind = registry
                .kind(&r.id.kind)
                .unwrap_or_else(|| panic!("{env}: no service owns kind {}", r.id.kind));
            let back = kind
                .round_trip(&r.props)
                .unwrap_or_else(|e| panic!("{env}: {}: {e}", r.id));
            assert_eq!(back, r.props, "{env}: {} does not round-trip", r.id);
            kinds.insert(r.id.kind.clone());
        }
    }
    // Every kind of every service, except those no repo env uses.
    let all: std::collections::BTreeSet<String> = registry
        .services()
        .iter()
        .flat_map(|s| s.kinds().iter().map(|k| k.schema().kind.to_string()))
        .collect();
    let unused: Vec<&String> = all.difference(&kinds).collect();
    assert!(unused.is_empty(), "kinds no env exercises: {unused:?}");
}
