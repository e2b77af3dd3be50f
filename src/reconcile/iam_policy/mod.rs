//! Least-privilege IAM, generated from the code: each service declares, in its own `iam.rs`,
//! the operations it calls per mode and on which resources ([`Grant`]s, plain data); this
//! module turns them into IAM policy documents for one env (`rtech iam-policy`).
//!
//! Resource patterns are templates over the env's deterministic names:
//! `{arn:SVC}` is `arn:<partition>:SVC:<region>:<account>`, `{partition}`, `{region}`,
//! `{account}`, `{project}`, `{env}`, `{prefix}` (`<project>-<env>`), `{lock_bucket}` (the
//! spec's `[lock] bucket`, else the default for the account and region), and `{name:KIND}` once
//! per desired resource of that kind, `{name:KIND/NAME}` for the one resource of that id (a
//! pattern naming a kind or id the env has none of is left out).

pub mod actions;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::model::Resource;
use crate::reconcile::Service;
use crate::spec::Spec;

/// Which role the policy is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `plan` and `output`: observe only, read-only.
    Observe,
    /// `apply` and `destroy`: observe, and every change.
    Apply,
}

/// What a statement's access additionally depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    None,
    /// The resource carries the env's ownership tags (`aws:ResourceTag/rtech:project` and
    /// `…/rtech:env`): for resources whose ARN holds an AWS-made id rather than our name.
    Owned,
    /// `iam:PassedToService` is this service principal.
    PassedTo(&'static str),
}

/// One statement's worth of a service's declaration.
#[derive(Debug)]
pub struct Grant {
    /// The statement's `Sid`: what it allows, and for `*` why nothing narrower exists.
    pub sid: &'static str,
    pub mode: Mode,
    /// Operations as the code calls them (`ec2:CreateVpc`), mapped by [`actions::iam_actions`].
    pub ops: &'static [&'static str],
    /// IAM actions that no call of ours names but AWS checks on our behalf (`iam:PassRole`, the
    /// alarms Application Auto Scaling creates for a target-tracking policy).
    pub also: &'static [&'static str],
    /// Resource ARN patterns (templates, see the module docs); `["*"]` where AWS offers nothing
    /// narrower.
    pub on: &'static [&'static str],
    pub cond: Cond,
}

/// `on` for actions that support no resource-level permission.
pub const ANY: &[&str] = &["*"];

/// IAM caps a customer managed policy at 6,144 characters, whitespace not counted.
pub const MAX_POLICY_CHARS: usize = 6144;

/// The env a policy is generated for: the spec, the account, the region and its desired
/// resources (for the names in `{name:KIND}`).
pub struct Target<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    /// The region the env's calls go to (`--region`, else the spec's).
    pub region: &'a str,
    pub desired: &'a [Resource],
}

impl Target<'_> {
    fn region(&self) -> &str {
        self.region
    }

    /// The pattern with its placeholders filled in; several for `{name:KIND}`, none when the
    /// env has no resource of that kind.
    fn expand(&self, pattern: &str) -> Vec<String> {
        if pattern == "*" {
            return vec!["*".into()];
        }
        let partition = crate::reconcile::iam::partition(self.region());
        let mut s = pattern.to_string();
        while let Some(start) = s.find("{arn:") {
            let end = start + s[start..].find('}').expect("closed {arn:SVC}");
            let svc = s[start + 5..end].to_string();
            let arn = format!("arn:{partition}:{svc}:{}:{}", self.region(), self.account);
            s.replace_range(start..=end, &arn);
        }
        let s = s
            .replace("{partition}", partition)
            .replace("{region}", self.region())
            .replace("{account}", self.account)
            .replace(
                "{prefix}",
                &format!("{}-{}", self.spec.project, self.spec.env),
            )
            .replace("{lock_bucket}", &self.lock_bucket())
            .replace("{project}", &self.spec.project)
            .replace("{env}", &self.spec.env);
        let Some(start) = s.find("{name:") else {
            return vec![s];
        };
        let end = start + s[start..].find('}').expect("closed {name:KIND}");
        let which = &s[start + 6..end];
        self.desired
            .iter()
            .filter(|r| match which.split_once('/') {
                Some((kind, name)) => r.id.kind == kind && r.id.name == name,
                None => r.id.kind == which,
            })
            .map(|r| format!("{}{}{}", &s[..start], r.name, &s[end + 1..]))
            .collect()
    }

    /// The env's lock bucket: `[lock] bucket`, else the account's default.
    fn lock_bucket(&self) -> String {
        self.spec.lock.bucket.clone().unwrap_or_else(|| {
            crate::lock::default_bucket(&self.spec.project, self.account, self.region())
        })
    }

    fn condition(&self, cond: Cond) -> Option<Value> {
        match cond {
            Cond::None => None,
            Cond::Owned => Some(json!({"StringEquals": {
                "aws:ResourceTag/rtech:project": self.spec.project,
                "aws:ResourceTag/rtech:env": self.spec.env,
            }})),
            Cond::PassedTo(principal) => {
                Some(json!({"StringEquals": {"iam:PassedToService": principal}}))
            }
        }
    }
}

/// The grants of `mode`: observe's for a plan role, all for an apply role.
fn grants<'a>(
    services: &'a [&'static dyn Service],
    mode: Mode,
) -> impl Iterator<Item = &'static Grant> + 'a {
    services
        .iter()
        .flat_map(|s| s.iam().iter())
        .filter(move |g| mode == Mode::Apply || g.mode == Mode::Observe)
}

/// The operations (as the code names them) the grants of `mode` cover.
pub fn operations(services: &[&'static dyn Service], mode: Mode) -> BTreeSet<&'static str> {
    grants(services, mode)
        .flat_map(|g| g.ops.iter().copied())
        .collect()
}

/// The IAM actions of one grant, sorted.
pub fn grant_actions(g: &Grant) -> BTreeSet<String> {
    g.ops
        .iter()
        .flat_map(|op| actions::iam_actions(op))
        .chain(g.also.iter().map(|a| a.to_string()))
        .collect()
}

/// The policy statements for the env in `mode`, one per grant that has actions and resources.
pub fn statements(services: &[&'static dyn Service], t: &Target<'_>, mode: Mode) -> Vec<Value> {
    grants(services, mode)
        .filter_map(|g| {
            let actions: Vec<String> = grant_actions(g).into_iter().collect();
            let mut resources: Vec<String> = Vec::new();
            for r in g.on.iter().flat_map(|p| t.expand(p)) {
                if !resources.contains(&r) {
                    resources.push(r);
                }
            }
            if actions.is_empty() || resources.is_empty() {
                return None;
            }
            let mut st = Map::new();
            st.insert("Sid".into(), g.sid.into());
            st.insert("Effect".into(), "Allow".into());
            st.insert("Action".into(), one_or_list(actions));
            st.insert("Resource".into(), one_or_list(resources));
            if let Some(c) = t.condition(g.cond) {
                st.insert("Condition".into(), c);
            }
            Some(Value::Object(st))
        })
        .collect()
}

fn one_or_list(mut v: Vec<String>) -> Value {
    if v.len() == 1 {
        Value::String(v.remove(0))
    } else {
        json!(v)
    }
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The characters IAM counts for a policy: its JSON without whitespace outside strings.
pub fn policy_chars(doc: &Value) -> usize {
    serde_json::to_string(doc).expect("json").chars().count()
}

/// The env's policy in `mode` as documents of at most [`MAX_POLICY_CHARS`] each: one when it
/// fits, else each statement in the first document it still fits in (first fit, in order).
pub fn documents(services: &[&'static dyn Service], t: &Target<'_>, mode: Mode) -> Vec<Value> {
    let mut docs: Vec<Vec<Value>> = vec![];
    for st in statements(services, t, mode) {
        let fits = |d: &Vec<Value>| {
            let mut with = d.clone();
            with.push(st.clone());
            policy_chars(&document(with)) <= MAX_POLICY_CHARS
        };
        match docs.iter().position(fits) {
            Some(i) => docs[i].push(st),
            None => docs.push(vec![st]),
        }
    }
    docs.into_iter().map(document).collect()
}
