//! The policy gate: rules over what the env will be once the plan is applied (the desired
//! props of every resource the plan changes, the observed props of every one it leaves as it
//! is), judged before anything changes. Pure: the rules read the plan and what observe read,
//! nothing else.
//!
//! A rule is one entry of [`rules::RULES`] and one function from a [`View`] to evidence: for
//! each resource it looks at, the field, its value and whether the rule holds there. A rule
//! that finds nothing to look at is not applicable. A failing piece of evidence is a violation
//! unless the env's spec waives that rule on that resource (`[[policy.waivers]]`) with a
//! waiver that has not expired. Violations block `apply` (exit 1) before any change.

pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Observed, Ownership, Props, ResourceId, Value};
use crate::plan::{Action, Plan};
use crate::spec::policy::{Enforcement, Waiver};
use crate::spec::{Spec, SpecError};

pub use rules::RULES;

/// A rule: an id (the AWS Foundational Security Best Practices control it implements, or
/// `rtech.<name>` for rtech's own), what it asks, whether prod may waive it, and its check.
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    /// Whether prod's spec may waive it (dev and staging may waive every rule).
    pub prod_waivable: bool,
    pub check: fn(&View) -> Vec<Evidence>,
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Whether a resource's props are what a change of the plan makes, or the live state the plan
/// leaves as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Change,
    Live,
}

/// One resource as the env will have it after the plan.
pub struct Subject<'a> {
    pub id: &'a ResourceId,
    pub props: &'a Props,
    pub source: Source,
}

impl Subject<'_> {
    /// The value at a dotted path (`viewer_certificate.minimum_protocol_version`).
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut v = self.props.get(parts.next()?)?;
        for p in parts {
            v = v.as_map()?.get(p)?;
        }
        Some(v)
    }

    /// Evidence that the field at `path` holds (`ok`) or not, with its value as shown.
    pub fn evidence(&self, path: &str, ok: bool) -> Evidence {
        Evidence {
            resource: self.id.clone(),
            field: path.to_string(),
            value: show(self.get(path)),
            ok,
        }
    }
}

/// A value as evidence shows it (`(none)` when absent).
pub fn show(v: Option<&Value>) -> String {
    v.map(Value::to_string)
        .unwrap_or_else(|| "(none)".to_string())
}

/// What the rules see: the env's name and every resource it will have after the plan.
pub struct View<'a> {
    pub env: &'a str,
    pub subjects: Vec<Subject<'a>>,
}

impl<'a> View<'a> {
    /// The env named `prod`: the one rules like `rtech.backups` apply to, and whose spec may not
    /// waive rules that are not `prod_waivable`.
    pub fn is_prod(&self) -> bool {
        is_prod(self.env)
    }

    pub fn of_kind<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s Subject<'a>> + 's {
        self.subjects.iter().filter(move |s| s.id.kind == kind)
    }

    /// The resources after `plan`: a change's desired props (a delete leaves nothing), else
    /// the live props of an owned resource. A change held back (`blocked`) is not made, so its
    /// live state counts.
    pub fn of_plan(plan: &'a Plan, observed: &'a [Observed]) -> View<'a> {
        let live: BTreeMap<&ResourceId, &Observed> = observed
            .iter()
            .filter(|o| o.ownership == Ownership::Owned)
            .map(|o| (&o.id, o))
            .collect();
        let mut subjects = vec![];
        for r in &plan.desired {
            let change = plan.changes.iter().find(|c| c.id == r.id);
            match change {
                Some(c) if c.action == Action::Delete => {}
                Some(c) => subjects.push(Subject {
                    id: &r.id,
                    props: c.desired.as_ref().map(|d| &d.props).unwrap_or(&r.props),
                    source: Source::Change,
                }),
                None => {
                    if let Some(o) = live.get(&r.id) {
                        subjects.push(Subject {
                            id: &r.id,
                            props: &o.props,
                            source: Source::Live,
                        });
                    }
                }
            }
        }
        View {
            env: &plan.env,
            subjects,
        }
    }
}

pub fn is_prod(env: &str) -> bool {
    env == "prod"
}

/// One resource's field as a rule judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub resource: ResourceId,
    pub field: String,
    pub value: String,
    pub ok: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Waived,
    NotApplicable,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Waived => "waived",
            Status::NotApplicable => "not applicable",
        }
    }
}

/// A piece of evidence with its verdict: a failure a valid waiver covers is `waived`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub resource: ResourceId,
    pub field: String,
    pub value: String,
    pub status: Status,
    pub source: Source,
    /// The waiver's reason (waived), or why a waiver did not count (expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule: String,
    pub title: String,
    pub status: Status,
    pub findings: Vec<Finding>,
}

/// Every rule's verdict on the env after the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub results: Vec<RuleResult>,
    /// `[policy] enforcement = "advisory"`: violations are shown and do not block apply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advisory: bool,
}

/// A violation: the rule and the failing finding.
pub struct Violation<'a> {
    pub rule: &'a RuleResult,
    pub finding: &'a Finding,
}

impl Violation<'_> {
    /// `ELB.6 (Load balancers have deletion protection enabled): load_balancer/main
    /// deletion_protection = false`
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} ({}): {} {} = {}",
            self.rule.rule,
            self.rule.title,
            self.finding.resource,
            self.finding.field,
            self.finding.value
        );
        if let Some(n) = &self.finding.note {
            s.push_str(&format!(" ({n})"));
        }
        s
    }
}

impl Report {
    pub fn with_enforcement(mut self, e: Enforcement) -> Report {
        self.advisory = e == Enforcement::Advisory;
        self
    }

    /// Whether apply must refuse: a violation under mandatory enforcement.
    pub fn blocks(&self) -> bool {
        !self.advisory && self.violation_count() > 0
    }

    pub fn violations(&self) -> impl Iterator<Item = Violation<'_>> {
        self.results.iter().flat_map(|r| {
            r.findings
                .iter()
                .filter(|f| f.status == Status::Fail)
                .map(move |f| Violation {
                    rule: r,
                    finding: f,
                })
        })
    }

    pub fn violation_count(&self) -> usize {
        self.violations().count()
    }

    /// Failing findings a waiver lets through.
    pub fn waived_count(&self) -> usize {
        self.results
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.status == Status::Waived)
            .count()
    }

    /// `Policy: 31 rules, 0 violations, 1 waived` (`, advisory` when violations do not block)
    pub fn summary_line(&self) -> String {
        format!(
            "Policy: {} rules, {} violation{}, {} waived{}",
            self.results.len(),
            self.violation_count(),
            if self.violation_count() == 1 { "" } else { "s" },
            self.waived_count(),
            if self.advisory { " (advisory)" } else { "" }
        )
    }

    /// The violations a change to `id` causes (shown beside that change).
    pub fn of_change<'a>(&'a self, id: &'a ResourceId) -> impl Iterator<Item = Violation<'a>> {
        self.violations()
            .filter(move |v| v.finding.source == Source::Change && &v.finding.resource == id)
    }

    /// The violations the live state already has, where the plan changes nothing.
    pub fn of_live(&self) -> impl Iterator<Item = Violation<'_>> {
        self.violations()
            .filter(|v| v.finding.source == Source::Live)
    }

    /// The documented JSON (docs/policy.md, "Policy JSON"): every rule's status and evidence.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "enforcement": if self.advisory { "advisory" } else { "mandatory" },
            "rules": self.results.len(),
            "violations": self.violation_count(),
            "waived": self.waived_count(),
            "results": self.results.iter().map(|r| serde_json::json!({
                "rule": r.rule,
                "title": r.title,
                "status": r.status,
                "evidence": r.findings.iter().map(|f| serde_json::json!({
                    "resource": f.resource.to_string(),
                    "field": f.field,
                    "value": f.value,
                    "status": f.status,
                    "source": f.source,
                    "note": f.note,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The plan JSON's `policy`: the counts, then each violation and each waived finding.
    pub fn plan_json(&self) -> serde_json::Value {
        let item = |r: &RuleResult, f: &Finding| {
            serde_json::json!({
                "rule": r.rule,
                "title": r.title,
                "resource": f.resource.to_string(),
                "field": f.field,
                "value": f.value,
                "source": f.source,
                "note": f.note,
            })
        };
        let with = |s: Status| {
            self.results
                .iter()
                .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
                .filter(|(_, f)| f.status == s)
                .map(|(r, f)| item(r, f))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "enforcement": if self.advisory { "advisory" } else { "mandatory" },
            "rules": self.results.len(),
            "violations": with(Status::Fail),
            "waived": with(Status::Waived),
        })
    }
}

/// Judge every rule of `rules` on `view`, with the env's waivers, on `today` (`YYYY-MM-DD`,
/// UTC): a waiver counts through its `expires` day.
pub fn evaluate_with(rules: &[Rule], view: &View, waivers: &[Waiver], today: &str) -> Report {
    let results = rules
        .iter()
        .map(|rule| {
            let findings: Vec<Finding> = (rule.check)(view)
                .into_iter()
                .map(|e| {
                    let source = view
                        .subjects
                        .iter()
                        .find(|s| s.id == &e.resource)
                        .map(|s| s.source)
                        .unwrap_or(Source::Change);
                    let waiver = waivers
                        .iter()
                        .find(|w| w.rule == rule.id && w.resource == e.resource);
                    let (status, note) = match (e.ok, waiver) {
                        (true, _) => (Status::Pass, None),
                        (false, None) => (Status::Fail, None),
                        (false, Some(w)) => match &w.expires {
                            Some(x) if x.as_str() < today => (
                                Status::Fail,
                                Some(format!("its waiver expired on {x}: {}", w.reason)),
                            ),
                            _ => (Status::Waived, Some(w.reason.clone())),
                        },
                    };
                    Finding {
                        resource: e.resource,
                        field: e.field,
                        value: e.value,
                        status,
                        source,
                        note,
                    }
                })
                .collect();
            let status = if findings.is_empty() {
                Status::NotApplicable
            } else if findings.iter().any(|f| f.status == Status::Fail) {
                Status::Fail
            } else if findings.iter().any(|f| f.status == Status::Waived) {
                Status::Waived
            } else {
                Status::Pass
            };
            RuleResult {
                rule: rule.id.to_string(),
                title: rule.title.to_string(),
                status,
                findings,
            }
        })
        .collect();
    Report {
        results,
        advisory: false,
    }
}

/// Every rule of [`RULES`] on the env after `plan`. A destroy plan is not judged (`None`).
pub fn evaluate(
    plan: &Plan,
    observed: &[Observed],
    waivers: &[Waiver],
    today: &str,
) -> Option<Report> {
    if plan.destroy {
        return None;
    }
    let view = View::of_plan(plan, observed);
    Some(evaluate_with(RULES, &view, waivers, today))
}

/// Today in UTC, `YYYY-MM-DD`.
pub fn today() -> String {
    crate::lock::rfc3339(std::time::SystemTime::now())
        .chars()
        .take(10)
        .collect()
}

/// What the spec's form could not check: each waiver names a rule of the table, a resource
/// the env has, and (in prod) a rule prod may waive. Errors point at the waiver's line.
pub fn check_waivers(
    spec: &Spec,
    desired: &[crate::model::Resource],
) -> Result<(), Vec<SpecError>> {
    let mut errs = vec![];
    let err = |at: &crate::spec::policy::Loc, path: String, message: String| SpecError {
        file: spec.file.clone(),
        line: at.line,
        col: at.col,
        path,
        message,
    };
    for w in &spec.policy.waivers {
        match rule(&w.rule) {
            None => errs.push(err(
                &w.rule_at,
                format!("{}.rule", w.path),
                format!(
                    "unknown rule {:?} (rules: {})",
                    w.rule,
                    RULES.iter().map(|r| r.id).collect::<Vec<_>>().join(", ")
                ),
            )),
            Some(r) if is_prod(&spec.env) && !r.prod_waivable => errs.push(err(
                &w.rule_at,
                format!("{}.rule", w.path),
                format!("{} ({}) may not be waived in prod", r.id, r.title),
            )),
            Some(_) => {}
        }
        if !desired.iter().any(|r| r.id == w.resource) {
            errs.push(err(
                &w.resource_at,
                format!("{}.resource", w.path),
                format!(
                    "unknown resource {}: env {} has no such resource (`rtech plan` lists their ids)",
                    w.resource, spec.env
                ),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// `rtech policy`'s text: every rule with its status and evidence, then the summary line.
pub fn text(report: &Report, env: &str) -> String {
    use std::fmt::Write;
    let mut out = format!("Policy of env {env} after the plan:\n\n");
    for r in &report.results {
        let _ = writeln!(out, "  {:<14} {:<14} {}", r.rule, r.status.word(), r.title);
        for f in &r.findings {
            let from = match f.source {
                Source::Change => "",
                Source::Live => " (live)",
            };
            let _ = write!(
                out,
                "      {:<6} {} {} = {}{from}",
                f.status.word(),
                f.resource,
                f.field,
                f.value
            );
            if let Some(n) = &f.note {
                let _ = write!(out, " — {n}");
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "\n{}", report.summary_line());
    out
}
