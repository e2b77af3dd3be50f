//! `rtech bootstrap --env ENV [--github-repo owner/name]`: what rtech needs once per account
//! and region before the first apply, which apply never creates by itself: the lock bucket
//! and, with `--github-repo`, GitHub Actions' OIDC provider and the env's plan and apply roles
//! (`reconcile::bootstrap`). Like apply it observes, plans (the same diff and plan text), asks,
//! then executes through the engine, so a second run plans nothing.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};

use super::session::{Session, Target};
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{BootstrapArgs, Cli};
use crate::reconcile::bootstrap::{self, LOCK_BUCKET};

pub(super) async fn bootstrap_cmd(
    cli: &Cli,
    a: &BootstrapArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let repo = a.github_repo.as_deref();
    if let Some(r) = repo {
        bootstrap::valid_repo(r).map_err(|e| anyhow!(e))?;
    }
    let s = Session::open(&Target::of_spec(&spec), opts, &[], false, ui)
        .await?
        .for_bootstrap();
    let who = s.who(ui).await?;
    let bucket = who.lock.bucket.clone();
    let desired = bootstrap::desired(&spec, &who.caller.account, &s.ctx.region, &bucket, repo);
    let mut observed = s.observe(&desired, ui).await?;
    if repo.is_none() {
        // Only the lock bucket is planned: the CI provider and roles stay as they are.
        observed.retain(|o| o.id.kind == LOCK_BUCKET);
    }
    let plan = s.plan(&desired, &observed, &[], &[], false, ui).await?;
    print_plan(&plan, false, ui, &spec.file);
    if !plan.conflicts.is_empty() {
        bail!(
            "refusing to bootstrap: {} resource(s) under rtech's names are not rtech's; nothing was changed",
            plan.conflicts.len()
        );
    }
    let what = match repo {
        Some(r) => format!(
            "the lock bucket {bucket}, GitHub's OIDC provider and env {}'s CI roles for {r}",
            spec.env
        ),
        None => format!("the lock bucket {bucket}"),
    };
    if !plan.has_changes() {
        ui.info(&format!("Bootstrapped: {what} are as rtech wants them."));
        return Ok(ExitCode::from(EXIT_OK));
    }
    confirm(
        &format!(
            "Bootstrap account {} ({}) for project {}?",
            who.caller.account, s.ctx.region, spec.project
        ),
        a.auto_approve,
    )
    .await?;
    s.execute(&plan, &observed, cli, ui).await?;
    if repo.is_some() {
        ui.info(&format!(
            "Set the repository secrets from rtech output --env {}: RTECH_PLAN_ROLE_ARN = plan_role_arn, RTECH_APPLY_ROLE_ARN = apply_role_arn.",
            spec.env
        ));
    }
    Ok(ExitCode::from(EXIT_OK))
}
