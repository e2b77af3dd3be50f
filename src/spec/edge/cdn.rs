//! `[edge.cloudfront]` and `[edge.waf]`: the distribution's behaviours and TTLs, and the web
//! ACL in front of it.

use super::*;

/// `[edge.waf]`: it protects the distribution, so it needs `[edge.cloudfront]`; its logs go to
/// a log group in us-east-1 (where CloudFront-scoped WAF lives), which rtech keeps in the env's
/// region, so the env must be in us-east-1.
pub(super) fn validate_waf(
    errs: &mut Errors,
    raw: &Spanned<RawWaf>,
    has_cloudfront: bool,
    region: &str,
) -> Waf {
    let r = raw.get_ref();
    if !has_cloudfront {
        errs.push(
            raw.span(),
            "edge.waf",
            "the web ACL is attached to the CloudFront distribution: add [edge.cloudfront]",
        );
    } else if region != WAF_REGION {
        errs.push(
            raw.span(),
            "edge.waf",
            format!(
                "a CloudFront web ACL logs to a log group in {WAF_REGION}, and rtech keeps the env's log groups in its region ({region}): WAF needs an env in {WAF_REGION}"
            ),
        );
    }
    Waf {
        rate_limit_per_5min: int_in(
            errs,
            &r.rate_limit_per_5min,
            "edge.waf.rate_limit_per_5min",
            RATE_LIMIT_MIN..=RATE_LIMIT_MAX,
            2000,
        ),
        log_retention_days: crate::spec::monitoring::retention(
            errs,
            &r.log_retention_days,
            "edge.waf.log_retention_days",
            30,
        ),
    }
}

pub(super) fn validate_cloudfront(errs: &mut Errors, r: &RawCloudFront) -> CloudFront {
    let price_class = match &r.price_class {
        Some(p) => {
            if !PRICE_CLASSES.contains(&p.get_ref().as_str()) {
                errs.push(
                    p.span(),
                    "edge.cloudfront.price_class",
                    format!(
                        "{:?} is not a CloudFront price class ({})",
                        p.get_ref(),
                        PRICE_CLASSES.join(", ")
                    ),
                );
            }
            p.get_ref().clone()
        }
        None => "PriceClass_100".to_string(),
    };
    let mut invalidate_on_deploy: Vec<String> = vec![];
    for p in r.invalidate_on_deploy.iter().flatten() {
        match crate::cli::invalidation_path(p.get_ref()) {
            Ok(path) if !invalidate_on_deploy.contains(&path) => invalidate_on_deploy.push(path),
            Ok(_) => {}
            Err(why) => errs.push(p.span(), "edge.cloudfront.invalidate_on_deploy", why),
        }
    }
    CloudFront {
        price_class,
        invalidate_on_deploy,
        logging: flag(&r.logging, false),
        logs_expire_days: int_in(
            errs,
            &r.logs_expire_days,
            "edge.cloudfront.logs_expire_days",
            1..=3650,
            90,
        ),
        default_behavior: validate_ttl(
            errs,
            r.default_behavior.as_ref().map(Spanned::get_ref),
            "edge.cloudfront.default_behavior",
            Ttl {
                min: 0,
                default: 3600,
                max: 86400,
            },
        ),
        api_behavior: validate_ttl(
            errs,
            r.api_behavior.as_ref().map(Spanned::get_ref),
            "edge.cloudfront.api_behavior",
            Ttl {
                min: 0,
                default: 0,
                max: 0,
            },
        ),
    }
}

/// TTLs in 0..=MAX_TTL with min ≤ default ≤ max; an error is located at the first value the
/// spec gives that breaks the order.
fn validate_ttl(errs: &mut Errors, raw: Option<&RawTtl>, path: &str, default: Ttl) -> Ttl {
    let empty = RawTtl::default();
    let r = raw.unwrap_or(&empty);
    let mut field = |v: &Option<Spanned<i64>>, key: &str, d: i64| {
        int_in(errs, v, &format!("{path}.{key}"), 0..=MAX_TTL, d)
    };
    let ttl = Ttl {
        min: field(&r.min_ttl, "min_ttl", default.min),
        default: field(&r.default_ttl, "default_ttl", default.default),
        max: field(&r.max_ttl, "max_ttl", default.max),
    };
    let given = |v: &Option<Spanned<i64>>| v.as_ref().map(Spanned::span);
    if ttl.min > ttl.default {
        let (span, key) = match (given(&r.min_ttl), given(&r.default_ttl)) {
            (Some(s), _) => (s, "min_ttl"),
            (None, Some(s)) => (s, "default_ttl"),
            (None, None) => (0..0, "min_ttl"),
        };
        errs.push(
            span,
            &format!("{path}.{key}"),
            format!(
                "min_ttl ({}) is greater than default_ttl ({}): need min_ttl <= default_ttl <= max_ttl",
                ttl.min, ttl.default
            ),
        );
    } else if ttl.default > ttl.max {
        let (span, key) = match (given(&r.default_ttl), given(&r.max_ttl)) {
            (Some(s), _) => (s, "default_ttl"),
            (None, Some(s)) => (s, "max_ttl"),
            (None, None) => (0..0, "default_ttl"),
        };
        errs.push(
            span,
            &format!("{path}.{key}"),
            format!(
                "default_ttl ({}) is greater than max_ttl ({}): need min_ttl <= default_ttl <= max_ttl",
                ttl.default, ttl.max
            ),
        );
    }
    ttl
}
