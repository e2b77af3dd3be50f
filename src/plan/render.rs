//! Plan text (Terraform's familiar form) and the documented JSON schema.

use std::fmt::Write;

use serde_json::json;

use super::{Action, Change, FieldDiff, Plan};
use crate::model::Value;

/// The version of the plan JSON schema (README: "Plan JSON").
pub const FORMAT_VERSION: &str = "1.0";

#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn action(&self, a: Action, s: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
        };
        self.paint(code, s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
}

fn show(v: &Option<Value>, sensitive: bool) -> String {
    match v {
        _ if sensitive => "(sensitive)".to_string(),
        None => "(none)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn field_line(out: &mut String, st: Style, action: Action, f: &FieldDiff, width: usize) {
    let replace_note = if f.forces_replacement && action == Action::Replace {
        st.red("  # forces replacement")
    } else {
        String::new()
    };
    let line = match (&f.before, &f.after, action) {
        (_, Some(_), Action::Create) | (None, Some(_), _) => {
            format!(
                "{} {:width$} = {}",
                st.action(Action::Create, "+"),
                f.path,
                show(&f.after, f.sensitive)
            )
        }
        (Some(_), None, _) => format!(
            "{} {:width$} = {}",
            st.action(Action::Delete, "-"),
            f.path,
            show(&f.before, f.sensitive)
        ),
        _ => format!(
            "{} {:width$} = {} → {}",
            st.action(Action::Update, "~"),
            f.path,
            show(&f.before, f.sensitive),
            show(&f.after, f.sensitive)
        ),
    };
    let _ = writeln!(out, "      {line}{replace_note}");
}

fn change_block(out: &mut String, st: Style, c: &Change) {
    let mut head = format!(
        "{} {}",
        st.action(c.action, &format!("{:>3}", c.action.symbol())),
        st.bold(&c.id.to_string())
    );
    let mut notes = vec![];
    if !c.name.is_empty() {
        notes.push(c.name.clone());
    }
    if let Some(p) = c.physical_id() {
        notes.push(p.to_string());
    }
    if !notes.is_empty() {
        let _ = write!(head, " ({})", notes.join(", "));
    }
    if let Some(r) = &c.reason {
        let _ = write!(head, " — {r}");
    }
    let _ = writeln!(out, "  {head}");
    let width = c.fields.iter().map(|f| f.path.len()).max().unwrap_or(0);
    for f in &c.fields {
        field_line(out, st, c.action, f, width);
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        s.add, s.change, s.replace, s.destroy
    )
}

/// The human plan.
pub fn text(plan: &Plan, st: Style, spec_file: &str) -> String {
    let mut out = String::new();
    for c in &plan.conflicts {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            st.red("  !"),
            st.bold(&c.id.to_string()),
            c.message
        );
    }
    if !plan.conflicts.is_empty() {
        out.push('\n');
    }
    if !plan.has_changes() {
        if plan.destroy {
            let _ = writeln!(
                out,
                "No changes. rtech owns nothing in env {} ({}).",
                plan.env, plan.region
            );
        } else {
            let _ = writeln!(
                out,
                "No changes. The live infrastructure of env {} matches {spec_file} ({} resource{}).",
                plan.env,
                plan.unchanged,
                if plan.unchanged == 1 { "" } else { "s" }
            );
        }
    } else {
        let _ = writeln!(
            out,
            "rtech will make these changes to env {} (project {}, {}), in this order:\n",
            plan.env, plan.project, plan.region
        );
        for c in &plan.changes {
            change_block(&mut out, st, c);
            out.push('\n');
        }
        let _ = writeln!(out, "{}", st.bold(&summary_line(plan)));
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.red(&format!(
                "{} blocking problem(s) above: apply will refuse until they are resolved.",
                plan.conflicts.len()
            ))
        );
    }
    out
}

fn json_value(v: &Option<Value>, sensitive: bool) -> serde_json::Value {
    match v {
        _ if sensitive => serde_json::Value::Null,
        None => serde_json::Value::Null,
        Some(v) => v.to_json(),
    }
}

/// The machine-readable plan (schema documented in README.md, "Plan JSON").
pub fn json(plan: &Plan) -> serde_json::Value {
    let s = plan.summary();
    json!({
        "format_version": FORMAT_VERSION,
        "project": plan.project,
        "env": plan.env,
        "region": plan.region,
        "destroy": plan.destroy,
        "changes": plan.changes.iter().map(|c| json!({
            "id": c.id.to_string(),
            "kind": c.id.kind,
            "name": c.name,
            "physical_id": c.physical_id(),
            "action": c.action.to_string(),
            "reason": c.reason,
            "fields": c.fields.iter().map(|f| json!({
                "path": f.path,
                "before": json_value(&f.before, f.sensitive),
                "after": json_value(&f.after, f.sensitive),
                "sensitive": f.sensitive,
                "known_after_apply": f.after.as_ref().is_some_and(Value::is_unknown),
                "forces_replacement": f.forces_replacement,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "conflicts": plan.conflicts.iter().map(|c| json!({
            "id": c.id.to_string(),
            "physical_id": c.physical_id,
            "message": c.message,
        })).collect::<Vec<_>>(),
        "summary": {
            "add": s.add,
            "change": s.change,
            "replace": s.replace,
            "destroy": s.destroy,
            "conflict": s.conflict,
            "unchanged": s.unchanged,
        },
    })
}
