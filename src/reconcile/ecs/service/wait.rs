//! Waiting for the service: until it is stable after a change (the SDK's services-stable
//! waiter, beside a watch of the rollout), until an unfinished rollout ends, and until a deleted
//! service is INACTIVE; and the reports of a failed deployment.

use std::time::{Duration, Instant};

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};
use aws_smithy_types::date_time::Format;

use super::observe::{describe, rollout_state};
use super::{ROLLOUT_COMPLETED, ROLLOUT_FAILED, ROLLOUT_IN_PROGRESS};
use crate::aws::{waited, AwsError};
use crate::progress::Task;
use crate::reconcile::kit::{until, with_ticker, Poll};
use crate::reconcile::Ctx;

/// How often the wait looks at the rollout besides the waiter (progress, early failure).
const WATCH_EVERY: Duration = Duration::from_secs(20);
/// Events shown with a failed deployment.
const EVENTS_SHOWN: usize = 5;

/// The first deployment problem worth failing on: a FAILED rollout of the task definition
/// rtech asked for or of the PRIMARY deployment (the circuit breaker without rollback), or a
/// rollback (the service runs another task definition again).
pub fn deployment_failure(s: &Service, want_td: &str) -> Option<String> {
    if let Some(d) = s.deployments().iter().find(|d| {
        d.rollout_state() == Some(&DeploymentRolloutState::Failed)
            && (want_td.is_empty()
                || d.task_definition() == Some(want_td)
                || d.status() == Some("PRIMARY"))
    }) {
        return Some(format!(
            "the deployment {} of {} failed: {}",
            d.id().unwrap_or_default(),
            d.task_definition().unwrap_or_default(),
            d.rollout_state_reason().unwrap_or("no reason given")
        ));
    }
    match s.task_definition() {
        Some(td) if !want_td.is_empty() && td != want_td => Some(format!(
            "the service runs {td} again instead of {want_td}: the deployment circuit breaker rolled it back"
        )),
        _ => None,
    }
}

/// Whether the service has settled (pure): one deployment, all of its tasks running (the
/// services-stable waiter's test), and its rollout COMPLETED when ECS reports one.
pub fn is_stable(s: &Service) -> bool {
    match s.deployments() {
        [d] => {
            d.running_count() == d.desired_count()
                && s.running_count() == s.desired_count()
                && d.rollout_state()
                    .is_none_or(|r| *r == DeploymentRolloutState::Completed)
        }
        _ => false,
    }
}

/// Counts and rollout states: what a progress line and an error show.
pub fn rollout_summary(s: &Service) -> String {
    let deployments: Vec<String> = s
        .deployments()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} ({}/{} running, {} pending, {} failed)",
                d.status().unwrap_or("?"),
                d.task_definition()
                    .and_then(|t| t.rsplit('/').next())
                    .unwrap_or("?"),
                d.rollout_state().map(|r| r.as_str()).unwrap_or("-"),
                d.running_count(),
                d.desired_count(),
                d.pending_count(),
                d.failed_tasks()
            )
        })
        .collect();
    format!(
        "{}/{} tasks running; deployments: {}",
        s.running_count(),
        s.desired_count(),
        if deployments.is_empty() {
            "none".to_string()
        } else {
            deployments.join("; ")
        }
    )
}

/// The newest events (AWS lists them newest first), one per line.
pub fn latest_events(s: &Service) -> String {
    let lines: Vec<String> = s
        .events()
        .iter()
        .take(EVENTS_SHOWN)
        .map(|e| {
            let at = e
                .created_at()
                .and_then(|t| t.fmt(Format::DateTime).ok())
                .unwrap_or_default();
            format!("  {at} {}", e.message().unwrap_or_default())
        })
        .collect();
    if lines.is_empty() {
        "  (no events)".to_string()
    } else {
        lines.join("\n")
    }
}

fn deployment_error(name: &str, why: &str, s: &Service) -> AwsError {
    AwsError::new(
        "ecs:DescribeServices",
        "DeploymentFailed",
        format!(
            "service {name}: {why}; {}\nlatest events:\n{}",
            rollout_summary(s),
            latest_events(s)
        ),
    )
}

/// Wait until the service is stable: the SDK's services-stable waiter (one deployment, as many
/// tasks running as desired), bounded by `limit`, beside a watch of the rollout every
/// `WATCH_EVERY` (progress, and an early end when the deployment fails, is rolled back or is
/// stable before the waiter's next poll). The waiter looks at counts only: when it ends while
/// the rollout is still IN_PROGRESS, the wait goes on until the rollout ends, within what is
/// left of `limit`. Then make sure the service runs `want_td`.
pub(super) async fn wait_stable(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    want_td: &str,
    limit: Duration,
    task: &Task,
) -> Result<Service, AwsError> {
    let start = Instant::now();
    let what = format!(
        "service {name} to become stable (up to {} s)",
        limit.as_secs()
    );
    let waiter = with_ticker(
        task,
        &what,
        ctx.clients
            .ecs
            .wait_until_services_stable()
            .cluster(cluster)
            .services(name)
            .wait(limit),
    );
    let watch = async {
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if let Some(s) = describe(ctx, cluster, name).await? {
                if let Some(why) = deployment_failure(&s, want_td) {
                    return Err::<(), AwsError>(deployment_error(name, &why, &s));
                }
                // Noticed here rather than at the waiter's next, ever later, poll.
                if is_stable(&s) {
                    return Ok(());
                }
                task.status(&format!(
                    "waiting for service {name} to become stable: {}",
                    rollout_summary(&s)
                ));
            }
        }
    };
    // Both sides only read: the change's slot is free for others until one of them ends.
    let ended = crate::slots::idle(async {
        tokio::select! {
            r = waiter => r
                .map(|_| true)
                .map_err(waited("ecs:DescribeServices", format!("service {name} to become stable"))),
            r = watch => r.map(|()| false),
        }
    })
    .await;
    let ended = match ended {
        // The waiter saw the counts settle: the rollout may still be finishing.
        Ok(true) => {
            until(
                Poll {
                    op: "ecs:DescribeServices",
                    what: &format!("the rollout of service {name} to complete"),
                    pending: &[ROLLOUT_IN_PROGRESS],
                    target: &[ROLLOUT_COMPLETED, ROLLOUT_FAILED, "MISSING"],
                    timeout: limit.saturating_sub(start.elapsed()),
                },
                task,
                || async {
                    let s = describe(ctx, cluster, name).await?;
                    Ok((s.as_ref().map_or("MISSING".to_string(), rollout_state), ()))
                },
            )
            .await
        }
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    let s = describe(ctx, cluster, name).await?;
    match (ended, s) {
        (Err(e), _) if e.code == "DeploymentFailed" => Err(e),
        (Ok(()), Some(s)) => match deployment_failure(&s, want_td) {
            Some(why) => Err(deployment_error(name, &why, &s)),
            None => Ok(s),
        },
        (Ok(()), None) => Err(AwsError::new(
            "ecs:DescribeServices",
            "ServiceNotFoundException",
            format!("service {name} vanished while rtech waited for it"),
        )),
        (Err(e), Some(s)) => {
            let why = deployment_failure(&s, want_td).unwrap_or_else(|| {
                format!("not stable within {} s ({})", limit.as_secs(), e.message)
            });
            Err(AwsError::new(
                "ecs:DescribeServices",
                "ServiceNotStable",
                format!(
                    "service {name}: {why}; {}\nlatest events:\n{}",
                    rollout_summary(&s),
                    latest_events(&s)
                ),
            ))
        }
        (Err(e), None) => Err(e),
    }
}

/// What to do about the rollout of a live service before (or instead of) waiting for it (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum RolloutCheck {
    /// COMPLETED (by now): nothing to wait for.
    Done,
    /// FAILED: the apply fails with this reason (no new deployment is started).
    Failed(String),
    /// Still rolling out: wait for it.
    Wait,
}

pub fn rollout_check(s: &Service, want_td: &str) -> RolloutCheck {
    match rollout_state(s).as_str() {
        ROLLOUT_COMPLETED => RolloutCheck::Done,
        ROLLOUT_FAILED => RolloutCheck::Failed(
            deployment_failure(s, want_td)
                .unwrap_or_else(|| "its PRIMARY deployment failed".to_string())
                + " (rtech starts no new deployment by itself: fix the cause, then deploy again, e.g. with a new --image-tag)",
        ),
        _ => RolloutCheck::Wait,
    }
}

/// The unfinished rollout of a live service (a `rollout`-only update): fail on a FAILED one,
/// else wait for it as after a change (`wait_stable`), sending nothing.
pub(super) async fn wait_rollout(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    want_td: &str,
    limit: Duration,
    task: &Task,
) -> Result<(), AwsError> {
    let s = describe(ctx, cluster, name)
        .await?
        .filter(|s| s.status() == Some("ACTIVE"))
        .ok_or_else(|| {
            AwsError::new(
                "ecs:DescribeServices",
                "ServiceNotFoundException",
                format!("service {name} is gone: run plan again"),
            )
        })?;
    match rollout_check(&s, want_td) {
        RolloutCheck::Done => Ok(()),
        RolloutCheck::Failed(why) => Err(deployment_error(name, &why, &s)),
        RolloutCheck::Wait => {
            task.status(&format!(
                "the rollout of service {name} is unfinished ({})",
                rollout_summary(&s)
            ));
            wait_stable(ctx, cluster, name, want_td, limit, task)
                .await
                .map(|_| ())
        }
    }
}

/// Whether a deleted service is done (pure): INACTIVE, or gone altogether (DescribeServices
/// lists it under `failures` as MISSING once an INACTIVE service has aged out, or the
/// cluster is gone: `describe` says None).
pub fn inactive_or_gone(s: Option<&Service>) -> bool {
    s.is_none_or(|s| s.status() == Some("INACTIVE"))
}

/// Wait until the deleted service is INACTIVE or gone, up to `limit`. Not the SDK's
/// services-inactive waiter: it fails on a MISSING service, which is what a service that went
/// away for good looks like.
pub(super) async fn wait_inactive(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    limit: Duration,
    task: &Task,
) -> Result<(), AwsError> {
    until(
        Poll {
            op: "ecs:DescribeServices",
            what: &format!("service {name} to become inactive"),
            pending: &["ACTIVE", "DRAINING"],
            target: &["INACTIVE", "MISSING"],
            timeout: limit,
        },
        task,
        || async {
            let s = describe(ctx, cluster, name).await?;
            let state = match &s {
                Some(s) if !inactive_or_gone(Some(s)) => s.status().unwrap_or("?").to_string(),
                _ => "MISSING".to_string(),
            };
            Ok((state, ()))
        },
    )
    .await
}
