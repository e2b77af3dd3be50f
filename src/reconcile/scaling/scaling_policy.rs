//! `scaling_policy/cpu` and `scaling_policy/memory`: target-tracking policies on the target.
//! - replaced: policy_name, service_namespace, scalable_dimension, resource_id or policy_type.
//! - updated in place (PutScalingPolicy again): metric, target value, cooldowns, and the
//!   target it belongs to (`scalable_target_arn`: a target registered again after its
//!   service was replaced lost its policies, and PutScalingPolicy creates them anew).
//! - policies cannot be tagged: they share their target's ownership.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::builders::PutScalingPolicyFluentBuilder;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_applicationautoscaling::Client;
use serde::{Deserialize, Serialize};

use super::scalable_target::target_id;
use super::{resource_id, DIMENSION, NAMESPACE, POLICIES, POLICY_TYPE};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::app::Scaling as ScalingSpec;
use crate::spec::Spec;

pub const SCALING_POLICY: &str = "scaling_policy";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    SCALING_POLICY,
    &[
        "policy_name",
        "service_namespace",
        "scalable_dimension",
        "resource_id",
        "policy_type",
    ],
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicyProps {
    pub policy_name: String,
    pub service_namespace: String,
    pub scalable_dimension: String,
    pub resource_id: String,
    pub policy_type: String,
    /// The predefined metric (null: not a target-tracking policy).
    pub metric: Option<String>,
    pub target_value: Option<TargetValue>,
    pub scale_in_cooldown_seconds: Option<i64>,
    pub scale_out_cooldown_seconds: Option<i64>,
    /// AWS leaves it out when false.
    pub disable_scale_in: Option<bool>,
    /// The `arn` of the target the policy belongs to (null: the target is gone).
    pub scalable_target_arn: Option<Link>,
}

/// A target value as the spec writes it: whole numbers as integers (AWS keeps a double), any
/// other as its decimal text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetValue {
    Whole(i64),
    Decimal(String),
}

impl TargetValue {
    fn as_f64(&self) -> Option<f64> {
        match self {
            TargetValue::Whole(n) => Some(*n as f64),
            TargetValue::Decimal(s) => s.parse().ok(),
        }
    }
}

/// A live target value in the spec's shape.
pub fn number(v: f64) -> TargetValue {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        TargetValue::Whole(v as i64)
    } else {
        TargetValue::Decimal(v.to_string())
    }
}

pub fn policy_id(name: &str) -> ResourceId {
    ResourceId::new(SCALING_POLICY, name)
}

/// Both policies (pure; the caller checks `[app.scaling]`).
pub fn expand_policies(spec: &Spec, s: &ScalingSpec) -> Vec<Resource> {
    let rid = resource_id(&spec.project, &spec.env);
    let tid = target_id();
    POLICIES
        .iter()
        .map(|(key, role, metric)| {
            let name = spec.name(role);
            let props = ScalingPolicyProps {
                policy_name: name.clone(),
                service_namespace: NAMESPACE.into(),
                scalable_dimension: DIMENSION.into(),
                resource_id: rid.clone(),
                policy_type: POLICY_TYPE.into(),
                metric: Some(metric.to_string()),
                target_value: Some(TargetValue::Whole(match *key {
                    "cpu" => s.cpu_target,
                    _ => s.memory_target,
                })),
                scale_in_cooldown_seconds: Some(s.scale_in_cooldown_seconds),
                scale_out_cooldown_seconds: Some(s.scale_out_cooldown_seconds),
                disable_scale_in: Some(false),
                scalable_target_arn: Some(Link::to(&tid, "arn")),
            };
            to_props(&props)
                .into_iter()
                .fold(Resource::new(policy_id(key), &name), |r, (k, v)| {
                    r.prop(&k, v)
                })
                .dep(&tid)
        })
        .collect()
}

/// A live scaling policy → `Observed` under `id` (pure); `target_arn` is the `arn` of the
/// live scalable target it belongs to (none: the target is gone).
pub fn observe_policy(id: ResourceId, p: &ScalingPolicy, target_arn: Option<&str>) -> Observed {
    let cfg = p.target_tracking_scaling_policy_configuration();
    let props = ScalingPolicyProps {
        policy_name: p.policy_name().to_string(),
        service_namespace: p.service_namespace().as_str().to_string(),
        scalable_dimension: p.scalable_dimension().as_str().to_string(),
        resource_id: p.resource_id().to_string(),
        policy_type: p.policy_type().as_str().to_string(),
        metric: cfg.map(|c| {
            match c.predefined_metric_specification() {
                Some(m) => m.predefined_metric_type().as_str(),
                None => "(a customised metric)",
            }
            .to_string()
        }),
        target_value: cfg.map(|c| number(c.target_value())),
        scale_in_cooldown_seconds: cfg.and_then(|c| c.scale_in_cooldown()).map(i64::from),
        scale_out_cooldown_seconds: cfg.and_then(|c| c.scale_out_cooldown()).map(i64::from),
        disable_scale_in: cfg.map(|c| c.disable_scale_in().unwrap_or(false)),
        scalable_target_arn: target_arn.map(Link::from),
    };
    Observed::new(id, p.policy_arn())
        .dep(&target_id())
        .with_props(to_props(&props))
        .attr("arn", p.policy_arn())
        .attr("name", p.policy_name())
}

// ---------------------------------------------------------------------------------------------
// apply

pub fn put_policy_request(
    c: &Client,
    id: &ResourceId,
    p: &ScalingPolicyProps,
) -> Result<PutScalingPolicyFluentBuilder, AwsError> {
    let bad = |e: aws_smithy_types::error::operation::BuildError| {
        AwsError::new(
            "application-autoscaling:PutScalingPolicy",
            "InvalidRequest",
            format!("{id}: {e}"),
        )
    };
    let metric = PredefinedMetricSpecification::builder()
        .set_predefined_metric_type(p.metric.as_deref().map(MetricType::from))
        .build()
        .map_err(bad)?;
    let cfg = TargetTrackingScalingPolicyConfiguration::builder()
        .set_target_value(p.target_value.as_ref().and_then(TargetValue::as_f64))
        .predefined_metric_specification(metric)
        .set_scale_in_cooldown(p.scale_in_cooldown_seconds.map(|n| n as i32))
        .set_scale_out_cooldown(p.scale_out_cooldown_seconds.map(|n| n as i32))
        .set_disable_scale_in(p.disable_scale_in)
        .build()
        .map_err(bad)?;
    Ok(c.put_scaling_policy()
        .policy_name(&p.policy_name)
        .service_namespace(ServiceNamespace::from(p.service_namespace.as_str()))
        .scalable_dimension(ScalableDimension::from(p.scalable_dimension.as_str()))
        .resource_id(&p.resource_id)
        .policy_type(PolicyType::from(p.policy_type.as_str()))
        .target_tracking_scaling_policy_configuration(cfg))
}

pub struct ScalingPolicyKind;

#[async_trait]
impl Kind for ScalingPolicyKind {
    crate::typed_kind!(SCHEMA, ScalingPolicyProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        put_policy(ctx, r, task).await
    }

    /// PutScalingPolicy creates and updates alike.
    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        put_policy(ctx, u.desired, task).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let p = from_props::<ScalingPolicyProps>(&o.props)?;
        gone_ok(
            ctx.clients
                .autoscaling
                .delete_scaling_policy()
                .policy_name(&p.policy_name)
                .service_namespace(ServiceNamespace::from(p.service_namespace.as_str()))
                .scalable_dimension(ScalableDimension::from(p.scalable_dimension.as_str()))
                .resource_id(&p.resource_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("application-autoscaling:DeleteScalingPolicy")),
        )
    }
}

async fn put_policy(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let p = from_props::<ScalingPolicyProps>(&r.props)?;
    task.status(&format!("putting scaling policy {}", p.policy_name));
    let out = put_policy_request(&ctx.clients.autoscaling, &r.id, &p)?
        .send()
        .await
        .map_err(aws("application-autoscaling:PutScalingPolicy"))?;
    let mut a = Attrs::new();
    a.insert("id".into(), out.policy_arn().to_string());
    a.insert("arn".into(), out.policy_arn().to_string());
    a.insert("name".into(), p.policy_name);
    Ok(a)
}
