//! `rtech invalidate`: a cache invalidation on the env's distribution, waited for with the
//! SDK's `InvalidationCompleted` waiter unless `--no-wait`.

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use super::request::build_err;
use super::wait::wait_invalidated;
use super::{distribution_id, find, Summary, OP_LIST};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Ownership, ResourceId};
use crate::progress::Task;
use crate::reconcile::Ctx;

/// An invalidation's status once it is done.
pub const COMPLETED: &str = "Completed";

/// One invalidation, as `rtech invalidate` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    pub id: String,
    /// `InProgress` or `Completed`.
    pub status: String,
    pub paths: Vec<String>,
}

/// The paths to invalidate: `/*` when none, duplicates dropped, each absolute with `*` only at
/// the end. Pure.
pub fn invalidation_paths(paths: &[String]) -> Result<Vec<String>, AwsError> {
    if paths.is_empty() {
        return Ok(vec!["/*".into()]);
    }
    let mut out: Vec<String> = vec![];
    for p in paths {
        let bad = |why: &str| {
            AwsError::new(
                "cloudfront:CreateInvalidation",
                "InvalidArgument",
                format!("invalid path {p:?}: {why}"),
            )
        };
        if !p.starts_with('/') {
            return Err(bad("must start with /"));
        }
        if p.trim_end_matches('*').contains('*') || p.matches('*').count() > 1 {
            return Err(bad("* is allowed only once, at the end"));
        }
        if p.chars().any(char::is_whitespace) {
            return Err(bad("no spaces (URL-encode them as %20)"));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The distribution `rtech invalidate` works on (pure): ours, never a foreign one.
pub fn pick_for_invalidation<'a>(
    env: &str,
    found: &'a [(Summary, Ownership, ResourceId)],
) -> Result<&'a Summary, AwsError> {
    found
        .iter()
        .find(|(_, o, id)| *o == Ownership::Owned && *id == distribution_id())
        .map(|(s, _, _)| s)
        .ok_or_else(|| {
            AwsError::new(
                OP_LIST,
                "NoDistribution",
                format!("env {env} has no CloudFront distribution; apply first"),
            )
        })
}

/// Invalidate `paths` on the env's distribution (found as observe finds it); with `wait`, wait
/// until the invalidation completes, with progress on `task`.
pub async fn invalidate(
    ctx: &Ctx,
    paths: &[String],
    wait: bool,
    task: &Task,
) -> Result<Invalidation, AwsError> {
    let paths = invalidation_paths(paths)?;
    let c = &ctx.clients.cloudfront;
    task.status("finding the env's distribution");
    let (found, _, _) = find(ctx, &[]).await?;
    let dist = pick_for_invalidation(&ctx.env, &found)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let caller_ref = format!("rtech-{}-{}-{nanos}", ctx.project, ctx.env);
    task.status(&format!(
        "invalidating {} on distribution {}",
        paths.join(" "),
        dist.id
    ));
    let out = c
        .create_invalidation()
        .distribution_id(&dist.id)
        .invalidation_batch(
            InvalidationBatch::builder()
                .caller_reference(caller_ref)
                .paths(
                    Paths::builder()
                        .quantity(paths.len() as i32)
                        .set_items(Some(paths.clone()))
                        .build()
                        .map_err(build_err("paths"))?,
                )
                .build()
                .map_err(build_err("invalidation batch"))?,
        )
        .send()
        .await
        .map_err(aws("cloudfront:CreateInvalidation"))?;
    let inv = out.invalidation().required(
        "cloudfront:CreateInvalidation",
        format!("no invalidation returned for distribution {}", dist.id),
    )?;
    let id = inv.id().to_string();
    let status = if !wait {
        task.status(&format!("not waiting for invalidation {id} (--no-wait)"));
        inv.status().to_string()
    } else if inv.status() == COMPLETED {
        inv.status().to_string()
    } else {
        wait_invalidated(c, &dist.id, &id, task).await?
    };
    Ok(Invalidation {
        distribution_id: dist.id.clone(),
        id,
        status,
        paths,
    })
}
