//! Waiting on CloudFront with the SDK's own waiters (`DistributionDeployed`,
//! `InvalidationCompleted`) beside a progress line, and the decisions of a delete
//! (disable → wait until `Deployed` → delete with the fresh ETag).

use std::time::Duration;

use aws_sdk_cloudfront::client::Waiters;
use aws_sdk_cloudfront::Client;

use super::dist_attrs;
use crate::aws::{aws, waited, AwsError, ErrorKind, Required};
use crate::model::Attrs;
use crate::progress::Task;
use crate::reconcile::kit::with_ticker;

/// CloudFront's deployment status once a change has propagated.
pub const DEPLOYED: &str = "Deployed";

/// How long apply waits for `Deployed` (15–35 minutes historically on AWS).
const DEPLOY_WAIT: Duration = Duration::from_secs(45 * 60);
/// How long `rtech invalidate` waits for an invalidation to complete.
pub const INVALIDATION_WAIT: Duration = Duration::from_secs(30 * 60);

/// Wait until the distribution is `Deployed` (GetDistribution, the SDK's waiter); return its
/// fresh attributes.
pub async fn wait_deployed(c: &Client, id: &str, task: &Task) -> Result<Attrs, AwsError> {
    const OP: &str = "cloudfront:GetDistribution";
    let what = format!("distribution {id} to be Deployed (minutes on AWS)");
    let done = with_ticker(
        task,
        &what,
        c.wait_until_distribution_deployed()
            .id(id)
            .wait(DEPLOY_WAIT),
    )
    .await
    .map_err(waited(OP, what.clone()))?;
    let out = done.into_result().map_err(aws(OP))?;
    let d = out
        .distribution()
        .required(OP, format!("no distribution returned for {id}"))?;
    Ok(dist_attrs(d.id(), d.arn(), d.domain_name(), d.status()))
}

/// Wait until the invalidation is `Completed` (GetInvalidation, the SDK's waiter); return its
/// status.
pub async fn wait_invalidated(
    c: &Client,
    distribution: &str,
    id: &str,
    task: &Task,
) -> Result<String, AwsError> {
    const OP: &str = "cloudfront:GetInvalidation";
    let what = format!("invalidation {id} on distribution {distribution} to complete");
    let done = with_ticker(
        task,
        &what,
        c.wait_until_invalidation_completed()
            .distribution_id(distribution)
            .id(id)
            .wait(INVALIDATION_WAIT),
    )
    .await
    .map_err(waited(OP, what.clone()))?;
    let out = done.into_result().map_err(aws(OP))?;
    Ok(out
        .invalidation()
        .map(|i| i.status().to_string())
        .unwrap_or_default())
}

/// The next step of a delete from what GetDistribution says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStep {
    /// UpdateDistribution Enabled=false, then wait until Deployed.
    Disable,
    /// Disabled, not yet Deployed: wait.
    Wait,
    /// Disabled and Deployed: DeleteDistribution.
    Delete,
}

pub fn delete_step(enabled: bool, status: &str) -> DeleteStep {
    if enabled {
        DeleteStep::Disable
    } else if status != DEPLOYED {
        DeleteStep::Wait
    } else {
        DeleteStep::Delete
    }
}

/// What a failed disable or delete leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Already gone: the delete is done.
    Gone,
    /// Read the distribution again (fresh ETag, status, enabled) and take the next step:
    /// `DistributionNotDisabled` (still enabled, or the disable has not propagated),
    /// `PreconditionFailed` / `InvalidIfMatchVersion` (stale ETag).
    Reread,
    Fail,
}

pub fn on_delete_error(e: &AwsError) -> Recovery {
    if e.is_not_found() {
        Recovery::Gone
    } else if e.is("DistributionNotDisabled") || e.kind() == ErrorKind::Conflict {
        Recovery::Reread
    } else {
        Recovery::Fail
    }
}

/// How many read → act rounds a delete takes at most (disable, wait, delete, plus retries).
pub const DELETE_ROUNDS: usize = 6;
