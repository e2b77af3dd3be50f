//! Auto scaling: expansion of the real env files, the normalisation observe does (through the
//! real diff), the policies' diff, and the requests apply sends.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_smithy_types::DateTime;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_applicationautoscaling::Client;

use super::scalable_target::*;
use super::scaling_policy::*;
use super::*;
use crate::model::{tags_for, tags_of, Value, TAG_ENV, TAG_ID};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::tags::tag_delta;
use crate::reconcile::kit::{from_props, gone_ok, is_ours};
use crate::testutil::{actions, diff_of, env_spec, get, only_update};

const RID: &str = "service/rtech-prod/rtech-prod-app";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/rtech-prod/rtech-prod-app";
const TARGET_ARN: &str =
    "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/abc";

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
    assert_eq!(
        t.props["service_arn"],
        Value::reference(&ecs_service(), "arn")
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
            p.props["scalable_target_arn"],
            Value::reference(&target_id(), "arn")
        );
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
    live_target_arn(min, max, TARGET_ARN)
}

fn live_target_arn(min: i32, max: i32, arn: &str) -> ScalableTarget {
    ScalableTarget::builder()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RID)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
        .creation_time(DateTime::from_secs(0))
        .scalable_target_arn(arn)
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

/// The live ECS service (`ecs_service/app`), as the ECS reconciler reports it.
fn service() -> Observed {
    let mut service = Observed::new(ecs_service(), SERVICE_ARN);
    service.attrs.insert("name".into(), "rtech-prod-app".into());
    service.attrs.insert("arn".into(), SERVICE_ARN.into());
    service
}

fn observed_prod(max: i32, cpu_target: f64) -> Vec<Observed> {
    observed_at(max, cpu_target, TARGET_ARN)
}

/// The service, the target (registered as `target_arn`, tagged as the spec says) and both
/// policies, as observe reports them.
fn observed_at(max: i32, cpu_target: f64, target_arn: &str) -> Vec<Observed> {
    let rs = expand(&env_spec("prod"));
    let tags = tags_of(&get(&rs, "scalable_target/app").props);
    vec![
        service(),
        observe_target(
            &live_target_arn(2, max, target_arn),
            tags,
            Some(SERVICE_ARN),
        ),
        observe_policy(
            policy_id("cpu"),
            &live_policy(
                "rtech-prod-cpu-autoscaling",
                MetricType::EcsServiceAverageCpuUtilization,
                cpu_target,
                300,
            ),
            Some(target_arn),
        ),
        observe_policy(
            policy_id("memory"),
            &live_policy(
                "rtech-prod-memory-autoscaling",
                MetricType::EcsServiceAverageMemoryUtilization,
                80.0,
                300,
            ),
            Some(target_arn),
        ),
    ]
}

fn plan_of(desired: &[Resource], observed: &[Observed], destroy: bool) -> Plan {
    let mut plan = diff_of("prod", desired, observed, destroy);
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
    let got = actions(&plan);
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
        Some(TARGET_ARN),
    );
    let plan = plan_of(&rs, &o, false);
    assert_eq!(only_update(&plan), ["metric", "scale_in_cooldown_seconds"]);
}

#[test]
fn foreign_targets_and_policies_are_conflicts_never_changes() {
    let rs = expand(&env_spec("prod"));
    let o = vec![
        service(),
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
    let plan = diff_of("prod", &[], &o, true);
    let ids: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
    let pos = |id: &str| ids.iter().position(|x| x == id).unwrap();
    assert!(pos("scaling_policy/cpu") < pos("scalable_target/app"));
    assert!(pos("scaling_policy/memory") < pos("scalable_target/app"));
    assert!(pos("scalable_target/app") < pos("ecs_service/app"));
}

#[test]
fn only_the_env_s_own_service_tags_make_it_ours() {
    let svc = ResourceId::new("ecs_service", "app");
    let mut t = tags_for("rtech", "prod", &svc, "rtech-prod-app", &BTreeMap::new());
    assert!(is_ours(&t, "rtech", "prod", &svc));
    assert!(!is_ours(&t, "rtech", "dev", &svc));
    assert!(!is_ours(&t, "other", "prod", &svc));
    t.insert(TAG_ID.into(), "ecs_service/other".into());
    assert!(!is_ours(&t, "rtech", "prod", &svc));
    assert!(!is_ours(&BTreeMap::new(), "rtech", "prod", &svc));
}

// ---------------------------------------------------------------------------------------------
// ownership and tags

fn prod_tags(id: &ResourceId, name: &str) -> BTreeMap<String, String> {
    tags_for("rtech", "prod", id, name, &BTreeMap::new())
}

#[test]
fn the_target_s_own_tags_decide_ownership() {
    let ours = prod_tags(&target_id(), RID);
    let service = prod_tags(&ecs_service(), "rtech-prod-app");
    let own = |t: Option<&BTreeMap<String, String>>| ownership("rtech", "prod", t);
    assert_eq!(own(Some(&ours)), Ownership::Owned);
    // An untagged (or unreadable) target is never ours, whatever its service's tags.
    assert_eq!(own(Some(&BTreeMap::new())), Ownership::Foreign);
    assert_eq!(own(None), Ownership::Foreign);
    // Another env's, another project's, another resource's tags.
    assert_eq!(ownership("rtech", "dev", Some(&ours)), Ownership::Foreign);
    assert_eq!(ownership("other", "prod", Some(&ours)), Ownership::Foreign);
    assert_eq!(own(Some(&service)), Ownership::Foreign);
}

#[test]
fn the_service_s_tags_never_decide_ownership() {
    let service = prod_tags(&ecs_service(), "rtech-prod-app");
    let mut both = service.clone();
    both.extend(prod_tags(&target_id(), RID));
    assert_eq!(
        ownership("rtech", "prod", Some(&service)),
        Ownership::Foreign
    );
    assert_eq!(ownership("rtech", "prod", Some(&both)), Ownership::Owned);
}

#[test]
fn live_tags_leave_out_aws_s_own() {
    let m: std::collections::HashMap<String, String> = [
        ("Name", RID),
        ("aws:cloudformation:stack-name", "x"),
        ("Team", "core"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let t = live_tags(Some(&m));
    assert_eq!(t.keys().collect::<Vec<_>>(), ["Name", "Team"]);
    assert!(live_tags(None).is_empty());
}

fn ecs_service_named(name: &str, status: &str, arn: &str) -> aws_sdk_ecs::types::Service {
    aws_sdk_ecs::types::Service::builder()
        .service_name(name)
        .status(status)
        .service_arn(arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(TAG_ID)
                .value("ecs_service/app")
                .build(),
        )
        .build()
}

#[test]
fn the_service_arn_is_the_live_active_service_s() {
    let active = ecs_service_named("rtech-prod-app", "ACTIVE", SERVICE_ARN);
    let gone = ecs_service_named("rtech-prod-app", "INACTIVE", "arn:old");
    let other = ecs_service_named("rtech-prod-other", "ACTIVE", "arn:other");
    let s = live_service(&[gone.clone(), active, other.clone()], "rtech-prod-app").unwrap();
    assert_eq!(s.as_deref(), Some(SERVICE_ARN));
    // A deleted (or draining) service has no ARN to scale: its target goes with it.
    let s = live_service(&[gone], "rtech-prod-app").unwrap();
    assert_eq!(s, None);
    assert_eq!(live_service(&[other], "rtech-prod-app"), None);
}

/// The target as observe reports it on AWS: its real tags.
fn with_live_tags(mut o: Vec<Observed>, tags: &BTreeMap<String, String>) -> Vec<Observed> {
    o[1] = observe_target(&live_target(2, 10), tags.clone(), Some(SERVICE_ARN));
    o
}

#[test]
fn real_tag_drift_on_the_target_is_an_update_of_those_tags_alone() {
    let rs = expand(&env_spec("prod"));
    let spec_tags = tags_of(&get(&rs, "scalable_target/app").props);
    // As created: no diff.
    let o = with_live_tags(observed_prod(10, 70.0), &spec_tags);
    assert!(plan_of(&rs, &o, false).changes.is_empty());

    // Out of band: a tag removed, one changed, one added.
    let mut live = spec_tags.clone();
    live.remove("Environment");
    live.insert("Name".into(), "renamed".into());
    live.insert("extra".into(), "x".into());
    let o = with_live_tags(observed_prod(10, 70.0), &live);
    let plan = plan_of(&rs, &o, false);
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let c = &plan.changes[0];
    assert_eq!((&c.id, c.action), (&target_id(), Action::Update));
    let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["tags.Environment", "tags.Name", "tags.extra"]);
    // Only the tag API is called, and it sends exactly the difference.
    assert_eq!(target_update_calls(&c.changed_props()), (false, true));
    let d = tag_delta(&live, &spec_tags);
    let untag = untag_request(&client(), TARGET_ARN, d.removed);
    assert_eq!(
        untag.as_input().get_resource_arn().as_deref(),
        Some(TARGET_ARN)
    );
    assert_eq!(
        untag.as_input().get_tag_keys().clone().unwrap(),
        ["extra".to_string()]
    );
    let tag = tag_request(&client(), TARGET_ARN, d.set.into_iter().collect());
    let set = tag.as_input().get_tags().clone().unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set["Environment"], "production");
    assert_eq!(set["Name"], RID);
    // A spec tag change reaches the target the same way.
    assert_eq!(tag_delta(&spec_tags, &spec_tags), Default::default());
}

#[test]
fn an_update_registers_only_for_capacity_and_tags_only_for_tags() {
    let set = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(target_update_calls(&set(&["max_capacity"])), (true, false));
    assert_eq!(target_update_calls(&set(&["tags"])), (false, true));
    assert_eq!(
        target_update_calls(&set(&["min_capacity", "tags"])),
        (true, true)
    );
}

#[test]
fn what_aws_removed_already_counts_as_deleted() {
    let e = |code: &str, msg: &str| AwsError::new("op", code, msg);
    let gone = |e: AwsError| gone_ok(Err::<(), _>(e)).is_ok();
    assert!(gone(e(
        "ObjectNotFoundException",
        "No scalable target registered"
    )));
    // Only AWS's not-found: a refused request is a failure, whatever its text.
    assert!(!gone(e(
        "ValidationException",
        "No scalable target found for service namespace: ecs, resource ID: x"
    )));
    assert!(!gone(e("ValidationException", "min > max")));
    assert!(!gone(e("AccessDeniedException", "No scaling policy found")));
}

// ---------------------------------------------------------------------------------------------
// a replaced ECS service

/// The ECS service as desired (FARGATE) and the live one launched otherwise, so the plan
/// replaces it (`launch_type` forces a new service).
fn replaced_service() -> (Resource, Observed) {
    let desired =
        Resource::new(ecs_service(), "rtech-prod-app").prop("launch_type", Value::str("FARGATE"));
    let live = service().prop("launch_type", Value::str("EC2"));
    (desired, live)
}

#[test]
fn a_replaced_service_replaces_the_target_and_puts_the_policies_again() {
    let (svc, live_svc) = replaced_service();
    let mut rs = expand(&env_spec("prod"));
    rs.push(svc);
    let mut o = observed_prod(10, 70.0);
    o[0] = live_svc;
    let plan = diff_of("prod", &rs, &o, false);
    assert_eq!(
        actions(&plan),
        [
            ("ecs_service/app".to_string(), Action::Replace),
            ("scalable_target/app".to_string(), Action::Replace),
            ("scaling_policy/cpu".to_string(), Action::Update),
            ("scaling_policy/memory".to_string(), Action::Update),
        ]
    );
    let t = &plan.changes[1];
    assert_eq!(
        t.reason.as_deref(),
        Some("service_arn cannot change in place")
    );
    assert_eq!(t.fields.len(), 1);
    assert_eq!(t.fields[0].after, Some(Value::Unknown));
    for c in &plan.changes[2..] {
        assert_eq!(
            c.changed_props().into_iter().collect::<Vec<_>>(),
            ["scalable_target_arn"]
        );
        assert_eq!(c.fields[0].before, Some(Value::str(TARGET_ARN)));
        assert_eq!(c.fields[0].after, Some(Value::Unknown));
    }

    // Executed as: target deregistered before the service is deleted, registered after the
    // service is created, the policies put after that.
    let steps = crate::plan::steps::steps(&plan.changes).unwrap();
    let at = |id: &str, phase: crate::plan::steps::Phase| {
        steps
            .iter()
            .position(|s| plan.changes[s.change].id.to_string() == id && s.phase == phase)
            .unwrap()
    };
    use crate::plan::steps::Phase::{Create, Delete, Update};
    let needs = |later: usize, earlier: usize| {
        // `later` waits (transitively) for `earlier`.
        let mut stack = vec![later];
        let mut seen = BTreeSet::new();
        while let Some(s) = stack.pop() {
            if s == earlier {
                return true;
            }
            if seen.insert(s) {
                stack.extend(steps[s].after.iter().copied());
            }
        }
        false
    };
    assert!(needs(
        at("ecs_service/app", Delete),
        at("scalable_target/app", Delete)
    ));
    assert!(needs(
        at("scalable_target/app", Create),
        at("ecs_service/app", Create)
    ));
    for p in ["scaling_policy/cpu", "scaling_policy/memory"] {
        assert!(needs(at(p, Update), at("scalable_target/app", Create)));
    }

    // Applied: the same service ARN (ECS derives it from the name), a new target ARN, the
    // policies on it → nothing left to do.
    let (svc, _) = replaced_service();
    let mut rs = expand(&env_spec("prod"));
    rs.push(svc);
    let mut o = observed_at(
        10,
        70.0,
        "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/new",
    );
    o[0] = service().prop("launch_type", Value::str("FARGATE"));
    let plan = diff_of("prod", &rs, &o, false);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn a_service_gone_out_of_band_brings_its_scaling_back() {
    let rs = expand(&env_spec("prod"));
    let mut with_service = rs.clone();
    with_service.push(replaced_service().0);

    // AWS: the target and policies went with the service → all created again, in order.
    let plan = diff_of("prod", &with_service, &[], false);
    let got: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        got,
        [
            "ecs_service/app",
            "scalable_target/app",
            "scaling_policy/cpu",
            "scaling_policy/memory"
        ]
    );
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));

    // A target still registered after its service went away (no live service_arn) is
    // registered again once the service is back.
    let mut o = observed_prod(10, 70.0);
    o.remove(0);
    o[0].props.insert("service_arn".into(), Value::Null);
    let plan = diff_of("prod", &with_service, &o, false);
    assert_eq!(
        actions(&plan),
        [
            ("ecs_service/app".to_string(), Action::Create),
            ("scalable_target/app".to_string(), Action::Replace),
            ("scaling_policy/cpu".to_string(), Action::Update),
            ("scaling_policy/memory".to_string(), Action::Update),
        ]
    );
}

#[test]
fn whole_target_values_read_back_as_integers() {
    assert_eq!(number(70.0), TargetValue::Whole(70));
    assert_eq!(number(0.0), TargetValue::Whole(0));
    assert_eq!(number(72.5), TargetValue::Decimal("72.5".into()));
}

// ---------------------------------------------------------------------------------------------
// requests

fn client() -> Client {
    crate::offline_client!(aws_sdk_applicationautoscaling)
}

#[test]
fn register_sends_min_max_and_tags_only_on_create() {
    let rs = expand(&env_spec("prod"));
    let t = get(&rs, "scalable_target/app");
    let req = register_request(&client(), &from_props(&t.props).unwrap(), true);
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

    let req = register_request(&client(), &from_props(&t.props).unwrap(), false);
    assert_eq!(req.as_input().get_tags(), &None);
    assert_eq!(req.as_input().get_max_capacity(), &Some(10));
}

#[test]
fn put_policy_sends_a_target_tracking_configuration() {
    let rs = expand(&env_spec("prod"));
    let p = get(&rs, "scaling_policy/memory");
    let req = put_policy_request(&client(), &p.id, &from_props(&p.props).unwrap()).unwrap();
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
