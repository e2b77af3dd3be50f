use super::*;
use crate::model::{tags_for, tags_of, Ownership, Value, TAG_ID};
use crate::reconcile::kit::to_props;
use crate::testutil::{diff_of, env_spec};
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, Statistic,
};

fn ids(rs: &[Resource]) -> Vec<String> {
    rs.iter().map(|r| r.id.name.clone()).collect()
}

fn metric(r: &Resource) -> &BTreeMap<String, Value> {
    r.props.get("metric").and_then(Value::as_map).unwrap()
}

fn find<'a>(rs: &'a [Resource], name: &str) -> &'a Resource {
    rs.iter().find(|r| r.id.name == name).unwrap()
}

#[test]
fn expand_has_one_alarm_per_entry_whose_service_exists() {
    let mut spec = env_spec("staging");
    let all = expand(&spec);
    assert_eq!(all.len(), spec.monitoring.alarms.len());
    assert_eq!(
        all[0].name,
        format!("{}-{}-{}", spec.project, spec.env, all[0].id.name)
    );
    spec.edge = None;
    spec.docdb = None;
    spec.redis = None;
    assert_eq!(ids(&expand(&spec)), vec!["ecs-cpu", "ecs-memory"]);
    spec.app = None;
    assert!(expand(&spec).is_empty());
}

#[test]
fn actions_point_at_the_topic_and_settings_come_from_the_spec() {
    let spec = env_spec("staging");
    let rs = expand(&spec);
    let r = find(&rs, "ecs-cpu");
    let topic = Value::List(vec![Value::reference(
        &ResourceId::new("sns_topic", "alerts"),
        "arn",
    )]);
    assert_eq!(r.props["alarm_actions"], topic);
    assert_eq!(r.props["ok_actions"], topic);
    assert!(r.deps.contains(&ResourceId::new("sns_topic", "alerts")));
    assert!(r.deps.contains(&ResourceId::new("ecs_service", "app")));
    let a = &spec.monitoring.alarms["ecs-cpu"];
    assert_eq!(r.get_str("threshold"), Some("80"));
    assert_eq!(
        r.get_str("treat_missing_data"),
        Some(a.treat_missing_data.as_str())
    );
    assert_eq!(
        r.props["evaluation_periods"],
        Value::Int(a.evaluation_periods)
    );
    assert_eq!(
        r.props["datapoints_to_alarm"],
        Value::Int(a.datapoints_to_alarm)
    );
    assert_eq!(r.get_str("description"), Some(a.description.as_str()));
    let tags = tags_of(&r.props);
    assert_eq!(tags[TAG_ID], "alarm/ecs-cpu");
}

#[test]
fn error_rate_is_metric_math_on_the_alb() {
    let rs = expand(&env_spec("staging"));
    let m = metric(find(&rs, "error-rate"));
    assert_eq!(m["expression"], Value::str(ERROR_RATE_EXPR));
    let q = m["queries"].as_map().unwrap();
    assert_eq!(q.keys().collect::<Vec<_>>(), vec!["e5xx", "requests"]);
    let e = q["e5xx"].as_map().unwrap();
    assert_eq!(e["metric_name"], Value::str("HTTPCode_Target_5XX_Count"));
    assert_eq!(e["stat"], Value::str("Sum"));
    assert_eq!(
        e["dimensions"].as_map().unwrap()["LoadBalancer"],
        Value::reference(&ResourceId::new("load_balancer", "main"), "arn_suffix")
    );
}

#[test]
fn dimensions_per_source() {
    let spec = env_spec("staging");
    let rs = expand(&spec);
    let d = |n: &str| {
        metric(find(&rs, n))["dimensions"]
            .as_map()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(d("ecs-cpu"), vec!["ClusterName", "ServiceName"]);
    assert_eq!(d("unhealthy-hosts"), vec!["LoadBalancer", "TargetGroup"]);
    assert_eq!(d("docdb-cpu"), vec!["DBClusterIdentifier"]);
    assert_eq!(
        metric(find(&rs, "redis-cpu"))["dimensions"]
            .as_map()
            .unwrap()["CacheClusterId"],
        Value::str(format!("{}-001", spec.name("redis")))
    );
    assert!(find(&rs, "redis-cpu")
        .deps
        .contains(&ResourceId::new("redis", "main")));
}

#[test]
fn percentiles_go_to_extended_statistic() {
    let rs = expand(&env_spec("staging"));
    let m = metric(find(&rs, "alb-latency-p95"));
    assert_eq!(m["extended_statistic"], Value::str("p95"));
    assert!(!m.contains_key("statistic"));
    assert_eq!(
        metric(find(&rs, "ecs-cpu"))["statistic"],
        Value::str("Average")
    );
}

fn dim(n: &str, v: &str) -> Dimension {
    Dimension::builder().name(n).value(v).build()
}

fn tags_ok(name: &str) -> BTreeMap<String, String> {
    let id = alarm_id(name);
    tags_for(
        "rtech",
        "dev",
        &id,
        &alarm_name("rtech", "dev", name),
        &BTreeMap::new(),
    )
}

/// The desired ecs-cpu alarm with references resolved as the engine would.
fn resolved(r: &Resource) -> Resource {
    let mut r = r.clone();
    r.deps.clear();
    let lookup = |x: &crate::model::Ref| Some(format!("{}.{}", x.resource, x.attr));
    for v in r.props.values_mut() {
        *v = v.resolve(&lookup);
    }
    r
}

#[test]
fn a_live_alarm_normalises_to_the_desired_shape() {
    let mut spec = env_spec("staging");
    spec.project = "rtech".into();
    spec.env = "dev".into();
    spec.tags.clear();
    let rs = expand(&spec);
    let want = resolved(find(&rs, "ecs-cpu"));
    let a = &spec.monitoring.alarms["ecs-cpu"];
    let live = MetricAlarm::builder()
        .alarm_name("rtech-dev-ecs-cpu")
        .alarm_arn("arn:aws:cloudwatch:us-east-1:1:alarm:rtech-dev-ecs-cpu")
        .alarm_description(&a.description)
        .namespace("AWS/ECS")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        // AWS's order, not ours.
        .dimensions(dim("ServiceName", "rtech-dev-app"))
        .dimensions(dim("ClusterName", "rtech-dev"))
        .period(a.period_seconds as i32)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .evaluation_periods(a.evaluation_periods as i32)
        .treat_missing_data(&a.treat_missing_data)
        .alarm_actions("sns_topic/alerts.arn")
        .ok_actions("sns_topic/alerts.arn")
        .build();
    let o = observed_alarm("rtech", "dev", &live, &tags_ok("ecs-cpu")).unwrap();
    assert_eq!(o.ownership, Ownership::Owned);
    for (k, v) in &want.props {
        assert_eq!(o.props.get(k), Some(v), "{k}");
    }
    assert_eq!(
        o.attrs["arn"],
        "arn:aws:cloudwatch:us-east-1:1:alarm:rtech-dev-ecs-cpu"
    );
}

#[test]
fn live_metric_math_normalises() {
    let ms = |m: &str, d: &str| {
        MetricStat::builder()
            .metric(
                Metric::builder()
                    .namespace("AWS/ApplicationELB")
                    .metric_name(m)
                    .dimensions(dim("LoadBalancer", d))
                    .build(),
            )
            .period(300)
            .stat("Sum")
            .build()
    };
    let live = MetricAlarm::builder()
        .alarm_name("rtech-dev-error-rate")
        .metrics(
            MetricDataQuery::builder()
                .id("requests")
                .metric_stat(ms("RequestCount", "app/x/1"))
                .return_data(false)
                .build(),
        )
        .metrics(
            MetricDataQuery::builder()
                .id(ERROR_RATE_ID)
                .expression(ERROR_RATE_EXPR)
                .return_data(true)
                .build(),
        )
        .metrics(
            MetricDataQuery::builder()
                .id("e5xx")
                .metric_stat(ms("HTTPCode_Target_5XX_Count", "app/x/1"))
                .build(),
        )
        .threshold(5.0)
        .build();
    let (m, period) = metric_of_live(&live);
    assert_eq!(period, Some(300));
    let want = metric_of(
        &env_spec("staging"),
        "error-rate",
        &env_spec("staging").monitoring.alarms["error-rate"],
    )
    .unwrap();
    let want = Value::Map(to_props(&want)).resolve(&|_| Some("app/x/1".into()));
    assert_eq!(Value::Map(to_props(&m)), want);
}

#[test]
fn thresholds_compare_as_numbers() {
    assert_eq!(threshold_str(5.0), "5");
    assert_eq!(threshold_str(0.2), "0.2");
    assert_eq!(threshold_str(268_435_456.0), "268435456");
}

#[test]
fn ownership_and_scaling_alarms() {
    let live = |n: &str| MetricAlarm::builder().alarm_name(n).build();
    // Application Auto Scaling's alarms are never ours, even tagged alike.
    let tt = "TargetTracking-service/rtech-dev/rtech-dev-app-AlarmHigh-1234";
    assert!(id_of_name("rtech", "dev", tt).is_none());
    assert!(observed_alarm("rtech", "dev", &live(tt), &tags_ok("ecs-cpu")).is_none());
    // Other envs' alarms are not ours.
    assert!(id_of_name("rtech", "dev", "rtech-prod-ecs-cpu").is_none());
    // Same name without our tags: a conflict, never modified.
    let o = observed_alarm("rtech", "dev", &live("rtech-dev-ecs-cpu"), &BTreeMap::new()).unwrap();
    assert_eq!(o.ownership, Ownership::Foreign);
    // Tagged for another id: also foreign.
    let o = observed_alarm(
        "rtech",
        "dev",
        &live("rtech-dev-ecs-cpu"),
        &tags_ok("ecs-memory"),
    )
    .unwrap();
    assert_eq!(o.ownership, Ownership::Foreign);
    // An unknown name under our prefix without our tags is someone else's business.
    assert!(observed_alarm("rtech", "dev", &live("rtech-dev-custom"), &BTreeMap::new()).is_none());
    // One we made for an alarm since removed from the spec is still ours (deleted by apply).
    let o = observed_alarm("rtech", "dev", &live("rtech-dev-old"), &tags_ok("old")).unwrap();
    assert_eq!(o.ownership, Ownership::Owned);
}

#[test]
fn threshold_drift_is_exactly_one_update() {
    let spec = env_spec("staging");
    let rs: Vec<Resource> = expand(&spec).iter().map(resolved).collect();
    let observed: Vec<Observed> = rs
        .iter()
        .map(|r| {
            let mut o = Observed::new(r.id.clone(), &r.name);
            o.props = r.props.clone();
            if r.id.name == "ecs-cpu" {
                o.props.insert("threshold".into(), Value::str("95"));
            }
            o
        })
        .collect();
    let plan = diff_of(&spec.env, &rs, &observed, false);
    let changes: Vec<String> = plan.changes.iter().map(|c| format!("{:?}", c)).collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].contains("ecs-cpu") && changes[0].contains("threshold"));
}
