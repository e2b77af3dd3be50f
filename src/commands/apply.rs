//! `rtech apply`: plan, confirm, execute; or apply a saved plan exactly. Under the env's lock,
//! taken before observing.

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::{Session, Target};
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{ApplyArgs, Cli};
use crate::plan::{render, saved};

/// The lock holder's command, as the lock records it.
const COMMAND: &str = "rtech apply";

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
        if !a.select.targets.is_empty() || a.select.image_tag.is_some() {
            bail!(
                "--target and --image-tag cannot be combined with a saved plan (give them to the plan that made it)"
            );
        }
        let target = Target::of_saved_plan(&plan, &file.display().to_string());
        let s = Session::open(&target, opts, &plan.desired, a.no_wait, ui).await?;
        return s
            .locked(COMMAND, a.lock.lock_timeout, ui, async {
                let observed = s.observe(&plan.desired, ui).await?;
                saved::check_fresh(&plan, &observed)?;
                if !plan.has_changes() && plan.blocked.is_empty() {
                    println!("No changes. The saved plan has nothing to apply.");
                    return Ok(ExitCode::from(EXIT_OK));
                }
                ui.info(&render::summary_line(&plan));
                s.execute(&plan, &observed, cli, ui).await?;
                s.blocked_error(&plan)?;
                Ok(ExitCode::from(EXIT_OK))
            })
            .await;
    }
    let mut spec = load(cli, &a.env)?;
    spec.image_tag = a.select.image_tag.clone();
    let (desired, s) = Session::of_spec(&spec, opts, a.no_wait, ui).await?;
    s.locked(COMMAND, a.lock.lock_timeout, ui, async {
        let observed = s.observe(&desired, ui).await?;
        let mut plan = s
            .plan(&desired, &observed, &a.select.targets, false, ui)
            .await?;
        s.hold_back(&mut plan).await?;
        print_plan(&plan, false, ui, &spec.file);
        let blocked = plan.policy.as_ref().is_some_and(|p| p.blocks());
        if plan.has_changes() && plan.conflicts.is_empty() && !blocked {
            confirm(
                &format!("Apply these changes to env {}?", spec.env),
                a.auto_approve,
            )
            .await?;
        }
        s.execute(&plan, &observed, cli, ui).await?;
        s.blocked_error(&plan)?;
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}
