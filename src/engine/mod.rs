//! Executes a Plan: a dependency graph of steps run with bounded concurrency; deletes in
//! reverse dependency order; a failed step stops new work while the rest finish, and what
//! succeeded stays (the next plan picks up exactly what is left).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::aws::AwsError;
use crate::model::{Attrs, Observed, Ownership, ResourceId};
use crate::plan::{Action, Change, Plan};
use crate::progress::{self, Progress};
use crate::reconcile::{owner, Ctx, Op, Reconciler};

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

/// Build the step graph (pure). Creates and updates wait for what they depend on; a delete
/// waits until whatever depended on the resource has been deleted (or, for a plain delete,
/// updated away from it). A replace that creates first deletes the old resource last; should
/// that close a cycle (its new resource waiting on a parent replaced delete-first), every
/// replace deletes first instead.
pub fn steps(changes: &[Change]) -> Vec<Step> {
    let out = build_steps(changes, true);
    if acyclic(&out) {
        out
    } else {
        build_steps(changes, false)
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

fn build_steps(changes: &[Change], create_first: bool) -> Vec<Step> {
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
                if let Some(&n) = del.get(&c.id).filter(|_| !(create_first && c.create_first)) {
                    after.insert(n);
                }
            }
            Phase::Delete => {
                // Creating first: the old resource goes after the new one exists and after
                // everything that uses it, directly or not, has moved on to the new one.
                if create_first && c.create_first {
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
                if create_first && c.id.name.contains('~') {
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

#[derive(Debug)]
pub struct Failure {
    pub id: ResourceId,
    pub action: Action,
    pub error: AwsError,
}

#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<(ResourceId, Action)>,
    pub failures: Vec<Failure>,
    /// Steps never started because something failed or the run was interrupted.
    pub not_started: usize,
    pub interrupted: bool,
}

impl Report {
    /// Everything ran and succeeded (a step left unstarted is never success).
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.interrupted && self.not_started == 0
    }
}

fn verb(phase: Phase, action: Action) -> (&'static str, &'static str) {
    match (phase, action) {
        (Phase::Delete, Action::Replace) => ("destroying (replace)", "destroyed"),
        (Phase::Delete, _) => ("destroying", "destroyed"),
        (Phase::Create, Action::Replace) => ("creating (replace)", "created"),
        (Phase::Create, _) => ("creating", "created"),
        (Phase::Update, _) => ("updating", "updated"),
    }
}

/// Apply the plan. `observed` is the live state the plan was checked against: references to
/// unchanged resources resolve against its attributes (and a referenced resource that is not
/// ready yet is waited for through its reconciler's `settle`).
pub async fn execute(
    plan: &Plan,
    regs: &[Arc<dyn Reconciler>],
    ctx: Arc<Ctx>,
    observed: &[Observed],
    parallelism: usize,
    progress: &Progress,
) -> Report {
    let live: BTreeMap<ResourceId, Observed> = observed
        .iter()
        .filter(|o| o.ownership == Ownership::Owned)
        .map(|o| (o.id.clone(), o.clone()))
        .collect();
    let mut known: BTreeMap<ResourceId, Attrs> = live
        .iter()
        .map(|(id, o)| (id.clone(), o.attrs.clone()))
        .collect();
    // What this plan creates or updates: its attributes come from the plan's own steps.
    let planned: BTreeSet<ResourceId> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| c.id.clone())
        .collect();
    let graph = steps(&plan.changes);
    let mut report = Report::default();
    let mut finished: BTreeSet<usize> = BTreeSet::new();
    let mut started: BTreeSet<usize> = BTreeSet::new();
    let mut stop = false;
    let mut set: JoinSet<(usize, Result<Attrs, AwsError>)> = JoinSet::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let parallelism = parallelism.max(1);

    loop {
        if !stop {
            let ready: Vec<usize> = (0..graph.len())
                .filter(|s| {
                    !started.contains(s) && graph[*s].after.iter().all(|a| finished.contains(a))
                })
                .collect();
            for s in ready {
                if set.len() >= parallelism {
                    break;
                }
                started.insert(s);
                let step = graph[s].clone();
                let change = plan.changes[step.change].clone();
                let Some(rec) = owner(regs, &change.id.kind).cloned() else {
                    report.failures.push(Failure {
                        id: change.id.clone(),
                        action: change.action,
                        error: AwsError::new(
                            "rtech",
                            "UnknownKind",
                            format!("no reconciler owns kind {}", change.id.kind),
                        ),
                    });
                    stop = true;
                    break;
                };
                // References to live resources this plan leaves alone but whose attribute is
                // missing (not ready yet): wait for them first, through their reconciler.
                let mut settle: Vec<(Arc<dyn Reconciler>, Observed)> = vec![];
                if let Some(d) = &change.desired {
                    let mut refs = vec![];
                    d.props.values().for_each(|v| v.refs(&mut refs));
                    for r in refs {
                        let missing = known
                            .get(&r.resource)
                            .and_then(|a| a.get(&r.attr))
                            .is_none();
                        if !missing
                            || planned.contains(&r.resource)
                            || settle.iter().any(|(_, o)| o.id == r.resource)
                        {
                            continue;
                        }
                        if let (Some(o), Some(rr)) =
                            (live.get(&r.resource), owner(regs, &r.resource.kind))
                        {
                            settle.push((rr.clone(), o.clone()));
                        }
                    }
                }
                // Resolved in the step against what is known now (dependencies have finished).
                let snapshot = known.clone();
                let ctx = ctx.clone();
                let (v_start, _) = verb(step.phase, change.action);
                let task = progress.start(&change.id.to_string(), v_start);
                set.spawn(async move {
                    let result = async {
                        let mut snapshot = snapshot;
                        for (rr, o) in &settle {
                            task.status(&format!("waiting for {} to be ready", o.id));
                            let attrs = rr.settle(&ctx, o, &task).await?;
                            snapshot.insert(o.id.clone(), attrs);
                        }
                        let resolved = change.desired.as_ref().map(|d| resolve(d, &snapshot));
                        run_step(&*rec, &ctx, &step, &change, resolved.as_ref(), &task).await
                    }
                    .await;
                    match &result {
                        Ok(attrs) => {
                            let (_, v_done) = verb(step.phase, change.action);
                            let what = attrs
                                .get("id")
                                .map(|id| format!(" ({id})"))
                                .unwrap_or_default();
                            task.finish(&format!("{v_done}{what}"));
                        }
                        Err(e) => task.finish(&format!("failed: {e}")),
                    }
                    (s, result)
                });
            }
        }
        if set.is_empty() {
            break;
        }
        tokio::select! {
            joined = set.join_next() => {
                let Some(joined) = joined else { break };
                let (s, result) = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        report.failures.push(Failure {
                            id: ResourceId::new("rtech", "executor"),
                            action: Action::Update,
                            error: AwsError::new("rtech", "TaskPanicked", e.to_string()),
                        });
                        stop = true;
                        continue;
                    }
                };
                let step = &graph[s];
                let change = &plan.changes[step.change];
                match result {
                    Ok(attrs) => {
                        finished.insert(s);
                        match step.phase {
                            Phase::Delete => {
                                // Created first: what is known is the new resource's.
                                if !change.create_first {
                                    known.remove(&change.id);
                                }
                                if change.action == Action::Delete {
                                    report.done.push((change.id.clone(), change.action));
                                }
                            }
                            Phase::Create | Phase::Update => {
                                known.insert(change.id.clone(), attrs);
                                report.done.push((change.id.clone(), change.action));
                            }
                        }
                    }
                    Err(error) => {
                        report.failures.push(Failure { id: change.id.clone(), action: change.action, error });
                        stop = true;
                    }
                }
            }
            _ = &mut ctrl_c => {
                if report.interrupted {
                    // A second Ctrl-C: leave now. Resources are tagged at creation, so the next
                    // plan finds whatever the changes in flight got done.
                    progress.println(&format!(
                        "Interrupted again: exiting with {} change(s) in flight; they may be half-done. Run `rtech plan` to see what is left.",
                        set.len()
                    ));
                    std::process::exit(130);
                }
                report.interrupted = true;
                stop = true;
                progress.println(&format!(
                    "Interrupted: waiting for {} change(s) in flight to finish; nothing new starts (Ctrl-C again to exit at once). Run apply again to converge.",
                    set.len()
                ));
                ctrl_c.set(tokio::signal::ctrl_c());
            }
        }
    }
    report.not_started = graph.len() - started.len();
    report
}

/// A desired resource with every reference replaced by what `known` holds (else Unknown).
fn resolve(
    d: &crate::model::Resource,
    known: &BTreeMap<ResourceId, Attrs>,
) -> crate::model::Resource {
    let mut d = d.clone();
    let lookup =
        |r: &crate::model::Ref| known.get(&r.resource).and_then(|a| a.get(&r.attr).cloned());
    d.props = d
        .props
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
        .collect();
    d
}

async fn run_step(
    rec: &dyn Reconciler,
    ctx: &Ctx,
    step: &Step,
    change: &Change,
    resolved: Option<&crate::model::Resource>,
    task: &progress::Task,
) -> Result<Attrs, AwsError> {
    let unresolved = |d: &crate::model::Resource| {
        d.props.iter().find(|(_, v)| v.is_unknown()).map(|(k, _)| {
            AwsError::new(
                "rtech",
                "UnresolvedReference",
                format!("{}: {k} is still unknown", d.id),
            )
        })
    };
    match step.phase {
        Phase::Delete => {
            let prior = change.prior.as_ref().expect("delete has a prior");
            rec.apply(ctx, Op::Delete(prior), task).await
        }
        Phase::Create => {
            let d = resolved.expect("create has a desired resource");
            if let Some(e) = unresolved(d) {
                return Err(e);
            }
            rec.apply(ctx, Op::Create(d), task).await
        }
        Phase::Update => {
            let d = resolved.expect("update has a desired resource");
            if let Some(e) = unresolved(d) {
                return Err(e);
            }
            let prior = change.prior.as_ref().expect("update has a prior");
            let changed = change.changed_props();
            let mut attrs = rec
                .apply(
                    ctx,
                    Op::Update {
                        desired: d,
                        prior,
                        changed: &changed,
                    },
                    task,
                )
                .await?;
            for (k, v) in &prior.attrs {
                attrs.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Ok(attrs)
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod exec_tests;
