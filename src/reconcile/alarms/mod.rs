//! CloudWatch alarms (issue 6): one `alarm/<name>` per entry of `spec.monitoring.alarms` whose
//! source service the env has (ALB alarms need `[edge]`, ECS ones `[app]`, DocumentDB ones
//! `[docdb]`, Redis ones `[redis]`). AWS name `{project}-{env}-<name>`; alarm and OK actions
//! are the alerts topic (`Ref(sns_topic/alerts, arn)`).
//!
//! Properties: `metric` (a map: namespace, metric_name, statistic or extended_statistic for
//! percentiles, dimensions as a map so their order never matters; or for metric math the
//! expression and its queries by id), `period`, `threshold` (the f64's shortest display, so
//! `5` and `5.0` compare equal), `comparison`, `evaluation_periods`, `datapoints_to_alarm`,
//! `treat_missing_data`, `description`, `alarm_actions`, `ok_actions`, `tags`.
//! PutMetricAlarm creates and updates (it replaces the whole alarm); tags change through
//! TagResource / UntagResource (PutMetricAlarm ignores tags on an existing alarm).
//!
//! Observe: DescribeAlarms with AlarmNamePrefix `{project}-{env}-` (paginated; metric-math
//! alarms are metric alarms too), then ListTagsForResource per alarm (CloudWatch has no batch
//! tag read): 1 + N calls. Names are derived, so destroy finds them without a spec.
//! Application Auto Scaling's `TargetTracking-…` alarms never carry our prefix and are skipped
//! explicitly too: never observed, shown or deleted.
//!
//! Redis: ElastiCache publishes EngineCPUUtilization / DatabaseMemoryUsagePercentage per node
//! (`CacheClusterId`), not per replication group, so the alarms watch the primary created
//! first, `<group id>-001` (the group id is derived: `spec.name("redis")`). After a failover
//! the alarm watches the node that was primary, which is still a member of the group.
//!
//! Error rate: `IF(requests > 0, 100 * FILL(e5xx, 0) / requests, 0)` — no division by zero when
//! there is no traffic, and no gap when there were requests but no 5xx.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, Statistic, Tag,
};

use crate::aws::{aws, AwsError};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::monitoring::{is_percentile, Alarm, Source, ALARMS};
use crate::spec::Spec;

pub const ALARM: &str = "alarm";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: ALARM,
    force_new: &["name"],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// The metric math expression of `error-rate`.
pub const ERROR_RATE_EXPR: &str = "IF(requests > 0, 100 * FILL(e5xx, 0) / requests, 0)";
/// The id of the expression query (the one that returns data).
pub const ERROR_RATE_ID: &str = "error_rate";

pub fn alarm_id(name: &str) -> ResourceId {
    ResourceId::new(ALARM, name)
}

pub fn prefix(project: &str, env: &str) -> String {
    format!("{project}-{env}-")
}

pub fn alarm_name(project: &str, env: &str, name: &str) -> String {
    format!("{}{name}", prefix(project, env))
}

fn topic() -> Value {
    Value::reference(&ResourceId::new("sns_topic", "alerts"), "arn")
}

fn lb_dim() -> Value {
    Value::reference(&ResourceId::new("load_balancer", "main"), "arn_suffix")
}

fn dims(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// One metric (namespace, name, statistic, dimensions) as a map.
fn single(namespace: &str, metric: &str, statistic: &str, d: Value) -> Value {
    let stat_key = if is_percentile(statistic) {
        "extended_statistic"
    } else {
        "statistic"
    };
    let mut m = BTreeMap::new();
    m.insert("namespace".into(), Value::str(namespace));
    m.insert("metric_name".into(), Value::str(metric));
    m.insert(stat_key.into(), Value::str(statistic));
    m.insert("dimensions".into(), d);
    Value::Map(m)
}

fn query(namespace: &str, metric: &str, stat: &str, d: Value) -> Value {
    let mut m = BTreeMap::new();
    m.insert("namespace".into(), Value::str(namespace));
    m.insert("metric_name".into(), Value::str(metric));
    m.insert("stat".into(), Value::str(stat));
    m.insert("dimensions".into(), d);
    Value::Map(m)
}

fn math(expr: &str, queries: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    m.insert("expression".into(), Value::str(expr));
    m.insert(
        "queries".into(),
        Value::Map(queries.into_iter().map(|(k, v)| (k.into(), v)).collect()),
    );
    Value::Map(m)
}

/// What an alarm watches (pure); None for a name rtech does not know.
pub fn metric_of(spec: &Spec, name: &str, a: &Alarm) -> Option<Value> {
    let ecs = || {
        dims(vec![
            // Derived names, not references: a re-created service keeps its name, so the
            // alarm does not plan an update for it.
            (
                "ClusterName",
                Value::str(crate::reconcile::ecs::cluster_name(
                    &spec.project,
                    &spec.env,
                )),
            ),
            (
                "ServiceName",
                Value::str(crate::reconcile::ecs::app_name(&spec.project, &spec.env)),
            ),
        ])
    };
    let docdb = || {
        dims(vec![(
            "DBClusterIdentifier",
            Value::str(spec.name("docdb")),
        )])
    };
    let redis = || {
        dims(vec![(
            "CacheClusterId",
            Value::str(format!("{}-001", spec.name("redis"))),
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
                    Value::reference(&ResourceId::new("target_group", "blue"), "arn_suffix"),
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

fn has_source(spec: &Spec, s: Source) -> bool {
    match s {
        Source::Alb => spec.edge.is_some(),
        Source::Ecs => spec.app.is_some(),
        Source::Docdb => spec.docdb.is_some(),
        Source::Redis => spec.redis.is_some(),
    }
}

/// The shortest display of a threshold: `5`, `0.2`, `268435456`.
pub fn threshold_str(t: f64) -> String {
    format!("{t}")
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let mut out = vec![];
    for (name, a) in &spec.monitoring.alarms {
        if !has_source(spec, a.source) {
            continue;
        }
        let Some(metric) = metric_of(spec, name, a) else {
            continue;
        };
        let id = alarm_id(name);
        let aws_name = alarm_name(&spec.project, &spec.env, name);
        let tags = tags_for(&spec.project, &spec.env, &id, &aws_name, &spec.tags);
        let mut r = Resource::new(id, aws_name.clone())
            .prop("name", Value::str(&aws_name))
            .prop("description", Value::str(&a.description))
            .prop("metric", metric)
            .prop("period", Value::Int(a.period_seconds))
            .prop("threshold", Value::str(threshold_str(a.threshold)))
            .prop("comparison", Value::str(&a.comparison))
            .prop("evaluation_periods", Value::Int(a.evaluation_periods))
            .prop("datapoints_to_alarm", Value::Int(a.datapoints_to_alarm))
            .prop("treat_missing_data", Value::str(&a.treat_missing_data))
            .prop("alarm_actions", Value::List(vec![topic()]))
            .prop("ok_actions", Value::List(vec![topic()]))
            .prop("tags", Value::string_map(&tags));
        // After what it watches (its dimensions are derived names, not references).
        r = match a.source {
            Source::Redis => r.dep(&ResourceId::new("redis", "main")),
            Source::Docdb => r.dep(&ResourceId::new("docdb_cluster", "main")),
            Source::Ecs => r.dep(&crate::reconcile::ecs::service_id()),
            Source::Alb => r,
        };
        out.push(r);
    }
    out
}

fn dims_of(d: &[Dimension]) -> Value {
    Value::Map(
        d.iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    Value::str(d.value().unwrap_or_default()),
                )
            })
            .collect(),
    )
}

fn query_of(m: &MetricStat) -> Value {
    let metric = m.metric();
    query(
        metric.and_then(Metric::namespace).unwrap_or_default(),
        metric.and_then(Metric::metric_name).unwrap_or_default(),
        m.stat().unwrap_or_default(),
        dims_of(metric.map(Metric::dimensions).unwrap_or_default()),
    )
}

/// What a live alarm watches, in the shape `metric_of` gives (pure), and its period.
pub fn metric_of_live(a: &MetricAlarm) -> (Value, Option<i64>) {
    let qs = a.metrics();
    if qs.is_empty() {
        let mut m = BTreeMap::new();
        m.insert(
            "namespace".into(),
            Value::str(a.namespace().unwrap_or_default()),
        );
        m.insert(
            "metric_name".into(),
            Value::str(a.metric_name().unwrap_or_default()),
        );
        if let Some(x) = a.extended_statistic() {
            m.insert("extended_statistic".into(), Value::str(x));
        } else {
            m.insert(
                "statistic".into(),
                Value::str(a.statistic().map(|s| s.as_str()).unwrap_or_default()),
            );
        }
        m.insert("dimensions".into(), dims_of(a.dimensions()));
        return (Value::Map(m), a.period().map(i64::from));
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
    let mut m = BTreeMap::new();
    m.insert("expression".into(), Value::str(expr));
    m.insert("queries".into(), Value::Map(queries));
    (Value::Map(m), period)
}

fn sorted_list(v: &[String]) -> Value {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    Value::List(v.into_iter().map(Value::Str).collect())
}

/// The rtech id of an alarm name under our prefix, or None (not ours to look at:
/// other prefixes, Application Auto Scaling's `TargetTracking-…`).
pub fn id_of_name(project: &str, env: &str, aws_name: &str) -> Option<ResourceId> {
    if aws_name.starts_with("TargetTracking-") {
        return None;
    }
    let rest = aws_name.strip_prefix(&prefix(project, env))?;
    if rest.is_empty() {
        return None;
    }
    Some(alarm_id(rest))
}

/// Whether the tags say the alarm is ours (project, env and id).
pub fn ours(tags: &BTreeMap<String, String>, project: &str, env: &str, id: &ResourceId) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&id.to_string())
}

/// A live alarm → `Observed` (pure): Foreign without our tags; None when it is not an alarm
/// rtech would ever manage (not our prefix, TargetTracking-…, or an unknown name without our
/// tags).
pub fn observed_alarm(
    project: &str,
    env: &str,
    a: &MetricAlarm,
    tags: &BTreeMap<String, String>,
) -> Option<Observed> {
    let name = a.alarm_name().unwrap_or_default();
    let id = id_of_name(project, env, name)?;
    if !ours(tags, project, env, &id) {
        if !ALARMS.iter().any(|d| d.name == id.name) {
            return None;
        }
        let mut o = Observed::new(id, name);
        o.ownership = Ownership::Foreign;
        return Some(o);
    }
    let (metric, period) = metric_of_live(a);
    let mut o = Observed::new(id, name)
        .prop("name", Value::str(name))
        .prop("description", Value::opt_str(a.alarm_description()))
        .prop("metric", metric)
        .prop("period", period.map(Value::Int).unwrap_or(Value::Null))
        .prop(
            "threshold",
            a.threshold()
                .map(|t| Value::str(threshold_str(t)))
                .unwrap_or(Value::Null),
        )
        .prop(
            "comparison",
            Value::opt_str(a.comparison_operator().map(|c| c.as_str())),
        )
        .prop(
            "evaluation_periods",
            a.evaluation_periods()
                .map(|n| Value::Int(n.into()))
                .unwrap_or(Value::Null),
        )
        .prop(
            "datapoints_to_alarm",
            // AWS omits it when it equals evaluation_periods.
            a.datapoints_to_alarm()
                .or(a.evaluation_periods())
                .map(|n| Value::Int(n.into()))
                .unwrap_or(Value::Null),
        )
        .prop(
            "treat_missing_data",
            Value::str(a.treat_missing_data().unwrap_or("missing")),
        )
        .prop("alarm_actions", sorted_list(a.alarm_actions()))
        .prop("ok_actions", sorted_list(a.ok_actions()))
        .prop("tags", Value::string_map(tags));
    o.attrs.insert("name".into(), name.to_string());
    o.attrs
        .insert("arn".into(), a.alarm_arn().unwrap_or_default().to_string());
    Some(o)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

fn dimensions(m: &BTreeMap<String, Value>) -> Vec<Dimension> {
    m.get("dimensions")
        .and_then(Value::as_map)
        .map(|d| {
            d.iter()
                .map(|(k, v)| {
                    Dimension::builder()
                        .name(k)
                        .value(v.as_str().unwrap_or_default())
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn s<'a>(m: &'a BTreeMap<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or_default()
}

async fn put(ctx: &Ctx, r: &Resource, with_tags: bool) -> Result<(), AwsError> {
    let empty = BTreeMap::new();
    let metric = r
        .props
        .get("metric")
        .and_then(Value::as_map)
        .unwrap_or(&empty);
    let period = r.props.get("period").and_then(Value::as_int).unwrap_or(300) as i32;
    let int = |k: &str| r.props.get(k).and_then(Value::as_int).unwrap_or(1) as i32;
    let mut req = ctx
        .clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(r.get_str("name").unwrap_or_default())
        .alarm_description(r.get_str("description").unwrap_or_default())
        .threshold(
            r.get_str("threshold")
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or_default(),
        )
        .comparison_operator(ComparisonOperator::from(
            r.get_str("comparison").unwrap_or_default(),
        ))
        .evaluation_periods(int("evaluation_periods"))
        .datapoints_to_alarm(int("datapoints_to_alarm"))
        .treat_missing_data(r.get_str("treat_missing_data").unwrap_or("notBreaching"))
        .actions_enabled(true)
        .set_alarm_actions(Some(str_list(r.props.get("alarm_actions"))))
        .set_ok_actions(Some(str_list(r.props.get("ok_actions"))));
    if let Some(expr) = metric.get("expression").and_then(Value::as_str) {
        let mut qs = vec![MetricDataQuery::builder()
            .id(ERROR_RATE_ID)
            .expression(expr)
            .return_data(true)
            .build()];
        for (id, q) in metric
            .get("queries")
            .and_then(Value::as_map)
            .unwrap_or(&empty)
        {
            let Some(q) = q.as_map() else { continue };
            qs.push(
                MetricDataQuery::builder()
                    .id(id)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace(s(q, "namespace"))
                                    .metric_name(s(q, "metric_name"))
                                    .set_dimensions(Some(dimensions(q)))
                                    .build(),
                            )
                            .period(period)
                            .stat(s(q, "stat"))
                            .build(),
                    )
                    .return_data(false)
                    .build(),
            );
        }
        req = req.set_metrics(Some(qs));
    } else {
        req = req
            .namespace(s(metric, "namespace"))
            .metric_name(s(metric, "metric_name"))
            .set_dimensions(Some(dimensions(metric)))
            .period(period);
        if let Some(x) = metric.get("extended_statistic").and_then(Value::as_str) {
            req = req.extended_statistic(x);
        } else {
            req = req.statistic(Statistic::from(s(metric, "statistic")));
        }
    }
    if with_tags {
        req = req.set_tags(Some(
            tags_of(&r.props)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ));
    }
    req.send().await.map_err(aws("cloudwatch:PutMetricAlarm"))?;
    Ok(())
}

async fn describe(
    ctx: &Ctx,
    prefix_or_name: &str,
    exact: bool,
) -> Result<Vec<MetricAlarm>, AwsError> {
    let mut out = vec![];
    let mut token: Option<String> = None;
    loop {
        let mut req = ctx
            .clients
            .cloudwatch
            .describe_alarms()
            .set_next_token(token);
        req = if exact {
            req.alarm_names(prefix_or_name)
        } else {
            req.alarm_name_prefix(prefix_or_name)
        };
        let page = req.send().await.map_err(aws("cloudwatch:DescribeAlarms"))?;
        out.extend(page.metric_alarms().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

async fn list_tags(ctx: &Ctx, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = ctx
        .clients
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("cloudwatch:ListTagsForResource"))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect())
}

async fn create(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    put(ctx, r, true).await?;
    let name = r.get_str("name").unwrap_or_default();
    // PutMetricAlarm returns nothing: read the ARN back.
    let arn = describe(ctx, name, true)
        .await?
        .into_iter()
        .find_map(|a| a.alarm_arn().map(str::to_string))
        .ok_or_else(|| {
            AwsError::new(
                "cloudwatch:DescribeAlarms",
                "ResourceNotFound",
                format!("{name} is not there right after PutMetricAlarm"),
            )
        })?;
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    a.insert("name".into(), name.to_string());
    a.insert("arn".into(), arn);
    Ok(a)
}

async fn update(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    if changed.iter().any(|c| c != "tags") {
        put(ctx, desired, false).await?;
    }
    if changed.contains("tags") {
        let cw = &ctx.clients.cloudwatch;
        let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
        let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
        if !d.removed.is_empty() {
            cw.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(d.removed))
                .send()
                .await
                .map_err(aws("cloudwatch:UntagResource"))?;
        }
        if !d.set.is_empty() {
            cw.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(
                    d.set
                        .into_iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(aws("cloudwatch:TagResource"))?;
        }
    }
    Ok(prior.attrs.clone())
}

pub struct Alarms;

#[async_trait]
impl Reconciler for Alarms {
    fn service(&self) -> &'static str {
        "alarms"
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // Names are derived: destroy (no desired) finds them too.
        let live = describe(ctx, &prefix(&ctx.project, &ctx.env), false).await?;
        let mut out = vec![];
        for a in &live {
            if id_of_name(&ctx.project, &ctx.env, a.alarm_name().unwrap_or_default()).is_none() {
                continue;
            }
            let tags = match list_tags(ctx, a.alarm_arn().unwrap_or_default()).await {
                Ok(t) => t,
                // Deleted since it was listed.
                Err(e) if e.code == "ResourceNotFound" || e.code == "ResourceNotFoundException" => {
                    continue
                }
                Err(e) => return Err(e),
            };
            if let Some(o) = observed_alarm(&ctx.project, &ctx.env, a, &tags) {
                out.push(o);
            }
        }
        Ok(out)
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed).await,
            Op::Delete(o) => {
                // DeleteAlarms takes up to 100 names, but the contract deletes one resource
                // per call; an absent name is not an error for DeleteAlarms.
                ctx.clients
                    .cloudwatch
                    .delete_alarms()
                    .alarm_names(&o.physical_id)
                    .send()
                    .await
                    .map_err(aws("cloudwatch:DeleteAlarms"))?;
                Ok(Attrs::new())
            }
        }
    }
}
