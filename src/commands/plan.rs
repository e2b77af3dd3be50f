//! `rtech plan`: the diff of the spec against live AWS, printed (and saved with `--out`).

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::{Session, Target};
use super::{load, print_plan, Ui, EXIT_CHANGES, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, GraphArgs, PlanArgs, Selection};
use crate::model::Resource;
use crate::plan::saved;
use crate::plan::Plan;
use crate::reconcile;
use crate::spec::Spec;

/// The env's spec with the selection's image tag, its desired model, and a session on it.
/// Without an account pin, sts:GetCallerIdentity runs beside observe's first round (a plan
/// reads only; `--lock` awaits it before the lock's write).
async fn reading(
    cli: &Cli,
    env: &str,
    select: &Selection,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<(Spec, Vec<Resource>, Session)> {
    let mut spec = load(cli, env)?;
    spec.image_tag = select.image_tag.clone();
    let desired = reconcile::expand(&spec);
    let s = Session::open_overlapped(&Target::of_spec(&spec), opts, &desired, ui).await?;
    Ok((spec, desired, s))
}

/// The plan as `rtech plan` makes it: observe, diff, and hold back what cannot run yet. A
/// destroy plan is `rtech destroy`'s: everything carrying the env's tags (or the targets and
/// what depends on them).
async fn made(
    s: &Session,
    desired: &[Resource],
    select: &Selection,
    destroy: bool,
    ui: &Ui,
) -> Result<Plan> {
    if destroy {
        return Ok(super::destroy::planned(s, &select.targets, ui).await?.0);
    }
    let observed = s.observe(desired, ui).await?;
    let mut plan = s
        .plan(
            desired,
            &observed,
            &select.targets,
            &select.replace,
            false,
            ui,
        )
        .await?;
    s.hold_back(&mut plan).await?;
    Ok(plan)
}

pub(super) async fn plan_cmd(cli: &Cli, a: &PlanArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let (spec, desired, s) = reading(cli, &a.env, &a.select, opts, ui).await?;
    // No lock unless asked for (`--lock`: a plan about to be saved and applied).
    let make = made(&s, &desired, &a.select, a.destroy, ui);
    let plan = if a.lock {
        s.locked(
            "rtech plan --lock",
            a.lock_timeout.unwrap_or_default(),
            ui,
            make,
        )
        .await?
    } else {
        make.await?
    };
    print_plan(&plan, a.json, ui, &spec.file);
    if let Some(out) = &a.out {
        saved::write(out, &plan)?;
        ui.info(&format!(
            "Saved the {}plan to {}; apply it exactly with: rtech apply --env {} {}",
            if plan.destroy { "destroy " } else { "" },
            out.display(),
            spec.env,
            out.display()
        ));
    }
    ui.verbose(&format!(
        "{} API calls in {:.2} s{}",
        s.calls(),
        s.elapsed(),
        s.retried()
    ));
    let violations = plan.policy.as_ref().map_or(0, |p| p.violation_count());
    if plan.policy.as_ref().is_some_and(|p| p.blocks()) {
        bail!(
            "the plan breaks {violations} policy rule(s) (shown above): apply will refuse it; fix the spec or waive them with a reason ([[policy.waivers]])"
        );
    }
    if !plan.conflicts.is_empty() {
        bail!(
            "the plan is blocked by {} problem(s): conflicts with resources rtech does not own, or changes a service refuses",
            plan.conflicts.len()
        );
    }
    Ok(ExitCode::from(
        if a.detailed_exitcode && (plan.has_changes() || !plan.blocked.is_empty()) {
            EXIT_CHANGES
        } else {
            EXIT_OK
        },
    ))
}

/// `rtech graph`: the plan (as `rtech plan` makes it, without a lock) as its step graph in DOT
/// on stdout.
pub(super) async fn graph_cmd(
    cli: &Cli,
    a: &GraphArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let (_, desired, s) = reading(cli, &a.env, &a.select, opts, ui).await?;
    let plan = made(&s, &desired, &a.select, false, ui).await?;
    print!("{}", crate::plan::graph::dot(&plan)?);
    Ok(ExitCode::from(EXIT_OK))
}
