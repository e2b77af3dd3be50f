//! `rtech graph`: the plan's step graph in Graphviz DOT (pure) — exactly the order the engine
//! executes, so a reviewer sees why a change waits. A replace is two steps (its delete and its
//! create); an edge `a -> b` means b starts only once a is done.

use super::steps::{self, Phase};
use super::{Action, Plan, PlanError};

/// The DOT text of `plan`'s steps: one node per step, labelled with the change's id, its AWS
/// name and the step's action, coloured by action; one edge per wait.
pub fn dot(plan: &Plan) -> Result<String, PlanError> {
    let steps = steps::steps(&plan.changes)?;
    let node = |i: usize| {
        let s = &steps[i];
        let c = &plan.changes[s.change];
        match (c.action, s.phase) {
            (Action::Replace, Phase::Delete) => format!("{} (delete)", c.id),
            (Action::Replace, _) => format!("{} (create)", c.id),
            _ => c.id.to_string(),
        }
    };
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"monospace\"];\n",
        quoted(&format!("rtech {}", plan.env))
    );
    for (i, s) in steps.iter().enumerate() {
        let c = &plan.changes[s.change];
        let action = match (c.action, s.phase) {
            (Action::Replace, Phase::Delete) => "replace: delete",
            (Action::Replace, _) => "replace: create",
            (a, _) => match a {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
                Action::Replace => unreachable!(),
            },
        };
        let color = match (c.action, s.phase) {
            (Action::Create, _) => "darkgreen",
            (Action::Update, _) => "darkgoldenrod",
            (Action::Delete, _) | (Action::Replace, Phase::Delete) => "red3",
            (Action::Replace, _) => "darkorange",
        };
        let label = if c.name.is_empty() {
            format!("{}\n{action}", c.id)
        } else {
            format!("{}\n{}\n{action}", c.id, c.name)
        };
        out.push_str(&format!(
            "  {} [label={}, color={color}];\n",
            quoted(&node(i)),
            quoted(&label)
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        for a in &s.after {
            out.push_str(&format!(
                "  {} -> {};\n",
                quoted(&node(*a)),
                quoted(&node(i))
            ));
        }
    }
    // Held-back changes (an image not pushed yet) do not run: listed, without edges.
    for b in &plan.blocked {
        out.push_str(&format!(
            "  {} [label={}, style=\"rounded,dashed\", color=gray50];\n",
            quoted(&b.change.id.to_string()),
            quoted(&format!("{}\nblocked: {}", b.change.id, b.message))
        ));
    }
    out.push_str("}\n");
    Ok(out)
}

/// A DOT string literal (`\n` stays a DOT line break).
fn quoted(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, ResourceId};
    use crate::plan::Change;

    fn change(kind: &str, name: &str, action: Action, deps: &[(&str, &str)]) -> Change {
        let id = ResourceId::new(kind, name);
        let mut r = Resource::new(id.clone(), format!("rtech-dev-{name}"));
        r.deps = deps.iter().map(|&(k, n)| ResourceId::new(k, n)).collect();
        Change {
            id,
            action,
            reason: None,
            name: format!("rtech-dev-{name}"),
            fields: vec![],
            desired: (action != Action::Delete).then_some(r),
            prior: None,
            create_first: false,
        }
    }

    fn empty_plan(env: &str) -> Plan {
        crate::testutil::plan_of("rtech", env, vec![], vec![])
    }

    #[test]
    fn steps_become_nodes_and_waits_edges() {
        let mut plan = empty_plan("dev");
        plan.changes = vec![
            change("vpc", "main", Action::Create, &[]),
            change("subnet", "public-a", Action::Create, &[("vpc", "main")]),
            change("security_group", "app", Action::Replace, &[("vpc", "main")]),
        ];
        let d = dot(&plan).unwrap();
        insta::assert_snapshot!(d);
        assert!(d.starts_with("digraph \"rtech dev\" {"));
        assert!(
            d.contains("  \"vpc/main\" -> \"subnet/public-a\";\n"),
            "{d}"
        );
        assert!(d.contains("\"security_group/app (delete)\""), "{d}");
        assert!(
            d.contains("  \"vpc/main\" -> \"security_group/app (create)\";\n"),
            "{d}"
        );
    }

    #[test]
    fn an_empty_plan_is_an_empty_graph() {
        let plan = empty_plan("dev");
        assert_eq!(
            dot(&plan).unwrap(),
            "digraph \"rtech dev\" {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"monospace\"];\n}\n"
        );
    }

    #[test]
    fn quotes_and_line_breaks_are_escaped() {
        assert_eq!(quoted("a\"b\nc\\"), "\"a\\\"b\\nc\\\\\"");
    }
}
