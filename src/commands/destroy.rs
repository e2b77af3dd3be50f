//! `rtech destroy`: delete everything carrying the env's tags (or, with `--target`, those
//! resources and everything that depends on them), in reverse dependency order, under the
//! env's lock. A DocumentDB cluster kept by `rtech drill restore --keep` carries the env's tags
//! but no `rtech:id` (no plan claims it): a destroy plan lists it when it deletes the whole env
//! or the env's cluster, and it is deleted first, as it uses the subnet group and security
//! group the plan deletes. `rtech plan --destroy` makes the same plan, and `rtech apply FILE`
//! executes a saved one here too.

use std::process::ExitCode;

use anyhow::Result;

use super::session::Session;
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, DestroyArgs};
use crate::model::{Observed, ResourceId};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::reconcile::docdb;

/// The lock holder's command, as the lock records it (a saved destroy plan's apply too).
pub(super) const COMMAND: &str = "rtech destroy";

pub(super) async fn destroy_cmd(
    cli: &Cli,
    a: &DestroyArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let (_, s) = Session::of_spec(&spec, opts, false, ui).await?;
    s.locked(COMMAND, a.lock.lock_timeout, ui, async {
        let (plan, observed) = planned(&s, &a.targets, ui).await?;
        print_plan(&plan, false, ui, &spec.file);
        if !plan.has_changes() && plan.drills.is_empty() {
            return Ok(ExitCode::from(EXIT_OK));
        }
        let question = if a.targets.is_empty() {
            format!("Destroy everything rtech owns in env {}?", spec.env)
        } else {
            format!(
                "Destroy these {} resource(s) of env {}?",
                plan.changes.len(),
                spec.env
            )
        };
        confirm(&question, a.auto_approve).await?;
        execute(&s, &plan, &observed, cli, ui).await?;
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}

/// The destroy plan (what `rtech destroy` and `rtech plan --destroy` show) and what it was
/// made from: every resource carrying the env's tags, or the targets' closure, and the kept
/// drill clusters when it deletes the whole env or the env's DocumentDB cluster.
pub(super) async fn planned(
    s: &Session,
    targets: &[ResourceId],
    ui: &Ui,
) -> Result<(Plan, Vec<Observed>)> {
    let (observed, drills) = tokio::try_join!(s.observe(&[], ui), async {
        Ok::<_, anyhow::Error>(docdb::drill::kept_drills(&s.ctx).await?)
    })?;
    let mut plan = s.plan(&[], &observed, targets, &[], true, ui).await?;
    if targets.is_empty() || deletes_the_cluster(&plan) {
        plan.drills = drills;
        plan.drills.sort();
    }
    Ok((plan, observed))
}

/// Whether a destroy plan deletes the env's DocumentDB cluster (its kept drills go with it).
pub(super) fn deletes_the_cluster(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| c.id.kind == docdb::CLUSTER)
}

/// Execute a destroy plan: the kept drill clusters first, then the plan's deletes.
pub(super) async fn execute(
    s: &Session,
    plan: &Plan,
    observed: &[Observed],
    cli: &Cli,
    ui: &Ui,
) -> Result<()> {
    if !plan.drills.is_empty() && plan.conflicts.is_empty() {
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        for d in &plan.drills {
            let task = progress.start(&format!("drill cluster {d}"), "deleting");
            docdb::drill::delete_drill(&s.ctx, d, &task).await?;
            task.finish("deleted");
        }
    }
    if plan.has_changes() || !plan.conflicts.is_empty() {
        s.execute(plan, observed, cli, ui).await?;
    }
    Ok(())
}
