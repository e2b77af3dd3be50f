//! `rtech plan`: the diff of the spec against live AWS, printed (and saved with `--out`).

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::{Session, Target};
use super::{load, print_plan, Ui, EXIT_CHANGES, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, PlanArgs};
use crate::plan::saved;
use crate::reconcile;

pub(super) async fn plan_cmd(cli: &Cli, a: &PlanArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let mut spec = load(cli, &a.env)?;
    spec.image_tag = a.select.image_tag.clone();
    let desired = reconcile::expand(&spec);
    // Without an account pin, sts:GetCallerIdentity runs beside observe's first round (a plan
    // reads only; `--lock` awaits it before the lock's write).
    let s = Session::open_overlapped(&Target::of_spec(&spec), opts, &desired, ui).await?;
    // No lock unless asked for (`--lock`: a plan about to be saved and applied).
    let make = async {
        let observed = s.observe(&desired, ui).await?;
        let mut plan = s
            .plan(&desired, &observed, &a.select.targets, false, ui)
            .await?;
        s.hold_back(&mut plan).await?;
        Ok::<_, anyhow::Error>(plan)
    };
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
            "Saved the plan to {}; apply it exactly with: rtech apply --env {} {}",
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
