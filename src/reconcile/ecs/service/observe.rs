//! Observe for the service: its normalisation into [`ServiceProps`] (pure) and the reads.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{DeploymentRolloutState, Service, ServiceField};

use super::super::{cluster_id, service_id, tag_int, task_definition_id, visible_tags};
use super::{
    AdvancedProps, CanaryProps, CircuitBreakerProps, LoadBalancerProps, ServiceProps,
    ROLLOUT_COMPLETED, STRATEGY_CANARY, STRATEGY_ROLLING, TAG_STABLE_TIMEOUT,
};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId, Value};
use crate::reconcile::kit::{self, found, refs_in, to_props, Link};
use crate::reconcile::Ctx;

/// `arn:aws:ecs:…:cluster/NAME` → `NAME`.
fn cluster_of(s: &Service) -> String {
    s.cluster_arn()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default()
}

pub fn attrs(s: &Service) -> Attrs {
    let mut a = Attrs::new();
    let arn = s.service_arn().unwrap_or_default().to_string();
    a.insert("id".into(), arn.clone());
    a.insert("arn".into(), arn);
    a.insert(
        "name".into(),
        s.service_name().unwrap_or_default().to_string(),
    );
    a.insert("cluster".into(), cluster_of(s));
    a
}

/// The PRIMARY deployment's rollout state, as the `rollout` property shows it (pure):
/// `COMPLETED` when ECS reports none (or no deployment at all).
pub fn rollout_state(s: &Service) -> String {
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    match primary.and_then(|d| d.rollout_state()) {
        None | Some(DeploymentRolloutState::Completed) => ROLLOUT_COMPLETED.to_string(),
        Some(r) => r.as_str().to_string(),
    }
}

/// A live service → `Observed` (pure). `subnet_rids` maps its subnet ids to our subnets'
/// rtech ids, so the list follows the spec's order (AWS does not promise one).
pub fn observe_service(
    s: &Service,
    tags: &BTreeMap<String, String>,
    subnet_rids: &BTreeMap<String, ResourceId>,
    desired: Option<&Resource>,
) -> Observed {
    let mut o = Observed::new(service_id(), s.service_arn().unwrap_or_default());
    o.attrs = attrs(s);
    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let order = refs_in(desired, "subnets");
    let mut subnets: Vec<&str> = vpc
        .map(|v| v.subnets().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let rank = |id: &str| {
        let r = subnet_rids.get(id);
        (
            r.and_then(|r| order.iter().position(|x| x == r))
                .unwrap_or(usize::MAX),
            id.to_string(),
        )
    };
    subnets.sort_by_key(|id| rank(id));
    for id in &subnets {
        if let Some(r) = subnet_rids.get(*id) {
            o.deps.insert(r.clone());
        }
    }
    let mut sgs: Vec<&str> = vpc
        .map(|v| v.security_groups().iter().map(String::as_str).collect())
        .unwrap_or_default();
    sgs.sort();
    let mut lbs: Vec<LoadBalancerProps> = s
        .load_balancers()
        .iter()
        .map(|lb| LoadBalancerProps {
            target_group_arn: lb.target_group_arn().map(Link::from),
            load_balancer_name: lb.load_balancer_name().map(str::to_string),
            container_name: lb.container_name().map(str::to_string),
            container_port: lb.container_port().map(i64::from),
            advanced: lb.advanced_configuration().map(|a| AdvancedProps {
                alternate_target_group_arn: Link::from(
                    a.alternate_target_group_arn().unwrap_or_default(),
                ),
                production_listener_rule: Link::from(
                    a.production_listener_rule().unwrap_or_default(),
                ),
                role_arn: Link::from(a.role_arn().unwrap_or_default()),
            }),
        })
        .collect();
    lbs.sort_by_key(|lb| Value::Map(to_props(lb)).to_string());
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    let strategy = dc
        .and_then(|d| d.strategy())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| STRATEGY_ROLLING.to_string());
    let shifts = strategy != STRATEGY_ROLLING;
    let alarms = dc
        .and_then(|d| d.alarms())
        .filter(|a| a.enable() && a.rollback())
        .map(|a| a.alarm_names().to_vec())
        .unwrap_or_default();
    let p = ServiceProps {
        cluster: Link::from(cluster_of(s)),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        task_definition: s.task_definition().map(Link::from),
        desired_count: Some(i64::from(s.desired_count())),
        subnets: subnets.into_iter().map(Link::from).collect(),
        security_groups: sgs.into_iter().map(Link::from).collect(),
        assign_public_ip: vpc
            .and_then(|v| v.assign_public_ip())
            .map(|a| a.as_str())
            .unwrap_or("DISABLED")
            .to_string(),
        load_balancers: lbs,
        health_check_grace_period_seconds: i64::from(
            s.health_check_grace_period_seconds().unwrap_or(0),
        ),
        deployment_circuit_breaker: CircuitBreakerProps {
            enable: cb.is_some_and(|c| c.enable()),
            rollback: cb.is_some_and(|c| c.rollback()),
        },
        minimum_healthy_percent: dc.and_then(|d| d.minimum_healthy_percent()).map(i64::from),
        maximum_percent: dc.and_then(|d| d.maximum_percent()).map(i64::from),
        // What a strategy does not use is not compared (AWS may report defaults there).
        canary: dc
            .and_then(|d| d.canary_configuration())
            .filter(|_| strategy == STRATEGY_CANARY)
            .map(|c| CanaryProps {
                percent: c.canary_percent().unwrap_or(0.0).round() as i64,
                bake_minutes: i64::from(c.canary_bake_time_in_minutes().unwrap_or(0)),
            }),
        bake_minutes: dc
            .and_then(|d| d.bake_time_in_minutes())
            .filter(|_| shifts)
            .map(i64::from),
        rollback_alarms: alarms,
        strategy,
        stable_timeout_seconds: tag_int(tags, TAG_STABLE_TIMEOUT),
        rollout: rollout_state(s),
        tags: visible_tags(tags),
    };
    o.props = to_props(&p);

    // Deleted before its cluster, task definition, target group and network.
    o.deps.insert(cluster_id());
    o.deps.insert(task_definition_id());
    o.deps.insert(ResourceId::new("target_group", "blue"));
    // Canary and blue/green: its alternate target group, production rule and ECS's role.
    o.deps.insert(ResourceId::new("target_group", "green"));
    o.deps
        .insert(crate::reconcile::elb::listener_rule::production_rule_id());
    o.deps.insert(crate::reconcile::iam::role_id(
        crate::reconcile::iam::INFRASTRUCTURE,
    ));
    o.deps.insert(ResourceId::new("sg", "app"));
    o
}

// ---------------------------------------------------------------------------------------------
// reads

/// The service of that name in the cluster, whatever its status (None when the cluster or
/// the service does not exist).
pub(in crate::reconcile::ecs) async fn describe(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
) -> Result<Option<Service>, AwsError> {
    let r = ctx
        .clients
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(aws("ecs:DescribeServices"));
    Ok(found(r)?.and_then(|out| {
        out.services()
            .iter()
            .find(|s| s.service_name() == Some(name))
            .cloned()
    }))
}

/// The task definition the live (ACTIVE) service runs.
pub(in crate::reconcile::ecs) async fn current_task_definition(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    Ok(describe(ctx, cluster, name)
        .await?
        .filter(|s| s.status() == Some("ACTIVE"))
        .and_then(|s| s.task_definition().map(str::to_string)))
}

/// Subnet id → rtech id of the service's subnets that are ours (`kit::subnet_rids`: the tag
/// index, a DescribeSubnets only for subnets it does not list).
pub(in crate::reconcile::ecs) async fn subnet_rids(
    ctx: &Ctx,
    s: &Service,
) -> Result<BTreeMap<String, ResourceId>, AwsError> {
    let ids: Vec<String> = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(|v| v.subnets().to_vec())
        .unwrap_or_default();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    kit::subnet_rids(ctx, &ids).await
}
