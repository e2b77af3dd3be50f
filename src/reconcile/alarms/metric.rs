//! What an alarm watches: one metric (namespace, name, statistic or extended statistic,
//! dimensions as a map so their order never matters), or metric math (the expression and its
//! queries by id). Built from the spec, read back from a live alarm, and turned into
//! PutMetricAlarm's fields.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::operation::put_metric_alarm::builders::PutMetricAlarmFluentBuilder;
use aws_sdk_cloudwatch::types::Statistic;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat};
use serde::{Deserialize, Serialize};

use crate::model::ResourceId;
use crate::reconcile::kit::{Link, PropsError};
use crate::spec::monitoring::{is_percentile, Alarm};
use crate::spec::Spec;

use super::{ERROR_RATE_EXPR, ERROR_RATE_ID};

/// The `metric` property: the single-metric fields, or `expression` and `queries`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricProps {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Percentiles (`p95`) instead of `statistic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, Link>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries: Option<BTreeMap<String, QueryProps>>,
}

/// One metric a metric-math expression reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryProps {
    pub namespace: String,
    pub metric_name: String,
    pub stat: String,
    pub dimensions: BTreeMap<String, Link>,
}

fn lb_dim() -> Link {
    Link::to(&ResourceId::new("load_balancer", "main"), "arn_suffix")
}

fn dims(pairs: Vec<(&str, Link)>) -> BTreeMap<String, Link> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// One metric (namespace, name, statistic, dimensions).
fn single(
    namespace: &str,
    metric: &str,
    statistic: &str,
    d: BTreeMap<String, Link>,
) -> MetricProps {
    let (statistic, extended_statistic) = if is_percentile(statistic) {
        (None, Some(statistic.to_string()))
    } else {
        (Some(statistic.to_string()), None)
    };
    MetricProps {
        namespace: Some(namespace.into()),
        metric_name: Some(metric.into()),
        statistic,
        extended_statistic,
        dimensions: Some(d),
        ..MetricProps::default()
    }
}

fn query(namespace: &str, metric: &str, stat: &str, d: BTreeMap<String, Link>) -> QueryProps {
    QueryProps {
        namespace: namespace.into(),
        metric_name: metric.into(),
        stat: stat.into(),
        dimensions: d,
    }
}

fn math(expr: &str, queries: Vec<(&str, QueryProps)>) -> MetricProps {
    MetricProps {
        expression: Some(expr.into()),
        queries: Some(queries.into_iter().map(|(k, v)| (k.into(), v)).collect()),
        ..MetricProps::default()
    }
}

/// What an alarm watches (pure); None for a name rtech does not know.
pub fn metric_of(spec: &Spec, name: &str, a: &Alarm) -> Option<MetricProps> {
    let ecs = || {
        dims(vec![
            // Derived names, not references: a re-created service keeps its name, so the
            // alarm does not plan an update for it.
            (
                "ClusterName",
                crate::reconcile::ecs::cluster_name(&spec.project, &spec.env).into(),
            ),
            (
                "ServiceName",
                crate::reconcile::ecs::app_name(&spec.project, &spec.env).into(),
            ),
        ])
    };
    let docdb = || dims(vec![("DBClusterIdentifier", spec.name("docdb").into())]);
    let redis = || {
        dims(vec![(
            "CacheClusterId",
            format!("{}-001", spec.name("redis")).into(),
        )])
    };
    let alb = "AWS/ApplicationELB";
    let s = a.statistic.as_str();
    Some(match name {
        "error-rate" => math(
            ERROR_RATE_EXPR,
            vec![
                (
                    "e5xx",
                    query(
                        alb,
                        "HTTPCode_Target_5XX_Count",
                        "Sum",
                        dims(vec![("LoadBalancer", lb_dim())]),
                    ),
                ),
                (
                    "requests",
                    query(
                        alb,
                        "RequestCount",
                        "Sum",
                        dims(vec![("LoadBalancer", lb_dim())]),
                    ),
                ),
            ],
        ),
        "ecs-cpu" => single("AWS/ECS", "CPUUtilization", s, ecs()),
        "ecs-memory" => single("AWS/ECS", "MemoryUtilization", s, ecs()),
        "alb-latency-p95" => single(
            alb,
            "TargetResponseTime",
            s,
            dims(vec![("LoadBalancer", lb_dim())]),
        ),
        "unhealthy-hosts" => single(
            alb,
            "UnHealthyHostCount",
            s,
            dims(vec![
                (
                    "TargetGroup",
                    Link::to(&ResourceId::new("target_group", "blue"), "arn_suffix"),
                ),
                ("LoadBalancer", lb_dim()),
            ]),
        ),
        "elb-5xx" => single(
            alb,
            "HTTPCode_ELB_5XX_Count",
            s,
            dims(vec![("LoadBalancer", lb_dim())]),
        ),
        "docdb-cpu" => single("AWS/DocDB", "CPUUtilization", s, docdb()),
        "docdb-freeable-memory" => single("AWS/DocDB", "FreeableMemory", s, docdb()),
        "redis-cpu" => single("AWS/ElastiCache", "EngineCPUUtilization", s, redis()),
        "redis-memory" => single(
            "AWS/ElastiCache",
            "DatabaseMemoryUsagePercentage",
            s,
            redis(),
        ),
        _ => return None,
    })
}

fn dims_of(d: &[Dimension]) -> BTreeMap<String, Link> {
    d.iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                d.value().unwrap_or_default().into(),
            )
        })
        .collect()
}

fn query_of(m: &MetricStat) -> QueryProps {
    let metric = m.metric();
    query(
        metric.and_then(Metric::namespace).unwrap_or_default(),
        metric.and_then(Metric::metric_name).unwrap_or_default(),
        m.stat().unwrap_or_default(),
        dims_of(metric.map(Metric::dimensions).unwrap_or_default()),
    )
}

/// What a live alarm watches, in the shape `metric_of` gives (pure), and its period.
pub fn metric_of_live(a: &MetricAlarm) -> (MetricProps, Option<i64>) {
    let qs = a.metrics();
    if qs.is_empty() {
        let (statistic, extended_statistic) = match a.extended_statistic() {
            Some(x) => (None, Some(x.to_string())),
            None => (
                Some(
                    a.statistic()
                        .map(|s| s.as_str())
                        .unwrap_or_default()
                        .to_string(),
                ),
                None,
            ),
        };
        let m = MetricProps {
            namespace: Some(a.namespace().unwrap_or_default().to_string()),
            metric_name: Some(a.metric_name().unwrap_or_default().to_string()),
            statistic,
            extended_statistic,
            dimensions: Some(dims_of(a.dimensions())),
            ..MetricProps::default()
        };
        return (m, a.period().map(i64::from));
    }
    let mut expr = String::new();
    let mut queries = BTreeMap::new();
    let mut period = a.period().map(i64::from);
    for q in qs {
        if let Some(e) = q.expression() {
            expr = e.to_string();
        } else if let Some(ms) = q.metric_stat() {
            period = period.or(ms.period().map(i64::from));
            queries.insert(q.id().unwrap_or_default().to_string(), query_of(ms));
        }
    }
    let m = MetricProps {
        expression: Some(expr),
        queries: Some(queries),
        ..MetricProps::default()
    };
    (m, period)
}

fn dimensions(d: &Option<BTreeMap<String, Link>>) -> Result<Vec<Dimension>, PropsError> {
    d.iter()
        .flatten()
        .map(|(k, v)| {
            Ok(Dimension::builder()
                .name(k)
                .value(v.require("metric.dimensions")?)
                .build())
        })
        .collect()
}

/// PutMetricAlarm's metric fields: the metric itself, or the expression with its queries.
pub fn with_metric(
    req: PutMetricAlarmFluentBuilder,
    m: &MetricProps,
    period: i32,
) -> Result<PutMetricAlarmFluentBuilder, PropsError> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    if let Some(expr) = &m.expression {
        let mut qs = vec![MetricDataQuery::builder()
            .id(ERROR_RATE_ID)
            .expression(expr)
            .return_data(true)
            .build()];
        for (id, q) in m.queries.iter().flatten() {
            qs.push(
                MetricDataQuery::builder()
                    .id(id)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace(&q.namespace)
                                    .metric_name(&q.metric_name)
                                    .set_dimensions(Some(dimensions(&Some(q.dimensions.clone()))?))
                                    .build(),
                            )
                            .period(period)
                            .stat(&q.stat)
                            .build(),
                    )
                    .return_data(false)
                    .build(),
            );
        }
        return Ok(req.set_metrics(Some(qs)));
    }
    let req = req
        .namespace(s(&m.namespace))
        .metric_name(s(&m.metric_name))
        .set_dimensions(Some(dimensions(&m.dimensions)?))
        .period(period);
    Ok(match &m.extended_statistic {
        Some(x) => req.extended_statistic(x),
        None => req.statistic(Statistic::from(s(&m.statistic).as_str())),
    })
}
