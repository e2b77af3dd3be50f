//! Application Auto Scaling for the ECS service, only with `[app.scaling]`:
//! `scalable_target/app` (the service's DesiredCount between min and max, [`scalable_target`])
//! and two target-tracking policies ([`scaling_policy`]), `scaling_policy/cpu`
//! (ECSServiceAverageCPUUtilization) and `scaling_policy/memory`
//! (ECSServiceAverageMemoryUtilization), with the spec's cooldowns.
//!
//! - the target is `service/{project}-{env}/{project}-{env}-app`. Its `service_arn` refers to
//!   `ecs_service/app`'s `arn` and forces replacement; each policy's `scalable_target_arn`
//!   refers to the target's `arn` (its ScalableTargetARN). Deleting an ECS service makes AWS
//!   deregister its scalable target and delete the policies, so when the plan replaces the
//!   service the reference is unknown until apply: the target is replaced (deregistered
//!   before the service is deleted, registered again once it is recreated) and the policies
//!   updated, i.e. put again on the new target.
//!   Without these references a replaced service silently lost its scaling. The policy's
//!   reference is an update, not a replacement: PutScalingPolicy creates a policy AWS already
//!   deleted. Deletes go policies → target → service.
//! - deleting a target or policy AWS already removed (with its service, or with its target)
//!   succeeds: not found (ObjectNotFoundException) is done.
//! - observed by resource id: one DescribeScalableTargets (ResourceIds filter) and one
//!   DescribeScalingPolicies (ResourceId), exact matches kept client-side; when something was
//!   found, one ListTagsForResource on the target's ScalableTargetARN and one ECS
//!   DescribeServices (the live ACTIVE service's ARN for `service_arn`), concurrently. Found
//!   without a spec (destroy): every name is derived from the project and env.
//! - ownership: the target's own tags decide. It is ours when it carries `rtech:project` /
//!   `rtech:env` of this env and `rtech:id = scalable_target/app`; a target without them
//!   (whatever the service's tags) is foreign: never modified or deregistered. Its policies
//!   (which cannot be tagged) share its ownership; policies with no target (which AWS does
//!   not allow) are foreign.
//! - Target-tracking policies make CloudWatch alarms (`TargetTracking-…`) that AWS owns and
//!   deletes with the policy: rtech never reads or touches them.

mod iam;
use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::operation::tag_resource::builders::TagResourceFluentBuilder;
use aws_sdk_applicationautoscaling::operation::untag_resource::builders::UntagResourceFluentBuilder;
use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTarget, ScalingPolicy, ServiceNamespace,
};
use aws_sdk_applicationautoscaling::Client;

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{is_ours, tags::tag_map};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub mod sample;
pub mod scalable_target;
pub mod scaling_policy;

use scalable_target::{observe_target, target_arn, target_id};
use scaling_policy::{observe_policy, policy_id};

pub const NAMESPACE: &str = "ecs";
pub const DIMENSION: &str = "ecs:service:DesiredCount";
pub const POLICY_TYPE: &str = "TargetTrackingScaling";

/// The policies: resource name, AWS name role (`{project}-{env}-<role>`), metric.
pub const POLICIES: &[(&str, &str, &str)] = &[
    ("cpu", "cpu-autoscaling", "ECSServiceAverageCPUUtilization"),
    (
        "memory",
        "memory-autoscaling",
        "ECSServiceAverageMemoryUtilization",
    ),
];

/// `{project}-{env}`: the ECS cluster.
pub fn cluster_name(project: &str, env: &str) -> String {
    format!("{project}-{env}")
}

/// `{project}-{env}-app`: the ECS service.
pub fn service_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-app")
}

/// `service/{cluster}/{service}`: the scalable target's resource id.
pub fn resource_id(project: &str, env: &str) -> String {
    format!(
        "service/{}/{}",
        cluster_name(project, env),
        service_name(project, env)
    )
}

pub fn policy_name(project: &str, env: &str, role: &str) -> String {
    format!("{project}-{env}-{role}")
}

pub fn ecs_service() -> ResourceId {
    ResourceId::new("ecs_service", "app")
}

// ---------------------------------------------------------------------------------------------
// expand

/// Spec → Desired (pure): nothing without `[app.scaling]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(s) = spec.app.as_ref().and_then(|a| a.scaling.as_ref()) else {
        return vec![];
    };
    let mut out = vec![scalable_target::expand_target(spec, s)];
    out.extend(scaling_policy::expand_policies(spec, s));
    out
}

// ---------------------------------------------------------------------------------------------
// ownership and tags (pure)

/// Who owns the live target and its policies: the target's own tags (`target_tags`: None when
/// there is no target, or its tags cannot be read).
pub fn ownership(
    project: &str,
    env: &str,
    target_tags: Option<&BTreeMap<String, String>>,
) -> Ownership {
    if target_tags.is_some_and(|t| is_ours(t, project, env, &target_id())) {
        Ownership::Owned
    } else {
        Ownership::Foreign
    }
}

/// Tags as ListTagsForResource returns them, as rtech compares them: AWS's own (`aws:…`)
/// tags, which nobody can change, left out.
pub fn live_tags(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    tag_map(
        tags.into_iter()
            .flatten()
            .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
    )
}

/// UntagResource for `keys` of the target `arn`.
pub fn untag_request(c: &Client, arn: &str, keys: Vec<String>) -> UntagResourceFluentBuilder {
    c.untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys))
}

/// TagResource setting `tags` on the target `arn`.
pub fn tag_request(
    c: &Client,
    arn: &str,
    tags: BTreeMap<String, String>,
) -> TagResourceFluentBuilder {
    c.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.into_iter().collect()))
}

crate::tag_api!(ScalingTags, Client,
    untag "application-autoscaling:UntagResource" => |c, arn, keys| untag_request(c, arn, keys),
    tag "application-autoscaling:TagResource" => |c, arn, tags| tag_request(c, arn, tags));

/// The ARN of the ECS service named `name` among DescribeServices' answer, while ACTIVE (pure;
/// a draining or deleted service is gone: its target goes too). None: no service of that name.
pub fn live_service(
    services: &[aws_sdk_ecs::types::Service],
    name: &str,
) -> Option<Option<String>> {
    let s = services
        .iter()
        .filter(|s| s.service_name() == Some(name))
        // A live service wins over a deleted one of the same name.
        .min_by_key(|s| s.status() != Some("ACTIVE"))?;
    Some(
        s.service_arn()
            .filter(|_| s.status() == Some("ACTIVE"))
            .map(str::to_string),
    )
}

// ---------------------------------------------------------------------------------------------
// observe

/// The ARN of the ECS service the target scales: ECS's own read of the service, shared with
/// it within the observe (`ecs::observed_service`), so it costs no call of its own.
async fn describe_service(ctx: &Ctx) -> Result<Option<String>, AwsError> {
    let services: Vec<_> = crate::reconcile::ecs::observed_service(ctx)
        .await?
        .into_iter()
        .collect();
    Ok(live_service(&services, &service_name(&ctx.project, &ctx.env)).flatten())
}

/// The target's own tags (from the tag index, else ListTagsForResource on its
/// ScalableTargetARN). None: it has no
/// ARN to ask about (then it cannot be shown to be ours). Err(not found): it just went away.
async fn target_tags(
    ctx: &Ctx,
    t: &ScalableTarget,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(arn) = t.scalable_target_arn() else {
        return Ok(None);
    };
    // The env's tag index lists ours; a target it does not list gets its own tag read.
    if let Some(tags) = ctx.tag_index().await?.tags(arn) {
        return Ok(Some(tags.clone()));
    }
    let out = ctx
        .clients
        .autoscaling
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("application-autoscaling:ListTagsForResource"))?;
    Ok(Some(live_tags(out.tags())))
}

fn foreign(id: ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id, physical);
    o.ownership = Ownership::Foreign;
    o
}

async fn observe_all(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.autoscaling;
    let rid = resource_id(&ctx.project, &ctx.env);
    let (targets, policies) = tokio::try_join!(
        async {
            all_pages!(
                c.describe_scalable_targets()
                    .service_namespace(ServiceNamespace::Ecs)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .resource_ids(&rid),
                "application-autoscaling:DescribeScalableTargets"
            )
        },
        async {
            all_pages!(
                c.describe_scaling_policies()
                    .service_namespace(ServiceNamespace::Ecs)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .resource_id(&rid),
                "application-autoscaling:DescribeScalingPolicies"
            )
        },
    )?;
    // Exact matches only (a filter is a request, not a promise).
    let mut target = targets.into_iter().find(|t| {
        t.resource_id() == rid
            && t.scalable_dimension() == &ScalableDimension::EcsServiceDesiredCount
    });
    let names: BTreeMap<String, &str> = POLICIES
        .iter()
        .map(|(key, role, _)| (policy_name(&ctx.project, &ctx.env, role), *key))
        .collect();
    let policies: Vec<(ResourceId, ScalingPolicy)> = policies
        .into_iter()
        .filter(|p| {
            p.resource_id() == rid
                && p.scalable_dimension() == &ScalableDimension::EcsServiceDesiredCount
        })
        .filter_map(|p| Some((policy_id(names.get(p.policy_name())?), p)))
        .collect();
    if target.is_none() && policies.is_empty() {
        return Ok(vec![]);
    }
    let (tags, service_arn) = tokio::try_join!(
        async {
            match &target {
                Some(t) => match target_tags(ctx, t).await {
                    Err(e) if e.is_not_found() => Ok((true, None)),
                    r => r.map(|tags| (false, tags)),
                },
                None => Ok((false, None)),
            }
        },
        describe_service(ctx),
    )?;
    let (vanished, tags) = tags;
    if vanished {
        target = None;
    }
    let owner = ownership(&ctx.project, &ctx.env, tags.as_ref());
    let mut out = vec![];
    if let Some(t) = &target {
        if owner == Ownership::Owned {
            out.push(observe_target(
                t,
                tags.unwrap_or_default(),
                service_arn.as_deref(),
            ));
        } else {
            out.push(foreign(target_id(), t.resource_id()));
        }
    }
    for (id, p) in policies {
        if owner == Ownership::Owned {
            out.push(observe_policy(id, &p, target.as_ref().map(target_arn)));
        } else {
            out.push(foreign(id, p.policy_arn()));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// the service

pub struct Scaling;

const KINDS: &[&dyn Kind] = &[
    &scalable_target::ScalableTargetKind,
    &scaling_policy::ScalingPolicyKind,
];

#[async_trait]
impl Service for Scaling {
    crate::service_basics!("scaling", KINDS, expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe_all(ctx).await
    }
}

#[cfg(test)]
mod tests;
