//! The requests apply sends, built from the resolved [`DistributionProps`] (pure).

// The legacy cache settings are deprecated; see the module doc of `cdn`.
#![allow(deprecated)]

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CookiePreference,
    CustomHeaders, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, ForwardedValues,
    GeoRestriction, GeoRestrictionType, Headers, HttpVersion, ItemSelection, LoggingConfig, Method,
    MinimumProtocolVersion, Origin, OriginCustomHeader, OriginProtocolPolicy, OriginSslProtocols,
    Origins, PriceClass, Restrictions, SslProtocol, SslSupportMethod, Tag, Tags, ViewerCertificate,
    ViewerProtocolPolicy,
};
use sha2::{Digest, Sha256};

use super::props::{
    Behavior, CustomOrigin, DistributionProps, LoggingProps, OriginProps, ViewerCertificateProps,
};
use crate::aws::{AwsError, ErrorKind};
use crate::model::Resource;
use crate::reconcile::kit::{from_props, try_tag_list};

pub fn build_err(
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
            .min_ttl(b.min_ttl)
            .default_ttl(b.default_ttl)
            .max_ttl(b.max_ttl)
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

/// The origin's custom headers with their values (`values`: header name → value, read at
/// apply time; never in props).
fn sdk_headers(
    id: &str,
    o: &CustomOrigin,
    values: &BTreeMap<String, String>,
) -> Result<CustomHeaders, AwsError> {
    let items = o
        .custom_headers
        .keys()
        .map(|name| {
            let value = values.get(name).ok_or_else(|| {
                AwsError::new(
                    "cloudfront",
                    "InvalidRequest",
                    format!("origin {id}: no value for header {name}"),
                )
            })?;
            OriginCustomHeader::builder()
                .header_name(name)
                .header_value(value)
                .build()
                .map_err(build_err("origin custom header"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    CustomHeaders::builder()
        .quantity(items.len() as i32)
        .set_items((!items.is_empty()).then_some(items))
        .build()
        .map_err(build_err("origin custom headers"))
}

fn sdk_origin(
    id: &str,
    o: &OriginProps,
    values: &BTreeMap<String, String>,
) -> Result<Origin, AwsError> {
    let OriginProps::Custom(o) = o else {
        return Err(AwsError::new(
            "cloudfront",
            "InvalidRequest",
            format!("origin {id}: rtech manages custom origins only"),
        ));
    };
    let domain = o
        .domain_name
        .require(&format!("origins.{id}.domain_name"))?;
    Origin::builder()
        .id(id)
        .domain_name(domain)
        .custom_headers(sdk_headers(id, o, values)?)
        .origin_path("")
        .connection_attempts(3)
        .connection_timeout(10)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(o.http_port as i32)
                .https_port(o.https_port as i32)
                .origin_protocol_policy(OriginProtocolPolicy::from(o.protocol_policy.as_str()))
                .origin_ssl_protocols(
                    OriginSslProtocols::builder()
                        .quantity(o.ssl_protocols.len() as i32)
                        .set_items(Some(
                            o.ssl_protocols
                                .iter()
                                .map(|p| SslProtocol::from(p.as_str()))
                                .collect(),
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

fn sdk_viewer_certificate(v: &ViewerCertificateProps) -> Result<ViewerCertificate, AwsError> {
    Ok(match v {
        ViewerCertificateProps::Acm(c) => ViewerCertificate::builder()
            .acm_certificate_arn(
                c.acm_certificate_arn
                    .require("viewer_certificate.acm_certificate_arn")?,
            )
            .ssl_support_method(SslSupportMethod::from(
                c.ssl_support_method.as_deref().unwrap_or("sni-only"),
            ))
            .minimum_protocol_version(MinimumProtocolVersion::from(
                c.minimum_protocol_version
                    .as_deref()
                    .unwrap_or("TLSv1.2_2021"),
            ))
            .build(),
        _ => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    })
}

fn sdk_logging(l: &LoggingProps) -> Result<LoggingConfig, AwsError> {
    let (bucket, prefix) = match (&l.bucket, &l.prefix) {
        (Some(b), Some(p)) if l.enabled => (b.require("logging.bucket")?.to_string(), p.clone()),
        _ => (String::new(), String::new()),
    };
    Ok(LoggingConfig::builder()
        .enabled(l.enabled)
        .include_cookies(l.include_cookies == Some(true))
        .bucket(bucket)
        .prefix(prefix)
        .build())
}

/// `config` with every field rtech manages set from the resolved desired resource; fields
/// rtech does not manage (CallerReference, default root object, error responses…) are
/// kept. Pure: the create request starts from an empty config, the update from the live one.
pub fn apply_desired(
    mut config: DistributionConfig,
    r: &Resource,
    header_values: &BTreeMap<String, String>,
) -> Result<DistributionConfig, AwsError> {
    let p: DistributionProps = from_props(&r.props)?;
    config.aliases = Some(
        Aliases::builder()
            .quantity(p.aliases.len() as i32)
            .set_items(Some(p.aliases.clone()))
            .build()
            .map_err(build_err("aliases"))?,
    );
    let origins = p
        .origins
        .iter()
        .map(|(id, o)| sdk_origin(id, o, header_values))
        .collect::<Result<Vec<_>, _>>()?;
    config.origins = Some(
        Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build()
            .map_err(build_err("origins"))?,
    );
    let default = p.default_behavior.as_ref().ok_or_else(|| {
        AwsError::new("cloudfront", "InvalidRequest", "default_behavior: missing")
    })?;
    config.default_cache_behavior = Some(sdk_default_behavior(default)?);
    let behaviors = p
        .cache_behaviors
        .iter()
        .map(|(path, b)| sdk_cache_behavior(path, b))
        .collect::<Result<Vec<_>, _>>()?;
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
    config.comment = p.comment.clone();
    config.enabled = p.enabled;
    config.viewer_certificate = Some(sdk_viewer_certificate(&p.viewer_certificate)?);
    config.price_class = p.price_class.as_deref().map(PriceClass::from);
    config.logging = Some(sdk_logging(&p.logging)?);
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
        p.http_version.as_deref().unwrap_or("http2"),
    ));
    config.is_ipv6_enabled = Some(p.ipv6.unwrap_or(true));
    // WAFv2 takes the web ACL's ARN here; an empty string detaches it.
    config.web_acl_id = Some(match &p.web_acl_id {
        Some(arn) => arn.require("web_acl_id")?.to_string(),
        None => String::new(),
    });
    Ok(config)
}

/// The CallerReference: the env, a hash of the resolved config and the apply's nonce
/// (`Ctx::nonce`). The SDK's retry of a create whose response was lost repeats it with the same
/// config, which CloudFront answers with the distribution the first attempt made; a later
/// apply sends another, never one CloudFront still holds for a deleted distribution.
pub fn caller_reference(project: &str, env: &str, r: &Resource, nonce: u64) -> String {
    let json = serde_json::to_string(&r.props).expect("props serialise");
    let hash = hex::encode(&Sha256::digest(json.as_bytes())[..6]);
    format!("rtech-{project}-{env}-main-{hash}-{nonce:016x}")
}

/// The create request's config (pure).
pub fn create_config(
    caller_ref: &str,
    r: &Resource,
    header_values: &BTreeMap<String, String>,
) -> Result<DistributionConfig, AwsError> {
    let empty = DistributionConfig::builder()
        .caller_reference(caller_ref)
        .comment("")
        .enabled(true)
        .build()
        .map_err(build_err("distribution config"))?;
    apply_desired(empty, r, header_values)
}

pub fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Tags, AwsError> {
    let items = try_tag_list(tags, "cloudfront:TagResource", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

/// The live config, disabled (the first step of a delete). Pure.
pub fn disabled(mut config: DistributionConfig) -> DistributionConfig {
    config.enabled = false;
    config
}

/// Whether an UpdateDistribution failure is worth one re-read of the ETag and a retry: the
/// distribution changed meanwhile (`PreconditionFailed`, `InvalidIfMatchVersion`).
pub fn retry_update(e: &AwsError, attempt: u32) -> bool {
    attempt == 0 && e.kind() == ErrorKind::Conflict
}

/// A clearer message for AWS's answer to an alias another distribution holds.
pub fn explain(e: AwsError, aliases: &[String]) -> AwsError {
    if e.is("CNAMEAlreadyExists") {
        let m = format!(
            "one of the aliases {} is already used by another CloudFront distribution (perhaps in another account): remove it there first ({})",
            aliases.join(", "),
            e.message
        );
        return AwsError::new(e.op, e.code, m);
    }
    e
}
