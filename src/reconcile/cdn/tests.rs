//! CloudFront: expansion, the normalisation observe does (through the real diff, with SDK
//! types built by their builders), ownership, the requests apply sends, the delete decisions
//! with AWS errors the emulator never raises, and invalidation paths.

// The legacy cache settings (ForwardedValues, TTLs) are deprecated; see the module doc.
#![allow(deprecated)]

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehaviors, CachedMethods, CookiePreference, DistributionConfig,
    ForwardedValues, GeoRestrictionType, Headers, HttpVersion, ItemSelection, LoggingConfig,
    Method, MinimumProtocolVersion, Origin, OriginProtocolPolicy, PriceClass, S3OriginConfig,
    SslProtocol, SslSupportMethod,
};

use super::invalidate::*;
use super::props::{distribution_props, set, Behavior, DistributionProps};
use super::request::*;
use super::wait::*;
use super::*;
use crate::model::{tags_of, Props, Ref, Value, TAG_ENV, TAG_ID};
use crate::plan::{Action, Plan};
use crate::spec::edge::Ttl;
use crate::testutil::{diff_of, parse_as};

const DNS: &str = "rtech-dev-alb-123.us-east-1.elb.amazonaws.com";
const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
const CF_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/cf";
const LOGS: &str = "rtech-dev-cf-logs.s3.amazonaws.com";
const ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E1";

fn spec_with(region: &str, cloudfront: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"{region}\"\n\n[network]\ncidr = \"10.0.0.0/16\"\naz_count = 2\n\n[ecr]\n[app]\n[edge]\ndomain = \"rtech.example.com\"\n{cloudfront}"
    );
    parse_as("dev", &text)
}

/// A list compared as a set, as the plan holds it.
fn set_v<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::List(set(items).into_iter().map(Value::Str).collect())
}

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A behaviour from the plan's props.
fn behavior(v: &Value) -> Behavior {
    let p: Props = v.as_map().unwrap().clone();
    from_props(&p).unwrap()
}

/// A live config → the compared properties without tags.
fn normalise(c: &DistributionConfig) -> Props {
    let mut p = to_props(&distribution_props(c, &BTreeMap::new()));
    p.remove("tags");
    p
}

fn seed() -> Spec {
    spec_with("us-east-1", "[edge.cloudfront]\n")
}

fn dist(spec: &Spec) -> Resource {
    let rs = expand(spec);
    assert_eq!(rs.len(), 1);
    rs[0].clone()
}

/// The origin header's value in these tests: it must never reach props or a plan.
const HEADER_VALUE: &str = "Zq7origin0header0value0that0must0never0be0printed";

fn headers() -> BTreeMap<String, String> {
    BTreeMap::from([(
        crate::reconcile::secrets::ORIGIN_HEADER.to_string(),
        HEADER_VALUE.to_string(),
    )])
}

fn lookup(r: &Ref) -> Option<String> {
    if (r.resource.to_string().as_str(), r.attr.as_str())
        == ("secret/origin-header", "generated_id")
    {
        return Some(crate::reconcile::secrets::marker(HEADER_VALUE));
    }
    Some(
        match (r.resource.to_string().as_str(), r.attr.as_str()) {
            ("load_balancer/main", "dns_name") => DNS,
            ("certificate_validation/main", "arn") => CERT,
            ("certificate_validation/cloudfront", "arn") => CF_CERT,
            ("s3_bucket/cf-logs", "domain_name") => LOGS,
            other => panic!("unexpected reference {other:?}"),
        }
        .to_string(),
    )
}

/// The desired resource with its references resolved, as apply gets it.
fn resolved(r: &Resource) -> Resource {
    crate::testutil::resolved_with(r, &lookup)
}

fn summary(id: &str, comment_: &str, aliases: &[&str]) -> Summary {
    Summary {
        id: id.into(),
        arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
        domain_name: format!("{}.cloudfront.net", id.to_lowercase()),
        status: "Deployed".into(),
        enabled: true,
        comment: comment_.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
    }
}

fn our_tags(spec: &Spec) -> BTreeMap<String, String> {
    tags_of(&dist(spec).props)
}

/// What AWS would hold after creating `r` (resolved): the create request's config.
fn live_config(r: &Resource) -> DistributionConfig {
    create_config("rtech-rtech-dev-main-x", &resolved(r), &headers()).unwrap()
}

fn observed_of(spec: &Spec, config: &DistributionConfig) -> Observed {
    observed(
        distribution_id(),
        &summary("E1", &comment("rtech", "dev"), &[]),
        config,
        &our_tags(spec),
    )
}

/// The referenced resources, live (so references resolve in the diff).
fn neighbours() -> Vec<Observed> {
    let mut out = vec![];
    for (id, attr, v) in [
        ("load_balancer/main", "dns_name", DNS),
        ("certificate_validation/main", "arn", CERT),
        ("certificate_validation/cloudfront", "arn", CF_CERT),
        ("s3_bucket/cf-logs", "domain_name", LOGS),
    ] {
        let mut o = Observed::new(id.parse().unwrap(), "x");
        o.attrs.insert(attr.into(), v.into());
        out.push(o);
    }
    let mut secret = Observed::new("secret/origin-header".parse().unwrap(), "x");
    secret.attrs.insert(
        "generated_id".into(),
        crate::reconcile::secrets::marker(HEADER_VALUE),
    );
    out.push(secret);
    out.push(
        Observed::new("listener_rule/production".parse().unwrap(), "x").attr("arn", "rule-arn"),
    );
    out
}

fn plan_of(desired: &[Resource], observed: Vec<Observed>) -> Plan {
    let mut all = neighbours();
    all.extend(observed);
    let mut plan = diff_of("dev", desired, &all, false);
    plan.changes.retain(|c| c.id.kind == DISTRIBUTION);
    plan
}

fn paths(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .flat_map(|c| c.fields.iter().map(|f| f.path.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// expand

#[test]
fn no_distribution_without_edge_cloudfront() {
    assert!(expand(&spec_with("us-east-1", "")).is_empty());
}

#[test]
fn expand_follows_the_seed() {
    let r = dist(&seed());
    assert_eq!(r.id.to_string(), DISTRIBUTION_ID);
    assert_eq!(r.name, "rtech-dev-cdn");
    assert_eq!(
        r.props["aliases"],
        set_v(["rtech.example.com", "www.rtech.example.com"])
    );
    assert_eq!(
        r.get_str("comment"),
        Some("rtech rtech-dev distribution/main")
    );
    assert_eq!(r.get_str("price_class"), Some("PriceClass_100"));
    assert_eq!(r.get_str("http_version"), Some("http2"));
    assert_eq!(r.props["ipv6"], Value::Bool(true));
    assert_eq!(r.get_str("geo_restriction"), Some("none"));
    let origin = r.props["origins"].as_map().unwrap()["alb"]
        .as_map()
        .unwrap();
    assert_eq!(
        origin["domain_name"],
        Value::reference(&ResourceId::new("load_balancer", "main"), "dns_name")
    );
    assert_eq!(origin["protocol_policy"], Value::str("https-only"));
    assert_eq!(origin["ssl_protocols"], set_v(["TLSv1.2"]));
    assert_eq!(
        (&origin["http_port"], &origin["https_port"]),
        (&Value::Int(80), &Value::Int(443))
    );
    let d = behavior(&r.props["default_behavior"]);
    assert_eq!(
        d.ttl(),
        Ttl {
            min: 0,
            default: 3600,
            max: 86400
        }
    );
    assert_eq!(d.viewer_protocol_policy, "redirect-to-https");
    assert_eq!(d.allowed_methods, ["GET", "HEAD", "OPTIONS"]);
    assert_eq!(d.cached_methods, ["GET", "HEAD"]);
    assert_eq!(d.headers, ["Accept", "Accept-Encoding", "Host", "Origin"]);
    assert!(d.query_string && d.compress);
    assert_eq!(d.cookies, "none");
    let api = behavior(&r.props["cache_behaviors"].as_map().unwrap()[API_PATH]);
    assert_eq!(
        api.ttl(),
        Ttl {
            min: 0,
            default: 0,
            max: 0
        }
    );
    assert_eq!(api.allowed_methods.len(), 7);
    assert_eq!(api.headers, ["*"]);
    assert_eq!(api.viewer_protocol_policy, "https-only");
    let vc = r.props["viewer_certificate"].as_map().unwrap();
    assert_eq!(vc["minimum_protocol_version"], Value::str("TLSv1.2_2021"));
    assert_eq!(vc["ssl_support_method"], Value::str("sni-only"));
    assert_eq!(r.props["logging"], map([("enabled", Value::Bool(false))]));
    let t = tags_of(&r.props);
    assert_eq!(t[TAG_ID], DISTRIBUTION_ID);
    assert_eq!(t[TAG_ENV], "dev");
    // Depends on the load balancer and the certificate; not on a log bucket with logging off.
    let deps: Vec<String> = r.deps.iter().map(ToString::to_string).collect();
    assert_eq!(
        deps,
        [
            "certificate_validation/main",
            "listener_rule/production",
            "load_balancer/main",
            "secret/origin-header"
        ]
    );
    // The origin header by its secret's marker, never a value.
    let origin = r.props["origins"].as_map().unwrap()["alb"]
        .as_map()
        .unwrap();
    assert_eq!(
        origin["custom_headers"],
        map([(
            "X-Origin-Verify",
            Value::reference(&"secret/origin-header".parse().unwrap(), "generated_id")
        )])
    );
}

#[test]
fn ttls_price_class_and_logging_come_from_the_spec() {
    let r = dist(&spec_with(
        "us-east-1",
        "[edge.cloudfront]\nprice_class = \"PriceClass_All\"\nlogging = true\n[edge.cloudfront.default_behavior]\nmin_ttl = 5\ndefault_ttl = 60\nmax_ttl = 600\n[edge.cloudfront.api_behavior]\nmax_ttl = 10\n",
    ));
    assert_eq!(r.get_str("price_class"), Some("PriceClass_All"));
    assert_eq!(
        behavior(&r.props["default_behavior"]).ttl(),
        Ttl {
            min: 5,
            default: 60,
            max: 600
        }
    );
    assert_eq!(
        behavior(&r.props["cache_behaviors"].as_map().unwrap()[API_PATH]).ttl(),
        Ttl {
            min: 0,
            default: 0,
            max: 10
        }
    );
    let l = r.props["logging"].as_map().unwrap();
    assert_eq!(l["enabled"], Value::Bool(true));
    assert_eq!(
        l["bucket"],
        Value::reference(&ResourceId::new("s3_bucket", "cf-logs"), "domain_name")
    );
    assert_eq!(l["prefix"], Value::str(LOG_PREFIX));
    assert!(r.deps.contains(&log_bucket_id()));
}

#[test]
fn the_certificate_comes_from_us_east_1() {
    let arn = |spec: &Spec| {
        dist(spec).props["viewer_certificate"].as_map().unwrap()["acm_certificate_arn"].clone()
    };
    assert_eq!(
        arn(&seed()),
        Value::reference(&ResourceId::new("certificate_validation", "main"), "arn")
    );
    let eu = spec_with("eu-west-1", "[edge.cloudfront]\n");
    assert_eq!(
        arn(&eu),
        Value::reference(
            &ResourceId::new("certificate_validation", "cloudfront"),
            "arn"
        )
    );
    assert!(dist(&eu)
        .deps
        .contains(&ResourceId::new("certificate_validation", "cloudfront")));
}

// ---------------------------------------------------------------------------------------------
// normalisation

#[test]
fn what_apply_creates_observes_as_no_change() {
    for spec in [
        seed(),
        spec_with("eu-west-1", "[edge.cloudfront]\nlogging = true\n"),
    ] {
        let r = dist(&spec);
        let plan = plan_of(
            std::slice::from_ref(&r),
            vec![observed_of(&spec, &live_config(&r))],
        );
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
        assert_eq!(normalise(&live_config(&r)), {
            let mut p = resolved(&r).props;
            p.remove("tags");
            p
        });
    }
}

fn shuffled_methods(items: &[&str]) -> Vec<Method> {
    items.iter().rev().map(|m| Method::from(*m)).collect()
}

/// The same config as AWS might report it: every list in another order, server defaults
/// filled in (cloudfront default certificate flag, empty origin path, field-level encryption).
fn shuffled(r: &Resource) -> DistributionConfig {
    let r = resolved(r);
    let mut c = create_config("x", &r, &headers()).unwrap();
    let mut aliases = from_props::<DistributionProps>(&r.props).unwrap().aliases;
    aliases.reverse();
    c.aliases = Some(
        Aliases::builder()
            .quantity(2)
            .set_items(Some(aliases))
            .build()
            .unwrap(),
    );
    let mut d = c.default_cache_behavior.take().unwrap();
    d.allowed_methods = Some(
        AllowedMethods::builder()
            .quantity(3)
            .set_items(Some(shuffled_methods(&["GET", "HEAD", "OPTIONS"])))
            .cached_methods(
                CachedMethods::builder()
                    .quantity(2)
                    .set_items(Some(shuffled_methods(&["GET", "HEAD"])))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    d.forwarded_values = Some(
        ForwardedValues::builder()
            .query_string(true)
            .headers(
                Headers::builder()
                    .quantity(4)
                    .items("Origin")
                    .items("Host")
                    .items("Accept")
                    .items("Accept-Encoding")
                    .build()
                    .unwrap(),
            )
            .cookies(
                CookiePreference::builder()
                    .forward(ItemSelection::None)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    d.field_level_encryption_id = Some(String::new());
    c.default_cache_behavior = Some(d);
    let mut cbs = c.cache_behaviors.take().unwrap();
    if let Some(items) = cbs.items.as_mut() {
        for b in items.iter_mut() {
            let mut m = b.allowed_methods.clone().unwrap();
            m.items.reverse();
            b.allowed_methods = Some(m);
        }
    }
    c.cache_behaviors = Some(cbs);
    if let Some(vc) = c.viewer_certificate.as_mut() {
        vc.cloud_front_default_certificate = Some(true);
    }
    c
}

#[test]
fn lists_compare_as_sets() {
    let spec = seed();
    let r = dist(&spec);
    let plan = plan_of(
        std::slice::from_ref(&r),
        vec![observed_of(&spec, &shuffled(&r))],
    );
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    // And a header really missing is drift.
    let mut c = shuffled(&r);
    let d = c.default_cache_behavior.as_mut().unwrap();
    d.forwarded_values = Some(
        ForwardedValues::builder()
            .query_string(true)
            .headers(
                Headers::builder()
                    .quantity(1)
                    .items("Origin")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    let plan = plan_of(std::slice::from_ref(&r), vec![observed_of(&spec, &c)]);
    assert_eq!(paths(&plan), ["default_behavior.headers"]);
}

#[test]
fn out_of_band_changes_show_as_exactly_that_drift() {
    let spec = seed();
    let r = dist(&spec);
    // The /api/* TTLs raised and an alias added.
    let mut c = live_config(&r);
    let cbs = c.cache_behaviors.as_mut().unwrap();
    let api = &mut cbs.items.as_mut().unwrap()[0];
    api.default_ttl = Some(60);
    api.max_ttl = Some(3600);
    let a = c.aliases.as_mut().unwrap();
    a.items
        .as_mut()
        .unwrap()
        .push("static.rtech.example.com".into());
    a.quantity = 3;
    let plan = plan_of(std::slice::from_ref(&r), vec![observed_of(&spec, &c)]);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(
        paths(&plan),
        [
            "aliases",
            "cache_behaviors./api/*.default_ttl",
            "cache_behaviors./api/*.max_ttl"
        ]
    );
    // Another origin, and the /api/* behaviour deleted.
    let mut c = live_config(&r);
    c.cache_behaviors = Some(CacheBehaviors::builder().quantity(0).build().unwrap());
    let mut origins = c.origins.clone().unwrap();
    origins.items.push(
        Origin::builder()
            .id("s3")
            .domain_name("b.s3.amazonaws.com")
            .s3_origin_config(S3OriginConfig::builder().build())
            .build()
            .unwrap(),
    );
    c.origins = Some(origins);
    let plan = plan_of(std::slice::from_ref(&r), vec![observed_of(&spec, &c)]);
    let got = paths(&plan);
    assert!(
        got.iter()
            .all(|p| p.starts_with("cache_behaviors./api/*.") || p.starts_with("origins.s3.")),
        "{got:?}"
    );
    assert!(got.contains(&"cache_behaviors./api/*.max_ttl".to_string()));
    assert!(got.contains(&"origins.s3.domain_name".to_string()));
    assert!(!got.iter().any(|p| p.starts_with("origins.alb")), "{got:?}");
}

#[test]
fn logging_off_compares_equal_whatever_aws_leaves_in_the_bucket_field() {
    let mut c = live_config(&dist(&seed()));
    c.logging = Some(
        LoggingConfig::builder()
            .enabled(false)
            .include_cookies(false)
            .bucket("old.s3.amazonaws.com")
            .prefix("x/")
            .build(),
    );
    assert_eq!(
        normalise(&c)["logging"],
        map([("enabled", Value::Bool(false))])
    );
}

// ---------------------------------------------------------------------------------------------
// ownership

#[test]
fn candidates_by_comment_alias_or_zone() {
    let ours = comment("rtech", "dev");
    let all = vec![
        summary("E1", &ours, &[]),
        summary("E2", "someone", &["rtech.example.com"]),
        summary("E3", "someone", &["other.example.org"]),
        summary("E4", "someone", &["cdn.rtech.example.com"]),
    ];
    let aliases = vec!["rtech.example.com".to_string()];
    let ids = |v: Vec<&Summary>| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(candidates(&all, &ours, &aliases, Some("example.com"))),
        ["E1", "E2"]
    );
    // Without a spec (destroy, invalidate): by comment, or an alias in the env's zone.
    assert_eq!(
        ids(candidates(&all, &ours, &[], Some("rtech.example.com"))),
        ["E1", "E2", "E4"]
    );
    assert_eq!(ids(candidates(&all, &ours, &[], None)), ["E1"]);
}

#[test]
fn ours_by_tags_foreign_by_alias_duplicates_deleted() {
    let spec = seed();
    let ours = our_tags(&spec);
    let mut other_env = ours.clone();
    other_env.insert(TAG_ENV.into(), "prod".into());
    let c = comment("rtech", "dev");
    let e1 = summary("E1", &c, &["rtech.example.com"]);
    let e2 = summary("E2", &c, &[]);
    let e3 = summary("E3", "theirs", &["www.rtech.example.com"]);
    let e4 = summary("E4", &c, &[]);
    let aliases = vec![
        "rtech.example.com".to_string(),
        "www.rtech.example.com".to_string(),
    ];
    let tags = BTreeMap::from([
        (e1.arn.clone(), ours.clone()),
        (e2.arn.clone(), ours.clone()),
        (e3.arn.clone(), BTreeMap::new()),
        (e4.arn.clone(), other_env),
    ]);
    let got: Vec<(String, Ownership, String)> =
        classify("rtech", "dev", &[&e1, &e2, &e3, &e4], &tags, &aliases)
            .into_iter()
            .map(|(s, o, id)| (s.id.clone(), o, id.to_string()))
            .collect();
    assert_eq!(
        got,
        [
            ("E1".into(), Ownership::Owned, DISTRIBUTION_ID.into()),
            ("E2".into(), Ownership::Owned, "distribution/main~E2".into()),
        ]
    );
    // Nothing of ours: the one holding our alias is a conflict; another env's is ignored.
    let got: Vec<(String, Ownership)> = classify("rtech", "dev", &[&e3, &e4], &tags, &aliases)
        .into_iter()
        .map(|(s, o, _)| (s.id.clone(), o))
        .collect();
    assert_eq!(got, [("E3".into(), Ownership::Foreign)]);
    let plan = plan_of(&[dist(&spec)], vec![observed_foreign(&e3)]);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].physical_id, "E3");
    // A disabled duplicate loses to an enabled one, whatever the ids.
    let mut d1 = e1.clone();
    d1.enabled = false;
    let got = classify("rtech", "dev", &[&d1, &e2], &tags, &aliases);
    assert_eq!(got[0].0.id, "E2");
    assert_eq!(got[0].2, distribution_id());
}

#[test]
fn destroy_deletes_ours_before_what_it_uses() {
    let spec = seed();
    let o = observed_of(&spec, &live_config(&dist(&spec)));
    for d in [
        "load_balancer/main",
        "certificate_validation/main",
        "certificate/cloudfront",
        "s3_bucket/cf-logs",
    ] {
        assert!(o.deps.contains(&d.parse().unwrap()), "{d}");
    }
    assert_eq!(o.attrs["id"], "E1");
    assert_eq!(o.attrs["domain_name"], "e1.cloudfront.net");
    assert_eq!(o.attrs["status"], "Deployed");
}

// ---------------------------------------------------------------------------------------------
// requests

#[test]
fn the_update_keeps_what_rtech_does_not_manage() {
    let spec = seed();
    let r = resolved(&dist(&spec));
    let mut live = live_config(&dist(&spec));
    live.caller_reference = "theirs-123".into();
    live.default_root_object = Some("index.html".into());
    live.web_acl_id = Some("waf-1".into());
    live.enabled = false;
    live.price_class = Some(PriceClass::PriceClassAll);
    let c = apply_desired(live, &r, &headers()).unwrap();
    assert_eq!(c.caller_reference(), "theirs-123");
    assert_eq!(c.default_root_object(), Some("index.html"));
    // The web ACL is managed: a spec without `[edge.waf]` detaches one attached out of band.
    assert_eq!(c.web_acl_id(), Some(""));
    assert!(c.enabled());
    assert_eq!(c.price_class(), Some(&PriceClass::PriceClass100));
    let vc = c.viewer_certificate().unwrap();
    assert_eq!(vc.acm_certificate_arn(), Some(CERT));
    assert_eq!(vc.ssl_support_method(), Some(&SslSupportMethod::SniOnly));
    assert_eq!(
        vc.minimum_protocol_version(),
        Some(&MinimumProtocolVersion::TlSv122021)
    );
    let o = &c.origins().unwrap().items()[0];
    assert_eq!((o.id(), o.domain_name()), ("alb", DNS));
    // The origin header goes out with its value, read at apply time, never from props.
    let h = &o.custom_headers().unwrap().items()[0];
    assert_eq!(
        (h.header_name(), h.header_value()),
        ("X-Origin-Verify", HEADER_VALUE)
    );
    assert!(!format!("{:?}", r.props).contains(HEADER_VALUE));
    assert!(apply_desired(c.clone(), &r, &BTreeMap::new())
        .unwrap_err()
        .to_string()
        .contains("no value for header X-Origin-Verify"));
    let co = o.custom_origin_config().unwrap();
    assert_eq!(
        co.origin_protocol_policy(),
        &OriginProtocolPolicy::HttpsOnly
    );
    assert_eq!(
        co.origin_ssl_protocols().unwrap().items(),
        [SslProtocol::TlSv12]
    );
    let api = &c.cache_behaviors().unwrap().items()[0];
    assert_eq!(api.path_pattern(), API_PATH);
    assert_eq!(api.allowed_methods().unwrap().quantity(), 7);
    assert_eq!(c.http_version(), Some(&HttpVersion::Http2));
    assert_eq!(c.is_ipv6_enabled(), Some(true));
    let g = c.restrictions().unwrap().geo_restriction().unwrap();
    assert_eq!(g.restriction_type(), &GeoRestrictionType::None);
    assert!(!c.logging().unwrap().enabled());
    // Disabling keeps everything else.
    let off = disabled(c.clone());
    assert!(!off.enabled());
    assert_eq!(normalise(&off).get("aliases"), normalise(&c).get("aliases"));
}

#[test]
fn logging_request_names_the_bucket_and_prefix() {
    let r = resolved(&dist(&spec_with(
        "us-east-1",
        "[edge.cloudfront]\nlogging = true\n",
    )));
    let c = create_config("ref", &r, &headers()).unwrap();
    let l = c.logging().unwrap();
    assert!(l.enabled() && !l.include_cookies());
    assert_eq!((l.bucket(), l.prefix()), (LOGS, LOG_PREFIX));
    assert_eq!(c.caller_reference(), "ref");
    assert_eq!(c.comment(), "rtech rtech-dev distribution/main");
}

#[test]
fn the_caller_reference_is_deterministic_per_config_and_apply() {
    let spec = seed();
    let r = resolved(&dist(&spec));
    let a = caller_reference("rtech", "dev", &r, 7);
    assert_eq!(a, caller_reference("rtech", "dev", &r, 7));
    assert_ne!(a, caller_reference("rtech", "dev", &r, 8), "another apply");
    assert!(a.len() <= 128, "CloudFront allows 128 characters: {a}");
    assert!(a.starts_with("rtech-rtech-dev-main-"), "{a}");
    let other = resolved(&dist(&spec_with(
        "us-east-1",
        "[edge.cloudfront]\nprice_class = \"PriceClass_All\"\n",
    )));
    assert_ne!(a, caller_reference("rtech", "dev", &other, 7));
    assert_ne!(a, caller_reference("rtech", "prod", &r, 7));
}

#[test]
fn tags_request() {
    let t = sdk_tags(&BTreeMap::from([("a".to_string(), "1".to_string())])).unwrap();
    assert_eq!(t.items()[0].key(), "a");
    assert_eq!(t.items()[0].value(), Some("1"));
}

// ---------------------------------------------------------------------------------------------
// update and delete decisions, with the errors AWS raises and the emulator does not

fn err(code: &str) -> AwsError {
    AwsError::new("cloudfront:X", code, "injected")
}

#[test]
fn a_stale_etag_is_read_again_once() {
    assert!(retry_update(&err("PreconditionFailed"), 0));
    assert!(retry_update(&err("InvalidIfMatchVersion"), 0));
    assert!(!retry_update(&err("PreconditionFailed"), 1));
    assert!(!retry_update(&err("AccessDenied"), 0));
}

#[test]
fn a_taken_alias_is_explained() {
    let e = explain(
        AwsError::new(
            "cloudfront:UpdateDistribution",
            "CNAMEAlreadyExists",
            "One or more of the CNAMEs you provided are already associated with a different resource.",
        ),
        &["rtech.example.com".into()],
    );
    assert_eq!(e.code, "CNAMEAlreadyExists");
    assert!(e
        .to_string()
        .contains("cloudfront:UpdateDistribution failed: CNAMEAlreadyExists"));
    assert!(e.message.contains("rtech.example.com"), "{e}");
    assert_eq!(explain(err("Other"), &[]).message, "injected");
}

#[test]
fn delete_disables_waits_then_deletes() {
    assert_eq!(delete_step(true, "Deployed"), DeleteStep::Disable);
    assert_eq!(delete_step(true, "InProgress"), DeleteStep::Disable);
    assert_eq!(delete_step(false, "InProgress"), DeleteStep::Wait);
    assert_eq!(delete_step(false, "Deployed"), DeleteStep::Delete);
}

#[test]
fn delete_errors_lead_to_a_reread_or_stop() {
    // AWS refuses to delete an enabled (or not yet deployed) distribution: read it again, and
    // the next step disables it or waits.
    assert_eq!(
        on_delete_error(&err("DistributionNotDisabled")),
        Recovery::Reread
    );
    assert_eq!(
        on_delete_error(&err("PreconditionFailed")),
        Recovery::Reread
    );
    assert_eq!(on_delete_error(&err("NoSuchDistribution")), Recovery::Gone);
    assert_eq!(on_delete_error(&err("AccessDenied")), Recovery::Fail);
    // Simulated: enabled → disable; refused while InProgress → wait → delete.
    let mut state = (true, "Deployed");
    let mut steps = vec![];
    for _ in 0..DELETE_ROUNDS {
        let s = delete_step(state.0, state.1);
        steps.push(s);
        match s {
            DeleteStep::Disable => state = (false, "InProgress"),
            DeleteStep::Wait => state = (false, "Deployed"),
            DeleteStep::Delete => break,
        }
    }
    assert_eq!(
        steps,
        [DeleteStep::Disable, DeleteStep::Wait, DeleteStep::Delete]
    );
}

// ---------------------------------------------------------------------------------------------
// invalidation

#[test]
fn invalidation_paths_default_dedupe_and_validate() {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(invalidation_paths(&[]).unwrap(), ["/*"]);
    assert_eq!(
        invalidation_paths(&v(&["/index.html", "/static/*", "/index.html"])).unwrap(),
        ["/index.html", "/static/*"]
    );
    for bad in ["index.html", "/a*/b", "/a**", "/a b"] {
        let e = invalidation_paths(&v(&[bad])).unwrap_err();
        assert_eq!(e.code, "InvalidArgument");
        assert!(e.message.contains(bad), "{e}");
    }
}

#[test]
fn invalidation_needs_a_distribution_of_ours() {
    let e = pick_for_invalidation("dev", &[]).unwrap_err();
    assert_eq!(
        e.message,
        "env dev has no CloudFront distribution; apply first"
    );
    let theirs = summary("E3", "x", &["rtech.example.com"]);
    let found = vec![(theirs.clone(), Ownership::Foreign, distribution_id())];
    assert!(pick_for_invalidation("dev", &found).is_err());
    let ours = summary("E1", "x", &[]);
    let found = vec![
        (theirs, Ownership::Foreign, distribution_id()),
        (ours, Ownership::Owned, distribution_id()),
    ];
    assert_eq!(pick_for_invalidation("dev", &found).unwrap().id, "E1");
}

#[test]
fn an_observed_arn_is_the_tag_target() {
    let spec = seed();
    let mut s = summary("E1", &comment("rtech", "dev"), &[]);
    s.arn = ARN.into();
    let o = observed(
        distribution_id(),
        &s,
        &live_config(&dist(&spec)),
        &our_tags(&spec),
    );
    assert_eq!(o.attrs["arn"], ARN);
    assert_eq!(o.physical_id, "E1");
}

#[test]
fn the_index_names_our_distributions_and_not_others_or_other_kinds() {
    use crate::reconcile::kit::tag_index::TagIndex;
    let spec = seed();
    let ours = our_tags(&spec);
    let mut theirs = ours.clone();
    theirs.insert(TAG_ENV.into(), "staging".into());
    let mut other_kind = ours.clone();
    other_kind.insert(TAG_ID.into(), "web_acl/main".into());
    let index = TagIndex::from_pairs([
        (
            "arn:aws:cloudfront::123456789012:distribution/E1OURS".into(),
            ours,
        ),
        (
            "arn:aws:cloudfront::123456789012:distribution/E2THEIRS".into(),
            theirs,
        ),
        (
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1".into(),
            other_kind,
        ),
    ]);
    assert_eq!(
        indexed_ours(&spec.project, &spec.env, &index),
        vec![(
            "E1OURS".to_string(),
            "arn:aws:cloudfront::123456789012:distribution/E1OURS".to_string()
        )]
    );
}
