//! `rtech apply`: plan, confirm, execute; or apply a saved plan exactly.

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::Session;
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{ApplyArgs, Cli};
use crate::plan::{render, saved};
use crate::reconcile;

pub(super) async fn apply_cmd(
    cli: &Cli,
    a: &ApplyArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    if let Some(file) = &a.planfile {
        let plan = saved::read(file)?;
        if plan.env != a.env {
            bail!(
                "{}: the saved plan is for env {}, not {}",
                file.display(),
                plan.env,
                a.env
            );
        }
        if !a.targets.is_empty() || a.image_tag.is_some() {
            bail!(
                "--target and --image-tag cannot be combined with a saved plan (give them to the plan that made it)"
            );
        }
        let s = Session::open(
            &plan.project,
            &plan.env,
            &plan.region,
            opts,
            &plan.desired,
            a.no_wait,
        )
        .await?;
        let observed = s.observe(&plan.desired, ui).await?;
        saved::check_fresh(&plan, &observed)?;
        if !plan.has_changes() {
            println!("No changes. The saved plan has nothing to apply.");
            return Ok(ExitCode::from(EXIT_OK));
        }
        ui.info(&render::summary_line(&plan));
        s.execute(&plan, &observed, cli, ui).await?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let mut spec = load(cli, &a.env)?;
    spec.image_tag = a.image_tag.clone();
    let desired = reconcile::expand(&spec);
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &desired,
        a.no_wait,
    )
    .await?;
    let observed = s.observe(&desired, ui).await?;
    let plan = s.plan(&desired, &observed, &a.targets, false)?;
    print_plan(&plan, false, ui, &spec.file);
    if !plan.has_changes() || !plan.conflicts.is_empty() {
        s.execute(&plan, &observed, cli, ui).await?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    confirm(
        &format!("Apply these changes to env {}?", spec.env),
        a.auto_approve,
    )?;
    s.execute(&plan, &observed, cli, ui).await?;
    Ok(ExitCode::from(EXIT_OK))
}
