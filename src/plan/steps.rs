//! The step graph of a plan: which step of which change waits for which (pure). The plan
//! decides the order (including whether a replace creates or deletes first); the engine
//! executes these steps and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Change, PlanError};
use crate::model::ResourceId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Delete,
    Create,
    Update,
}

/// One step: a phase of one change (a Replace is a Delete step then a Create step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub change: usize,
    pub phase: Phase,
    /// Steps that must finish first.
    pub after: BTreeSet<usize>,
}

/// Decide, for every replace, whether it creates first (`create_first`: the kind allows two
/// at once and AWS will not delete the old one while in use) or deletes first. Should creating
/// first close a cycle (a new resource waiting on a parent replaced delete-first), every
/// replace deletes first instead. The plan records the decision; the executor follows it.
pub fn decide_replace_order(changes: &mut [Change]) {
    if !acyclic(&build_steps(changes)) {
        for c in changes.iter_mut() {
            c.create_first = false;
        }
    }
}

/// The step graph of a plan (pure), exactly as the plan orders it. Creates and updates wait
/// for what they depend on; a delete waits until whatever depended on the resource has been
/// deleted (or, for a plain delete, updated away from it); a replace that creates first
/// deletes the old resource last. A plan whose order cannot be honoured (a cycle) is refused.
pub fn steps(changes: &[Change]) -> Result<Vec<Step>, PlanError> {
    let out = build_steps(changes);
    if acyclic(&out) {
        Ok(out)
    } else {
        let stuck = changes
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_else(|| ResourceId::new("plan", "empty"));
        Err(PlanError::Unorderable(stuck))
    }
}

/// Every step can run once those before it have (no cycle).
fn acyclic(steps: &[Step]) -> bool {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    loop {
        let ready: Vec<usize> = (0..steps.len())
            .filter(|s| !done.contains(s) && steps[*s].after.iter().all(|a| done.contains(a)))
            .collect();
        if ready.is_empty() {
            return done.len() == steps.len();
        }
        done.extend(ready);
    }
}

fn build_steps(changes: &[Change]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut del: BTreeMap<&ResourceId, usize> = BTreeMap::new();
    let mut up: BTreeMap<&ResourceId, usize> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        if matches!(c.action, Action::Delete | Action::Replace) {
            del.insert(&c.id, out.len());
            out.push(Step {
                change: i,
                phase: Phase::Delete,
                after: BTreeSet::new(),
            });
        }
        match c.action {
            Action::Create | Action::Replace => {
                up.insert(&c.id, out.len());
                out.push(Step {
                    change: i,
                    phase: Phase::Create,
                    after: BTreeSet::new(),
                });
            }
            Action::Update => {
                up.insert(&c.id, out.len());
                out.push(Step {
                    change: i,
                    phase: Phase::Update,
                    after: BTreeSet::new(),
                });
            }
            Action::Delete => {}
        }
    }
    let updates: Vec<usize> = (0..out.len())
        .filter(|s| out[*s].phase == Phase::Update)
        .collect();
    for s in 0..out.len() {
        let c = &changes[out[s].change];
        let mut after = BTreeSet::new();
        match out[s].phase {
            Phase::Create | Phase::Update => {
                if let Some(d) = &c.desired {
                    for dep in &d.deps {
                        if let Some(&n) = up.get(dep) {
                            after.insert(n);
                        }
                    }
                }
                // A replace deletes first, unless it creates first.
                if let Some(&n) = del.get(&c.id).filter(|_| !c.create_first) {
                    after.insert(n);
                }
            }
            Phase::Delete => {
                // Creating first: the old resource goes after the new one exists and after
                // everything that uses it, directly or not, has moved on to the new one.
                if c.create_first {
                    if let Some(&n) = up.get(&c.id) {
                        after.insert(n);
                    }
                    for j in dependants(changes, &c.id) {
                        if let Some(&n) = up.get(&changes[j].id) {
                            after.insert(n);
                        }
                    }
                }
                // A second one of ours (`kind/name~<id>`, left by an interrupted apply) may
                // still be in use by something this plan moves to `kind/name` (through
                // resources the plan does not change): it goes after every update.
                if c.id.name.contains('~') {
                    after.extend(updates.iter().copied());
                }
                for (j, other) in changes.iter().enumerate() {
                    let depends = other.prior.as_ref().is_some_and(|p| p.deps.contains(&c.id));
                    if !depends || j == out[s].change {
                        continue;
                    }
                    if let Some(&n) = del.get(&other.id) {
                        after.insert(n);
                    } else if c.action == Action::Delete {
                        if let Some(&n) = up.get(&other.id) {
                            after.insert(n);
                        }
                    }
                }
            }
        }
        out[s].after = after;
    }
    out
}

/// The changes that depend on `id`, directly or through others (by desired or prior deps).
fn dependants(changes: &[Change], id: &ResourceId) -> BTreeSet<usize> {
    let mut reached: BTreeSet<&ResourceId> = BTreeSet::from([id]);
    let mut out = BTreeSet::new();
    loop {
        let before = out.len();
        for (j, c) in changes.iter().enumerate() {
            if out.contains(&j) || c.id == *id {
                continue;
            }
            let deps = c
                .desired
                .iter()
                .flat_map(|d| d.deps.iter())
                .chain(c.prior.iter().flat_map(|p| p.deps.iter()));
            if deps.into_iter().any(|d| reached.contains(d)) {
                out.insert(j);
                reached.insert(&c.id);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
