//! `alarm/<name>`: one CloudWatch metric alarm. PutMetricAlarm creates and updates (it replaces
//! the whole alarm); tags change through TagResource / UntagResource (PutMetricAlarm ignores
//! tags on an existing alarm).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm};
use serde::{Deserialize, Serialize};

use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, is_ours, sync_tags, to_props, Link, PropsError};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::monitoring::{Alarm, Source, ALARMS};
use crate::spec::Spec;

use super::metric::{metric_of, metric_of_live, with_metric, MetricProps};
use super::{alarm_id, alarm_name, cw_tags, describe, id_of_name, CloudWatchTags, ALARM};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmProps {
    pub name: String,
    pub description: Option<String>,
    pub metric: MetricProps,
    pub period: Option<i64>,
    /// The threshold's shortest display, so `5` and `5.0` compare equal.
    pub threshold: Option<String>,
    pub comparison: Option<String>,
    pub evaluation_periods: Option<i64>,
    pub datapoints_to_alarm: Option<i64>,
    pub treat_missing_data: String,
    pub alarm_actions: Vec<Link>,
    pub ok_actions: Vec<Link>,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(ALARM, &["name"]);

/// The shortest display of a threshold: `5`, `0.2`, `268435456`.
pub fn threshold_str(t: f64) -> String {
    format!("{t}")
}

fn topic() -> Link {
    Link::to(&ResourceId::new("sns_topic", "alerts"), "arn")
}

/// One alarm of the spec (pure); None for a name rtech does not know.
pub fn desired(spec: &Spec, name: &str, a: &Alarm) -> Option<Resource> {
    let metric = metric_of(spec, name, a)?;
    let id = alarm_id(name);
    let aws_name = alarm_name(&spec.project, &spec.env, name);
    let tags = tags_for(&spec.project, &spec.env, &id, &aws_name, &spec.tags);
    let props = to_props(&AlarmProps {
        name: aws_name.clone(),
        description: Some(a.description.clone()),
        metric,
        period: Some(a.period_seconds),
        threshold: Some(threshold_str(a.threshold)),
        comparison: Some(a.comparison.clone()),
        evaluation_periods: Some(a.evaluation_periods),
        datapoints_to_alarm: Some(a.datapoints_to_alarm),
        treat_missing_data: a.treat_missing_data.clone(),
        alarm_actions: vec![topic()],
        ok_actions: vec![topic()],
        tags,
    });
    // `prop` also records the resources the properties refer to as dependencies.
    let r = Resource::new(id, aws_name).with_props(props);
    // After what it watches (its dimensions are derived names, not references).
    Some(match a.source {
        Source::Redis => r.dep(&ResourceId::new("redis", "main")),
        Source::Docdb => r.dep(&ResourceId::new("docdb_cluster", "main")),
        Source::Ecs => r.dep(&crate::reconcile::ecs::service_id()),
        Source::Alb => r,
    })
}

fn sorted_list(v: &[String]) -> Vec<Link> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v.into_iter().map(Link::Known).collect()
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
    if !is_ours(tags, project, env, &id) {
        if !ALARMS.iter().any(|d| d.name == id.name) {
            return None;
        }
        let mut o = Observed::new(id, name);
        o.ownership = Ownership::Foreign;
        return Some(o);
    }
    let (metric, period) = metric_of_live(a);
    let props = AlarmProps {
        name: name.to_string(),
        description: a.alarm_description().map(str::to_string),
        metric,
        period,
        threshold: a.threshold().map(threshold_str),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
        evaluation_periods: a.evaluation_periods().map(i64::from),
        // AWS omits it when it equals evaluation_periods.
        datapoints_to_alarm: a
            .datapoints_to_alarm()
            .or(a.evaluation_periods())
            .map(i64::from),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        alarm_actions: sorted_list(a.alarm_actions()),
        ok_actions: sorted_list(a.ok_actions()),
        tags: tags.clone(),
    };
    Some(
        Observed::new(id, name)
            .with_props(to_props(&props))
            .attr("name", name)
            .attr("arn", a.alarm_arn().unwrap_or_default()),
    )
}

fn known(links: &[Link], field: &str) -> Result<Vec<String>, PropsError> {
    links
        .iter()
        .map(|l| l.require(field).map(str::to_string))
        .collect()
}

async fn put(ctx: &Ctx, p: &AlarmProps, with_tags: bool) -> Result<(), AwsError> {
    let period = p.period.unwrap_or(300) as i32;
    let int = |v: Option<i64>| v.unwrap_or(1) as i32;
    let mut req = ctx
        .clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&p.name)
        .alarm_description(p.description.clone().unwrap_or_default())
        .threshold(
            p.threshold
                .as_deref()
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or_default(),
        )
        .comparison_operator(ComparisonOperator::from(
            p.comparison.as_deref().unwrap_or_default(),
        ))
        .evaluation_periods(int(p.evaluation_periods))
        .datapoints_to_alarm(int(p.datapoints_to_alarm))
        .treat_missing_data(&p.treat_missing_data)
        .actions_enabled(true)
        .set_alarm_actions(Some(known(&p.alarm_actions, "alarm_actions")?))
        .set_ok_actions(Some(known(&p.ok_actions, "ok_actions")?));
    req = with_metric(req, &p.metric, period)?;
    if with_tags {
        req = req.set_tags(Some(cw_tags(&p.tags)));
    }
    req.send().await.map_err(aws("cloudwatch:PutMetricAlarm"))?;
    Ok(())
}

pub struct AlarmKind;

#[async_trait]
impl Kind for AlarmKind {
    crate::typed_kind!(SCHEMA, AlarmProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: AlarmProps = from_props(&r.props)?;
        put(ctx, &p, true).await?;
        let name = p.name.as_str();
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

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: AlarmProps = from_props(&u.desired.props)?;
        if u.changed.iter().any(|c| c != "tags") {
            put(ctx, &p, false).await?;
        }
        if u.changed("tags") {
            let before = from_props::<AlarmProps>(&u.prior.props)?.tags;
            let arn = u.prior.attrs.get("arn").cloned().unwrap_or_default();
            sync_tags(
                &CloudWatchTags(&ctx.clients.cloudwatch),
                &arn,
                &before,
                &p.tags,
            )
            .await?;
        }
        Ok(Attrs::new())
    }

    /// DeleteAlarms takes up to 100 names, but the contract deletes one resource per call; an
    /// absent name is not an error for DeleteAlarms.
    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        ctx.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(&o.physical_id)
            .send()
            .await
            .map_err(aws("cloudwatch:DeleteAlarms"))?;
        Ok(())
    }
}
