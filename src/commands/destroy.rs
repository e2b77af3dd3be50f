//! `rtech destroy`: delete everything carrying the env's tags, in reverse dependency order,
//! under the env's lock. A DocumentDB cluster kept by `rtech drill restore --keep` carries the
//! env's tags but no `rtech:id` (no plan claims it): destroy lists it beside the plan and
//! deletes it first, as it uses the subnet group and security group the plan deletes.

use std::process::ExitCode;

use anyhow::Result;

use super::session::Session;
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, DestroyArgs};
use crate::progress::Progress;
use crate::reconcile::docdb;

pub(super) async fn destroy_cmd(
    cli: &Cli,
    a: &DestroyArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let (_, s) = Session::of_spec(&spec, opts, false, ui).await?;
    s.locked("rtech destroy", a.lock.lock_timeout, ui, async {
        let (observed, drills) = tokio::try_join!(
            s.observe(&[], ui),
            async { Ok::<_, anyhow::Error>(docdb::drill::kept_drills(&s.ctx).await?) }
        )?;
        let plan = s.plan(&[], &observed, &[], true, ui).await?;
        print_plan(&plan, false, ui, &spec.file);
        for d in &drills {
            println!(
                "Also deleted first: DocumentDB cluster {d} and its instance, kept by `rtech drill restore --keep`."
            );
        }
        if !plan.has_changes() && drills.is_empty() {
            return Ok(ExitCode::from(EXIT_OK));
        }
        confirm(
            &format!("Destroy everything rtech owns in env {}?", spec.env),
            a.auto_approve,
        )
        .await?;
        if !drills.is_empty() {
            let progress = Progress::new(ui.quiet, ui.stderr_tty);
            for d in &drills {
                let task = progress.start(&format!("drill cluster {d}"), "deleting");
                docdb::drill::delete_drill(&s.ctx, d, &task).await?;
                task.finish("deleted");
            }
        }
        if plan.has_changes() {
            s.execute(&plan, &observed, cli, ui).await?;
        }
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}
