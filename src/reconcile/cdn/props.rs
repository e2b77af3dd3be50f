//! The distribution's properties, one typed shape for both sides: [`expand`] builds it from the
//! spec, [`distribution_props`] from a live config. Origins and ordered behaviours are maps
//! keyed by origin id and path pattern; aliases, methods, headers and SSL protocols are sorted
//! lists without duplicates ([`set`]), so that apply → plan is empty whatever order AWS
//! reports them in.

// The legacy cache settings (ForwardedValues, MinTTL/DefaultTTL/MaxTTL) are deprecated in
// favour of cache policies; see the module doc of `cdn`.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, DefaultCacheBehavior, DistributionConfig, ForwardedValues,
    HttpVersion, Method, PriceClass,
};
use serde::{Deserialize, Serialize};

use super::{
    certificate_validation_id, comment, distribution_id, distribution_name, load_balancer_id,
    log_bucket_id, web_acl_id, ALL_METHODS, API_PATH, CACHED_METHODS, DEFAULT_HEADERS,
    DEFAULT_METHODS, LOG_PREFIX, ORIGIN_ID,
};
use crate::model::{tags_for, Resource};
use crate::reconcile::kit::{to_props, Link};
use crate::reconcile::secrets::{
    marker, secret_id, GENERATED_ID, ORIGIN_HEADER, ORIGIN_HEADER_SECRET,
};
use crate::spec::edge::Ttl;
use crate::spec::Spec;

/// `distribution` props. Field names are the plan's property keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionProps {
    pub comment: String,
    pub enabled: bool,
    pub aliases: Vec<String>,
    pub origins: BTreeMap<String, OriginProps>,
    /// Null only for a live config without one.
    pub default_behavior: Option<Behavior>,
    pub cache_behaviors: BTreeMap<String, Behavior>,
    pub viewer_certificate: ViewerCertificateProps,
    pub price_class: Option<String>,
    pub logging: LoggingProps,
    /// `none`, or `<type>:<sorted countries>`.
    pub geo_restriction: String,
    pub http_version: Option<String>,
    pub ipv6: Option<bool>,
    /// The WAFv2 web ACL's ARN (`WebACLId`), with `[edge.waf]`; absent when none is attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_id: Option<Link>,
    pub tags: BTreeMap<String, String>,
}

/// One origin: a custom one (what rtech makes), or any other kind a live distribution has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OriginProps {
    Custom(CustomOrigin),
    Other(OtherOrigin),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomOrigin {
    pub domain_name: Link,
    pub http_port: i64,
    pub https_port: i64,
    pub protocol_policy: String,
    pub ssl_protocols: Vec<String>,
    /// Headers CloudFront adds to each request to the origin: name → the value's marker
    /// (`sha256:…`), never the value. Apply reads `X-Origin-Verify`'s value from
    /// `secret/origin-header`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_headers: BTreeMap<String, Link>,
}

/// An origin that is not a custom origin (an S3 origin added out of band): drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherOrigin {
    pub domain_name: String,
    pub s3: bool,
}

/// One cache behaviour (default or ordered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub min_ttl: i64,
    pub default_ttl: i64,
    pub max_ttl: i64,
}

impl Behavior {
    #[cfg(test)]
    pub fn ttl(&self) -> Ttl {
        Ttl {
            min: self.min_ttl,
            default: self.default_ttl,
            max: self.max_ttl,
        }
    }
}

/// The viewer certificate: an ACM certificate (what rtech sets), an IAM one, or CloudFront's
/// default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ViewerCertificateProps {
    Acm(AcmCertificate),
    Iam(IamCertificate),
    Default(DefaultCertificate),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmCertificate {
    pub acm_certificate_arn: Link,
    pub ssl_support_method: Option<String>,
    pub minimum_protocol_version: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamCertificate {
    pub iam_certificate_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultCertificate {
    pub cloudfront_default_certificate: bool,
}

/// Standard logging: only `enabled` when off (whatever AWS leaves in the other fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingProps {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cookies: Option<bool>,
}

impl LoggingProps {
    pub fn new(enabled: bool, bucket: Link, prefix: &str, include_cookies: bool) -> Self {
        if !enabled {
            return LoggingProps {
                enabled,
                bucket: None,
                prefix: None,
                include_cookies: None,
            };
        }
        LoggingProps {
            enabled,
            bucket: Some(bucket),
            prefix: Some(prefix.to_string()),
            include_cookies: Some(include_cookies),
        }
    }
}

/// A list compared as a set: sorted, without duplicates.
pub fn set<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    let s: BTreeSet<String> = items.into_iter().map(|x| x.as_ref().to_string()).collect();
    s.into_iter().collect()
}

fn custom_origin(
    domain_name: Link,
    http: i64,
    https: i64,
    policy: &str,
    ssl: &[String],
    custom_headers: BTreeMap<String, Link>,
) -> OriginProps {
    OriginProps::Custom(CustomOrigin {
        domain_name,
        http_port: http,
        https_port: https,
        protocol_policy: policy.to_string(),
        ssl_protocols: set(ssl),
        custom_headers,
    })
}

// ---------------------------------------------------------------------------------------------
// expand

/// The default behaviour for the spec's TTLs.
pub fn default_behavior(ttl: Ttl) -> Behavior {
    Behavior {
        target_origin_id: ORIGIN_ID.into(),
        viewer_protocol_policy: "redirect-to-https".into(),
        allowed_methods: set(DEFAULT_METHODS),
        cached_methods: set(CACHED_METHODS),
        query_string: true,
        headers: set(DEFAULT_HEADERS),
        cookies: "none".into(),
        compress: true,
        min_ttl: ttl.min,
        default_ttl: ttl.default,
        max_ttl: ttl.max,
    }
}

/// The `/api/*` behaviour: nothing cached by default, everything forwarded. Compression off
/// (Terraform's default for an ordered behaviour).
pub fn api_behavior(ttl: Ttl) -> Behavior {
    Behavior {
        target_origin_id: ORIGIN_ID.into(),
        viewer_protocol_policy: "https-only".into(),
        allowed_methods: set(ALL_METHODS),
        cached_methods: set(CACHED_METHODS),
        query_string: true,
        headers: vec!["*".into()],
        cookies: "none".into(),
        compress: false,
        min_ttl: ttl.min,
        default_ttl: ttl.default,
        max_ttl: ttl.max,
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
    let p = DistributionProps {
        comment: comment(&spec.project, &spec.env),
        enabled: true,
        aliases: set([edge.domain.clone(), format!("www.{}", edge.domain)]),
        origins: BTreeMap::from([(
            ORIGIN_ID.to_string(),
            custom_origin(
                Link::to(&load_balancer_id(), "dns_name"),
                80,
                443,
                "https-only",
                &["TLSv1.2".to_string()],
                BTreeMap::from([(
                    ORIGIN_HEADER.to_string(),
                    Link::to(&secret_id(ORIGIN_HEADER_SECRET), GENERATED_ID),
                )]),
            ),
        )]),
        default_behavior: Some(default_behavior(cf.default_behavior)),
        cache_behaviors: BTreeMap::from([(API_PATH.to_string(), api_behavior(cf.api_behavior))]),
        viewer_certificate: ViewerCertificateProps::Acm(AcmCertificate {
            acm_certificate_arn: Link::to(&certificate_validation_id(&spec.region), "arn"),
            ssl_support_method: Some("sni-only".into()),
            minimum_protocol_version: Some("TLSv1.2_2021".into()),
        }),
        price_class: Some(cf.price_class.clone()),
        logging: LoggingProps::new(
            cf.logging,
            Link::to(&log_bucket_id(), "domain_name"),
            LOG_PREFIX,
            false,
        ),
        geo_restriction: "none".into(),
        http_version: Some("http2".into()),
        ipv6: Some(true),
        web_acl_id: edge.waf.as_ref().map(|_| Link::to(&web_acl_id(), "arn")),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    // Through `prop`, so that each reference becomes a dependency.
    let mut r = Resource::new(id, &name).with_props(to_props(&p));
    // A new origin header value goes out only once the load balancer accepts it (rotation).
    if spec.app.is_some() {
        r = r.dep(&crate::reconcile::elb::listener_rule::production_rule_id());
    }
    vec![r]
}

// ---------------------------------------------------------------------------------------------
// observe: a live config → the same shape (pure)

fn methods(items: &[Method]) -> Vec<String> {
    set(items.iter().map(|m| m.as_str()))
}

fn forwarded(f: Option<&ForwardedValues>) -> (bool, Vec<String>, String) {
    match f {
        Some(f) => (
            f.query_string(),
            set(f.headers().map(|h| h.items().to_vec()).unwrap_or_default()),
            f.cookies()
                .map(|c| c.forward().as_str().to_string())
                .unwrap_or_else(|| "none".into()),
        ),
        None => (false, vec![], "none".into()),
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
            min_ttl: b.min_ttl().unwrap_or(0),
            default_ttl: b.default_ttl().unwrap_or(0),
            max_ttl: b.max_ttl().unwrap_or(0),
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

/// A live config and its tags → the distribution's props. Pure.
pub fn distribution_props(
    c: &DistributionConfig,
    tags: &BTreeMap<String, String>,
) -> DistributionProps {
    let origins = c
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let v = match o.custom_origin_config() {
                Some(co) => custom_origin(
                    Link::from(o.domain_name()),
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
                    o.custom_headers()
                        .map(|h| h.items())
                        .unwrap_or_default()
                        .iter()
                        .map(|h| {
                            (
                                h.header_name().to_string(),
                                Link::from(marker(h.header_value()).as_str()),
                            )
                        })
                        .collect(),
                ),
                None => OriginProps::Other(OtherOrigin {
                    domain_name: o.domain_name().to_string(),
                    s3: o.s3_origin_config().is_some(),
                }),
            };
            (o.id().to_string(), v)
        })
        .collect();
    let cache_behaviors = c
        .cache_behaviors()
        .map(|b| b.items())
        .unwrap_or_default()
        .iter()
        .map(|b| (b.path_pattern().to_string(), cache_behavior_of(b)))
        .collect();
    let vc = c.viewer_certificate();
    let viewer_certificate = match vc.and_then(|v| non_empty(v.acm_certificate_arn())) {
        Some(arn) => ViewerCertificateProps::Acm(AcmCertificate {
            acm_certificate_arn: Link::from(arn),
            ssl_support_method: vc
                .and_then(|v| v.ssl_support_method())
                .map(|m| m.as_str().to_string()),
            minimum_protocol_version: vc
                .and_then(|v| v.minimum_protocol_version())
                .map(|m| m.as_str().to_string()),
        }),
        None => match vc.and_then(|v| non_empty(v.iam_certificate_id())) {
            Some(iam) => ViewerCertificateProps::Iam(IamCertificate {
                iam_certificate_id: iam.to_string(),
            }),
            None => ViewerCertificateProps::Default(DefaultCertificate {
                cloudfront_default_certificate: true,
            }),
        },
    };
    let logging = match c.logging() {
        Some(l) if l.enabled() => LoggingProps::new(
            true,
            Link::from(l.bucket()),
            l.prefix(),
            l.include_cookies(),
        ),
        _ => LoggingProps::new(false, Link::from(""), "", false),
    };
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
    DistributionProps {
        comment: c.comment().to_string(),
        enabled: c.enabled(),
        aliases: set(c.aliases().map(|a| a.items().to_vec()).unwrap_or_default()),
        origins,
        default_behavior: c.default_cache_behavior().map(default_behavior_of),
        cache_behaviors,
        viewer_certificate,
        price_class: c.price_class().map(|p| PriceClass::as_str(p).to_string()),
        logging,
        geo_restriction: geo,
        http_version: c.http_version().map(|h| HttpVersion::as_str(h).to_string()),
        ipv6: c.is_ipv6_enabled(),
        web_acl_id: non_empty(c.web_acl_id()).map(Link::from),
        tags: tags.clone(),
    }
}
