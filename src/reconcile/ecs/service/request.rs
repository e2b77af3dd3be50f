//! CreateService and UpdateService, built from [`ServiceProps`] apart from sending (so that
//! they are unit-tested).

use std::collections::BTreeSet;

use aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, AssignPublicIp, AwsVpcConfiguration, CanaryConfiguration,
    DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentStrategy,
    LaunchType, LoadBalancer, NetworkConfiguration,
};
use aws_sdk_ecs::Client;

use super::super::ecs_tags;
use super::{known, service_tags, ServiceProps};
use crate::aws::AwsError;
use crate::model::{Observed, Resource};
use crate::reconcile::kit::{from_props, Link};

fn links(l: &[Link], field: &str) -> Result<Vec<String>, AwsError> {
    l.iter()
        .map(|l| known(l, field).map(str::to_string))
        .collect()
}

fn network(p: &ServiceProps) -> Result<NetworkConfiguration, AwsError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(links(&p.subnets, "subnets")?))
        .set_security_groups(Some(links(&p.security_groups, "security_groups")?))
        .assign_public_ip(AssignPublicIp::from(p.assign_public_ip.as_str()))
        .build()
        .map_err(|e| AwsError::new("rtech", "InvalidService", e.to_string()))?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

fn load_balancers(p: &ServiceProps) -> Result<Vec<LoadBalancer>, AwsError> {
    p.load_balancers
        .iter()
        .map(|lb| {
            let tg = match &lb.target_group_arn {
                Some(l) => Some(known(l, "load_balancers.target_group_arn")?.to_string()),
                None => None,
            };
            let advanced = match &lb.advanced {
                Some(a) => Some(
                    AdvancedConfiguration::builder()
                        .alternate_target_group_arn(known(
                            &a.alternate_target_group_arn,
                            "load_balancers.advanced.alternate_target_group_arn",
                        )?)
                        .production_listener_rule(known(
                            &a.production_listener_rule,
                            "load_balancers.advanced.production_listener_rule",
                        )?)
                        .role_arn(known(&a.role_arn, "load_balancers.advanced.role_arn")?)
                        .build(),
                ),
                None => None,
            };
            Ok(LoadBalancer::builder()
                .set_target_group_arn(tg)
                .set_container_name(lb.container_name.clone())
                .set_container_port(lb.container_port.map(|n| n as i32))
                .set_advanced_configuration(advanced)
                .build())
        })
        .collect()
}

/// The whole deployment configuration (UpdateService replaces it as a whole): circuit
/// breaker, percents, strategy with its canary and bake settings, and the rollback alarms.
pub fn deployment_configuration(p: &ServiceProps) -> DeploymentConfiguration {
    let alarms = (!p.rollback_alarms.is_empty()).then(|| {
        DeploymentAlarms::builder()
            .set_alarm_names(Some(p.rollback_alarms.clone()))
            .enable(true)
            .rollback(true)
            .build()
            .expect("names, enable and rollback are all set")
    });
    DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::from(p.strategy.as_str()))
        .set_canary_configuration(p.canary.as_ref().map(|c| {
            CanaryConfiguration::builder()
                .canary_percent(c.percent as f64)
                .canary_bake_time_in_minutes(c.bake_minutes as i32)
                .build()
        }))
        .set_bake_time_in_minutes(p.bake_minutes.map(|n| n as i32))
        .set_alarms(alarms)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(p.deployment_circuit_breaker.enable)
                .rollback(p.deployment_circuit_breaker.rollback)
                .build(),
        )
        .set_minimum_healthy_percent(p.minimum_healthy_percent.map(|n| n as i32))
        .set_maximum_percent(p.maximum_percent.map(|n| n as i32))
        .build()
}

fn desired_count(p: &ServiceProps) -> i32 {
    p.desired_count.unwrap_or(1) as i32
}

fn grace(p: &ServiceProps) -> i32 {
    p.health_check_grace_period_seconds as i32
}

/// A CreateService client token (≤ 36 printable ASCII characters, as ECS allows): `rtech-`
/// and a hash of the cluster, the service name, the request and `nonce`. The SDK retries the
/// request it was given, token included, so a create that succeeded but timed out is not
/// repeated. `nonce` is fixed per rtech process (`run_nonce`): a later apply that creates the
/// same service again (after a delete) sends another token, never one ECS may still hold
/// for the service it deleted.
pub fn client_token(cluster: &str, name: &str, request: &str, nonce: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [cluster, name, request, &nonce.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("rtech-{}", &hex[..30])
}

/// One value per rtech process (its start time and pid): see `client_token`.
fn run_nonce() -> u64 {
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NONCE.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        t ^ (u64::from(std::process::id()) << 32)
    })
}

pub fn create_request(c: &Client, r: &Resource) -> Result<CreateServiceFluentBuilder, AwsError> {
    let p: ServiceProps = from_props(&r.props)?;
    let cluster = known(&p.cluster, "cluster")?;
    let td = match &p.task_definition {
        Some(l) => Some(known(l, "task_definition")?.to_string()),
        None => None,
    };
    let req = c
        .create_service()
        .cluster(cluster)
        .service_name(&r.name)
        .set_task_definition(td)
        .desired_count(desired_count(&p))
        .launch_type(LaunchType::from(
            p.launch_type.as_deref().unwrap_or("FARGATE"),
        ))
        .network_configuration(network(&p)?)
        .set_load_balancers(Some(load_balancers(&p)?))
        .health_check_grace_period_seconds(grace(&p))
        .deployment_configuration(deployment_configuration(&p))
        .set_tags(Some(ecs_tags(&service_tags(&p))));
    let token = client_token(
        cluster,
        &r.name,
        &format!("{:?}", req.as_input()),
        run_nonce(),
    );
    Ok(req.client_token(token))
}

/// UpdateService for the changed fields (None when nothing is changed through it).
pub fn update_request(
    c: &Client,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Option<UpdateServiceFluentBuilder>, AwsError> {
    let p: ServiceProps = from_props(&r.props)?;
    let before: ServiceProps = from_props(&prior.props)?;
    let has = |k: &str| changed.contains(k);
    let cluster = match prior.attrs.get("cluster") {
        Some(c) => c.as_str(),
        None => known(&p.cluster, "cluster")?,
    };
    let mut req = c.update_service().cluster(cluster).service(&r.name);
    let mut any = false;
    // A tags-only update of the task definition leaves its ARN as it was: nothing to deploy.
    let td = p.task_definition.as_ref().and_then(Link::known);
    let was = before.task_definition.as_ref().and_then(Link::known);
    if has("task_definition") && td.is_some() && td != was {
        req = req.set_task_definition(td.map(str::to_string));
        any = true;
    }
    if has("desired_count") {
        req = req.desired_count(desired_count(&p));
        any = true;
    }
    if has("subnets") || has("security_groups") || has("assign_public_ip") {
        req = req.network_configuration(network(&p)?);
        any = true;
    }
    if has("load_balancers") {
        req = req.set_load_balancers(Some(load_balancers(&p)?));
        any = true;
    }
    if has("health_check_grace_period_seconds") {
        req = req.health_check_grace_period_seconds(grace(&p));
        any = true;
    }
    if [
        "deployment_circuit_breaker",
        "minimum_healthy_percent",
        "maximum_percent",
        "strategy",
        "canary",
        "bake_minutes",
        "rollback_alarms",
    ]
    .iter()
    .any(|k| has(k))
    {
        req = req.deployment_configuration(deployment_configuration(&p));
        any = true;
    }
    Ok(any.then_some(req))
}
