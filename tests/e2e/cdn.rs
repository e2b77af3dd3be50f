//! The CloudFront distribution and invalidations end to end, on temporary
//! env specs with `[ecr]`, `[app]`, `[edge]` and `[edge.cloudfront]`, scoped with
//! `--target distribution/main` (which brings the load balancer, the certificate and its
//! validation records along). Every check goes through CloudFront's own API (the SDK), never
//! through rtech.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    Aliases, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    DistributionSummary, Origin, Origins, Tag, TagKeys, Tags, ViewerProtocolPolicy,
};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const DIST: &str = "distribution/main";
/// Not the site's zone: the env's own, created by rtech (`hosted_zone = "create"`).
const DOMAIN: &str = "cdn-e2e.example.net";

fn edge(cloudfront: &str) -> String {
    edge_spec("cdn", DOMAIN, &format!("\n[edge.cloudfront]\n{cloudfront}"))
}

/// Every distribution with its tags.
async fn distributions(
    cf: &aws_sdk_cloudfront::Client,
) -> Vec<(DistributionSummary, BTreeMap<String, String>)> {
    let list = cf.list_distributions().send().await.unwrap();
    let mut out = vec![];
    for d in list
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default()
    {
        let t = cf
            .list_tags_for_resource()
            .resource(d.arn())
            .send()
            .await
            .unwrap();
        let tags = tag_map(
            t.tags()
                .map(|t| t.items())
                .unwrap_or_default()
                .iter()
                .map(|t| (Some(t.key()), t.value())),
        );
        out.push((d, tags));
    }
    out
}

/// Ours in `env`: (id, config, ETag).
async fn ours(
    cf: &aws_sdk_cloudfront::Client,
    env: &str,
) -> Vec<(String, DistributionConfig, String)> {
    let mut out = vec![];
    for (d, t) in distributions(cf).await {
        if is_ours(&t, env) && t.get("rtech:id").map(String::as_str) == Some(DIST) {
            let c = cf
                .get_distribution_config()
                .id(d.id())
                .send()
                .await
                .unwrap();
            out.push((
                d.id().to_string(),
                c.distribution_config().unwrap().clone(),
                c.e_tag().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

async fn the_one(cf: &aws_sdk_cloudfront::Client) -> (String, DistributionConfig, String) {
    let mut v = ours(cf, "dev").await;
    assert_eq!(v.len(), 1, "one distribution of ours");
    v.remove(0)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// (action, field paths) of the distribution's change, if any.
fn dist_change(plan: &J) -> Option<(String, Vec<String>)> {
    change_of(plan, DIST).map(|c| {
        (
            c["action"].as_str().unwrap().to_string(),
            c["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect(),
        )
    })
}

#[allow(deprecated)] // the legacy TTL fields (the emulator has no cache policies)
#[tokio::test(flavor = "multi_thread")]
async fn distribution_apply_drift_invalidate_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir(
        "dev",
        &edge("price_class = \"PriceClass_200\"\nlogging = true"),
    );
    let d = dir.path();
    let cf = cloudfront(&emu).await;
    let target = ["--target", DIST];

    let r = apply_in(&emu, d, "dev", &target);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As CloudFront has it.
    let (id, c, _) = the_one(&cf).await;
    assert!(c.enabled());
    assert_eq!(
        sorted(c.aliases().unwrap().items().to_vec()),
        [DOMAIN.to_string(), format!("www.{DOMAIN}")]
    );
    let o = &c.origins().unwrap().items()[0];
    assert_eq!(o.id(), "alb");
    let lb = load_balancer_named(&emu, "rtech-dev-alb").await;
    assert_eq!(o.domain_name(), lb.dns_name().unwrap());
    let co = o.custom_origin_config().unwrap();
    assert_eq!(co.origin_protocol_policy().as_str(), "https-only");
    assert_eq!(
        co.origin_ssl_protocols().unwrap().items()[0].as_str(),
        "TLSv1.2"
    );
    assert_eq!((co.http_port(), co.https_port()), (80, 443));
    let vc = c.viewer_certificate().unwrap();
    let cert = vc.acm_certificate_arn().unwrap();
    let acm = acm(&emu).await;
    let certs = acm.list_certificates().send().await.unwrap();
    assert!(
        certs
            .certificate_summary_list()
            .iter()
            .any(|s| s.certificate_arn() == Some(cert)),
        "the viewer certificate {cert} is our ACM certificate"
    );
    assert_eq!(
        vc.minimum_protocol_version().unwrap().as_str(),
        "TLSv1.2_2021"
    );
    assert_eq!(vc.ssl_support_method().unwrap().as_str(), "sni-only");
    let db = c.default_cache_behavior().unwrap();
    assert_eq!(db.viewer_protocol_policy().as_str(), "redirect-to-https");
    assert_eq!(
        (db.min_ttl(), db.default_ttl(), db.max_ttl()),
        (Some(0), Some(3600), Some(86400))
    );
    assert_eq!(db.compress(), Some(true));
    let fv = db.forwarded_values().unwrap();
    assert!(fv.query_string());
    assert_eq!(
        sorted(fv.headers().unwrap().items().to_vec()),
        ["Accept", "Accept-Encoding", "Host", "Origin"]
    );
    let api = &c.cache_behaviors().unwrap().items()[0];
    assert_eq!(api.path_pattern(), "/api/*");
    assert_eq!(api.allowed_methods().unwrap().items().len(), 7);
    assert_eq!(
        api.forwarded_values().unwrap().headers().unwrap().items(),
        ["*"]
    );
    assert_eq!(
        (api.min_ttl(), api.default_ttl(), api.max_ttl()),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(api.viewer_protocol_policy().as_str(), "https-only");
    assert_eq!(c.price_class().unwrap().as_str(), "PriceClass_200");
    assert_eq!(c.http_version().unwrap().as_str(), "http2");
    assert_eq!(c.is_ipv6_enabled(), Some(true));
    // Standard logging to the env's log bucket (s3_bucket/cf-logs).
    let l = c.logging().unwrap();
    assert!(l.enabled());
    assert_eq!(l.prefix(), "cloudfront/");
    let bucket = l.bucket().strip_suffix(".s3.amazonaws.com").unwrap();
    s3(&emu)
        .await
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("log bucket {bucket}: {e:?}"));
    assert_eq!(
        c.restrictions()
            .unwrap()
            .geo_restriction()
            .unwrap()
            .restriction_type()
            .as_str(),
        "none"
    );
    assert!(c.caller_reference().starts_with("rtech-rtech-dev-main-"));
    assert_eq!(c.comment(), "rtech rtech-dev distribution/main");

    // Observe: GetDistribution (config, status and ETag) by the id the env's tag index lists
    // (us-east-1's lists distributions) with its tags: no ListDistributions, no
    // ListTagsForResource.
    let stats = observe_in(&emu, d, "dev", &target);
    assert_eq!(stats.by_service.get("cloudfront"), Some(&1), "{stats:?}");

    // Out of band: the /api/* TTLs raised and an alias added → exactly those drifts,
    // repaired in place (same distribution).
    let (_, mut c, etag) = the_one(&cf).await;
    let cbs = c.cache_behaviors.as_mut().unwrap();
    let b = &mut cbs.items.as_mut().unwrap()[0];
    b.default_ttl = Some(300);
    b.max_ttl = Some(3600);
    let mut aliases = c.aliases().unwrap().items().to_vec();
    aliases.push(format!("static.{DOMAIN}"));
    c.aliases = Some(
        Aliases::builder()
            .quantity(aliases.len() as i32)
            .set_items(Some(aliases))
            .build()
            .unwrap(),
    );
    cf.update_distribution()
        .id(&id)
        .if_match(etag)
        .distribution_config(c)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        dist_change(&plan),
        Some((
            "update".to_string(),
            vec![
                "aliases".to_string(),
                "cache_behaviors./api/*.default_ttl".to_string(),
                "cache_behaviors./api/*.max_ttl".to_string()
            ]
        )),
        "{plan:#}"
    );
    assert_eq!(changes(&plan).len(), 1, "{plan:#}");
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let (id2, c, _) = the_one(&cf).await;
    assert_eq!(id2, id, "updated in place");
    assert_eq!(c.aliases().unwrap().items().len(), 2);
    let api = &c.cache_behaviors().unwrap().items()[0];
    assert_eq!((api.default_ttl(), api.max_ttl()), (Some(0), Some(0)));

    // Out of band: a tag removed and one added → tag drift, repaired by TagResource/UntagResource.
    let arn = distributions(&cf)
        .await
        .into_iter()
        .find(|(s, _)| s.id() == id)
        .unwrap()
        .0
        .arn()
        .to_string();
    cf.untag_resource()
        .resource(&arn)
        .tag_keys(TagKeys::builder().items("Environment").build())
        .send()
        .await
        .unwrap();
    cf.tag_resource()
        .resource(&arn)
        .tags(
            Tags::builder()
                .items(Tag::builder().key("extra").value("x").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        dist_change(&plan),
        Some((
            "update".to_string(),
            vec!["tags.Environment".to_string(), "tags.extra".to_string()]
        )),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Invalidation: waits until Completed, JSON has the id; --no-wait returns with an id.
    let r = run_ok(
        rtech_in(&emu, d).args(["invalidate", "--env", "dev", "--json"]),
        0,
    );
    let inv: J = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(inv["distribution_id"], id.as_str(), "{inv:#}");
    assert_eq!(inv["status"], "Completed", "{inv:#}");
    assert_eq!(inv["paths"], serde_json::json!(["/*"]));
    let inv_id = inv["id"].as_str().unwrap().to_string();
    assert!(!inv_id.is_empty());
    let got = cf
        .get_invalidation()
        .distribution_id(&id)
        .id(&inv_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.invalidation()
            .unwrap()
            .invalidation_batch()
            .unwrap()
            .paths()
            .unwrap()
            .items(),
        ["/*"]
    );
    let r = run_ok(
        rtech_in(&emu, d).args([
            "invalidate",
            "--env",
            "dev",
            "--path",
            "/index.html",
            "--path",
            "/static/*",
            "--no-wait",
            "--json",
        ]),
        0,
    );
    let inv: J = serde_json::from_str(&r.stdout).unwrap();
    let id2 = inv["id"].as_str().unwrap();
    assert!(!id2.is_empty() && id2 != inv_id, "{inv:#}");
    assert_eq!(
        inv["paths"],
        serde_json::json!(["/index.html", "/static/*"])
    );
    assert!(r.stderr.contains("not waiting"), "{}", r.stderr);

    // A spec change applied with --no-wait: said so, and converged.
    std::fs::write(
        d.join("dev.toml"),
        format!(
            "{}{}",
            spec_head("dev"),
            edge("price_class = \"PriceClass_All\"\nlogging = true")
        ),
    )
    .unwrap();
    let r = apply_in(&emu, d, "dev", &["--target", DIST, "--no-wait"]);
    assert!(
        r.stderr.contains("not waiting for Deployed (--no-wait)"),
        "{}",
        r.stderr
    );
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    assert_eq!(
        the_one(&cf).await.1.price_class().unwrap().as_str(),
        "PriceClass_All"
    );

    // Out of band: the distribution deleted → a create.
    let (id, _, etag) = the_one(&cf).await;
    cf.delete_distribution()
        .id(&id)
        .if_match(etag)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        dist_change(&plan).map(|(a, _)| a),
        Some("create".to_string()),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Destroy: no distribution of ours is left.
    let r = destroy_in(&emu, d, "dev");
    assert!(
        r.stdout.contains(DIST) || r.stderr.contains(DIST),
        "{}",
        r.stdout
    );
    assert!(ours(&cf, "dev").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_holding_our_alias_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge(""));
    let d = dir.path();
    let cf = cloudfront(&emu).await;

    // Nothing to invalidate yet.
    let r = run(rtech_in(&emu, d).args(["invalidate", "--env", "dev"]));
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("env dev has no CloudFront distribution; apply first"),
        "{}",
        r.stderr
    );

    // Someone else's distribution with our apex as an alias.
    let config = DistributionConfig::builder()
        .caller_reference("someone-else")
        .comment("theirs")
        .enabled(true)
        .aliases(
            Aliases::builder()
                .quantity(1)
                .items(DOMAIN)
                .build()
                .unwrap(),
        )
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("o")
                        .domain_name("example.org")
                        .custom_origin_config(
                            aws_sdk_cloudfront::types::CustomOriginConfig::builder()
                                .http_port(80)
                                .https_port(443)
                                .origin_protocol_policy(
                                    aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpsOnly,
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("o")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let theirs = cf
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder()
                .distribution_config(config)
                .tags(
                    Tags::builder()
                        .items(Tag::builder().key("owner").value("them").build().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .distribution()
        .unwrap()
        .id()
        .to_string();

    assert_conflicts_left_alone_in(&emu, d, "dev", &[DIST], &["--target", DIST]);
    let all = distributions(&cf).await;
    assert_eq!(all.len(), 1, "nothing created");
    assert_eq!(all[0].0.id(), theirs, "theirs left alone");
    assert!(all[0].0.enabled());
    assert_eq!(all[0].0.comment(), "theirs");
}
