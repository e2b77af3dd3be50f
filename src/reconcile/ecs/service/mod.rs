//! `ecs_service/app`: the Fargate service, its rollout and the wait until it is stable.
//!
//! CreateService carries a client token (`client_token`: a hash of the request and of the
//! rtech run), so the SDK's retry of a create that timed out but succeeded is idempotent,
//! while a later run that creates the service again after a delete sends another token.
//! The wait after a change ends on the services-stable waiter or, sooner, on the 20 s watch
//! beside it (`is_stable`, or a failed / rolled-back deployment). The waiter looks at counts
//! only, so when it ends first the wait goes on until the PRIMARY deployment's rollout is no
//! longer IN_PROGRESS (`rollout_state`), still within the same time limit: apply → plan stays
//! empty. A deleted service is waited for until it is INACTIVE or MISSING (`wait::wait_inactive`).
//!
//! The rollout is a property: observe reports the PRIMARY deployment's `rolloutState` as
//! `rollout` (`COMPLETED`, `IN_PROGRESS`, `FAILED`; none reported reads COMPLETED), and the
//! desired service wants `COMPLETED`. A rollout left unfinished (an apply interrupted or timed
//! out while it waited) is therefore an update of `rollout` alone in the next plan, whose apply
//! sends nothing and waits the same way (`wait_rollout`); a FAILED rollout fails that apply
//! with the deployment and the service's events — rtech does not start another deployment by
//! itself. On a create the field is part of the create, whose wait covers it anyway. There is
//! no `settle` for the service: the engine settles a reference only when its attribute is
//! missing, and the service's (`arn`, `name`) are known whatever its rollout; a dependant (the
//! scalable target) runs after the service's `rollout` update in the same plan.

//! Files: the props and the kind here; observe's normalisation and reads in `observe.rs`; the
//! CreateService / UpdateService requests in `request.rs`; the waits and the reports of a
//! failed deployment in `wait.rs`.

mod observe;
mod request;
mod wait;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::Service;
use serde::{Deserialize, Serialize};

use super::{
    all_tags, cluster_id, service_id, sync_tags, task_definition_id, while_role_propagates,
    CONTAINER, SERVICE, TAG_STABLE_TIMEOUT,
};
use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, subnet_links, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::app::{App, Strategy};
use crate::spec::Spec;

#[cfg(test)]
pub use observe::rollout_state;
pub use observe::{attrs, observe_service};
pub(super) use observe::{current_task_definition, describe, subnet_rids};
#[cfg(test)]
pub use request::client_token;
pub use request::{create_request, update_request};
#[cfg(test)]
pub use wait::{
    deployment_failure, inactive_or_gone, is_stable, latest_events, rollout_check, RolloutCheck,
};

/// When the service has no `rtech:stable-timeout` tag (and the spec's default).
const DEFAULT_STABLE_TIMEOUT: u64 = 900;

/// The `rollout` property's values (the PRIMARY deployment's `rolloutState`).
pub const ROLLOUT_COMPLETED: &str = "COMPLETED";
pub const ROLLOUT_IN_PROGRESS: &str = "IN_PROGRESS";
pub const ROLLOUT_FAILED: &str = "FAILED";

/// ECS's deployment strategies, as `deploymentConfiguration.strategy` spells them.
pub const STRATEGY_ROLLING: &str = "ROLLING";
pub const STRATEGY_CANARY: &str = "CANARY";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProps {
    pub cluster: Link,
    pub launch_type: Option<String>,
    pub task_definition: Option<Link>,
    /// Late-initialised with `[app.scaling]` (the scaler owns the count inside its range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i64>,
    pub subnets: Vec<Link>,
    pub security_groups: Vec<Link>,
    pub assign_public_ip: String,
    pub load_balancers: Vec<LoadBalancerProps>,
    pub health_check_grace_period_seconds: i64,
    pub deployment_circuit_breaker: CircuitBreakerProps,
    pub minimum_healthy_percent: Option<i64>,
    pub maximum_percent: Option<i64>,
    /// ECS's deployment strategy: `ROLLING` (also what a service without one reads as),
    /// `CANARY` or `BLUE_GREEN`.
    pub strategy: String,
    /// CANARY only: the share the new revision gets first and for how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryProps>,
    /// CANARY and BLUE_GREEN: minutes both revisions stay up after the shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_minutes: Option<i64>,
    /// CloudWatch alarm names whose ALARM state rolls a deployment back (enabled, rollback on);
    /// none: no deployment alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback_alarms: Vec<String>,
    /// Kept in the `rtech:stable-timeout` tag.
    pub stable_timeout_seconds: Option<i64>,
    /// The PRIMARY deployment's rollout state; the spec wants COMPLETED (module docs).
    pub rollout: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerProps {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i64>,
    /// ECS's blue/green wiring of the load balancer (canary and blue/green strategies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedProps>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvancedProps {
    pub alternate_target_group_arn: Link,
    pub production_listener_rule: Link,
    pub role_arn: Link,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryProps {
    pub percent: i64,
    pub bake_minutes: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerProps {
    pub enable: bool,
    pub rollback: bool,
}

pub static SCHEMA: KindSchema = KindSchema {
    kind: SERVICE,
    // UpdateService changes everything else in place.
    force_new: &["cluster", "launch_type"],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

pub struct EcsService;

#[async_trait]
impl Kind for EcsService {
    crate::typed_kind!(SCHEMA, ServiceProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let ecs = &ctx.clients.ecs;
        let p: ServiceProps = from_props(&r.props)?;
        let cluster = known(&p.cluster, "cluster")?;
        let limit = timeout(p.stable_timeout_seconds);
        // A deleted service of the same name may still be draining: it holds the name.
        if let Some(s) = describe(ctx, cluster, &r.name).await? {
            if s.status() == Some("DRAINING") {
                task.status(&format!(
                    "waiting for the previous service {} to finish draining",
                    r.name
                ));
                wait::wait_inactive(ctx, cluster, &r.name, limit, task).await?;
            }
        }
        task.status(&format!("creating service {}", r.name));
        let req = create_request(ecs, r)?;
        while_role_propagates(task, || async {
            req.clone().send().await.map_err(aws("ecs:CreateService"))
        })
        .await?;
        let s: Service =
            wait::wait_stable(ctx, cluster, &r.name, want_td(&p)?, limit, task).await?;
        Ok(attrs(&s))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior, changed) = (u.desired, u.prior, u.changed);
        let ecs = &ctx.clients.ecs;
        let p: ServiceProps = from_props(&desired.props)?;
        let cluster = match prior.attrs.get("cluster") {
            Some(c) => c.clone(),
            None => known(&p.cluster, "cluster")?.to_string(),
        };
        let limit = timeout(p.stable_timeout_seconds);
        if let Some(req) = update_request(ecs, desired, prior, changed)? {
            task.status(&format!("updating service {}", desired.name));
            while_role_propagates(task, || async {
                req.clone().send().await.map_err(aws("ecs:UpdateService"))
            })
            .await?;
            if ctx.deploy_followed {
                task.status(&format!("service {} is deploying", desired.name));
            } else {
                wait::wait_stable(ctx, &cluster, &desired.name, want_td(&p)?, limit, task).await?;
            }
        } else if changed.contains("rollout") && !ctx.deploy_followed {
            // Only the rollout differs: nothing to send, the unfinished rollout to wait for.
            wait::wait_rollout(ctx, &cluster, &desired.name, want_td(&p)?, limit, task).await?;
        }
        if changed.contains("tags") || changed.contains("stable_timeout_seconds") {
            let before: ServiceProps = from_props(&prior.props)?;
            sync_tags(
                ctx,
                &prior.physical_id,
                &service_tags(&before),
                &service_tags(&p),
            )
            .await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let ecs = &ctx.clients.ecs;
        let cluster = o.attrs.get("cluster").cloned().unwrap_or_default();
        let name = o.attrs.get("name").cloned().unwrap_or_default();
        let limit = timeout(
            from_props::<ServiceProps>(&o.props)
                .ok()
                .and_then(|p| p.stable_timeout_seconds),
        );
        task.status(&format!("scaling service {name} to 0 and deleting it"));
        // Already gone or inactive: nothing left to wait for.
        let gone = |r: Result<(), AwsError>| match r {
            Err(e) if e.is_not_found() || e.is("ServiceNotActiveException") => Ok(true),
            other => other.map(|_| false),
        };
        let scaled = ecs
            .update_service()
            .cluster(&cluster)
            .service(&name)
            .desired_count(0)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ecs:UpdateService"));
        if gone(scaled)? {
            return Ok(());
        }
        let deleted = ecs
            .delete_service()
            .cluster(&cluster)
            .service(&name)
            .force(true)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ecs:DeleteService"));
        if gone(deleted)? {
            return Ok(());
        }
        wait::wait_inactive(ctx, &cluster, &name, limit, task).await
    }
}

pub(super) fn expand(spec: &Spec, app: &App) -> Resource {
    let id = service_id();
    let deploy = &app.deploy;
    // ECS shifts traffic between two target groups only behind the edge's listener rule.
    let shifts = deploy.strategy.shifts_traffic() && spec.edge.is_some();
    let name = spec.name("app");
    let props = ServiceProps {
        cluster: Link::to(&cluster_id(), "name"),
        launch_type: Some("FARGATE".into()),
        task_definition: Some(Link::to(&task_definition_id(), "arn")),
        desired_count: app.scaling.is_none().then_some(app.desired_count),
        subnets: subnet_links(spec, "private")
            .into_iter()
            .map(|(_, l)| l)
            .collect(),
        security_groups: vec![Link::to(&ResourceId::new("sg", "app"), "id")],
        assign_public_ip: "DISABLED".into(),
        load_balancers: vec![LoadBalancerProps {
            target_group_arn: Some(Link::to(&ResourceId::new("target_group", "blue"), "arn")),
            load_balancer_name: None,
            container_name: Some(CONTAINER.into()),
            container_port: Some(app.port),
            advanced: shifts.then(|| AdvancedProps {
                alternate_target_group_arn: Link::to(
                    &ResourceId::new("target_group", "green"),
                    "arn",
                ),
                production_listener_rule: Link::to(
                    &crate::reconcile::elb::listener_rule::production_rule_id(),
                    "arn",
                ),
                role_arn: Link::to(
                    &crate::reconcile::iam::role_id(crate::reconcile::iam::INFRASTRUCTURE),
                    "arn",
                ),
            }),
        }],
        health_check_grace_period_seconds: app.health_check_grace_seconds,
        deployment_circuit_breaker: CircuitBreakerProps {
            enable: true,
            rollback: true,
        },
        minimum_healthy_percent: Some(100),
        maximum_percent: Some(200),
        strategy: deploy.strategy.ecs().into(),
        canary: (deploy.strategy == Strategy::Canary).then_some(CanaryProps {
            percent: deploy.canary_percent,
            bake_minutes: deploy.canary_bake_minutes,
        }),
        bake_minutes: shifts.then_some(deploy.bake_minutes),
        rollback_alarms: deploy
            .rollback_alarms
            .iter()
            .map(|n| crate::reconcile::alarms::alarm_name(&spec.project, &spec.env, n))
            .collect(),
        stable_timeout_seconds: Some(app.stable_timeout_seconds),
        // An unfinished rollout of a live service is an update (module docs).
        rollout: ROLLOUT_COMPLETED.into(),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    let mut r = Resource::new(id, &name).with_props(to_props(&props));
    // The tasks read MONGODB_URI from the secret: it must hold the URI before they start.
    if spec.docdb.is_some() {
        r = r.dep(&ResourceId::new(
            crate::reconcile::secrets::CONNECTION,
            "docdb",
        ));
    }
    // AWS refuses CreateService with a target group that no load balancer listener forwards
    // to: with the edge, the service comes after the HTTPS listener (and is deleted before it).
    if spec.edge.is_some() {
        r = r.dep(&crate::reconcile::elb::alb::listener_id("https"));
    }
    // With CloudFront the listener's default is a fixed 403: the production rule forwards.
    if spec.edge.as_ref().is_some_and(|e| e.cloudfront.is_some()) {
        r = r.dep(&crate::reconcile::elb::listener_rule::production_rule_id());
    }
    match &app.scaling {
        // The scaler owns the count inside [min, max] (never drift there); outside, the
        // nearest bound.
        Some(s) => r.late_clamped("desired_count", app.desired_count, s.min, s.max),
        None => r,
    }
}

fn timeout(v: Option<i64>) -> Duration {
    Duration::from_secs(
        v.filter(|n| *n > 0)
            .map(|n| n as u64)
            .unwrap_or(DEFAULT_STABLE_TIMEOUT),
    )
}

/// The tags the service carries: its `tags` property and `stable_timeout_seconds`.
fn service_tags(p: &ServiceProps) -> BTreeMap<String, String> {
    all_tags(&p.tags, &[(TAG_STABLE_TIMEOUT, p.stable_timeout_seconds)])
}

fn known<'a>(l: &'a Link, field: &str) -> Result<&'a str, AwsError> {
    Ok(l.require(field)?)
}

/// The task definition the desired service runs (resolved).
fn want_td(p: &ServiceProps) -> Result<&str, AwsError> {
    match &p.task_definition {
        Some(l) => known(l, "task_definition"),
        None => Ok(""),
    }
}
