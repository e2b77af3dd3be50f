//! `rtech policy`: every policy rule's verdict on the env as the plan would leave it, with
//! the evidence. Reads only what `rtech plan` reads.

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::{Session, Target};
use super::{load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, PolicyArgs};
use crate::policy;
use crate::reconcile;

pub(super) async fn policy_cmd(
    cli: &Cli,
    a: &PolicyArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let desired = reconcile::expand(&spec);
    let s = Session::open_overlapped(&Target::of_spec(&spec), opts, &desired, ui).await?;
    let observed = s.observe(&desired, ui).await?;
    let plan = s.plan(&desired, &observed, &[], &[], false, ui).await?;
    let Some(report) = plan.policy.as_ref() else {
        bail!("env {}: the plan carries no policy verdict", spec.env);
    };
    if a.json {
        let mut v = report.json();
        v["env"] = serde_json::json!(spec.env);
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        print!("{}", policy::text(report, &spec.env));
    }
    ui.verbose(&format!("{} API calls in {:.2} s", s.calls(), s.elapsed()));
    let n = report.violation_count();
    if report.blocks() {
        bail!("env {} breaks {n} policy rule(s)", spec.env);
    }
    Ok(ExitCode::from(EXIT_OK))
}
