//! CloudWatch Logs: rtech's log groups, all tagged, retention from the spec.
//!
//! - `log_group/app`: `/ecs/{project}-{env}-app` (only with an `[app]` section; the task
//!   definition's awslogs configuration points at it), `app.log_retention_days`.
//! - `log_group/docdb-audit`, `log_group/docdb-profiler`: `/aws/docdb/<cluster>/audit` and
//!   `/profiler` (cluster = `{project}-{env}-docdb`, the docdb module's identifier), only with
//!   `[docdb]` and its `audit_logs` / `profiler_logs` export on, `monitoring.docdb_log_retention_days`.
//!   rtech creates them before the cluster exports to them (the cluster depends on them), else
//!   AWS would create them itself, without retention or tags.
//! - `log_group/redis-slow-log`: `/elasticache/{project}-{env}/slow-log` (only with `[redis]`),
//!   `monitoring.redis_log_retention_days`.
//! - `log_group/vpc-flow-logs`: `/vpc/{project}-{env}/flow-logs` (only with `[network]
//!   flow_logs` on; the VPC's flow log delivers to it), `monitoring.flow_log_retention_days`.
//! - `log_group/waf`: `aws-waf-logs-{project}-{env}` (only with `[edge.waf]`; the web ACL's
//!   logging configuration delivers to it, and AWS WAF takes only groups named
//!   `aws-waf-logs-…`), `edge.waf.log_retention_days`.
//!
//! Compared: `retention_in_days` (PutRetentionPolicy; DeleteRetentionPolicy for "never
//! expire"), `tags` (TagResource / UntagResource on the group's ARN), and `name` (replaced).
//! Observe: one DescribeLogGroups by `logGroupNamePattern` `{project}-{env}`, which every
//! name holds (`/ecs/…-app`, `/aws/docdb/<cluster>/`, `/elasticache/{project}-{env}/`,
//! `/vpc/{project}-{env}/`, `aws-waf-logs-{project}-{env}`; paginated; exact names picked
//! client-side) beside the env's tag index (`kit::tag_index`), which holds our groups' tags; a
//! group found that the index does not list (someone else's, or just tagged) gets its own
//! ListTagsForResource: 1 call, at most 1 + 6. Names are
//! deterministic, so destroy finds the groups without a spec. A same-named group without our
//! tags is a conflict, never touched. DescribeLogGroups' `arn` ends in `:*`; the tag APIs and
//! the `arn` attribute use the ARN without it (`logGroupArn`).

#[path = "logs_iam.rs"]
mod iam;
use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as AwsLogGroup;
use aws_sdk_cloudwatchlogs::Client;
use serde::{Deserialize, Serialize};

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{self, found, from_props, gone_ok, is_ours, to_props, TagApi};
use crate::reconcile::{Ctx, Import, Kind, PhysicalId, Service, Update};
use crate::spec::Spec;

pub const LOG_GROUP: &str = "log_group";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(LOG_GROUP, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroupProps {
    pub name: String,
    /// None: never expire.
    pub retention_in_days: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

impl LogGroupProps {
    /// The group as DescribeLogGroups has it, with its tags.
    pub fn observed(g: &AwsLogGroup, tags: &BTreeMap<String, String>) -> Self {
        LogGroupProps {
            name: g.log_group_name().unwrap_or_default().to_string(),
            retention_in_days: g.retention_in_days().map(i64::from),
            tags: tags.clone(),
        }
    }
}

pub fn group_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "app")
}

/// `log_group/docdb-audit`.
pub fn docdb_audit_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "docdb-audit")
}

/// `log_group/docdb-profiler`.
pub fn docdb_profiler_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "docdb-profiler")
}

/// `log_group/redis-slow-log`.
pub fn redis_slow_log_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "redis-slow-log")
}

/// `log_group/vpc-flow-logs`.
pub fn flow_logs_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "vpc-flow-logs")
}

/// `log_group/waf`.
pub fn waf_logs_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "waf")
}

/// `aws-waf-logs-{project}-{env}`: AWS WAF delivers only to groups named `aws-waf-logs-…`.
pub fn waf_logs_name(project: &str, env: &str) -> String {
    format!("aws-waf-logs-{project}-{env}")
}

/// `/vpc/{project}-{env}/flow-logs`.
pub fn flow_logs_name(project: &str, env: &str) -> String {
    format!("/vpc/{project}-{env}/flow-logs")
}

/// `/ecs/{project}-{env}-app`.
pub fn group_name(project: &str, env: &str) -> String {
    format!("/ecs/{project}-{env}-app")
}

/// The DocumentDB cluster identifier, as the docdb module names it (`spec.name("docdb")`).
pub fn docdb_cluster(project: &str, env: &str) -> String {
    format!("{project}-{env}-docdb")
}

/// `/aws/docdb/<cluster>/<log>` (`audit` or `profiler`): the name AWS exports to.
pub fn docdb_group_name(project: &str, env: &str, log: &str) -> String {
    format!("/aws/docdb/{}/{log}", docdb_cluster(project, env))
}

/// `/elasticache/{project}-{env}/slow-log`.
pub fn redis_slow_log_name(project: &str, env: &str) -> String {
    format!("/elasticache/{project}-{env}/slow-log")
}

/// Every group rtech may own in an env, derived from project/env only (observe and destroy):
/// (id, name). Each name holds [`name_pattern`].
pub fn known_groups(project: &str, env: &str) -> Vec<(ResourceId, String)> {
    vec![
        (group_id(), group_name(project, env)),
        (docdb_audit_id(), docdb_group_name(project, env, "audit")),
        (
            docdb_profiler_id(),
            docdb_group_name(project, env, "profiler"),
        ),
        (redis_slow_log_id(), redis_slow_log_name(project, env)),
        (flow_logs_id(), flow_logs_name(project, env)),
        (waf_logs_id(), waf_logs_name(project, env)),
    ]
}

/// What every group name of the env holds (`{project}-{env}`): DescribeLogGroups'
/// `logGroupNamePattern` (a substring of the name) finds them all with one paginated call.
pub fn name_pattern(project: &str, env: &str) -> String {
    format!("{project}-{env}")
}

fn group(spec: &Spec, id: ResourceId, name: String, days: i64) -> Resource {
    let props = LogGroupProps {
        name: name.clone(),
        retention_in_days: Some(days),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    let mut r = Resource::new(id, name);
    r.props = to_props(&props);
    r
}

/// Spec → Desired (pure): the app's group with `[app]`, the DocumentDB export groups with
/// `[docdb]` (each only when its export is on), the Redis slow-log group with `[redis]`, the
/// VPC flow log's group with `[network] flow_logs` on, the WAF's group with `[edge.waf]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let (p, e) = (spec.project.as_str(), spec.env.as_str());
    let m = &spec.monitoring;
    let mut out = vec![];
    if let Some(app) = &spec.app {
        out.push(group(
            spec,
            group_id(),
            group_name(p, e),
            app.log_retention_days,
        ));
    }
    if let Some(d) = &spec.docdb {
        let days = m.docdb_log_retention_days;
        if d.audit_logs {
            out.push(group(
                spec,
                docdb_audit_id(),
                docdb_group_name(p, e, "audit"),
                days,
            ));
        }
        if d.profiler_logs {
            out.push(group(
                spec,
                docdb_profiler_id(),
                docdb_group_name(p, e, "profiler"),
                days,
            ));
        }
    }
    if spec.redis.is_some() {
        out.push(group(
            spec,
            redis_slow_log_id(),
            redis_slow_log_name(p, e),
            m.redis_log_retention_days,
        ));
    }
    if spec.network.flow_logs.traffic_type().is_some() {
        out.push(group(
            spec,
            flow_logs_id(),
            flow_logs_name(p, e),
            m.flow_log_retention_days,
        ));
    }
    if let Some(waf) = spec.edge.as_ref().and_then(|e| e.waf.as_ref()) {
        out.push(group(
            spec,
            waf_logs_id(),
            waf_logs_name(p, e),
            waf.log_retention_days,
        ));
    }
    out
}

/// The ARN the tag APIs take: DescribeLogGroups' `logGroupArn`, or its `arn` without `:*`.
pub fn group_arn(g: &AwsLogGroup) -> String {
    match g.log_group_arn() {
        Some(a) => a.to_string(),
        None => {
            let a = g.arn().unwrap_or_default();
            a.strip_suffix(":*").unwrap_or(a).to_string()
        }
    }
}

/// The attributes others refer to: `name`, `arn` (no `:*`), and `streams_arn` (`arn:*`, the
/// group's log streams, as an IAM policy names them).
fn group_attrs(a: &mut Attrs, name: &str, arn: String) {
    a.insert("name".into(), name.to_string());
    a.insert("streams_arn".into(), format!("{arn}:*"));
    a.insert("arn".into(), arn);
}

/// A live log group → `Observed` (pure).
pub fn observed_group(
    id: ResourceId,
    g: &AwsLogGroup,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let name = g.log_group_name().unwrap_or_default();
    let mut o = Observed::new(id, name);
    o.props = to_props(&LogGroupProps::observed(g, tags));
    group_attrs(&mut o.attrs, name, group_arn(g));
    o
}

/// A live group and its tags → ours (`Observed` with props) or a foreign one (a conflict).
fn classify(
    id: ResourceId,
    g: &AwsLogGroup,
    tags: &BTreeMap<String, String>,
    project: &str,
    env: &str,
) -> Observed {
    if is_ours(tags, project, env, &id) {
        observed_group(id, g, tags)
    } else {
        let mut o = Observed::new(id, g.log_group_name().unwrap_or_default());
        o.ownership = Ownership::Foreign;
        o
    }
}

/// The group's tags (None: deleted since it was listed).
async fn list_tags(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let r = ctx
        .clients
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("logs:ListTagsForResource"));
    Ok(found(r)?.map(|out| {
        kit::tags::tag_map(
            out.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        )
    }))
}

/// Every group whose name holds `pattern` (one paginated DescribeLogGroups).
async fn describe_pattern(ctx: &Ctx, pattern: &str) -> Result<Vec<AwsLogGroup>, AwsError> {
    all_pages!(
        ctx.clients
            .logs
            .describe_log_groups()
            .log_group_name_pattern(pattern),
        "logs:DescribeLogGroups"
    )
}

/// Every group whose name starts with `prefix` (one paginated DescribeLogGroups).
async fn describe_prefix(ctx: &Ctx, prefix: &str) -> Result<Vec<AwsLogGroup>, AwsError> {
    all_pages!(
        ctx.clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix),
        "logs:DescribeLogGroups"
    )
}

/// The group as DescribeLogGroups has it (exact name).
async fn describe(ctx: &Ctx, name: &str) -> Result<Option<AwsLogGroup>, AwsError> {
    Ok(describe_prefix(ctx, name)
        .await?
        .into_iter()
        .find(|g| g.log_group_name() == Some(name)))
}

crate::tag_api!(Tags, Client,
    untag "logs:UntagResource" => |c, arn, keys| c.untag_resource()
        .resource_arn(arn).set_tag_keys(Some(keys)),
    tag "logs:TagResource" => |c, arn, tags| c.tag_resource()
        .resource_arn(arn).set_tags(Some(tags.into_iter().collect())));

async fn set_retention(ctx: &Ctx, name: &str, days: Option<i64>) -> Result<(), AwsError> {
    let logs = &ctx.clients.logs;
    match days {
        Some(d) => {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(d as i32)
                .send()
                .await
                .map_err(aws("logs:PutRetentionPolicy"))?;
        }
        None => {
            logs.delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map_err(aws("logs:DeleteRetentionPolicy"))?;
        }
    }
    Ok(())
}

pub struct LogGroup;

/// A log group name as CloudWatch Logs allows it: 1–512 letters, digits and `._-/#`.
pub fn is_group_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
}

static GROUP_NAME: PhysicalId = PhysicalId {
    form: "a log group name",
    check: is_group_name,
    found_by_name: true,
};

/// `rtech import log_group/… NAME`: DescribeLogGroups of that name and its tags, read as
/// observe reads ours. Observe finds groups by the names the spec gives them.
#[async_trait]
impl Import for LogGroup {
    fn physical(&self) -> &'static PhysicalId {
        &GROUP_NAME
    }

    async fn read(&self, ctx: &Ctx, id: &ResourceId, name: &str) -> Result<Observed, AwsError> {
        let missing = || {
            AwsError::new(
                "logs:DescribeLogGroups",
                "ResourceNotFoundException",
                format!("no log group named {name}"),
            )
        };
        let g = describe(ctx, name).await?.ok_or_else(missing)?;
        let tags = list_tags(ctx, &group_arn(&g)).await?.ok_or_else(missing)?;
        Ok(observed_group(id.clone(), &g, &tags))
    }

    fn tag_calls<'a>(&self, ctx: &'a Ctx, live: &Observed) -> (Box<dyn TagApi + 'a>, String) {
        let arn = live.attrs.get("arn").cloned().unwrap_or_default();
        (Box::new(Tags(&ctx.clients.logs)), arn)
    }
}

#[async_trait]
impl Kind for LogGroup {
    crate::typed_kind!(SCHEMA, LogGroupProps, import);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: &LogGroupProps = &from_props(&r.props)?;
        let name = p.name.as_str();
        let create = async {
            ctx.clients
                .logs
                .create_log_group()
                .log_group_name(name)
                .set_tags(Some(p.tags.clone().into_iter().collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("logs:CreateLogGroup"))
        };
        // The name is unique: a retried create (lost response) adopts the group when it is
        // ours; the retention is set below either way.
        kit::adopt_on_exists(&r.id.to_string(), create, || async {
            Ok(match describe(ctx, name).await? {
                None => kit::Existing::Missing,
                Some(g) => {
                    let tags = list_tags(ctx, &group_arn(&g)).await?;
                    kit::Existing::of(ctx, &r.id, tags, ())
                }
            })
        })
        .await?;
        if let Some(d) = p.retention_in_days {
            task.status("setting the retention");
            set_retention(ctx, name, Some(d)).await?;
        }
        // CreateLogGroup returns nothing: read the ARN back.
        let g = describe(ctx, name).await?.ok_or_else(|| {
            AwsError::new(
                "logs:DescribeLogGroups",
                "ResourceNotFoundException",
                format!("{name} is not there right after CreateLogGroup"),
            )
        })?;
        let mut a = Attrs::new();
        a.insert("id".into(), name.to_string());
        group_attrs(&mut a, name, group_arn(&g));
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &LogGroupProps = &from_props(&u.desired.props)?;
        let name = prior.physical_id.as_str();
        if changed.contains("retention_in_days") {
            set_retention(ctx, name, p.retention_in_days).await?;
        }
        if changed.contains("tags") {
            let before: LogGroupProps = from_props(&prior.props)?;
            let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
            kit::sync_tags(&Tags(&ctx.clients.logs), &arn, &before.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .logs
                .delete_log_group()
                .log_group_name(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("logs:DeleteLogGroup")),
        )
    }
}

const KINDS: &[&dyn Kind] = &[&LogGroup];

pub struct Logs;

#[async_trait]
impl Service for Logs {
    crate::service_basics!("logs", KINDS, expand, iam::GRANTS, outputs: [("app_log_group", "log_group", "app", "name")]);

    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // Names are deterministic: destroy (no desired) finds the groups too.
        let known = known_groups(&ctx.project, &ctx.env);
        let pattern = name_pattern(&ctx.project, &ctx.env);
        let (groups, index) = tokio::try_join!(describe_pattern(ctx, &pattern), ctx.tag_index())?;
        let live: BTreeMap<String, AwsLogGroup> = groups
            .into_iter()
            .filter_map(|g| Some((g.log_group_name()?.to_string(), g)))
            .collect();
        let found: Vec<(ResourceId, &AwsLogGroup)> = known
            .into_iter()
            .filter_map(|(id, name)| Some((id, live.get(&name)?)))
            .collect();
        let tags = futures::future::try_join_all(found.iter().map(|(_, g)| async move {
            match index.tags(&group_arn(g)) {
                Some(t) => Ok(Some(t.clone())),
                None => list_tags(ctx, &group_arn(g)).await,
            }
        }))
        .await?;
        Ok(found
            .into_iter()
            .zip(tags)
            // A group deleted since it was listed is gone.
            .filter_map(|((id, g), t)| Some(classify(id, g, &t?, &ctx.project, &ctx.env)))
            .collect())
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{tags_of, Value, TAG_ENV, TAG_ID, TAG_PROJECT};
    use crate::testutil::{dev_spec, diff_of, env_spec};

    #[test]
    fn dev_and_prod_groups_follow_the_spec() {
        for (env, days) in [("dev", 7), ("prod", 30)] {
            let rs = expand(&env_spec(env));
            let g = rs.iter().find(|r| r.id == group_id()).unwrap();
            assert_eq!(g.id, group_id());
            assert_eq!(
                g.get_str("name"),
                Some(format!("/ecs/rtech-{env}-app").as_str())
            );
            assert_eq!(g.props["retention_in_days"], Value::Int(days));
            let tags = tags_of(&g.props);
            assert_eq!(tags[TAG_ID], "log_group/app");
            assert_eq!(tags[TAG_ENV], env);
            assert_eq!(tags["Name"], format!("/ecs/rtech-{env}-app"));
            assert!(g.deps.is_empty());
        }
    }

    #[test]
    fn no_app_no_group() {
        let spec = dev_spec("\n[ecr]\n");
        assert!(expand(&spec).is_empty());
    }

    fn live(retention: Option<i32>, arn_field_only: bool) -> AwsLogGroup {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/rtech-dev-app";
        let mut b = AwsLogGroup::builder()
            .log_group_name("/ecs/rtech-dev-app")
            .arn(format!("{arn}:*"))
            .set_retention_in_days(retention)
            .stored_bytes(0);
        if !arn_field_only {
            b = b.log_group_arn(arn);
        }
        b.build()
    }

    #[test]
    fn the_arn_never_ends_in_a_wildcard() {
        let want = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/rtech-dev-app";
        assert_eq!(group_arn(&live(Some(7), false)), want);
        assert_eq!(group_arn(&live(Some(7), true)), want);
        let o = observed_group(group_id(), &live(Some(7), true), &BTreeMap::new());
        assert_eq!(o.attrs["arn"], want);
        assert_eq!(o.attrs["streams_arn"], format!("{want}:*"));
        assert_eq!(o.attrs["name"], "/ecs/rtech-dev-app");
        assert_eq!(o.physical_id, "/ecs/rtech-dev-app");
    }

    #[test]
    fn a_group_as_aws_returns_it_is_no_change_and_retention_drift_is_one_field() {
        let desired: Vec<Resource> = expand(&env_spec("dev"))
            .into_iter()
            .filter(|r| r.id == group_id())
            .collect();
        let tags = tags_of(&desired[0].props);
        let same = observed_group(group_id(), &live(Some(7), false), &tags);
        assert!(diff_of("dev", &desired, &[same], false).changes.is_empty());

        let drifted = observed_group(group_id(), &live(Some(30), false), &tags);
        let p = diff_of("dev", &desired, &[drifted], false);
        assert_eq!(p.changes.len(), 1);
        let f = &p.changes[0].fields;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path, "retention_in_days");
        assert_eq!(f[0].before, Some(Value::Int(30)));
        assert_eq!(f[0].after, Some(Value::Int(7)));

        // "Never expire" (no retentionInDays) is a difference too.
        let never = observed_group(group_id(), &live(None, false), &tags);
        let p = diff_of("dev", &desired, &[never], false);
        assert_eq!(p.changes[0].fields[0].before, None);
    }

    #[test]
    fn ownership_needs_project_env_and_id() {
        let desired: Vec<Resource> = expand(&env_spec("dev"))
            .into_iter()
            .filter(|r| r.id == group_id())
            .collect();
        let tags = tags_of(&desired[0].props);
        assert!(is_ours(&tags, "rtech", "dev", &group_id()));
        assert!(!is_ours(&tags, "rtech", "prod", &group_id()));
        let mut other = tags.clone();
        other.insert(TAG_ID.into(), "log_group/other".into());
        assert!(!is_ours(&other, "rtech", "dev", &group_id()));
        assert!(!is_ours(&BTreeMap::new(), "rtech", "dev", &group_id()));
    }

    fn with(extra: &str) -> Spec {
        dev_spec(&format!("\n[ecr]\n{extra}"))
    }

    fn ids(rs: &[Resource]) -> Vec<String> {
        rs.iter().map(|r| r.id.to_string()).collect()
    }

    #[test]
    fn data_tier_groups_follow_the_spec() {
        // dev has docdb (both exports) and redis.
        let spec = env_spec("dev");
        let rs = expand(&spec);
        assert!(spec.docdb.is_some() && spec.redis.is_some());
        let audit = rs.iter().find(|r| r.id == docdb_audit_id()).unwrap();
        assert_eq!(
            audit.get_str("name"),
            Some("/aws/docdb/rtech-dev-docdb/audit")
        );
        assert_eq!(
            audit.props["retention_in_days"],
            Value::Int(spec.monitoring.docdb_log_retention_days)
        );
        assert_eq!(tags_of(&audit.props)[TAG_ID], "log_group/docdb-audit");
        let prof = rs.iter().find(|r| r.id == docdb_profiler_id()).unwrap();
        assert_eq!(
            prof.get_str("name"),
            Some("/aws/docdb/rtech-dev-docdb/profiler")
        );
        let slow = rs.iter().find(|r| r.id == redis_slow_log_id()).unwrap();
        assert_eq!(
            slow.get_str("name"),
            Some("/elasticache/rtech-dev/slow-log")
        );
        assert_eq!(
            slow.props["retention_in_days"],
            Value::Int(spec.monitoring.redis_log_retention_days)
        );
        assert_eq!(
            tags_of(&slow.props)["Name"],
            "/elasticache/rtech-dev/slow-log"
        );
        // Nothing without the services.
        assert!(expand(&with("")).is_empty());
    }

    #[test]
    fn docdb_exports_off_no_group_and_no_dependency() {
        let both = with("\n[docdb]\n");
        assert_eq!(
            ids(&expand(&both)),
            ["log_group/docdb-audit", "log_group/docdb-profiler"]
        );
        let audit_only = with("\n[docdb]\nprofiler_logs = false\n");
        assert_eq!(ids(&expand(&audit_only)), ["log_group/docdb-audit"]);
        let none = with("\n[docdb]\naudit_logs = false\nprofiler_logs = false\n");
        assert!(expand(&none).is_empty());

        // The cluster depends on exactly the groups it exports to.
        let cluster = |s: &Spec| {
            crate::reconcile::docdb::expand(s)
                .into_iter()
                .find(|r| r.id.to_string() == "docdb_cluster/main")
                .unwrap()
        };
        let c = cluster(&both);
        assert!(c.deps.contains(&docdb_audit_id()) && c.deps.contains(&docdb_profiler_id()));
        let c = cluster(&audit_only);
        assert!(c.deps.contains(&docdb_audit_id()) && !c.deps.contains(&docdb_profiler_id()));
        assert!(!cluster(&none)
            .deps
            .iter()
            .any(|d| d.to_string().starts_with("log_group/")));
    }

    #[test]
    fn the_flow_log_group_follows_network_flow_logs() {
        let off = with("");
        assert!(!ids(&expand(&off)).contains(&"log_group/vpc-flow-logs".to_string()));
        let mut spec = dev_spec("\n[monitoring]\nflow_log_retention_days = 90\n");
        spec.network.flow_logs = crate::spec::network::FlowLogs::Reject;
        let rs = expand(&spec);
        let g = rs.iter().find(|r| r.id == flow_logs_id()).unwrap();
        assert_eq!(g.get_str("name"), Some("/vpc/rtech-dev/flow-logs"));
        assert_eq!(g.props["retention_in_days"], Value::Int(90));
        assert_eq!(tags_of(&g.props)[TAG_ID], "log_group/vpc-flow-logs");
    }

    #[test]
    fn known_names_derive_from_project_and_env() {
        let k = known_groups("rtech", "prod");
        let names: Vec<&str> = k.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "/ecs/rtech-prod-app",
                "/aws/docdb/rtech-prod-docdb/audit",
                "/aws/docdb/rtech-prod-docdb/profiler",
                "/elasticache/rtech-prod/slow-log",
                "/vpc/rtech-prod/flow-logs",
                "aws-waf-logs-rtech-prod",
            ]
        );
        let pattern = name_pattern("rtech", "prod");
        for (_, n) in &k {
            assert!(n.contains(pattern.as_str()), "{n} {pattern}");
        }
    }

    #[test]
    fn a_same_named_group_without_our_tags_is_foreign() {
        let g = live(Some(7), false);
        let o = classify(docdb_audit_id(), &g, &BTreeMap::new(), "rtech", "dev");
        assert_eq!(o.ownership, Ownership::Foreign);
        let mut t = BTreeMap::new();
        t.insert(TAG_PROJECT.to_string(), "rtech".to_string());
        t.insert(TAG_ENV.to_string(), "dev".to_string());
        t.insert(TAG_ID.to_string(), "log_group/docdb-audit".to_string());
        let o = classify(docdb_audit_id(), &g, &t, "rtech", "dev");
        assert_eq!(o.ownership, Ownership::Owned);
        assert_eq!(o.props["retention_in_days"], Value::Int(7));
        // Our tags, but another group's id: not ours either.
        assert_eq!(
            classify(redis_slow_log_id(), &g, &t, "rtech", "dev").ownership,
            Ownership::Foreign
        );
    }
}
