//! `rtech destroy`: delete everything carrying the env's tags, in reverse dependency order,
//! under the env's lock.

use std::process::ExitCode;

use anyhow::Result;

use super::session::{Session, Target};
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, DestroyArgs};
use crate::reconcile;

pub(super) async fn destroy_cmd(
    cli: &Cli,
    a: &DestroyArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let desired = reconcile::expand(&spec);
    let s = Session::open(&Target::of_spec(&spec), opts, &desired, false, ui).await?;
    s.locked("rtech destroy", a.lock.lock_timeout, ui, async {
        let observed = s.observe(&[], ui).await?;
        let plan = s.plan(&[], &observed, &[], true, ui).await?;
        print_plan(&plan, false, ui, &spec.file);
        if !plan.has_changes() {
            return Ok(ExitCode::from(EXIT_OK));
        }
        confirm(
            &format!("Destroy everything rtech owns in env {}?", spec.env),
            a.auto_approve,
        )
        .await?;
        s.execute(&plan, &observed, cli, ui).await?;
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}
