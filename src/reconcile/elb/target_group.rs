//! `target_group/<colour>`: name `{project}-{env}-<colour>` ([`short_name`]ed to ELB's 32
//! characters), type `ip`, protocol HTTP on the app's port, in `vpc/main`, with the spec's
//! HTTP health check and deregistration delay.
//! - replaced (delete, then create): name, port, protocol, target_type, vpc_id.
//! - updated in place: health_check (ModifyTargetGroup, every health-check field at once),
//!   deregistration_delay_seconds (ModifyTargetGroupAttributes
//!   `deregistration_delay.timeout_seconds`), tags (AddTags / RemoveTags).
//! - observed by name (one DescribeTargetGroups for the desired names and every colour's name
//!   the env's tag index lists; one per name when one of them is missing), tags from the
//!   env's tag index (DescribeTags, 20 ARNs a call, for those it does not list), attributes per
//!   owned target group (DescribeTargetGroupAttributes). A target group under
//!   our name without our tags (project, env and `rtech:id`) is foreign: never modified or
//!   deleted.
//! - deleted with DeleteTargetGroup; AWS refuses (`ResourceInUse`) while a listener or rule
//!   still forwards to it (an ECS service does not block the delete: destroy orders the
//!   service first through its reference): rtech retries for the deregistration delay plus
//!   five minutes, then fails naming what holds it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::operation::create_target_group::builders::CreateTargetGroupFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group::builders::ModifyTargetGroupFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group_attributes::builders::ModifyTargetGroupAttributesFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as SdkTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde::{Deserialize, Serialize};

use super::{elb_tags, existing_at, foreign, short_name, tags_by_arn, ElbTags, COLOURS};
use crate::aws::{all_pages, aws, AwsError, ErrorKind, Required};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, is_ours, retry_while, sync_tags, to_props, Link,
    PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub const TARGET_GROUP: &str = "target_group";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    TARGET_GROUP,
    &["name", "port", "protocol", "target_type", "vpc_id"],
);

/// The target group attribute holding the deregistration delay.
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// A target group's properties. Observe reports what AWS leaves out as null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroupProps {
    pub name: String,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub target_type: Option<String>,
    pub vpc_id: Option<Link>,
    pub health_check: HealthCheck,
    pub deregistration_delay_seconds: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

/// The `health_check` property: every field ModifyTargetGroup takes, all sent at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: Option<String>,
    pub port: Option<String>,
    pub path: Option<String>,
    pub matcher: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
}

pub fn target_group_id(colour: &str) -> ResourceId {
    ResourceId::new(TARGET_GROUP, colour)
}

/// `{project}-{env}-<colour>`, shortened to fit.
pub fn target_group_name(project: &str, env: &str, colour: &str) -> String {
    short_name(&format!("{project}-{env}-{colour}"))
}

fn vpc() -> ResourceId {
    ResourceId::new("vpc", "main")
}

// ---------------------------------------------------------------------------------------------
// expand

/// The target group of one colour (pure; the caller checks `[app]`).
pub fn expand_colour(spec: &Spec, colour: &str) -> Resource {
    let app = spec.app.as_ref().expect("expand checks [app]");
    let tg = &app.target_group;
    let id = target_group_id(colour);
    let name = target_group_name(&spec.project, &spec.env, colour);
    let props = TargetGroupProps {
        name: name.clone(),
        port: Some(app.port),
        protocol: Some("HTTP".into()),
        target_type: Some("ip".into()),
        vpc_id: Some(Link::to(&vpc(), "id")),
        health_check: HealthCheck {
            enabled: true,
            protocol: Some("HTTP".into()),
            port: Some("traffic-port".into()),
            path: Some(tg.health_check_path.clone()),
            matcher: Some(tg.matcher.clone()),
            interval_seconds: Some(tg.interval_seconds),
            timeout_seconds: Some(tg.timeout_seconds),
            healthy_threshold: Some(tg.healthy_threshold),
            unhealthy_threshold: Some(tg.unhealthy_threshold),
        },
        deregistration_delay_seconds: Some(tg.deregistration_delay_seconds),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    to_props(&props)
        .into_iter()
        .fold(Resource::new(id, &name), |r, (k, v)| r.prop(&k, v))
}

// ---------------------------------------------------------------------------------------------
// observe

/// A live target group → `Observed` in the desired shape (pure).
pub fn observe_target_group(
    id: &ResourceId,
    tg: &SdkTargetGroup,
    tags: &BTreeMap<String, String>,
    attributes: &[TargetGroupAttribute],
) -> Observed {
    let arn = tg.target_group_arn().unwrap_or_default();
    let name = tg.target_group_name().unwrap_or_default();
    let int = |v: Option<i32>| v.map(i64::from);
    let props = TargetGroupProps {
        name: name.to_string(),
        port: int(tg.port()),
        protocol: tg.protocol().map(|p| p.as_str().to_string()),
        target_type: tg.target_type().map(|t| t.as_str().to_string()),
        vpc_id: tg.vpc_id().map(Link::from),
        health_check: HealthCheck {
            enabled: tg.health_check_enabled().unwrap_or(true),
            protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
            port: tg.health_check_port().map(str::to_string),
            path: tg.health_check_path().map(str::to_string),
            matcher: tg
                .matcher()
                .and_then(Matcher::http_code)
                .map(str::to_string),
            interval_seconds: int(tg.health_check_interval_seconds()),
            timeout_seconds: int(tg.health_check_timeout_seconds()),
            healthy_threshold: int(tg.healthy_threshold_count()),
            unhealthy_threshold: int(tg.unhealthy_threshold_count()),
        },
        deregistration_delay_seconds: attributes
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value())
            .and_then(|v| v.parse::<i64>().ok()),
        tags: tags.clone(),
    };
    // Deleted before the VPC it lives in.
    let mut o = Observed::new(id.clone(), arn).dep(&vpc());
    o.props = to_props(&props);
    o.attrs = target_group_attrs(arn, name);
    o
}

/// Target groups by name: one DescribeTargetGroups for all the names; by a list of names it
/// fails as a whole (`TargetGroupNotFound`) when one is missing, and then each name is read on
/// its own, all at once. So the reads depend on our names only, never on how many target groups
/// the account has: one call when every name exists (a no-op plan), one per name otherwise.
pub async fn describe_target_groups(
    c: &Client,
    names: &[String],
) -> Result<Vec<SdkTargetGroup>, AwsError> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    if let Some(all) = found(all_pages!(
        c.describe_target_groups().set_names(Some(names.to_vec())),
        "elbv2:DescribeTargetGroups"
    ))? {
        return Ok(all);
    }
    if names.len() == 1 {
        return Ok(vec![]);
    }
    let each = names.iter().map(|n| async move {
        found(all_pages!(
            c.describe_target_groups().names(n),
            "elbv2:DescribeTargetGroups"
        ))
        .map(Option::unwrap_or_default)
    });
    Ok(futures::future::try_join_all(each)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// Every colour's target group (destroy has no desired) and whatever the desired ones are
/// called: one DescribeTargetGroups per name, their tags, and the attributes of the owned ones.
pub async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.elbv2;
    let index = ctx.tag_index().await?;
    // The desired names, and every colour's name that the tag index lists as ours (destroy has
    // no desired; a colour the spec dropped is still found to be deleted).
    let mut wanted: BTreeMap<String, ResourceId> = COLOURS
        .iter()
        .map(|col| {
            (
                target_group_name(&ctx.project, &ctx.env, col),
                target_group_id(col),
            )
        })
        .filter(|(name, _)| {
            index
                .with_prefix("arn:")
                .any(|(arn, _)| arn.contains(&format!(":targetgroup/{name}/")))
        })
        .collect();
    for r in desired.iter().filter(|r| r.id.kind == TARGET_GROUP) {
        let p = from_props::<TargetGroupProps>(&r.props)?;
        wanted.insert(p.name, r.id.clone());
    }
    let names: Vec<String> = wanted.keys().cloned().collect();
    let groups = describe_target_groups(c, &names).await?;
    let arns: Vec<String> = groups
        .iter()
        .filter_map(|g| g.target_group_arn().map(str::to_string))
        .collect();
    let tags = tags_by_arn(ctx, &arns).await?;

    let mut out = vec![];
    let mut ours = vec![];
    for g in &groups {
        let (Some(name), Some(arn)) = (g.target_group_name(), g.target_group_arn()) else {
            continue;
        };
        let Some(id) = wanted.get(name) else {
            continue;
        };
        let t = tags.get(arn).cloned().unwrap_or_default();
        if is_ours(&t, &ctx.project, &ctx.env, id) {
            ours.push((id, g, arn, t));
        } else {
            out.push(foreign(id, arn));
        }
    }
    let attributes = futures::future::try_join_all(ours.iter().map(|(_, _, arn, _)| async move {
        c.describe_target_group_attributes()
            .target_group_arn(*arn)
            .send()
            .await
            .map(|r| r.attributes().to_vec())
            .map_err(aws("elbv2:DescribeTargetGroupAttributes"))
    }))
    .await?;
    for ((id, g, _, t), a) in ours.into_iter().zip(attributes) {
        out.push(observe_target_group(id, g, &t, &a));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

fn i32_of(v: Option<i64>) -> Option<i32> {
    v.map(|n| n as i32)
}

/// Every health-check field of `$h` set on the request `$req` (CreateTargetGroup and
/// ModifyTargetGroup name them alike).
macro_rules! with_health_check {
    ($req:expr, $h:expr) => {{
        let h: &HealthCheck = $h;
        $req.health_check_enabled(h.enabled)
            .set_health_check_protocol(h.protocol.as_deref().map(ProtocolEnum::from))
            .set_health_check_port(h.port.clone())
            .set_health_check_path(h.path.clone())
            .set_matcher(matcher(h))
            .set_health_check_interval_seconds(i32_of(h.interval_seconds))
            .set_health_check_timeout_seconds(i32_of(h.timeout_seconds))
            .set_healthy_threshold_count(i32_of(h.healthy_threshold))
            .set_unhealthy_threshold_count(i32_of(h.unhealthy_threshold))
    }};
}

fn matcher(h: &HealthCheck) -> Option<Matcher> {
    h.matcher
        .as_ref()
        .map(|m| Matcher::builder().http_code(m).build())
}

pub fn create_request(
    c: &Client,
    p: &TargetGroupProps,
) -> Result<CreateTargetGroupFluentBuilder, PropsError> {
    let vpc_id = match &p.vpc_id {
        Some(l) => Some(l.require("vpc_id")?.to_string()),
        None => None,
    };
    let req = c
        .create_target_group()
        .name(&p.name)
        .set_protocol(p.protocol.as_deref().map(ProtocolEnum::from))
        .set_port(i32_of(p.port))
        .set_vpc_id(vpc_id)
        .set_target_type(p.target_type.as_deref().map(TargetTypeEnum::from))
        .set_tags(Some(elb_tags(&p.tags)));
    Ok(with_health_check!(req, &p.health_check))
}

/// Every health-check field at once (ModifyTargetGroup changes only what it is given).
pub fn modify_health_check_request(
    c: &Client,
    arn: &str,
    p: &TargetGroupProps,
) -> ModifyTargetGroupFluentBuilder {
    with_health_check!(
        c.modify_target_group().target_group_arn(arn),
        &p.health_check
    )
}

pub fn attributes_request(
    c: &Client,
    arn: &str,
    p: &TargetGroupProps,
) -> Option<ModifyTargetGroupAttributesFluentBuilder> {
    let delay = p.deregistration_delay_seconds?;
    Some(
        c.modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key(DEREGISTRATION_DELAY)
                    .value(delay.to_string())
                    .build(),
            ),
    )
}

/// How long a delete retries while something still uses the target group: its targets drain
/// for the deregistration delay once the ECS service lets go, plus time for the rest.
pub fn in_use_timeout(o: &Observed) -> Duration {
    let delay = from_props::<TargetGroupProps>(&o.props)
        .ok()
        .and_then(|p| p.deregistration_delay_seconds)
        .unwrap_or(300)
        .max(0) as u64;
    Duration::from_secs(delay + 300)
}

/// What a delete ends with when the target group stays in use past `timeout`.
pub fn still_in_use(o: &Observed, timeout: Duration, e: &AwsError) -> AwsError {
    let name = from_props::<TargetGroupProps>(&o.props)
        .map(|p| p.name)
        .unwrap_or_else(|_| o.physical_id.clone());
    AwsError::new(
        "elbv2:DeleteTargetGroup",
        "ResourceInUse",
        format!(
            "{name} is still used by a listener, rule or ECS service after {} s of retrying; remove what uses it first ({})",
            timeout.as_secs(),
            e.message
        ),
    )
}

fn target_group_attrs(arn: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    // CloudWatch's `TargetGroup` dimension: `targetgroup/<name>/<id>`.
    a.insert("arn_suffix".into(), super::arn_suffix(arn, "targetgroup/"));
    a.insert("name".into(), name.to_string());
    a
}

// ---------------------------------------------------------------------------------------------
// apply

pub struct TargetGroup;

#[async_trait]
impl Kind for TargetGroup {
    crate::typed_kind!(SCHEMA, TargetGroupProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: &TargetGroupProps = &from_props(&r.props)?;
        let c = &ctx.clients.elbv2;
        task.status(&format!("creating target group {}", p.name));
        let create = async {
            let out = create_request(c, p)?
                .send()
                .await
                .map_err(aws("elbv2:CreateTargetGroup"))?;
            Ok(out
                .target_groups()
                .first()
                .and_then(SdkTargetGroup::target_group_arn)
                .required(
                    "elbv2:CreateTargetGroup",
                    format!("no target group ARN returned for {}", p.name),
                )?
                .to_string())
        };
        // The name is unique (AWS answers a repeated create with identical settings with the
        // same group; other settings are DuplicateTargetGroupName): one that is ours is
        // adopted, its settings then set below or by the next plan's update.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let out = found(
                c.describe_target_groups()
                    .names(&p.name)
                    .send()
                    .await
                    .map_err(aws("elbv2:DescribeTargetGroups")),
            )?;
            let tg = out.and_then(|o| o.target_groups().first().cloned());
            existing_at(ctx, r, tg.as_ref().and_then(|t| t.target_group_arn())).await
        })
        .await?;
        if let Some(req) = attributes_request(c, &arn, p) {
            req.send()
                .await
                .map_err(aws("elbv2:ModifyTargetGroupAttributes"))?;
        }
        Ok(target_group_attrs(&arn, &p.name))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &TargetGroupProps = &from_props(&u.desired.props)?;
        let before: TargetGroupProps = from_props(&prior.props)?;
        let arn = prior.physical_id.as_str();
        let c = &ctx.clients.elbv2;
        if changed.contains("health_check") {
            task.status("modifying the health check");
            modify_health_check_request(c, arn, p)
                .send()
                .await
                .map_err(aws("elbv2:ModifyTargetGroup"))?;
        }
        if changed.contains("deregistration_delay_seconds") {
            if let Some(req) = attributes_request(c, arn, p) {
                task.status("modifying the deregistration delay");
                req.send()
                    .await
                    .map_err(aws("elbv2:ModifyTargetGroupAttributes"))?;
            }
        }
        if changed.contains("tags") {
            sync_tags(&ElbTags(c), arn, &before.tags, &p.tags).await?;
        }
        Ok(target_group_attrs(arn, &before.name))
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let c = &ctx.clients.elbv2;
        let arn = o.physical_id.as_str();
        let timeout = in_use_timeout(o);
        let mut waiting = false;
        let r = retry_while(&[ErrorKind::InUse], &[], timeout, || {
            let first = !waiting;
            waiting = true;
            async move {
                if !first {
                    task.status("still in use by a listener, rule or ECS service: retrying");
                }
                c.delete_target_group()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("elbv2:DeleteTargetGroup"))
            }
        })
        .await;
        match gone_ok(r) {
            Err(e) if e.kind() == ErrorKind::InUse => Err(still_in_use(o, timeout, &e)),
            other => other,
        }
    }
}
