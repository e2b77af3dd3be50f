//! `rtech loadtest`'s view of the ECS service while the load runs: its desired, running and
//! pending task counts (ecs:DescribeServices) and its scalable target's bounds
//! (DescribeScalableTargets), concurrently; and the target's scaling activities since a
//! moment (DescribeScalingActivities, newest first, one page). Read-only, by the names
//! [`cluster_name`] and [`service_name`] give.

use std::time::SystemTime;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::{cluster_name, resource_id, service_name};
use crate::aws::{aws, AwsError};
use crate::reconcile::kit::found;
use crate::reconcile::Ctx;

/// The service's task counts and its scalable target's bounds at one moment. All None: no
/// such active service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceSample {
    pub desired: Option<i32>,
    pub running: Option<i32>,
    pub pending: Option<i32>,
    /// None: the service has no scalable target.
    pub min: Option<i32>,
    pub max: Option<i32>,
}

/// The active service named `name` among DescribeServices' answer (pure): its counts.
pub fn counts(services: &[aws_sdk_ecs::types::Service], name: &str) -> ServiceSample {
    services
        .iter()
        .find(|s| s.service_name() == Some(name) && s.status() == Some("ACTIVE"))
        .map(|s| ServiceSample {
            desired: Some(s.desired_count()),
            running: Some(s.running_count()),
            pending: Some(s.pending_count()),
            ..Default::default()
        })
        .unwrap_or_default()
}

/// One sample of the env's service and its scalable target.
pub async fn sample(ctx: &Ctx) -> Result<ServiceSample, AwsError> {
    let name = service_name(&ctx.project, &ctx.env);
    let rid = resource_id(&ctx.project, &ctx.env);
    let (services, targets) = tokio::try_join!(
        async {
            found(
                ctx.clients
                    .ecs
                    .describe_services()
                    .cluster(cluster_name(&ctx.project, &ctx.env))
                    .services(&name)
                    .send()
                    .await
                    .map_err(aws("ecs:DescribeServices")),
            )
        },
        async {
            ctx.clients
                .autoscaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_ids(&rid)
                .send()
                .await
                .map_err(aws("application-autoscaling:DescribeScalableTargets"))
        },
    )?;
    let mut out = services
        .map(|s| counts(s.services(), &name))
        .unwrap_or_default();
    if let Some(t) = targets
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == rid)
    {
        out.min = Some(t.min_capacity());
        out.max = Some(t.max_capacity());
    }
    Ok(out)
}

/// One scaling activity: when it started, its status and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingActivity {
    pub started: SystemTime,
    pub status: String,
    pub description: String,
}

/// The scalable target's activities that started at or after `since`, oldest first.
pub async fn activities_since(
    ctx: &Ctx,
    since: SystemTime,
) -> Result<Vec<ScalingActivity>, AwsError> {
    let out = ctx
        .clients
        .autoscaling
        .describe_scaling_activities()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(&ctx.project, &ctx.env))
        .max_results(50)
        .send()
        .await
        .map_err(aws("application-autoscaling:DescribeScalingActivities"))?;
    let mut list: Vec<ScalingActivity> = out
        .scaling_activities()
        .iter()
        .filter_map(|a| {
            let started = SystemTime::try_from(*a.start_time()).ok()?;
            (started >= since).then(|| ScalingActivity {
                started,
                status: a.status_code().as_str().to_string(),
                description: a.description().to_string(),
            })
        })
        .collect();
    list.sort_by_key(|a| a.started);
    Ok(list)
}
