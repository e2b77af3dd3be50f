//! Executes a Plan: a dependency graph of steps run with bounded concurrency; deletes in
//! reverse dependency order; a failed step stops new work while the rest finish, and what
//! succeeded stays (the next plan picks up exactly what is left).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::aws::AwsError;
use crate::model::{Attrs, Observed, Ownership, ResourceId};
use crate::plan::steps::{steps, Phase, Step};
use crate::plan::{Action, Change, Plan, PlanError};
use crate::progress::{self, Progress};
use crate::reconcile::{Ctx, Kind, Registry, Update};
use crate::slots::{Slot, Slots};

/// Why a change failed, or why the executor would not run a plan.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// AWS refused or failed a call (the resource, the call and the AWS code are in it).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A property still held a reference when its change was due: the plan's order is wrong.
    #[error("{id}: {prop} is still unknown when the change is due")]
    Unresolved { id: ResourceId, prop: String },
    /// No service owns the change's kind (a saved plan from another rtech version).
    #[error("{0}: no service of this rtech version owns kind {1}")]
    NoService(ResourceId, String),
    /// The change's task panicked: a bug in rtech, reported instead of crashing the run.
    #[error("a change panicked: {0}")]
    Panicked(String),
    /// The plan's order cannot be honoured (the executor never reorders on its own).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

#[derive(Debug)]
pub struct Failure {
    pub id: ResourceId,
    pub action: Action,
    pub error: EngineError,
}

#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<(ResourceId, Action)>,
    pub failures: Vec<Failure>,
    /// Steps never started because something failed or the run was interrupted.
    pub not_started: usize,
    pub interrupted: bool,
    /// Interrupted twice: the executor left with changes still in flight (they may be
    /// half-done; resources are tagged at creation, so the next plan finds them).
    pub abandoned: usize,
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
    registry: Registry,
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
    let mut report = Report::default();
    let graph = match steps(&plan.changes) {
        Ok(g) => g,
        Err(e) => {
            report.failures.push(Failure {
                id: plan
                    .changes
                    .first()
                    .map(|c| c.id.clone())
                    .unwrap_or_else(|| ResourceId::new("plan", "empty")),
                action: Action::Update,
                error: e.into(),
            });
            report.not_started = plan.changes.len();
            return report;
        }
    };
    let mut finished: BTreeSet<usize> = BTreeSet::new();
    let mut started: BTreeSet<usize> = BTreeSet::new();
    let mut stop = false;
    let mut set: JoinSet<(usize, Result<Attrs, EngineError>)> = JoinSet::new();
    // Ctrl-C and SIGTERM alike; while this runs, they are ours to handle.
    let _graceful = crate::interrupt::graceful();
    let mut interrupts = crate::interrupt::Listener::new().ok();
    // `parallelism` changes at work at once; a change waiting for AWS to settle gives its slot
    // back meanwhile (kit::wait), so waits never keep a ready change from starting.
    let slots = Slots::new(parallelism);
    // A slot taken while every slot was busy, for the next ready change.
    let mut spare: Option<Slot> = None;
    let mut ready: Vec<usize> = vec![];

    loop {
        ready.clear();
        if !stop {
            ready = (0..graph.len())
                .filter(|s| {
                    !started.contains(s) && graph[*s].after.iter().all(|a| finished.contains(a))
                })
                .collect();
            for &s in &ready {
                let Some(slot) = spare.take().or_else(|| slots.try_take()) else {
                    break;
                };
                started.insert(s);
                let step = graph[s].clone();
                let change = plan.changes[step.change].clone();
                let Some(rec) = registry.kind(&change.id.kind) else {
                    report.failures.push(Failure {
                        id: change.id.clone(),
                        action: change.action,
                        error: EngineError::NoService(change.id.clone(), change.id.kind.clone()),
                    });
                    stop = true;
                    break;
                };
                // References to live resources this plan leaves alone but whose attribute is
                // missing (not ready yet): wait for them first, through their reconciler.
                let mut settle: Vec<(&'static dyn Kind, Observed)> = vec![];
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
                            (live.get(&r.resource), registry.kind(&r.resource.kind))
                        {
                            settle.push((rr, o.clone()));
                        }
                    }
                }
                // Resolved in the step against what is known now (dependencies have finished).
                let snapshot = known.clone();
                let ctx = ctx.clone();
                let (v_start, _) = verb(step.phase, change.action);
                let task = progress.start(&change.id.to_string(), v_start);
                set.spawn(slot.run(async move {
                    let result = async {
                        let mut snapshot = snapshot;
                        for (rr, o) in &settle {
                            task.status(&format!("waiting for {} to be ready", o.id));
                            let attrs = rr.settle(&ctx, o, &task).await?;
                            snapshot.insert(o.id.clone(), attrs);
                        }
                        let resolved = change.desired.as_ref().map(|d| resolve(d, &snapshot));
                        run_step(rec, &ctx, &step, &change, resolved.as_ref(), &task).await
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
                }));
            }
        }
        if set.is_empty() {
            break;
        }
        // Ready changes left waiting for a slot: one coming back free wakes the loop too.
        let wants_slot = !stop && spare.is_none() && ready.iter().any(|s| !started.contains(s));
        tokio::select! {
            slot = slots.take(), if wants_slot => spare = Some(slot),
            joined = set.join_next() => {
                let Some(joined) = joined else { break };
                let (s, result) = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        report.failures.push(Failure {
                            id: ResourceId::new("rtech", "executor"),
                            action: Action::Update,
                            error: EngineError::Panicked(e.to_string()),
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
            _ = async {
                match interrupts.as_mut() {
                    Some(l) => l.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if report.interrupted {
                    // A second Ctrl-C: leave now. Resources are tagged at creation, so the next
                    // plan finds whatever the changes in flight got done.
                    progress.println(&format!(
                        "Interrupted again: exiting with {} change(s) in flight; they may be half-done. Run `rtech plan` to see what is left.",
                        set.len()
                    ));
                    report.abandoned = set.len();
                    set.abort_all();
                    break;
                }
                report.interrupted = true;
                stop = true;
                progress.println(&format!(
                    "Interrupted: waiting for {} change(s) in flight to finish; nothing new starts (Ctrl-C again to exit at once). Run apply again to converge.",
                    set.len()
                ));
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
    rec: &dyn Kind,
    ctx: &Ctx,
    step: &Step,
    change: &Change,
    resolved: Option<&crate::model::Resource>,
    task: &progress::Task,
) -> Result<Attrs, EngineError> {
    let unresolved = |d: &crate::model::Resource| {
        d.props
            .iter()
            .find(|(_, v)| v.is_unknown())
            .map(|(k, _)| EngineError::Unresolved {
                id: d.id.clone(),
                prop: k.clone(),
            })
    };
    match step.phase {
        Phase::Delete => {
            let prior = change.prior.as_ref().expect("delete has a prior");
            rec.delete(ctx, prior, task).await?;
            Ok(Attrs::new())
        }
        Phase::Create => {
            let d = resolved.expect("create has a desired resource");
            if let Some(e) = unresolved(d) {
                return Err(e);
            }
            Ok(rec.create(ctx, d, task).await?)
        }
        Phase::Update => {
            let d = resolved.expect("update has a desired resource");
            if let Some(e) = unresolved(d) {
                return Err(e);
            }
            let prior = change.prior.as_ref().expect("update has a prior");
            let changed = change.changed_props();
            let mut attrs = rec
                .update(
                    ctx,
                    Update {
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
mod exec_tests;
