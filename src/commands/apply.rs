//! `rtech apply`: plan, confirm, execute; or apply a saved plan exactly. Under the env's lock,
//! taken before observing.

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::session::{Session, Target};
use super::{confirm, destroy, load, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{ApplyArgs, Cli};
use crate::model::{Ownership, Resource, ResourceId};
use crate::plan::{render, saved, Action, Plan};
use crate::reconcile::{cdn, docdb, secrets};

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
        if !a.select.targets.is_empty()
            || !a.select.replace.is_empty()
            || a.select.image_tag.is_some()
            || a.rotate.is_some()
        {
            bail!(
                "--target, --replace, --image-tag and --rotate cannot be combined with a saved plan (give them to the plan that made it)"
            );
        }
        let target = Target::of_saved_plan(&plan, &file.display().to_string());
        let s = Session::open(&target, opts, &plan.desired, a.no_wait, ui).await?;
        if plan.destroy {
            return apply_saved_destroy(&s, &plan, cli, a, ui).await;
        }
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
    let cloudfront = spec.edge.as_ref().is_some_and(|e| e.cloudfront.is_some());
    if a.rotate.is_some() && !cloudfront {
        bail!(
            "--rotate origin-header: env {} has no [edge.cloudfront], so no origin header",
            spec.env
        );
    }
    let (desired, s) = Session::of_spec(&spec, opts, a.no_wait, ui).await?;
    s.locked(COMMAND, a.lock.lock_timeout, ui, async {
        if a.rotate.is_some() {
            let id = secrets::rotate_origin_header(&s.ctx).await?;
            ui.info(&format!(
                "Rotated secret/origin-header: the new value is {id}; the load balancer accepts both until CloudFront is Deployed with it."
            ));
        }
        let observed = s.observe(&desired, ui).await?;
        let mut plan = s
            .plan(
                &desired,
                &observed,
                &a.select.targets,
                &a.select.replace,
                false,
                ui,
            )
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
        if cloudfront && !a.no_wait {
            finish_rotation(&s, &desired, &spec.file, cli, ui).await?;
        }
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}

/// `rtech apply FILE` of a saved destroy plan (`rtech plan --destroy --out FILE`): under the
/// env's lock as `rtech destroy` holds it, refused if anything it read moved since (the rule
/// of every saved plan, and the same kept drill clusters), then executed as destroy does:
/// deletes only, of resources carrying the env's tags.
async fn apply_saved_destroy(
    s: &Session,
    plan: &Plan,
    cli: &Cli,
    a: &ApplyArgs,
    ui: &Ui,
) -> Result<ExitCode> {
    let file = a.planfile.as_deref().unwrap_or(std::path::Path::new("?"));
    if let Some(c) = plan.changes.iter().find(|c| c.action != Action::Delete) {
        bail!(
            "{}: not a valid destroy plan: it would {} {} (a destroy plan only deletes)",
            file.display(),
            c.action,
            c.id
        );
    }
    s.locked(destroy::COMMAND, a.lock.lock_timeout, ui, async {
        let (observed, drills) = tokio::try_join!(s.observe(&[], ui), async {
            Ok::<_, anyhow::Error>(docdb::drill::kept_drills(&s.ctx).await?)
        })?;
        saved::check_fresh(plan, &observed)?;
        // Destroy's safety: each delete is of a resource carrying the env's tags now, by the
        // same AWS id (a file edited by hand cannot point a delete elsewhere).
        for c in &plan.changes {
            let ours = observed.iter().any(|o| {
                o.id == c.id
                    && o.ownership == Ownership::Owned
                    && Some(o.physical_id.as_str()) == c.physical_id()
            });
            if !ours {
                bail!(
                    "{}: not a valid destroy plan: {} ({}) is not a resource of env {} in AWS",
                    file.display(),
                    c.id,
                    c.physical_id().unwrap_or("no AWS id"),
                    plan.env
                );
            }
        }
        if !plan.drills.is_empty() || destroy::deletes_the_cluster(plan) {
            let mut now = drills;
            now.sort();
            if let Some(d) = now
                .iter()
                .find(|d| !plan.drills.contains(d))
                .or_else(|| plan.drills.iter().find(|d| !now.contains(d)))
            {
                return Err(
                    saved::SavedError::Stale(ResourceId::new(docdb::CLUSTER, d.clone())).into(),
                );
            }
        }
        if !plan.has_changes() && plan.drills.is_empty() {
            println!("No changes. The saved destroy plan has nothing to delete.");
            return Ok(ExitCode::from(EXIT_OK));
        }
        ui.info(&format!(
            "Applying the saved destroy plan: {} to destroy.",
            plan.summary().destroy
        ));
        destroy::execute(s, plan, &observed, cli, ui).await?;
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}

/// The end of an origin header rotation (this apply's or an interrupted one's): once the
/// distribution is Deployed sending the new value, the previous one is dropped from the secret
/// and then from the load balancer's production rule (one more targeted pass).
async fn finish_rotation(
    s: &Session,
    desired: &[Resource],
    spec_file: &str,
    cli: &Cli,
    ui: &Ui,
) -> Result<()> {
    let Ok((current, Some(_))) = secrets::origin_header_values(&s.ctx).await else {
        return Ok(());
    };
    let observed = s.observe(desired, ui).await?;
    let dist = ResourceId::new(cdn::DISTRIBUTION, "main");
    let Some(d) = observed.iter().find(|o| o.id == dist) else {
        return Ok(());
    };
    if !cdn::distribution::sends_origin_header(&s.ctx, &d.physical_id, &current).await? {
        ui.info("The origin header rotation is still rolling out: the load balancer accepts both values until the next apply finds the distribution Deployed with the new one.");
        return Ok(());
    }
    secrets::forget_previous_origin_header(&s.ctx).await?;
    let observed = s.observe(desired, ui).await?;
    let rule = crate::reconcile::elb::listener_rule::production_rule_id();
    let plan = s.plan(desired, &observed, &[rule], &[], false, ui).await?;
    print_plan(&plan, false, ui, spec_file);
    s.execute(&plan, &observed, cli, ui).await?;
    ui.info("Finished rotating secret/origin-header: the previous value is no longer accepted.");
    Ok(())
}
