//! The public edge end to end, on temporary env specs with `[ecr]`, `[app]` and
//! `[edge]`: today the load balancer and its HTTP :80 → HTTPS redirect listener. Applies and
//! plans are scoped with `--target listener/http` (which brings the load balancer, the public
//! subnets, the alb security group and the VPC along). Every check goes through AWS's own
//! APIs (the SDK), never through rtech.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, LoadBalancer, LoadBalancerAttribute};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const LB: &str = "load_balancer/main";
const HTTP: &str = "listener/http";
const LB_NAME: &str = "rtech-dev-alb";

fn spec() -> String {
    edge_spec(
        "edge",
        "rtech.example.com",
        "\n[edge.alb]\nidle_timeout_seconds = 120",
    )
}

async fn load_balancer(elb: &aws_sdk_elasticloadbalancingv2::Client) -> Option<LoadBalancer> {
    elb.describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(LB_NAME))
        .cloned()
}

async fn attributes(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> BTreeMap<String, String> {
    elb.describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .unwrap()
        .attributes()
        .iter()
        .filter_map(|a: &LoadBalancerAttribute| {
            Some((a.key()?.to_string(), a.value()?.to_string()))
        })
        .collect()
}

async fn elb_tags(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> BTreeMap<String, String> {
    elb.describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap()
        .tag_descriptions()
        .first()
        .map(|d| {
            d.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn edge_changes(plan: &J) -> Vec<(String, String, Vec<String>)> {
    changes_of_kinds(plan, &["load_balancer", "listener"])
}

#[tokio::test(flavor = "multi_thread")]
async fn alb_and_redirect_listener_apply_drift_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();
    let elb = elbv2(&emu).await;
    let target = ["--target", HTTP];

    let r = apply_in(&emu, d, "dev", &target);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As AWS has it.
    let lb = load_balancer(&elb).await.expect("created");
    let arn = lb.load_balancer_arn().unwrap().to_string();
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.r#type().map(|s| s.as_str()), Some("application"));
    assert_eq!(lb.availability_zones().len(), 2);
    assert_eq!(lb.security_groups().len(), 1);
    let ec2 = ec2(&emu).await;
    assert_eq!(
        lb.security_groups()[0],
        physical(&ec2, "dev", "sg/alb").await
    );
    let mut subnets: Vec<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    subnets.sort();
    let mut want = vec![
        physical(&ec2, "dev", "subnet/public-a").await,
        physical(&ec2, "dev", "subnet/public-b").await,
    ];
    want.sort();
    assert_eq!(subnets, want);
    let a = attributes(&elb, &arn).await;
    assert_eq!(a["idle_timeout.timeout_seconds"], "120");
    assert_eq!(a["routing.http2.enabled"], "true");
    assert_eq!(a["routing.http.drop_invalid_header_fields.enabled"], "true");
    assert_eq!(a["deletion_protection.enabled"], "false");
    let t = elb_tags(&elb, &arn).await;
    assert_eq!(t["rtech:id"], LB);
    assert_eq!(t["Environment"], "test");
    let ls = listeners_of(&elb, &arn).await;
    assert_eq!(ls.len(), 1);
    let l = &ls[0];
    let larn = l.listener_arn().unwrap().to_string();
    assert_eq!(l.port(), Some(80));
    let rc = l.default_actions()[0].redirect_config().expect("redirect");
    assert_eq!(
        (
            rc.protocol(),
            rc.port(),
            rc.status_code().map(|s| s.as_str())
        ),
        (Some("HTTPS"), Some("443"), Some("HTTP_301"))
    );
    assert_eq!(elb_tags(&elb, &larn).await["rtech:id"], HTTP);
    let out = run_ok(
        rtech_in(&emu, d).args(["output", "--env", "dev", "--json"]),
        0,
    );
    let out: J = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out["alb_arn"], arn.as_str());
    assert_eq!(out["alb_dns_name"], lb.dns_name().unwrap());
    assert_eq!(out["alb_zone_id"], lb.canonical_hosted_zone_id().unwrap());

    // Out of band: listener 80 turned into a plain forward, and drop-invalid-headers off →
    // exactly those two drifts, repaired in place.
    let tg = elb
        .describe_target_groups()
        .names("rtech-dev-blue")
        .send()
        .await
        .map(|o| o.target_groups().to_vec())
        .unwrap_or_default();
    let tg_arn = match tg.first() {
        Some(g) => g.target_group_arn().unwrap().to_string(),
        None => {
            // --target listener/http does not bring the target group: make one.
            elb.create_target_group()
                .name("someone-elses")
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(80)
                .vpc_id(lb.vpc_id().unwrap())
                .send()
                .await
                .unwrap()
                .target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string()
        }
    };
    forward_by_default(&elb, &larn, &tg_arn).await;
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .attributes(
            LoadBalancerAttribute::builder()
                .key("routing.http.drop_invalid_header_fields.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        edge_changes(&plan),
        [
            (
                LB.to_string(),
                "update".to_string(),
                vec!["drop_invalid_header_fields".to_string()]
            ),
            (
                HTTP.to_string(),
                "update".to_string(),
                vec!["default_actions".to_string()]
            ),
        ],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let l = &listeners_of(&elb, &arn).await[0];
    assert_eq!(l.listener_arn(), Some(larn.as_str()), "modified in place");
    assert_eq!(
        l.default_actions()[0].r#type(),
        Some(&ActionTypeEnum::Redirect)
    );
    assert_eq!(
        attributes(&elb, &arn).await["routing.http.drop_invalid_header_fields.enabled"],
        "true"
    );

    // Out of band: the listener deleted → a create.
    elb.delete_listener()
        .listener_arn(&larn)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    let got: Vec<(String, String)> = edge_changes(&plan)
        .into_iter()
        .map(|(id, action, _)| (id, action))
        .collect();
    assert_eq!(got, [(HTTP.to_string(), "create".to_string())], "{plan:#}");
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Out of band: the load balancer deleted (AWS takes its listeners with it) → both are
    // creates, and apply builds a new one.
    elb.delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(load_balancer(&elb).await.is_none());
    let plan = plan_json_in(&emu, d, "dev", &target);
    let got: Vec<(String, String)> = edge_changes(&plan)
        .into_iter()
        .map(|(id, action, _)| (id, action))
        .collect();
    assert_eq!(
        got,
        [
            (LB.to_string(), "create".to_string()),
            (HTTP.to_string(), "create".to_string())
        ],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let lb = load_balancer(&elb).await.expect("re-created");
    assert_ne!(lb.load_balancer_arn(), Some(arn.as_str()), "a new one");
    assert_eq!(
        listeners_of(&elb, lb.load_balancer_arn().unwrap())
            .await
            .len(),
        1
    );

    // Destroy: no load balancer (nor its listeners) of ours is left.
    destroy_in(&emu, d, "dev");
    assert!(load_balancer(&elb).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_protection_blocks_destroy_until_turned_off() {
    let emu = Emulator::start();
    let protected = format!("{}deletion_protection = true\n", spec());
    let dir = spec_dir("dev", &protected);
    let d = dir.path();
    let elb = elbv2(&emu).await;
    apply_in(&emu, d, "dev", &["--target", LB]);
    let lb = load_balancer(&elb).await.expect("created");
    assert_eq!(
        attributes(&elb, lb.load_balancer_arn().unwrap()).await["deletion_protection.enabled"],
        "true"
    );
    let r = run(rtech_in(&emu, d).args(["destroy", "--env", "dev", "--auto-approve"]));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let refusal = "refused: load_balancer/main (rtech-dev-alb) has deletion protection on";
    assert!(
        r.stdout.contains(refusal) || r.stderr.contains(refusal),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(load_balancer(&elb).await.is_some(), "left alone");

    // Turned off in the spec and applied: destroy goes through.
    std::fs::write(
        d.join("dev.toml"),
        format!(
            "{}{}deletion_protection = false\n",
            spec_head("dev"),
            spec()
        ),
    )
    .unwrap();
    apply_in(&emu, d, "dev", &["--target", LB]);
    destroy_in(&emu, d, "dev");
    assert!(load_balancer(&elb).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_load_balancer_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();
    let elb = elbv2(&emu).await;
    let ec2 = ec2(&emu).await;

    // Our network first (before anything blocks the plan).
    apply_in(&emu, d, "dev", &["--target", "vpc/main"]);
    apply_in(&emu, d, "dev", &["--target", "subnet/public-a"]);
    apply_in(&emu, d, "dev", &["--target", "subnet/public-b"]);
    // Someone else's load balancer under our name.
    let theirs = elb
        .create_load_balancer()
        .name(LB_NAME)
        .subnets(physical(&ec2, "dev", "subnet/public-a").await)
        .subnets(physical(&ec2, "dev", "subnet/public-b").await)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    assert_conflicts_left_alone_in(&emu, d, "dev", &[LB], &["--target", LB]);
    let still = load_balancer(&elb).await.expect("left alone");
    assert_eq!(still.load_balancer_arn(), Some(theirs.as_str()));
}

/// Every record set of the zone named `zone`, as (name without the trailing dot, type).
async fn record_sets(
    r53: &aws_sdk_route53::Client,
    zone: &str,
) -> (String, Vec<aws_sdk_route53::types::ResourceRecordSet>) {
    let zones = r53
        .list_hosted_zones_by_name()
        .dns_name(zone)
        .send()
        .await
        .unwrap();
    let z = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == zone)
        .unwrap_or_else(|| panic!("zone {zone} exists"));
    let id = z.id().to_string();
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&id)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .to_vec();
    (id, sets)
}

fn rr_name(r: &aws_sdk_route53::types::ResourceRecordSet) -> String {
    r.name().trim_end_matches('.').to_string()
}

/// The repo's staging env (existing zone shared with prod, CloudFront, DNS-validated
/// certificate) from an empty account: the whole edge in one apply, then an empty plan, the
/// outputs, an invalidation, and a destroy that removes exactly what rtech made — the zone and
/// a record someone else keeps in it stay.
#[tokio::test(flavor = "multi_thread")]
async fn staging_builds_the_whole_edge_and_destroy_removes_exactly_ours() {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let emu = Emulator::start();
    emu.ensure_site_zone();
    let r53 = route53(&emu).await;
    let (zone_id, _) = record_sets(&r53, "rtech.example.com").await;
    // Someone else's record in the shared zone.
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name("mail.rtech.example.com")
                                .r#type(RrType::Mx)
                                .ttl(300)
                                .resource_records(
                                    ResourceRecord::builder()
                                        .value("10 mx.example.net")
                                        .build()
                                        .unwrap(),
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
        .send()
        .await
        .unwrap();

    let r = apply(&emu, "staging");
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_plan_empty(&emu, "staging");

    // The HTTPS listener serves the issued certificate with the default policy.
    let elb = elbv2(&emu).await;
    let lb = elb
        .describe_load_balancers()
        .names("rtech-staging-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let alb_dns = lb.dns_name().unwrap().to_string();
    let (https, prod) = production_rule(&elb, "rtech-staging-alb").await;
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    let acm = acm(&emu).await;
    let certs = our_certificates(&acm, "staging").await;
    assert_eq!(certs.len(), 1, "one certificate (us-east-1 serves both)");
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(certs[0].as_str())
    );
    let cert = acm
        .describe_certificate()
        .certificate_arn(&certs[0])
        .send()
        .await
        .unwrap()
        .certificate
        .unwrap();
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    let mut sans: Vec<&str> = cert
        .subject_alternative_names()
        .iter()
        .map(String::as_str)
        .collect();
    sans.sort();
    assert_eq!(
        sans,
        [
            "api.staging.rtech.example.com",
            "staging.rtech.example.com",
            "www.staging.rtech.example.com"
        ]
    );
    // With CloudFront the default answers 403; the production rule (which requires CloudFront's
    // origin header) forwards all traffic to the blue target group.
    let default = &https.default_actions()[0];
    assert_eq!(
        default
            .fixed_response_config()
            .and_then(|f| f.status_code()),
        Some("403")
    );
    let fwd = prod.actions()[0].forward_config().unwrap();
    assert_eq!(fwd.target_groups().len(), 1);
    assert_eq!(fwd.target_groups()[0].weight(), Some(100));
    let origin_header = secret_json(&emu, "rtech/staging/origin-header").await;
    assert_eq!(
        origin_header_values(&prod),
        [origin_header["value"].as_str().unwrap()]
    );

    // CloudFront serves the site's names.
    let cf = cloudfront(&emu).await;
    let dists = our_distributions(&cf, "staging").await;
    assert_eq!(dists.len(), 1, "{dists:?}");
    assert_eq!(
        dists[0].1,
        ["staging.rtech.example.com", "www.staging.rtech.example.com"]
    );
    let cf_domain = cf
        .get_distribution()
        .id(&dists[0].0)
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap()
        .domain_name()
        .to_string();

    // The records: apex alias to CloudFront (A and AAAA), www CNAME to the apex, api to the
    // ALB (CloudFront does not serve api.), the validation CNAMEs, and an owner TXT for each.
    let (_, sets) = record_sets(&r53, "rtech.example.com").await;
    let find = |name: &str, t: &str| {
        sets.iter()
            .find(|r| rr_name(r) == name && r.r#type().as_str() == t)
            .unwrap_or_else(|| panic!("{name} {t} in {sets:#?}"))
    };
    for t in ["A", "AAAA"] {
        let a = find("staging.rtech.example.com", t);
        let target = a.alias_target().expect("alias");
        assert_eq!(
            target.dns_name().trim_end_matches('.').to_lowercase(),
            cf_domain.to_lowercase()
        );
    }
    let www = find("www.staging.rtech.example.com", "CNAME");
    assert_eq!(
        www.resource_records()[0].value().trim_end_matches('.'),
        "staging.rtech.example.com"
    );
    let api = find("api.staging.rtech.example.com", "CNAME");
    assert_eq!(
        api.resource_records()[0]
            .value()
            .trim_end_matches('.')
            .to_lowercase(),
        alb_dns.to_lowercase()
    );
    let validation = sets
        .iter()
        .filter(|r| {
            r.r#type().as_str() == "CNAME"
                && rr_name(r).starts_with('_')
                && !rr_name(r).starts_with("_rtech")
        })
        .count();
    assert_eq!(validation, 3, "one validation CNAME per name: {sets:#?}");

    // The outputs name the edge.
    let o = output_json(&emu, "staging");
    assert_eq!(o["alb_dns_name"], alb_dns.as_str());
    assert_eq!(o["cloudfront_distribution_id"], dists[0].0.as_str());
    assert_eq!(o["cloudfront_domain_name"], cf_domain.as_str());
    assert_eq!(o["certificates"]["main"]["arn"], certs[0].as_str());
    assert_eq!(o["certificates"]["main"]["status"], "ISSUED");
    assert_eq!(
        o["hosted_zone_id"]
            .as_str()
            .map(|z| z.trim_start_matches("/hostedzone/")),
        Some(zone_id.trim_start_matches("/hostedzone/"))
    );
    let urls: Vec<&str> = o["public_urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(J::as_str)
        .collect();
    for u in [
        "https://staging.rtech.example.com",
        "https://www.staging.rtech.example.com",
        "https://api.staging.rtech.example.com",
    ] {
        assert!(urls.contains(&u), "{u} in {urls:?}");
    }

    // An invalidation of everything, waited for.
    let r = run_ok(
        rtech(&emu).args(["invalidate", "--env", "staging", "--json"]),
        0,
    );
    let inv: J = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(inv["distribution_id"], dists[0].0.as_str());
    assert_eq!(inv["status"], "Completed");
    assert_eq!(inv["paths"], serde_json::json!(["/*"]));

    // Destroy: nothing of ours is left at the edge; the zone and the foreign record stay.
    destroy(&emu, "staging");
    assert!(elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .iter()
        .all(|l| l.load_balancer_name() != Some("rtech-staging-alb")));
    assert!(our_certificates(&acm, "staging").await.is_empty());
    assert!(our_distributions(&cf, "staging").await.is_empty());
    let (_, left) = record_sets(&r53, "rtech.example.com").await;
    let mut kinds: Vec<(String, String)> = left
        .iter()
        .map(|r| (rr_name(r), r.r#type().as_str().to_string()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("mail.rtech.example.com".to_string(), "MX".to_string()),
            ("rtech.example.com".to_string(), "NS".to_string()),
            ("rtech.example.com".to_string(), "SOA".to_string()),
        ]
    );
}

/// The HTTPS listener's policy downgraded out of band: shown as exactly that and repaired.
#[tokio::test(flavor = "multi_thread")]
async fn an_ssl_policy_downgraded_out_of_band_is_shown_and_repaired() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();
    let target = ["--target", "listener/https"];
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let elb = elbv2(&emu).await;
    let lb = load_balancer(&elb).await.expect("created");
    let arn = lb.load_balancer_arn().unwrap();
    let https = listeners_of(&elb, arn)
        .await
        .into_iter()
        .find(|l| l.port() == Some(443))
        .expect("443");
    elb.modify_listener()
        .listener_arn(https.listener_arn().unwrap())
        .ssl_policy("ELBSecurityPolicy-2016-08")
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        edge_changes(&p),
        [(
            "listener/https".to_string(),
            "update".to_string(),
            vec!["ssl_policy".to_string()]
        )]
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let fixed = listeners_of(&elb, arn)
        .await
        .into_iter()
        .find(|l| l.port() == Some(443))
        .unwrap();
    assert_eq!(
        fixed.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
}
