//! ECS: expansion, the normalisation observe does (a task definition as AWS returns it, with
//! its defaults filled in, equals ours), late-initialised image tag and desired count through
//! the real diff, the revision in use after a rollback, reuse of an equal revision, revision
//! pruning, the requests (client token), the role-propagation classifier, stability and
//! deployment failure reports.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Cluster, ClusterSetting, ClusterSettingName,
    Compatibility, ContainerDefinition, Deployment, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentRolloutState, HealthCheck, KeyValuePair, LaunchType,
    LoadBalancer, LogConfiguration, LogDriver, MountPoint, NetworkConfiguration, NetworkMode,
    PortMapping, Secret, Service, ServiceEvent, TaskDefinition, TaskDefinitionStatus,
    TransportProtocol,
};
use aws_sdk_ecs::Client;

use super::service::{
    client_token, create_request, deployment_failure, inactive_or_gone, is_stable, latest_events,
    rollout_check, rollout_state, update_request, RolloutCheck,
};
use super::taskdef::{
    container_definition, extras, image_ref, no_active_revision, observe_foreign_newest,
    observe_in_use, observe_task_definition, parse_value_from, register_request, revisions_of,
    same_definition, split_image, to_deregister, value_from, InUse,
};
use super::*;
use crate::model::{tags_for, Observed, Ref, Resource, ResourceId, Value};
use crate::plan::{Action, Plan};
use crate::testutil::{actions, diff_of, get, parse_as, refs, DEV_2AZ};

const DATA: &str = r#"
[docdb]
instance_class = "db.t3.medium"
instances = 1
skip_final_snapshot = true

[redis]
node_type = "cache.t3.micro"
replicas = 0
snapshot_retention_days = 0
skip_final_snapshot = true
"#;

const ECR: &str = r#"
[ecr]
repository = "rtech-app"
"#;

/// The prod app: health check, non-root, read-only root, auto scaling 2..10.
const PROD_APP: &str = r#"
[app]
image_tag = "v1"
cpu = 256
memory = 512
port = 3000
desired_count = 2
container_insights = true
keep_revisions = 3
stable_timeout_seconds = 600
user = "1000"
read_only_root_filesystem = true

[app.environment]
NODE_ENV = "production"
LOG_LEVEL = "info"

[app.health_check]
command = "wget -q -O /dev/null http://localhost:3000/api/health || exit 1"
interval_seconds = 30
timeout_seconds = 5
retries = 3
start_period_seconds = 0

[app.scaling]
min = 2
max = 10
"#;

/// Dev: no health check, no scaling, insights off.
const DEV_APP: &str = r#"
[app]
cpu = 256
memory = 512
desired_count = 1
container_insights = false

[app.environment]
NODE_ENV = "development"
"#;

const ACCOUNT: &str = "123456789012";
const REPO_URL: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/rtech-app";
const EXEC_ROLE: &str = "arn:aws:iam::123456789012:role/rtech-dev-ecs-execution";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/rtech-dev-ecs-task";
const DOCDB_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rtech/dev/docdb-AbCdEf";
const REDIS_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rtech/dev/redis-GhIjKl";
const REDIS_HOST: &str = "rtech-dev-redis.abc123.ng.0001.use1.cache.amazonaws.com";
const TG_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-blue/0123456789abcdef";
const GREEN_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-green/fedcba9876543210";
const RULE_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/rtech-dev-alb/1/2/3";
const INFRA_ROLE: &str = "arn:aws:iam::123456789012:role/rtech-dev-ecs-infra";
const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/rtech-dev";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/rtech-dev/rtech-dev-app";
const HEALTH: &str = "wget -q -O /dev/null http://localhost:3000/api/health || exit 1";

fn td_arn(rev: i32) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/rtech-dev-app:{rev}")
}

fn spec_of(sections: &str, image_tag: Option<&str>) -> Spec {
    let mut s = parse_as("dev", &format!("{DEV_2AZ}{sections}"));
    s.image_tag = image_tag.map(str::to_string);
    s
}

fn prod(image_tag: Option<&str>) -> Spec {
    spec_of(&format!("{DATA}{ECR}{PROD_APP}"), image_tag)
}

fn dev() -> Spec {
    spec_of(&format!("{ECR}{DEV_APP}"), None)
}

/// What the other services' resources (and our own) are known as.
fn lookup(r: &Ref) -> Option<String> {
    Some(match (r.resource.to_string().as_str(), r.attr.as_str()) {
        ("ecr_repository/app", "url") => REPO_URL.into(),
        ("iam_role/execution", "arn") => EXEC_ROLE.into(),
        ("iam_role/task", "arn") => TASK_ROLE.into(),
        ("log_group/app", "name") => "/ecs/rtech-dev-app".into(),
        ("secret/docdb", "arn") => DOCDB_SECRET.into(),
        ("secret/redis", "arn") => REDIS_SECRET.into(),
        ("redis/main", "primary_endpoint") => REDIS_HOST.into(),
        ("subnet/private-a", "id") => "subnet-aaa".into(),
        ("subnet/private-b", "id") => "subnet-bbb".into(),
        ("sg/app", "id") => "sg-app".into(),
        ("target_group/blue", "arn") => TG_ARN.into(),
        ("target_group/green", "arn") => GREEN_ARN.into(),
        ("listener_rule/production", "arn") => RULE_ARN.into(),
        ("iam_role/ecs_infrastructure", "arn") => INFRA_ROLE.into(),
        ("ecs_cluster/main", "name") => "rtech-dev".into(),
        ("ecs_task_definition/app", "arn") => td_arn(4),
        _ => return None,
    })
}

/// A desired resource with every reference resolved and late properties filled from `live`,
/// as the executor hands it over.
fn resolved(r: &Resource, live: Option<&Observed>) -> Resource {
    let live: Vec<Observed> = live.into_iter().cloned().collect();
    let mut r = crate::plan::late_initialise(std::slice::from_ref(r), &live)
        .pop()
        .unwrap();
    r.props = r
        .props
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
        .collect();
    r
}

/// Live stand-ins for everything the ECS resources reference (owned, with their attrs).
fn world() -> Vec<Observed> {
    let mut out = vec![];
    let ids = [
        ("ecr_repository/app", "url"),
        ("iam_role/execution", "arn"),
        ("iam_role/task", "arn"),
        ("log_group/app", "name"),
        ("secret/docdb", "arn"),
        ("secret/redis", "arn"),
        ("redis/main", "primary_endpoint"),
        ("subnet/private-a", "id"),
        ("subnet/private-b", "id"),
        ("sg/app", "id"),
        ("target_group/blue", "arn"),
    ];
    for (id, attr) in ids {
        let rid: ResourceId = id.parse().unwrap();
        let v = lookup(&Ref {
            resource: rid.clone(),
            attr: attr.into(),
        })
        .unwrap();
        let mut o = Observed::new(rid, &v);
        o.attrs.insert(attr.into(), v);
        out.push(o);
    }
    out.push(Observed::new(
        ResourceId::new("secret_connection", "docdb"),
        "x",
    ));
    out.push(Observed::new(
        ResourceId::new("secret_connection", "redis"),
        "x",
    ));
    out
}

/// The plan for the ECS resources (the other services' stand-ins are not in `desired`: their
/// deletes are left out).
fn plan_of(desired: &[Resource], ecs_live: &[Observed]) -> Plan {
    let mut all = world();
    all.extend(ecs_live.iter().cloned());
    let mut p = diff_of("dev", desired, &all, false);
    p.changes.retain(|c| c.id.kind.starts_with("ecs_"));
    p
}

fn change<'a>(p: &'a Plan, id: &str) -> Option<&'a crate::plan::Change> {
    p.changes.iter().find(|c| c.id.to_string() == id)
}

fn tags_with(id: &ResourceId, name: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut t = tags_for(
        "rtech",
        "dev",
        id,
        name,
        &BTreeMap::from([("Environment".to_string(), "development".to_string())]),
    );
    for (k, v) in extra {
        t.insert(k.to_string(), v.to_string());
    }
    t
}

// ---------------------------------------------------------------------------------------------
// what AWS returns

/// The prod container definition the way DescribeTaskDefinition returns it: defaults filled
/// in (cpu 0, empty mount points and volumes, essential, host port, protocol, health check
/// start period omitted when 0), environment and secrets in another order.
fn aws_container(image: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("app")
        .image(image)
        .cpu(0)
        .port_mappings(
            PortMapping::builder()
                .container_port(3000)
                .host_port(3000)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .essential(true)
        .environment(
            KeyValuePair::builder()
                .name("REDIS_PORT")
                .value("6379")
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("NODE_ENV")
                .value("production")
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("REDIS_HOST")
                .value(REDIS_HOST)
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("LOG_LEVEL")
                .value("info")
                .build(),
        )
        .set_mount_points(Some(vec![]))
        .set_volumes_from(Some(vec![]))
        .set_system_controls(Some(vec![]))
        .secrets(
            Secret::builder()
                .name("REDIS_AUTH_TOKEN")
                .value_from(format!("{REDIS_SECRET}:token::"))
                .build()
                .unwrap(),
        )
        .secrets(
            Secret::builder()
                .name("MONGODB_URI")
                .value_from(format!("{DOCDB_SECRET}:uri::"))
                .build()
                .unwrap(),
        )
        .user("1000")
        .readonly_root_filesystem(true)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-stream-prefix", "app")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-group", "/ecs/rtech-dev-app")
                .options("mode", "non-blocking")
                .build()
                .unwrap(),
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command(HEALTH)
                .interval(30)
                .timeout(5)
                .retries(3)
                .build()
                .unwrap(),
        )
        .build()
}

fn aws_task_definition(rev: i32, container: ContainerDefinition) -> TaskDefinition {
    TaskDefinition::builder()
        .task_definition_arn(td_arn(rev))
        .family("rtech-dev-app")
        .revision(rev)
        .container_definitions(container)
        .task_role_arn(TASK_ROLE)
        .execution_role_arn(EXEC_ROLE)
        .network_mode(NetworkMode::Awsvpc)
        .set_volumes(Some(vec![]))
        .status(TaskDefinitionStatus::Active)
        .set_placement_constraints(Some(vec![]))
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .registered_by("arn:aws:sts::123456789012:assumed-role/ci/session")
        .build()
}

fn td_tags(keep: i64) -> BTreeMap<String, String> {
    tags_with(
        &task_definition_id(),
        "rtech-dev-app",
        &[(TAG_KEEP_REVISIONS, &keep.to_string())],
    )
}

fn live_td(tag: &str) -> Observed {
    observe_task_definition(
        &aws_task_definition(4, aws_container(&format!("{REPO_URL}:{tag}"))),
        &td_tags(3),
    )
}

fn aws_cluster(insights: &str) -> Cluster {
    Cluster::builder()
        .cluster_arn(CLUSTER_ARN)
        .cluster_name("rtech-dev")
        .status("ACTIVE")
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value(insights)
                .build(),
        )
        .build()
}

fn live_cluster(insights: &str) -> Observed {
    observe_cluster(
        &aws_cluster(insights),
        &tags_with(&cluster_id(), "rtech-dev", &[]),
    )
}

/// The deployment configuration every service of ours has: the circuit breaker with rollback,
/// 200 % up and 100 % healthy.
fn deployment_config() -> aws_sdk_ecs::types::builders::DeploymentConfigurationBuilder {
    let breaker = DeploymentCircuitBreaker::builder()
        .enable(true)
        .rollback(true);
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(breaker.build())
        .maximum_percent(200)
        .minimum_healthy_percent(100)
}

/// The app container behind the blue target group.
fn app_load_balancer() -> aws_sdk_ecs::types::builders::LoadBalancerBuilder {
    let lb = LoadBalancer::builder().target_group_arn(TG_ARN);
    lb.container_name("app").container_port(3000)
}

/// A request's tags, key to value.
fn request_tags(tags: &Option<Vec<aws_sdk_ecs::types::Tag>>) -> BTreeMap<&str, &str> {
    let tags = tags.as_ref().unwrap().iter();
    tags.filter_map(|t| Some((t.key()?, t.value()?))).collect()
}

fn aws_service(desired_count: i32, subnets: &[&str], td: &str) -> Service {
    let (dc, lb) = (deployment_config().build(), app_load_balancer().build());
    aws_service_with(desired_count, subnets, td, dc, lb)
}

fn aws_service_with(
    desired_count: i32,
    subnets: &[&str],
    td: &str,
    dc: DeploymentConfiguration,
    lb: LoadBalancer,
) -> Service {
    Service::builder()
        .service_arn(SERVICE_ARN)
        .service_name("rtech-dev-app")
        .cluster_arn(CLUSTER_ARN)
        .load_balancers(lb)
        .status("ACTIVE")
        .desired_count(desired_count)
        .running_count(desired_count)
        .launch_type(LaunchType::Fargate)
        .platform_version("LATEST")
        .task_definition(td)
        .deployment_configuration(dc)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnets.iter().map(|s| s.to_string()).collect()))
                        .security_groups("sg-app")
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .health_check_grace_period_seconds(60)
        .build()
}

fn subnet_rids() -> BTreeMap<String, ResourceId> {
    BTreeMap::from([
        (
            "subnet-aaa".to_string(),
            ResourceId::new("subnet", "private-a"),
        ),
        (
            "subnet-bbb".to_string(),
            ResourceId::new("subnet", "private-b"),
        ),
    ])
}

fn live_service(desired_count: i32, desired: &Resource) -> Observed {
    observe_service(
        &aws_service(desired_count, &["subnet-bbb", "subnet-aaa"], &td_arn(4)),
        &tags_with(
            &service_id(),
            "rtech-dev-app",
            &[(TAG_STABLE_TIMEOUT, "600")],
        ),
        &subnet_rids(),
        Some(desired),
    )
}

/// Everything live as rtech left it after applying `prod(None)` with image tag `tag`.
fn live_prod(tag: &str, desired_count: i32) -> Vec<Observed> {
    let rs = expand(&prod(None));
    vec![
        live_cluster("enabled"),
        live_td(tag),
        live_service(desired_count, get(&rs, "ecs_service/app")),
    ]
}

// ---------------------------------------------------------------------------------------------
// expand

#[test]
fn no_app_section_means_no_resources() {
    assert!(expand(&spec_of(ECR, None)).is_empty());
}

#[test]
fn an_app_is_a_cluster_a_task_definition_and_a_service() {
    let rs = expand(&prod(None));
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "ecs_cluster/main",
            "ecs_task_definition/app",
            "ecs_service/app"
        ]
    );
    let c = get(&rs, "ecs_cluster/main");
    assert_eq!(c.name, "rtech-dev");
    assert_eq!(c.get_str("container_insights"), Some("enabled"));
    assert_eq!(
        get(&expand(&dev()), "ecs_cluster/main").get_str("container_insights"),
        Some("disabled")
    );
    assert_eq!(get(&rs, "ecs_task_definition/app").name, "rtech-dev-app");
    assert_eq!(get(&rs, "ecs_service/app").name, "rtech-dev-app");
}

#[test]
fn the_task_definition_references_the_platform_and_takes_secrets_as_ecs_secrets() {
    let rs = expand(&prod(None));
    let td = get(&rs, "ecs_task_definition/app");
    assert_eq!(td.get_str("family"), Some("rtech-dev-app"));
    assert_eq!(td.props["cpu"], Value::Int(256));
    assert_eq!(td.props["memory"], Value::Int(512));
    assert_eq!(td.get_str("network_mode"), Some("awsvpc"));
    assert_eq!(
        refs(&td.props["execution_role_arn"]),
        ["iam_role/execution.arn"]
    );
    assert_eq!(refs(&td.props["task_role_arn"]), ["iam_role/task.arn"]);
    assert_eq!(
        refs(&td.props["image_repository"]),
        ["ecr_repository/app.url"]
    );
    assert_eq!(refs(&td.props["log_configuration"]), ["log_group/app.name"]);
    let env = td.props["environment"].as_map().unwrap();
    assert_eq!(env["NODE_ENV"], Value::str("production"));
    assert_eq!(refs(&env["REDIS_HOST"]), ["redis/main.primary_endpoint"]);
    assert_eq!(env["REDIS_PORT"], Value::str("6379"));
    // Credentials are ECS secrets, never plain environment values.
    for name in ["MONGODB_URI", "REDIS_AUTH_TOKEN"] {
        assert!(
            !env.contains_key(name),
            "{name} must not be plain environment"
        );
    }
    let secrets = td.props["secrets"].as_map().unwrap();
    let uri = secrets["MONGODB_URI"].as_map().unwrap();
    assert_eq!(refs(&uri["arn"]), ["secret/docdb.arn"]);
    assert_eq!(uri["key"], Value::str("uri"));
    let token = secrets["REDIS_AUTH_TOKEN"].as_map().unwrap();
    assert_eq!(refs(&token["arn"]), ["secret/redis.arn"]);
    assert_eq!(token["key"], Value::str("token"));
    for dep in [
        "ecr_repository/app",
        "iam_role/execution",
        "iam_role/task",
        "log_group/app",
        "secret/docdb",
        "secret/redis",
        "redis/main",
    ] {
        assert!(td.deps.contains(&dep.parse().unwrap()), "{dep}");
    }
    assert_eq!(td.get_str("user"), Some("1000"));
    assert_eq!(td.props["readonly_root_filesystem"], Value::Bool(true));
    assert_eq!(td.props["keep_revisions"], Value::Int(3));
    let hc = td.props["health_check"].as_map().unwrap();
    assert_eq!(
        hc["command"],
        Value::List(vec![Value::str("CMD-SHELL"), Value::str(HEALTH)])
    );
}

#[test]
fn without_data_tier_there_are_no_secrets_and_no_redis_environment() {
    let rs = expand(&dev());
    let td = get(&rs, "ecs_task_definition/app");
    assert_eq!(td.props["secrets"], Value::Map(BTreeMap::new()));
    let env = td.props["environment"].as_map().unwrap();
    assert_eq!(env.keys().collect::<Vec<_>>(), ["NODE_ENV"]);
    assert_eq!(td.props["health_check"], Value::Null);
    assert_eq!(td.props["user"], Value::Null);
    assert_eq!(td.props["readonly_root_filesystem"], Value::Bool(false));
}

#[test]
fn the_image_tag_is_the_flag_else_the_deployed_one_else_the_specs() {
    let rs = expand(&prod(None));
    let td = get(&rs, "ecs_task_definition/app");
    assert!(!td.props.contains_key("image_tag"));
    assert_eq!(td.late_init["image_tag"].default, Value::str("v1"));
    let rs = expand(&prod(Some("abc123")));
    let td = get(&rs, "ecs_task_definition/app");
    assert_eq!(td.get_str("image_tag"), Some("abc123"));
    assert!(td.late_init.is_empty());
}

#[test]
fn the_service_runs_in_the_private_subnets_behind_the_blue_target_group() {
    let rs = expand(&prod(None));
    let s = get(&rs, "ecs_service/app");
    assert_eq!(refs(&s.props["cluster"]), ["ecs_cluster/main.name"]);
    assert_eq!(
        refs(&s.props["task_definition"]),
        ["ecs_task_definition/app.arn"]
    );
    assert_eq!(
        refs(&s.props["subnets"]),
        ["subnet/private-a.id", "subnet/private-b.id"]
    );
    assert_eq!(refs(&s.props["security_groups"]), ["sg/app.id"]);
    assert_eq!(s.get_str("assign_public_ip"), Some("DISABLED"));
    assert_eq!(s.get_str("launch_type"), Some("FARGATE"));
    assert_eq!(refs(&s.props["load_balancers"]), ["target_group/blue.arn"]);
    assert_eq!(s.props["minimum_healthy_percent"], Value::Int(100));
    assert_eq!(s.props["maximum_percent"], Value::Int(200));
    assert_eq!(s.props["stable_timeout_seconds"], Value::Int(600));
    assert_eq!(s.get_str("rollout"), Some("COMPLETED"));
    assert!(s
        .deps
        .contains(&ResourceId::new("secret_connection", "docdb")));
    // With scaling the count is the scaler's inside [min, max]; without, a plain property.
    assert_eq!(s.late_init["desired_count"].clamp, Some((2, 10)));
    assert!(!s.props.contains_key("desired_count"));
    let d = get(&expand(&dev()), "ecs_service/app").clone();
    assert_eq!(d.props["desired_count"], Value::Int(1));
    assert!(d.late_init.is_empty());
}

// ---------------------------------------------------------------------------------------------
// normalisation through the real diff

#[test]
fn a_task_definition_as_aws_returns_it_equals_ours() {
    let rs = expand(&prod(None));
    let plan = plan_of(&rs, &live_prod("v1", 2));
    assert!(
        plan.changes.is_empty(),
        "{:#?}",
        plan.changes
            .iter()
            .map(|c| (&c.id, &c.fields))
            .collect::<Vec<_>>()
    );
    assert_eq!(plan.unchanged, 3);
}

#[test]
fn our_registered_container_definition_reads_back_as_ours() {
    // What rtech sends, read back verbatim (no defaults filled in), also equals ours.
    let rs = expand(&prod(None));
    let td = get(&rs, "ecs_task_definition/app");
    let live_before = live_td("v1");
    let r = resolved(td, Some(&live_before));
    let c = container_definition(&r).unwrap();
    let o = observe_task_definition(&aws_task_definition(4, c), &td_tags(3));
    for (k, v) in &r.props {
        assert_eq!(o.props.get(k), Some(v), "{k}");
    }
}

#[test]
fn a_dev_task_definition_without_health_check_or_secrets_equals_ours() {
    let rs = expand(&dev());
    let c = ContainerDefinition::builder()
        .name("app")
        .image(format!("{REPO_URL}:latest"))
        .cpu(0)
        .port_mappings(PortMapping::builder().container_port(3000).build())
        .essential(true)
        .environment(
            KeyValuePair::builder()
                .name("NODE_ENV")
                .value("development")
                .build(),
        )
        .set_mount_points(Some(vec![]))
        .set_volumes_from(Some(vec![]))
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/rtech-dev-app")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "app")
                .build()
                .unwrap(),
        )
        .build();
    let td = observe_task_definition(
        &aws_task_definition(1, c),
        &tags_with(
            &task_definition_id(),
            "rtech-dev-app",
            &[(TAG_KEEP_REVISIONS, "5")],
        ),
    );
    let s = get(&rs, "ecs_service/app");
    let svc = aws_service(1, &["subnet-aaa", "subnet-bbb"], &td_arn(1));
    let live = vec![
        live_cluster("disabled"),
        td,
        observe_service(
            &svc,
            &tags_with(
                &service_id(),
                "rtech-dev-app",
                &[(TAG_STABLE_TIMEOUT, "900")],
            ),
            &subnet_rids(),
            Some(s),
        ),
    ];
    let mut w = world();
    w.retain(|o| !o.id.kind.starts_with("secret") && o.id.kind != "redis");
    let mut plan = diff_of("dev", &rs, &[w, live].concat(), false);
    plan.changes.retain(|c| c.id.kind.starts_with("ecs_"));
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn an_image_tag_flag_is_one_new_revision_and_a_service_update() {
    let plan = plan_of(&expand(&prod(Some("abc123"))), &live_prod("v1", 2));
    assert_eq!(
        actions(&plan),
        [
            ("ecs_task_definition/app".to_string(), Action::Update),
            ("ecs_service/app".to_string(), Action::Update)
        ]
    );
    let td = change(&plan, "ecs_task_definition/app").unwrap();
    assert_eq!(
        td.fields
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["image_tag"]
    );
    assert_eq!(td.fields[0].before, Some(Value::str("v1")));
    assert_eq!(td.fields[0].after, Some(Value::str("abc123")));
    let svc = change(&plan, "ecs_service/app").unwrap();
    assert_eq!(
        svc.fields
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["task_definition"]
    );
    assert!(svc.fields[0].after.as_ref().unwrap().is_unknown());
}

#[test]
fn without_the_flag_the_deployed_image_stays() {
    // Deployed abc123 (a CI apply), spec says v1: an infrastructure-only plan keeps abc123.
    let plan = plan_of(&expand(&prod(None)), &live_prod("abc123", 2));
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn aws_defaults_and_ordering_never_show_but_real_changes_do() {
    let rs = expand(&prod(None));
    // A command and a mount point added out of band (a revision registered by hand).
    let mut c = aws_container(&format!("{REPO_URL}:v1"));
    c.command = Some(vec!["node".into(), "debug.js".into()]);
    c.mount_points = Some(vec![MountPoint::builder()
        .source_volume("scratch")
        .container_path("/tmp")
        .build()]);
    c.environment
        .as_mut()
        .unwrap()
        .push(KeyValuePair::builder().name("DEBUG").value("*").build());
    let td = observe_task_definition(&aws_task_definition(5, c), &td_tags(3));
    let mut live = live_prod("v1", 2);
    live[1] = td;
    let plan = plan_of(&rs, &live);
    let td = change(&plan, "ecs_task_definition/app").unwrap();
    assert_eq!(td.action, Action::Update);
    let paths: Vec<&str> = td.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["environment.DEBUG", "extras"]);
    assert_eq!(
        td.fields[1].before,
        Some(Value::List(vec![
            Value::str("command"),
            Value::str("mountPoints")
        ]))
    );
}

#[test]
fn keep_revisions_and_tags_change_without_a_new_revision_in_the_plan() {
    let rs = expand(&prod(None));
    let mut live = live_prod("v1", 2);
    live[1].props.insert("keep_revisions".into(), Value::Int(5));
    let plan = plan_of(&rs, &live);
    let td = change(&plan, "ecs_task_definition/app").unwrap();
    assert_eq!(
        td.fields
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["keep_revisions"]
    );
}

#[test]
fn a_desired_count_inside_the_scaling_range_is_not_drift_outside_it_is() {
    let rs = expand(&prod(None));
    let s = get(&rs, "ecs_service/app");
    for inside in [2, 7, 10] {
        let mut live = live_prod("v1", 2);
        live[2] = live_service(inside, s);
        let plan = plan_of(&rs, &live);
        assert!(plan.changes.is_empty(), "{inside}: {:#?}", plan.changes);
    }
    for (outside, bound) in [(1i32, 2i64), (0, 2), (14, 10)] {
        let mut live = live_prod("v1", 2);
        live[2] = live_service(outside, s);
        let plan = plan_of(&rs, &live);
        let c = change(&plan, "ecs_service/app").unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1, "{:#?}", c.fields);
        assert_eq!(c.fields[0].path, "desired_count");
        assert_eq!(c.fields[0].before, Some(Value::Int(outside as i64)));
        assert_eq!(c.fields[0].after, Some(Value::Int(bound)));
    }
}

#[test]
fn without_scaling_any_other_desired_count_is_drift() {
    let spec = spec_of(&format!("{DATA}{ECR}{DEV_APP}"), None);
    let rs = expand(&spec);
    let s = get(&rs, "ecs_service/app");
    let o = live_service(3, s);
    assert_eq!(o.props["desired_count"], Value::Int(3));
    assert_eq!(s.props["desired_count"], Value::Int(1));
}

#[test]
fn subnets_follow_the_specs_order_whatever_aws_lists() {
    let rs = expand(&prod(None));
    let o = live_service(2, get(&rs, "ecs_service/app"));
    assert_eq!(
        o.props["subnets"],
        Value::List(vec![Value::str("subnet-aaa"), Value::str("subnet-bbb")])
    );
    assert!(o.deps.contains(&ResourceId::new("subnet", "private-a")));
    // A subnet that is not ours sorts last and shows as a difference.
    let svc = aws_service(2, &["subnet-zzz", "subnet-aaa"], &td_arn(4));
    let o = observe_service(
        &svc,
        &BTreeMap::new(),
        &subnet_rids(),
        Some(get(&rs, "ecs_service/app")),
    );
    assert_eq!(
        o.props["subnets"],
        Value::List(vec![Value::str("subnet-aaa"), Value::str("subnet-zzz")])
    );
}

#[test]
fn cluster_and_launch_type_force_a_replacement_other_fields_update_in_place() {
    let rs = expand(&prod(None));
    let mut live = live_prod("v1", 2);
    live[2]
        .props
        .insert("launch_type".into(), Value::str("EC2"));
    live[2]
        .props
        .insert("health_check_grace_period_seconds".into(), Value::Int(0));
    let plan = plan_of(&rs, &live);
    let c = change(&plan, "ecs_service/app").unwrap();
    assert_eq!(c.action, Action::Replace);
    assert_eq!(
        c.reason.as_deref(),
        Some("launch_type cannot change in place")
    );
    let mut live = live_prod("v1", 2);
    live[2]
        .props
        .insert("health_check_grace_period_seconds".into(), Value::Int(0));
    let plan = plan_of(&rs, &live);
    assert_eq!(
        change(&plan, "ecs_service/app").unwrap().action,
        Action::Update
    );
}

#[test]
fn container_insights_off_out_of_band_is_drift() {
    let rs = expand(&prod(None));
    let mut live = live_prod("v1", 2);
    live[0] = live_cluster("disabled");
    let plan = plan_of(&rs, &live);
    let c = change(&plan, "ecs_cluster/main").unwrap();
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.fields[0].path, "container_insights");
    // A cluster without the setting at all reads as disabled.
    let bare = Cluster::builder()
        .cluster_arn(CLUSTER_ARN)
        .cluster_name("rtech-dev")
        .build();
    let o = observe_cluster(&bare, &BTreeMap::new());
    assert_eq!(o.props["container_insights"], Value::str("disabled"));
    assert_eq!(o.attrs["name"], "rtech-dev");
    assert_eq!(o.attrs["arn"], CLUSTER_ARN);
}

#[test]
fn a_revision_registered_by_hand_on_top_of_ours_is_drift_repaired_by_a_new_revision() {
    let rs = expand(&prod(None));
    // Theirs: the same container, no tags.
    let theirs = aws_task_definition(5, aws_container(&format!("{REPO_URL}:v1")));
    let ours = aws_task_definition(4, aws_container(&format!("{REPO_URL}:v1")));
    let o = observe_foreign_newest(&theirs, &BTreeMap::new(), &ours);
    assert_eq!(o.ownership, crate::model::Ownership::Owned);
    assert_eq!(o.physical_id, td_arn(4));
    assert_eq!(o.attrs["revision"], "4");
    let mut live = live_prod("v1", 2);
    live[1] = o;
    let plan = plan_of(&rs, &live);
    let td = change(&plan, "ecs_task_definition/app").unwrap();
    assert_eq!(td.action, Action::Update);
    let paths: BTreeSet<&str> = td.fields.iter().map(|f| f.prop()).collect();
    // A revision property changes (extras): apply registers, never re-tags theirs.
    assert!(paths.contains("extras"), "{paths:?}");
    assert!(paths.contains("tags") && paths.contains("keep_revisions"));
    assert_eq!(
        change(&plan, "ecs_service/app").unwrap().fields[0].path,
        "task_definition"
    );
}

#[test]
fn internal_tags_are_properties_not_tags() {
    let o = live_td("v1");
    assert_eq!(o.props["keep_revisions"], Value::Int(3));
    assert!(o.tag(TAG_KEEP_REVISIONS).is_none());
    assert_eq!(o.attrs["revision"], "4");
    assert_eq!(o.attrs["family"], "rtech-dev-app");
    assert_eq!(o.attrs["arn"], td_arn(4));
    let rs = expand(&prod(None));
    let s = live_service(2, get(&rs, "ecs_service/app"));
    assert_eq!(s.props["stable_timeout_seconds"], Value::Int(600));
    assert!(s.tag(TAG_STABLE_TIMEOUT).is_none());
    assert_eq!(s.attrs["cluster"], "rtech-dev");
    assert_eq!(s.attrs["name"], "rtech-dev-app");
    assert!(s.deps.contains(&ResourceId::new("target_group", "blue")));
}

// ---------------------------------------------------------------------------------------------
// pure helpers

#[test]
fn images_split_at_the_tag_and_join_back() {
    assert_eq!(
        split_image(&format!("{REPO_URL}:abc123")),
        (REPO_URL.to_string(), Some("abc123".to_string()))
    );
    assert_eq!(
        split_image("localhost:5000/app"),
        ("localhost:5000/app".to_string(), None)
    );
    assert_eq!(
        split_image("localhost:5000/app:v2"),
        ("localhost:5000/app".to_string(), Some("v2".to_string()))
    );
    let (repo, tag) = split_image("repo@sha256:0123");
    assert_eq!(
        (repo.as_str(), tag.as_deref()),
        ("repo", Some("@sha256:0123"))
    );
    assert_eq!(image_ref("repo", "@sha256:0123"), "repo@sha256:0123");
    assert_eq!(image_ref(REPO_URL, "v1"), format!("{REPO_URL}:v1"));
}

#[test]
fn secret_value_from_round_trips() {
    let v = value_from(DOCDB_SECRET, "uri");
    assert_eq!(v, format!("{DOCDB_SECRET}:uri::"));
    let parsed = |v: &str| crate::reconcile::kit::to_props(&parse_value_from(v));
    let m = parsed(&v);
    assert_eq!(m["arn"], Value::str(DOCDB_SECRET));
    assert_eq!(m["key"], Value::str("uri"));
    assert_eq!(m.len(), 2);
    let whole = parsed(DOCDB_SECRET);
    assert_eq!(whole["key"], Value::str(""));
    let staged = parsed(&format!("{DOCDB_SECRET}:uri:AWSPREVIOUS:"));
    assert_eq!(staged["version_stage"], Value::str("AWSPREVIOUS"));
    let ssm = parsed("arn:aws:ssm:us-east-1:1:parameter/x");
    assert!(ssm.contains_key("value_from"));
}

#[test]
fn revisions_of_exactly_our_family_newest_first() {
    let arns = vec![
        td_arn(2),
        td_arn(10),
        "arn:aws:ecs:us-east-1:1:task-definition/rtech-dev-app2:99".to_string(),
        td_arn(9),
    ];
    let revs = revisions_of(&arns, "rtech-dev-app");
    assert_eq!(revs.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [10, 9, 2]);
}

#[test]
fn pruning_keeps_the_newest_n_and_the_revision_in_use() {
    let revs: Vec<(i64, String)> = (1..=6).rev().map(|n| (n, td_arn(n as i32))).collect();
    assert_eq!(
        to_deregister(&revs, 3, Some(&td_arn(6))),
        [td_arn(3), td_arn(2), td_arn(1)]
    );
    // The service still runs revision 2 (its update comes next): it stays for a rollback.
    assert_eq!(
        to_deregister(&revs, 3, Some(&td_arn(2))),
        [td_arn(3), td_arn(1)]
    );
    assert!(to_deregister(&revs, 6, None).is_empty());
    assert_eq!(to_deregister(&revs, 1, None).len(), 5);
}

#[test]
fn extras_ignore_what_aws_fills_in() {
    let td = aws_task_definition(1, aws_container("x:1"));
    assert!(extras(&td, td.container_definitions().first()).is_empty());
    let mut two = td.clone();
    two.container_definitions
        .as_mut()
        .unwrap()
        .push(ContainerDefinition::builder().name("sidecar").build());
    assert_eq!(
        extras(&two, two.container_definitions().first()),
        ["container sidecar"]
    );
}

// ---------------------------------------------------------------------------------------------
// requests

fn client() -> Client {
    crate::offline_client!(aws_sdk_ecs)
}

#[test]
fn register_sends_fargate_strings_sorted_environment_and_secrets_as_value_from() {
    let rs = expand(&prod(Some("abc123")));
    let r = resolved(get(&rs, "ecs_task_definition/app"), None);
    let req = register_request(&client(), &r).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_family().as_deref(), Some("rtech-dev-app"));
    assert_eq!(i.get_cpu().as_deref(), Some("256"));
    assert_eq!(i.get_memory().as_deref(), Some("512"));
    assert_eq!(i.get_network_mode(), &Some(NetworkMode::Awsvpc));
    assert_eq!(
        i.get_requires_compatibilities().as_deref(),
        Some(&[Compatibility::Fargate][..])
    );
    assert_eq!(i.get_execution_role_arn().as_deref(), Some(EXEC_ROLE));
    assert_eq!(i.get_task_role_arn().as_deref(), Some(TASK_ROLE));
    let c = &i.get_container_definitions().as_ref().unwrap()[0];
    assert_eq!(c.name(), Some("app"));
    assert_eq!(c.image(), Some(format!("{REPO_URL}:abc123").as_str()));
    assert_eq!(c.essential(), Some(true));
    let env: Vec<&str> = c.environment().iter().filter_map(|e| e.name()).collect();
    assert_eq!(env, ["LOG_LEVEL", "NODE_ENV", "REDIS_HOST", "REDIS_PORT"]);
    let secrets: Vec<(&str, &str)> = c
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    assert_eq!(
        secrets,
        [
            ("MONGODB_URI", format!("{DOCDB_SECRET}:uri::").as_str()),
            (
                "REDIS_AUTH_TOKEN",
                format!("{REDIS_SECRET}:token::").as_str()
            )
        ]
    );
    let pm = &c.port_mappings()[0];
    assert_eq!(
        (pm.container_port(), pm.host_port(), pm.protocol()),
        (Some(3000), Some(3000), Some(&TransportProtocol::Tcp))
    );
    let lc = c.log_configuration().unwrap();
    assert_eq!(lc.log_driver(), &LogDriver::Awslogs);
    assert_eq!(lc.options().unwrap()["awslogs-group"], "/ecs/rtech-dev-app");
    assert_eq!(c.user(), Some("1000"));
    assert_eq!(c.readonly_root_filesystem(), Some(true));
    assert_eq!(c.health_check().unwrap().command(), ["CMD-SHELL", HEALTH]);
    let tags = request_tags(i.get_tags());
    assert_eq!(tags[TAG_KEEP_REVISIONS], "3");
    assert_eq!(tags["rtech:id"], "ecs_task_definition/app");
}

#[test]
fn create_service_sends_the_whole_rollout_configuration() {
    let rs = expand(&prod(None));
    let r = resolved(get(&rs, "ecs_service/app"), None);
    let req = create_request(&client(), &r).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_cluster().as_deref(), Some("rtech-dev"));
    assert_eq!(i.get_service_name().as_deref(), Some("rtech-dev-app"));
    assert_eq!(i.get_task_definition(), &Some(td_arn(4)));
    assert_eq!(i.get_desired_count(), &Some(2));
    assert_eq!(i.get_launch_type(), &Some(LaunchType::Fargate));
    let vpc = i
        .get_network_configuration()
        .as_ref()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-aaa", "subnet-bbb"]);
    assert_eq!(vpc.security_groups(), ["sg-app"]);
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
    let lb = &i.get_load_balancers().as_ref().unwrap()[0];
    assert_eq!(
        (
            lb.target_group_arn(),
            lb.container_name(),
            lb.container_port()
        ),
        (Some(TG_ARN), Some("app"), Some(3000))
    );
    assert_eq!(i.get_health_check_grace_period_seconds(), &Some(60));
    let dc = i.get_deployment_configuration().as_ref().unwrap();
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert!(cb.enable() && cb.rollback());
    assert_eq!(
        (dc.minimum_healthy_percent(), dc.maximum_percent()),
        (Some(100), Some(200))
    );
    let tags = request_tags(i.get_tags());
    assert_eq!(tags[TAG_STABLE_TIMEOUT], "600");
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn update_service_sends_only_what_changed() {
    let rs = expand(&prod(None));
    let desired = get(&rs, "ecs_service/app");
    let prior = live_service(2, desired);
    let mut r = resolved(desired, Some(&prior));
    r.props
        .insert("task_definition".into(), Value::str(td_arn(5)));
    let req = update_request(&client(), &r, &prior, &set(&["task_definition"]))
        .unwrap()
        .unwrap();
    let i = req.as_input();
    assert_eq!(i.get_cluster().as_deref(), Some("rtech-dev"));
    assert_eq!(i.get_service().as_deref(), Some("rtech-dev-app"));
    assert_eq!(i.get_task_definition(), &Some(td_arn(5)));
    // The scaler's count is never sent unless it is what changed.
    assert_eq!(i.get_desired_count(), &None);
    assert!(i.get_network_configuration().is_none());
    assert!(i.get_deployment_configuration().is_none());

    let req = update_request(
        &client(),
        &r,
        &prior,
        &set(&["subnets", "minimum_healthy_percent"]),
    )
    .unwrap()
    .unwrap();
    let i = req.as_input();
    assert!(i.get_network_configuration().is_some());
    assert!(i.get_deployment_configuration().is_some());
    assert_eq!(i.get_task_definition(), &None);

    // A tags-only task definition update leaves the ARN as it was: nothing to deploy.
    let same = resolved(desired, Some(&prior));
    assert!(
        update_request(&client(), &same, &prior, &set(&["task_definition"]))
            .unwrap()
            .is_none()
    );
    assert!(update_request(&client(), &same, &prior, &set(&["tags"]))
        .unwrap()
        .is_none());
}

/// Prod with ECS running a 10 % canary behind the edge.
fn canary_prod() -> Spec {
    spec_of(
        &format!(
            "{DATA}{ECR}{PROD_APP}\n[app.deploy]\nstrategy = \"canary\"\ncanary_percent = 10\ncanary_bake_minutes = 5\nbake_minutes = 10\n\n[edge]\n"
        ),
        None,
    )
}

/// `aws_service` as ECS reports a service created from the canary spec.
fn aws_canary_service() -> Service {
    use aws_sdk_ecs::types::{
        AdvancedConfiguration, CanaryConfiguration, DeploymentAlarms, DeploymentStrategy,
    };
    let dc = deployment_config()
        .strategy(DeploymentStrategy::Canary)
        .canary_configuration(
            CanaryConfiguration::builder()
                .canary_percent(10.0)
                .canary_bake_time_in_minutes(5)
                .build(),
        )
        .bake_time_in_minutes(10)
        .alarms(
            DeploymentAlarms::builder()
                .alarm_names("rtech-dev-error-rate")
                .alarm_names("rtech-dev-elb-5xx")
                .alarm_names("rtech-dev-alb-latency-p95")
                .enable(true)
                .rollback(true)
                .build()
                .unwrap(),
        )
        .build();
    let lb = app_load_balancer()
        .advanced_configuration(
            AdvancedConfiguration::builder()
                .alternate_target_group_arn(GREEN_ARN)
                .production_listener_rule(RULE_ARN)
                .role_arn(INFRA_ROLE)
                .build(),
        )
        .build();
    aws_service_with(2, &["subnet-aaa", "subnet-bbb"], &td_arn(4), dc, lb)
}

#[test]
fn a_canary_service_sends_strategy_bakes_alarms_and_the_blue_green_wiring() {
    let rs = expand(&canary_prod());
    let r = resolved(get(&rs, "ecs_service/app"), None);
    let req = create_request(&client(), &r).unwrap();
    let i = req.as_input();
    let dc = i.get_deployment_configuration().as_ref().unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("CANARY"));
    let c = dc.canary_configuration().unwrap();
    assert_eq!(
        (c.canary_percent(), c.canary_bake_time_in_minutes()),
        (Some(10.0), Some(5))
    );
    assert_eq!(dc.bake_time_in_minutes(), Some(10));
    let a = dc.alarms().unwrap();
    assert!(a.enable() && a.rollback());
    assert_eq!(
        a.alarm_names(),
        [
            "rtech-dev-error-rate",
            "rtech-dev-elb-5xx",
            "rtech-dev-alb-latency-p95"
        ]
    );
    // The circuit breaker stays on beside them.
    assert!(dc.deployment_circuit_breaker().unwrap().rollback());
    let adv = i.get_load_balancers().as_ref().unwrap()[0]
        .advanced_configuration()
        .unwrap();
    assert_eq!(
        (
            adv.alternate_target_group_arn(),
            adv.production_listener_rule(),
            adv.role_arn()
        ),
        (Some(GREEN_ARN), Some(RULE_ARN), Some(INFRA_ROLE))
    );
    for d in [
        "target_group/green",
        "listener_rule/production",
        "iam_role/ecs_infrastructure",
    ] {
        assert!(
            get(&rs, "ecs_service/app")
                .deps
                .contains(&d.parse().unwrap()),
            "{d}"
        );
    }
}

#[test]
fn a_canary_service_as_ecs_reports_it_plans_nothing_and_a_rolling_one_is_that_drift() {
    let rs = expand(&canary_prod());
    let desired = get(&rs, "ecs_service/app");
    let mut world_extra = vec![];
    for (id, arn) in [
        ("target_group/green", GREEN_ARN),
        ("listener_rule/production", RULE_ARN),
        ("iam_role/ecs_infrastructure", INFRA_ROLE),
        ("listener/https", "arn:listener"),
    ] {
        world_extra.push(Observed::new(id.parse::<ResourceId>().unwrap(), arn).attr("arn", arn));
    }
    let tags = tags_with(
        &service_id(),
        "rtech-dev-app",
        &[(TAG_STABLE_TIMEOUT, "600")],
    );
    let live = observe_service(&aws_canary_service(), &tags, &subnet_rids(), Some(desired));
    let mut ecs_live = vec![live_cluster("enabled"), live_td("v1"), live];
    ecs_live.extend(world_extra.clone());
    let only_service = |p: &Plan| -> Vec<String> {
        p.changes
            .iter()
            .filter(|c| c.id == service_id())
            .flat_map(|c| c.changed_props())
            .collect()
    };
    let desired_ecs: Vec<Resource> = rs
        .iter()
        .filter(|r| r.id.kind.starts_with("ecs_"))
        .cloned()
        .collect();
    assert!(only_service(&plan_of(&desired_ecs, &ecs_live)).is_empty());

    // Someone switched it back to a rolling deployment without alarms.
    let rolling = observe_service(
        &aws_service(2, &["subnet-aaa", "subnet-bbb"], &td_arn(4)),
        &tags,
        &subnet_rids(),
        Some(desired),
    );
    let mut ecs_live = vec![live_cluster("enabled"), live_td("v1"), rolling.clone()];
    ecs_live.extend(world_extra);
    let mut changed = only_service(&plan_of(&desired_ecs, &ecs_live));
    changed.sort();
    assert_eq!(
        changed,
        [
            "bake_minutes",
            "canary",
            "load_balancers",
            "rollback_alarms",
            "strategy"
        ]
    );
    // Repaired by one UpdateService with the whole deployment configuration.
    let r = resolved(desired, Some(&rolling));
    let req = update_request(
        &client(),
        &r,
        &rolling,
        &set(&["strategy", "canary", "bake_minutes", "rollback_alarms"]),
    )
    .unwrap()
    .unwrap();
    let dc = req
        .as_input()
        .get_deployment_configuration()
        .clone()
        .unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("CANARY"));
    assert_eq!(dc.maximum_percent(), Some(200));
    assert!(req.as_input().get_load_balancers().is_none());
}

// ---------------------------------------------------------------------------------------------
// deployment failures

fn deployment(id: &str, td: &str, status: &str, state: DeploymentRolloutState) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td)
        .desired_count(2)
        .running_count(0)
        .failed_tasks(3)
        .rollout_state(state)
        .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
        .build()
}

#[test]
fn a_failed_or_rolled_back_deployment_is_reported_with_events() {
    let want = td_arn(5);
    let mut s = aws_service(2, &["subnet-aaa"], &want);
    s.deployments = Some(vec![deployment(
        "ecs-svc/1",
        &want,
        "PRIMARY",
        DeploymentRolloutState::Failed,
    )]);
    s.events = Some(vec![
        ServiceEvent::builder()
            .id("e2")
            .message("(service rtech-dev-app) deployment failed: tasks failed to start.")
            .build(),
        ServiceEvent::builder()
            .id("e1")
            .message("(service rtech-dev-app) has started 2 tasks.")
            .build(),
    ]);
    let why = deployment_failure(&s, &want).unwrap();
    assert!(why.contains("failed"), "{why}");
    assert!(why.contains("circuit breaker"), "{why}");
    let ev = latest_events(&s);
    assert!(
        ev.lines().next().unwrap().contains("deployment failed"),
        "{ev}"
    );

    // Rolled back: the service runs the previous revision again.
    let mut back = aws_service(2, &["subnet-aaa"], &td_arn(4));
    back.deployments = Some(vec![deployment(
        "ecs-svc/2",
        &td_arn(4),
        "PRIMARY",
        DeploymentRolloutState::Completed,
    )]);
    let why = deployment_failure(&back, &want).unwrap();
    assert!(why.contains("rolled it back"), "{why}");

    // In progress or done with the wanted revision: no failure.
    let mut ok = aws_service(2, &["subnet-aaa"], &want);
    ok.deployments = Some(vec![deployment(
        "ecs-svc/3",
        &want,
        "PRIMARY",
        DeploymentRolloutState::InProgress,
    )]);
    assert!(deployment_failure(&ok, &want).is_none());
}

#[test]
fn ownership_needs_project_env_and_id() {
    let t = tags_with(&service_id(), "rtech-dev-app", &[]);
    assert!(crate::reconcile::kit::is_ours(
        &t,
        "rtech",
        "dev",
        &service_id()
    ));
    assert!(
        !crate::reconcile::kit::is_ours(&t, "rtech", "dev", &cluster_id()),
        "another id"
    );
    assert!(
        !crate::reconcile::kit::is_ours(&t, "rtech", "prod", &service_id()),
        "another env"
    );
    assert!(
        !crate::reconcile::kit::is_ours(&t, "other", "dev", &service_id()),
        "another project"
    );
    assert!(!crate::reconcile::kit::is_ours(
        &BTreeMap::new(),
        "rtech",
        "dev",
        &service_id()
    ));
}

// ---------------------------------------------------------------------------------------------
// the revision in use (a rolled-back deploy)

fn td_ours(t: &BTreeMap<String, String>) -> bool {
    crate::reconcile::kit::is_ours(t, "rtech", "dev", &task_definition_id())
}

fn observed(r: InUse) -> Observed {
    match r {
        InUse::Observed(o) => o,
        InUse::Theirs => panic!("no revision of ours settled"),
    }
}

/// The circuit breaker rolled `abc123` (revision 5) back: the service runs revision 4 (v1).
fn rolled_back() -> (TaskDefinition, TaskDefinition) {
    (
        aws_task_definition(5, aws_container(&format!("{REPO_URL}:abc123"))),
        aws_task_definition(4, aws_container(&format!("{REPO_URL}:v1"))),
    )
}

#[test]
fn after_a_rollback_the_plan_keeps_the_image_that_runs_and_leaves_the_service() {
    let (newest, in_use) = rolled_back();
    let tags = td_tags(3);
    let o = observed(observe_in_use(
        (&newest, &tags),
        Some((&in_use, &tags)),
        td_ours,
    ));
    assert_eq!(o.physical_id, td_arn(4));
    assert_eq!(o.attrs["arn"], td_arn(4));
    assert_eq!(o.attrs["revision"], "4");
    assert_eq!(o.props["image_tag"], Value::str("v1"));

    // The service runs 4 (live_service): no change at all, the failing image stays out.
    let rs = expand(&prod(None));
    let mut live = live_prod("v1", 2);
    live[1] = o.clone();
    let plan = plan_of(&rs, &live);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    // `rtech output` reports the revision in use.
    let out = crate::commands::outputs(&live);
    assert_eq!(out["task_definition_revision"], "4");
    assert_eq!(out["task_definition_arn"], td_arn(4).as_str());

    // Deploying abc123 again is a task definition update (apply reuses revision 5) and a
    // service update.
    let plan = plan_of(&expand(&prod(Some("abc123"))), &live);
    assert_eq!(
        actions(&plan),
        [
            ("ecs_task_definition/app".to_string(), Action::Update),
            ("ecs_service/app".to_string(), Action::Update)
        ]
    );

    // Without a service (or when it runs the newest), the newest ACTIVE revision.
    let o = observed(observe_in_use((&newest, &tags), None, td_ours));
    assert_eq!(o.attrs["revision"], "5");
    assert_eq!(o.props["image_tag"], Value::str("abc123"));
}

#[test]
fn a_revision_of_theirs_newer_than_ours_in_use_or_in_use_itself_is_flagged() {
    let (newest, in_use) = rolled_back();
    let ours_t = td_tags(3);
    let theirs_t = BTreeMap::new();
    let extras = |o: &Observed| o.props["extras"].to_string();

    // Theirs on top of the revision of ours that runs: compared is ours, flagged.
    let o = observed(observe_in_use(
        (&newest, &theirs_t),
        Some((&in_use, &ours_t)),
        td_ours,
    ));
    assert_eq!(o.attrs["revision"], "4");
    assert!(
        extras(&o).contains("revision 5 registered without"),
        "{o:?}"
    );

    // Theirs runs, ours is the newest: theirs is compared and flagged, ours' attributes.
    let o = observed(observe_in_use(
        (&newest, &ours_t),
        Some((&in_use, &theirs_t)),
        td_ours,
    ));
    assert_eq!(o.attrs["revision"], "5");
    assert_eq!(o.props["image_tag"], Value::str("v1"));
    assert!(
        extras(&o).contains("revision 4 registered without"),
        "{o:?}"
    );

    // Neither is ours: observe looks further back.
    assert!(matches!(
        observe_in_use((&newest, &theirs_t), Some((&in_use, &theirs_t)), td_ours),
        InUse::Theirs
    ));
    assert!(matches!(
        observe_in_use((&newest, &theirs_t), None, td_ours),
        InUse::Theirs
    ));
}

#[test]
fn a_revision_equal_to_the_desired_one_is_reused_whatever_its_tags() {
    let rs = expand(&prod(Some("abc123")));
    let live = live_td("v1");
    let r = resolved(get(&rs, "ecs_task_definition/app"), Some(&live));
    let newest = observe_task_definition(
        &aws_task_definition(5, aws_container(&format!("{REPO_URL}:abc123"))),
        &td_tags(3),
    );
    assert!(same_definition(&r, &newest));
    // Tags and keep_revisions live in tags: they are synced, never a reason to register.
    let other_tags = observe_task_definition(
        &aws_task_definition(5, aws_container(&format!("{REPO_URL}:abc123"))),
        &td_tags(7),
    );
    assert!(same_definition(&r, &other_tags));
    // Another image, or anything set out of band, is not the definition wanted.
    assert!(!same_definition(&r, &live));
    let mut c = aws_container(&format!("{REPO_URL}:abc123"));
    c.command = Some(vec!["node".into()]);
    let extra = observe_task_definition(&aws_task_definition(5, c), &td_tags(3));
    assert!(!same_definition(&r, &extra));
    // An unresolved reference never matches.
    let unresolved = get(&rs, "ecs_task_definition/app");
    assert!(!same_definition(unresolved, &newest));
}

#[test]
fn a_family_without_an_active_revision_is_read_as_none_and_other_client_errors_stay() {
    let e = |code: &str, msg: &str| AwsError::new("ecs:DescribeTaskDefinition", code, msg);
    // AWS's answer to a family's name with no ACTIVE revision (or no revision at all).
    assert!(no_active_revision(&e(
        "ClientException",
        "Unable to describe task definition."
    )));
    assert!(!no_active_revision(&e(
        "ClientException",
        "ECS was unable to assume the role that was provided for this task."
    )));
    assert!(!no_active_revision(&e(
        "AccessDeniedException",
        "Unable to describe task definition."
    )));
}

// ---------------------------------------------------------------------------------------------
// retries, idempotency, waits

#[test]
fn only_a_role_ecs_cannot_assume_yet_is_retried() {
    let e = |code: &str, msg: &str| AwsError::new("ecs:CreateService", code, msg);
    assert!(role_not_ready(&e(
        "InvalidParameterException",
        "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/rtech-dev-ecs-execution' that was provided for this task."
    )));
    assert!(role_not_ready(&e(
        "InvalidParameterException",
        "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions."
    )));
    assert!(role_not_ready(&e(
        "ClientException",
        "ECS was unable to assume the role that was provided for this task."
    )));
    assert!(!role_not_ready(&e(
        "InvalidParameterException",
        "The target group does not have an associated load balancer."
    )));
    assert!(!role_not_ready(&e(
        "AccessDeniedException",
        "unable to assume role"
    )));
}

#[tokio::test(start_paused = true)]
async fn a_role_not_yet_assumable_is_retried_until_it_propagates_or_the_time_is_up() {
    let not_ready = || {
        AwsError::new(
            "ecs:CreateService",
            "InvalidParameterException",
            "ECS was unable to assume the role that was provided for this task.",
        )
    };
    let task = crate::progress::Progress::new(true, false).start("ecs_service/app", "creating");
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let r = while_role_propagates(&task, || {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n < 2 {
                Err(not_ready())
            } else {
                Ok(n)
            }
        }
    })
    .await;
    assert_eq!(r.unwrap(), 2);

    let start = tokio::time::Instant::now();
    let r: Result<(), AwsError> = while_role_propagates(&task, || async { Err(not_ready()) }).await;
    let e = r.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    assert!(e.message.contains("unable to assume the role"), "{e}");
    assert!(e.message.contains("(retried for "), "{e}");
    assert!(start.elapsed() <= ROLE_PROPAGATION, "{:?}", start.elapsed());

    // Any other error is not retried.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let r: Result<(), AwsError> = while_role_propagates(&task, || {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            Err(AwsError::new(
                "ecs:CreateService",
                "AccessDeniedException",
                "no",
            ))
        }
    })
    .await;
    assert_eq!(r.unwrap_err().code, "AccessDeniedException");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn create_service_carries_a_stable_client_token_of_at_most_36_characters() {
    let rs = expand(&prod(None));
    let r = resolved(get(&rs, "ecs_service/app"), None);
    let token = |r: &Resource| {
        create_request(&client(), r)
            .unwrap()
            .as_input()
            .get_client_token()
            .clone()
            .unwrap()
    };
    let t = token(&r);
    assert!(t.len() <= 36, "{t}");
    assert!(t.bytes().all(|b| (33..=126).contains(&b)), "{t}");
    assert_eq!(
        token(&r),
        t,
        "the same request, the same token (an SDK retry)"
    );
    let mut other = r.clone();
    other.props.insert("desired_count".into(), Value::Int(3));
    assert_ne!(token(&other), t, "another request, another token");
    // Pure: another rtech run (nonce) sends another token for the same request.
    let a = client_token("rtech-dev", "rtech-dev-app", "req", 1);
    assert_eq!(a, client_token("rtech-dev", "rtech-dev-app", "req", 1));
    assert_ne!(a, client_token("rtech-dev", "rtech-dev-app", "req", 2));
    assert_ne!(a, client_token("rtech-prod", "rtech-dev-app", "req", 1));
    assert_eq!(a.len(), 36);
}

#[test]
fn stable_is_one_deployment_all_running_and_completed_when_reported() {
    let want = td_arn(5);
    let dep = |running: i32, state: Option<DeploymentRolloutState>| {
        Deployment::builder()
            .id("ecs-svc/1")
            .status("PRIMARY")
            .task_definition(&want)
            .desired_count(2)
            .running_count(running)
            .set_rollout_state(state)
            .build()
    };
    let svc = |running: i32, deps: Vec<Deployment>| {
        let mut s = aws_service(2, &["subnet-aaa"], &want);
        s.running_count = running;
        s.deployments = Some(deps);
        s
    };
    assert!(is_stable(&svc(
        2,
        vec![dep(2, Some(DeploymentRolloutState::Completed))]
    )));
    assert!(is_stable(&svc(2, vec![dep(2, None)])), "no rollout state");
    assert!(!is_stable(&svc(
        2,
        vec![dep(2, Some(DeploymentRolloutState::InProgress))]
    )));
    assert!(!is_stable(&svc(1, vec![dep(1, None)])), "not all running");
    assert!(
        !is_stable(&svc(2, vec![dep(2, None), dep(0, None)])),
        "two deployments"
    );
    assert!(!is_stable(&svc(2, vec![])), "no deployment");
}

#[test]
fn a_deleted_service_is_done_when_inactive_or_gone() {
    let mut s = aws_service(0, &["subnet-aaa"], &td_arn(4));
    assert!(!inactive_or_gone(Some(&s)), "ACTIVE");
    s.status = Some("DRAINING".into());
    assert!(!inactive_or_gone(Some(&s)));
    s.status = Some("INACTIVE".into());
    assert!(inactive_or_gone(Some(&s)));
    // MISSING (aged out) or no cluster: `describe` says None.
    assert!(inactive_or_gone(None));
}

// ---------------------------------------------------------------------------------------------
// an unfinished rollout

/// A deployment as DescribeServices lists it, with all of its tasks running.
fn rollout_dep(id: &str, status: &str, state: Option<DeploymentRolloutState>) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td_arn(4))
        .desired_count(2)
        .running_count(2)
        .set_rollout_state(state)
        .build()
}

fn service_with(deployments: Vec<Deployment>) -> Service {
    let mut s = aws_service(2, &["subnet-bbb", "subnet-aaa"], &td_arn(4));
    s.deployments = Some(deployments);
    s
}

fn observed_with(deployments: Vec<Deployment>) -> Observed {
    let rs = expand(&prod(None));
    observe_service(
        &service_with(deployments),
        &tags_with(
            &service_id(),
            "rtech-dev-app",
            &[(TAG_STABLE_TIMEOUT, "600")],
        ),
        &subnet_rids(),
        Some(get(&rs, "ecs_service/app")),
    )
}

#[test]
fn an_unfinished_rollout_is_an_update_of_the_rollout_alone() {
    let rs = expand(&prod(None));
    for state in [
        DeploymentRolloutState::InProgress,
        DeploymentRolloutState::Failed,
    ] {
        let mut live = live_prod("v1", 2);
        live[2] = observed_with(vec![rollout_dep(
            "ecs-svc/1",
            "PRIMARY",
            Some(state.clone()),
        )]);
        let plan = plan_of(&rs, &live);
        assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
        let c = change(&plan, "ecs_service/app").unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1, "{:#?}", c.fields);
        assert_eq!(c.fields[0].path, "rollout");
        assert_eq!(c.fields[0].before, Some(Value::str(state.as_str())));
        assert_eq!(c.fields[0].after, Some(Value::str("COMPLETED")));
    }
    // COMPLETED, or no rollout state reported: nothing to do.
    for state in [Some(DeploymentRolloutState::Completed), None] {
        let mut live = live_prod("v1", 2);
        live[2] = observed_with(vec![rollout_dep("ecs-svc/1", "PRIMARY", state)]);
        let plan = plan_of(&rs, &live);
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    }
}

#[test]
fn the_rollout_is_the_primary_deployments() {
    // A failed deployment the circuit breaker is rolling back (ACTIVE, FAILED) beside the
    // rollback (PRIMARY): the rollout is the rollback's.
    let s = service_with(vec![
        rollout_dep(
            "ecs-svc/2",
            "PRIMARY",
            Some(DeploymentRolloutState::InProgress),
        ),
        rollout_dep("ecs-svc/1", "ACTIVE", Some(DeploymentRolloutState::Failed)),
    ]);
    assert_eq!(rollout_state(&s), "IN_PROGRESS");
    assert_eq!(rollout_state(&service_with(vec![])), "COMPLETED");
    let failed = service_with(vec![rollout_dep(
        "ecs-svc/1",
        "PRIMARY",
        Some(DeploymentRolloutState::Failed),
    )]);
    assert_eq!(rollout_state(&failed), "FAILED");
}

#[test]
fn a_rollout_only_update_sends_nothing_and_waits_or_fails() {
    let rs = expand(&prod(None));
    let desired = get(&rs, "ecs_service/app");
    let prior = observed_with(vec![rollout_dep(
        "ecs-svc/1",
        "PRIMARY",
        Some(DeploymentRolloutState::InProgress),
    )]);
    let r = resolved(desired, Some(&prior));
    assert!(
        update_request(&client(), &r, &prior, &set(&["rollout"]))
            .unwrap()
            .is_none(),
        "no UpdateService"
    );
    assert!(
        update_request(&client(), &r, &prior, &set(&["rollout", "tags"]))
            .unwrap()
            .is_none()
    );
    let want = td_arn(4);
    let in_progress = service_with(vec![rollout_dep(
        "ecs-svc/1",
        "PRIMARY",
        Some(DeploymentRolloutState::InProgress),
    )]);
    assert_eq!(rollout_check(&in_progress, &want), RolloutCheck::Wait);
    // Completed since the plan: nothing to wait for.
    let done = service_with(vec![rollout_dep(
        "ecs-svc/1",
        "PRIMARY",
        Some(DeploymentRolloutState::Completed),
    )]);
    assert_eq!(rollout_check(&done, &want), RolloutCheck::Done);
    // FAILED (the circuit breaker without rollback): the apply fails, naming the deployment.
    let mut failed = rollout_dep("ecs-svc/1", "PRIMARY", Some(DeploymentRolloutState::Failed));
    failed.rollout_state_reason =
        Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let s = service_with(vec![failed]);
    match rollout_check(&s, &want) {
        RolloutCheck::Failed(why) => {
            assert!(why.contains("ecs-svc/1"), "{why}");
            assert!(why.contains("circuit breaker"), "{why}");
            assert!(why.contains("no new deployment"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // A FAILED PRIMARY deployment fails a wait whatever task definition it runs.
    assert!(deployment_failure(&s, &td_arn(9)).is_some());
}

#[test]
fn observed_props_round_trip_through_each_kinds_struct() {
    let mut live = live_prod("v1", 2);
    live.push(live_td("v2"));
    for o in live {
        let k = KINDS
            .iter()
            .find(|k| k.schema().kind == o.id.kind)
            .expect("an ecs kind");
        assert_eq!(k.round_trip(&o.props).unwrap(), o.props, "{}", o.id);
    }
}
