//! Application Auto Scaling for the ECS service (seed 8.1), only with `[app.scaling]`:
//! `scalable_target/app` (the service's DesiredCount between min and max) and two
//! target-tracking policies, `scaling_policy/cpu` (ECSServiceAverageCPUUtilization) and
//! `scaling_policy/memory` (ECSServiceAverageMemoryUtilization), with the spec's cooldowns.
//!
//! - the target is `service/{project}-{env}/{project}-{env}-app`; it depends on
//!   `ecs_service/app`, the policies on the target (so deletes go policies → target → service).
//! - replaced: a target's service_namespace, scalable_dimension or resource_id; a policy's
//!   policy_name, namespace, dimension, resource_id or policy_type. Updated in place:
//!   min/max (RegisterScalableTarget again), a policy's metric, target value, cooldowns
//!   (PutScalingPolicy again).
//! - observed by resource id: one DescribeScalableTargets (ResourceIds filter) and one
//!   DescribeScalingPolicies (ResourceId), exact matches kept client-side. Both are found
//!   without a spec (destroy): every name is derived from the project and env.
//! - ownership: Application Auto Scaling's tag API is missing from the local emulator
//!   (ListTagsForResource answers 500), so a target and its policies are ours when the ECS
//!   service they scale carries our tags for this env and `ecs_service/app` (one ECS
//!   DescribeServices with TAGS, made only when something was found). A target on a service
//!   that is not ours (or gone) is foreign: never modified or deregistered.
//! - tags: sent with RegisterScalableTarget when the target is created (AWS keeps them; moto
//!   5.2.5 accepts and ignores the parameter). They are write-only: never read back (see
//!   above), so observe reports the spec's tags for an owned target and they never show as
//!   drift; tag changes in the spec do not reach an existing target.
//! - Target-tracking policies make CloudWatch alarms (`TargetTracking-…`) that AWS owns and
//!   deletes with the policy: rtech never reads or touches them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::builders::PutScalingPolicyFluentBuilder;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::builders::RegisterScalableTargetFluentBuilder;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_applicationautoscaling::Client;
use aws_sdk_ecs::types::ServiceField;

use crate::aws::{all_pages, aws, AwsError};
use crate::engine::progress::Task;
use crate::model::{
    tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV, TAG_ID,
    TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const SCALABLE_TARGET: &str = "scalable_target";
pub const SCALING_POLICY: &str = "scaling_policy";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: SCALABLE_TARGET,
        force_new: &["service_namespace", "scalable_dimension", "resource_id"],
        new_attrs_on_update: false,
    },
    KindSchema {
        kind: SCALING_POLICY,
        force_new: &[
            "policy_name",
            "service_namespace",
            "scalable_dimension",
            "resource_id",
            "policy_type",
        ],
        new_attrs_on_update: false,
    },
];

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

pub fn target_id() -> ResourceId {
    ResourceId::new(SCALABLE_TARGET, "app")
}

pub fn policy_id(name: &str) -> ResourceId {
    ResourceId::new(SCALING_POLICY, name)
}

fn ecs_service() -> ResourceId {
    ResourceId::new("ecs_service", "app")
}

// ---------------------------------------------------------------------------------------------
// expand

/// Spec → Desired (pure): nothing without `[app.scaling]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(s) = spec.app.as_ref().and_then(|a| a.scaling.as_ref()) else {
        return vec![];
    };
    let rid = resource_id(&spec.project, &spec.env);
    let tid = target_id();
    let tags = tags_for(&spec.project, &spec.env, &tid, &rid, &spec.tags);
    let target = Resource::new(tid.clone(), &rid)
        .prop("service_namespace", Value::str(NAMESPACE))
        .prop("scalable_dimension", Value::str(DIMENSION))
        .prop("resource_id", Value::str(&rid))
        .prop("min_capacity", Value::Int(s.min))
        .prop("max_capacity", Value::Int(s.max))
        .prop("tags", Value::string_map(&tags))
        .dep(&ecs_service());
    let mut out = vec![target];
    for (key, role, metric) in POLICIES {
        let target_value = match *key {
            "cpu" => s.cpu_target,
            _ => s.memory_target,
        };
        let name = spec.name(role);
        out.push(
            Resource::new(policy_id(key), &name)
                .prop("policy_name", Value::str(&name))
                .prop("service_namespace", Value::str(NAMESPACE))
                .prop("scalable_dimension", Value::str(DIMENSION))
                .prop("resource_id", Value::str(&rid))
                .prop("policy_type", Value::str(POLICY_TYPE))
                .prop("metric", Value::str(*metric))
                .prop("target_value", Value::Int(target_value))
                .prop(
                    "scale_in_cooldown_seconds",
                    Value::Int(s.scale_in_cooldown_seconds),
                )
                .prop(
                    "scale_out_cooldown_seconds",
                    Value::Int(s.scale_out_cooldown_seconds),
                )
                .prop("disable_scale_in", Value::Bool(false))
                .dep(&tid),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

/// A target value as the spec writes it: whole numbers as integers (AWS keeps a double).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::Int(v as i64)
    } else {
        Value::str(v.to_string())
    }
}

/// A live scalable target → `Observed` (pure). `tags` is what the spec asks for (write-only,
/// module docs).
pub fn observe_target(t: &ScalableTarget, tags: Option<&Value>) -> Observed {
    let mut o = Observed::new(target_id(), t.resource_id())
        .prop(
            "service_namespace",
            Value::str(t.service_namespace().as_str()),
        )
        .prop(
            "scalable_dimension",
            Value::str(t.scalable_dimension().as_str()),
        )
        .prop("resource_id", Value::str(t.resource_id()))
        .prop("min_capacity", Value::Int(t.min_capacity() as i64))
        .prop("max_capacity", Value::Int(t.max_capacity() as i64))
        .prop("tags", tags.cloned().unwrap_or(Value::Null))
        .dep(&ecs_service());
    o.attrs
        .insert("resource_id".into(), t.resource_id().to_string());
    if let Some(arn) = t.scalable_target_arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    o
}

/// A live scaling policy → `Observed` under `id` (pure).
pub fn observe_policy(id: ResourceId, p: &ScalingPolicy) -> Observed {
    let cfg = p.target_tracking_scaling_policy_configuration();
    let metric = cfg.map(|c| {
        match c.predefined_metric_specification() {
            Some(m) => m.predefined_metric_type().as_str(),
            None => "(a customised metric)",
        }
        .to_string()
    });
    let int = |v: Option<i32>| v.map(|n| Value::Int(n as i64)).unwrap_or(Value::Null);
    let mut o = Observed::new(id, p.policy_arn())
        .prop("policy_name", Value::str(p.policy_name()))
        .prop(
            "service_namespace",
            Value::str(p.service_namespace().as_str()),
        )
        .prop(
            "scalable_dimension",
            Value::str(p.scalable_dimension().as_str()),
        )
        .prop("resource_id", Value::str(p.resource_id()))
        .prop("policy_type", Value::str(p.policy_type().as_str()))
        .prop("metric", Value::opt_str(metric.as_deref()))
        .prop(
            "target_value",
            cfg.map(|c| number(c.target_value())).unwrap_or(Value::Null),
        )
        .prop(
            "scale_in_cooldown_seconds",
            int(cfg.and_then(|c| c.scale_in_cooldown())),
        )
        .prop(
            "scale_out_cooldown_seconds",
            int(cfg.and_then(|c| c.scale_out_cooldown())),
        )
        // AWS leaves it out when false.
        .prop(
            "disable_scale_in",
            cfg.map(|c| Value::Bool(c.disable_scale_in().unwrap_or(false)))
                .unwrap_or(Value::Null),
        )
        .dep(&target_id());
    o.attrs.insert("arn".into(), p.policy_arn().to_string());
    o.attrs.insert("name".into(), p.policy_name().to_string());
    o
}

/// Whether the ECS service's tags make it this env's `ecs_service/app`.
pub fn service_tags_are_ours(project: &str, env: &str, tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&ecs_service().to_string())
}

// ---------------------------------------------------------------------------------------------
// observe: the calls

/// Whether the ECS service the target scales is ours (one DescribeServices with its tags).
async fn service_is_ours(ctx: &Ctx) -> Result<bool, AwsError> {
    let r = ctx
        .clients
        .ecs
        .describe_services()
        .cluster(cluster_name(&ctx.project, &ctx.env))
        .services(service_name(&ctx.project, &ctx.env))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(aws("ecs:DescribeServices"));
    let out = match r {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    let name = service_name(&ctx.project, &ctx.env);
    Ok(out
        .services()
        .iter()
        .filter(|s| s.service_name() == Some(name.as_str()))
        .any(|s| {
            let tags: BTreeMap<String, String> = s
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            service_tags_are_ours(&ctx.project, &ctx.env, &tags)
        }))
}

fn foreign(id: ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id, physical);
    o.ownership = Ownership::Foreign;
    o
}

async fn observe_all(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
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
    // Exact matches only (the emulator matches policy resource ids by substring).
    let target = targets.into_iter().find(|t| {
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
    let ours = service_is_ours(ctx).await?;
    let mut out = vec![];
    if let Some(t) = &target {
        if ours {
            let tags = desired
                .iter()
                .find(|r| r.id == target_id())
                .and_then(|r| r.props.get("tags"));
            out.push(observe_target(t, tags));
        } else {
            out.push(foreign(target_id(), t.resource_id()));
        }
    }
    for (id, p) in policies {
        if ours {
            out.push(observe_policy(id, &p));
        } else {
            out.push(foreign(id, p.policy_arn()));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

fn int(r: &Resource, key: &str) -> Option<i32> {
    r.props.get(key).and_then(Value::as_int).map(|n| n as i32)
}

fn str_of(r: &Resource, key: &str) -> String {
    r.get_str(key).unwrap_or_default().to_string()
}

/// RegisterScalableTarget creates and updates; tags only on create (module docs).
pub fn register_request(
    c: &Client,
    r: &Resource,
    create: bool,
) -> RegisterScalableTargetFluentBuilder {
    let tags = create.then(|| tags_of(&r.props).into_iter().collect());
    c.register_scalable_target()
        .service_namespace(ServiceNamespace::from(
            r.get_str("service_namespace").unwrap_or(NAMESPACE),
        ))
        .scalable_dimension(ScalableDimension::from(
            r.get_str("scalable_dimension").unwrap_or(DIMENSION),
        ))
        .resource_id(str_of(r, "resource_id"))
        .set_min_capacity(int(r, "min_capacity"))
        .set_max_capacity(int(r, "max_capacity"))
        .set_tags(tags.filter(|t: &std::collections::HashMap<String, String>| !t.is_empty()))
}

pub fn put_policy_request(
    c: &Client,
    r: &Resource,
) -> Result<PutScalingPolicyFluentBuilder, AwsError> {
    let bad = |e: aws_smithy_types::error::operation::BuildError| {
        AwsError::new(
            "application-autoscaling:PutScalingPolicy",
            "InvalidRequest",
            format!("{}: {e}", r.id),
        )
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::from(r.get_str("metric").unwrap_or_default()))
        .build()
        .map_err(bad)?;
    let target_value = match r.props.get("target_value") {
        Some(Value::Int(n)) => *n as f64,
        Some(Value::Str(s)) => s.parse().unwrap_or_default(),
        _ => 0.0,
    };
    let cfg = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(target_value)
        .predefined_metric_specification(metric)
        .set_scale_in_cooldown(int(r, "scale_in_cooldown_seconds"))
        .set_scale_out_cooldown(int(r, "scale_out_cooldown_seconds"))
        .set_disable_scale_in(r.props.get("disable_scale_in").and_then(Value::as_bool))
        .build()
        .map_err(bad)?;
    Ok(c.put_scaling_policy()
        .policy_name(str_of(r, "policy_name"))
        .service_namespace(ServiceNamespace::from(
            r.get_str("service_namespace").unwrap_or(NAMESPACE),
        ))
        .scalable_dimension(ScalableDimension::from(
            r.get_str("scalable_dimension").unwrap_or(DIMENSION),
        ))
        .resource_id(str_of(r, "resource_id"))
        .policy_type(PolicyType::from(
            r.get_str("policy_type").unwrap_or(POLICY_TYPE),
        ))
        .target_tracking_scaling_policy_configuration(cfg))
}

// ---------------------------------------------------------------------------------------------
// the reconciler

pub struct Scaling;

#[async_trait]
impl Reconciler for Scaling {
    fn service(&self) -> &'static str {
        "scaling"
    }

    fn kinds(&self) -> &'static [KindSchema] {
        KINDS
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe_all(ctx, desired).await
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let c = &ctx.clients.autoscaling;
        match op {
            Op::Create(r) | Op::Update { desired: r, .. } if r.id.kind == SCALABLE_TARGET => {
                let create = matches!(op, Op::Create(_));
                task.status(&format!(
                    "registering {} ({}..={} tasks)",
                    str_of(r, "resource_id"),
                    int(r, "min_capacity").unwrap_or_default(),
                    int(r, "max_capacity").unwrap_or_default()
                ));
                let out = register_request(c, r, create)
                    .send()
                    .await
                    .map_err(aws("application-autoscaling:RegisterScalableTarget"))?;
                let rid = str_of(r, "resource_id");
                let mut a = Attrs::new();
                a.insert("id".into(), rid.clone());
                a.insert("resource_id".into(), rid);
                if let Some(arn) = out.scalable_target_arn() {
                    a.insert("arn".into(), arn.to_string());
                }
                Ok(a)
            }
            Op::Create(r) | Op::Update { desired: r, .. } if r.id.kind == SCALING_POLICY => {
                task.status(&format!(
                    "putting scaling policy {}",
                    str_of(r, "policy_name")
                ));
                let out = put_policy_request(c, r)?
                    .send()
                    .await
                    .map_err(aws("application-autoscaling:PutScalingPolicy"))?;
                let mut a = Attrs::new();
                a.insert("id".into(), out.policy_arn().to_string());
                a.insert("arn".into(), out.policy_arn().to_string());
                a.insert("name".into(), str_of(r, "policy_name"));
                Ok(a)
            }
            Op::Delete(o) if o.id.kind == SCALABLE_TARGET => {
                let r = c
                    .deregister_scalable_target()
                    .service_namespace(ServiceNamespace::from(
                        o.get_str("service_namespace").unwrap_or(NAMESPACE),
                    ))
                    .scalable_dimension(ScalableDimension::from(
                        o.get_str("scalable_dimension").unwrap_or(DIMENSION),
                    ))
                    .resource_id(&o.physical_id)
                    .send()
                    .await
                    .map_err(aws("application-autoscaling:DeregisterScalableTarget"));
                match r {
                    Err(e) if !e.is_not_found() => Err(e),
                    _ => Ok(Attrs::new()),
                }
            }
            Op::Delete(o) if o.id.kind == SCALING_POLICY => {
                let r = c
                    .delete_scaling_policy()
                    .policy_name(o.get_str("policy_name").unwrap_or_default())
                    .service_namespace(ServiceNamespace::from(
                        o.get_str("service_namespace").unwrap_or(NAMESPACE),
                    ))
                    .scalable_dimension(ScalableDimension::from(
                        o.get_str("scalable_dimension").unwrap_or(DIMENSION),
                    ))
                    .resource_id(o.get_str("resource_id").unwrap_or_default())
                    .send()
                    .await
                    .map_err(aws("application-autoscaling:DeleteScalingPolicy"));
                match r {
                    Err(e) if !e.is_not_found() => Err(e),
                    _ => Ok(Attrs::new()),
                }
            }
            Op::Create(r) | Op::Update { desired: r, .. } => {
                Err(AwsError::new("rtech", "UnknownKind", r.id.to_string()))
            }
            Op::Delete(o) => Err(AwsError::new("rtech", "UnknownKind", o.id.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
