//! CloudWatch alarms against the emulator, on a temporary spec with `[ecr]` and
//! `[app]` (ECS alarms need only the app); applies and plans are scoped with
//! `--target alarm/ecs-cpu --target alarm/ecs-memory` (which brings the ECS service and the
//! alerts topic). Every check on the live alarms goes through CloudWatch's own API (the SDK).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, Statistic};

use crate::emulator::Emulator;
use crate::support::*;

const CPU: &str = "alarm/ecs-cpu";
const MEM: &str = "alarm/ecs-memory";
const CPU_NAME: &str = "rtech-dev-ecs-cpu";
const TARGETS: [&str; 4] = ["--target", CPU, "--target", MEM];

const SECTIONS: &str = r#"
[ecr]
repository = "rtech-e2e-alarms"
force_delete = true

[app]
desired_count = 1
"#;

async fn alarm(cw: &aws_sdk_cloudwatch::Client, name: &str) -> Option<MetricAlarm> {
    cw.describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .first()
        .cloned()
}

async fn all_alarms(cw: &aws_sdk_cloudwatch::Client) -> Vec<MetricAlarm> {
    cw.describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .to_vec()
}

async fn alarm_tags(cw: &aws_sdk_cloudwatch::Client, arn: &str) -> BTreeMap<String, String> {
    cw.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn topic_arn(emu: &Emulator) -> String {
    let sns = sns(emu).await;
    let topics = sns.list_topics().send().await.unwrap();
    topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(":rtech-dev-alerts"))
        .expect("the alerts topic")
        .to_string()
}

/// Our alarms left in the account (prefix `rtech-dev-` and our tags).
async fn ours_left(cw: &aws_sdk_cloudwatch::Client) -> Vec<String> {
    let mut out = vec![];
    for a in all_alarms(cw).await {
        let name = a.alarm_name().unwrap_or_default();
        if !name.starts_with("rtech-dev-") {
            continue;
        }
        let t = alarm_tags(cw, a.alarm_arn().unwrap_or_default()).await;
        if is_ours(&t, "dev") {
            out.push(name.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn alarms_apply_drift_repair_delete_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", SECTIONS);
    let d = dir.path();
    let cw = cloudwatch(&emu).await;

    apply_in(&emu, d, "dev", &TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));

    // The live alarm: threshold, dimensions, actions, tags.
    let topic = topic_arn(&emu).await;
    let a = alarm(&cw, CPU_NAME).await.expect("the cpu alarm exists");
    assert_eq!(a.threshold(), Some(80.0));
    assert_eq!(a.namespace(), Some("AWS/ECS"));
    assert_eq!(a.metric_name(), Some("CPUUtilization"));
    assert_eq!(a.statistic(), Some(&Statistic::Average));
    assert_eq!(
        a.comparison_operator(),
        Some(&ComparisonOperator::GreaterThanThreshold)
    );
    let dims: BTreeMap<_, _> = a
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert_eq!(
        dims.keys().copied().collect::<Vec<_>>(),
        ["ClusterName", "ServiceName"]
    );
    assert!(dims["ClusterName"].starts_with("rtech-dev"), "{dims:?}");
    assert!(!dims["ServiceName"].is_empty(), "{dims:?}");
    assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(a.ok_actions(), std::slice::from_ref(&topic));
    let t = alarm_tags(&cw, a.alarm_arn().unwrap()).await;
    assert!(is_ours(&t, "dev"), "{t:?}");
    assert_eq!(t.get("rtech:id").map(String::as_str), Some(CPU), "{t:?}");
    let m = alarm(&cw, "rtech-dev-ecs-memory").await.expect("memory");
    assert_eq!(m.threshold(), Some(90.0));
    assert_eq!(m.metric_name(), Some("MemoryUtilization"));

    // Threshold changed out of band: exactly that drift, repaired.
    cw.put_metric_alarm()
        .alarm_name(CPU_NAME)
        .set_alarm_description(a.alarm_description().map(str::to_string))
        .threshold(50.0)
        .set_comparison_operator(a.comparison_operator().cloned())
        .set_evaluation_periods(a.evaluation_periods())
        .set_datapoints_to_alarm(a.datapoints_to_alarm())
        .set_treat_missing_data(a.treat_missing_data().map(str::to_string))
        .set_alarm_actions(Some(a.alarm_actions().to_vec()))
        .set_ok_actions(Some(a.ok_actions().to_vec()))
        .set_namespace(a.namespace().map(str::to_string))
        .set_metric_name(a.metric_name().map(str::to_string))
        .set_statistic(a.statistic().cloned())
        .set_dimensions(Some(a.dimensions().to_vec()))
        .set_period(a.period())
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &TARGETS);
    let ch = changes_of_kinds(&plan, &["alarm"]);
    assert_eq!(ch.len(), 1, "{plan:#}");
    assert_eq!((ch[0].0.as_str(), ch[0].1.as_str()), (CPU, "update"));
    assert_eq!(ch[0].2, vec!["threshold".to_string()], "{plan:#}");
    assert_eq!(changes(&plan).len(), 1, "{plan:#}");
    apply_in(&emu, d, "dev", &TARGETS);
    assert_eq!(alarm(&cw, CPU_NAME).await.unwrap().threshold(), Some(80.0));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));

    // Deleted out of band: a create.
    cw.delete_alarms()
        .alarm_names(CPU_NAME)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &TARGETS);
    assert_eq!(
        changes(&plan),
        vec![(CPU.to_string(), "create".to_string())],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &TARGETS);
    let back = alarm(&cw, CPU_NAME).await.expect("recreated");
    assert!(is_ours(
        &alarm_tags(&cw, back.alarm_arn().unwrap()).await,
        "dev"
    ));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));

    destroy_in(&emu, d, "dev");
    assert_eq!(ours_left(&cw).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_alarm_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", SECTIONS);
    let d = dir.path();
    let cw = cloudwatch(&emu).await;
    cw.put_metric_alarm()
        .alarm_name(CPU_NAME)
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(12.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .send()
        .await
        .unwrap();
    assert_conflicts_left_alone_in(&emu, d, "dev", &[CPU], &["--target", CPU]);
    let left = alarm(&cw, CPU_NAME).await.expect("still there");
    assert_eq!(left.threshold(), Some(12.0));
    assert_eq!(left.namespace(), Some("AWS/EC2"));
    assert!(alarm_tags(&cw, left.alarm_arn().unwrap()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn target_tracking_alarms_are_aws_s_never_shown_nor_deleted() {
    let emu = Emulator::start();
    let sections = format!("{SECTIONS}\n[app.scaling]\nmin = 1\nmax = 2\n");
    let dir = spec_dir("dev", &sections);
    let d = dir.path();
    let cw = cloudwatch(&emu).await;
    let targets = [
        "--target",
        CPU,
        "--target",
        MEM,
        "--target",
        "scaling_policy/cpu",
    ];
    apply_in(&emu, d, "dev", &targets);
    let tt: Vec<String> = all_alarms(&cw)
        .await
        .iter()
        .filter_map(|a| a.alarm_name())
        .filter(|n| n.starts_with("TargetTracking-"))
        .map(str::to_string)
        .collect();
    assert!(!tt.is_empty(), "moto makes the target tracking alarms");
    let plan = plan_json_in(&emu, d, "dev", &targets);
    assert_no_changes(&plan);
    let text = plan.to_string();
    assert!(!text.contains("TargetTracking-"), "{plan:#}");

    let out = destroy_in(&emu, d, "dev");
    assert!(!out.stdout.contains("TargetTracking-"), "{}", out.stdout);
    assert_eq!(ours_left(&cw).await, Vec::<String>::new());
    // What moto made for the policy is AWS's: either still there, or gone with the policy.
    let left: Vec<String> = all_alarms(&cw)
        .await
        .iter()
        .filter_map(|a| a.alarm_name())
        .filter(|n| n.starts_with("TargetTracking-"))
        .map(str::to_string)
        .collect();
    assert!(left.iter().all(|n| tt.contains(n)), "{left:?} vs {tt:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_error_rate_metric_math_alarm_round_trips_and_a_rewritten_expression_is_repaired() {
    let emu = Emulator::start();
    let sections =
        format!("{SECTIONS}\n[edge]\ndomain = \"alarms.example.net\"\nhosted_zone = \"create\"\n");
    let dir = spec_dir("dev", &sections);
    let d = dir.path();
    let cw = cloudwatch(&emu).await;
    let targets = ["--target", "alarm/error-rate"];
    apply_in(&emu, d, "dev", &targets);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &targets));

    let a = alarm(&cw, "rtech-dev-error-rate").await.expect("exists");
    let qs = a.metrics();
    assert_eq!(qs.len(), 3, "{qs:?}");
    let expr = qs
        .iter()
        .find_map(|q| q.expression())
        .expect("an expression");
    assert_eq!(expr, "IF(requests > 0, 100 * FILL(e5xx, 0) / requests, 0)");
    let lb: Vec<_> = qs
        .iter()
        .filter_map(|q| q.metric_stat()?.metric())
        .flat_map(|m| m.dimensions())
        .map(|d| d.value().unwrap_or_default().to_string())
        .collect();
    assert_eq!(lb.len(), 2, "{qs:?}");
    assert!(lb.iter().all(|v| v.starts_with("app/")), "{lb:?}");
    assert_eq!(a.alarm_actions(), [topic_arn(&emu).await]);

    // Out of band: the expression rewritten (no FILL, no guard against zero requests) →
    // exactly a `metric` drift of this alarm, and apply puts the spec's expression back.
    let mut rewritten = qs.to_vec();
    for q in &mut rewritten {
        if q.expression.is_some() {
            q.expression = Some("100 * e5xx / requests".into());
        }
    }
    cw.put_metric_alarm()
        .alarm_name("rtech-dev-error-rate")
        .set_alarm_description(a.alarm_description().map(str::to_string))
        .set_threshold(a.threshold())
        .set_comparison_operator(a.comparison_operator().cloned())
        .set_evaluation_periods(a.evaluation_periods())
        .set_datapoints_to_alarm(a.datapoints_to_alarm())
        .set_treat_missing_data(a.treat_missing_data().map(str::to_string))
        .set_alarm_actions(Some(a.alarm_actions().to_vec()))
        .set_ok_actions(Some(a.ok_actions().to_vec()))
        .set_metrics(Some(rewritten))
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &targets);
    let ch = changes_of_kinds(&plan, &["alarm"]);
    assert_eq!(ch.len(), 1, "{plan:#}");
    assert_eq!(
        (ch[0].0.as_str(), ch[0].1.as_str()),
        ("alarm/error-rate", "update")
    );
    assert!(ch[0].2.iter().all(|p| p.starts_with("metric")), "{plan:#}");
    apply_in(&emu, d, "dev", &targets);
    let back = alarm(&cw, "rtech-dev-error-rate").await.unwrap();
    assert_eq!(
        back.metrics().iter().find_map(|q| q.expression()),
        Some("IF(requests > 0, 100 * FILL(e5xx, 0) / requests, 0)")
    );
    assert_no_changes(&plan_json_in(&emu, d, "dev", &targets));

    destroy_in(&emu, d, "dev");
    assert_eq!(ours_left(&cw).await, Vec::<String>::new());
}
