//! Canary and blue/green deployments run by ECS (`[app.deploy] strategy = "canary"` or
//! `"blue_green"`) against the emulator, whose ECS shim moves the production listener rule's
//! weights in moto's ELBv2 through the lifecycle stages (a minute of bake lasts
//! MOTO_ECS_DEPLOYMENT_STAGE_SECONDS) and rolls back when a rollback alarm is put into ALARM
//! (scripts/moto_ecs_shim.py).

use std::time::{Duration, Instant};

use crate::emulator::Emulator;
use crate::support::*;

const CLUSTER: &str = "rtech-dev";
const APP: &str = "rtech-dev-app";
const ALARM: &str = "rtech-dev-error-rate";

const SPEC: &str = r#"
[ecr]
repository = "rtech-e2e-canary"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
stable_timeout_seconds = 120

[app.deploy]
strategy = "canary"
canary_percent = 10
canary_bake_minutes = 4
bake_minutes = 5

[edge]
domain = "canary-e2e.example.net"
hosted_zone = "create"
"#;

fn emulator() -> Emulator {
    Emulator::start_with(&[("MOTO_ECS_DEPLOYMENT_STAGE_SECONDS", "1")])
}

/// The production rule's ARN and its (blue, green) weights, read through the ELB API.
async fn weights(elb: &aws_sdk_elasticloadbalancingv2::Client) -> (String, (i32, i32)) {
    let (_, rule) = production_rule(elb, "rtech-dev-alb").await;
    let groups = rule.actions()[0].forward_config().unwrap().target_groups();
    let w = |colour: &str| {
        groups
            .iter()
            .find(|g| {
                g.target_group_arn()
                    .unwrap()
                    .contains(&format!("targetgroup/rtech-dev-{colour}/"))
            })
            .and_then(|g| g.weight())
            .unwrap()
    };
    (
        rule.rule_arn().unwrap().to_string(),
        (w("blue"), w("green")),
    )
}

/// Poll the rule until its weights are `want` (panics after `within`).
async fn until_weights(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    want: (i32, i32),
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let (_, w) = weights(elb).await;
        if w == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the production rule still reads {w:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn running(ecs: &aws_sdk_ecs::Client) -> String {
    ecs.describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .send()
        .await
        .unwrap()
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .and_then(|s| s.task_definition())
        .expect("our service")
        .to_string()
}

fn deploy_bg(emu: &Emulator, dir: &std::path::Path, tag: &str) -> Background {
    push_app_image(emu, Some(dir), "dev", &["--image-tag", tag]);
    let mut c = rtech_std_in(emu, dir);
    c.args(["deploy", "--env", "dev", "--image-tag", tag]);
    Background::spawn(c)
}

fn status(emu: &Emulator, dir: &std::path::Path) -> serde_json::Value {
    let r = run_ok(
        rtech_in(emu, dir).args(["deploy", "status", "--env", "dev", "--json"]),
        0,
    );
    serde_json::from_str(&r.stdout).expect("deploy status JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_deploy_shifts_10_percent_then_all_and_ecs_weights_are_never_drift() {
    let emu = emulator();
    let (elb, ecs) = (elbv2(&emu).await, ecs(&emu).await);
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    // As created: [edge.weights] (blue = 100), green at 0.
    let (rule, w) = weights(&elb).await;
    assert_eq!(w, (100, 0));
    let svc = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .send()
        .await
        .unwrap();
    let s = &svc.services()[0];
    let dc = s.deployment_configuration().unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("CANARY"));
    assert_eq!(
        dc.canary_configuration().unwrap().canary_percent(),
        Some(10.0)
    );
    assert!(dc
        .alarms()
        .unwrap()
        .alarm_names()
        .contains(&ALARM.to_string()));
    let adv = s.load_balancers()[0].advanced_configuration().unwrap();
    assert_eq!(adv.production_listener_rule(), Some(rule.as_str()));
    assert!(adv
        .role_arn()
        .unwrap()
        .ends_with(":role/rtech-dev-ecs-infra"));

    // Mid-deploy the rule reads 90/10; at the end 0/100 with the new revision serving.
    let bg = deploy_bg(&emu, dir.path(), "v2");
    until_weights(&elb, (90, 10), Duration::from_secs(60)).await;
    let r = bg.finish(Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("deployed {APP}:2 (v2) in ")),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("stage PRODUCTION_TRAFFIC_SHIFT, traffic blue 90 % / green 10 %, bake "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("stage BAKE_TIME"), "{}", r.stderr);
    assert_eq!(weights(&elb).await.1, (0, 100));
    assert!(running(&ecs).await.ends_with(&format!("{APP}:2")));
    let st = status(&emu, dir.path());
    assert_eq!(st["deployments"][0]["status"], "SUCCESSFUL", "{st:#}");
    assert_eq!(st["deployments"][0]["strategy"], "CANARY", "{st:#}");
    // The weights ECS left are not drift.
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // Out of band: another split plans nothing; a changed condition is exactly that drift,
    // repaired by a ModifyRule that keeps the weights.
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, PathPatternConditionConfig, RuleCondition,
        TargetGroupTuple,
    };
    let live = elb.describe_rules().rule_arns(&rule).send().await.unwrap();
    let groups: Vec<TargetGroupTuple> = live.rules()[0].actions()[0]
        .forward_config()
        .unwrap()
        .target_groups()
        .iter()
        .map(|g| {
            TargetGroupTuple::builder()
                .target_group_arn(g.target_group_arn().unwrap())
                .weight(50)
                .build()
        })
        .collect();
    elb.modify_rule()
        .rule_arn(&rule)
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(
                    ForwardActionConfig::builder()
                        .set_target_groups(Some(groups))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(weights(&elb).await.1, (50, 50));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    elb.modify_rule()
        .rule_arn(&rule)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .values("/api/*")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&plan),
        [("listener_rule/production".to_string(), "update".to_string())],
        "{plan:#}"
    );
    let c = change_of(&plan, "listener_rule/production").unwrap();
    let fields: Vec<&str> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(fields.iter().all(|f| f.starts_with("conditions")), "{c:#}");
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    assert_eq!(
        weights(&elb).await.1,
        (50, 50),
        "the repair kept ECS's weights"
    );

    // Deleted out of band: a create, and the service pointed at the new rule.
    elb.delete_rule().rule_arn(&rule).send().await.unwrap();
    let plan = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&plan),
        [
            ("listener_rule/production".to_string(), "create".to_string()),
            ("ecs_service/app".to_string(), "update".to_string())
        ],
        "{plan:#}"
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    assert_eq!(
        weights(&elb).await.1,
        (100, 0),
        "created with [edge.weights]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_during_the_canary_rolls_back_and_rollback_stops_a_running_canary() {
    let emu = emulator();
    let (elb, ecs, cw) = (elbv2(&emu).await, ecs(&emu).await, cloudwatch(&emu).await);
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);

    // The error-rate alarm fires during the canary's bake: ECS rolls back.
    let bg = deploy_bg(&emu, dir.path(), "v2");
    until_weights(&elb, (90, 10), Duration::from_secs(60)).await;
    cw.set_alarm_state()
        .alarm_name(ALARM)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("e2e: 5xx during the canary")
        .send()
        .await
        .unwrap();
    let r = bg.finish(Duration::from_secs(120));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "rolled back to {APP}:1: alarm {ALARM} fired at 10 % canary"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&elb).await.1, (100, 0));
    assert!(running(&ecs).await.ends_with(&format!("{APP}:1")));
    let st = status(&emu, dir.path());
    assert_eq!(
        st["deployments"][0]["status"], "ROLLBACK_SUCCESSFUL",
        "{st:#}"
    );
    assert_eq!(st["deployments"][0]["alarms_fired"][0], ALARM, "{st:#}");
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // `rollback` while a canary runs stops it with ROLLBACK.
    cw.set_alarm_state()
        .alarm_name(ALARM)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .state_reason("e2e: recovered")
        .send()
        .await
        .unwrap();
    push_app_image(&emu, Some(dir.path()), "dev", &["--image-tag", "v3"]);
    run_ok(
        rtech_in(&emu, dir.path()).args([
            "deploy",
            "--env",
            "dev",
            "--image-tag",
            "v3",
            "--no-wait",
        ]),
        0,
    );
    until_weights(&elb, (90, 10), Duration::from_secs(60)).await;
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["rollback", "--env", "dev"]),
        0,
    );
    assert!(
        r.stdout.contains(&format!("rolled back to {APP}:1 in ")),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&elb).await.1, (100, 0));
    assert!(running(&ecs).await.ends_with(&format!("{APP}:1")));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // Destroy leaves nothing of ours: rule, both target groups, ECS's role, the rest.
    destroy_in(&emu, dir.path(), "dev");
    let left: Vec<(&str, usize)> = platform(&emu, "dev")
        .await
        .into_iter()
        .chain(leftovers(&emu, "dev").await)
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "left after destroy: {left:?}");
    let roles = iam(&emu).await.list_roles().send().await.unwrap();
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| !r.role_name().starts_with("rtech-dev-")),
        "{:?}",
        roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_deploy_moves_all_traffic_at_once_and_the_next_one_moves_it_back() {
    let emu = emulator();
    let (elb, ecs) = (elbv2(&emu).await, ecs(&emu).await);
    let spec = SPEC.replace(
        "strategy = \"canary\"\ncanary_percent = 10\ncanary_bake_minutes = 4\nbake_minutes = 5",
        "strategy = \"blue_green\"\nbake_minutes = 5",
    );
    assert!(
        spec.contains("blue_green"),
        "the canary spec's deploy section moved"
    );
    let dir = spec_dir("dev", &spec);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    let svc = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .send()
        .await
        .unwrap();
    let dc = svc.services()[0].deployment_configuration().unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("BLUE_GREEN"));
    assert_eq!(weights(&elb).await.1, (100, 0));

    // The whole shift at once: green takes everything, with no canary split on the way.
    let bg = deploy_bg(&emu, dir.path(), "v2");
    until_weights(&elb, (0, 100), Duration::from_secs(60)).await;
    let r = bg.finish(Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("blue 90 %"), "{}", r.stderr);
    assert!(running(&ecs).await.ends_with(&format!("{APP}:2")));
    let st = status(&emu, dir.path());
    assert_eq!(st["deployments"][0]["status"], "SUCCESSFUL", "{st:#}");
    assert_eq!(st["deployments"][0]["strategy"], "BLUE_GREEN", "{st:#}");
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // Green is production now: the next deploy goes to blue and moves everything back.
    let bg = deploy_bg(&emu, dir.path(), "v3");
    until_weights(&elb, (100, 0), Duration::from_secs(60)).await;
    let r = bg.finish(Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(running(&ecs).await.ends_with(&format!("{APP}:3")));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}
