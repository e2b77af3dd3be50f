//! Elastic Load Balancing v2: the app's target group(s) (`target_group/<colour>`; today only
//! `blue`, named so that a `green` can join it for blue/green deployments), and with `[edge]`
//! the Application Load Balancer and its listeners ([`alb`]). The naming ([`short_name`]), tag
//! reading ([`tags_by_arn`], batched) and ownership ([`owned`]) helpers are shared.
//!
//! `target_group/<colour>`: name `{project}-{env}-<colour>` ([`short_name`]ed to ELB's 32
//! characters), type `ip`, protocol HTTP on the app's port, in `vpc/main`, with the spec's
//! HTTP health check and deregistration delay.
//! - replaced (delete, then create): name, port, protocol, target_type, vpc_id.
//! - updated in place: health_check (ModifyTargetGroup, every health-check field at once),
//!   deregistration_delay_seconds (ModifyTargetGroupAttributes
//!   `deregistration_delay.timeout_seconds`), tags (AddTags / RemoveTags).
//! - observed by name (one DescribeTargetGroups), tags in batches of 20 ARNs (DescribeTags),
//!   attributes per owned target group (DescribeTargetGroupAttributes). A target group under
//!   our name without our tags (project, env and `rtech:id`) is foreign: never modified or
//!   deleted.
//! - deleted with DeleteTargetGroup; AWS refuses (`ResourceInUse`) while a listener or rule
//!   still forwards to it (an ECS service does not block the delete: destroy orders the
//!   service first through its reference): rtech retries for the deregistration delay plus
//!   five minutes, then fails naming what holds it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::operation::create_target_group::builders::CreateTargetGroupFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group::builders::ModifyTargetGroupFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_target_group_attributes::builders::ModifyTargetGroupAttributesFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, Tag, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use sha2::{Digest, Sha256};

use crate::aws::{all_pages, aws, retry_on, AwsError, Required};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub mod alb;

pub const TARGET_GROUP: &str = "target_group";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: TARGET_GROUP,
        force_new: &["name", "port", "protocol", "target_type", "vpc_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: alb::LOAD_BALANCER,
        force_new: &["name", "scheme", "type"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: alb::LISTENER,
        force_new: &["load_balancer_arn"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

/// The target groups an env can have, by colour (the resource name). Observe looks for every
/// one of them, so destroy finds them without a spec.
pub const COLOURS: &[&str] = &["blue"];

/// ELB's limit for target group and load balancer names.
pub const NAME_MAX: usize = 32;

/// The target group attribute holding the deregistration delay.
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// A name ELB accepts (at most 32 characters): `full` itself when it fits, else a prefix of it,
/// a hyphen and 8 hex digits of its SHA-256 (stable: the same full name always gives the same
/// short one; different full names with the same prefix stay apart). Never ends with a hyphen
/// and never makes a `--`.
pub fn short_name(full: &str) -> String {
    if full.len() <= NAME_MAX {
        return full.to_string();
    }
    let hash = hex::encode(&Sha256::digest(full.as_bytes())[..4]);
    let keep = NAME_MAX - hash.len() - 1;
    let prefix: String = full.chars().take(keep).collect();
    format!("{}-{hash}", prefix.trim_end_matches('-'))
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

/// Spec → Desired (pure): the target groups with an `[app]` section, the load balancer and
/// its listeners with `[edge]` (which needs `[app]`).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    if spec.app.is_none() {
        return vec![];
    }
    let mut out: Vec<Resource> = COLOURS.iter().map(|c| target_group(spec, c)).collect();
    out.extend(alb::expand(spec));
    out
}

fn target_group(spec: &Spec, colour: &str) -> Resource {
    let app = spec.app.as_ref().expect("expand checks [app]");
    let tg = &app.target_group;
    let id = target_group_id(colour);
    let name = target_group_name(&spec.project, &spec.env, colour);
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    let health_check = health_check_value(HealthCheck {
        enabled: true,
        protocol: "HTTP",
        port: "traffic-port",
        path: Some(&tg.health_check_path),
        matcher: Some(&tg.matcher),
        interval_seconds: tg.interval_seconds,
        timeout_seconds: tg.timeout_seconds,
        healthy_threshold: tg.healthy_threshold,
        unhealthy_threshold: tg.unhealthy_threshold,
    });
    Resource::new(id, &name)
        .prop("name", Value::str(&name))
        .prop("port", Value::Int(app.port))
        .prop("protocol", Value::str("HTTP"))
        .prop("target_type", Value::str("ip"))
        .prop("vpc_id", Value::reference(&vpc(), "id"))
        .prop("health_check", health_check)
        .prop(
            "deregistration_delay_seconds",
            Value::Int(tg.deregistration_delay_seconds),
        )
        .prop("tags", Value::string_map(&tags))
}

/// The `health_check` property, in the same shape on both sides of the diff.
pub struct HealthCheck<'a> {
    pub enabled: bool,
    pub protocol: &'a str,
    pub port: &'a str,
    pub path: Option<&'a str>,
    pub matcher: Option<&'a str>,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
}

fn health_check_value(h: HealthCheck) -> Value {
    let mut m = BTreeMap::new();
    m.insert("enabled".into(), Value::Bool(h.enabled));
    m.insert("protocol".into(), Value::str(h.protocol));
    m.insert("port".into(), Value::str(h.port));
    m.insert("path".into(), Value::opt_str(h.path));
    m.insert("matcher".into(), Value::opt_str(h.matcher));
    m.insert("interval_seconds".into(), Value::Int(h.interval_seconds));
    m.insert("timeout_seconds".into(), Value::Int(h.timeout_seconds));
    m.insert("healthy_threshold".into(), Value::Int(h.healthy_threshold));
    m.insert(
        "unhealthy_threshold".into(),
        Value::Int(h.unhealthy_threshold),
    );
    Value::Map(m)
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

/// ELB tags as a map, without AWS's own (`aws:`…).
pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (t.key(), t.value())))
}

/// Whether tags mark a resource as this env's `id`.
pub fn owned(project: &str, env: &str, id: &ResourceId, tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&id.to_string())
}

/// A live target group → `Observed` in the desired shape (pure).
pub fn observe_target_group(
    id: &ResourceId,
    tg: &TargetGroup,
    tags: &BTreeMap<String, String>,
    attributes: &[TargetGroupAttribute],
) -> Observed {
    let arn = tg.target_group_arn().unwrap_or_default();
    let name = tg.target_group_name().unwrap_or_default();
    let int = |v: Option<i32>| v.map(|n| Value::Int(n as i64)).unwrap_or(Value::Null);
    let mut hc = BTreeMap::new();
    hc.insert(
        "enabled".to_string(),
        Value::Bool(tg.health_check_enabled().unwrap_or(true)),
    );
    hc.insert(
        "protocol".into(),
        Value::opt_str(tg.health_check_protocol().map(ProtocolEnum::as_str)),
    );
    hc.insert("port".into(), Value::opt_str(tg.health_check_port()));
    hc.insert("path".into(), Value::opt_str(tg.health_check_path()));
    hc.insert(
        "matcher".into(),
        Value::opt_str(tg.matcher().and_then(Matcher::http_code)),
    );
    hc.insert(
        "interval_seconds".into(),
        int(tg.health_check_interval_seconds()),
    );
    hc.insert(
        "timeout_seconds".into(),
        int(tg.health_check_timeout_seconds()),
    );
    hc.insert(
        "healthy_threshold".into(),
        int(tg.healthy_threshold_count()),
    );
    hc.insert(
        "unhealthy_threshold".into(),
        int(tg.unhealthy_threshold_count()),
    );
    let delay = attributes
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value())
        .and_then(|v| v.parse::<i64>().ok())
        .map(Value::Int)
        .unwrap_or(Value::Null);
    let mut o = Observed::new(id.clone(), arn)
        .prop("name", Value::str(name))
        .prop("port", int(tg.port()))
        .prop(
            "protocol",
            Value::opt_str(tg.protocol().map(ProtocolEnum::as_str)),
        )
        .prop(
            "target_type",
            Value::opt_str(tg.target_type().map(TargetTypeEnum::as_str)),
        )
        .prop("vpc_id", Value::opt_str(tg.vpc_id()))
        .prop("health_check", Value::Map(hc))
        .prop("deregistration_delay_seconds", delay)
        .prop("tags", Value::string_map(tags))
        // Deleted before the VPC it lives in.
        .dep(&vpc());
    o.attrs = target_group_attrs(arn, name);
    o
}

fn foreign(id: &ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id.clone(), physical);
    o.ownership = Ownership::Foreign;
    o
}

// ---------------------------------------------------------------------------------------------
// observe: the calls

/// Target groups by name in one call. DescribeTargetGroups fails as a whole when one name is
/// missing: with several names that falls back to listing them all (paginated).
pub async fn describe_target_groups(
    c: &Client,
    names: &[String],
) -> Result<Vec<TargetGroup>, AwsError> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    let by_name = all_pages!(
        c.describe_target_groups().set_names(Some(names.to_vec())),
        "elbv2:DescribeTargetGroups"
    );
    match by_name {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() && names.len() == 1 => Ok(vec![]),
        Err(e) if e.is_not_found() => {
            let all = all_pages!(c.describe_target_groups(), "elbv2:DescribeTargetGroups")?;
            Ok(all
                .into_iter()
                .filter(|t| {
                    t.target_group_name()
                        .is_some_and(|n| names.iter().any(|x| x == n))
                })
                .collect())
        }
        Err(e) => Err(e),
    }
}

/// The tags of ELB resources (target groups, load balancers, listeners…), 20 ARNs per call.
pub async fn tags_by_arn(
    c: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let r = c
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("elbv2:DescribeTags"))?;
        for d in r.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                out.insert(arn.to_string(), tag_map(d.tags()));
            }
        }
    }
    Ok(out)
}

async fn observe_target_groups(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.elbv2;
    // Every colour's name (destroy has no desired), and whatever the desired ones are called.
    let mut wanted: BTreeMap<String, ResourceId> = COLOURS
        .iter()
        .map(|col| {
            (
                target_group_name(&ctx.project, &ctx.env, col),
                target_group_id(col),
            )
        })
        .collect();
    for r in desired.iter().filter(|r| r.id.kind == TARGET_GROUP) {
        if let Some(n) = r.get_str("name") {
            wanted.insert(n.to_string(), r.id.clone());
        }
    }
    let names: Vec<String> = wanted.keys().cloned().collect();
    let groups = describe_target_groups(c, &names).await?;
    let arns: Vec<String> = groups
        .iter()
        .filter_map(|g| g.target_group_arn().map(str::to_string))
        .collect();
    let tags = tags_by_arn(c, &arns).await?;

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
        if owned(&ctx.project, &ctx.env, id, &t) {
            ours.push((id, g, t));
        } else {
            out.push(foreign(id, arn));
        }
    }
    let attributes = futures::future::try_join_all(ours.iter().map(|(_, g, _)| async move {
        c.describe_target_group_attributes()
            .target_group_arn(g.target_group_arn().unwrap_or_default())
            .send()
            .await
            .map(|r| r.attributes().to_vec())
            .map_err(aws("elbv2:DescribeTargetGroupAttributes"))
    }))
    .await?;
    for ((id, g, t), a) in ours.into_iter().zip(attributes) {
        out.push(observe_target_group(id, g, &t, &a));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

fn int(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_int).map(|n| n as i32)
}

fn health(r: &Resource) -> BTreeMap<String, Value> {
    r.props
        .get("health_check")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default()
}

fn elb_tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn create_request(c: &Client, r: &Resource) -> CreateTargetGroupFluentBuilder {
    let h = health(r);
    let s = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
    c.create_target_group()
        .name(r.get_str("name").unwrap_or_default())
        .protocol(ProtocolEnum::from(r.get_str("protocol").unwrap_or("HTTP")))
        .set_port(int(r.props.get("port")))
        .set_vpc_id(r.get_str("vpc_id").map(str::to_string))
        .target_type(TargetTypeEnum::from(
            r.get_str("target_type").unwrap_or("ip"),
        ))
        .set_health_check_enabled(h.get("enabled").and_then(Value::as_bool))
        .set_health_check_protocol(s("protocol").map(|p| ProtocolEnum::from(p.as_str())))
        .set_health_check_port(s("port"))
        .set_health_check_path(s("path"))
        .set_matcher(s("matcher").map(|m| Matcher::builder().http_code(m).build()))
        .set_health_check_interval_seconds(int(h.get("interval_seconds")))
        .set_health_check_timeout_seconds(int(h.get("timeout_seconds")))
        .set_healthy_threshold_count(int(h.get("healthy_threshold")))
        .set_unhealthy_threshold_count(int(h.get("unhealthy_threshold")))
        .set_tags(Some(elb_tags(&tags_of(&r.props))))
}

/// Every health-check field at once (ModifyTargetGroup changes only what it is given).
pub fn modify_health_check_request(
    c: &Client,
    arn: &str,
    r: &Resource,
) -> ModifyTargetGroupFluentBuilder {
    let h = health(r);
    let s = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
    c.modify_target_group()
        .target_group_arn(arn)
        .set_health_check_enabled(h.get("enabled").and_then(Value::as_bool))
        .set_health_check_protocol(s("protocol").map(|p| ProtocolEnum::from(p.as_str())))
        .set_health_check_port(s("port"))
        .set_health_check_path(s("path"))
        .set_matcher(s("matcher").map(|m| Matcher::builder().http_code(m).build()))
        .set_health_check_interval_seconds(int(h.get("interval_seconds")))
        .set_health_check_timeout_seconds(int(h.get("timeout_seconds")))
        .set_healthy_threshold_count(int(h.get("healthy_threshold")))
        .set_unhealthy_threshold_count(int(h.get("unhealthy_threshold")))
}

pub fn attributes_request(
    c: &Client,
    arn: &str,
    r: &Resource,
) -> Option<ModifyTargetGroupAttributesFluentBuilder> {
    let delay = r
        .props
        .get("deregistration_delay_seconds")
        .and_then(Value::as_int)?;
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
    let delay = o
        .props
        .get("deregistration_delay_seconds")
        .and_then(Value::as_int)
        .unwrap_or(300)
        .max(0) as u64;
    Duration::from_secs(delay + 300)
}

// ---------------------------------------------------------------------------------------------
// the reconciler

pub struct Elb;

#[async_trait]
impl Reconciler for Elb {
    fn service(&self) -> &'static str {
        "elb"
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let (mut groups, lb) = futures::future::try_join(
            observe_target_groups(ctx, desired),
            alb::observe(ctx, desired),
        )
        .await?;
        groups.extend(lb);
        Ok(groups)
    }

    fn guard(&self, change: &crate::plan::Change) -> Option<String> {
        alb::guard(change)
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) if r.id.kind == TARGET_GROUP => create_target_group(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == TARGET_GROUP => {
                update_target_group(ctx, desired, prior, changed, task).await
            }
            Op::Delete(o) if o.id.kind == TARGET_GROUP => {
                delete_target_group(ctx, o, task).await?;
                Ok(Attrs::new())
            }
            Op::Create(r) if r.id.kind == alb::LOAD_BALANCER => {
                alb::create_load_balancer(ctx, r, task).await
            }
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == alb::LOAD_BALANCER => {
                alb::update_load_balancer(ctx, desired, prior, changed, task).await
            }
            Op::Delete(o) if o.id.kind == alb::LOAD_BALANCER => {
                alb::delete_load_balancer(ctx, o, task).await?;
                Ok(Attrs::new())
            }
            Op::Create(r) if r.id.kind == alb::LISTENER => alb::create_listener(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == alb::LISTENER => {
                alb::update_listener(ctx, desired, prior, changed, task).await
            }
            Op::Delete(o) if o.id.kind == alb::LISTENER => {
                alb::delete_listener(ctx, o).await?;
                Ok(Attrs::new())
            }
            Op::Create(r) | Op::Update { desired: r, .. } => {
                Err(AwsError::new("rtech", "UnknownKind", r.id.to_string()))
            }
            Op::Delete(o) => Err(AwsError::new("rtech", "UnknownKind", o.id.to_string())),
        }
    }
}

fn target_group_attrs(arn: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    // CloudWatch's `TargetGroup` dimension: `targetgroup/<name>/<id>`.
    a.insert("arn_suffix".into(), arn_suffix(arn, "targetgroup/"));
    a.insert("name".into(), name.to_string());
    a
}

/// The part of an ELB ARN from `marker` on (`loadbalancer/app/x/1` → `app/x/1` with
/// `"loadbalancer/"`; `targetgroup/x/1` keeps its marker), as CloudWatch's dimensions name them.
pub fn arn_suffix(arn: &str, marker: &str) -> String {
    match arn.find(marker) {
        Some(i) if marker == "loadbalancer/" => arn[i + marker.len()..].to_string(),
        Some(i) => arn[i..].to_string(),
        None => arn.to_string(),
    }
}

async fn create_target_group(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.elbv2;
    let name = r.get_str("name").unwrap_or_default();
    task.status(&format!("creating target group {name}"));
    let out = create_request(c, r)
        .send()
        .await
        .map_err(aws("elbv2:CreateTargetGroup"))?;
    let arn = out
        .target_groups()
        .first()
        .and_then(TargetGroup::target_group_arn)
        .required(
            "elbv2:CreateTargetGroup",
            format!("no target group ARN returned for {name}"),
        )?
        .to_string();
    if let Some(req) = attributes_request(c, &arn, r) {
        req.send()
            .await
            .map_err(aws("elbv2:ModifyTargetGroupAttributes"))?;
    }
    Ok(target_group_attrs(&arn, name))
}

async fn update_target_group(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.elbv2;
    let arn = prior.physical_id.as_str();
    if changed.contains("health_check") {
        task.status("modifying the health check");
        modify_health_check_request(c, arn, r)
            .send()
            .await
            .map_err(aws("elbv2:ModifyTargetGroup"))?;
    }
    if changed.contains("deregistration_delay_seconds") {
        if let Some(req) = attributes_request(c, arn, r) {
            task.status("modifying the deregistration delay");
            req.send()
                .await
                .map_err(aws("elbv2:ModifyTargetGroupAttributes"))?;
        }
    }
    if changed.contains("tags") {
        sync_tags(c, arn, prior, r).await?;
    }
    Ok(target_group_attrs(
        arn,
        prior.get_str("name").unwrap_or_default(),
    ))
}

/// Turn the live tags of any ELB resource into the desired ones (RemoveTags, AddTags).
async fn sync_tags(c: &Client, arn: &str, prior: &Observed, r: &Resource) -> Result<(), AwsError> {
    let d = tag_delta(&tags_of(&prior.props), &tags_of(&r.props));
    if !d.removed.is_empty() {
        c.remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(d.removed))
            .send()
            .await
            .map_err(aws("elbv2:RemoveTags"))?;
    }
    if !d.set.is_empty() {
        c.add_tags()
            .resource_arns(arn)
            .set_tags(Some(elb_tags(&d.set.into_iter().collect())))
            .send()
            .await
            .map_err(aws("elbv2:AddTags"))?;
    }
    Ok(())
}

async fn delete_target_group(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let c = &ctx.clients.elbv2;
    let arn = o.physical_id.as_str();
    let timeout = in_use_timeout(o);
    let mut waiting = false;
    let r = retry_on(&["ResourceInUse"], timeout, || {
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
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.is("ResourceInUse") => Err(still_in_use(o, timeout, &e)),
        other => other,
    }
}

/// What a delete ends with when the target group stays in use past `timeout`.
pub fn still_in_use(o: &Observed, timeout: Duration, e: &AwsError) -> AwsError {
    AwsError::new(
        "elbv2:DeleteTargetGroup",
        "ResourceInUse",
        format!(
            "{} is still used by a listener, rule or ECS service after {} s of retrying; remove what uses it first ({})",
            o.get_str("name").unwrap_or(&o.physical_id),
            timeout.as_secs(),
            e.message
        ),
    )
}

#[cfg(test)]
mod tests;
