//! `ecs_service/app`: the Fargate service, its rollout and the wait until it is stable.
//!
//! CreateService carries a client token (`client_token`: a hash of the request and of the
//! rtech run), so the SDK's retry of a create that timed out but succeeded is idempotent,
//! while a later run that creates the service again after a delete sends another token.
//! The wait after a change ends on the services-stable waiter or, sooner, on the 20 s watch
//! beside it (`is_stable`, or a failed / rolled-back deployment). The waiter looks at counts
//! only, so when it ends first the wait goes on until the PRIMARY deployment's rollout is no
//! longer IN_PROGRESS (`rollout_state`), still within the same time limit: apply → plan stays
//! empty. A deleted service is waited for until it is INACTIVE or MISSING (`wait_inactive`).
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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, LaunchType, LoadBalancer, NetworkConfiguration, Service, ServiceField,
};
use aws_sdk_ecs::Client;
use aws_smithy_types::date_time::Format;

use super::{
    cluster_id, desired_tags, ecs_tags, int, prior_tags, service_id, string_list, sync_tags,
    task_definition_id, visible_tags, waited, while_role_propagates, CONTAINER, TAG_STABLE_TIMEOUT,
};
use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId, Value};
use crate::progress::Task;
use crate::reconcile::{Ctx, Op};
use crate::spec::app::App;
use crate::spec::network::Network as NetSpec;
use crate::spec::Spec;

/// Properties that live in tags, not in the service.
const TAG_PROPS: &[(&str, &str)] = &[(TAG_STABLE_TIMEOUT, "stable_timeout_seconds")];
/// When the service has no `rtech:stable-timeout` tag (and the spec's default).
const DEFAULT_STABLE_TIMEOUT: u64 = 900;
/// How often the wait looks at the rollout besides the waiter (progress, early failure).
const WATCH_EVERY: Duration = Duration::from_secs(20);
/// Events shown with a failed deployment.
const EVENTS_SHOWN: usize = 5;

/// The `rollout` property's values (the PRIMARY deployment's `rolloutState`).
pub const ROLLOUT_COMPLETED: &str = "COMPLETED";
pub const ROLLOUT_IN_PROGRESS: &str = "IN_PROGRESS";
pub const ROLLOUT_FAILED: &str = "FAILED";

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub(super) fn expand(spec: &Spec, app: &App) -> Resource {
    let id = service_id();
    let name = spec.name("app");
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    let subnets: Vec<Value> = spec
        .network
        .azs
        .iter()
        .map(|az| {
            let s = ResourceId::new("subnet", format!("private-{}", NetSpec::az_suffix(az)));
            Value::reference(&s, "id")
        })
        .collect();
    let mut r = Resource::new(id, &name)
        .prop("cluster", Value::reference(&cluster_id(), "name"))
        .prop("launch_type", Value::str("FARGATE"))
        .prop(
            "task_definition",
            Value::reference(&task_definition_id(), "arn"),
        )
        .prop("subnets", Value::List(subnets))
        .prop(
            "security_groups",
            Value::List(vec![Value::reference(&ResourceId::new("sg", "app"), "id")]),
        )
        .prop("assign_public_ip", Value::str("DISABLED"))
        .prop(
            "load_balancers",
            Value::List(vec![map([
                (
                    "target_group_arn",
                    Value::reference(&ResourceId::new("target_group", "blue"), "arn"),
                ),
                ("container_name", Value::str(CONTAINER)),
                ("container_port", Value::Int(app.port)),
            ])]),
        )
        .prop(
            "health_check_grace_period_seconds",
            Value::Int(app.health_check_grace_seconds),
        )
        .prop(
            "deployment_circuit_breaker",
            map([
                ("enable", Value::Bool(true)),
                ("rollback", Value::Bool(true)),
            ]),
        )
        .prop("minimum_healthy_percent", Value::Int(100))
        .prop("maximum_percent", Value::Int(200))
        .prop(
            "stable_timeout_seconds",
            Value::Int(app.stable_timeout_seconds),
        )
        // An unfinished rollout of a live service is an update (module docs).
        .prop("rollout", Value::str(ROLLOUT_COMPLETED))
        .prop("tags", Value::string_map(&tags));
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
    match &app.scaling {
        // The scaler owns the count inside [min, max] (never drift there); outside, the
        // nearest bound.
        Some(s) => r.late_clamped("desired_count", app.desired_count, s.min, s.max),
        None => r.prop("desired_count", Value::Int(app.desired_count)),
    }
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

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

/// The resources a desired list property refers to, in order.
fn ref_order(desired: Option<&Resource>, key: &str) -> Vec<ResourceId> {
    match desired.and_then(|d| d.props.get(key)) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Ref(r) => Some(r.resource.clone()),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// The PRIMARY deployment's rollout state, as the `rollout` property shows it (pure):
/// `COMPLETED` when ECS reports none (or no deployment at all). With the emulator switch
/// (`quirks`), an IN_PROGRESS rollout of a service that is otherwise stable (one deployment,
/// as many tasks running as desired) reads COMPLETED: moto never completes a rollout.
pub fn rollout_state(s: &Service, quirks: bool) -> String {
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    match primary.and_then(|d| d.rollout_state()) {
        None | Some(DeploymentRolloutState::Completed) => ROLLOUT_COMPLETED.to_string(),
        Some(DeploymentRolloutState::InProgress)
            if quirks && s.deployments().len() == 1 && s.running_count() == s.desired_count() =>
        {
            ROLLOUT_COMPLETED.to_string()
        }
        Some(r) => r.as_str().to_string(),
    }
}

/// A live service → `Observed` (pure). `subnet_rids` maps its subnet ids to our subnets'
/// rtech ids, so the list follows the spec's order (AWS does not promise one). `quirks`: the
/// emulator switch (`rollout_state`).
pub fn observe_service(
    s: &Service,
    tags: &BTreeMap<String, String>,
    subnet_rids: &BTreeMap<String, ResourceId>,
    desired: Option<&Resource>,
    quirks: bool,
) -> Observed {
    let mut o = Observed::new(service_id(), s.service_arn().unwrap_or_default());
    o.attrs = attrs(s);
    let set = |o: &mut Observed, k: &str, v: Value| {
        o.props.insert(k.to_string(), v);
    };
    set(&mut o, "cluster", Value::str(cluster_of(s)));
    set(
        &mut o,
        "launch_type",
        Value::opt_str(s.launch_type().map(|l| l.as_str())),
    );
    set(
        &mut o,
        "task_definition",
        Value::opt_str(s.task_definition()),
    );
    set(
        &mut o,
        "desired_count",
        Value::Int(s.desired_count() as i64),
    );

    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let order = ref_order(desired, "subnets");
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
    set(
        &mut o,
        "subnets",
        Value::List(subnets.into_iter().map(Value::str).collect()),
    );
    let mut sgs: Vec<&str> = vpc
        .map(|v| v.security_groups().iter().map(String::as_str).collect())
        .unwrap_or_default();
    sgs.sort();
    set(
        &mut o,
        "security_groups",
        Value::List(sgs.into_iter().map(Value::str).collect()),
    );
    set(
        &mut o,
        "assign_public_ip",
        Value::str(
            vpc.and_then(|v| v.assign_public_ip())
                .map(|a| a.as_str())
                .unwrap_or("DISABLED"),
        ),
    );
    let mut lbs: Vec<Value> = s
        .load_balancers()
        .iter()
        .map(|lb| {
            let mut m = BTreeMap::new();
            if let Some(tg) = lb.target_group_arn() {
                m.insert("target_group_arn".to_string(), Value::str(tg));
            }
            if let Some(n) = lb.load_balancer_name() {
                m.insert("load_balancer_name".to_string(), Value::str(n));
            }
            m.insert(
                "container_name".to_string(),
                Value::opt_str(lb.container_name()),
            );
            m.insert(
                "container_port".to_string(),
                lb.container_port()
                    .map(|p| Value::Int(p as i64))
                    .unwrap_or(Value::Null),
            );
            Value::Map(m)
        })
        .collect();
    lbs.sort_by_key(|v| v.to_string());
    set(&mut o, "load_balancers", Value::List(lbs));
    set(
        &mut o,
        "health_check_grace_period_seconds",
        Value::Int(s.health_check_grace_period_seconds().unwrap_or(0) as i64),
    );
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    set(
        &mut o,
        "deployment_circuit_breaker",
        map([
            ("enable", Value::Bool(cb.is_some_and(|c| c.enable()))),
            ("rollback", Value::Bool(cb.is_some_and(|c| c.rollback()))),
        ]),
    );
    let pct = |v: Option<i32>| v.map(|n| Value::Int(n as i64)).unwrap_or(Value::Null);
    set(
        &mut o,
        "minimum_healthy_percent",
        pct(dc.and_then(|d| d.minimum_healthy_percent())),
    );
    set(
        &mut o,
        "maximum_percent",
        pct(dc.and_then(|d| d.maximum_percent())),
    );
    set(
        &mut o,
        "stable_timeout_seconds",
        tags.get(TAG_STABLE_TIMEOUT)
            .and_then(|v| v.parse::<i64>().ok())
            .map(Value::Int)
            .unwrap_or(Value::Null),
    );
    set(&mut o, "rollout", Value::str(rollout_state(s, quirks)));
    set(&mut o, "tags", visible_tags(tags));

    // Deleted before its cluster, task definition, target group and network.
    o.deps.insert(cluster_id());
    o.deps.insert(task_definition_id());
    o.deps.insert(ResourceId::new("target_group", "blue"));
    o.deps.insert(ResourceId::new("sg", "app"));
    o
}

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

// ---------------------------------------------------------------------------------------------
// reads

/// The service of that name in the cluster, whatever its status (None when the cluster or
/// the service does not exist).
pub(super) async fn describe(
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
    match r {
        Ok(out) => Ok(out
            .services()
            .iter()
            .find(|s| s.service_name() == Some(name))
            .cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The task definition the live (ACTIVE) service runs.
pub(super) async fn current_task_definition(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
) -> Result<Option<String>, AwsError> {
    Ok(describe(ctx, cluster, name)
        .await?
        .filter(|s| s.status() == Some("ACTIVE"))
        .and_then(|s| s.task_definition().map(str::to_string)))
}

/// Subnet id → rtech id of the service's subnets that are ours (one DescribeSubnets).
pub(super) async fn subnet_rids(
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
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("subnet-id")
        .set_values(Some(ids))
        .build();
    let subnets = crate::aws::all_pages!(
        ctx.clients.ec2.describe_subnets().filters(f),
        "ec2:DescribeSubnets"
    )?;
    let mut m = BTreeMap::new();
    for sn in subnets {
        let t: BTreeMap<&str, &str> = sn
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?)))
            .collect();
        let ours = t.get(crate::model::TAG_PROJECT) == Some(&ctx.project.as_str())
            && t.get(crate::model::TAG_ENV) == Some(&ctx.env.as_str());
        if !ours {
            continue;
        }
        if let (Some(id), Some(r)) = (
            sn.subnet_id(),
            t.get(crate::model::TAG_ID).and_then(|x| x.parse().ok()),
        ) {
            m.insert(id.to_string(), r);
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (built apart from sending, so that they are unit-tested)

fn network(r: &Resource) -> Result<NetworkConfiguration, AwsError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(string_list(r.props.get("subnets"))))
        .set_security_groups(Some(string_list(r.props.get("security_groups"))))
        .assign_public_ip(AssignPublicIp::from(
            r.get_str("assign_public_ip").unwrap_or("DISABLED"),
        ))
        .build()
        .map_err(|e| AwsError::new("rtech", "InvalidService", e.to_string()))?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

fn load_balancers(r: &Resource) -> Vec<LoadBalancer> {
    match r.props.get("load_balancers") {
        Some(Value::List(l)) => l
            .iter()
            .map(|lb| {
                let m = lb.as_map();
                let get = |k: &str| m.and_then(|m| m.get(k));
                LoadBalancer::builder()
                    .set_target_group_arn(
                        get("target_group_arn")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    )
                    .set_container_name(
                        get("container_name")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    )
                    .set_container_port(
                        get("container_port")
                            .and_then(Value::as_int)
                            .map(|p| p as i32),
                    )
                    .build()
            })
            .collect(),
        _ => vec![],
    }
}

fn deployment_configuration(r: &Resource) -> DeploymentConfiguration {
    let cb = r
        .props
        .get("deployment_circuit_breaker")
        .and_then(Value::as_map);
    let flag = |k: &str| {
        cb.and_then(|m| m.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(flag("enable"))
                .rollback(flag("rollback"))
                .build(),
        )
        .set_minimum_healthy_percent(int(r, "minimum_healthy_percent").map(|n| n as i32))
        .set_maximum_percent(int(r, "maximum_percent").map(|n| n as i32))
        .build()
}

fn desired_count(r: &Resource) -> i32 {
    int(r, "desired_count").unwrap_or(1) as i32
}

fn grace(r: &Resource) -> Option<i32> {
    int(r, "health_check_grace_period_seconds").map(|n| n as i32)
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
    let req = create_request_untokened(c, r)?;
    let cluster = r.get_str("cluster").unwrap_or_default();
    let token = client_token(
        cluster,
        &r.name,
        &format!("{:?}", req.as_input()),
        run_nonce(),
    );
    Ok(req.client_token(token))
}

fn create_request_untokened(
    c: &Client,
    r: &Resource,
) -> Result<CreateServiceFluentBuilder, AwsError> {
    Ok(c.create_service()
        .cluster(r.get_str("cluster").unwrap_or_default())
        .service_name(&r.name)
        .set_task_definition(r.get_str("task_definition").map(str::to_string))
        .desired_count(desired_count(r))
        .launch_type(LaunchType::from(
            r.get_str("launch_type").unwrap_or("FARGATE"),
        ))
        .network_configuration(network(r)?)
        .set_load_balancers(Some(load_balancers(r)))
        .set_health_check_grace_period_seconds(grace(r))
        .deployment_configuration(deployment_configuration(r))
        .set_tags(Some(ecs_tags(&desired_tags(r, TAG_PROPS)))))
}

/// The emulator only (module docs): what its CreateService drops, and the desired count that
/// makes its running count real.
pub fn emulator_followup_request(c: &Client, r: &Resource) -> UpdateServiceFluentBuilder {
    c.update_service()
        .cluster(r.get_str("cluster").unwrap_or_default())
        .service(&r.name)
        .desired_count(desired_count(r))
        .set_health_check_grace_period_seconds(grace(r))
        .deployment_configuration(deployment_configuration(r))
}

/// UpdateService for the changed fields (None when nothing is changed through it).
pub fn update_request(
    c: &Client,
    r: &Resource,
    prior: &Observed,
    changed: &std::collections::BTreeSet<String>,
    quirks: bool,
) -> Result<Option<UpdateServiceFluentBuilder>, AwsError> {
    let has = |k: &str| changed.contains(k);
    let cluster = prior
        .attrs
        .get("cluster")
        .map(String::as_str)
        .or(r.get_str("cluster"))
        .unwrap_or_default();
    let mut req = c.update_service().cluster(cluster).service(&r.name);
    let mut any = false;
    // A tags-only update of the task definition leaves its ARN as it was: nothing to deploy.
    let td = r.get_str("task_definition");
    if has("task_definition") && td.is_some() && td != prior.get_str("task_definition") {
        req = req.set_task_definition(td.map(str::to_string));
        any = true;
    }
    if has("desired_count") {
        req = req.desired_count(desired_count(r));
        any = true;
    }
    if has("subnets") || has("security_groups") || has("assign_public_ip") {
        req = req.network_configuration(network(r)?);
        any = true;
    }
    if has("load_balancers") {
        req = req.set_load_balancers(Some(load_balancers(r)));
        any = true;
    }
    if has("health_check_grace_period_seconds") {
        req = req.set_health_check_grace_period_seconds(grace(r));
        any = true;
    }
    if has("deployment_circuit_breaker") || has("minimum_healthy_percent") || has("maximum_percent")
    {
        req = req.deployment_configuration(deployment_configuration(r));
        any = true;
    }
    if any && quirks && !has("desired_count") {
        // The emulator's running count follows only a desired count it is sent.
        req = req.desired_count(desired_count(r));
    }
    Ok(any.then_some(req))
}

fn timeout(v: Option<i64>) -> Duration {
    Duration::from_secs(
        v.filter(|n| *n > 0)
            .map(|n| n as u64)
            .unwrap_or(DEFAULT_STABLE_TIMEOUT),
    )
}

/// Wait until the service is stable (the SDK's services-stable waiter, bounded), watching the
/// rollout meanwhile: progress on the task, and an early failure when the deployment fails
/// or is rolled back. The waiter looks at counts only: when it ends while the rollout is still
/// IN_PROGRESS, the watch goes on within what is left of `limit`. Then make sure it runs
/// `want_td`.
async fn wait_stable(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    want_td: &str,
    limit: Duration,
    task: &Task,
) -> Result<Service, AwsError> {
    let start = Instant::now();
    task.status(&format!(
        "waiting for service {name} to become stable (up to {} s)",
        limit.as_secs()
    ));
    let waiter = ctx
        .clients
        .ecs
        .wait_until_services_stable()
        .cluster(cluster)
        .services(name)
        .wait(limit);
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
    let mut watch = std::pin::pin!(watch);
    let waiter_done = tokio::select! {
        r = waiter => r.map(|_| true).map_err(waited("ecs:DescribeServices", format!("service {name} to become stable"))),
        r = &mut watch => r.map(|()| false),
    };
    let waited_out = match waiter_done {
        Ok(true) => {
            let rolling = describe(ctx, cluster, name)
                .await?
                .is_some_and(|s| rollout_state(&s, quirks(ctx)) == ROLLOUT_IN_PROGRESS);
            if rolling {
                task.status(&format!(
                    "service {name} runs its tasks; waiting for its rollout to complete"
                ));
                match tokio::time::timeout(limit.saturating_sub(start.elapsed()), &mut watch).await
                {
                    Ok(r) => r,
                    Err(_) => Err(AwsError::new(
                        "ecs:DescribeServices",
                        "WaiterFailed",
                        format!("the rollout of service {name} is still {ROLLOUT_IN_PROGRESS}"),
                    )),
                }
            } else {
                Ok(())
            }
        }
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    let s = describe(ctx, cluster, name).await?;
    match (waited_out, s) {
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

pub fn rollout_check(s: &Service, want_td: &str, quirks: bool) -> RolloutCheck {
    match rollout_state(s, quirks).as_str() {
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
async fn wait_rollout(
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
    match rollout_check(&s, want_td, quirks(ctx)) {
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

fn quirks(ctx: &Ctx) -> bool {
    ctx.clients.emulator_quirks
}

pub(super) async fn apply(ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
    let ecs = &ctx.clients.ecs;
    match op {
        Op::Create(r) => {
            let cluster = r.get_str("cluster").unwrap_or_default();
            let limit = timeout(int(r, "stable_timeout_seconds"));
            // A deleted service of the same name may still be draining: it holds the name.
            if let Some(s) = describe(ctx, cluster, &r.name).await? {
                if s.status() == Some("DRAINING") {
                    task.status(&format!(
                        "waiting for the previous service {} to finish draining",
                        r.name
                    ));
                    wait_inactive(ctx, cluster, &r.name, limit, task).await?;
                }
            }
            task.status(&format!("creating service {}", r.name));
            let req = create_request(ecs, r)?;
            while_role_propagates(task, || async {
                req.clone().send().await.map_err(aws("ecs:CreateService"))
            })
            .await?;
            if quirks(ctx) {
                emulator_followup_request(ecs, r)
                    .send()
                    .await
                    .map_err(aws("ecs:UpdateService"))?;
            }
            let s = wait_stable(
                ctx,
                cluster,
                &r.name,
                r.get_str("task_definition").unwrap_or_default(),
                limit,
                task,
            )
            .await?;
            Ok(attrs(&s))
        }
        Op::Update {
            desired,
            prior,
            changed,
        } => {
            let cluster = prior
                .attrs
                .get("cluster")
                .cloned()
                .unwrap_or_else(|| desired.get_str("cluster").unwrap_or_default().to_string());
            if let Some(req) = update_request(ecs, desired, prior, changed, quirks(ctx))? {
                task.status(&format!("updating service {}", desired.name));
                while_role_propagates(task, || async {
                    req.clone().send().await.map_err(aws("ecs:UpdateService"))
                })
                .await?;
                wait_stable(
                    ctx,
                    &cluster,
                    &desired.name,
                    desired.get_str("task_definition").unwrap_or_default(),
                    timeout(int(desired, "stable_timeout_seconds")),
                    task,
                )
                .await?;
            } else if changed.contains("rollout") {
                // Only the rollout differs: nothing to send, the unfinished rollout to wait for.
                wait_rollout(
                    ctx,
                    &cluster,
                    &desired.name,
                    desired.get_str("task_definition").unwrap_or_default(),
                    timeout(int(desired, "stable_timeout_seconds")),
                    task,
                )
                .await?;
            }
            if changed.contains("tags") || changed.contains("stable_timeout_seconds") {
                sync_tags(
                    ctx,
                    &prior.physical_id,
                    &prior_tags(prior, TAG_PROPS),
                    &desired_tags(desired, TAG_PROPS),
                )
                .await?;
            }
            Ok(prior.attrs.clone())
        }
        Op::Delete(o) => {
            let cluster = o.attrs.get("cluster").cloned().unwrap_or_default();
            let name = o.attrs.get("name").cloned().unwrap_or_default();
            let limit = timeout(
                o.props
                    .get("stable_timeout_seconds")
                    .and_then(Value::as_int),
            );
            task.status(&format!("scaling service {name} to 0 and deleting it"));
            let gone = |e: &AwsError| e.is_not_found() || e.is("ServiceNotActiveException");
            let scaled = ecs
                .update_service()
                .cluster(&cluster)
                .service(&name)
                .desired_count(0)
                .send()
                .await
                .map_err(aws("ecs:UpdateService"));
            match scaled {
                Err(e) if gone(&e) => return Ok(Attrs::new()),
                other => {
                    other?;
                }
            }
            let deleted = ecs
                .delete_service()
                .cluster(&cluster)
                .service(&name)
                .force(true)
                .send()
                .await
                .map_err(aws("ecs:DeleteService"));
            match deleted {
                Err(e) if gone(&e) => return Ok(Attrs::new()),
                other => {
                    other?;
                }
            }
            task.status(&format!(
                "waiting for service {name} to drain (up to {} s)",
                limit.as_secs()
            ));
            wait_inactive(ctx, &cluster, &name, limit, task).await?;
            Ok(Attrs::new())
        }
    }
}

/// Whether a deleted service is done (pure): INACTIVE, or gone altogether (DescribeServices
/// lists it under `failures` as MISSING once an INACTIVE service has aged out, or the
/// cluster is gone: `describe` says None).
pub fn inactive_or_gone(s: Option<&Service>) -> bool {
    s.is_none_or(|s| s.status() == Some("INACTIVE"))
}

/// Wait until the service is INACTIVE or gone, polling DescribeServices (2 s, 4 s, 8 s, then
/// every 15 s) up to `limit`. Not the SDK's services-inactive waiter: it fails on a MISSING
/// service, which is what a service that went away for good looks like.
async fn wait_inactive(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    limit: Duration,
    task: &Task,
) -> Result<(), AwsError> {
    let start = Instant::now();
    let mut delay = Duration::from_secs(2);
    loop {
        let s = match describe(ctx, cluster, name).await? {
            Some(s) if !inactive_or_gone(Some(&s)) => s,
            _ => return Ok(()),
        };
        if start.elapsed() + delay > limit {
            return Err(AwsError::new(
                "ecs:DescribeServices",
                "WaiterFailed",
                format!(
                    "service {name} is still {} after {} s; {}",
                    s.status().unwrap_or("?"),
                    limit.as_secs(),
                    rollout_summary(&s)
                ),
            ));
        }
        task.status(&format!(
            "waiting for service {name} to become inactive ({}; {})",
            s.status().unwrap_or("?"),
            rollout_summary(&s)
        ));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}
