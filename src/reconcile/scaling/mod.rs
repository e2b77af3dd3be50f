//! Application Auto Scaling for the ECS service (seed 8.1), only with `[app.scaling]`:
//! `scalable_target/app` (the service's DesiredCount between min and max) and two
//! target-tracking policies, `scaling_policy/cpu` (ECSServiceAverageCPUUtilization) and
//! `scaling_policy/memory` (ECSServiceAverageMemoryUtilization), with the spec's cooldowns.
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
//! - replaced: a target's service_namespace, scalable_dimension, resource_id or service_arn;
//!   a policy's policy_name, namespace, dimension, resource_id or policy_type. Updated in
//!   place: min/max (RegisterScalableTarget again), the target's tags (TagResource /
//!   UntagResource, `model::tag_delta`), a policy's metric, target value, cooldowns or target
//!   (PutScalingPolicy again).
//! - deleting a target or policy AWS already removed (with its service, or with its target)
//!   succeeds: not found is done (AWS says ObjectNotFoundException, the emulator a
//!   ValidationException "No scalable target found…" / "No scaling policy found…").
//! - observed by resource id: one DescribeScalableTargets (ResourceIds filter) and one
//!   DescribeScalingPolicies (ResourceId), exact matches kept client-side; when something was
//!   found, one ListTagsForResource on the target's ScalableTargetARN and one ECS
//!   DescribeServices (the live ACTIVE service's ARN for `service_arn`), concurrently. Found
//!   without a spec (destroy): every name is derived from the project and env.
//! - ownership and tags on AWS: the target's own tags decide. It is ours when it carries
//!   `rtech:project`/`rtech:env` of this env and `rtech:id = scalable_target/app`; a target
//!   without them (whatever the service's tags) is foreign: never modified or deregistered.
//!   Its policies (which cannot be tagged) share its ownership; policies with no target
//!   (which AWS does not allow) are foreign. Tags are sent with RegisterScalableTarget on
//!   create, observed as they are (AWS's own `aws:` tags left out), so tag drift shows and is
//!   repaired in place, and spec tag changes reach the target.
//! - the local emulator (`RTECH_EMULATOR_QUIRKS=1`, `Clients::emulator_quirks`, never against
//!   AWS): moto's Application Auto Scaling has no tag API (ListTagsForResource answers 500;
//!   RegisterScalableTarget accepts the Tags parameter and drops it). There, ownership comes
//!   from the ECS service the target scales instead (ours when the service carries our tags
//!   for this env and `ecs_service/app`, read with TAGS from the same DescribeServices), the
//!   target's tags are reported as the spec's (so they never show as drift) and never synced.
//! - Target-tracking policies make CloudWatch alarms (`TargetTracking-…`) that AWS owns and
//!   deletes with the policy: rtech never reads or touches them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::operation::put_scaling_policy::builders::PutScalingPolicyFluentBuilder;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::builders::RegisterScalableTargetFluentBuilder;
use aws_sdk_applicationautoscaling::operation::tag_resource::builders::TagResourceFluentBuilder;
use aws_sdk_applicationautoscaling::operation::untag_resource::builders::UntagResourceFluentBuilder;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_applicationautoscaling::Client;
use aws_sdk_ecs::types::ServiceField;

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const SCALABLE_TARGET: &str = "scalable_target";
pub const SCALING_POLICY: &str = "scaling_policy";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: SCALABLE_TARGET,
        // service_arn: a replaced service takes its scalable target with it (module docs).
        force_new: &[
            "service_namespace",
            "scalable_dimension",
            "resource_id",
            "service_arn",
        ],
        new_attrs_on_update: false,
        create_before_destroy: false,
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
        create_before_destroy: false,
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
        .prop("service_arn", Value::reference(&ecs_service(), "arn"))
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
                .prop("scalable_target_arn", Value::reference(&tid, "arn"))
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

/// The target's `arn` attribute, which its policies refer to: the ScalableTargetARN (new on
/// every registration), else (an endpoint that leaves it out) the resource id.
pub fn target_arn(t: &ScalableTarget) -> &str {
    t.scalable_target_arn().unwrap_or(t.resource_id())
}

/// A live scalable target → `Observed` (pure). `tags`: the live tags, or on the emulator the
/// spec's (module docs); `service_arn`: the live ACTIVE ECS service's ARN.
pub fn observe_target(t: &ScalableTarget, tags: Value, service_arn: Option<&str>) -> Observed {
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
        .prop("tags", tags)
        .prop("service_arn", Value::opt_str(service_arn))
        .dep(&ecs_service());
    o.attrs
        .insert("resource_id".into(), t.resource_id().to_string());
    o.attrs.insert("arn".into(), target_arn(t).to_string());
    o
}

/// A live scaling policy → `Observed` under `id` (pure); `target_arn` is the `arn` of the
/// live scalable target it belongs to (none: the target is gone).
pub fn observe_policy(id: ResourceId, p: &ScalingPolicy, target_arn: Option<&str>) -> Observed {
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
        .prop("scalable_target_arn", Value::opt_str(target_arn))
        .dep(&target_id());
    o.attrs.insert("arn".into(), p.policy_arn().to_string());
    o.attrs.insert("name".into(), p.policy_name().to_string());
    o
}

/// Whether the ECS service's tags make it this env's `ecs_service/app`.
pub fn service_tags_are_ours(project: &str, env: &str, tags: &BTreeMap<String, String>) -> bool {
    tagged_as(project, env, tags, &ecs_service())
}

/// Whether a scalable target's own tags make it this env's `scalable_target/app`.
pub fn target_tags_are_ours(project: &str, env: &str, tags: &BTreeMap<String, String>) -> bool {
    tagged_as(project, env, tags, &target_id())
}

fn tagged_as(project: &str, env: &str, tags: &BTreeMap<String, String>, id: &ResourceId) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&id.to_string())
}

/// Who owns the live target and its policies (pure; module docs). On AWS the target's own
/// tags decide (`target_tags`: None when there is no target, or its tags cannot be read);
/// only with the emulator's quirks do the ECS service's tags (`service_tags`: None when there
/// is no such service).
pub fn ownership(
    project: &str,
    env: &str,
    quirks: bool,
    target_tags: Option<&BTreeMap<String, String>>,
    service_tags: Option<&BTreeMap<String, String>>,
) -> Ownership {
    let ours = if quirks {
        service_tags.is_some_and(|t| service_tags_are_ours(project, env, t))
    } else {
        target_tags.is_some_and(|t| target_tags_are_ours(project, env, t))
    };
    if ours {
        Ownership::Owned
    } else {
        Ownership::Foreign
    }
}

/// Tags as ListTagsForResource returns them, as rtech compares them: AWS's own (`aws:…`)
/// tags, which nobody can change, left out.
pub fn live_tags(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What the scaling reconciler needs of the ECS service it scales.
#[derive(Debug, Default, PartialEq)]
pub struct LiveService {
    /// Its ARN while ACTIVE (a draining or deleted service is gone: its target goes too).
    pub arn: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// The ECS service named `name` among DescribeServices' answer (pure).
pub fn live_service(services: &[aws_sdk_ecs::types::Service], name: &str) -> Option<LiveService> {
    let s = services
        .iter()
        .filter(|s| s.service_name() == Some(name))
        // A live service wins over a deleted one of the same name.
        .min_by_key(|s| s.status() != Some("ACTIVE"))?;
    Some(LiveService {
        arn: s
            .service_arn()
            .filter(|_| s.status() == Some("ACTIVE"))
            .map(str::to_string),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// observe: the calls

/// The ECS service the target scales (one DescribeServices, with its tags on the emulator).
async fn describe_service(ctx: &Ctx, with_tags: bool) -> Result<Option<LiveService>, AwsError> {
    let mut req = ctx
        .clients
        .ecs
        .describe_services()
        .cluster(cluster_name(&ctx.project, &ctx.env))
        .services(service_name(&ctx.project, &ctx.env));
    if with_tags {
        req = req.include(ServiceField::Tags);
    }
    match req.send().await.map_err(aws("ecs:DescribeServices")) {
        Ok(out) => Ok(live_service(
            out.services(),
            &service_name(&ctx.project, &ctx.env),
        )),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The target's own tags (ListTagsForResource on its ScalableTargetARN). None: it has no
/// ARN to ask about (then it cannot be shown to be ours). Err(not found): it just went away.
async fn target_tags(
    ctx: &Ctx,
    t: &ScalableTarget,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(arn) = t.scalable_target_arn() else {
        return Ok(None);
    };
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

async fn observe_all(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.autoscaling;
    let quirks = ctx.clients.emulator_quirks;
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
    let (tags, service) = tokio::try_join!(
        async {
            match &target {
                Some(t) if !quirks => match target_tags(ctx, t).await {
                    Err(e) if e.is_not_found() => Ok((true, None)),
                    r => r.map(|tags| (false, tags)),
                },
                _ => Ok((false, None)),
            }
        },
        describe_service(ctx, quirks),
    )?;
    let (vanished, tags) = tags;
    if vanished {
        target = None;
    }
    let owner = ownership(
        &ctx.project,
        &ctx.env,
        quirks,
        tags.as_ref(),
        service.as_ref().map(|s| &s.tags),
    );
    let mut out = vec![];
    if let Some(t) = &target {
        if owner == Ownership::Owned {
            let tags = if quirks {
                desired
                    .iter()
                    .find(|r| r.id == target_id())
                    .and_then(|r| r.props.get("tags"))
                    .cloned()
                    .unwrap_or(Value::Null)
            } else {
                Value::string_map(&tags.unwrap_or_default())
            };
            let service_arn = service.as_ref().and_then(|s| s.arn.as_deref());
            out.push(observe_target(t, tags, service_arn));
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

/// What an in-place update of the target calls (pure): RegisterScalableTarget when anything
/// but the tags changed, and the tag API when the tags did (never on the emulator, which has
/// none: there the tags never differ anyway).
pub fn target_update_calls(changed: &BTreeSet<String>, quirks: bool) -> (bool, bool) {
    let register = changed.iter().any(|k| k != "tags");
    let retag = !quirks && changed.contains("tags");
    (register, retag)
}

/// A delete that found nothing to delete: AWS removed it already (a deleted service takes its
/// target and policies along, a deregistered target its policies). AWS answers
/// ObjectNotFoundException; the emulator a ValidationException saying so.
pub fn already_gone(e: &AwsError) -> bool {
    e.is_not_found()
        || (e.is("ValidationException")
            && (e.message.starts_with("No scalable target found")
                || e.message.starts_with("No scaling policy found")))
}

/// The requests that bring the target's live tags from `before` to `after` (pure):
/// UntagResource for keys to drop, TagResource for keys new or changed; None when not needed.
pub fn tag_requests(
    c: &Client,
    arn: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (
    Option<UntagResourceFluentBuilder>,
    Option<TagResourceFluentBuilder>,
) {
    let d = tag_delta(before, after);
    let untag = (!d.removed.is_empty()).then(|| {
        c.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(d.removed))
    });
    let tag = (!d.set.is_empty()).then(|| {
        c.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(d.set.into_iter().collect()))
    });
    (untag, tag)
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

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe_all(ctx, desired).await
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let c = &ctx.clients.autoscaling;
        match op {
            Op::Create(r) | Op::Update { desired: r, .. } if r.id.kind == SCALABLE_TARGET => {
                let rid = str_of(r, "resource_id");
                let mut a = Attrs::new();
                a.insert("id".into(), rid.clone());
                a.insert("resource_id".into(), rid.clone());
                let (register, retag) = match &op {
                    Op::Update { changed, .. } => {
                        target_update_calls(changed, ctx.clients.emulator_quirks)
                    }
                    _ => (true, false),
                };
                if register {
                    task.status(&format!(
                        "registering {rid} ({}..={} tasks)",
                        int(r, "min_capacity").unwrap_or_default(),
                        int(r, "max_capacity").unwrap_or_default()
                    ));
                    let out = register_request(c, r, matches!(op, Op::Create(_)))
                        .send()
                        .await
                        .map_err(aws("application-autoscaling:RegisterScalableTarget"))?;
                    if let Some(arn) = out.scalable_target_arn() {
                        a.insert("arn".into(), arn.to_string());
                    }
                }
                if let (true, Op::Update { prior, .. }) = (retag, &op) {
                    let arn = a
                        .get("arn")
                        .or_else(|| prior.attrs.get("arn"))
                        .cloned()
                        .unwrap_or_default();
                    task.status(&format!("tagging {rid}"));
                    let (untag, tag) =
                        tag_requests(c, &arn, &tags_of(&prior.props), &tags_of(&r.props));
                    if let Some(req) = untag {
                        req.send()
                            .await
                            .map_err(aws("application-autoscaling:UntagResource"))?;
                    }
                    if let Some(req) = tag {
                        req.send()
                            .await
                            .map_err(aws("application-autoscaling:TagResource"))?;
                    }
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
                    Err(e) if !already_gone(&e) => Err(e),
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
                    Err(e) if !already_gone(&e) => Err(e),
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
