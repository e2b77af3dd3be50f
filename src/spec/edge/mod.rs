//! `[edge]`: the public edge: the env's domain and its
//! Route 53 hosted zone and records, the ACM certificate, the Application Load Balancer with its
//! listeners and target-group weights, the optional CloudFront distribution and the optional
//! WAFv2 web ACL in front of it (`[edge.waf]`).
//!
//! Optional; it needs `[app]` (the ALB forwards to the app's target groups).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

mod cdn;

use cdn::{validate_cloudfront, validate_waf};

use crate::spec::data::{flag, int_in};
use crate::spec::Errors;
use crate::spec::Spanned;

/// The platform's domain.
pub const DEFAULT_DOMAIN: &str = "rtech.example.com";
/// The HTTPS listener's policy unless the spec says otherwise: TLS 1.3 and 1.2 only.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// The oldest policy accepted: TLS 1.2 minimum (ELBSecurityPolicy-TLS-1-2-2017-01).
pub const OLDEST_SSL_POLICY: &str = "ELBSecurityPolicy-TLS-1-2-2017-01";

/// The target-group colours a weight may name (`reconcile::elb::COLOURS`, which a unit test
/// keeps in step). `green` exists only with a canary or blue/green `[app.deploy]` strategy.
pub const COLOURS: &[&str] = &["blue", "green"];

/// The ELB security policies for HTTPS listeners, with the oldest TLS version each accepts
/// (10 = TLS 1.0, 11, 12, 13). Policies below TLS 1.2 are known, and refused.
pub const SSL_POLICIES: &[(&str, u8)] = &[
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", 12),
    ("ELBSecurityPolicy-TLS13-1-3-2021-06", 13),
    ("ELBSecurityPolicy-TLS13-1-1-2021-06", 11),
    ("ELBSecurityPolicy-TLS13-1-0-2021-06", 10),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04", 12),
    ("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", 13),
    ("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", 11),
    ("ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", 10),
    ("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", 13),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09", 12),
    ("ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09", 13),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", 12),
    ("ELBSecurityPolicy-FS-1-2-Res-2019-08", 12),
    ("ELBSecurityPolicy-FS-1-2-2019-08", 12),
    ("ELBSecurityPolicy-FS-1-1-2019-08", 11),
    ("ELBSecurityPolicy-FS-2018-06", 10),
    ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", 12),
    ("ELBSecurityPolicy-TLS-1-2-2017-01", 12),
    ("ELBSecurityPolicy-TLS-1-1-2017-01", 11),
    ("ELBSecurityPolicy-2016-08", 10),
    ("ELBSecurityPolicy-TLS-1-0-2015-04", 10),
    ("ELBSecurityPolicy-2015-05", 10),
];

/// CloudFront's price classes.
pub const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// CloudFront's largest TTL (seconds, 100 years).
pub const MAX_TTL: i64 = 3_153_600_000;

/// Whether rtech manages the hosted zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneMode {
    /// Found by name; never created or deleted by rtech.
    Existing,
    /// Created (and on destroy deleted) by rtech.
    Create,
}

/// How the `www` and `api` names point at the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStyle {
    /// `CNAME` to the apex (the platform's DNS layout).
    Cname,
    /// `A`/`AAAA` alias records to the apex's target.
    Alias,
    /// No record.
    None,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEdge {
    /// The apex DNS name, lowercase, no trailing dot, at most 249 characters (default
    /// `rtech.example.com`). The certificate covers it, `www.` and `api.`.
    pub domain: Option<Spanned<String>>,
    /// The Route 53 hosted zone's name: the domain or one of its parents (default the domain).
    pub zone: Option<Spanned<String>>,
    /// Whether rtech manages the hosted zone (default `existing`).
    pub hosted_zone: Option<Spanned<ZoneMode>>,
    /// The record for `www.<domain>` (default `cname`).
    pub www: Option<Spanned<RecordStyle>>,
    /// The record for `api.<domain>` (default `cname`).
    pub api: Option<Spanned<RecordStyle>>,
    /// The HTTPS listener's ELB security policy (default `ELBSecurityPolicy-TLS13-1-2-2021-06`);
    /// policies accepting TLS 1.0 or 1.1 are refused.
    #[schemars(with = "Option<crate::spec::schema::SslPolicy>")]
    pub ssl_policy: Option<Spanned<String>>,
    /// How long apply waits for the ACM certificate to be ISSUED (1–7200; default 1800).
    pub certificate_timeout_seconds: Option<Spanned<i64>>,
    /// `[edge.alb]`: the Application Load Balancer's settings.
    pub alb: Option<Spanned<RawAlb>>,
    /// `[edge.weights]`: forward weights per target-group colour (`blue`, `green`), percent
    /// (0–100), summing to 100 (default `blue = 100`); `green` only with a `canary` or `blue_green`
    /// strategy.
    pub weights: Option<Spanned<BTreeMap<String, Spanned<i64>>>>,
    /// `[edge.cloudfront]`: a CloudFront distribution in front of the ALB (without it the apex
    /// points at the ALB).
    pub cloudfront: Option<Spanned<RawCloudFront>>,
    /// `[edge.waf]`: a WAFv2 web ACL on the distribution (needs `[edge.cloudfront]` and us-east-1).
    pub waf: Option<Spanned<RawWaf>>,
    /// Destroy (or a replace) may empty and delete the access-log buckets while they hold logs
    /// (default false).
    pub log_buckets_force_delete: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWaf {
    /// Requests a client IP may make in 5 minutes before the `rate-limit` rule blocks it
    /// (10–2000000000; default 2000).
    pub rate_limit_per_5min: Option<Spanned<i64>>,
    /// Days the log group `aws-waf-logs-{project}-{env}` keeps events: a CloudWatch Logs retention
    /// value (default 30).
    pub log_retention_days: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlb {
    /// Seconds an idle connection stays open (1–4000; default 60).
    pub idle_timeout_seconds: Option<Spanned<i64>>,
    /// HTTP/2 (default true).
    pub http2: Option<Spanned<bool>>,
    /// Drop header fields that are not valid HTTP (default true).
    pub drop_invalid_header_fields: Option<Spanned<bool>>,
    /// The load balancer cannot be deleted while on (default false).
    pub deletion_protection: Option<Spanned<bool>>,
    /// Access logs to an S3 bucket of the env's (default false).
    pub access_logs: Option<Spanned<bool>>,
    /// The log bucket's lifecycle expiry, days (1–3650; default 90).
    pub access_logs_expire_days: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCloudFront {
    /// `PriceClass_100`, `PriceClass_200` or `PriceClass_All` (default `PriceClass_100`).
    #[schemars(with = "Option<crate::spec::schema::PriceClass>")]
    pub price_class: Option<Spanned<String>>,
    /// Standard logs to an S3 bucket of the env's (default false).
    pub logging: Option<Spanned<bool>>,
    /// The log bucket's lifecycle expiry, days (1–3650; default 90).
    pub logs_expire_days: Option<Spanned<i64>>,
    /// `[edge.cloudfront.default_behavior]`: the default behaviour's TTLs (default 0/3600/86400).
    pub default_behavior: Option<Spanned<RawTtl>>,
    /// `[edge.cloudfront.api_behavior]`: the `/api/*` behaviour's TTLs (default 0/0/0).
    pub api_behavior: Option<Spanned<RawTtl>>,
    /// Paths a successful `rtech deploy` invalidates, e.g. `["/*"]` (default none).
    pub invalidate_on_deploy: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTtl {
    /// Seconds (0–3153600000), at most `default_ttl`.
    pub min_ttl: Option<Spanned<i64>>,
    /// Seconds (0–3153600000), between `min_ttl` and `max_ttl`.
    pub default_ttl: Option<Spanned<i64>>,
    /// Seconds (0–3153600000), at least `default_ttl`.
    pub max_ttl: Option<Spanned<i64>>,
}

/// The validated edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The apex name (`rtech.example.com`), lowercase, without a trailing dot.
    pub domain: String,
    /// The hosted zone's name: the domain itself or one of its parents.
    pub zone: String,
    pub hosted_zone: ZoneMode,
    pub www: RecordStyle,
    pub api: RecordStyle,
    /// The HTTPS listener's security policy.
    pub ssl_policy: String,
    /// How long apply waits for a certificate to be ISSUED.
    pub certificate_timeout_seconds: i64,
    pub alb: Alb,
    /// Forward weights by colour, summing to 100: the HTTPS listener's default action with a
    /// rolling deployment strategy; with canary or blue/green, the production listener rule's
    /// weights when rtech creates it (ECS owns them afterwards), the default action then
    /// forwarding to blue alone.
    pub weights: BTreeMap<String, i64>,
    /// The CloudFront distribution, when the spec has `[edge.cloudfront]`.
    pub cloudfront: Option<CloudFront>,
    /// The WAFv2 web ACL attached to the distribution, when the spec has `[edge.waf]`.
    pub waf: Option<Waf>,
    /// Whether destroy (or turning logging off) may delete the access-log buckets while they
    /// still hold logs: the buckets carry it as the tag `rtech:force-delete`, since destroy has
    /// no spec. Off by default: logs are evidence.
    pub log_buckets_force_delete: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alb {
    pub idle_timeout_seconds: i64,
    pub http2: bool,
    pub drop_invalid_header_fields: bool,
    /// While on, AWS refuses to delete the load balancer.
    pub deletion_protection: bool,
    /// Access logs to an S3 bucket of ours.
    pub access_logs: bool,
    /// Lifecycle expiry of the access-log bucket's objects.
    pub access_logs_expire_days: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloudFront {
    pub price_class: String,
    /// Standard logging to an S3 bucket of ours.
    pub logging: bool,
    pub logs_expire_days: i64,
    /// The default behaviour's TTLs (default 0/3600/86400 s).
    pub default_behavior: Ttl,
    /// The `/api/*` behaviour's TTLs (default 0/0/0: the API is never cached).
    pub api_behavior: Ttl,
    /// Paths a successful `rtech deploy` invalidates (default none).
    pub invalidate_on_deploy: Vec<String>,
}

/// The web ACL: AWS's managed rule groups and a rate-based rule per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waf {
    /// Requests one IP may send in 5 minutes before the rate-based rule blocks it.
    pub rate_limit_per_5min: i64,
    /// Retention of the WAF log group (`aws-waf-logs-{project}-{env}`).
    pub log_retention_days: i64,
}

/// The rate-based rule's limit: AWS takes 10 to 2,000,000,000 requests per evaluation window.
pub const RATE_LIMIT_MIN: i64 = 10;
pub const RATE_LIMIT_MAX: i64 = 2_000_000_000;

/// The region of every CloudFront-scoped WAF resource, and of the log group its logs go to.
pub const WAF_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    pub min: i64,
    pub default: i64,
    pub max: i64,
}

/// Why `s` is not a DNS name rtech can use as a domain, or None when it is one: 2 to 127
/// labels of 1–63 lowercase letters, digits and inner hyphens, at most 253 characters, no
/// trailing dot, a top-level label that is not all digits.
pub fn dns_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("must not be empty".into());
    }
    if s.ends_with('.') {
        return Some(format!(
            "{s:?}: give the name without the trailing dot ({:?})",
            s.trim_end_matches('.')
        ));
    }
    if s.len() > 253 {
        return Some(format!("{s:?} is longer than 253 characters"));
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Some(format!(
            "{s:?} must be lowercase ({:?})",
            s.to_ascii_lowercase()
        ));
    }
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return Some(format!(
            "{s:?} is not a domain name: it needs at least two labels (e.g. rtech.example.com)"
        ));
    }
    for l in &labels {
        if l.is_empty() {
            return Some(format!("{s:?} has an empty label (two dots in a row)"));
        }
        if l.len() > 63 {
            return Some(format!(
                "{s:?}: the label {l:?} is longer than 63 characters"
            ));
        }
        if !l
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Some(format!(
                "{s:?}: the label {l:?} may hold only letters, digits and hyphens"
            ));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Some(format!(
                "{s:?}: the label {l:?} must not start or end with a hyphen"
            ));
        }
    }
    if labels[labels.len() - 1].chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("{s:?} is not a domain name (it ends in a number)"));
    }
    None
}

/// The oldest TLS version (10, 11, 12, 13) a known ELB security policy accepts.
pub fn ssl_policy_min_tls(name: &str) -> Option<u8> {
    SSL_POLICIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

fn tls(v: u8) -> String {
    format!("TLS 1.{}", v - 10)
}

pub(super) fn validate_edge(
    errs: &mut Errors,
    raw: &Spanned<RawEdge>,
    has_app: bool,
    region: &str,
) -> Edge {
    let r = raw.get_ref();
    if !has_app {
        errs.push(
            raw.span(),
            "edge",
            "the edge needs an [app] section: the load balancer forwards to the app's target group",
        );
    }
    let domain = match &r.domain {
        Some(d) => {
            if let Some(m) = dns_name_problem(d.get_ref()) {
                errs.push(d.span(), "edge.domain", m);
            } else if d.get_ref().len() > 253 - "www.".len() {
                errs.push(
                    d.span(),
                    "edge.domain",
                    "too long for its www. and api. names (at most 249 characters)",
                );
            }
            d.get_ref().clone()
        }
        None => DEFAULT_DOMAIN.to_string(),
    };
    let zone = match &r.zone {
        Some(z) => {
            let s = z.get_ref();
            if let Some(m) = dns_name_problem(s) {
                errs.push(z.span(), "edge.zone", m);
            } else if s != &domain && !domain.ends_with(&format!(".{s}")) {
                errs.push(
                    z.span(),
                    "edge.zone",
                    format!(
                        "{s:?} does not hold the domain {domain:?}: the zone is the domain or one of its parents"
                    ),
                );
            }
            s.clone()
        }
        None => domain.clone(),
    };
    let ssl_policy = match &r.ssl_policy {
        Some(p) => {
            let s = p.get_ref();
            match ssl_policy_min_tls(s) {
                None => errs.push(
                    p.span(),
                    "edge.ssl_policy",
                    format!(
                        "{s:?} is not an ELB security policy (e.g. {DEFAULT_SSL_POLICY:?}, the default; the oldest accepted is {OLDEST_SSL_POLICY:?})"
                    ),
                ),
                Some(v) if v < 12 => errs.push(
                    p.span(),
                    "edge.ssl_policy",
                    format!(
                        "{s:?} accepts {}: the oldest policy accepted is {OLDEST_SSL_POLICY:?} (TLS 1.2 and newer)",
                        tls(v)
                    ),
                ),
                Some(_) => {}
            }
            s.clone()
        }
        None => DEFAULT_SSL_POLICY.to_string(),
    };
    let certificate_timeout_seconds = int_in(
        errs,
        &r.certificate_timeout_seconds,
        "edge.certificate_timeout_seconds",
        1..=7200,
        1800,
    );
    let alb = validate_alb(errs, r.alb.as_ref().map(Spanned::get_ref));
    let weights = validate_weights(errs, r.weights.as_ref());
    let cloudfront = r
        .cloudfront
        .as_ref()
        .map(|c| validate_cloudfront(errs, c.get_ref()));
    let waf = r
        .waf
        .as_ref()
        .map(|w| validate_waf(errs, w, cloudfront.is_some(), region));
    Edge {
        domain,
        zone,
        hosted_zone: r
            .hosted_zone
            .as_ref()
            .map(|z| *z.get_ref())
            .unwrap_or(ZoneMode::Existing),
        www: r
            .www
            .as_ref()
            .map(|w| *w.get_ref())
            .unwrap_or(RecordStyle::Cname),
        api: r
            .api
            .as_ref()
            .map(|w| *w.get_ref())
            .unwrap_or(RecordStyle::Cname),
        ssl_policy,
        certificate_timeout_seconds,
        alb,
        weights,
        cloudfront,
        waf,
        log_buckets_force_delete: flag(&r.log_buckets_force_delete, false),
    }
}

fn validate_alb(errs: &mut Errors, raw: Option<&RawAlb>) -> Alb {
    let empty = RawAlb::default();
    let r = raw.unwrap_or(&empty);
    Alb {
        idle_timeout_seconds: int_in(
            errs,
            &r.idle_timeout_seconds,
            "edge.alb.idle_timeout_seconds",
            1..=4000,
            60,
        ),
        http2: flag(&r.http2, true),
        drop_invalid_header_fields: flag(&r.drop_invalid_header_fields, true),
        deletion_protection: flag(&r.deletion_protection, false),
        access_logs: flag(&r.access_logs, false),
        access_logs_expire_days: int_in(
            errs,
            &r.access_logs_expire_days,
            "edge.alb.access_logs_expire_days",
            1..=3650,
            90,
        ),
    }
}

fn validate_weights(
    errs: &mut Errors,
    raw: Option<&Spanned<BTreeMap<String, Spanned<i64>>>>,
) -> BTreeMap<String, i64> {
    let Some(raw) = raw else {
        return BTreeMap::from([(COLOURS[0].to_string(), 100)]);
    };
    let mut out = BTreeMap::new();
    let mut all_valid = true;
    for (colour, w) in raw.get_ref() {
        let path = format!("edge.weights.{colour}");
        if !COLOURS.contains(&colour.as_str()) {
            errs.push(
                w.span(),
                &path,
                format!(
                    "{colour:?} is not a target group colour ({})",
                    COLOURS.join(", ")
                ),
            );
            all_valid = false;
        } else if !(0..=100).contains(w.get_ref()) {
            errs.push(
                w.span(),
                &path,
                format!("{} is out of range: 0 to 100 (percent)", w.get_ref()),
            );
            all_valid = false;
        }
        out.insert(colour.clone(), *w.get_ref());
    }
    let sum: i64 = out.values().sum();
    if all_valid && sum != 100 {
        let listed = out
            .iter()
            .map(|(c, w)| format!("{c} = {w}"))
            .collect::<Vec<_>>()
            .join(", ");
        errs.push(
            raw.span(),
            "edge.weights",
            if out.is_empty() {
                "no weights: give each target group colour a percent, summing to 100 (e.g. blue = 100)".to_string()
            } else {
                format!("the weights sum to {sum} ({listed}), not 100")
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for ok in [
            "rtech.example.com",
            "a.io",
            "x-1.example.co.uk",
            "123.example.com",
        ] {
            assert_eq!(dns_name_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("localhost", "two labels"),
            ("rtech..example.com", "empty label"),
            ("-rtech.example.com", "hyphen"),
            ("rtech-.example.com", "hyphen"),
            ("rtech_app.example.com", "letters, digits and hyphens"),
            ("Rtech.example.com", "lowercase"),
            ("rtech.example.com.", "trailing dot"),
            ("10.0.0.1", "number"),
            ("https://rtech.example.com", "letters, digits"),
        ] {
            let m = dns_name_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(m.contains(why), "{bad:?}: {m}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(dns_name_problem(&long_label).unwrap().contains("63"));
        let long = format!("{}com", "abcdefghi.".repeat(26));
        assert!(dns_name_problem(&long).unwrap().contains("253"));
    }

    #[test]
    fn ssl_policy_table() {
        assert_eq!(ssl_policy_min_tls(DEFAULT_SSL_POLICY), Some(12));
        assert_eq!(ssl_policy_min_tls(OLDEST_SSL_POLICY), Some(12));
        assert_eq!(ssl_policy_min_tls("ELBSecurityPolicy-2016-08"), Some(10));
        assert_eq!(
            ssl_policy_min_tls("elbsecuritypolicy-tls-1-2-2017-01"),
            None
        );
        let mut names: Vec<&str> = SSL_POLICIES.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SSL_POLICIES.len(), "no policy listed twice");
    }

    #[test]
    fn weight_colours_follow_the_target_groups() {
        assert_eq!(COLOURS, crate::reconcile::elb::COLOURS);
    }
}
