//! `scalable_target/app`: the ECS service's DesiredCount between the spec's min and max.
//! - replaced: service_namespace, scalable_dimension, resource_id or service_arn (a replaced
//!   service takes its scalable target with it).
//! - updated in place: min/max (RegisterScalableTarget again), tags (TagResource /
//!   UntagResource on its ScalableTargetARN).
//! - tags are sent with RegisterScalableTarget on create and observed as they are (AWS's own
//!   `aws:` tags left out), so tag drift shows and is repaired in place, and spec tag changes
//!   reach the target.
//! - deleted with DeregisterScalableTarget, which deletes its scaling policies too.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::builders::RegisterScalableTargetFluentBuilder;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_applicationautoscaling::Client;
use serde::{Deserialize, Serialize};

use super::{ecs_service, resource_id, ScalingTags, DIMENSION, NAMESPACE};
use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, sync_tags, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::app::Scaling as ScalingSpec;
use crate::spec::Spec;

pub const SCALABLE_TARGET: &str = "scalable_target";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    SCALABLE_TARGET,
    &[
        "service_namespace",
        "scalable_dimension",
        "resource_id",
        "service_arn",
    ],
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalableTargetProps {
    pub service_namespace: String,
    pub scalable_dimension: String,
    pub resource_id: String,
    pub min_capacity: i64,
    pub max_capacity: i64,
    pub tags: BTreeMap<String, String>,
    /// The ECS service's ARN while it is ACTIVE (null: no live service).
    pub service_arn: Option<Link>,
}

pub fn target_id() -> ResourceId {
    ResourceId::new(SCALABLE_TARGET, "app")
}

/// The target (pure; the caller checks `[app.scaling]`).
pub fn expand_target(spec: &Spec, s: &ScalingSpec) -> Resource {
    let rid = resource_id(&spec.project, &spec.env);
    let id = target_id();
    let props = ScalableTargetProps {
        service_namespace: NAMESPACE.into(),
        scalable_dimension: DIMENSION.into(),
        resource_id: rid.clone(),
        min_capacity: s.min,
        max_capacity: s.max,
        tags: tags_for(&spec.project, &spec.env, &id, &rid, &spec.tags),
        service_arn: Some(Link::to(&ecs_service(), "arn")),
    };
    to_props(&props)
        .into_iter()
        .fold(Resource::new(id, &rid), |r, (k, v)| r.prop(&k, v))
        .dep(&ecs_service())
}

/// The target's `arn` attribute, which its policies refer to: the ScalableTargetARN (new on
/// every registration), else (an endpoint that leaves it out) the resource id.
pub fn target_arn(t: &ScalableTarget) -> &str {
    t.scalable_target_arn().unwrap_or(t.resource_id())
}

/// A live scalable target → `Observed` (pure). `tags`: its live tags; `service_arn`: the live
/// ACTIVE ECS service's ARN.
pub fn observe_target(
    t: &ScalableTarget,
    tags: BTreeMap<String, String>,
    service_arn: Option<&str>,
) -> Observed {
    let props = ScalableTargetProps {
        service_namespace: t.service_namespace().as_str().to_string(),
        scalable_dimension: t.scalable_dimension().as_str().to_string(),
        resource_id: t.resource_id().to_string(),
        min_capacity: t.min_capacity() as i64,
        max_capacity: t.max_capacity() as i64,
        tags,
        service_arn: service_arn.map(Link::from),
    };
    Observed::new(target_id(), t.resource_id())
        .dep(&ecs_service())
        .with_props(to_props(&props))
        .attr("resource_id", t.resource_id())
        .attr("arn", target_arn(t))
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

/// RegisterScalableTarget creates and updates; tags only on create (later changes go through
/// the tag API).
pub fn register_request(
    c: &Client,
    p: &ScalableTargetProps,
    create: bool,
) -> RegisterScalableTargetFluentBuilder {
    let tags = (create && !p.tags.is_empty()).then(|| p.tags.clone().into_iter().collect());
    c.register_scalable_target()
        .service_namespace(ServiceNamespace::from(p.service_namespace.as_str()))
        .scalable_dimension(ScalableDimension::from(p.scalable_dimension.as_str()))
        .resource_id(&p.resource_id)
        .min_capacity(p.min_capacity as i32)
        .max_capacity(p.max_capacity as i32)
        .set_tags(tags)
}

/// What an in-place update of the target calls (pure): RegisterScalableTarget when anything
/// but the tags changed, and the tag API when the tags did.
pub fn target_update_calls(changed: &BTreeSet<String>) -> (bool, bool) {
    let register = changed.iter().any(|k| k != "tags");
    let retag = changed.contains("tags");
    (register, retag)
}

// ---------------------------------------------------------------------------------------------
// apply

pub struct ScalableTargetKind;

#[async_trait]
impl Kind for ScalableTargetKind {
    crate::typed_kind!(SCHEMA, ScalableTargetProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        register(ctx, &from_props(&r.props)?, true, task).await
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior) = (u.desired, u.prior);
        let p: ScalableTargetProps = from_props(&desired.props)?;
        let (register_again, retag) = target_update_calls(u.changed);
        let a = if register_again {
            register(ctx, &p, false, task).await?
        } else {
            target_attrs(&p.resource_id)
        };
        if retag {
            let before = from_props::<ScalableTargetProps>(&prior.props)?;
            let arn = a
                .get("arn")
                .or_else(|| prior.attrs.get("arn"))
                .cloned()
                .unwrap_or_default();
            task.status(&format!("tagging {}", p.resource_id));
            sync_tags(
                &ScalingTags(&ctx.clients.autoscaling),
                &arn,
                &before.tags,
                &p.tags,
            )
            .await?;
        }
        Ok(a)
    }

    /// Deregister the target (AWS deletes its policies with it); one already gone is done.
    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let p = from_props::<ScalableTargetProps>(&o.props)?;
        gone_ok(
            ctx.clients
                .autoscaling
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::from(p.service_namespace.as_str()))
                .scalable_dimension(ScalableDimension::from(p.scalable_dimension.as_str()))
                .resource_id(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("application-autoscaling:DeregisterScalableTarget")),
        )
    }
}

/// The target's attributes: its resource id (as `id` too).
fn target_attrs(rid: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), rid.to_string());
    a.insert("resource_id".into(), rid.to_string());
    a
}

/// RegisterScalableTarget (tags only with `create`); the target's attributes, with the ARN
/// AWS answers with.
async fn register(
    ctx: &Ctx,
    p: &ScalableTargetProps,
    create: bool,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let mut a = target_attrs(&p.resource_id);
    task.status(&format!(
        "registering {} ({}..={} tasks)",
        p.resource_id, p.min_capacity, p.max_capacity
    ));
    let out = register_request(&ctx.clients.autoscaling, p, create)
        .send()
        .await
        .map_err(aws("application-autoscaling:RegisterScalableTarget"))?;
    if let Some(arn) = out.scalable_target_arn() {
        a.insert("arn".into(), arn.to_string());
    }
    Ok(a)
}
