//! The app's target group and its auto scaling end to end, on temporary env specs with `[ecr]`,
//! `[app]` and (for scaling) `[app.scaling]`: apply → empty plan, out-of-band drift shown as
//! exactly that and repaired, out-of-band deletes, a same-named target group that is not ours,
//! and destroy. Every check goes through AWS's own APIs (the SDK), never through rtech.
//!
//! The target group tests scope applies and plans with `--target target_group/blue` (which
//! brings its VPC along); the scaling tests apply the whole env (the scalable target needs the
//! ECS service it scales).

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_elasticloadbalancingv2::types::{TargetGroup, TargetGroupAttribute};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const TG: &str = "target_group/blue";
const TG_NAME: &str = "rtech-dev-blue";
const RESOURCE_ID: &str = "service/rtech-dev/rtech-dev-app";

/// `[ecr]` and `[app]`, with the target group settings spelled out.
const APP: &str = r#"
[ecr]
repository = "rtech-e2e-scaling"
force_delete = true

[app]
cpu = 256
memory = 512
desired_count = 2
log_retention_days = 7

[app.target_group]
health_check_path = "/api/health"
deregistration_delay_seconds = 30
healthy_threshold = 2
unhealthy_threshold = 3
"#;

const SCALING: &str = "\n[app.scaling]\nmin = 2\nmax = 4\n";

/// The one change in a plan, checked to be `id`'s `action` touching exactly `paths`.
fn only_change<'a>(plan: &'a J, id: &str, action: &str, paths: &[&str]) -> &'a J {
    let got = changes(plan);
    assert_eq!(
        got,
        [(id.to_string(), action.to_string())],
        "plan: {plan:#}"
    );
    let c = &plan["changes"][0];
    let fields: Vec<&str> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    if action == "update" {
        assert_eq!(fields, paths, "plan: {plan:#}");
    }
    c
}

// ---------------------------------------------------------------------------------------------
// AWS's own view

async fn target_group(elb: &aws_sdk_elasticloadbalancingv2::Client) -> Option<TargetGroup> {
    match elb.describe_target_groups().names(TG_NAME).send().await {
        Ok(o) => o.target_groups().first().cloned(),
        Err(e) => {
            let code = e.as_service_error().and_then(|s| {
                aws_smithy_types::error::metadata::ProvideErrorMetadata::code(s).map(String::from)
            });
            assert_eq!(code.as_deref(), Some("TargetGroupNotFound"), "{e:?}");
            None
        }
    }
}

async fn tg_tags(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> BTreeMap<String, String> {
    let out = elb.describe_tags().resource_arns(arn).send().await.unwrap();
    tag_map(
        out.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key(), t.value())),
    )
}

async fn delay(elb: &aws_sdk_elasticloadbalancingv2::Client, arn: &str) -> String {
    elb.describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .unwrap()
        .attributes()
        .iter()
        .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value())
        .unwrap()
        .to_string()
}

/// Target groups carrying our tags for `dev`.
async fn our_target_groups(elb: &aws_sdk_elasticloadbalancingv2::Client) -> Vec<String> {
    let mut out = vec![];
    for g in elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
    {
        let t = tg_tags(elb, g.target_group_arn().unwrap()).await;
        if is_ours(&t, "dev") {
            out.push(g.target_group_name().unwrap().to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// target group

#[tokio::test(flavor = "multi_thread")]
async fn target_group_apply_drift_delete_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", APP);
    let d = dir.path();
    let elb = elbv2(&emu).await;

    let r = apply_in(&emu, d, "dev", &["--target", TG]);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", TG]));

    // As AWS has it.
    let tg = target_group(&elb).await.expect("created");
    let arn = tg.target_group_arn().unwrap().to_string();
    assert_eq!(tg.port(), Some(3000));
    assert_eq!(tg.protocol().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(tg.target_type().map(|p| p.as_str()), Some("ip"));
    assert_eq!(
        tg.vpc_id(),
        Some(vpc_id(&ec2(&emu).await, "dev").await.as_str())
    );
    assert_eq!(tg.health_check_path(), Some("/api/health"));
    assert_eq!(tg.health_check_protocol().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200"));
    assert_eq!(tg.healthy_threshold_count(), Some(2));
    assert_eq!(tg.unhealthy_threshold_count(), Some(3));
    assert_eq!(tg.health_check_interval_seconds(), Some(30));
    assert_eq!(tg.health_check_timeout_seconds(), Some(5));
    assert_eq!(delay(&elb, &arn).await, "30");
    let tags = tg_tags(&elb, &arn).await;
    assert_eq!(tags["rtech:id"], TG);
    assert_eq!(tags["Name"], TG_NAME);
    assert_eq!(tags["Environment"], "test");

    // Out of band: the health check path → exactly that drift, repaired in place.
    elb.modify_target_group()
        .target_group_arn(&arn)
        .health_check_path("/elsewhere")
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &["--target", TG]);
    let c = only_change(&plan, TG, "update", &["health_check.path"]);
    assert_eq!(c["fields"][0]["before"], "/elsewhere");
    assert_eq!(c["fields"][0]["after"], "/api/health");
    apply_in(&emu, d, "dev", &["--target", TG]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", TG]));
    let tg = target_group(&elb).await.unwrap();
    assert_eq!(tg.health_check_path(), Some("/api/health"));
    assert_eq!(
        tg.target_group_arn(),
        Some(arn.as_str()),
        "updated in place"
    );

    // Out of band: the deregistration delay → exactly that drift, repaired.
    elb.modify_target_group_attributes()
        .target_group_arn(&arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("300")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &["--target", TG]);
    let c = only_change(&plan, TG, "update", &["deregistration_delay_seconds"]);
    assert_eq!(c["fields"][0]["before"], 300);
    assert_eq!(c["fields"][0]["after"], 30);
    apply_in(&emu, d, "dev", &["--target", TG]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", TG]));
    assert_eq!(delay(&elb, &arn).await, "30");

    // Out of band: a tag removed and one added → the tags are repaired, the rest kept.
    elb.remove_tags()
        .resource_arns(&arn)
        .tag_keys("Environment")
        .send()
        .await
        .unwrap();
    elb.add_tags()
        .resource_arns(&arn)
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("extra")
                .value("x")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &["--target", TG]);
    only_change(&plan, TG, "update", &["tags.Environment", "tags.extra"]);
    apply_in(&emu, d, "dev", &["--target", TG]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", TG]));
    let tags = tg_tags(&elb, &arn).await;
    assert_eq!(tags.get("Environment").map(String::as_str), Some("test"));
    assert!(!tags.contains_key("extra"));

    // Out of band: deleted → a create.
    elb.delete_target_group()
        .target_group_arn(&arn)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &["--target", TG]);
    assert_eq!(changes(&plan), [(TG.to_string(), "create".to_string())]);
    apply_in(&emu, d, "dev", &["--target", TG]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", TG]));
    let again = target_group(&elb).await.expect("recreated");
    assert_ne!(again.target_group_arn(), Some(arn.as_str()));

    // Destroy: no target group of ours is left.
    destroy_in(&emu, d, "dev");
    assert!(our_target_groups(&elb).await.is_empty());
    assert!(target_group(&elb).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_target_group_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", APP);
    let d = dir.path();
    let elb = elbv2(&emu).await;
    let ec2 = ec2(&emu).await;

    // Our network first (before anything blocks the plan).
    apply_in(&emu, d, "dev", &["--target", "vpc/main"]);

    // Someone else's target group under our name, in a VPC of their own.
    let vpc = ec2
        .create_vpc()
        .cidr_block("172.16.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let theirs = elb
        .create_target_group()
        .name(TG_NAME)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .health_check_path("/theirs")
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("owner")
                .value("someone-else")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = theirs.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();

    // The plan shows a conflict, not a change, and is blocked; apply refuses.
    let r = run(rtech_in(&emu, d).args(["plan", "--env", "dev", "--json", "--target", TG]));
    assert_eq!(
        r.code, 1,
        "a conflict blocks the plan:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stderr.contains("blocked"), "{}", r.stderr);
    let plan: J = serde_json::from_str(&r.stdout).expect("plan JSON");
    let conflicts = plan["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{plan:#}");
    assert_eq!(conflicts[0]["id"], TG);
    assert_eq!(conflicts[0]["physical_id"], arn.as_str());
    assert!(changes(&plan).iter().all(|(id, _)| id != TG), "{plan:#}");
    let r =
        run(rtech_in(&emu, d).args(["apply", "--env", "dev", "--auto-approve", "--target", TG]));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(TG), "{}", r.stderr);

    // Destroy (of everything else of ours) does not delete it either; it is exactly as its
    // owner left it.
    let r = destroy_in(&emu, d, "dev");
    assert!(r.stdout.contains("vpc/main"), "{}", r.stdout);
    assert!(!r.stdout.contains(TG), "{}", r.stdout);
    assert_eq!(tagged(&ec2, "dev").await["vpc"], 0);
    let tg = target_group(&elb).await.expect("still there");
    assert_eq!(tg.target_group_arn(), Some(arn.as_str()));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.health_check_path(), Some("/theirs"));
    assert_eq!(tg.vpc_id(), Some(vpc.as_str()));
    let tags = tg_tags(&elb, &arn).await;
    assert_eq!(
        tags,
        BTreeMap::from([("owner".to_string(), "someone-else".to_string())])
    );
}

// ---------------------------------------------------------------------------------------------
// auto scaling

async fn scalable_target(
    aas: &aws_sdk_applicationautoscaling::Client,
) -> Option<aws_sdk_applicationautoscaling::types::ScalableTarget> {
    aas.describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(RESOURCE_ID)
        .send()
        .await
        .unwrap()
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == RESOURCE_ID)
        .cloned()
}

async fn policy_names(aas: &aws_sdk_applicationautoscaling::Client) -> Vec<String> {
    let mut v: Vec<String> = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE_ID)
        .send()
        .await
        .unwrap()
        .scaling_policies()
        .iter()
        .filter(|p| p.resource_id() == RESOURCE_ID)
        .map(|p| p.policy_name().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_apply_drift_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("{APP}{SCALING}"));
    let d = dir.path();
    let aas = autoscaling(&emu).await;
    let elb = elbv2(&emu).await;

    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    let t = scalable_target(&aas).await.expect("registered");
    assert_eq!(t.min_capacity(), 2);
    assert_eq!(t.max_capacity(), 4);
    assert_eq!(
        t.scalable_dimension(),
        &ScalableDimension::EcsServiceDesiredCount
    );
    // The target carries our tags (sent with RegisterScalableTarget): they make it ours.
    let arn = t
        .scalable_target_arn()
        .expect("a ScalableTargetARN")
        .to_string();
    let tags = aas
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags()
            .and_then(|t| t.get("rtech:id"))
            .map(String::as_str),
        Some("scalable_target/app")
    );

    // Out of band: a tag removed and one added on the target → exactly that drift, repaired.
    aas.untag_resource()
        .resource_arn(&arn)
        .tag_keys("Environment")
        .send()
        .await
        .unwrap();
    aas.tag_resource()
        .resource_arn(&arn)
        .tags("extra", "x")
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    only_change(
        &plan,
        "scalable_target/app",
        "update",
        &["tags.Environment", "tags.extra"],
    );
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    assert_eq!(
        policy_names(&aas).await,
        ["rtech-dev-cpu-autoscaling", "rtech-dev-memory-autoscaling"]
    );
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE_ID)
        .send()
        .await
        .unwrap();
    for p in policies.scaling_policies() {
        let cfg = p.target_tracking_scaling_policy_configuration().unwrap();
        let (metric, target) = if p.policy_name().contains("cpu") {
            ("ECSServiceAverageCPUUtilization", 70.0)
        } else {
            ("ECSServiceAverageMemoryUtilization", 80.0)
        };
        assert_eq!(
            cfg.predefined_metric_specification()
                .unwrap()
                .predefined_metric_type()
                .as_str(),
            metric
        );
        assert_eq!(cfg.target_value(), target);
        assert_eq!(cfg.scale_in_cooldown(), Some(300));
        assert_eq!(cfg.scale_out_cooldown(), Some(60));
    }

    // Out of band: a policy deleted → exactly its create.
    aas.delete_scaling_policy()
        .policy_name("rtech-dev-memory-autoscaling")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&plan),
        [("scaling_policy/memory".to_string(), "create".to_string())]
    );
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));
    assert_eq!(
        policy_names(&aas).await,
        ["rtech-dev-cpu-autoscaling", "rtech-dev-memory-autoscaling"]
    );

    // Out of band: the target's max changed → exactly that drift, repaired.
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .max_capacity(6)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    let c = only_change(&plan, "scalable_target/app", "update", &["max_capacity"]);
    assert_eq!(c["fields"][0]["before"], 6);
    assert_eq!(c["fields"][0]["after"], 4);
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));
    assert_eq!(scalable_target(&aas).await.unwrap().max_capacity(), 4);

    // Out of band: a policy's target value changed → an update of that policy alone.
    let cpu = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(RESOURCE_ID)
        .policy_names("rtech-dev-cpu-autoscaling")
        .send()
        .await
        .unwrap();
    let cfg = cpu.scaling_policies()[0]
        .target_tracking_scaling_policy_configuration()
        .unwrap()
        .clone();
    let mut changed = cfg.clone();
    changed.target_value = 55.0;
    aas.put_scaling_policy()
        .policy_name("rtech-dev-cpu-autoscaling")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(changed)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    only_change(&plan, "scaling_policy/cpu", "update", &["target_value"]);
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    // Out of band: the target deregistered. AWS deletes its policies with it → the target and
    // both policies are creates.
    aas.deregister_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .send()
        .await
        .unwrap();
    assert!(scalable_target(&aas).await.is_none());
    assert!(policy_names(&aas).await.is_empty());
    let mut got = changes(&plan_json_in(&emu, d, "dev", &[]));
    got.sort();
    assert_eq!(
        got,
        [
            ("scalable_target/app".to_string(), "create".to_string()),
            ("scaling_policy/cpu".to_string(), "create".to_string()),
            ("scaling_policy/memory".to_string(), "create".to_string()),
        ]
    );
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));
    assert_eq!(scalable_target(&aas).await.unwrap().min_capacity(), 2);
    assert_eq!(
        policy_names(&aas).await,
        ["rtech-dev-cpu-autoscaling", "rtech-dev-memory-autoscaling"]
    );

    // [app.scaling] removed from the spec: the policies, then the target, are deleted.
    std::fs::write(d.join("dev.toml"), format!("{}{APP}", spec_head("dev"))).unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    let got = changes(&plan);
    let mut ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert!(got.iter().all(|(_, a)| a == "delete"), "{plan:#}");
    assert_eq!(ids.last(), Some(&"scalable_target/app"), "policies first");
    ids.sort();
    assert_eq!(
        ids,
        [
            "scalable_target/app",
            "scaling_policy/cpu",
            "scaling_policy/memory"
        ]
    );
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));
    assert!(scalable_target(&aas).await.is_none());
    assert!(policy_names(&aas).await.is_empty());

    // Back, then destroy: no scalable target, policy or target group of ours is left.
    std::fs::write(
        d.join("dev.toml"),
        format!("{}{APP}{SCALING}", spec_head("dev")),
    )
    .unwrap();
    apply_in(&emu, d, "dev", &[]);
    assert!(scalable_target(&aas).await.is_some());
    destroy_in(&emu, d, "dev");
    assert!(scalable_target(&aas).await.is_none());
    assert!(policy_names(&aas).await.is_empty());
    assert!(our_target_groups(&elb).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_of_a_same_named_service_that_is_not_ours_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("{APP}{SCALING}"));
    let d = dir.path();
    let aas = autoscaling(&emu).await;
    let ecs = ecs(&emu).await;

    // Someone else's cluster and service under our names (untagged), scaled by them.
    ecs.create_cluster()
        .cluster_name("rtech-dev")
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family("theirs")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("theirs")
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster("rtech-dev")
        .service_name("rtech-dev-app")
        .task_definition("theirs")
        .desired_count(1)
        .send()
        .await
        .unwrap();
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .min_capacity(1)
        .max_capacity(3)
        .send()
        .await
        .unwrap();
    aas.put_scaling_policy()
        .policy_name("rtech-dev-cpu-autoscaling")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(RESOURCE_ID)
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            aws_sdk_applicationautoscaling::types::TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(50.0)
                .predefined_metric_specification(
                    aws_sdk_applicationautoscaling::types::PredefinedMetricSpecification::builder()
                        .predefined_metric_type(
                            aws_sdk_applicationautoscaling::types::MetricType::EcsServiceAverageCpuUtilization,
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // Conflicts, not changes: the plan is blocked and apply refuses.
    let r = run(rtech_in(&emu, d).args(["plan", "--env", "dev", "--json"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let plan: J = serde_json::from_str(&r.stdout).expect("plan JSON");
    let conflicts: Vec<&str> = plan["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in ["scalable_target/app", "scaling_policy/cpu"] {
        assert!(conflicts.contains(&id), "{id}: {plan:#}");
        assert!(changes(&plan).iter().all(|(c, _)| c != id), "{plan:#}");
    }
    let r = run(rtech_in(&emu, d).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_ne!(r.code, 0);

    // Destroy leaves their scaling exactly as it was.
    let r = destroy_in(&emu, d, "dev");
    assert!(!r.stdout.contains("scalable_target/app"), "{}", r.stdout);
    let t = scalable_target(&aas).await.expect("still registered");
    assert_eq!((t.min_capacity(), t.max_capacity()), (1, 3));
    assert_eq!(policy_names(&aas).await, ["rtech-dev-cpu-autoscaling"]);
}
