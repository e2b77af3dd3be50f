//! Registering, pruning and deleting revisions (module docs of `taskdef`).

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{TaskDefinition, TaskDefinitionStatus};

use super::observe::{
    active_revisions, attrs, describe, observe_task_definition, revisions, to_deregister,
};
use super::request::{register_request, same_definition};
use super::{revision_tags, TaskDefinitionProps};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Resource};
use crate::progress::Task;
use crate::reconcile::ecs::{app_name, cluster_name, sync_tags, task_definition_id};
use crate::reconcile::kit::{found, gone_ok};
use crate::reconcile::Ctx;

/// The newest ACTIVE revision when it is ours and already the definition `r` wants (a
/// re-run after a rollback with the same `--image-tag`, or an apply interrupted after it
/// registered and before it updated the service): reused instead of registering a duplicate.
/// Also the newest ACTIVE revision's number (0 for none).
async fn reusable(
    ctx: &Ctx,
    r: &Resource,
    family: &str,
) -> Result<(i64, Option<(TaskDefinition, BTreeMap<String, String>)>), AwsError> {
    let revs = active_revisions(ctx, family).await?;
    let Some((newest, arn)) = revs.first() else {
        return Ok((0, None));
    };
    let Some((td, tags)) = describe(ctx, arn).await? else {
        return Ok((*newest, None));
    };
    let tags = super::super::tag_map(&tags);
    let ours = super::super::ours(ctx, &task_definition_id(), &tags);
    let same = ours && same_definition(r, &observe_task_definition(&td, &tags));
    Ok((*newest, same.then_some((td, tags))))
}

/// RegisterTaskDefinition takes no idempotency token: when a response is lost and the SDK
/// retries, the first attempt's revision stays ACTIVE beside the one returned. Such
/// revisions are exactly those numbered between the newest seen before registering and the
/// one registered (the env's lock keeps other runs out); the ones with our tags are
/// deregistered.
async fn deregister_retried(
    ctx: &Ctx,
    family: &str,
    before: i64,
    registered: i64,
    task: &Task,
) -> Result<(), AwsError> {
    if registered <= before + 1 {
        return Ok(());
    }
    let between: Vec<String> = active_revisions(ctx, family)
        .await?
        .into_iter()
        .filter(|(n, _)| *n > before && *n < registered)
        .map(|(_, arn)| arn)
        .collect();
    if between.is_empty() {
        return Ok(());
    }
    task.status(&format!(
        "deregistering {} revision(s) a retried registration left",
        between.len()
    ));
    deregister_ours(ctx, &between).await?;
    Ok(())
}

/// Register a new revision (tags included), or reuse the newest one when it is already the
/// one wanted (`reusable`), and return its attributes.
pub(super) async fn register(
    ctx: &Ctx,
    r: &Resource,
    p: &TaskDefinitionProps,
    family: &str,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let image = p
        .image_tag
        .as_ref()
        .map(|t| format!(" (image tag {t})"))
        .unwrap_or_default();
    let (before, reuse) = reusable(ctx, r, family).await?;
    if let Some((td, tags)) = reuse {
        task.status(&format!(
            "reusing revision {} of {family}{image}: it is already the definition wanted",
            td.revision()
        ));
        let arn = td.task_definition_arn().unwrap_or_default();
        sync_tags(ctx, arn, &tags, &revision_tags(p)).await?;
        return Ok(attrs(&td));
    }
    task.status(&format!("registering a new revision of {family}{image}"));
    let req = register_request(&ctx.clients.ecs, r)?;
    let out = super::super::while_role_propagates(task, || async {
        req.clone()
            .send()
            .await
            .map_err(aws("ecs:RegisterTaskDefinition"))
    })
    .await?;
    let td = out.task_definition().ok_or_else(|| {
        AwsError::new(
            "ecs:RegisterTaskDefinition",
            "InvalidResponse",
            "no task definition returned",
        )
    })?;
    deregister_retried(ctx, family, before, td.revision() as i64, task).await?;
    Ok(attrs(td))
}

/// Whether a revision carries our tags (a revision someone registered by hand in our family
/// is never deregistered).
async fn ours(ctx: &Ctx, arn: &str) -> Result<bool, AwsError> {
    let out = ctx
        .clients
        .ecs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("ecs:ListTagsForResource"));
    let Some(out) = found(out)? else {
        return Ok(false);
    };
    let tags = out.tags().to_vec();
    Ok(super::super::ours(
        ctx,
        &task_definition_id(),
        &super::super::tag_map(&tags),
    ))
}

/// The revisions among `arns` that carry our tags.
async fn only_ours(ctx: &Ctx, arns: &[String]) -> Result<Vec<String>, AwsError> {
    let mut out = vec![];
    for arn in arns {
        if ours(ctx, arn).await? {
            out.push(arn.clone());
        }
    }
    Ok(out)
}

/// Deregister `arns` that carry our tags; returns the ones deregistered.
async fn deregister_ours(ctx: &Ctx, arns: &[String]) -> Result<Vec<String>, AwsError> {
    let ours = only_ours(ctx, arns).await?;
    for arn in &ours {
        deregister(ctx, arn).await?;
    }
    Ok(ours)
}

fn left_alone(task: &Task, wanted: usize, done: usize) {
    if done < wanted {
        task.status(&format!(
            "left {} revision(s) without rtech's tags in place",
            wanted - done
        ));
    }
}

/// How many revisions one DeleteTaskDefinitions takes.
const DELETE_BATCH: usize = 10;

/// Whether DeleteTaskDefinitions is not offered where rtech runs (a partition or an endpoint
/// without it): deregistered revisions then stay INACTIVE, as they always did.
fn delete_unavailable(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "UnknownOperationException" | "UnsupportedOperation" | "InvalidAction" | "NotImplemented"
    )
}

/// Delete deregistered (INACTIVE) revisions, `DELETE_BATCH` per call. A revision that is gone
/// already is not a failure; any other failure is an error when `strict` (destroy), a
/// status line otherwise (pruning: the revisions are deregistered, which is what counts).
async fn delete_revisions(
    ctx: &Ctx,
    arns: &[String],
    strict: bool,
    task: &Task,
) -> Result<(), AwsError> {
    for chunk in arns.chunks(DELETE_BATCH) {
        let out = ctx
            .clients
            .ecs
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("ecs:DeleteTaskDefinitions"));
        let out = match out {
            Ok(out) => out,
            Err(e) if delete_unavailable(&e) => {
                task.status(&format!(
                    "DeleteTaskDefinitions is not available here ({}): {} revision(s) stay INACTIVE",
                    e.code,
                    arns.len()
                ));
                return Ok(());
            }
            Err(e) if !strict => {
                task.status(&format!(
                    "could not delete deregistered revisions: {e}; they stay INACTIVE"
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let failures: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| {
                !f.reason()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains("does not exist")
            })
            .map(|f| {
                format!(
                    "{}: {}",
                    f.arn().unwrap_or_default(),
                    f.reason().unwrap_or_default()
                )
            })
            .collect();
        if failures.is_empty() {
            continue;
        }
        if strict {
            return Err(AwsError::new(
                "ecs:DeleteTaskDefinitions",
                "DeleteFailed",
                failures.join("; "),
            ));
        }
        task.status(&format!(
            "could not delete deregistered revisions ({}); they stay INACTIVE",
            failures.join("; ")
        ));
    }
    Ok(())
}

/// Deregister, then delete, ACTIVE revisions beyond the newest `keep` (module docs).
pub(super) async fn prune(
    ctx: &Ctx,
    family: &str,
    keep: usize,
    task: &Task,
) -> Result<(), AwsError> {
    let revs = active_revisions(ctx, family).await?;
    if revs.len() <= keep {
        return Ok(());
    }
    let in_use = super::super::service::current_task_definition(
        ctx,
        &cluster_name(&ctx.project, &ctx.env),
        &app_name(&ctx.project, &ctx.env),
    )
    .await?;
    let old = to_deregister(&revs, keep, in_use.as_deref());
    if old.is_empty() {
        return Ok(());
    }
    task.status(&format!(
        "deregistering and deleting {} revision(s) beyond the newest {keep}",
        old.len()
    ));
    let done = deregister_ours(ctx, &old).await?;
    left_alone(task, old.len(), done.len());
    delete_revisions(ctx, &done, false, task).await
}

async fn deregister(ctx: &Ctx, arn: &str) -> Result<(), AwsError> {
    let r = ctx
        .clients
        .ecs
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("ecs:DeregisterTaskDefinition"));
    gone_ok(r)
}

/// Destroy: deregister the family's ACTIVE revisions of ours, then delete them.
pub(super) async fn delete_family(ctx: &Ctx, family: &str, task: &Task) -> Result<(), AwsError> {
    let revs: Vec<String> = active_revisions(ctx, family)
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    task.status(&format!(
        "deregistering {} revision(s) of {family}",
        revs.len()
    ));
    let done = deregister_ours(ctx, &revs).await?;
    left_alone(task, revs.len(), done.len());
    // Deregistered revisions linger as INACTIVE: delete them, with those of ours an
    // interrupted destroy (or pruning before rtech deleted what it pruned) left.
    let inactive: Vec<String> = revisions(ctx, family, TaskDefinitionStatus::Inactive)
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    let mut gone = done;
    let others: Vec<String> = inactive.into_iter().filter(|a| !gone.contains(a)).collect();
    gone.extend(only_ours(ctx, &others).await?);
    if !gone.is_empty() {
        task.status(&format!(
            "deleting {} deregistered revision(s) of {family}",
            gone.len()
        ));
    }
    delete_revisions(ctx, &gone, true, task).await?;
    Ok(())
}
