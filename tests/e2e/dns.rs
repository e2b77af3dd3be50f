//! Route 53 end to end, on temporary env specs with `[ecr]`, `[app]` and
//! `[edge]`. Applies and plans are scoped with `--target record/apex-a --target
//! record/www-cname` (which brings the load balancer and, in create mode, the hosted zone; the
//! ACM validation records are left out). Every check goes through Route 53 itself (the SDK).

use std::collections::BTreeMap;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType, TagResourceType,
};
use aws_sdk_route53::Client;
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

/// rtech creates this zone (not the emulator's site zone `rtech.example.com`, which every
/// rtech run makes for the repo's envs).
const CREATED: &str = "dev.rtech.example.com";
/// Someone else's zone, made with the SDK.
const EXISTING: &str = "shop.example.org";
const APEX: &str = "record/apex-a";
const WWW: &str = "record/www-cname";
const TARGETS: [&str; 4] = ["--target", APEX, "--target", WWW];

fn edge(domain: &str, zone_mode: &str) -> String {
    format!(
        r#"
[ecr]
repository = "rtech-e2e-dns"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "{domain}"
hosted_zone = "{zone_mode}"
www = "cname"
api = "cname"
"#
    )
}

/// The bare ids of the public zones named `domain`.
async fn zones(r53: &Client, domain: &str) -> Vec<String> {
    r53.list_hosted_zones_by_name()
        .dns_name(domain)
        .send()
        .await
        .unwrap()
        .hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.') == domain)
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .collect()
}

/// Every record set of a zone: (name without dot, type) → (ttl, values, alias dns name).
async fn records(
    r53: &Client,
    zone: &str,
) -> BTreeMap<(String, String), (Option<i64>, Vec<String>, Option<String>)> {
    r53.list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .map(|r| {
            (
                (
                    r.name().trim_end_matches('.').to_string(),
                    r.r#type().as_str().to_string(),
                ),
                (
                    r.ttl(),
                    r.resource_records()
                        .iter()
                        .map(|v| v.value().to_string())
                        .collect(),
                    r.alias_target().map(|a| a.dns_name().to_string()),
                ),
            )
        })
        .collect()
}

fn key(name: &str, t: &str) -> (String, String) {
    (name.to_string(), t.to_string())
}

async fn upsert_cname(r53: &Client, zone: &str, name: &str, value: &str, action: ChangeAction) {
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name(name)
                                .r#type(RrType::Cname)
                                .ttl(60)
                                .resource_records(
                                    ResourceRecord::builder().value(value).build().unwrap(),
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
}

fn dns_changes(plan: &J) -> Vec<(String, String, Vec<String>)> {
    changes_of_kinds(plan, &["record", "hosted_zone"])
}

fn owner_value(id: &str) -> String {
    format!("\"heritage=rtech,project=rtech,env=dev,id={id}\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn records_in_a_zone_rtech_creates_apply_drift_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge(CREATED, "create"));
    let d = dir.path();
    let r53 = route53(&emu).await;

    let r = apply_in(&emu, d, "dev", &TARGETS);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));

    // One zone, tagged as ours.
    let zs = zones(&r53, CREATED).await;
    assert_eq!(zs.len(), 1, "{zs:?}");
    let zone = zs[0].clone();
    let tags = r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&zone)
        .send()
        .await
        .unwrap();
    let tags = tag_map(
        tags.resource_tag_set()
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key(), t.value())),
    );
    assert_eq!(tags["rtech:id"], "hosted_zone/main");
    assert_eq!(tags["rtech:env"], "dev");
    assert_eq!(tags["Environment"], "test");

    // The records and their ownership TXTs, as Route 53 has them.
    let lb_dns = load_balancer_named(&emu, "rtech-dev-alb")
        .await
        .dns_name()
        .unwrap()
        .to_string();
    let rs = records(&r53, &zone).await;
    let apex = &rs[&key(CREATED, "A")];
    assert_eq!(
        apex.2.as_deref().map(|s| s.trim_end_matches('.')),
        Some(lb_dns.as_str())
    );
    let www = &rs[&key("www.dev.rtech.example.com", "CNAME")];
    assert_eq!(
        (www.0, www.1.clone()),
        (Some(300), vec![CREATED.to_string()])
    );
    assert_eq!(
        rs[&key("_rtech.a.dev.rtech.example.com", "TXT")].1,
        vec![owner_value(APEX)]
    );
    assert_eq!(
        rs[&key("_rtech.cname.www.dev.rtech.example.com", "TXT")].1,
        vec![owner_value(WWW)]
    );
    assert!(
        !rs.contains_key(&key("api.dev.rtech.example.com", "CNAME")),
        "not targeted"
    );

    // Few observe calls for Route 53: the zone by name, its tags, its records.
    let stats = observe_in(&emu, d, "dev", &TARGETS);
    let calls = stats.by_service.get("route53").copied().unwrap_or(0);
    assert!(calls <= 3, "route53 observe calls: {calls} ({stats:?})");

    // Out of band: www's value changed → exactly that drift, repaired in place.
    upsert_cname(
        &r53,
        &zone,
        "www.dev.rtech.example.com",
        "elsewhere.example.net",
        ChangeAction::Upsert,
    )
    .await;
    let plan = plan_json_in(&emu, d, "dev", &TARGETS);
    assert_eq!(
        dns_changes(&plan),
        [(
            WWW.to_string(),
            "update".to_string(),
            vec!["ttl".to_string(), "values".to_string()]
        )],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));
    let www = &records(&r53, &zone).await[&key("www.dev.rtech.example.com", "CNAME")];
    assert_eq!(
        (www.0, www.1.clone()),
        (Some(300), vec![CREATED.to_string()])
    );

    // Out of band: the www record deleted (its TXT left) → a create, applied.
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Delete)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name("www.dev.rtech.example.com.")
                                .r#type(RrType::Cname)
                                .ttl(300)
                                .resource_records(
                                    ResourceRecord::builder().value(CREATED).build().unwrap(),
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
    assert!(!records(&r53, &zone)
        .await
        .contains_key(&key("www.dev.rtech.example.com", "CNAME")));
    let plan = plan_json_in(&emu, d, "dev", &TARGETS);
    let got: Vec<(String, String)> = dns_changes(&plan)
        .into_iter()
        .map(|(id, a, _)| (id, a))
        .collect();
    assert_eq!(got, [(WWW.to_string(), "create".to_string())], "{plan:#}");
    apply_in(&emu, d, "dev", &TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));
    assert!(records(&r53, &zone)
        .await
        .contains_key(&key("www.dev.rtech.example.com", "CNAME")));

    // Destroy: our records, then our zone.
    let r = destroy_in(&emu, d, "dev");
    assert!(r.stdout.contains("hosted_zone/main"), "{}", r.stdout);
    assert!(
        zones(&r53, CREATED).await.is_empty(),
        "the zone rtech created is deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_zone_is_never_deleted_and_a_foreign_record_is_left_alone() {
    let emu = Emulator::start();
    let r53 = route53(&emu).await;
    // Someone's zone, with their own records.
    let zone = r53
        .create_hosted_zone()
        .name(EXISTING)
        .caller_reference("someone-else-1")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    upsert_cname(
        &r53,
        &zone,
        "blog.shop.example.org",
        "blog.example.net",
        ChangeAction::Create,
    )
    .await;

    let dir = spec_dir("dev", &edge(EXISTING, "existing"));
    let d = dir.path();
    apply_in(&emu, d, "dev", &TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &TARGETS));
    let rs = records(&r53, &zone).await;
    assert!(rs.contains_key(&key(EXISTING, "A")));
    assert!(rs.contains_key(&key("www.shop.example.org", "CNAME")));
    assert!(rs.contains_key(&key("_rtech.cname.www.shop.example.org", "TXT")));
    let stats = observe_in(&emu, d, "dev", &TARGETS);
    let calls = stats.by_service.get("route53").copied().unwrap_or(0);
    assert!(calls <= 2, "route53 observe calls: {calls} ({stats:?})");

    // Someone else's api CNAME (no TXT): a conflict, never overwritten nor deleted.
    upsert_cname(
        &r53,
        &zone,
        "api.shop.example.org",
        "their-api.example.net",
        ChangeAction::Create,
    )
    .await;
    let before = records(&r53, &zone).await[&key("api.shop.example.org", "CNAME")].clone();
    assert_conflicts_left_alone_in(&emu, d, "dev", &["record/api-cname"], &TARGETS);

    // After destroy: the zone and their records are there, none of ours.
    assert_eq!(
        zones(&r53, EXISTING).await,
        vec![zone.clone()],
        "the existing zone is kept"
    );
    let rs = records(&r53, &zone).await;
    assert_eq!(
        rs[&key("api.shop.example.org", "CNAME")],
        before,
        "left alone"
    );
    assert!(rs.contains_key(&key("blog.shop.example.org", "CNAME")));
    let left: Vec<&(String, String)> = rs
        .keys()
        .filter(|(n, t)| {
            n.starts_with("_rtech.") || n == EXISTING && t == "A" || n == "www.shop.example.org"
        })
        .collect();
    assert!(left.is_empty(), "records of ours left: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_existing_zone_is_a_clear_error() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge("missing.example.org", "existing"));
    let r = run(rtech_in(&emu, dir.path()).args(["plan", "--env", "dev"]));
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("edge.hosted_zone") && r.stderr.contains("missing.example.org"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_records_carry_the_certificates_names_and_values() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge(CREATED, "create"));
    let d = dir.path();
    let r53 = route53(&emu).await;
    let targets = [
        "--target",
        "record/validation-apex",
        "--target",
        "record/validation-www",
        "--target",
        "record/validation-api",
    ];
    apply_in(&emu, d, "dev", &targets);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &targets));

    // The CNAMEs ACM asks for, as ACM itself lists them, are in our zone.
    let acm = acm(&emu).await;
    let arn = acm
        .list_certificates()
        .send()
        .await
        .unwrap()
        .certificate_summary_list()
        .iter()
        .find(|c| c.domain_name() == Some(CREATED))
        .and_then(|c| c.certificate_arn())
        .expect("certificate/main")
        .to_string();
    let cert = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let wanted: Vec<(String, String)> = cert
        .certificate()
        .unwrap()
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_string(),
                r.value().trim_end_matches('.').to_string(),
            )
        })
        .collect();
    assert_eq!(wanted.len(), 3, "{wanted:?}");
    let zone = zones(&r53, CREATED).await[0].clone();
    let rs = records(&r53, &zone).await;
    for (name, value) in &wanted {
        let r = rs
            .get(&key(name, "CNAME"))
            .unwrap_or_else(|| panic!("{name} CNAME in {rs:?}"));
        assert_eq!(
            r.1.iter()
                .map(|v| v.trim_end_matches('.').to_string())
                .collect::<Vec<_>>(),
            vec![value.clone()]
        );
        assert!(rs.contains_key(&key(&format!("_rtech.cname.{name}"), "TXT")));
    }

    destroy_in(&emu, d, "dev");
    assert!(zones(&r53, CREATED).await.is_empty());
}
