//! CloudFront: the env's distribution in front of the load balancer, and
//! cache invalidations (`rtech invalidate`).
//!
//! `distribution/main`, only with `[edge.cloudfront]`:
//! - origin `alb`: the load balancer's DNS name (`load_balancer/main` `dns_name`), custom
//!   origin, HTTPS only, TLSv1.2, ports 80/443;
//! - aliases `<domain>` and `www.<domain>`, the ACM certificate from us-east-1
//!   (`certificate_validation/cloudfront` when the env's region is another, else
//!   `certificate_validation/main`), TLSv1.2_2021, SNI only;
//! - default behaviour GET/HEAD/OPTIONS (GET/HEAD cached), query strings and the headers
//!   Accept, Accept-Encoding, Origin and Host forwarded (Host so that the load balancer's
//!   certificate matches: [`DEFAULT_HEADERS`]; legacy ForwardedValues, see below), no cookies, redirect-to-https, the spec's TTLs, compression on;
//! - ordered behaviour `/api/*`: all seven methods, GET/HEAD cached, every header forwarded
//!   (`*`), https-only, the spec's TTLs (0/0/0 by default);
//! - the spec's price class; standard logging to `s3_bucket/cf-logs` (prefix `cloudfront/`)
//!   when `edge.cloudfront.logging`; no geo restriction; IPv6 on; HTTP/2 (Terraform's default);
//! - with `[edge.waf]`, the WAFv2 web ACL `web_acl/main` (`web_acl_id`, its ARN; without it,
//!   none: one attached out of band shows as drift and apply detaches it).
//!
//! Identity: our tags (`rtech:project`, `rtech:env`, `rtech:id`) plus a deterministic
//! comment ([`comment`]); CreateDistributionWithTags uses a deterministic CallerReference
//! ([`request::caller_reference`]: a hash of the env and the resolved config, so an interrupted create
//! that is retried is idempotent on AWS).
//!
//! Observe (read-only), API calls: when the env's region is us-east-1 (AWS lists distributions
//! in that region's tag index only) and the index lists a distribution of ours, GetDistribution
//! for each one it lists (its summary, config and status at once; one call), and nothing
//! else: a distribution holding one of our aliases without our tags is reported only when
//! none of ours exists (CloudFront refuses an alias held elsewhere). Otherwise, or when one the
//! index lists is gone:
//! 1. ListDistributions, paginated (1 call per 100 distributions);
//! 2. the tags of each candidate: a distribution whose comment is ours, or whose aliases include
//!    one of the spec's (or, without a spec, a name in the env's zone): from the env's tag
//!    index when the env's region is us-east-1, else, or for a candidate the index does not
//!    list (someone else's), ListTagsForResource;
//! 3. GetDistributionConfig for each distribution of ours (1 call).
//!
//! So a plan costs 1 CloudFront call with a distribution in a us-east-1 env (3 elsewhere), 1
//! without. A distribution carrying
//! one of our aliases without our tags is foreign: a conflict, never touched. A second
//! distribution of ours (an interrupted apply) is observed as `distribution/main~<id>` and
//! deleted.
//!
//! The diff compares the normalised config ([`props::distribution_props`], the same struct expand builds): origins and ordered behaviours as
//! maps keyed by origin id and path pattern, aliases, methods, headers and SSL protocols as
//! sorted lists, so that apply → plan is empty whatever order AWS reports them in.
//!
//! Apply: create (CreateDistributionWithTags); update (GetDistributionConfig → the managed
//! fields replaced → UpdateDistribution with IfMatch = the ETag, re-read and retried once on
//! PreconditionFailed; tags with TagResource/UntagResource); then wait until `Deployed` (the SDK's
//! `DistributionDeployed` waiter, with progress; minutes on AWS) unless `apply --no-wait`. Delete: disable (UpdateDistribution
//! Enabled=false), wait until `Deployed`, DeleteDistribution with the fresh ETag
//! ([`wait::delete_step`], [`wait::on_delete_error`]).

//!
//! Files: [`props`] (the typed props, expand and the normaliser), [`request`] (the requests
//! apply sends), [`distribution`] (the kind: create, update, delete), [`wait`] (the SDK
//! waiters and the delete decisions), [`invalidate`]; here the names, ownership and observe.
//!
//! The legacy cache settings (ForwardedValues, MinTTL/DefaultTTL/MaxTTL) are deprecated in
//! favour of cache policies; AWS still accepts them, and they keep every setting on the
//! distribution itself (no separate policy resources to own).

pub mod distribution;
mod iam;
pub mod invalidate;
pub mod props;
pub mod request;
pub mod wait;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{Distribution, DistributionConfig, DistributionSummary, TagKeys};
use aws_sdk_cloudfront::Client;

use crate::aws::{all_pages, aws, AwsError, CLOUDFRONT_CERT_REGION};
use crate::model::{tag_pairs, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{self, from_props, is_ours, tag_index::TagIndex, to_props, Claims};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub use invalidate::invalidate;
use props::{distribution_props, set, DistributionProps};
use request::sdk_tags;

pub const DISTRIBUTION: &str = "distribution";

/// The distribution's resource id, as progress lines name it.
pub const DISTRIBUTION_ID: &str = "distribution/main";

/// The only origin: the load balancer.
pub const ORIGIN_ID: &str = "alb";
/// The ordered behaviour for the API (never cached by default).
pub const API_PATH: &str = "/api/*";
/// Where standard logs go in the log bucket.
pub const LOG_PREFIX: &str = "cloudfront/";

const OP_LIST: &str = "cloudfront:ListDistributions";

pub fn distribution_id() -> ResourceId {
    ResourceId::new(DISTRIBUTION, "main")
}

/// The Name tag: `{project}-{env}-cdn`.
pub fn distribution_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-cdn")
}

/// The distribution's comment (deterministic: observe finds candidates by it).
pub fn comment(project: &str, env: &str) -> String {
    format!("rtech {project}-{env} {DISTRIBUTION_ID}")
}

/// The certificate the distribution uses: CloudFront takes certificates from us-east-1 only,
/// so an env in another region has a second one there.
pub fn certificate_validation_id(region: &str) -> ResourceId {
    if region == CLOUDFRONT_CERT_REGION {
        ResourceId::new("certificate_validation", "main")
    } else {
        ResourceId::new("certificate_validation", "cloudfront")
    }
}

pub fn log_bucket_id() -> ResourceId {
    ResourceId::new("s3_bucket", "cf-logs")
}

/// The WAFv2 web ACL the distribution carries with `[edge.waf]`.
pub fn web_acl_id() -> ResourceId {
    ResourceId::new("web_acl", "main")
}

fn load_balancer_id() -> ResourceId {
    ResourceId::new("load_balancer", "main")
}

/// The default behaviour's and the API behaviour's methods.
pub const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];
pub const ALL_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
pub const CACHED_METHODS: &[&str] = &["GET", "HEAD"];
/// Accept, Accept-Encoding and Origin, plus Host: with HTTPS to the origin, CloudFront checks
/// the load balancer's certificate against the Host header it forwards, or else against the
/// origin's name (`*.elb.amazonaws.com`, which no certificate of ours covers). The viewer's
/// Host is the apex or `www`, both on the env's certificate. (`/api/*` forwards every header,
/// Host included.)
pub const DEFAULT_HEADERS: &[&str] = &["Accept", "Accept-Encoding", "Host", "Origin"];

// ---------------------------------------------------------------------------------------------
// the service

pub struct Cdn;

const KINDS: &[&dyn Kind] = &[&distribution::Distribution];

#[async_trait]
impl Service for Cdn {
    crate::service_basics!("cloudfront", KINDS, expand, iam::GRANTS, outputs: [("cloudfront_distribution_id", "distribution", "main", "id"),
    (
        "cloudfront_domain_name",
        "distribution",
        "main",
        "domain_name",
    )]);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let aliases = wanted_aliases(desired);
        let (found, tags, mut configs) = find(ctx, &aliases).await?;
        let c = &ctx.clients.cloudfront;
        let none = BTreeMap::new();
        let mut out = vec![];
        for (s, ownership, id) in &found {
            match ownership {
                Ownership::Foreign => out.push(observed_foreign(s)),
                Ownership::Owned => {
                    // Read with the distribution (the index's path), or now; deleted between
                    // the list and the get: none.
                    let config = match configs.remove(&s.id) {
                        Some(config) => config,
                        None => match kit::found(distribution::get_config(c, &s.id).await)? {
                            Some((config, _etag)) => config,
                            None => continue,
                        },
                    };
                    let t = tags.get(&s.arn).unwrap_or(&none);
                    out.push(observed(id.clone(), s, &config, t));
                }
            }
        }
        Ok(out)
    }
}

/// Spec → Desired (pure): the distribution, only with `[edge.cloudfront]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    props::expand(spec)
}

// CloudFront's tag calls (TagResource / UntagResource on the distribution's ARN).
crate::tag_api!(CloudFrontTags, Client,
    untag "cloudfront:UntagResource" => |c, arn, keys| c.untag_resource()
        .resource(arn)
        .tag_keys(TagKeys::builder().set_items(Some(keys)).build()),
    tag "cloudfront:TagResource" => |c, arn, tags| c.tag_resource().resource(arn).tags(sdk_tags(&tags)?));

// ---------------------------------------------------------------------------------------------
// observe: classification (pure)

/// What the ListDistributions summary tells about one distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: String,
    pub enabled: bool,
    pub comment: String,
    pub aliases: Vec<String>,
}

impl Summary {
    pub fn of(d: &DistributionSummary) -> Summary {
        Summary {
            id: d.id().to_string(),
            arn: d.arn().to_string(),
            domain_name: d.domain_name().to_string(),
            status: d.status().to_string(),
            enabled: d.enabled(),
            comment: d.comment().to_string(),
            aliases: d.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
        }
    }

    /// GetDistribution's answer as a summary, with its config.
    pub fn of_distribution(d: &Distribution) -> Option<(Summary, DistributionConfig)> {
        let config = d.distribution_config()?.clone();
        let s = Summary {
            id: d.id().to_string(),
            arn: d.arn().to_string(),
            domain_name: d.domain_name().to_string(),
            status: d.status().to_string(),
            enabled: config.enabled(),
            comment: config.comment().to_string(),
            aliases: config
                .aliases()
                .map(|a| a.items().to_vec())
                .unwrap_or_default(),
        };
        Some((s, config))
    }

    pub fn attrs(&self) -> Attrs {
        dist_attrs(&self.id, &self.arn, &self.domain_name, &self.status)
    }
}

/// The ids of the distributions the index lists as this env's `distribution/main` (pure).
pub fn indexed_ours(project: &str, env: &str, index: &TagIndex) -> Vec<(String, String)> {
    index
        .resources("cloudfront", None, "distribution/")
        .filter(|(_, _, tags)| owned(project, env, tags))
        .map(|(id, arn, _)| (id.to_string(), arn.to_string()))
        .collect()
}

pub fn dist_attrs(id: &str, arn: &str, domain_name: &str, status: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), id.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("domain_name".into(), domain_name.to_string());
    a.insert("status".into(), status.to_string());
    a
}

/// The aliases rtech wants (from the desired resource).
pub fn wanted_aliases(desired: &[Resource]) -> Vec<String> {
    desired
        .iter()
        .find(|r| r.id == distribution_id())
        .and_then(|r| from_props::<DistributionProps>(&r.props).ok())
        .map(|p| p.aliases)
        .unwrap_or_default()
}

fn in_zone(alias: &str, zone: &str) -> bool {
    alias == zone || alias.ends_with(&format!(".{zone}"))
}

/// The distributions worth a ListTagsForResource: ours by comment, or holding one of our
/// aliases (a conflict when not ours), or — without a spec (destroy, invalidate) — an alias in
/// the env's zone. Pure.
pub fn candidates<'a>(
    all: &'a [Summary],
    comment: &str,
    aliases: &[String],
    zone: Option<&str>,
) -> Vec<&'a Summary> {
    all.iter()
        .filter(|d| {
            d.comment == comment
                || d.aliases.iter().any(|a| aliases.contains(a))
                || (aliases.is_empty()
                    && zone.is_some_and(|z| d.aliases.iter().any(|a| in_zone(a, z))))
        })
        .collect()
}

/// Whether tags mark a distribution as this env's `distribution/main`.
pub fn owned(project: &str, env: &str, tags: &BTreeMap<String, String>) -> bool {
    is_ours(tags, project, env, &distribution_id())
}

/// Ownership of each candidate (pure): `(summary, Owned | Foreign, resource id)`. The first
/// of ours (enabled first, then by id) is `distribution/main`, any other of ours
/// `distribution/main~<id>` (deleted by the plan); a distribution holding one of our aliases
/// without our tags is `distribution/main`, foreign, unless one of ours exists. Candidates
/// that are neither are dropped.
pub fn classify<'a>(
    project: &str,
    env: &str,
    cands: &[&'a Summary],
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    aliases: &[String],
) -> Vec<(&'a Summary, Ownership, ResourceId)> {
    let empty = BTreeMap::new();
    let mut ours: Vec<&Summary> = cands
        .iter()
        .copied()
        .filter(|d| owned(project, env, tags.get(&d.arn).unwrap_or(&empty)))
        .collect();
    ours.sort_by(|a, b| (!a.enabled, &a.id).cmp(&(!b.enabled, &b.id)));
    let mut claims = Claims::new();
    let mut out: Vec<_> = ours
        .iter()
        .map(|d| (*d, Ownership::Owned, claims.claim(distribution_id(), &d.id)))
        .collect();
    if ours.is_empty() {
        let mut foreign: Vec<&Summary> = cands
            .iter()
            .copied()
            .filter(|d| {
                !tags.get(&d.arn).is_some_and(|t| owned(project, env, t))
                    && d.aliases.iter().any(|a| aliases.contains(a))
            })
            .collect();
        foreign.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(f) = foreign.first() {
            out.push((*f, Ownership::Foreign, distribution_id()));
        }
    }
    out
}

/// What destroy must delete before the distribution's dependencies.
fn observed_deps() -> Vec<ResourceId> {
    vec![
        load_balancer_id(),
        ResourceId::new("certificate_validation", "main"),
        ResourceId::new("certificate_validation", "cloudfront"),
        ResourceId::new("certificate", "main"),
        ResourceId::new("certificate", "cloudfront"),
        log_bucket_id(),
        web_acl_id(),
    ]
}

/// One distribution of ours → `Observed` (pure).
pub fn observed(
    id: ResourceId,
    s: &Summary,
    config: &aws_sdk_cloudfront::types::DistributionConfig,
    tags: &BTreeMap<String, String>,
) -> Observed {
    Observed {
        attrs: s.attrs(),
        deps: observed_deps().into_iter().collect(),
        ..Observed::new(id, &s.id).with_props(to_props(&distribution_props(config, tags)))
    }
}

/// A foreign distribution holding one of our aliases: only what the conflict names.
pub fn observed_foreign(s: &Summary) -> Observed {
    let aliases = set(&s.aliases).into_iter().map(crate::model::Value::Str);
    let mut o = Observed::new(distribution_id(), &s.id)
        .prop("aliases", crate::model::Value::List(aliases.collect()));
    o.ownership = Ownership::Foreign;
    o.attrs = s.attrs();
    o
}

// ---------------------------------------------------------------------------------------------
// observe: AWS calls

/// Every candidate, classified, with the tags of each (by ARN), and the config of those read
/// whole already (by id).
type Found = (
    Vec<(Summary, Ownership, ResourceId)>,
    BTreeMap<String, BTreeMap<String, String>>,
    BTreeMap<String, DistributionConfig>,
);

/// The region whose tag index lists CloudFront's distributions.
const INDEX_REGION: &str = "us-east-1";

/// The distributions the index lists as ours, each read whole (GetDistribution, at once).
/// None: the index lists none, or one of them is gone (the list decides then).
async fn find_indexed(ctx: &Ctx, aliases: &[String]) -> Result<Option<Found>, AwsError> {
    if ctx.region != INDEX_REGION {
        return Ok(None);
    }
    let index = ctx.tag_index().await?;
    let listed = indexed_ours(&ctx.project, &ctx.env, index);
    if listed.is_empty() {
        return Ok(None);
    }
    let c = &ctx.clients.cloudfront;
    let got = futures::future::try_join_all(listed.iter().map(|(id, _)| async move {
        kit::found(
            c.get_distribution()
                .id(id)
                .send()
                .await
                .map_err(aws("cloudfront:GetDistribution")),
        )
    }))
    .await?;
    let mut all = vec![];
    let mut configs = BTreeMap::new();
    let mut tags = BTreeMap::new();
    for ((_, arn), got) in listed.iter().zip(got) {
        let Some((s, config)) = got
            .as_ref()
            .and_then(|g| g.distribution())
            .and_then(Summary::of_distribution)
        else {
            return Ok(None);
        };
        if let Some(t) = index.tags(arn) {
            tags.insert(s.arn.clone(), t.clone());
        }
        configs.insert(s.id.clone(), config);
        all.push(s);
    }
    let cands: Vec<&Summary> = all.iter().collect();
    let classified = classify(&ctx.project, &ctx.env, &cands, &tags, aliases)
        .into_iter()
        .map(|(s, o, id)| (s.clone(), o, id))
        .collect();
    Ok(Some((classified, tags, configs)))
}

/// The indexed distributions of ours ([`find_indexed`]); else ListDistributions (paginated),
/// then ListTagsForResource for each candidate the index does not list; classified.
async fn find(ctx: &Ctx, aliases: &[String]) -> Result<Found, AwsError> {
    if let Some(found) = find_indexed(ctx, aliases).await? {
        return Ok(found);
    }
    let c = &ctx.clients.cloudfront;
    // AWS lists distributions (global) in us-east-1's tag index only.
    let (all, index) = tokio::try_join!(
        async { all_pages!(c.list_distributions(), "cloudfront:ListDistributions") },
        async {
            if ctx.region == INDEX_REGION {
                ctx.tag_index().await.map(Some)
            } else {
                Ok(None)
            }
        }
    )?;
    let all: Vec<Summary> = all.iter().map(Summary::of).collect();
    let cands = candidates(
        &all,
        &comment(&ctx.project, &ctx.env),
        aliases,
        ctx.zone.as_deref(),
    );
    let mut tags = BTreeMap::new();
    for d in &cands {
        if let Some(t) = index.and_then(|i| i.tags(&d.arn)) {
            tags.insert(d.arn.clone(), t.clone());
            continue;
        }
        let out = c
            .list_tags_for_resource()
            .resource(&d.arn)
            .send()
            .await
            .map_err(aws("cloudfront:ListTagsForResource"))?;
        let t = tag_pairs(
            out.tags()
                .map(|t| t.items())
                .unwrap_or_default()
                .iter()
                .map(|t| (Some(t.key()), t.value())),
        );
        tags.insert(d.arn.clone(), t);
    }
    let classified = classify(&ctx.project, &ctx.env, &cands, &tags, aliases)
        .into_iter()
        .map(|(s, o, id)| (s.clone(), o, id))
        .collect();
    Ok((classified, tags, BTreeMap::new()))
}

#[cfg(test)]
mod tests;
