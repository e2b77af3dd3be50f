//! CloudFront (issue 5, seed 6): the env's distribution in front of the load balancer, and
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
//!   certificate matches: [`DEFAULT_HEADERS`]; legacy ForwardedValues: the emulator has no
//!   cache-policy API), no cookies, redirect-to-https, the spec's TTLs, compression on;
//! - ordered behaviour `/api/*`: all seven methods, GET/HEAD cached, every header forwarded
//!   (`*`), https-only, the spec's TTLs (seed 0/0/0);
//! - the spec's price class; standard logging to `s3_bucket/cf-logs` (prefix `cloudfront/`)
//!   when `edge.cloudfront.logging`; no geo restriction; IPv6 on; HTTP/2 (Terraform's default).
//!
//! Identity: our tags (`rtech:project`, `rtech:env`, `rtech:id`) plus a deterministic
//! comment ([`comment`]); CreateDistributionWithTags uses a deterministic CallerReference
//! ([`caller_reference`]: a hash of the env and the resolved config, so an interrupted create
//! that is retried is idempotent on AWS).
//!
//! Observe (read-only), API calls:
//! 1. ListDistributions, paginated (1 call per 100 distributions);
//! 2. ListTagsForResource for each candidate: a distribution whose comment is ours, or whose
//!    aliases include one of the spec's (or, without a spec, a name in the env's zone) —
//!    usually 1 call;
//! 3. GetDistributionConfig for each distribution of ours (1 call).
//!
//! So a plan costs 3 CloudFront calls with a distribution, 1 without. A distribution carrying
//! one of our aliases without our tags is foreign: a conflict, never touched. A second
//! distribution of ours (an interrupted apply) is observed as `distribution/main~<id>` and
//! deleted.
//!
//! The diff compares the normalised config ([`normalise`]): origins and ordered behaviours as
//! maps keyed by origin id and path pattern, aliases, methods, headers and SSL protocols as
//! sorted lists, so that apply → plan is empty whatever order AWS reports them in.
//!
//! Apply: create (CreateDistributionWithTags); update (GetDistributionConfig → the managed
//! fields replaced → UpdateDistribution with IfMatch = the ETag, re-read and retried once on
//! PreconditionFailed; tags with TagResource/UntagResource); then wait until `Deployed` (polled
//! with progress; minutes on AWS) unless `apply --no-wait`. Delete: disable (UpdateDistribution
//! Enabled=false), wait until `Deployed`, DeleteDistribution with the fresh ETag
//! ([`delete_step`], [`on_delete_error`]).

// The legacy cache settings (ForwardedValues, MinTTL/DefaultTTL/MaxTTL) are deprecated in
// favour of cache policies, which the emulator does not implement (EMULATOR.md); AWS still
// accepts them, and the seed uses them.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CookiePreference,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    DistributionSummary, ForwardedValues, GeoRestriction, GeoRestrictionType, Headers, HttpVersion,
    InvalidationBatch, ItemSelection, LoggingConfig, Method, MinimumProtocolVersion, Origin,
    OriginProtocolPolicy, OriginSslProtocols, Origins, Paths, PriceClass, Restrictions,
    SslProtocol, SslSupportMethod, Tag, TagKeys, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use aws_sdk_cloudfront::Client;
use sha2::{Digest, Sha256};

use crate::aws::{all_pages, aws, AwsError, Required, CLOUDFRONT_CERT_REGION};
use crate::model::{
    tag_delta, tag_pairs, tags_for, tags_of, Attrs, Observed, Ownership, Props, Resource,
    ResourceId, Value, TAG_ENV, TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::edge::Ttl;
use crate::spec::Spec;

pub const DISTRIBUTION: &str = "distribution";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: DISTRIBUTION,
    force_new: &[],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// The distribution's resource id, as progress lines name it.
pub const DISTRIBUTION_ID: &str = "distribution/main";

/// The only origin: the load balancer.
pub const ORIGIN_ID: &str = "alb";
/// The ordered behaviour for the API (never cached by default).
pub const API_PATH: &str = "/api/*";
/// Where standard logs go in the log bucket.
pub const LOG_PREFIX: &str = "cloudfront/";
/// CloudFront's deployment status once a change has propagated.
pub const DEPLOYED: &str = "Deployed";

/// How long apply waits for `Deployed` (15–35 minutes historically on AWS).
const DEPLOY_WAIT: Duration = Duration::from_secs(45 * 60);
/// How long `rtech invalidate` waits for an invalidation to complete.
const INVALIDATION_WAIT: Duration = Duration::from_secs(30 * 60);

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

fn load_balancer_id() -> ResourceId {
    ResourceId::new("load_balancer", "main")
}

/// The default behaviour's and the API behaviour's methods (seed 6.1).
pub const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];
pub const ALL_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
pub const CACHED_METHODS: &[&str] = &["GET", "HEAD"];
/// The seed's Accept, Accept-Encoding and Origin, plus Host: with HTTPS to the origin,
/// CloudFront checks the load balancer's certificate against the Host header it forwards, or
/// else against the origin's name (`*.elb.amazonaws.com`, which no certificate of ours
/// covers). The viewer's Host is the apex or `www`, both on the env's certificate. (`/api/*`
/// forwards every header, Host included.)
pub const DEFAULT_HEADERS: &[&str] = &["Accept", "Accept-Encoding", "Host", "Origin"];

// ---------------------------------------------------------------------------------------------
// shapes shared by expand and normalise (one function each, so both sides compare equal)

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A list compared as a set: sorted, without duplicates.
pub fn set<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    let s: BTreeSet<String> = items.into_iter().map(|x| x.as_ref().to_string()).collect();
    Value::List(s.into_iter().map(Value::Str).collect())
}

/// One cache behaviour (default or ordered) in the compared shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    pub target_origin_id: String,
    pub viewer_protocol_policy: String,
    pub allowed_methods: Vec<String>,
    pub cached_methods: Vec<String>,
    pub query_string: bool,
    pub headers: Vec<String>,
    /// `none`, `all` or `whitelist`.
    pub cookies: String,
    pub compress: bool,
    pub ttl: Ttl,
}

impl Behavior {
    pub fn value(&self) -> Value {
        map([
            ("target_origin_id", Value::str(&self.target_origin_id)),
            (
                "viewer_protocol_policy",
                Value::str(&self.viewer_protocol_policy),
            ),
            ("allowed_methods", set(&self.allowed_methods)),
            ("cached_methods", set(&self.cached_methods)),
            ("query_string", Value::Bool(self.query_string)),
            ("headers", set(&self.headers)),
            ("cookies", Value::str(&self.cookies)),
            ("compress", Value::Bool(self.compress)),
            ("min_ttl", Value::Int(self.ttl.min)),
            ("default_ttl", Value::Int(self.ttl.default)),
            ("max_ttl", Value::Int(self.ttl.max)),
        ])
    }

    /// Back from the compared shape (a resolved desired resource's).
    pub fn from_value(v: &Value) -> Behavior {
        let m = v.as_map().cloned().unwrap_or_default();
        let s = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let b = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
        let i = |k: &str| m.get(k).and_then(Value::as_int).unwrap_or(0);
        Behavior {
            target_origin_id: s("target_origin_id"),
            viewer_protocol_policy: s("viewer_protocol_policy"),
            allowed_methods: strings(m.get("allowed_methods")),
            cached_methods: strings(m.get("cached_methods")),
            query_string: b("query_string"),
            headers: strings(m.get("headers")),
            cookies: s("cookies"),
            compress: b("compress"),
            ttl: Ttl {
                min: i("min_ttl"),
                default: i("default_ttl"),
                max: i("max_ttl"),
            },
        }
    }
}

/// One custom origin in the compared shape.
fn origin_value(
    domain_name: Value,
    http_port: i64,
    https_port: i64,
    policy: &str,
    ssl: &[String],
) -> Value {
    map([
        ("domain_name", domain_name),
        ("http_port", Value::Int(http_port)),
        ("https_port", Value::Int(https_port)),
        ("protocol_policy", Value::str(policy)),
        ("ssl_protocols", set(ssl)),
    ])
}

fn logging_value(enabled: bool, bucket: Value, prefix: &str, include_cookies: bool) -> Value {
    if !enabled {
        return map([("enabled", Value::Bool(false))]);
    }
    map([
        ("enabled", Value::Bool(true)),
        ("bucket", bucket),
        ("prefix", Value::str(prefix)),
        ("include_cookies", Value::Bool(include_cookies)),
    ])
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------------------------
// expand

/// The default behaviour for the spec's TTLs (seed 6.1).
pub fn default_behavior(ttl: Ttl) -> Behavior {
    Behavior {
        target_origin_id: ORIGIN_ID.into(),
        viewer_protocol_policy: "redirect-to-https".into(),
        allowed_methods: DEFAULT_METHODS.iter().map(|s| s.to_string()).collect(),
        cached_methods: CACHED_METHODS.iter().map(|s| s.to_string()).collect(),
        query_string: true,
        headers: DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect(),
        cookies: "none".into(),
        compress: true,
        ttl,
    }
}

/// The `/api/*` behaviour (seed 6.1): nothing cached by default, everything forwarded.
/// Compression off (Terraform's default for an ordered behaviour).
pub fn api_behavior(ttl: Ttl) -> Behavior {
    Behavior {
        target_origin_id: ORIGIN_ID.into(),
        viewer_protocol_policy: "https-only".into(),
        allowed_methods: ALL_METHODS.iter().map(|s| s.to_string()).collect(),
        cached_methods: CACHED_METHODS.iter().map(|s| s.to_string()).collect(),
        query_string: true,
        headers: vec!["*".into()],
        cookies: "none".into(),
        compress: false,
        ttl,
    }
}

/// Spec → Desired (pure): the distribution, only with `[edge.cloudfront]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(edge) = &spec.edge else {
        return vec![];
    };
    let Some(cf) = &edge.cloudfront else {
        return vec![];
    };
    let id = distribution_id();
    let name = distribution_name(&spec.project, &spec.env);
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    let origin = origin_value(
        Value::reference(&load_balancer_id(), "dns_name"),
        80,
        443,
        "https-only",
        &["TLSv1.2".to_string()],
    );
    let logging = logging_value(
        cf.logging,
        Value::reference(&log_bucket_id(), "domain_name"),
        LOG_PREFIX,
        false,
    );
    let r = Resource::new(id, &name)
        .prop("comment", Value::str(comment(&spec.project, &spec.env)))
        .prop("enabled", Value::Bool(true))
        .prop(
            "aliases",
            set([edge.domain.clone(), format!("www.{}", edge.domain)]),
        )
        .prop(
            "origins",
            Value::Map(BTreeMap::from([(ORIGIN_ID.to_string(), origin)])),
        )
        .prop(
            "default_behavior",
            default_behavior(cf.default_behavior).value(),
        )
        .prop(
            "cache_behaviors",
            Value::Map(BTreeMap::from([(
                API_PATH.to_string(),
                api_behavior(cf.api_behavior).value(),
            )])),
        )
        .prop(
            "viewer_certificate",
            map([
                (
                    "acm_certificate_arn",
                    Value::reference(&certificate_validation_id(&spec.region), "arn"),
                ),
                ("ssl_support_method", Value::str("sni-only")),
                ("minimum_protocol_version", Value::str("TLSv1.2_2021")),
            ]),
        )
        .prop("price_class", Value::str(&cf.price_class))
        .prop("logging", logging)
        .prop("geo_restriction", Value::str("none"))
        .prop("http_version", Value::str("http2"))
        .prop("ipv6", Value::Bool(true))
        .prop("tags", Value::string_map(&tags));
    vec![r]
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation and classification (pure)

fn methods(items: &[Method]) -> Vec<String> {
    items.iter().map(|m| m.as_str().to_string()).collect()
}

fn forwarded(f: Option<&ForwardedValues>) -> (bool, Vec<String>, String) {
    match f {
        Some(f) => (
            f.query_string(),
            f.headers().map(|h| h.items().to_vec()).unwrap_or_default(),
            f.cookies()
                .map(|c| c.forward().as_str().to_string())
                .unwrap_or_else(|| "none".into()),
        ),
        None => (false, vec![], "none".into()),
    }
}

fn ttl(min: Option<i64>, default: Option<i64>, max: Option<i64>) -> Ttl {
    Ttl {
        min: min.unwrap_or(0),
        default: default.unwrap_or(0),
        max: max.unwrap_or(0),
    }
}

/// `DefaultCacheBehavior` and `CacheBehavior` are distinct SDK types with the same accessors:
/// one reader serves both.
macro_rules! behavior_of {
    ($b:expr) => {{
        let b = $b;
        let (query_string, headers, cookies) = forwarded(b.forwarded_values());
        Behavior {
            target_origin_id: b.target_origin_id().to_string(),
            viewer_protocol_policy: b.viewer_protocol_policy().as_str().to_string(),
            allowed_methods: b
                .allowed_methods()
                .map(|a| methods(a.items()))
                .unwrap_or_default(),
            cached_methods: b
                .allowed_methods()
                .and_then(AllowedMethods::cached_methods)
                .map(|c| methods(c.items()))
                .unwrap_or_default(),
            query_string,
            headers,
            cookies,
            compress: b.compress().unwrap_or(false),
            ttl: ttl(b.min_ttl(), b.default_ttl(), b.max_ttl()),
        }
    }};
}

pub fn default_behavior_of(b: &DefaultCacheBehavior) -> Behavior {
    behavior_of!(b)
}

pub fn cache_behavior_of(b: &CacheBehavior) -> Behavior {
    behavior_of!(b)
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|x| !x.is_empty())
}

/// A live config → the compared properties (without tags). Pure.
pub fn normalise(c: &DistributionConfig) -> Props {
    let mut p = Props::new();
    p.insert("comment".into(), Value::str(c.comment()));
    p.insert("enabled".into(), Value::Bool(c.enabled()));
    p.insert(
        "aliases".into(),
        set(c.aliases().map(|a| a.items().to_vec()).unwrap_or_default()),
    );
    let origins: BTreeMap<String, Value> = c
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let v = match o.custom_origin_config() {
                Some(co) => origin_value(
                    Value::str(o.domain_name()),
                    co.http_port() as i64,
                    co.https_port() as i64,
                    co.origin_protocol_policy().as_str(),
                    &co.origin_ssl_protocols()
                        .map(|s| {
                            s.items()
                                .iter()
                                .map(|x| x.as_str().to_string())
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                ),
                None => map([
                    ("domain_name", Value::str(o.domain_name())),
                    ("s3", Value::Bool(o.s3_origin_config().is_some())),
                ]),
            };
            (o.id().to_string(), v)
        })
        .collect();
    p.insert("origins".into(), Value::Map(origins));
    p.insert(
        "default_behavior".into(),
        c.default_cache_behavior()
            .map(|b| default_behavior_of(b).value())
            .unwrap_or(Value::Null),
    );
    let behaviors: BTreeMap<String, Value> = c
        .cache_behaviors()
        .map(|b| b.items())
        .unwrap_or_default()
        .iter()
        .map(|b| (b.path_pattern().to_string(), cache_behavior_of(b).value()))
        .collect();
    p.insert("cache_behaviors".into(), Value::Map(behaviors));
    let vc = c.viewer_certificate();
    let cert = match vc.and_then(|v| non_empty(v.acm_certificate_arn())) {
        Some(arn) => map([
            ("acm_certificate_arn", Value::str(arn)),
            (
                "ssl_support_method",
                Value::opt_str(vc.and_then(|v| v.ssl_support_method()).map(|m| m.as_str())),
            ),
            (
                "minimum_protocol_version",
                Value::opt_str(
                    vc.and_then(|v| v.minimum_protocol_version())
                        .map(|m| m.as_str()),
                ),
            ),
        ]),
        None => match vc.and_then(|v| non_empty(v.iam_certificate_id())) {
            Some(iam) => map([("iam_certificate_id", Value::str(iam))]),
            None => map([("cloudfront_default_certificate", Value::Bool(true))]),
        },
    };
    p.insert("viewer_certificate".into(), cert);
    p.insert(
        "price_class".into(),
        Value::opt_str(c.price_class().map(PriceClass::as_str)),
    );
    let logging = match c.logging() {
        Some(l) if l.enabled() => logging_value(
            true,
            Value::str(l.bucket()),
            l.prefix(),
            l.include_cookies(),
        ),
        _ => logging_value(false, Value::Null, "", false),
    };
    p.insert("logging".into(), logging);
    let geo = c
        .restrictions()
        .and_then(|r| r.geo_restriction())
        .map(|g| {
            let kind = g.restriction_type().as_str();
            let mut items = g.items().to_vec();
            items.sort();
            if kind == "none" || items.is_empty() && kind.is_empty() {
                "none".to_string()
            } else {
                format!("{kind}:{}", items.join(","))
            }
        })
        .unwrap_or_else(|| "none".into());
    p.insert("geo_restriction".into(), Value::Str(geo));
    p.insert(
        "http_version".into(),
        Value::opt_str(c.http_version().map(HttpVersion::as_str)),
    );
    p.insert(
        "ipv6".into(),
        c.is_ipv6_enabled().map(Value::Bool).unwrap_or(Value::Null),
    );
    p
}

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

    pub fn attrs(&self) -> Attrs {
        dist_attrs(&self.id, &self.arn, &self.domain_name, &self.status)
    }
}

pub fn dist_attrs(id: &str, arn: &str, domain_name: &str, status: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), id.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("domain_name".into(), domain_name.to_string());
    a.insert("status".into(), status.to_string());
    a
}

/// The aliases rtech wants (from the desired resource), or without a spec the env's zone.
pub fn wanted_aliases(desired: &[Resource]) -> Vec<String> {
    desired
        .iter()
        .find(|r| r.id == distribution_id())
        .map(|r| strings(r.props.get("aliases")))
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
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID).map(String::as_str) == Some(DISTRIBUTION_ID)
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
    let mut out = vec![];
    for (i, d) in ours.iter().enumerate() {
        let id = if i == 0 {
            distribution_id()
        } else {
            ResourceId::new(DISTRIBUTION, format!("main~{}", d.id))
        };
        out.push((*d, Ownership::Owned, id));
    }
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
    ]
}

/// One distribution of ours → `Observed` (pure).
pub fn observed(
    id: ResourceId,
    s: &Summary,
    config: &DistributionConfig,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let mut o = Observed::new(id, &s.id);
    o.props = normalise(config);
    o.props.insert("tags".into(), Value::string_map(tags));
    o.attrs = s.attrs();
    for d in observed_deps() {
        o.deps.insert(d);
    }
    o
}

/// A foreign distribution holding one of our aliases.
pub fn observed_foreign(s: &Summary) -> Observed {
    let mut o = Observed::new(distribution_id(), &s.id).prop("aliases", set(&s.aliases));
    o.ownership = Ownership::Foreign;
    o.attrs = s.attrs();
    o
}

// ---------------------------------------------------------------------------------------------
// apply: requests (pure builders)

fn build_err(
    what: &str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError + '_ {
    move |e| AwsError::new("cloudfront", "InvalidRequest", format!("{what}: {e}"))
}

fn method_list(items: &[String]) -> Vec<Method> {
    items.iter().map(|m| Method::from(m.as_str())).collect()
}

fn forwarded_values(b: &Behavior) -> Result<ForwardedValues, AwsError> {
    ForwardedValues::builder()
        .query_string(b.query_string)
        .cookies(
            CookiePreference::builder()
                .forward(ItemSelection::from(b.cookies.as_str()))
                .build()
                .map_err(build_err("cookies"))?,
        )
        .headers(
            Headers::builder()
                .quantity(b.headers.len() as i32)
                .set_items(Some(b.headers.clone()))
                .build()
                .map_err(build_err("headers"))?,
        )
        .build()
        .map_err(build_err("forwarded values"))
}

fn allowed_methods(b: &Behavior) -> Result<AllowedMethods, AwsError> {
    AllowedMethods::builder()
        .quantity(b.allowed_methods.len() as i32)
        .set_items(Some(method_list(&b.allowed_methods)))
        .cached_methods(
            CachedMethods::builder()
                .quantity(b.cached_methods.len() as i32)
                .set_items(Some(method_list(&b.cached_methods)))
                .build()
                .map_err(build_err("cached methods"))?,
        )
        .build()
        .map_err(build_err("allowed methods"))
}

/// The fields both behaviour builders share (distinct SDK types, same setters).
macro_rules! with_behavior {
    ($builder:expr, $b:expr) => {{
        let b: &Behavior = $b;
        $builder
            .target_origin_id(&b.target_origin_id)
            .viewer_protocol_policy(ViewerProtocolPolicy::from(
                b.viewer_protocol_policy.as_str(),
            ))
            .allowed_methods(allowed_methods(b)?)
            .forwarded_values(forwarded_values(b)?)
            .compress(b.compress)
            .smooth_streaming(false)
            .min_ttl(b.ttl.min)
            .default_ttl(b.ttl.default)
            .max_ttl(b.ttl.max)
    }};
}

pub fn sdk_default_behavior(b: &Behavior) -> Result<DefaultCacheBehavior, AwsError> {
    with_behavior!(DefaultCacheBehavior::builder(), b)
        .build()
        .map_err(build_err("default cache behavior"))
}

pub fn sdk_cache_behavior(path: &str, b: &Behavior) -> Result<CacheBehavior, AwsError> {
    with_behavior!(CacheBehavior::builder().path_pattern(path), b)
        .build()
        .map_err(build_err("cache behavior"))
}

fn sdk_origin(id: &str, v: &Value) -> Result<Origin, AwsError> {
    let m = v.as_map().cloned().unwrap_or_default();
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let i = |k: &str, d: i64| m.get(k).and_then(Value::as_int).unwrap_or(d) as i32;
    let ssl = strings(m.get("ssl_protocols"));
    Origin::builder()
        .id(id)
        .domain_name(s("domain_name"))
        .origin_path("")
        .connection_attempts(3)
        .connection_timeout(10)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(i("http_port", 80))
                .https_port(i("https_port", 443))
                .origin_protocol_policy(OriginProtocolPolicy::from(s("protocol_policy").as_str()))
                .origin_ssl_protocols(
                    OriginSslProtocols::builder()
                        .quantity(ssl.len() as i32)
                        .set_items(Some(
                            ssl.iter().map(|p| SslProtocol::from(p.as_str())).collect(),
                        ))
                        .build()
                        .map_err(build_err("origin SSL protocols"))?,
                )
                .origin_read_timeout(30)
                .origin_keepalive_timeout(5)
                .build()
                .map_err(build_err("custom origin"))?,
        )
        .build()
        .map_err(build_err("origin"))
}

fn sdk_viewer_certificate(v: Option<&Value>) -> ViewerCertificate {
    let m = v.and_then(Value::as_map).cloned().unwrap_or_default();
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    match s("acm_certificate_arn") {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::from(
                s("ssl_support_method")
                    .unwrap_or("sni-only".into())
                    .as_str(),
            ))
            .minimum_protocol_version(MinimumProtocolVersion::from(
                s("minimum_protocol_version")
                    .unwrap_or("TLSv1.2_2021".into())
                    .as_str(),
            ))
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    }
}

fn sdk_logging(v: Option<&Value>) -> LoggingConfig {
    let m = v.and_then(Value::as_map).cloned().unwrap_or_default();
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let enabled = m.get("enabled").and_then(Value::as_bool).unwrap_or(false);
    LoggingConfig::builder()
        .enabled(enabled)
        .include_cookies(
            m.get("include_cookies")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
        .bucket(if enabled { s("bucket") } else { String::new() })
        .prefix(if enabled { s("prefix") } else { String::new() })
        .build()
}

/// `config` with every field rtech manages set from the resolved desired resource; fields
/// rtech does not manage (CallerReference, default root object, WAF, error responses…) are
/// kept. Pure: the create request starts from an empty config, the update from the live one.
pub fn apply_desired(
    mut config: DistributionConfig,
    r: &Resource,
) -> Result<DistributionConfig, AwsError> {
    let aliases = strings(r.props.get("aliases"));
    config.aliases = Some(
        Aliases::builder()
            .quantity(aliases.len() as i32)
            .set_items(Some(aliases))
            .build()
            .map_err(build_err("aliases"))?,
    );
    let origins: Vec<Origin> = r
        .props
        .get("origins")
        .and_then(Value::as_map)
        .map(|m| m.iter().map(|(id, v)| sdk_origin(id, v)).collect())
        .unwrap_or_else(|| Ok(vec![]))?;
    config.origins = Some(
        Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build()
            .map_err(build_err("origins"))?,
    );
    config.default_cache_behavior = Some(sdk_default_behavior(&Behavior::from_value(
        r.props.get("default_behavior").unwrap_or(&Value::Null),
    ))?);
    let behaviors: Vec<CacheBehavior> = r
        .props
        .get("cache_behaviors")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(path, v)| sdk_cache_behavior(path, &Behavior::from_value(v)))
                .collect()
        })
        .unwrap_or_else(|| Ok(vec![]))?;
    config.cache_behaviors = Some(
        CacheBehaviors::builder()
            .quantity(behaviors.len() as i32)
            .set_items(if behaviors.is_empty() {
                None
            } else {
                Some(behaviors)
            })
            .build()
            .map_err(build_err("cache behaviors"))?,
    );
    config.comment = r.get_str("comment").unwrap_or_default().to_string();
    config.enabled = r
        .props
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    config.viewer_certificate = Some(sdk_viewer_certificate(r.props.get("viewer_certificate")));
    config.price_class = r.get_str("price_class").map(PriceClass::from);
    config.logging = Some(sdk_logging(r.props.get("logging")));
    config.restrictions = Some(
        Restrictions::builder()
            .geo_restriction(
                GeoRestriction::builder()
                    .restriction_type(GeoRestrictionType::None)
                    .quantity(0)
                    .build()
                    .map_err(build_err("geo restriction"))?,
            )
            .build(),
    );
    config.http_version = Some(HttpVersion::from(
        r.get_str("http_version").unwrap_or("http2"),
    ));
    config.is_ipv6_enabled = Some(r.props.get("ipv6").and_then(Value::as_bool).unwrap_or(true));
    Ok(config)
}

/// The deterministic CallerReference: the env and a hash of the resolved config (a retried
/// create after an interruption is the same request, which AWS answers with the existing
/// distribution).
pub fn caller_reference(project: &str, env: &str, r: &Resource) -> String {
    let json = serde_json::to_string(&r.props).expect("props serialise");
    let hash = hex::encode(&Sha256::digest(json.as_bytes())[..6]);
    format!("rtech-{project}-{env}-main-{hash}")
}

/// The create request's config (pure).
pub fn create_config(caller_ref: &str, r: &Resource) -> Result<DistributionConfig, AwsError> {
    let empty = DistributionConfig::builder()
        .caller_reference(caller_ref)
        .comment("")
        .enabled(true)
        .build()
        .map_err(build_err("distribution config"))?;
    apply_desired(empty, r)
}

pub fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Tags, AwsError> {
    let items = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_err("tag"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

/// The live config, disabled (the first step of a delete). Pure.
pub fn disabled(mut config: DistributionConfig) -> DistributionConfig {
    config.enabled = false;
    config
}

/// Whether an UpdateDistribution failure is worth one re-read of the ETag and a retry.
pub fn retry_update(e: &AwsError, attempt: u32) -> bool {
    attempt == 0
        && matches!(
            e.code.as_str(),
            "PreconditionFailed" | "InvalidIfMatchVersion"
        )
}

/// A clearer message for AWS's answer to an alias another distribution holds.
pub fn explain(e: AwsError, aliases: &[String]) -> AwsError {
    if e.code == "CNAMEAlreadyExists" {
        let m = format!(
            "one of the aliases {} is already used by another CloudFront distribution (perhaps in another account): remove it there first ({})",
            aliases.join(", "),
            e.message
        );
        return AwsError::new(e.op, e.code, m);
    }
    e
}

/// The next step of a delete from what GetDistribution says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStep {
    /// UpdateDistribution Enabled=false, then wait until Deployed.
    Disable,
    /// Disabled, not yet Deployed: wait.
    Wait,
    /// Disabled and Deployed: DeleteDistribution.
    Delete,
}

pub fn delete_step(enabled: bool, status: &str) -> DeleteStep {
    if enabled {
        DeleteStep::Disable
    } else if status != DEPLOYED {
        DeleteStep::Wait
    } else {
        DeleteStep::Delete
    }
}

/// What a failed disable or delete leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Already gone: the delete is done.
    Gone,
    /// Read the distribution again (fresh ETag, status, enabled) and take the next step:
    /// `DistributionNotDisabled` (still enabled, or the disable has not propagated),
    /// `PreconditionFailed` / `InvalidIfMatchVersion` (stale ETag).
    Reread,
    Fail,
}

pub fn on_delete_error(e: &AwsError) -> Recovery {
    match e.code.as_str() {
        "NoSuchDistribution" => Recovery::Gone,
        "DistributionNotDisabled" | "PreconditionFailed" | "InvalidIfMatchVersion" => {
            Recovery::Reread
        }
        _ => Recovery::Fail,
    }
}

/// How many read → act rounds a delete takes at most (disable, wait, delete, plus retries).
pub const DELETE_ROUNDS: usize = 6;

/// Polling delay: 2 s, 4 s, 8 s … capped at 20 s.
pub fn poll_delay(attempt: u32) -> Duration {
    Duration::from_secs((2u64 << attempt.min(4)).min(20))
}

/// `Completed` / `InProgress` whatever case AWS (or the emulator) reports.
pub fn invalidation_status(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "completed" => "Completed".into(),
        "inprogress" | "in_progress" => "InProgress".into(),
        _ => s.to_string(),
    }
}

/// The paths to invalidate: `/*` when none, duplicates dropped, each absolute with `*` only at
/// the end. Pure.
pub fn invalidation_paths(paths: &[String]) -> Result<Vec<String>, AwsError> {
    if paths.is_empty() {
        return Ok(vec!["/*".into()]);
    }
    let mut out: Vec<String> = vec![];
    for p in paths {
        let bad = |why: &str| {
            AwsError::new(
                "cloudfront:CreateInvalidation",
                "InvalidArgument",
                format!("invalid path {p:?}: {why}"),
            )
        };
        if !p.starts_with('/') {
            return Err(bad("must start with /"));
        }
        if p.trim_end_matches('*').contains('*') || p.matches('*').count() > 1 {
            return Err(bad("* is allowed only once, at the end"));
        }
        if p.chars().any(char::is_whitespace) {
            return Err(bad("no spaces (URL-encode them as %20)"));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The distribution `rtech invalidate` works on (pure): ours, never a foreign one.
pub fn pick_for_invalidation<'a>(
    env: &str,
    found: &'a [(Summary, Ownership, ResourceId)],
) -> Result<&'a Summary, AwsError> {
    found
        .iter()
        .find(|(_, o, id)| *o == Ownership::Owned && *id == distribution_id())
        .map(|(s, _, _)| s)
        .ok_or_else(|| {
            AwsError::new(
                OP_LIST,
                "NoDistribution",
                format!("env {env} has no CloudFront distribution; apply first"),
            )
        })
}

// ---------------------------------------------------------------------------------------------
// AWS calls

/// Every candidate, classified, with the tags of each (by ARN).
type Found = (
    Vec<(Summary, Ownership, ResourceId)>,
    BTreeMap<String, BTreeMap<String, String>>,
);

/// ListDistributions (paginated), then ListTagsForResource for each candidate; classified.
async fn find(ctx: &Ctx, aliases: &[String]) -> Result<Found, AwsError> {
    let c = &ctx.clients.cloudfront;
    let all: Vec<Summary> = all_pages!(c.list_distributions(), "cloudfront:ListDistributions")?
        .iter()
        .map(Summary::of)
        .collect();
    let cands = candidates(
        &all,
        &comment(&ctx.project, &ctx.env),
        aliases,
        ctx.zone.as_deref(),
    );
    let mut tags = BTreeMap::new();
    for d in &cands {
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
    Ok((classified, tags))
}

async fn get_config(c: &Client, id: &str) -> Result<(DistributionConfig, String), AwsError> {
    let out = c
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .map_err(aws("cloudfront:GetDistributionConfig"))?;
    let config = out.distribution_config().cloned().required(
        "cloudfront:GetDistributionConfig",
        format!("no config returned for distribution {id}"),
    )?;
    Ok((config, out.e_tag().unwrap_or_default().to_string()))
}

/// The distribution now: (enabled, status, ETag, config, attrs).
struct Live {
    config: DistributionConfig,
    status: String,
    etag: String,
    attrs: Attrs,
}

async fn get_live(c: &Client, id: &str) -> Result<Live, AwsError> {
    let out = c
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(aws("cloudfront:GetDistribution"))?;
    let d = out.distribution().required(
        "cloudfront:GetDistribution",
        format!("no distribution returned for {id}"),
    )?;
    let config = d.distribution_config().cloned().required(
        "cloudfront:GetDistribution",
        format!("no config returned for distribution {id}"),
    )?;
    Ok(Live {
        config,
        status: d.status().to_string(),
        etag: out.e_tag().unwrap_or_default().to_string(),
        attrs: dist_attrs(d.id(), d.arn(), d.domain_name(), d.status()),
    })
}

/// Poll GetDistribution until `Deployed`, with progress; return the fresh attributes.
async fn wait_deployed(c: &Client, id: &str, task: &Task) -> Result<Attrs, AwsError> {
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        let live = get_live(c, id).await?;
        if live.status == DEPLOYED {
            return Ok(live.attrs);
        }
        let elapsed = start.elapsed();
        if elapsed > DEPLOY_WAIT {
            return Err(AwsError::new(
                "cloudfront:GetDistribution",
                "WaiterTimeout",
                format!(
                    "distribution {id} still {} after {} s; apply again to keep waiting",
                    live.status,
                    elapsed.as_secs()
                ),
            ));
        }
        task.status(&format!(
            "waiting for distribution {id} to be Deployed (now {}, {} s; minutes on AWS)",
            live.status,
            elapsed.as_secs()
        ));
        tokio::time::sleep(poll_delay(attempt)).await;
        attempt += 1;
    }
}

async fn finish_wait(ctx: &Ctx, id: &str, attrs: Attrs, task: &Task) -> Result<Attrs, AwsError> {
    if ctx.no_wait {
        task.status(&format!(
            "not waiting for Deployed (--no-wait): distribution {id} propagates in the background (status {})",
            attrs
                .get("status")
                .map(String::as_str)
                .unwrap_or("InProgress")
        ));
        return Ok(attrs);
    }
    wait_deployed(&ctx.clients.cloudfront, id, task).await
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.cloudfront;
    let aliases = strings(r.props.get("aliases"));
    let tags = sdk_tags(&tags_of(&r.props))?;
    let mut caller_ref = caller_reference(&ctx.project, &ctx.env, r);
    task.status(&format!("creating distribution {}", r.name));
    let mut retried = false;
    let out = loop {
        let config = create_config(&caller_ref, r)?;
        match c
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config)
                    .tags(tags.clone())
                    .build(),
            )
            .send()
            .await
            .map_err(aws("cloudfront:CreateDistributionWithTags"))
        {
            Ok(out) => break out,
            // The reference belongs to another (or a deleted) distribution with another
            // config: observe found none of ours, so make the reference unique.
            Err(e) if e.code == "DistributionAlreadyExists" && !retried => {
                retried = true;
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                caller_ref = format!("{caller_ref}-{nanos}");
            }
            Err(e) => return Err(explain(e, &aliases)),
        }
    };
    let d = out.distribution().required(
        "cloudfront:CreateDistributionWithTags",
        format!("no distribution returned for {}", r.name),
    )?;
    let attrs = dist_attrs(d.id(), d.arn(), d.domain_name(), d.status());
    finish_wait(ctx, d.id(), attrs, task).await
}

async fn update(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.cloudfront;
    let id = prior.physical_id.as_str();
    let aliases = strings(r.props.get("aliases"));
    let mut attrs = prior.attrs.clone();
    let config_changed = changed.iter().any(|p| p != "tags");
    if config_changed {
        let mut attempt = 0;
        loop {
            task.status(&format!("updating distribution {id}"));
            let (live, etag) = get_config(c, id).await?;
            let config = apply_desired(live, r)?;
            match c
                .update_distribution()
                .id(id)
                .if_match(etag)
                .distribution_config(config)
                .send()
                .await
                .map_err(aws("cloudfront:UpdateDistribution"))
            {
                Ok(out) => {
                    if let Some(d) = out.distribution() {
                        attrs = dist_attrs(d.id(), d.arn(), d.domain_name(), d.status());
                    }
                    break;
                }
                Err(e) if retry_update(&e, attempt) => {
                    task.status("the distribution changed meanwhile (ETag): reading it again");
                    attempt += 1;
                }
                Err(e) => return Err(explain(e, &aliases)),
            }
        }
    }
    if changed.contains("tags") {
        sync_tags(c, prior, r).await?;
    }
    if config_changed {
        attrs = finish_wait(ctx, id, attrs, task).await?;
    }
    Ok(attrs)
}

async fn sync_tags(c: &Client, prior: &Observed, r: &Resource) -> Result<(), AwsError> {
    let arn = prior
        .attrs
        .get("arn")
        .cloned()
        .unwrap_or_else(|| prior.physical_id.clone());
    let delta = tag_delta(&tags_of(&prior.props), &tags_of(&r.props));
    if !delta.removed.is_empty() {
        c.untag_resource()
            .resource(&arn)
            .tag_keys(TagKeys::builder().set_items(Some(delta.removed)).build())
            .send()
            .await
            .map_err(aws("cloudfront:UntagResource"))?;
    }
    if !delta.set.is_empty() {
        let set: BTreeMap<String, String> = delta.set.into_iter().collect();
        c.tag_resource()
            .resource(&arn)
            .tags(sdk_tags(&set)?)
            .send()
            .await
            .map_err(aws("cloudfront:TagResource"))?;
    }
    Ok(())
}

/// Disable, wait until Deployed, delete with the fresh ETag; tolerant of a distribution that
/// is already disabled or gone.
async fn delete(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let c = &ctx.clients.cloudfront;
    let id = o.physical_id.as_str();
    for _ in 0..DELETE_ROUNDS {
        let live = match get_live(c, id).await {
            Ok(l) => l,
            Err(e) if on_delete_error(&e) == Recovery::Gone => return Ok(()),
            Err(e) => return Err(e),
        };
        let result = match delete_step(live.config.enabled(), &live.status) {
            DeleteStep::Disable => {
                task.status(&format!("disabling distribution {id}"));
                match c
                    .update_distribution()
                    .id(id)
                    .if_match(&live.etag)
                    .distribution_config(disabled(live.config))
                    .send()
                    .await
                    .map_err(aws("cloudfront:UpdateDistribution"))
                {
                    Ok(_) => wait_deployed(c, id, task).await.map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            DeleteStep::Wait => wait_deployed(c, id, task).await.map(|_| ()),
            DeleteStep::Delete => {
                task.status(&format!("deleting distribution {id}"));
                match c
                    .delete_distribution()
                    .id(id)
                    .if_match(&live.etag)
                    .send()
                    .await
                    .map_err(aws("cloudfront:DeleteDistribution"))
                {
                    Ok(_) => return Ok(()),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            match on_delete_error(&e) {
                Recovery::Gone => return Ok(()),
                Recovery::Reread => {
                    task.status(&format!("{}: reading distribution {id} again", e.code));
                }
                Recovery::Fail => return Err(e),
            }
        }
    }
    Err(AwsError::new(
        "cloudfront:DeleteDistribution",
        "DeleteNotConverged",
        format!(
            "distribution {id} could not be disabled and deleted in {DELETE_ROUNDS} rounds; run destroy again"
        ),
    ))
}

pub struct Cdn;

#[async_trait]
impl Reconciler for Cdn {
    fn service(&self) -> &'static str {
        "cloudfront"
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let aliases = wanted_aliases(desired);
        let (found, tags) = find(ctx, &aliases).await?;
        let c = &ctx.clients.cloudfront;
        let none = BTreeMap::new();
        let mut out = vec![];
        for (s, ownership, id) in &found {
            match ownership {
                Ownership::Foreign => out.push(observed_foreign(s)),
                Ownership::Owned => {
                    let (config, _etag) = match get_config(c, &s.id).await {
                        Ok(x) => x,
                        // Deleted between the list and the get.
                        Err(e) if e.code == "NoSuchDistribution" => continue,
                        Err(e) => return Err(e),
                    };
                    let t = tags.get(&s.arn).unwrap_or(&none);
                    out.push(observed(id.clone(), s, &config, t));
                }
            }
        }
        Ok(out)
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed, task).await,
            Op::Delete(o) => {
                delete(ctx, o, task).await?;
                Ok(Attrs::new())
            }
        }
    }
}

/// One invalidation, as `rtech invalidate` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    pub id: String,
    /// `InProgress` or `Completed`.
    pub status: String,
    pub paths: Vec<String>,
}

/// Invalidate `paths` on the env's distribution (found as observe finds it); with `wait`, wait
/// until the invalidation completes, with progress on `task`.
pub async fn invalidate(
    ctx: &Ctx,
    paths: &[String],
    wait: bool,
    task: &Task,
) -> Result<Invalidation, AwsError> {
    let paths = invalidation_paths(paths)?;
    let c = &ctx.clients.cloudfront;
    task.status("finding the env's distribution");
    let (found, _) = find(ctx, &[]).await?;
    let dist = pick_for_invalidation(&ctx.env, &found)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let caller_ref = format!("rtech-{}-{}-{nanos}", ctx.project, ctx.env);
    task.status(&format!(
        "invalidating {} on distribution {}",
        paths.join(" "),
        dist.id
    ));
    let out = c
        .create_invalidation()
        .distribution_id(&dist.id)
        .invalidation_batch(
            InvalidationBatch::builder()
                .caller_reference(caller_ref)
                .paths(
                    Paths::builder()
                        .quantity(paths.len() as i32)
                        .set_items(Some(paths.clone()))
                        .build()
                        .map_err(build_err("paths"))?,
                )
                .build()
                .map_err(build_err("invalidation batch"))?,
        )
        .send()
        .await
        .map_err(aws("cloudfront:CreateInvalidation"))?;
    let inv = out.invalidation().required(
        "cloudfront:CreateInvalidation",
        format!("no invalidation returned for distribution {}", dist.id),
    )?;
    let id = inv.id().to_string();
    let mut status = invalidation_status(inv.status());
    if wait {
        let start = Instant::now();
        let mut attempt = 0;
        while status != "Completed" {
            let elapsed = start.elapsed();
            if elapsed > INVALIDATION_WAIT {
                return Err(AwsError::new(
                    "cloudfront:GetInvalidation",
                    "WaiterTimeout",
                    format!(
                        "invalidation {id} on distribution {} still {status} after {} s",
                        dist.id,
                        elapsed.as_secs()
                    ),
                ));
            }
            task.status(&format!(
                "waiting for invalidation {id} to complete (now {status}, {} s)",
                elapsed.as_secs()
            ));
            tokio::time::sleep(poll_delay(attempt)).await;
            attempt += 1;
            let got = c
                .get_invalidation()
                .distribution_id(&dist.id)
                .id(&id)
                .send()
                .await
                .map_err(aws("cloudfront:GetInvalidation"))?;
            status = invalidation_status(got.invalidation().map(|i| i.status()).unwrap_or(""));
        }
    } else {
        task.status(&format!("not waiting for invalidation {id} (--no-wait)"));
    }
    Ok(Invalidation {
        distribution_id: dist.id.clone(),
        id,
        status,
        paths,
    })
}

#[cfg(test)]
mod tests;
