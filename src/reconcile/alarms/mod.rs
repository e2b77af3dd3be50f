//! CloudWatch alarms: one `alarm/<name>` per entry of `spec.monitoring.alarms` whose source
//! service the env has (ALB alarms need `[edge]`, ECS ones `[app]`, DocumentDB ones
//! `[docdb]`, Redis ones `[redis]`). AWS name `{project}-{env}-<name>`; alarm and OK actions
//! are the alerts topic (`Ref(sns_topic/alerts, arn)`).
//!
//! Properties (`alarm::AlarmProps`): `metric` (namespace, metric_name, statistic or
//! extended_statistic for percentiles, dimensions as a map so their order never matters; or
//! for metric math the expression and its queries by id), `period`, `threshold` (the f64's
//! shortest display, so `5` and `5.0` compare equal), `comparison`, `evaluation_periods`,
//! `datapoints_to_alarm`, `treat_missing_data`, `description`, `alarm_actions`, `ok_actions`,
//! `tags`.
//!
//! Observe: DescribeAlarms with AlarmNamePrefix `{project}-{env}-` (paginated; metric-math
//! alarms are metric alarms too) beside the env's tag index (`kit::tag_index`), which holds the
//! tags of every alarm of ours: one call and one round trip whatever the number of alarms. An
//! alarm under our prefix that the index does not list gets its own ListTagsForResource
//! (CloudWatch has no batch tag read), eight at once. Names are derived, so destroy finds them
//! without a spec.
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

pub mod alarm;
mod iam;
pub mod metric;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{MetricAlarm, Tag};
use futures::{StreamExt, TryStreamExt};

use crate::aws::{aws, AwsError};
use crate::model::{Observed, Resource, ResourceId};
use crate::reconcile::kit::{tags::tag_map, TagRead};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::monitoring::Source;
use crate::spec::Spec;

use alarm::observed_alarm;
#[cfg(test)]
use alarm::threshold_str;
#[cfg(test)]
use metric::{metric_of, metric_of_live};

pub const ALARM: &str = "alarm";

const KINDS: &[&dyn Kind] = &[&alarm::AlarmKind];

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

fn has_source(spec: &Spec, s: Source) -> bool {
    match s {
        Source::Alb => spec.edge.is_some(),
        Source::Ecs => spec.app.is_some(),
        Source::Docdb => spec.docdb.is_some(),
        Source::Redis => spec.redis.is_some(),
    }
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    spec.monitoring
        .alarms
        .iter()
        .filter(|(_, a)| has_source(spec, a.source))
        .filter_map(|(name, a)| alarm::desired(spec, name, a))
        .collect()
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

// CloudWatch's tag calls for one alarm (by ARN).
crate::tag_api!(CloudWatchTags, aws_sdk_cloudwatch::Client,
    untag "cloudwatch:UntagResource" => |c, arn, keys| c.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)),
    tag "cloudwatch:TagResource" => |c, arn, tags| c.tag_resource().resource_arn(arn).set_tags(Some(cw_tags(&tags))),
    read "cloudwatch:ListTagsForResource" => |c, arn| c.list_tags_for_resource().resource_arn(arn),
        |o| tag_map(o.tags().iter().map(|t| (t.key(), t.value()))));

/// Tags as CloudWatch takes them.
pub(crate) fn cw_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Every alarm under a name prefix, or the one alarm of an exact name (paginated).
pub(crate) async fn describe(
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

/// Alarms whose tags observe reads at once: bounded, so that an env with many alarms does not
/// burst CloudWatch's request rate (the SDK retries a throttled read).
const TAG_READS: usize = 8;

pub struct Alarms;

#[async_trait]
impl Service for Alarms {
    crate::service_basics!("alarms", KINDS, expand, iam::GRANTS);
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // Names are derived: destroy (no desired) finds them too. The tag index, read beside
        // DescribeAlarms, holds the tags of every alarm of ours.
        let prefix = prefix(&ctx.project, &ctx.env);
        let (live, index) = tokio::try_join!(describe(ctx, &prefix, false), ctx.tag_index())?;
        let ours: Vec<&MetricAlarm> = live
            .iter()
            .filter(|a| {
                id_of_name(&ctx.project, &ctx.env, a.alarm_name().unwrap_or_default()).is_some()
            })
            .collect();
        // An alarm the index does not list (someone else's under our prefix, or tagged too
        // recently to be indexed): its own tag read (CloudWatch has no batch tag read),
        // TAG_READS at once.
        let arns: Vec<String> = ours
            .iter()
            .map(|a| a.alarm_arn().unwrap_or_default().to_string())
            .collect();
        let tags: Vec<Option<BTreeMap<String, String>>> = futures::stream::iter(arns)
            .map(|arn| async move {
                match index.tags(&arn) {
                    Some(t) => Ok(Some(t.clone())),
                    None => CloudWatchTags(&ctx.clients.cloudwatch).read(&arn).await,
                }
            })
            .buffered(TAG_READS)
            .try_collect()
            .await?;
        // Deleted since it was listed: none.
        let out = ours
            .into_iter()
            .zip(tags)
            .filter_map(|(a, tags)| observed_alarm(&ctx.project, &ctx.env, a, &tags?))
            .collect();
        Ok(out)
    }
}
