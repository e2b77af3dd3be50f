//! Plan text (Terraform's familiar form) and the documented JSON schema.

use std::fmt::Write;

use serde_json::json;

use super::{Action, Change, FieldDiff, Plan};
use crate::model::Value;
use crate::policy::Report;

/// The version of the plan JSON schema (docs/plan-format.md, "Plan JSON schema").
pub const FORMAT_VERSION: &str = "1.3";

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

/// A list or map whose one-line form is longer than this is shown one entry per line, and an
/// update of it as a line diff of the two forms (as `terraform plan` shows a JSON document).
const INLINE_MAX: usize = 80;
/// Unchanged lines kept around each changed run in a long value's diff.
const CONTEXT: usize = 2;

fn is_long(v: &Option<Value>) -> bool {
    matches!(v, Some(x @ (Value::Map(_) | Value::List(_))) if x.to_string().len() > INLINE_MAX)
}

/// `v` one entry per line, nested by indentation; an entry short enough stays on one line.
pub fn block_lines(v: &Value) -> Vec<String> {
    let mut out = vec![];
    push_block(&mut out, 0, "", v, "");
    out
}

fn push_block(out: &mut Vec<String>, depth: usize, head: &str, v: &Value, tail: &str) {
    let pad = "  ".repeat(depth);
    let inline = v.to_string();
    let fits = pad.len() + head.len() + inline.len() + tail.len() <= INLINE_MAX;
    match v {
        Value::Map(m) if !fits => {
            out.push(format!("{pad}{head}{{"));
            for (k, x) in m {
                push_block(out, depth + 1, &format!("{k} = "), x, "");
            }
            out.push(format!("{pad}}}{tail}"));
        }
        Value::List(l) if !fits => {
            out.push(format!("{pad}{head}["));
            for x in l {
                push_block(out, depth + 1, "", x, ",");
            }
            out.push(format!("{pad}]{tail}"));
        }
        _ => out.push(format!("{pad}{head}{inline}{tail}")),
    }
}

/// One element of a long list, as it stands inside the list.
fn element_lines(v: &Value) -> Vec<String> {
    let mut out = vec![];
    push_block(&mut out, 1, "", v, ",");
    out
}

const PAD: &str = "          ";

fn signed(out: &mut String, st: Style, tag: similar::ChangeTag, line: &str) {
    let line = match tag {
        similar::ChangeTag::Delete => st.action(Action::Delete, &format!("- {line}")),
        similar::ChangeTag::Insert => st.action(Action::Create, &format!("+ {line}")),
        similar::ChangeTag::Equal => format!("  {line}"),
    };
    let _ = writeln!(out, "{PAD}{line}");
}

/// The line diff of two renderings, unchanged runs cut to `CONTEXT` lines with `…` between.
fn line_diff(out: &mut String, st: Style, before: &[String], after: &[String]) {
    let old: Vec<&str> = before.iter().map(String::as_str).collect();
    let new: Vec<&str> = after.iter().map(String::as_str).collect();
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .diff_slices(&old, &new);
    let groups = diff.grouped_ops(CONTEXT);
    for (i, group) in groups.iter().enumerate() {
        let starts_at = group.first().map(|op| op.old_range().start).unwrap_or(0);
        if i > 0 || starts_at > 0 {
            let _ = writeln!(out, "{PAD}  …");
        }
        for op in group {
            for c in diff.iter_changes(op) {
                signed(out, st, c.tag(), c.value());
            }
        }
    }
    let ends_at = groups
        .last()
        .and_then(|g| g.last())
        .map(|op| op.old_range().end)
        .unwrap_or(old.len());
    if ends_at < old.len() {
        let _ = writeln!(out, "{PAD}  …");
    }
}

/// Two long lists, element by element: an element added or removed is shown whole, an
/// element changed in place as the line diff of its two renderings, unchanged ones counted.
fn list_diff(out: &mut String, st: Style, before: &[Value], after: &[Value]) {
    let old: Vec<String> = before.iter().map(Value::to_string).collect();
    let new: Vec<String> = after.iter().map(Value::to_string).collect();
    let _ = writeln!(out, "{PAD}  [");
    for op in similar::capture_diff_slices(similar::Algorithm::Patience, &old, &new) {
        let (tag, o, n) = op.as_tag_tuple();
        match tag {
            similar::DiffTag::Equal => {
                let _ = writeln!(out, "{PAD}    … {} unchanged", o.len());
            }
            similar::DiffTag::Replace if o.len() == n.len() => {
                for (i, j) in o.zip(n) {
                    line_diff(
                        out,
                        st,
                        &element_lines(&before[i]),
                        &element_lines(&after[j]),
                    );
                }
            }
            _ => {
                for i in o {
                    for l in element_lines(&before[i]) {
                        signed(out, st, similar::ChangeTag::Delete, &l);
                    }
                }
                for j in n {
                    for l in element_lines(&after[j]) {
                        signed(out, st, similar::ChangeTag::Insert, &l);
                    }
                }
            }
        }
    }
    let _ = writeln!(out, "{PAD}  ]");
}

/// A long value: its path on a line of its own, then the value one entry per line (a create
/// or delete), or what changed between before and after (an update).
fn long_field(out: &mut String, st: Style, sign: Action, f: &FieldDiff, note: &str) {
    let symbol = match sign {
        Action::Create => "+",
        Action::Delete => "-",
        _ => "~",
    };
    let _ = writeln!(out, "      {} {}:{note}", st.action(sign, symbol), f.path);
    let shown = if sign == Action::Delete {
        &f.before
    } else {
        &f.after
    };
    match (sign, &f.before, &f.after) {
        (Action::Update, Some(Value::List(b)), Some(Value::List(a))) => list_diff(out, st, b, a),
        (Action::Update, Some(b), Some(a)) => {
            line_diff(out, st, &block_lines(b), &block_lines(a));
        }
        _ => {
            for l in shown.as_ref().map(block_lines).unwrap_or_default() {
                let _ = writeln!(out, "{PAD}  {l}");
            }
        }
    }
}

fn field_line(out: &mut String, st: Style, action: Action, f: &FieldDiff, width: usize) {
    let replace_note = if f.forces_replacement && action == Action::Replace {
        st.red("  # forces replacement")
    } else {
        String::new()
    };
    if !f.sensitive && (is_long(&f.before) || is_long(&f.after)) {
        let sign = match (&f.before, &f.after, action) {
            (_, Some(_), Action::Create) | (None, Some(_), _) => Action::Create,
            (Some(_), None, _) => Action::Delete,
            _ => Action::Update,
        };
        long_field(out, st, sign, f, &replace_note);
        return;
    }
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

pub(crate) fn change_block(out: &mut String, st: Style, c: &Change, policy: Option<&Report>) {
    let mut head = format!(
        "{} {}",
        st.action(c.action, &format!("{:>3}", c.symbol())),
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
    for v in policy.into_iter().flat_map(|p| p.of_change(&c.id)) {
        let _ = writeln!(out, "      {} {}", st.red("✗ policy"), st.red(&v.line()));
    }
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
    if let Some(o) = &plan.origin {
        let _ = writeln!(out, "{}\n", st.bold(&header(plan, o)));
    }
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
    if !plan.has_changes() && !plan.blocked.is_empty() {
        let _ = writeln!(
            out,
            "No changes can be made to env {} yet: every change is blocked (below).",
            plan.env
        );
    } else if !plan.has_changes() {
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
        let what = if plan.destroy {
            "This is a destroy plan: rtech will delete these resources of"
        } else {
            "rtech will make these changes to"
        };
        let _ = writeln!(
            out,
            "{what} env {} (project {}, {}), in this order:\n",
            plan.env, plan.project, plan.region
        );
        for c in &plan.changes {
            change_block(&mut out, st, c, plan.policy.as_ref());
            out.push('\n');
        }
        let _ = writeln!(out, "{}", st.bold(&summary_line(plan)));
    }
    for d in &plan.drills {
        let _ = writeln!(
            out,
            "Also deleted first: DocumentDB cluster {d} and its instance, kept by `rtech drill restore --keep`."
        );
    }
    if !plan.blocked.is_empty() {
        let _ = writeln!(
            out,
            "\n{}\n",
            st.red(&format!(
                "Blocked: {} change(s) apply will leave until what they wait for exists:",
                plan.blocked.len()
            ))
        );
        for b in &plan.blocked {
            let _ = writeln!(
                out,
                "  {} {}",
                st.red("  ✗"),
                st.bold(&format!("{}: {}", b.change.id, b.message))
            );
            change_block(&mut out, st, &b.change, plan.policy.as_ref());
            out.push('\n');
        }
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
    if let Some(p) = &plan.policy {
        policy_end(&mut out, st, p);
    }
    out
}

/// The policy's part of the plan's end: violations of the live state the plan leaves as it
/// is (those a change causes are shown beside it), what apply will do, and the policy line.
fn policy_end(out: &mut String, st: Style, p: &Report) {
    let live: Vec<String> = p.of_live().map(|v| v.line()).collect();
    if !live.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.red("Policy violations in the live state, which this plan leaves as they are:")
        );
        for l in live {
            let _ = writeln!(out, "  {} {}", st.red("  ✗"), l);
        }
    }
    let n = p.violation_count();
    if n > 0 && p.advisory {
        let _ = writeln!(
            out,
            "\n{n} policy violation(s) above: the env's policy is advisory, so apply goes ahead."
        );
    } else if n > 0 {
        let _ = writeln!(
            out,
            "\n{}",
            st.red(&format!(
                "{n} policy violation(s) above: apply will refuse until they are fixed or waived ([[policy.waivers]] in the spec)."
            ))
        );
    }
    let _ = writeln!(out, "\n{}", st.bold(&p.summary_line()));
}

/// `Plan for env prod in account 123456789012 (us-east-1) as arn:…`: where the plan applies.
pub fn header(plan: &Plan, o: &super::Origin) -> String {
    format!(
        "Plan for env {} in account {} ({}) as {}",
        plan.env, o.account, plan.region, o.caller
    )
}

fn json_value(v: &Option<Value>, sensitive: bool) -> serde_json::Value {
    match v {
        _ if sensitive => serde_json::Value::Null,
        None => serde_json::Value::Null,
        Some(v) => v.to_json(),
    }
}

/// The machine-readable plan (schema documented in docs/plan-format.md, "Plan JSON schema").
pub fn json(plan: &Plan) -> serde_json::Value {
    let s = plan.summary();
    let mut v = json!({
        "format_version": FORMAT_VERSION,
        "project": plan.project,
        "env": plan.env,
        "region": plan.region,
        "account": plan.origin.as_ref().map(|o| &o.account),
        "caller": plan.origin.as_ref().map(|o| &o.caller),
        "destroy": plan.destroy,
        "changes": plan.changes.iter().map(|c| json!({
            "id": c.id.to_string(),
            "kind": c.id.kind,
            "name": c.name,
            "physical_id": c.physical_id(),
            "action": c.action.to_string(),
            "reason": c.reason,
            "create_before_destroy": c.create_first,
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
    });
    // Only in a destroy plan that deletes them (docs/plan-format.md, "Plan JSON schema").
    if !plan.drills.is_empty() {
        v["drill_clusters"] = json!(plan.drills);
    }
    // Not in a destroy plan (docs/plan-format.md, "Plan JSON schema").
    if let Some(p) = &plan.policy {
        v["policy"] = p.plan_json();
    }
    // Only when a change is held back (docs/plan-format.md, "Plan JSON schema").
    if !plan.blocked.is_empty() {
        v["blocked"] = json!(plan
            .blocked
            .iter()
            .map(|b| json!({
                "id": b.change.id.to_string(),
                "kind": b.change.id.kind,
                "action": b.change.action.to_string(),
                "message": b.message,
            }))
            .collect::<Vec<_>>());
    }
    v
}
