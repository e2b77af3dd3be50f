//! `[policy]`: the env's waivers of policy rules (docs/policy.md).
//!
//! ```toml
//! [[policy.waivers]]
//! rule = "ELB.6"
//! resource = "load_balancer/main"
//! reason = "dev is torn down nightly"
//! expires = "2027-06-30"   # optional: after this day the waiver no longer counts
//! ```
//!
//! `enforcement = "advisory"` (under `[policy]`) reports violations without blocking apply:
//! for sandbox envs that exercise one service at a time. The shipped envs are mandatory.
//!
//! Here the form is checked (a reason, a `kind/name` resource, a `YYYY-MM-DD` date); that the
//! rule exists, that the resource is one the env has, and that prod may waive the rule are
//! checked against the rule table and the expanded model (`crate::policy::check_waivers`),
//! with the locations kept here.

use serde::Deserialize;
use toml::Spanned;

use super::Errors;
use crate::model::ResourceId;

/// `[policy]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub enforcement: Option<Spanned<Enforcement>>,
    #[serde(default)]
    pub waivers: Vec<Spanned<RawWaiver>>,
}

/// Whether violations block apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Violations block `apply` (exit 1) before any change.
    #[default]
    Mandatory,
    /// Violations are shown, and apply goes ahead.
    Advisory,
}

/// The validated `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub enforcement: Enforcement,
    pub waivers: Vec<Waiver>,
}

/// One `[[policy.waivers]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWaiver {
    pub rule: Spanned<String>,
    pub resource: Spanned<String>,
    pub reason: Option<Spanned<String>>,
    pub expires: Option<Spanned<String>>,
}

/// Where a value was written, for errors found after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub line: usize,
    pub col: usize,
}

/// A validated waiver: `rule` may fail on `resource` for `reason`, until `expires` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub rule: String,
    pub resource: ResourceId,
    pub reason: String,
    /// `YYYY-MM-DD` (UTC): the last day the waiver counts.
    pub expires: Option<String>,
    /// `policy.waivers[i]`, for errors.
    pub path: String,
    pub rule_at: Loc,
    pub resource_at: Loc,
}

pub fn validate_policy(errs: &mut Errors, raw: Option<&RawPolicy>) -> Policy {
    let Some(raw) = raw else {
        return Policy::default();
    };
    let enforcement = raw
        .enforcement
        .as_ref()
        .map(|e| *e.get_ref())
        .unwrap_or_default();
    Policy {
        enforcement,
        waivers: waivers(errs, raw),
    }
}

fn waivers(errs: &mut Errors, raw: &RawPolicy) -> Vec<Waiver> {
    let mut out = vec![];
    for (i, w) in raw.waivers.iter().enumerate() {
        let path = format!("policy.waivers[{i}]");
        let r = w.get_ref();
        let loc = |span: std::ops::Range<usize>| {
            let (line, col) = errs.src.line_col(span.start);
            Loc { line, col }
        };
        let rule_at = loc(r.rule.span());
        let resource_at = loc(r.resource.span());
        let mut ok = true;
        let reason = match &r.reason {
            Some(s) if !s.get_ref().trim().is_empty() => s.get_ref().trim().to_string(),
            Some(s) => {
                errs.push(
                    s.span(),
                    &format!("{path}.reason"),
                    "must say why the rule may fail here (it is shown beside the waiver)",
                );
                ok = false;
                String::new()
            }
            None => {
                errs.push(
                    w.span(),
                    &format!("{path}.reason"),
                    "missing: a waiver must say why the rule may fail here",
                );
                ok = false;
                String::new()
            }
        };
        let resource = match r.resource.get_ref().parse::<ResourceId>() {
            Ok(id) => Some(id),
            Err(e) => {
                errs.push(r.resource.span(), &format!("{path}.resource"), e);
                ok = false;
                None
            }
        };
        if let Some(e) = &r.expires {
            if !is_date(e.get_ref()) {
                errs.push(
                    e.span(),
                    &format!("{path}.expires"),
                    format!("{:?} is not a date of the form YYYY-MM-DD", e.get_ref()),
                );
                ok = false;
            }
        }
        if r.rule.get_ref().trim().is_empty() {
            errs.push(
                r.rule.span(),
                &format!("{path}.rule"),
                "must name a rule (`rtech policy --env ENV` lists them)",
            );
            ok = false;
        }
        let twice = out.iter().find(|o: &&Waiver| {
            Some(&o.resource) == resource.as_ref() && &o.rule == r.rule.get_ref()
        });
        if let Some(first) = twice {
            errs.push(
                r.rule.span(),
                &format!("{path}.rule"),
                format!(
                    "{} on {} is already waived by {}",
                    first.rule, first.resource, first.path
                ),
            );
            ok = false;
        }
        if let (true, Some(resource)) = (ok, resource) {
            out.push(Waiver {
                rule: r.rule.get_ref().clone(),
                resource,
                reason,
                expires: r.expires.as_ref().map(|e| e.get_ref().clone()),
                path,
                rule_at,
                resource_at,
            });
        }
    }
    out
}

/// `YYYY-MM-DD` with a month 1-12 and a day the month has.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}
