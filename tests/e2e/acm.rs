//! ACM certificates and their DNS validation against the emulator, on temporary
//! specs with `[ecr]`, `[app]` and `[edge]`, scoped with `--target certificate/…`. Every check
//! goes through ACM's and Route 53's own APIs, never through rtech.

use std::collections::BTreeMap;

use aws_sdk_acm::types::{CertificateDetail, Tag};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const CERT: &str = "certificate/main";
const VALIDATION: &str = "certificate_validation/main";
const DOMAIN: &str = "rtech.example.com";

fn edge(extra: &str) -> String {
    format!(
        r#"
[ecr]
repository = "rtech-e2e-acm"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "{DOMAIN}"
{extra}
"#
    )
}

/// The env's hosted zone (the site's, which the e2e helpers make as the account has it:
/// `hosted_zone = "existing"`, never created or deleted by rtech). Returns its id.
async fn existing_zone(emu: &Emulator) -> String {
    emu.ensure_site_zone();
    route53(emu)
        .await
        .list_hosted_zones_by_name()
        .dns_name(DOMAIN)
        .send()
        .await
        .unwrap()
        .hosted_zones()
        .iter()
        .find(|z| z.name().trim_end_matches('.') == DOMAIN)
        .expect("the site zone")
        .id()
        .to_string()
}

/// Every certificate in the client's region with its tags and details.
async fn certificates(
    acm: &aws_sdk_acm::Client,
) -> Vec<(CertificateDetail, BTreeMap<String, String>)> {
    let list = acm.list_certificates().send().await.unwrap();
    let mut out = vec![];
    for s in list.certificate_summary_list() {
        let arn = s.certificate_arn().unwrap();
        let d = acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .unwrap()
            .certificate
            .unwrap();
        let t = acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .unwrap();
        out.push((
            d,
            tag_map(t.tags().iter().map(|t| (Some(t.key()), t.value()))),
        ));
    }
    out
}

/// Ours (project and env tags) in the client's region.
async fn ours(
    acm: &aws_sdk_acm::Client,
    env: &str,
) -> Vec<(CertificateDetail, BTreeMap<String, String>)> {
    certificates(acm)
        .await
        .into_iter()
        .filter(|(_, t)| is_ours(t, env))
        .collect()
}

fn acm_changes(plan: &J) -> Vec<(String, String, Vec<String>)> {
    changes_of_kinds(plan, &["certificate", "certificate_validation"])
}

/// A targeted `apply` that must succeed. Every apply here targets certificates or the HTTPS
/// listener, none of which runs the app, so the harness pushes no image first.
fn apply_targets(emu: &Emulator, dir: &std::path::Path, extra: &[&str]) -> Run {
    apply_with(rtech_in(emu, dir), "dev", extra)
}
#[tokio::test(flavor = "multi_thread")]
async fn certificate_apply_drift_duplicate_and_destroy() {
    let emu = Emulator::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    let dir = spec_dir("dev", &edge(""));
    let d = dir.path();
    let acm = acm(&emu).await;
    existing_zone(&emu).await;
    let target = ["--target", CERT];

    // Someone else's certificate for the same domain: not a conflict, never touched.
    let foreign = acm
        .request_certificate()
        .domain_name(DOMAIN)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap();

    let r = apply_targets(&emu, d, &target);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As ACM has it.
    let mine = ours(&acm, "dev").await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    let (c, tags) = &mine[0];
    let arn = c.certificate_arn().unwrap().to_string();
    assert_eq!(c.domain_name(), Some(DOMAIN));
    let mut sans: Vec<&str> = c
        .subject_alternative_names()
        .iter()
        .map(String::as_str)
        .filter(|s| *s != DOMAIN)
        .collect();
    sans.sort();
    assert_eq!(sans, ["api.rtech.example.com", "www.rtech.example.com"]);
    assert!(c
        .domain_validation_options()
        .iter()
        .all(|o| o.validation_method().map(|m| m.as_str()) == Some("DNS")));
    assert_eq!(tags["rtech:id"], CERT);
    assert_eq!(tags["Environment"], "test");
    assert_eq!(tags["Name"], "rtech-dev-cert-main");

    // Observe: DescribeCertificate for ours, which the env's tag index lists: no
    // ListCertificates, and the foreign certificate of the domain costs nothing (certificates
    // are not unique by name: no conflict).
    let stats = observe_in(&emu, d, "dev", &target);
    assert_eq!(stats.by_service.get("acm"), Some(&1), "{stats:?}");

    // Out of band: a tag changed and one added → exactly that drift, repaired in place.
    acm.add_tags_to_certificate()
        .certificate_arn(&arn)
        .tags(
            Tag::builder()
                .key("Environment")
                .value("prod")
                .build()
                .unwrap(),
        )
        .tags(
            Tag::builder()
                .key("owner")
                .value("someone")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        acm_changes(&p),
        vec![(
            CERT.to_string(),
            "update".to_string(),
            vec!["tags.Environment".to_string(), "tags.owner".to_string()]
        )]
    );
    apply_targets(&emu, d, &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let mine = ours(&acm, "dev").await;
    assert_eq!(
        mine[0].0.certificate_arn(),
        Some(arn.as_str()),
        "updated in place"
    );
    assert_eq!(mine[0].1["Environment"], "test");
    assert!(!mine[0].1.contains_key("owner"));

    // Out of band: deleted → a create, and apply makes a new one (within the idempotency
    // token's hour: the stale token is skipped).
    acm.delete_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        acm_changes(&p)
            .into_iter()
            .map(|(id, a, _)| (id, a))
            .collect::<Vec<_>>(),
        vec![(CERT.to_string(), "create".to_string())]
    );
    apply_targets(&emu, d, &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let mine = ours(&acm, "dev").await;
    assert_eq!(mine.len(), 1);
    let arn = mine[0].0.certificate_arn().unwrap().to_string();

    // A second certificate of ours with the same id (an interrupted apply): the newer one is
    // observed as certificate/main~<id> and deleted; ours stays.
    let dup = acm
        .request_certificate()
        .domain_name(DOMAIN)
        .subject_alternative_names("www.rtech.example.com")
        .subject_alternative_names("api.rtech.example.com")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .set_tags(Some(
            mine[0]
                .1
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                .collect(),
        ))
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap();
    // The emulator stamps creation in whole seconds: when both fall in the same second the
    // tie goes by ARN (as rtech keeps them), so work out which one rtech keeps.
    let created = |a: &str| {
        let a = a.to_string();
        let acm = acm.clone();
        async move {
            acm.describe_certificate()
                .certificate_arn(&a)
                .send()
                .await
                .unwrap()
                .certificate
                .unwrap()
                .created_at()
                .map(|t| t.secs())
        }
    };
    let (first, second) = (created(&arn).await, created(&dup).await);
    let (arn, dup) = if first < second || (first == second && arn < dup) {
        (arn, dup)
    } else {
        (dup, arn)
    };
    let dup_id = format!("{CERT}~{}", dup.rsplit('/').next().unwrap());
    let p = plan_json_in(&emu, d, "dev", &["--target", &dup_id]);
    assert_eq!(
        acm_changes(&p)
            .into_iter()
            .map(|(id, a, _)| (id, a))
            .collect::<Vec<_>>(),
        vec![(dup_id.clone(), "delete".to_string())]
    );
    apply_targets(&emu, d, &["--target", &dup_id]);
    let mine = ours(&acm, "dev").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0].0.certificate_arn(),
        Some(arn.as_str()),
        "the older one is kept"
    );

    // Destroy: nothing of ours is left; the foreign certificate is untouched.
    let r = destroy_in(&emu, d, "dev");
    assert!(r.stdout.contains(CERT), "{}", r.stdout);
    assert!(ours(&acm, "dev").await.is_empty());
    let left: Vec<String> = certificates(&acm)
        .await
        .iter()
        .filter_map(|(c, _)| c.certificate_arn().map(str::to_string))
        .collect();
    assert_eq!(left, vec![foreign]);
}

/// The validation name the emulator gives a name (moto 5.2.5: one fixed token, per name).
fn moto_validation_name(name: &str) -> String {
    format!("_d930b28be6c5927595552b219965053e.{name}")
}

/// The CNAME values the zone holds for a name, through Route 53 itself.
async fn cname(r53: &aws_sdk_route53::Client, zone_id: &str, name: &str) -> Vec<String> {
    r53.list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .start_record_type(aws_sdk_route53::types::RrType::Cname)
        .max_items(1)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().trim_end_matches('.') == name)
        .flat_map(|s| {
            s.resource_records()
                .iter()
                .map(|r| r.value().trim_end_matches('.').to_string())
        })
        .collect()
}

/// The pending path, with the dns engineer's validation records: the wait times out naming
/// the certificate (the records are all there, so it says DNS may still be propagating); the
/// validation stays a create; a longer timeout waits until ISSUED; then the plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn pending_certificate_times_out_naming_it_then_converges() {
    let emu = Emulator::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "10")]);
    let dir = spec_dir("dev", &edge("certificate_timeout_seconds = 2"));
    let d = dir.path();
    let acm = acm(&emu).await;
    let r53 = route53(&emu).await;
    let zone_id = existing_zone(&emu).await;
    let target = ["--target", VALIDATION];

    let p = plan_json_in(&emu, d, "dev", &target);
    let mut ids: Vec<(String, String)> = acm_changes(&p)
        .into_iter()
        .map(|(id, a, _)| (id, a))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            (CERT.to_string(), "create".to_string()),
            (VALIDATION.to_string(), "create".to_string())
        ]
    );

    // The certificate is requested and its records written, then the wait times out.
    let r = run(rtech_in(&emu, d)
        .args(["apply", "--env", "dev", "--auto-approve"])
        .args(target));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mine = ours(&acm, "dev").await;
    assert_eq!(mine.len(), 1);
    let arn = mine[0].0.certificate_arn().unwrap().to_string();
    assert_eq!(
        mine[0].0.status().map(|s| s.as_str()),
        Some("PENDING_VALIDATION")
    );
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert!(all.contains("CertificateValidationTimeout"), "{all}");
    assert!(all.contains(&arn), "{all}");
    for name in [DOMAIN, "www.rtech.example.com", "api.rtech.example.com"] {
        assert_eq!(
            cname(&r53, &zone_id, &moto_validation_name(name)).await,
            ["_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws"],
            "{name}"
        );
    }
    assert!(
        all.contains(&format!(
            "all 3 validation records are present in zone {DOMAIN}"
        )),
        "{all}"
    );

    // Still pending: the certificate is unchanged, its validation is a create (the wait).
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        acm_changes(&p)
            .into_iter()
            .map(|(id, a, _)| (id, a))
            .collect::<Vec<_>>(),
        vec![(VALIDATION.to_string(), "create".to_string())]
    );

    // With a timeout long enough, the next apply waits until ISSUED; then nothing is left.
    let dir2 = spec_dir("dev", &edge("certificate_timeout_seconds = 120"));
    let d2 = dir2.path();
    let r = apply_targets(&emu, d2, &target);
    assert!(r.stdout.contains(VALIDATION), "{}", r.stdout);
    assert_eq!(
        ours(&acm, "dev").await[0].0.status().map(|s| s.as_str()),
        Some("ISSUED")
    );
    assert_no_changes(&plan_json_in(&emu, d2, "dev", &target));
    destroy_in(&emu, d2, "dev");
    assert!(ours(&acm, "dev").await.is_empty());
}

/// An env outside us-east-1 with CloudFront: its certificate in the env's region, and a second
/// one in us-east-1; observe looks in both (also for destroy, which has no spec).
#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_certificate_in_us_east_1_beside_the_env_region() {
    let emu = Emulator::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    existing_zone(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let head = spec_head("dev").replace("region = \"us-east-1\"", "region = \"eu-west-1\"");
    std::fs::write(
        dir.path().join("dev.toml"),
        format!("{head}{}", edge("[edge.cloudfront]")),
    )
    .unwrap();
    let d = dir.path();
    let us = acm(&emu).await;
    let eu = aws_sdk_acm::Client::from_conf(
        aws_sdk_acm::config::Builder::from(&sdk_conf(&emu).await)
            .region(aws_sdk_acm::config::Region::new("eu-west-1"))
            .build(),
    );
    let target = ["--target", CERT, "--target", "certificate/cloudfront"];
    apply_targets(&emu, d, &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let main = ours(&eu, "dev").await;
    let cf = ours(&us, "dev").await;
    assert_eq!(main.len(), 1);
    assert_eq!(cf.len(), 1);
    assert_eq!(main[0].1["rtech:id"], CERT);
    assert_eq!(cf[0].1["rtech:id"], "certificate/cloudfront");
    assert_eq!(cf[0].0.domain_name(), Some(DOMAIN));
    assert!(cf[0]
        .0
        .certificate_arn()
        .unwrap()
        .starts_with("arn:aws:acm:us-east-1:"));

    // The env's region (its tag index lists ours): DescribeCertificate; us-east-1 (another
    // region's index): ListCertificates, ListTagsForCertificate and DescribeCertificate.
    let stats = observe_in(&emu, d, "dev", &target);
    assert_eq!(stats.by_service.get("acm"), Some(&4), "{stats:?}");

    destroy_in(&emu, d, "dev");
    assert!(ours(&eu, "dev").await.is_empty());
    assert!(ours(&us, "dev").await.is_empty());
}

/// The certificate the HTTPS listener of `rtech-dev-alb` serves.
async fn listener_certificate(emu: &Emulator) -> String {
    https_listener(&elbv2(emu).await, "rtech-dev-alb")
        .await
        .certificates()
        .first()
        .and_then(|c| c.certificate_arn())
        .expect("the HTTPS listener's certificate")
        .to_string()
}

/// New names replace the certificate by creating the new one first: it is validated, the
/// listener moves to it, and only then is the old one deleted (AWS refuses to delete a
/// certificate a listener uses).
#[tokio::test(flavor = "multi_thread")]
async fn new_names_create_the_new_certificate_first_and_delete_the_old_one_last() {
    let emu = Emulator::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    let site = |domain: &str| {
        format!(
            "\n[ecr]\nrepository = \"rtech-e2e-acm\"\nforce_delete = true\n\n[app]\ndesired_count = 1\n\n[edge]\ndomain = \"{domain}\"\nhosted_zone = \"create\"\n"
        )
    };
    let dir = spec_dir("dev", &site("old.example.net"));
    let d = dir.path();
    let acm = acm(&emu).await;
    let target = ["--target", "listener/https"];
    apply_targets(&emu, d, &target);
    let old = ours(&acm, "dev").await;
    assert_eq!(old.len(), 1);
    let old_arn = old[0].0.certificate_arn().unwrap().to_string();
    assert_eq!(listener_certificate(&emu).await, old_arn);

    std::fs::write(
        d.join("dev.toml"),
        format!("{}{}", spec_head("dev"), site("new.example.net")),
    )
    .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    let c =
        change_of(&p, CERT).unwrap_or_else(|| panic!("the certificate changes: {:?}", changes(&p)));
    assert_eq!(c["action"], "replace", "{p:#}");
    assert_eq!(c["create_before_destroy"], true, "{p:#}");
    let text = run_ok(
        rtech_in(&emu, d)
            .args(["plan", "--env", "dev", "--no-color"])
            .args(target),
        0,
    )
    .stdout;
    assert!(text.contains("+/- certificate/main"), "{text}");

    let r = apply_targets(&emu, d, &target);
    let line = |needle: &str| {
        r.stderr
            .lines()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{}", r.stderr))
    };
    let created = line("certificate/main: created");
    let moved = line("listener/https: updated");
    let destroyed = line("certificate/main: destroyed");
    assert!(created < moved && moved < destroyed, "{}", r.stderr);

    let now = ours(&acm, "dev").await;
    assert_eq!(now.len(), 1, "the old one is gone: {now:?}");
    let new_arn = now[0].0.certificate_arn().unwrap().to_string();
    assert_ne!(new_arn, old_arn);
    assert_eq!(now[0].0.domain_name(), Some("new.example.net"));
    assert_eq!(listener_certificate(&emu).await, new_arn);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
}
