//! Elastic Load Balancing v2: the app's target group(s) (`target_group/<colour>`, in
//! [`target_group`]), and with `[edge]` the Application Load Balancer ([`load_balancer`]) and
//! its HTTP and HTTPS listeners ([`listener`]). What they share lives here: naming
//! ([`short_name`]), tags (read in batches with [`tags_by_arn`], written through [`ElbTags`])
//! and the one batched observe of the service.
//!
//! Ownership: a target group, load balancer or listener is ours when its tags name our
//! project, env and resource id (`kit::is_ours`); one under our name without them is foreign,
//! never modified or deleted.

mod iam;
use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Listener as SdkListener, LoadBalancer as SdkLoadBalancer, LoadBalancerAttribute,
    Rule as SdkRule, Tag,
};
use aws_sdk_elasticloadbalancingv2::Client;
use sha2::{Digest, Sha256};

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{claimed_id, found, from_props, is_ours, Existing, ReadBack, TagRead};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod target_group;

use listener::{listener_id, observe_listener, LISTENER, LISTENERS};
use listener_rule::{observe_rule, production_rule_id, LISTENER_RULE, PRODUCTION_PRIORITY};
use load_balancer::{
    load_balancer_id, load_balancer_name, observe_load_balancer, LoadBalancerProps, LOAD_BALANCER,
};
pub use target_group::target_group_id;

/// The load balancer and listener ids, under the path other services name them by.
pub mod alb {
    pub use super::listener::listener_id;
    pub use super::load_balancer::load_balancer_id;
}

/// The target groups an env can have, by colour (the resource name). Observe looks for every
/// one of them, so destroy finds them without a spec. `green` exists with a canary or
/// blue/green `[app.deploy]` strategy (ECS's alternate target group).
pub const COLOURS: &[&str] = &["blue", "green"];

/// ELB's limit for target group and load balancer names.
pub const NAME_MAX: usize = 32;

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

/// The part of an ELB ARN from `marker` on (`loadbalancer/app/x/1` → `app/x/1` with
/// `"loadbalancer/"`; `targetgroup/x/1` keeps its marker), as CloudWatch's dimensions name them.
pub fn arn_suffix(arn: &str, marker: &str) -> String {
    match arn.find(marker) {
        Some(i) if marker == "loadbalancer/" => arn[i + marker.len()..].to_string(),
        Some(i) => arn[i..].to_string(),
        None => arn.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// tags

/// ELB tags as a map, without AWS's own (`aws:`…).
pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::reconcile::kit::tags::tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

/// A tag map in ELB's shape.
pub fn elb_tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

crate::tag_api!(ElbTags, Client,
    untag "elbv2:RemoveTags" => |c, arn, keys| c.remove_tags()
        .resource_arns(arn).set_tag_keys(Some(keys)),
    tag "elbv2:AddTags" => |c, arn, tags| c.add_tags()
        .resource_arns(arn).set_tags(Some(elb_tags(&tags))));

/// The tags of ELB resources (target groups, load balancers, listeners…): from the env's tag
/// index (`kit::tag_index`) where it lists them, the rest with DescribeTags, 20 ARNs per call.
pub async fn tags_by_arn(
    ctx: &Ctx,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let c = &ctx.clients.elbv2;
    let index = ctx.tag_index().await?;
    let mut out = BTreeMap::new();
    let mut rest = vec![];
    for a in arns {
        match index.tags(a) {
            Some(t) => {
                out.insert(a.clone(), t.clone());
            }
            None => rest.push(a.clone()),
        }
    }
    for chunk in rest.chunks(20) {
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

/// What an `AlreadyExists` on create found at `arn` (None: nothing there): its ARN, adopted
/// when its tags are ours for `r`.
async fn existing_at(ctx: &Ctx, r: &Resource, arn: Option<&str>) -> ReadBack<String> {
    let value = arn.unwrap_or_default().to_string();
    Existing::at(ctx, &r.id, arn, value, &ElbTags(&ctx.clients.elbv2)).await
}

/// DescribeTags of one resource: its entry in the answer.
#[async_trait]
impl TagRead for ElbTags<'_> {
    async fn read(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let req = self.0.describe_tags().resource_arns(arn);
        let out = found(req.send().await.map_err(aws("elbv2:DescribeTags")))?;
        Ok(out.and_then(|o| {
            o.tag_descriptions()
                .iter()
                .find(|d| d.resource_arn() == Some(arn))
                .map(|d| tag_map(d.tags()))
        }))
    }
}

/// A live resource under a name we want that is not ours.
fn foreign(id: &ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id.clone(), physical);
    o.ownership = Ownership::Foreign;
    o
}

// ---------------------------------------------------------------------------------------------
// observe: the load balancer and its listeners

/// Sort what observe read into ours and foreign (pure). `lb` is the load balancer under our
/// name (if any), `listeners` its listeners, `tags` by ARN, `rules` the HTTPS listener's.
/// Each argument is one of observe's reads, kept apart so the unit tests build them one by one.
#[allow(clippy::too_many_arguments)]
pub fn classify(
    project: &str,
    env: &str,
    lb: Option<&SdkLoadBalancer>,
    listeners: &[SdkListener],
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    attributes: &[LoadBalancerAttribute],
    rules: &[SdkRule],
    desired: Option<&Resource>,
) -> Vec<Observed> {
    let Some(lb) = lb else {
        return vec![];
    };
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let id = load_balancer_id();
    let t = tags.get(arn).cloned().unwrap_or_default();
    if !is_ours(&t, project, env, &id) {
        // Not ours: neither it nor its listeners are ever touched.
        return vec![foreign(&id, arn)];
    }
    let mut out = vec![observe_load_balancer(lb, &t, attributes, desired)];
    for l in listeners {
        let larn = l.listener_arn().unwrap_or_default();
        let lt = tags.get(larn).cloned().unwrap_or_default();
        let by_port = LISTENERS
            .iter()
            .find(|(_, p)| Some(*p) == l.port())
            .map(|(n, _)| listener_id(n));
        let by_tag = claimed_id(&lt, project, env).filter(|i| i.kind == LISTENER);
        match (by_tag, by_port) {
            (Some(tid), _) => out.push(observe_listener(&tid, l, &lt)),
            // A listener on a port we want, without our tags: foreign.
            (_, Some(pid)) => out.push(foreign(&pid, larn)),
            // Someone else's listener on another port of our load balancer: not ours.
            _ => {}
        }
    }
    let tg_names: Vec<String> = COLOURS
        .iter()
        .map(|c| target_group::target_group_name(project, env, c))
        .collect();
    for r in rules.iter().filter(|r| r.is_default() != Some(true)) {
        let rarn = r.rule_arn().unwrap_or_default();
        let rt = tags.get(rarn).cloned().unwrap_or_default();
        let by_tag = claimed_id(&rt, project, env).filter(|i| i.kind == LISTENER_RULE);
        let at_ours = r.priority() == Some(PRODUCTION_PRIORITY.to_string().as_str());
        match by_tag {
            Some(tid) => out.push(observe_rule(&tid, r, &rt, &tg_names)),
            // A rule at our priority without our tags: foreign.
            None if at_ours => out.push(foreign(&production_rule_id(), rarn)),
            None => {}
        }
    }
    out
}

/// The load balancer under our name, its listeners, their tags and its attributes: four calls
/// (one when there is none).
pub async fn observe_edge(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.elbv2;
    let desired_lb = desired.iter().find(|r| r.id.kind == LOAD_BALANCER);
    let name = match desired_lb {
        Some(r) => from_props::<LoadBalancerProps>(&r.props)?.name,
        None => load_balancer_name(&ctx.project, &ctx.env),
    };
    let lbs = found(all_pages!(
        c.describe_load_balancers().names(&name),
        "elbv2:DescribeLoadBalancers"
    ))?
    .unwrap_or_default();
    let Some(lb) = lbs
        .iter()
        .find(|l| l.load_balancer_name() == Some(name.as_str()))
    else {
        return Ok(vec![]);
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let read_attributes = || async {
        Ok::<_, AwsError>(
            c.describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
                .await
                .map_err(aws("elbv2:DescribeLoadBalancerAttributes"))?
                .attributes()
                .to_vec(),
        )
    };
    // The tag index says whether the load balancer is ours: its attributes are read beside
    // its listeners. Otherwise its own tags decide, after.
    let ours_by_index = ctx
        .tag_index()
        .await?
        .tags(&arn)
        .is_some_and(|t| is_ours(t, &ctx.project, &ctx.env, &load_balancer_id()));
    let (listeners, early) = tokio::try_join!(
        async {
            all_pages!(
                c.describe_listeners().load_balancer_arn(&arn),
                "elbv2:DescribeListeners"
            )
        },
        async {
            if ours_by_index {
                read_attributes().await.map(Some)
            } else {
                Ok(None)
            }
        }
    )?;
    // The HTTPS listener's rules (the production rule of a canary or blue/green env).
    let https = listeners
        .iter()
        .find(|l| l.port() == Some(443))
        .and_then(|l| l.listener_arn());
    let rules = match https {
        Some(l) => found(all_pages!(
            c.describe_rules().listener_arn(l),
            "elbv2:DescribeRules"
        ))?
        .unwrap_or_default(),
        None => vec![],
    };
    let mut arns = vec![arn.clone()];
    arns.extend(
        listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string)),
    );
    arns.extend(
        rules
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .filter_map(|r| r.rule_arn().map(str::to_string)),
    );
    let tags = tags_by_arn(ctx, &arns).await?;
    let lb_tags = tags.get(&arn).cloned().unwrap_or_default();
    let attributes = match early {
        Some(a) => a,
        None if is_ours(&lb_tags, &ctx.project, &ctx.env, &load_balancer_id()) => {
            read_attributes().await?
        }
        None => vec![],
    };
    Ok(classify(
        &ctx.project,
        &ctx.env,
        Some(lb),
        &listeners,
        &tags,
        &attributes,
        &rules,
        desired_lb,
    ))
}

// ---------------------------------------------------------------------------------------------
// the service

pub struct Elb;

const KINDS: &[&dyn Kind] = &[
    &target_group::TargetGroup,
    &load_balancer::LoadBalancer,
    &listener::Listener,
    &listener_rule::ListenerRule,
];

/// Spec → Desired (pure): the target groups with an `[app]` section (blue; green too with a
/// canary or blue/green strategy), the load balancer and its listeners with `[edge]` (which
/// needs `[app]`), and the HTTPS listener's production rule with such a strategy.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(app) = &spec.app else {
        return vec![];
    };
    let shifts = app.deploy.strategy.shifts_traffic();
    let mut out: Vec<Resource> = COLOURS
        .iter()
        .filter(|c| shifts || **c == COLOURS[0])
        .map(|c| target_group::expand_colour(spec, c))
        .collect();
    out.extend(load_balancer::expand(spec));
    let cloudfront = spec.edge.as_ref().is_some_and(|e| e.cloudfront.is_some());
    if shifts || cloudfront {
        let lb = load_balancer_name(&spec.project, &spec.env);
        out.extend(listener_rule::expand(spec, &lb));
    }
    out
}

#[async_trait]
impl Service for Elb {
    fn outputs(&self, observed: &[Observed]) -> Vec<crate::reconcile::kit::outputs::Output> {
        let tgs: serde_json::Map<String, serde_json::Value> =
            crate::reconcile::kit::outputs::owned(observed, "target_group", "")
                .iter()
                .filter_map(|o| Some((o.id.name.clone(), o.attrs.get("arn")?.clone().into())))
                .collect();
        let mut out = vec![("target_group_arns", tgs.into())];
        out.extend(crate::reconcile::kit::outputs::attrs(
            observed,
            &[
                ("alb_arn", "load_balancer", "main", "arn"),
                ("alb_dns_name", "load_balancer", "main", "dns_name"),
                ("alb_zone_id", "load_balancer", "main", "zone_id"),
            ],
        ));
        out
    }

    crate::service_basics!("elb", KINDS, expand, iam::GRANTS);

    /// The target groups (one DescribeTargetGroups, tags in batches, attributes per owned
    /// one) beside the load balancer and its listeners (four calls, one when there is none).
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let (mut groups, lb) = futures::future::try_join(
            target_group::observe(ctx, desired),
            observe_edge(ctx, desired),
        )
        .await?;
        groups.extend(lb);
        Ok(groups)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "alb_tests.rs"]
mod alb_tests;

#[cfg(test)]
#[path = "rule_tests.rs"]
mod rule_tests;
