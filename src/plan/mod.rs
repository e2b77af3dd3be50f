//! Plans: the pure diff of Desired against Observed, ordering, rendering and saved plans.

mod diff;
pub mod graph;
pub mod render;
pub mod saved;
pub mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Observed, Resource, ResourceId, Value};

/// What a change does (Terraform's closed set; `reason` is for display only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete, then create (a field cannot change in place).
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        })
    }
}

/// One field's difference. `before`/`after` are `None` when the field is absent on that side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
    pub forces_replacement: bool,
}

impl FieldDiff {
    /// The top-level property this diff belongs to (`tags.Name` → `tags`).
    pub fn prop(&self) -> &str {
        self.path.split('.').next().unwrap_or(&self.path)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: ResourceId,
    pub action: Action,
    pub reason: Option<String>,
    /// The AWS name (or Name tag) of the resource.
    pub name: String,
    pub fields: Vec<FieldDiff>,
    /// What to create or update to (references unresolved).
    pub desired: Option<Resource>,
    /// What was there (for update, replace and delete).
    pub prior: Option<Observed>,
    /// A replace that creates the new resource before deleting the old one (`+/-`).
    #[serde(default)]
    pub create_first: bool,
}

impl Change {
    /// The plan-text symbol: the action's, `+/-` for a replace that creates first.
    pub fn symbol(&self) -> &'static str {
        if self.action == Action::Replace && self.create_first {
            "+/-"
        } else {
            self.action.symbol()
        }
    }
    pub fn physical_id(&self) -> Option<&str> {
        self.prior.as_ref().map(|p| p.physical_id.as_str())
    }
    /// Top-level properties with a difference.
    pub fn changed_props(&self) -> BTreeSet<String> {
        self.fields.iter().map(|f| f.prop().to_string()).collect()
    }
}

/// A live resource under a name we want, without our tags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: ResourceId,
    pub physical_id: String,
    pub message: String,
}

/// A change the plan holds back because something outside it is missing (a new task
/// definition's image not pushed yet), or because it depends on such a change: shown, never
/// executed; apply makes the other changes and exits 1 naming it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    pub change: Change,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub conflict: usize,
    pub unchanged: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    pub env: String,
    pub region: String,
    /// Whether this plan destroys everything (rtech destroy).
    pub destroy: bool,
    /// In execution order: creates/updates by dependency, then deletes in reverse.
    pub changes: Vec<Change>,
    pub conflicts: Vec<Conflict>,
    pub unchanged: usize,
    /// For every resource the plan read: a fingerprint of what was observed, or `absent`.
    pub fingerprints: BTreeMap<ResourceId, String>,
    /// The whole desired model the plan was made from (a saved plan observes with it again).
    #[serde(default)]
    pub desired: Vec<Resource>,
    /// Where and as whom the plan was made (set by the session; `None` in a plan of an older
    /// version).
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Changes held back (see [`Blocked`]), in plan order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocked>,
    /// The policy's verdict on the env after this plan (set by the session; `None` for a
    /// destroy, and in a plan of an older version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::Report>,
    /// A destroy plan's Route 53 zone (the spec's): applying it saved observes the env's
    /// records there again, as the plan did (set by the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// A destroy plan's DocumentDB clusters kept by `rtech drill restore --keep`: deleted
    /// first, as they use the subnet group and security group the plan deletes (set by the
    /// command, when the plan deletes the env's cluster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<String>,
}

/// The account and caller a plan was made as (sts:GetCallerIdentity), and the env's lock
/// bucket: a saved plan is applied in that account only, under that bucket's lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub account: String,
    pub caller: String,
    pub lock_bucket: String,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let count = |a: Action| self.changes.iter().filter(|c| c.action == a).count();
        Summary {
            add: count(Action::Create),
            change: count(Action::Update),
            replace: count(Action::Replace),
            destroy: count(Action::Delete),
            conflict: self.conflicts.len(),
            unchanged: self.unchanged,
        }
    }
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Hold back the change to `id` with `message`, and every change that depends on it,
    /// directly or not (`waits for <id>`). Nothing happens when no change is to `id`.
    pub fn block(&mut self, id: &ResourceId, message: String) {
        if !self.changes.iter().any(|c| &c.id == id) {
            return;
        }
        let mut held: BTreeSet<ResourceId> = BTreeSet::from([id.clone()]);
        loop {
            let more: Vec<ResourceId> = self
                .changes
                .iter()
                .filter(|c| !held.contains(&c.id))
                .filter(|c| {
                    c.desired
                        .as_ref()
                        .is_some_and(|d| d.deps.iter().any(|x| held.contains(x)))
                })
                .map(|c| c.id.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            held.extend(more);
        }
        let (out, keep): (Vec<Change>, Vec<Change>) = std::mem::take(&mut self.changes)
            .into_iter()
            .partition(|c| held.contains(&c.id));
        self.changes = keep;
        for c in out {
            let message = if &c.id == id {
                message.clone()
            } else {
                format!("waits for {id}")
            };
            self.blocked.push(Blocked { change: c, message });
        }
    }

    /// `<id>: <message>` of every blocked change that is not only waiting for another.
    pub fn blocked_steps(&self) -> Vec<String> {
        self.blocked
            .iter()
            .filter(|b| !b.message.starts_with("waits for "))
            .map(|b| format!("{}: {}", b.change.id, b.message))
            .collect()
    }
}

/// Per-kind facts the diff needs.
#[derive(Debug)]
pub struct KindSchema {
    pub kind: &'static str,
    /// Properties that cannot change in place: a difference makes a Replace.
    pub force_new: &'static [&'static str],
    /// An in-place update gives the resource new attributes (a task definition's update
    /// registers a new revision, with a new ARN): dependants see them as known after apply.
    pub new_attrs_on_update: bool,
    /// A replace creates the new resource first, moves dependants to it, then deletes the old
    /// one (the kind allows two at once: no fixed name). For what AWS will not delete while in
    /// use (a certificate on a listener or distribution).
    pub create_before_destroy: bool,
}

impl KindSchema {
    /// A kind whose updates keep its attributes and whose replace deletes first: only the
    /// properties that force a replace vary.
    pub const fn replaced_on(kind: &'static str, force_new: &'static [&'static str]) -> Self {
        KindSchema {
            kind,
            force_new,
            new_attrs_on_update: false,
            create_before_destroy: false,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("{0}: depends on {1}, which is neither in the spec nor in AWS")]
    MissingDep(ResourceId, ResourceId),
    #[error("dependency cycle through {0}")]
    Cycle(ResourceId),
    /// `--target` or `--replace` naming nothing the plan knows (`place`: where it looked),
    /// with the known ids closest to it.
    #[error("{flag} {id}: no such resource {place}{}", close_hint(close))]
    UnknownId {
        flag: &'static str,
        id: ResourceId,
        place: &'static str,
        close: Vec<ResourceId>,
    },
    #[error("{0}: declared twice")]
    Duplicate(ResourceId),
    #[error("the plan's changes cannot be ordered (a cycle through {0}); run plan again")]
    Unorderable(ResourceId),
}

/// `; did you mean: a, b?` when there are close ids.
fn close_hint(close: &[ResourceId]) -> String {
    if close.is_empty() {
        return String::new();
    }
    let list: Vec<String> = close.iter().map(ToString::to_string).collect();
    format!("; did you mean: {}?", list.join(", "))
}

/// Edit distance (Levenshtein, by character).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Up to five known ids closest to `id`: within a third of its length in edits, or of its
/// kind when none is (`subnet/nope` → the subnets), nearest first.
pub fn close_ids<'a>(
    id: &ResourceId,
    known: impl Iterator<Item = &'a ResourceId>,
) -> Vec<ResourceId> {
    let want = id.to_string();
    let mut scored: Vec<(usize, &ResourceId)> = known
        .map(|k| (distance(&want, &k.to_string()), k))
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let near: Vec<ResourceId> = scored
        .iter()
        .filter(|(d, _)| *d <= (want.chars().count() / 3).max(2))
        .map(|(_, k)| (*k).clone())
        .take(5)
        .collect();
    if !near.is_empty() {
        return near;
    }
    scored
        .iter()
        .filter(|(_, k)| k.kind == id.kind)
        .map(|(_, k)| (*k).clone())
        .take(5)
        .collect()
}

#[cfg(test)]
pub use diff::{destroy_closure, late_initialise, topo_order};
pub use diff::{diff, DiffInput, ABSENT};

#[cfg(test)]
mod destroy_replace_tests;
#[cfg(test)]
mod tests;
