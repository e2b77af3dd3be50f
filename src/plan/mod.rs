//! Plans: the pure diff of Desired against Observed, ordering, rendering and saved plans.

pub mod graph;
pub mod render;
pub mod saved;
pub mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Observed, Ownership, Ref, Resource, ResourceId, Value};

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

/// Fingerprint recorded for a resource that did not exist.
pub const ABSENT: &str = "absent";

pub struct DiffInput<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub region: &'a str,
    pub desired: &'a [Resource],
    pub observed: &'a [Observed],
    pub schema: &'a dyn Fn(&str) -> Option<&'static KindSchema>,
    /// Limit the plan to these (and what they depend on; in a destroy, what depends on them).
    pub targets: &'a [ResourceId],
    /// Replace these even though nothing forces it (`--replace`); created when absent.
    pub replace: &'a [ResourceId],
    pub destroy: bool,
}

/// Order resources so that each comes after what it depends on (ties by id).
pub fn topo_order<'a>(
    items: &[(&'a ResourceId, &'a BTreeSet<ResourceId>)],
) -> Result<Vec<&'a ResourceId>, PlanError> {
    let ids: BTreeSet<&ResourceId> = items.iter().map(|(id, _)| *id).collect();
    let deps: BTreeMap<&ResourceId, Vec<&ResourceId>> = items
        .iter()
        .map(|(id, d)| (*id, d.iter().filter(|x| ids.contains(x)).collect()))
        .collect();
    let mut done: BTreeSet<&ResourceId> = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    while out.len() < items.len() {
        let ready: Vec<&ResourceId> = deps
            .iter()
            .filter(|(id, d)| !done.contains(*id) && d.iter().all(|x| done.contains(x)))
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            let stuck = deps
                .keys()
                .find(|id| !done.contains(*id))
                .expect("something is left");
            return Err(PlanError::Cycle((*stuck).clone()));
        }
        for id in ready {
            done.insert(id);
            out.push(id);
        }
    }
    Ok(out)
}

/// Flatten a property difference into field diffs (maps per key, everything else whole).
fn field_diffs(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    sensitive: bool,
    force_new: bool,
    out: &mut Vec<FieldDiff>,
) {
    let empty = Value::Map(BTreeMap::new());
    let (before, after) = match (before, after) {
        (None | Some(Value::Null), Some(Value::Map(_))) => (Some(&empty), after),
        (Some(Value::Map(_)), None | Some(Value::Null)) => (before, Some(&empty)),
        other => other,
    };
    match (before, after) {
        (Some(Value::Map(b)), Some(Value::Map(a))) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                field_diffs(
                    &format!("{path}.{k}"),
                    b.get(k),
                    a.get(k),
                    sensitive,
                    force_new,
                    out,
                );
            }
        }
        (b, a) => {
            let b = b.filter(|v| **v != Value::Null);
            let a = a.filter(|v| **v != Value::Null);
            let unknown = a.is_some_and(Value::is_unknown);
            if b != a || unknown {
                out.push(FieldDiff {
                    path: path.to_string(),
                    before: b.cloned(),
                    after: a.cloned(),
                    sensitive,
                    forces_replacement: force_new,
                });
            }
        }
    }
}

/// Fill every late-initialised property: the live value when the resource exists (and is
/// ours), else the spec's default. Pure.
pub fn late_initialise(desired: &[Resource], observed: &[Observed]) -> Vec<Resource> {
    desired
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let live = observed
                .iter()
                .find(|o| o.id == r.id && o.ownership == Ownership::Owned);
            for (k, late) in std::mem::take(&mut r.late_init) {
                let v = late.fill(live.and_then(|o| o.props.get(&k)));
                r.props.insert(k, v);
            }
            r
        })
        .collect()
}

/// The pure diff: Desired × Observed → ordered changes.
pub fn diff(input: &DiffInput) -> Result<Plan, PlanError> {
    let filled = late_initialise(input.desired, input.observed);
    let desired_list: &[Resource] = &filled;
    let mut desired_by_id: BTreeMap<&ResourceId, &Resource> = BTreeMap::new();
    for r in desired_list {
        if desired_by_id.insert(&r.id, r).is_some() {
            return Err(PlanError::Duplicate(r.id.clone()));
        }
    }
    let mut owned: BTreeMap<&ResourceId, &Observed> = BTreeMap::new();
    let mut foreign: BTreeMap<&ResourceId, &Observed> = BTreeMap::new();
    for o in input.observed {
        match o.ownership {
            Ownership::Owned => {
                owned.insert(&o.id, o);
            }
            Ownership::Foreign => {
                foreign.insert(&o.id, o);
            }
        }
    }
    let known = |id: &ResourceId| desired_by_id.contains_key(id) || owned.contains_key(id);
    let unknown = |flag: &'static str, id: &ResourceId| PlanError::UnknownId {
        flag,
        id: id.clone(),
        place: if input.destroy {
            "of rtech's in AWS"
        } else {
            "in the spec or in AWS"
        },
        close: close_ids(
            id,
            desired_by_id.keys().copied().chain(owned.keys().copied()),
        ),
    };
    for t in input.targets {
        if !known(t) {
            return Err(unknown("--target", t));
        }
    }
    for t in input.replace {
        if !known(t) {
            return Err(unknown("--replace", t));
        }
    }
    for r in desired_list {
        for d in &r.deps {
            if !desired_by_id.contains_key(d) && !owned.contains_key(d) {
                return Err(PlanError::MissingDep(r.id.clone(), d.clone()));
            }
        }
    }

    let items: Vec<(&ResourceId, &BTreeSet<ResourceId>)> =
        desired_list.iter().map(|r| (&r.id, &r.deps)).collect();
    let order = topo_order(&items)?;

    // Resources whose attributes will only be known after apply.
    let mut pending: BTreeSet<ResourceId> = BTreeSet::new();
    let mut changes: Vec<Change> = Vec::new();
    let mut conflicts = Vec::new();
    let mut unchanged = 0;
    for id in order {
        let r = desired_by_id[id];
        let lookup = |rf: &Ref| -> Option<String> {
            if pending.contains(&rf.resource) {
                return None;
            }
            owned
                .get(&rf.resource)
                .and_then(|o| o.attrs.get(&rf.attr).cloned())
        };
        let resolved: BTreeMap<&String, Value> = r
            .props
            .iter()
            .map(|(k, v)| (k, v.resolve(&lookup)))
            .collect();
        let schema = (input.schema)(&r.id.kind);
        let is_force_new = |k: &str| schema.is_some_and(|s| s.force_new.contains(&k));
        match owned.get(id) {
            None => {
                if let Some(f) = foreign.get(id) {
                    conflicts.push(Conflict {
                        id: id.clone(),
                        physical_id: f.physical_id.clone(),
                        message: format!(
                            "conflict: {} ({}) already exists without rtech's tags; rtech will not modify or delete it (delete or rename it, or tag it {}={} {}={} {}={} to adopt it)",
                            r.name, f.physical_id, crate::model::TAG_PROJECT, input.project, crate::model::TAG_ENV, input.env, crate::model::TAG_ID, id
                        ),
                    });
                    pending.insert(id.clone());
                    continue;
                }
                let mut fields = Vec::new();
                for (k, v) in &resolved {
                    field_diffs(
                        k,
                        None,
                        Some(v),
                        r.sensitive.contains(*k) || r.masked.contains(*k),
                        false,
                        &mut fields,
                    );
                }
                pending.insert(id.clone());
                changes.push(Change {
                    id: id.clone(),
                    action: Action::Create,
                    // Terraform's habit: a replace asked for something absent is a create.
                    reason: input
                        .replace
                        .contains(id)
                        .then(|| "--replace: does not exist yet, so it is created".to_string()),
                    name: r.name.clone(),
                    fields,
                    desired: Some(r.clone()),
                    prior: None,
                    create_first: false,
                });
            }
            Some(o) => {
                let mut fields = Vec::new();
                for (k, v) in &resolved {
                    field_diffs(
                        k,
                        o.props.get(*k),
                        Some(v),
                        r.sensitive.contains(*k) || r.masked.contains(*k),
                        is_force_new(k),
                        &mut fields,
                    );
                }
                let requested = input.replace.contains(id);
                if fields.is_empty() && !requested {
                    unchanged += 1;
                    continue;
                }
                let forcing: Vec<&str> = fields
                    .iter()
                    .filter(|f| f.forces_replacement)
                    .map(|f| f.prop())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (action, reason) = if forcing.is_empty() && requested {
                    pending.insert(id.clone());
                    (
                        Action::Replace,
                        Some("replacement requested with --replace".to_string()),
                    )
                } else if forcing.is_empty() {
                    if schema.is_some_and(|s| s.new_attrs_on_update) {
                        pending.insert(id.clone());
                    }
                    (Action::Update, None)
                } else {
                    pending.insert(id.clone());
                    (
                        Action::Replace,
                        Some(format!("{} cannot change in place", forcing.join(", "))),
                    )
                };
                let create_first =
                    action == Action::Replace && schema.is_some_and(|s| s.create_before_destroy);
                changes.push(Change {
                    id: id.clone(),
                    action,
                    reason,
                    name: r.name.clone(),
                    fields,
                    desired: Some(r.clone()),
                    prior: Some((*o).clone()),
                    create_first,
                });
            }
        }
    }

    // Deletes: owned resources the spec no longer has, dependants first.
    let gone: Vec<&Observed> = owned
        .values()
        .filter(|o| !desired_by_id.contains_key(&o.id))
        .copied()
        .collect();
    let items: Vec<(&ResourceId, &BTreeSet<ResourceId>)> =
        gone.iter().map(|o| (&o.id, &o.deps)).collect();
    let mut del_order = topo_order(&items)?;
    del_order.reverse();
    for id in del_order {
        let o = owned[id];
        changes.push(Change {
            id: id.clone(),
            action: Action::Delete,
            reason: if input.destroy {
                None
            } else {
                Some("not in the spec".into())
            },
            name: o.tag("Name").unwrap_or_default().to_string(),
            fields: vec![],
            desired: None,
            prior: Some(o.clone()),
            create_first: false,
        });
    }

    if input.destroy && !input.targets.is_empty() {
        let keep = destroy_closure(input.targets, owned.values().copied());
        changes.retain(|c| keep.contains(&c.id));
    } else if !input.targets.is_empty() {
        // A resource to replace is one more target.
        let mut targets = input.targets.to_vec();
        targets.extend(input.replace.iter().cloned());
        changes = filter_targets(changes, &targets, &desired_by_id);
    }
    steps::decide_replace_order(&mut changes);

    let mut fingerprints = BTreeMap::new();
    for id in desired_by_id.keys() {
        fingerprints.insert((*id).clone(), ABSENT.to_string());
    }
    for o in input.observed {
        fingerprints.insert(o.id.clone(), o.fingerprint());
    }

    Ok(Plan {
        project: input.project.to_string(),
        env: input.env.to_string(),
        region: input.region.to_string(),
        destroy: input.destroy,
        changes,
        conflicts,
        unchanged,
        fingerprints,
        desired: filled.clone(),
        origin: None,
        blocked: vec![],
        policy: None,
        zone: None,
        drills: vec![],
    })
}

/// What `destroy --target` deletes: the targets and every resource of ours that depends on
/// one of them, directly or not (by the live dependencies, as destroy orders its deletes).
/// Terraform's habit: a resource cannot outlive what it needs.
pub fn destroy_closure<'a>(
    targets: &[ResourceId],
    owned: impl Iterator<Item = &'a Observed> + Clone,
) -> BTreeSet<ResourceId> {
    let mut keep: BTreeSet<ResourceId> = targets.iter().cloned().collect();
    loop {
        let more: Vec<ResourceId> = owned
            .clone()
            .filter(|o| !keep.contains(&o.id) && o.deps.iter().any(|d| keep.contains(d)))
            .map(|o| o.id.clone())
            .collect();
        if more.is_empty() {
            return keep;
        }
        keep.extend(more);
    }
}

/// Keep the targeted changes and the changes they depend on (as Terraform's -target does),
/// and the users of a resource replaced by creating first. Dependencies are followed through
/// the spec's resources whether they change or not: an unchanged rule still brings a drifted
/// listener it depends on.
fn filter_targets(
    changes: Vec<Change>,
    targets: &[ResourceId],
    desired: &BTreeMap<&ResourceId, &Resource>,
) -> Vec<Change> {
    let by_id: BTreeMap<&ResourceId, &Change> = changes.iter().map(|c| (&c.id, c)).collect();
    let mut keep: BTreeSet<ResourceId> = BTreeSet::new();
    let mut stack: Vec<ResourceId> = targets.to_vec();
    while let Some(id) = stack.pop() {
        if !keep.insert(id.clone()) {
            continue;
        }
        if let Some(r) = desired.get(&id) {
            stack.extend(r.deps.iter().cloned());
        }
        if let Some(c) = by_id.get(&id) {
            // A replace that creates first deletes the old resource only once its users have
            // moved to the new one: they come along (else the delete would find it in use).
            if c.create_first {
                stack.extend(
                    changes
                        .iter()
                        .filter(|o| {
                            o.desired.iter().any(|d| d.deps.contains(&id))
                                || o.prior.iter().any(|p| p.deps.contains(&id))
                        })
                        .map(|o| o.id.clone()),
                );
            }
        }
    }
    changes
        .into_iter()
        .filter(|c| keep.contains(&c.id))
        .collect()
}

#[cfg(test)]
mod destroy_replace_tests;
#[cfg(test)]
mod tests;
