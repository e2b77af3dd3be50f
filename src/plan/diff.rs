//! The diff: desired resources against what is live, field by field, into an ordered plan
//! (creates and updates in dependency order, deletes in reverse, replaces in the order their
//! kind needs), and the closures `--target` and `destroy --target` follow.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Observed, Ownership, Ref, Resource, ResourceId, Value};

use super::{close_ids, steps, Action, Change, Conflict, FieldDiff, KindSchema, Plan, PlanError};

/// Fingerprint recorded for a resource that did not exist.
pub const ABSENT: &str = "absent";

pub struct DiffInput<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub region: &'a str,
    pub desired: &'a [Resource],
    pub observed: &'a [Observed],
    pub schema: &'a dyn Fn(&str) -> Option<&'static KindSchema>,
    /// Whether `rtech import` can adopt a live resource of this kind (a conflict then says how).
    pub importable: &'a dyn Fn(&str) -> bool,
    /// Limit the plan to these (and what they depend on; in a destroy, what depends on them).
    pub targets: &'a [ResourceId],
    /// Replace these even though nothing forces it (`--replace`); created when absent.
    pub replace: &'a [ResourceId],
    pub destroy: bool,
}

/// What a plan says of a live resource that holds the name `id` wants but lacks rtech's tags:
/// what rtech will not do, and the ways out (for a kind `rtech import` adopts, its command).
fn conflict_message(input: &DiffInput, id: &ResourceId, name: &str, physical: &str) -> String {
    let adopt = if (input.importable)(&id.kind) {
        format!(
            "or adopt it with `rtech import --env {} {id} {physical}`",
            input.env
        )
    } else {
        format!(
            "or tag it {}={} {}={} {}={id} to adopt it",
            crate::model::TAG_PROJECT,
            input.project,
            crate::model::TAG_ENV,
            input.env,
            crate::model::TAG_ID
        )
    };
    format!(
        "conflict: {name} ({physical}) already exists without rtech's tags; rtech will not modify or delete it (delete or rename it, {adopt})"
    )
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
                        message: conflict_message(input, id, &r.name, &f.physical_id),
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
