//! CloudWatch Logs: `log_group/app`, the app's log group `/ecs/{project}-{env}-app` (only with
//! an `[app]` section; the task definition's awslogs configuration points at it).
//!
//! Compared: `retention_in_days` (PutRetentionPolicy; DeleteRetentionPolicy for "never
//! expire"), `tags` (TagResource / UntagResource on the group's ARN), and `name` (replaced).
//! Observe: DescribeLogGroups with the name as prefix (paginated; the exact name is picked
//! client-side) and ListTagsForResource for that group: two calls. The name is deterministic,
//! so destroy finds the group without a spec. A same-named group without our tags is a
//! conflict, never touched. DescribeLogGroups' `arn` ends in `:*`; the tag APIs and the `arn`
//! attribute use the ARN without it (`logGroupArn`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup;

use crate::aws::{all_pages, aws, AwsError};
use crate::engine::progress::Task;
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const LOG_GROUP: &str = "log_group";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: LOG_GROUP,
    force_new: &["name"],
    new_attrs_on_update: false,
}];

pub fn group_id() -> ResourceId {
    ResourceId::new(LOG_GROUP, "app")
}

/// `/ecs/{project}-{env}-app`.
pub fn group_name(project: &str, env: &str) -> String {
    format!("/ecs/{project}-{env}-app")
}

/// Spec → Desired (pure): the app's log group, when the spec has `[app]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(app) = &spec.app else {
        return vec![];
    };
    let id = group_id();
    let name = group_name(&spec.project, &spec.env);
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    vec![Resource::new(id, name.clone())
        .prop("name", Value::str(name))
        .prop("retention_in_days", Value::Int(app.log_retention_days))
        .prop("tags", Value::string_map(&tags))]
}

/// The ARN the tag APIs take: DescribeLogGroups' `logGroupArn`, or its `arn` without `:*`.
pub fn group_arn(g: &LogGroup) -> String {
    match g.log_group_arn() {
        Some(a) => a.to_string(),
        None => {
            let a = g.arn().unwrap_or_default();
            a.strip_suffix(":*").unwrap_or(a).to_string()
        }
    }
}

fn ours(tags: &BTreeMap<String, String>, project: &str, env: &str) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&group_id().to_string())
}

/// A live log group → `Observed` (pure).
pub fn observed_group(g: &LogGroup, tags: &BTreeMap<String, String>) -> Observed {
    let name = g.log_group_name().unwrap_or_default();
    let arn = group_arn(g);
    let mut o = Observed::new(group_id(), name)
        .prop("name", Value::str(name))
        .prop(
            "retention_in_days",
            g.retention_in_days()
                .map(|d| Value::Int(d.into()))
                .unwrap_or(Value::Null),
        )
        .prop("tags", Value::string_map(tags));
    o.attrs.insert("name".into(), name.to_string());
    o.attrs.insert("arn".into(), arn);
    o
}

async fn list_tags(ctx: &Ctx, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = ctx
        .clients
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("logs:ListTagsForResource"))?;
    Ok(out
        .tags()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with("aws:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

/// The group as DescribeLogGroups has it (exact name).
async fn describe(ctx: &Ctx, name: &str) -> Result<Option<LogGroup>, AwsError> {
    let groups = all_pages!(
        ctx.clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name),
        "logs:DescribeLogGroups"
    )?;
    Ok(groups
        .into_iter()
        .find(|g| g.log_group_name() == Some(name)))
}

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

fn retention(r: &Resource) -> Option<i64> {
    r.props.get("retention_in_days").and_then(Value::as_int)
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let logs = &ctx.clients.logs;
    let name = r.get_str("name").unwrap_or_default();
    logs.create_log_group()
        .log_group_name(name)
        .set_tags(Some(tags_of(&r.props).into_iter().collect()))
        .send()
        .await
        .map_err(aws("logs:CreateLogGroup"))?;
    if let Some(d) = retention(r) {
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
    a.insert("name".into(), name.to_string());
    a.insert("arn".into(), group_arn(&g));
    Ok(a)
}

async fn update(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &std::collections::BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    let logs = &ctx.clients.logs;
    let name = prior.physical_id.as_str();
    if changed.contains("retention_in_days") {
        set_retention(ctx, name, retention(desired)).await?;
    }
    if changed.contains("tags") {
        let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
        let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
        if !d.removed.is_empty() {
            logs.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(d.removed))
                .send()
                .await
                .map_err(aws("logs:UntagResource"))?;
        }
        if !d.set.is_empty() {
            logs.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(d.set.into_iter().collect()))
                .send()
                .await
                .map_err(aws("logs:TagResource"))?;
        }
    }
    Ok(prior.attrs.clone())
}

pub struct Logs;

#[async_trait]
impl Reconciler for Logs {
    fn service(&self) -> &'static str {
        "logs"
    }

    fn kinds(&self) -> &'static [KindSchema] {
        KINDS
    }

    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // The name is deterministic: destroy (no desired) finds the group too.
        let name = group_name(&ctx.project, &ctx.env);
        let Some(g) = describe(ctx, &name).await? else {
            return Ok(vec![]);
        };
        let tags = match list_tags(ctx, &group_arn(&g)).await {
            Ok(t) => t,
            // Deleted since it was listed.
            Err(e) if e.code == "ResourceNotFoundException" => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        if !ours(&tags, &ctx.project, &ctx.env) {
            let mut o = Observed::new(group_id(), &name);
            o.ownership = Ownership::Foreign;
            return Ok(vec![o]);
        }
        Ok(vec![observed_group(&g, &tags)])
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed).await,
            Op::Delete(o) => {
                match ctx
                    .clients
                    .logs
                    .delete_log_group()
                    .log_group_name(&o.physical_id)
                    .send()
                    .await
                    .map_err(aws("logs:DeleteLogGroup"))
                {
                    Ok(_) => Ok(Attrs::new()),
                    Err(e) if e.code == "ResourceNotFoundException" => Ok(Attrs::new()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{diff, DiffInput};

    fn spec_of(env: &str) -> Spec {
        let path = format!("{}/envs/{env}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        crate::spec::parse(&format!("envs/{env}.toml"), &text, env)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn plan_of(desired: &[Resource], observed: &[Observed]) -> crate::plan::Plan {
        diff(&DiffInput {
            project: "rtech",
            env: "dev",
            region: "us-east-1",
            desired,
            observed,
            schema: &crate::reconcile::schema,
            targets: &[],
            destroy: false,
        })
        .unwrap()
    }

    #[test]
    fn dev_and_prod_groups_follow_the_spec() {
        for (env, days) in [("dev", 7), ("prod", 30)] {
            let rs = expand(&spec_of(env));
            assert_eq!(rs.len(), 1, "{env}");
            let g = &rs[0];
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
        let text = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[ecr]\n";
        let spec = crate::spec::parse("envs/dev.toml", text, "dev").unwrap();
        assert!(expand(&spec).is_empty());
    }

    fn live(retention: Option<i32>, arn_field_only: bool) -> LogGroup {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/rtech-dev-app";
        let mut b = LogGroup::builder()
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
        let o = observed_group(&live(Some(7), true), &BTreeMap::new());
        assert_eq!(o.attrs["arn"], want);
        assert_eq!(o.attrs["name"], "/ecs/rtech-dev-app");
        assert_eq!(o.physical_id, "/ecs/rtech-dev-app");
    }

    #[test]
    fn a_group_as_aws_returns_it_is_no_change_and_retention_drift_is_one_field() {
        let desired = expand(&spec_of("dev"));
        let tags = tags_of(&desired[0].props);
        let same = observed_group(&live(Some(7), false), &tags);
        assert!(plan_of(&desired, &[same]).changes.is_empty());

        let drifted = observed_group(&live(Some(30), false), &tags);
        let p = plan_of(&desired, &[drifted]);
        assert_eq!(p.changes.len(), 1);
        let f = &p.changes[0].fields;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path, "retention_in_days");
        assert_eq!(f[0].before, Some(Value::Int(30)));
        assert_eq!(f[0].after, Some(Value::Int(7)));

        // "Never expire" (no retentionInDays) is a difference too.
        let never = observed_group(&live(None, false), &tags);
        let p = plan_of(&desired, &[never]);
        assert_eq!(p.changes[0].fields[0].before, None);
    }

    #[test]
    fn ownership_needs_project_env_and_id() {
        let desired = expand(&spec_of("dev"));
        let tags = tags_of(&desired[0].props);
        assert!(ours(&tags, "rtech", "dev"));
        assert!(!ours(&tags, "rtech", "prod"));
        let mut other = tags.clone();
        other.insert(TAG_ID.into(), "log_group/other".into());
        assert!(!ours(&other, "rtech", "dev"));
        assert!(!ours(&BTreeMap::new(), "rtech", "dev"));
    }
}
