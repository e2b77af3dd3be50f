//! Auto scaling: expansion of the real env files, the normalisation observe does (through the
//! real diff), the policies' diff, and the requests apply sends.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_types::DateTime;

use super::*;
use crate::plan::{diff, Action, DiffInput, Plan};

const RID: &str = "service/rtech-prod/rtech-prod-app";

fn env_spec(env: &str) -> Spec {
    let path = format!("{}/envs/{env}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    crate::spec::parse(&format!("envs/{env}.toml"), &text, env).unwrap_or_else(|e| panic!("{e:?}"))
}

fn get<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

#[test]
fn dev_has_no_scaling() {
    let s = env_spec("dev");
    assert!(s.app.is_some() && s.app.as_ref().unwrap().scaling.is_none());
    assert!(expand(&s).is_empty());
}

#[test]
fn prod_scales_the_service_between_2_and_10_on_cpu_and_memory() {
    let rs = expand(&env_spec("prod"));
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "scalable_target/app",
            "scaling_policy/cpu",
            "scaling_policy/memory"
        ]
    );
    let t = get(&rs, "scalable_target/app");
    assert_eq!(t.name, RID);
    assert_eq!(t.get_str("resource_id"), Some(RID));
    assert_eq!(t.get_str("service_namespace"), Some("ecs"));
    assert_eq!(
        t.get_str("scalable_dimension"),
        Some("ecs:service:DesiredCount")
    );
    assert_eq!(t.props["min_capacity"], Value::Int(2));
    assert_eq!(t.props["max_capacity"], Value::Int(10));
    assert_eq!(
        t.deps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["ecs_service/app"]
    );
    let tags = tags_of(&t.props);
    assert_eq!(tags[TAG_ID], "scalable_target/app");
    assert_eq!(tags[TAG_ENV], "prod");
    assert_eq!(tags["Environment"], "production");

    for (key, name, metric, target) in [
        (
            "cpu",
            "rtech-prod-cpu-autoscaling",
            "ECSServiceAverageCPUUtilization",
            70,
        ),
        (
            "memory",
            "rtech-prod-memory-autoscaling",
            "ECSServiceAverageMemoryUtilization",
            80,
        ),
    ] {
        let p = get(&rs, &format!("scaling_policy/{key}"));
        assert_eq!(p.name, name);
        assert_eq!(p.get_str("policy_name"), Some(name));
        assert_eq!(p.get_str("resource_id"), Some(RID));
        assert_eq!(p.get_str("policy_type"), Some("TargetTrackingScaling"));
        assert_eq!(p.get_str("metric"), Some(metric));
        assert_eq!(p.props["target_value"], Value::Int(target));
        assert_eq!(p.props["scale_in_cooldown_seconds"], Value::Int(300));
        assert_eq!(p.props["scale_out_cooldown_seconds"], Value::Int(60));
        assert_eq!(p.props["disable_scale_in"], Value::Bool(false));
        assert_eq!(
            p.deps.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["scalable_target/app"]
        );
        assert!(
            MetricType::values().contains(&metric),
            "{metric} is a metric AWS knows"
        );
    }
}

#[test]
fn names_are_derived_from_project_and_env_alone() {
    // Observe (and destroy, which has no spec) finds everything from these.
    let s = env_spec("prod");
    assert_eq!(resource_id(&s.project, &s.env), RID);
    assert_eq!(cluster_name("rtech", "prod"), "rtech-prod");
    assert_eq!(service_name("rtech", "prod"), s.name("app"));
    for (key, role, _) in POLICIES {
        let r = expand(&s);
        assert_eq!(
            get(&r, &format!("scaling_policy/{key}")).name,
            policy_name("rtech", "prod", role)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// observe → diff

fn live_target(min: i32, max: i32) -> ScalableTarget {
    ScalableTarget::builder()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RID)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
        .creation_time(DateTime::from_secs(0))
        .scalable_target_arn("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/abc")
        .build()
        .unwrap()
}

/// A policy as AWS describes it: target value a double, `DisableScaleIn` left out.
fn live_policy(name: &str, metric: MetricType, target: f64, scale_in: i32) -> ScalingPolicy {
    ScalingPolicy::builder()
        .policy_arn(format!("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:resource/ecs/{RID}:policyName/{name}"))
        .policy_name(name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RID)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(target)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(metric)
                        .build()
                        .unwrap(),
                )
                .scale_in_cooldown(scale_in)
                .scale_out_cooldown(60)
                .build()
                .unwrap(),
        )
        .creation_time(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn observed_prod(max: i32, cpu_target: f64) -> Vec<Observed> {
    let rs = expand(&env_spec("prod"));
    let tags = get(&rs, "scalable_target/app").props.get("tags");
    let mut service = Observed::new(ResourceId::new("ecs_service", "app"), "svc");
    service.attrs.insert("name".into(), "rtech-prod-app".into());
    vec![
        service,
        observe_target(&live_target(2, max), tags),
        observe_policy(
            policy_id("cpu"),
            &live_policy(
                "rtech-prod-cpu-autoscaling",
                MetricType::EcsServiceAverageCpuUtilization,
                cpu_target,
                300,
            ),
        ),
        observe_policy(
            policy_id("memory"),
            &live_policy(
                "rtech-prod-memory-autoscaling",
                MetricType::EcsServiceAverageMemoryUtilization,
                80.0,
                300,
            ),
        ),
    ]
}

fn plan_of(desired: &[Resource], observed: &[Observed], destroy: bool) -> Plan {
    let mut plan = diff(&DiffInput {
        project: "rtech",
        env: "prod",
        region: "us-east-1",
        desired,
        observed,
        schema: &crate::reconcile::schema,
        targets: &[],
        destroy,
    })
    .unwrap();
    plan.changes.retain(|c| c.id.kind != "ecs_service");
    plan
}

#[test]
fn a_target_and_policies_as_created_have_no_diff() {
    let rs = expand(&env_spec("prod"));
    let o = observed_prod(10, 70.0);
    let plan = plan_of(&rs, &o, false);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(o[1].attrs["resource_id"], RID);
    assert_eq!(o[1].physical_id, RID);
    assert_eq!(o[2].attrs["name"], "rtech-prod-cpu-autoscaling");
    assert!(o[2].attrs["arn"].contains("policyName/rtech-prod-cpu-autoscaling"));
    assert_eq!(o[2].props["disable_scale_in"], Value::Bool(false));
}

#[test]
fn a_changed_max_is_exactly_that_update() {
    let rs = expand(&env_spec("prod"));
    let plan = plan_of(&rs, &observed_prod(4, 70.0), false);
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = &plan.changes[0];
    assert_eq!(c.id, target_id());
    assert_eq!(c.action, Action::Update);
    let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["max_capacity"]);
    assert_eq!(c.fields[0].before, Some(Value::Int(4)));
    assert_eq!(c.fields[0].after, Some(Value::Int(10)));
}

#[test]
fn a_changed_target_value_is_an_update_of_that_policy_alone() {
    let rs = expand(&env_spec("prod"));
    let plan = plan_of(&rs, &observed_prod(10, 55.5), false);
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = &plan.changes[0];
    assert_eq!(c.id, policy_id("cpu"));
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].path, "target_value");
    assert_eq!(c.fields[0].before, Some(Value::str("55.5")));
    assert_eq!(c.fields[0].after, Some(Value::Int(70)));
}

#[test]
fn a_deleted_policy_is_created_and_a_renamed_one_replaced() {
    let rs = expand(&env_spec("prod"));
    let mut o = observed_prod(10, 70.0);
    o.retain(|x| x.id != policy_id("memory"));
    let plan = plan_of(&rs, &o, false);
    let got: Vec<(String, Action)> = plan
        .changes
        .iter()
        .map(|c| (c.id.to_string(), c.action))
        .collect();
    assert_eq!(got, [("scaling_policy/memory".to_string(), Action::Create)]);

    let mut o = observed_prod(10, 70.0);
    o[2].props
        .insert("policy_name".into(), Value::str("rtech-prod-cpu-old"));
    let plan = plan_of(&rs, &o, false);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Replace);
    assert_eq!(
        plan.changes[0].reason.as_deref(),
        Some("policy_name cannot change in place")
    );
}

#[test]
fn a_policy_on_another_metric_or_with_other_cooldowns_is_updated_in_place() {
    let rs = expand(&env_spec("prod"));
    let mut o = observed_prod(10, 70.0);
    o[3] = observe_policy(
        policy_id("memory"),
        &live_policy(
            "rtech-prod-memory-autoscaling",
            MetricType::EcsServiceAverageCpuUtilization,
            80.0,
            10,
        ),
    );
    let plan = plan_of(&rs, &o, false);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(
        plan.changes[0]
            .changed_props()
            .into_iter()
            .collect::<Vec<_>>(),
        ["metric", "scale_in_cooldown_seconds"]
    );
}

#[test]
fn foreign_targets_and_policies_are_conflicts_never_changes() {
    let rs = expand(&env_spec("prod"));
    let mut service = Observed::new(ResourceId::new("ecs_service", "app"), "svc");
    service.attrs.insert("name".into(), "rtech-prod-app".into());
    let o = vec![
        service,
        foreign(target_id(), RID),
        foreign(policy_id("cpu"), "arn:cpu"),
    ];
    let plan = plan_of(&rs, &o, false);
    let conflicts: Vec<String> = plan.conflicts.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(conflicts, ["scalable_target/app", "scaling_policy/cpu"]);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.action == Action::Create && c.id == policy_id("memory")),
        "{:#?}",
        plan.changes
    );
    // And destroy leaves them alone.
    let plan = plan_of(&[], &o[1..], true);
    assert!(plan.changes.is_empty());
}

#[test]
fn destroy_goes_policies_then_target_then_service() {
    let mut o = observed_prod(10, 70.0);
    o[0].props.insert("x".into(), Value::Int(1));
    let plan = diff(&DiffInput {
        project: "rtech",
        env: "prod",
        region: "us-east-1",
        desired: &[],
        observed: &o,
        schema: &crate::reconcile::schema,
        targets: &[],
        destroy: true,
    })
    .unwrap();
    let ids: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
    let pos = |id: &str| ids.iter().position(|x| x == id).unwrap();
    assert!(pos("scaling_policy/cpu") < pos("scalable_target/app"));
    assert!(pos("scaling_policy/memory") < pos("scalable_target/app"));
    assert!(pos("scalable_target/app") < pos("ecs_service/app"));
}

#[test]
fn only_the_env_s_own_service_tags_make_it_ours() {
    let mut t = tags_for(
        "rtech",
        "prod",
        &ResourceId::new("ecs_service", "app"),
        "rtech-prod-app",
        &BTreeMap::new(),
    );
    assert!(service_tags_are_ours("rtech", "prod", &t));
    assert!(!service_tags_are_ours("rtech", "dev", &t));
    assert!(!service_tags_are_ours("other", "prod", &t));
    t.insert(TAG_ID.into(), "ecs_service/other".into());
    assert!(!service_tags_are_ours("rtech", "prod", &t));
    assert!(!service_tags_are_ours("rtech", "prod", &BTreeMap::new()));
}

#[test]
fn whole_target_values_read_back_as_integers() {
    assert_eq!(number(70.0), Value::Int(70));
    assert_eq!(number(0.0), Value::Int(0));
    assert_eq!(number(72.5), Value::str("72.5"));
}

// ---------------------------------------------------------------------------------------------
// requests

fn client() -> Client {
    let conf = aws_sdk_applicationautoscaling::Config::builder()
        .behavior_version(aws_sdk_applicationautoscaling::config::BehaviorVersion::latest())
        .region(aws_sdk_applicationautoscaling::config::Region::new(
            "us-east-1",
        ))
        .build();
    Client::from_conf(conf)
}

#[test]
fn register_sends_min_max_and_tags_only_on_create() {
    let rs = expand(&env_spec("prod"));
    let t = get(&rs, "scalable_target/app");
    let req = register_request(&client(), t, true);
    let i = req.as_input();
    assert_eq!(i.get_service_namespace(), &Some(ServiceNamespace::Ecs));
    assert_eq!(
        i.get_scalable_dimension(),
        &Some(ScalableDimension::EcsServiceDesiredCount)
    );
    assert_eq!(i.get_resource_id().as_deref(), Some(RID));
    assert_eq!(i.get_min_capacity(), &Some(2));
    assert_eq!(i.get_max_capacity(), &Some(10));
    let tags = i.get_tags().clone().unwrap();
    assert_eq!(tags[TAG_ID], "scalable_target/app");
    assert_eq!(tags.len(), tags_of(&t.props).len());

    let req = register_request(&client(), t, false);
    assert_eq!(req.as_input().get_tags(), &None);
    assert_eq!(req.as_input().get_max_capacity(), &Some(10));
}

#[test]
fn put_policy_sends_a_target_tracking_configuration() {
    let rs = expand(&env_spec("prod"));
    let p = get(&rs, "scaling_policy/memory");
    let req = put_policy_request(&client(), p).unwrap();
    let i = req.as_input();
    assert_eq!(
        i.get_policy_name().as_deref(),
        Some("rtech-prod-memory-autoscaling")
    );
    assert_eq!(i.get_resource_id().as_deref(), Some(RID));
    assert_eq!(
        i.get_policy_type(),
        &Some(PolicyType::TargetTrackingScaling)
    );
    let cfg = i
        .get_target_tracking_scaling_policy_configuration()
        .clone()
        .unwrap();
    assert_eq!(cfg.target_value(), 80.0);
    assert_eq!(
        cfg.predefined_metric_specification()
            .unwrap()
            .predefined_metric_type(),
        &MetricType::EcsServiceAverageMemoryUtilization
    );
    assert_eq!(cfg.scale_in_cooldown(), Some(300));
    assert_eq!(cfg.scale_out_cooldown(), Some(60));
    assert_eq!(cfg.disable_scale_in(), Some(false));
}
