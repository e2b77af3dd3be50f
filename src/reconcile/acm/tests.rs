//! ACM: expansion, the normalisation observe does (through the real diff), ownership and
//! duplicates, the idempotency token, the timeout message, and the in-use delete handling
//! (with the AWS errors the emulator never raises, injected).

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_acm::types::{
    DomainStatus, DomainValidation, FailureReason, RecordType, ResourceRecord,
};
use aws_smithy_types::DateTime;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_acm::types::{CertificateStatus, ValidationMethod};

use super::*;
use sha2::{Digest, Sha256};

use crate::model::{tags_of, Value, TAG_ID};
use crate::plan::{diff, DiffInput, Plan};
use crate::testutil::parse_as;

const ARN: &str =
    "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";
const ARN_US: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/aaaaaaaa-2222-3333-4444-555555555555";
const DOMAIN: &str = "rtech.example.com";

fn spec(region: &str, edge_extra: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"{region}\"\n\n[tags]\nteam = \"web\"\n\n[network]\ncidr = \"10.0.0.0/16\"\naz_count = 2\n\n[ecr]\n[app]\n[edge]\ndomain = \"{DOMAIN}\"\ncertificate_timeout_seconds = 600\n{edge_extra}"
    );
    parse_as("dev", &text)
}

fn ids(rs: &[Resource]) -> Vec<String> {
    rs.iter().map(|r| r.id.to_string()).collect()
}

fn find<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("{id} in {:?}", ids(rs)))
}

fn vname(name: &str) -> String {
    format!("_abc123.{name}.")
}

fn vvalue(name: &str) -> String {
    format!("_XYZ{}.acm-validations.aws.", name.len())
}

/// A DescribeCertificate answer as AWS gives it: the domain among the SANs, in any order and
/// case, names with trailing dots, `RSA-2048`.
fn detail(arn: &str, status: CertificateStatus, with_records: bool) -> CertificateDetail {
    let names = [
        format!("api.{DOMAIN}"),
        DOMAIN.to_string(),
        format!("WWW.{DOMAIN}"),
    ];
    let mut b = CertificateDetail::builder()
        .certificate_arn(arn)
        .domain_name(DOMAIN)
        .status(status.clone())
        .key_algorithm(KeyAlgorithm::from("RSA-2048"))
        .created_at(DateTime::from_secs(1_700_000_000))
        .in_use_by("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1");
    for n in &names {
        b = b.subject_alternative_names(n);
        let mut o = DomainValidation::builder()
            .domain_name(n)
            .validation_method(ValidationMethod::Dns)
            .validation_status(if status == CertificateStatus::Issued {
                DomainStatus::Success
            } else {
                DomainStatus::PendingValidation
            });
        if with_records {
            o = o.resource_record(
                ResourceRecord::builder()
                    .name(vname(&n.to_ascii_lowercase()))
                    .r#type(RecordType::Cname)
                    .value(vvalue(n))
                    .build()
                    .unwrap(),
            );
        }
        b = b.domain_validation_options(o.build().unwrap());
    }
    b.build()
}

/// A certificate of ours tagged `certificate/main`, as observe finds it.
fn found_main(d: &CertificateDetail) -> Found {
    Found {
        id: certificate_id(MAIN),
        detail: d.clone(),
        tags: our_tags("certificate/main"),
    }
}

fn our_tags(id: &str) -> BTreeMap<String, String> {
    let s = spec("eu-west-1", "");
    tags_for(
        "rtech",
        "dev",
        &id.parse().unwrap(),
        &certificate_name("rtech", "dev", id.split('/').nth(1).unwrap()),
        &s.tags,
    )
}

fn plan(desired: &[Resource], observed: &[Observed]) -> Plan {
    diff(&DiffInput {
        project: "rtech",
        env: "dev",
        region: "eu-west-1",
        desired,
        observed,
        schema: &crate::reconcile::schema,
        importable: &crate::reconcile::importable,
        targets: &[],
        replace: &[],
        destroy: false,
    })
    .unwrap()
}

/// Only the ACM changes (the spec also has network, ecr, app …).
fn acm_plan(desired: &[Resource], observed: &[Observed]) -> Vec<(String, String, Vec<String>)> {
    let all = crate::reconcile::expand(&spec("eu-west-1", ""));
    let mut d: Vec<Resource> = desired.to_vec();
    // Everything the ACM resources depend on (the validation records) as if already applied.
    let mut obs: Vec<Observed> = observed.to_vec();
    for r in &all {
        if r.id.kind == "record" && r.id.name.starts_with("validation-") {
            let mut o = Observed::new(r.id.clone(), format!("{}-live", r.id.name));
            o.attrs.insert("fqdn".into(), "x".into());
            obs.push(o);
        }
    }
    d.retain(|r| r.id.kind.starts_with(CERTIFICATE));
    plan(&d, &obs)
        .changes
        .iter()
        .filter(|c| c.id.kind.starts_with(CERTIFICATE))
        .map(|c| {
            (
                c.id.to_string(),
                c.action.to_string(),
                c.fields.iter().map(|f| f.path.clone()).collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// expand

#[test]
fn expand_without_edge_is_empty() {
    let text = "project = \"rtech\"\nenv = \"dev\"\nregion = \"eu-west-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\naz_count = 2\n";
    let s = parse_as("dev", text);
    assert!(expand(&s).is_empty());
}

#[test]
fn expand_main_certificate_and_its_validation() {
    let rs = expand(&spec("eu-west-1", ""));
    assert_eq!(
        ids(&rs),
        ["certificate/main", "certificate_validation/main"]
    );
    let c = find(&rs, "certificate/main");
    assert_eq!(c.get_str("domain_name"), Some(DOMAIN));
    assert_eq!(
        c.props["subject_alternative_names"],
        Value::List(vec![
            Value::str("api.rtech.example.com"),
            Value::str("www.rtech.example.com")
        ])
    );
    assert_eq!(c.get_str("validation_method"), Some("DNS"));
    assert_eq!(c.get_str("key_algorithm"), Some("RSA_2048"));
    assert_eq!(c.get_str("region"), Some("eu-west-1"));
    let tags = tags_of(&c.props);
    assert_eq!(tags[TAG_ID], "certificate/main");
    assert_eq!(tags["team"], "web");
    assert_eq!(tags["Name"], "rtech-dev-cert-main");

    let v = find(&rs, "certificate_validation/main");
    assert_eq!(
        v.props["certificate_arn"],
        Value::reference(&certificate_id(MAIN), "arn")
    );
    assert_eq!(v.props["timeout_seconds"], Value::Int(600));
    // The records are late-initialised: their references order the create only.
    assert!(!v.props.contains_key("records"));
    let late = &v.late_init["records"].default;
    let mut refs = vec![];
    late.refs(&mut refs);
    assert_eq!(
        refs.iter()
            .map(|r| format!("{}.{}", r.resource, r.attr))
            .collect::<Vec<_>>(),
        [
            "record/validation-apex.fqdn",
            "record/validation-www.fqdn",
            "record/validation-api.fqdn"
        ]
    );
    // The dns reconciler declares each of them.
    let dns = crate::reconcile::dns::expand(&spec("eu-west-1", ""));
    for r in &refs {
        assert!(dns.iter().any(|d| d.id == r.resource), "{}", r.resource);
    }
    for r in &refs {
        assert!(v.deps.contains(&r.resource));
    }
    assert!(v.deps.contains(&certificate_id(MAIN)));
}

#[test]
fn expand_cloudfront_certificate_only_outside_us_east_1() {
    let rs = expand(&spec("eu-west-1", "[edge.cloudfront]\n"));
    assert_eq!(
        ids(&rs),
        [
            "certificate/main",
            "certificate_validation/main",
            "certificate/cloudfront",
            "certificate_validation/cloudfront"
        ]
    );
    let cf = find(&rs, "certificate/cloudfront");
    assert_eq!(cf.get_str("region"), Some("us-east-1"));
    assert_eq!(cf.get_str("domain_name"), Some(DOMAIN));
    assert_eq!(tags_of(&cf.props)[TAG_ID], "certificate/cloudfront");
    assert_eq!(
        find(&rs, "certificate_validation/cloudfront").props["certificate_arn"],
        Value::reference(&certificate_id(CLOUDFRONT), "arn")
    );
    // In us-east-1 the main certificate serves CloudFront too.
    let rs = expand(&spec("us-east-1", "[edge.cloudfront]\n"));
    assert_eq!(
        ids(&rs),
        ["certificate/main", "certificate_validation/main"]
    );
    assert_eq!(
        find(&rs, "certificate/main").get_str("region"),
        Some("us-east-1")
    );
}

// ---------------------------------------------------------------------------------------------
// normalisation, through the real diff

#[test]
fn describe_output_normalises_to_the_desired_shape() {
    let d = detail(ARN, CertificateStatus::Issued, true);
    let o = observe_certificate(certificate_id(MAIN), &d, &our_tags("certificate/main"));
    assert_eq!(o.physical_id, ARN);
    assert_eq!(o.get_str("key_algorithm"), Some("RSA_2048"));
    assert_eq!(o.get_str("region"), Some("eu-west-1"));
    assert_eq!(
        o.props["subject_alternative_names"],
        Value::List(vec![
            Value::str("api.rtech.example.com"),
            Value::str("www.rtech.example.com")
        ])
    );
    // attrs: the labels, lowercase, no trailing dot.
    assert_eq!(o.attrs["arn"], ARN);
    assert_eq!(o.attrs["status"], "ISSUED");
    assert_eq!(o.attrs["validation_name.apex"], "_abc123.rtech.example.com");
    assert_eq!(
        o.attrs["validation_name.www"],
        "_abc123.www.rtech.example.com"
    );
    assert_eq!(
        o.attrs["validation_value.www"],
        "_xyz21.acm-validations.aws"
    );
    assert!(o.attrs.contains_key("validation_name.api"));

    let desired = expand(&spec("eu-west-1", ""));
    let v = observe_validation(
        MAIN,
        &d,
        desired[1]
            .props
            .get("timeout_seconds")
            .and_then(Value::as_int),
    )
    .unwrap();
    assert_eq!(v.physical_id, ARN);
    assert_eq!(v.attrs["arn"], ARN);
    assert!(v.deps.contains(&certificate_id(MAIN)));
    assert_eq!(acm_plan(&desired, &[o, v]), vec![]);
}

#[test]
fn drift_in_tags_is_an_update_and_other_fields_replace() {
    let desired = expand(&spec("eu-west-1", ""));
    let d = detail(ARN, CertificateStatus::Issued, true);
    let mut tags = our_tags("certificate/main");
    tags.insert("team".into(), "other".into());
    tags.insert("owner".into(), "someone".into());
    let o = observe_certificate(certificate_id(MAIN), &d, &tags);
    let v = observe_validation(MAIN, &d, Some(600)).unwrap();
    assert_eq!(
        acm_plan(&desired, &[o.clone(), v.clone()]),
        vec![(
            "certificate/main".to_string(),
            "update".to_string(),
            vec!["tags.owner".to_string(), "tags.team".to_string()]
        )]
    );
    // A certificate for another domain (the spec's changed) is replaced; so is the validation
    // (it waits for the new one, whose ARN its users see as known after apply).
    let o2 = o.clone().prop("domain_name", Value::str("old.example.com"));
    let p = acm_plan(&desired, &[o2, v]);
    assert_eq!(p[0].0, "certificate/main");
    assert_eq!(p[0].1, "replace");
    assert_eq!(p[1].0, "certificate_validation/main");
    assert_eq!(p[1].1, "replace");
}

#[test]
fn a_pending_certificate_has_no_validation_so_the_plan_waits() {
    let desired = expand(&spec("eu-west-1", ""));
    let d = detail(ARN, CertificateStatus::PendingValidation, true);
    let o = observe_certificate(certificate_id(MAIN), &d, &our_tags("certificate/main"));
    assert_eq!(o.attrs["status"], "PENDING_VALIDATION");
    assert!(observe_validation(MAIN, &d, None).is_none());
    assert_eq!(
        acm_plan(&desired, &[o]),
        vec![(
            "certificate_validation/main".to_string(),
            "create".to_string(),
            vec![
                "certificate_arn".to_string(),
                "records".to_string(),
                "timeout_seconds".to_string()
            ]
        )]
    );
}

#[test]
fn records_not_published_yet_leave_the_attrs_out() {
    let d = detail(ARN, CertificateStatus::PendingValidation, false);
    assert!(!records_complete(&d));
    let a = certificate_attrs(&d);
    assert!(!a.contains_key("validation_name.apex"));
    assert!(records_complete(&detail(
        ARN,
        CertificateStatus::PendingValidation,
        true
    )));
    // No validation options at all (an imported certificate) is not complete either.
    assert!(!records_complete(
        &CertificateDetail::builder().certificate_arn(ARN).build()
    ));
}

#[test]
fn labels_and_names() {
    assert_eq!(label_of(DOMAIN, "rtech.example.com."), Some("apex"));
    assert_eq!(label_of(DOMAIN, "WWW.rtech.example.com"), Some("www"));
    assert_eq!(label_of(DOMAIN, "api.rtech.example.com"), Some("api"));
    assert_eq!(label_of(DOMAIN, "other.rtech.example.com"), None);
    assert_eq!(normalise_name("_A.Example.COM."), "_a.example.com");
    assert_eq!(normalise_key_algorithm("EC-prime256v1"), "EC_prime256v1");
    assert_eq!(arn_region(ARN), Some("eu-west-1"));
    assert_eq!(arn_region("nope"), None);
}

// ---------------------------------------------------------------------------------------------
// ownership and duplicates

#[test]
fn ownership_needs_project_env_and_a_certificate_id() {
    let t = our_tags("certificate/main");
    assert_eq!(owned_id("rtech", "dev", &t), Some(certificate_id(MAIN)));
    assert_eq!(owned_id("rtech", "prod", &t), None);
    assert_eq!(owned_id("other", "dev", &t), None);
    let mut t2 = t.clone();
    t2.insert(TAG_ID.into(), "load_balancer/main".into());
    assert_eq!(owned_id("rtech", "dev", &t2), None);
    assert_eq!(owned_id("rtech", "dev", &BTreeMap::new()), None);
}

#[test]
fn duplicates_of_an_id_are_observed_apart_so_the_plan_deletes_them() {
    let newer =
        "arn:aws:acm:eu-west-1:123456789012:certificate/99999999-0000-0000-0000-000000000000";
    let older = detail(ARN, CertificateStatus::Issued, true);
    let mut b = detail(newer, CertificateStatus::Issued, true);
    b.created_at = Some(DateTime::from_secs(1_800_000_000));
    let pending_old = {
        let mut p = detail(
            "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
            CertificateStatus::PendingValidation,
            true,
        );
        p.created_at = Some(DateTime::from_secs(1_600_000_000));
        p
    };
    let wrong_region = detail(ARN_US, CertificateStatus::Issued, true);
    let desired = expand(&spec("eu-west-1", ""));
    let obs = classify(
        "eu-west-1",
        vec![
            found_main(&b),
            found_main(&pending_old),
            found_main(&wrong_region),
            found_main(&older),
        ],
        &desired,
    );
    let got: Vec<(String, String)> = obs
        .iter()
        .map(|o| (o.id.to_string(), o.physical_id.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            // kept: home region, ISSUED, oldest
            ("certificate/main".to_string(), ARN.to_string()),
            ("certificate_validation/main".to_string(), ARN.to_string()),
            (
                "certificate/main~99999999-0000-0000-0000-000000000000".to_string(),
                newer.to_string()
            ),
            (
                "certificate/main~00000000-0000-0000-0000-000000000000".to_string(),
                "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
                    .to_string()
            ),
            (
                "certificate/main~aaaaaaaa-2222-3333-4444-555555555555".to_string(),
                ARN_US.to_string()
            ),
        ]
    );
    let p = acm_plan(&desired, &obs);
    let mut deletes: Vec<&str> = p
        .iter()
        .filter(|(_, a, _)| a == "delete")
        .map(|(id, _, _)| id.as_str())
        .collect();
    deletes.sort();
    assert_eq!(deletes.len(), 3);
    assert!(deletes.iter().all(|d| d.starts_with("certificate/main~")));
    assert_eq!(p.len(), 3, "nothing else changes: {p:?}");
}

#[test]
fn the_cloudfront_certificate_belongs_in_us_east_1() {
    let t = our_tags("certificate/cloudfront");
    let obs = classify(
        "eu-west-1",
        vec![Found {
            id: certificate_id(CLOUDFRONT),
            detail: detail(ARN_US, CertificateStatus::Issued, true),
            tags: t,
        }],
        &[],
    );
    assert_eq!(obs[0].id, certificate_id(CLOUDFRONT));
    assert_eq!(obs[0].get_str("region"), Some("us-east-1"));
    // destroy (no desired): the validation has no timeout to echo, and is still observed
    assert_eq!(obs[1].id, validation_id(CLOUDFRONT));
    assert!(!obs[1].props.contains_key("timeout_seconds"));
}

// ---------------------------------------------------------------------------------------------
// idempotency token

#[test]
fn the_idempotency_token_is_stable_short_and_specific() {
    let rs = expand(&spec("eu-west-1", ""));
    let c = find(&rs, "certificate/main");
    let t = idempotency_token("rtech", "dev", &c.id, &c.props, 0);
    assert_eq!(t.len(), 32);
    assert!(t.chars().all(|ch| ch.is_ascii_alphanumeric()));
    // Same inputs (a re-run), same token; a second expansion too.
    let again = expand(&spec("eu-west-1", ""));
    let c2 = find(&again, "certificate/main");
    assert_eq!(t, idempotency_token("rtech", "dev", &c2.id, &c2.props, 0));
    // Anything else differs: env, id, props, attempt.
    assert_ne!(t, idempotency_token("rtech", "prod", &c.id, &c.props, 0));
    assert_ne!(
        t,
        idempotency_token("rtech", "dev", &certificate_id(CLOUDFRONT), &c.props, 0)
    );
    let other = c
        .clone()
        .prop("domain_name", Value::str("other.example.com"));
    assert_ne!(t, idempotency_token("rtech", "dev", &c.id, &other.props, 0));
    assert_ne!(t, idempotency_token("rtech", "dev", &c.id, &c.props, 1));
    // Pinned: a change here would break the dedup of a re-run across an upgrade.
    assert_eq!(
        idempotency_token(
            "p",
            "e",
            &certificate_id(MAIN),
            &crate::model::Props::new(),
            0
        ),
        {
            let mut h = Sha256::new();
            h.update(b"p\ne\ncertificate/main\n0\n{}");
            hex::encode(h.finalize())[..32].to_string()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// validation: states and the timeout message

#[test]
fn issue_states() {
    assert_eq!(
        issue_state(&detail(ARN, CertificateStatus::Issued, true)),
        Issue::Issued
    );
    assert_eq!(
        issue_state(&detail(ARN, CertificateStatus::PendingValidation, true)),
        Issue::Pending
    );
    for s in [
        CertificateStatus::Failed,
        CertificateStatus::ValidationTimedOut,
        CertificateStatus::Revoked,
    ] {
        let mut d = detail(ARN, s.clone(), true);
        d.failure_reason = Some(FailureReason::CaaError);
        match issue_state(&d) {
            Issue::Failed(m) => {
                assert!(m.contains(ARN), "{m}");
                assert!(m.contains(s.as_str()), "{m}");
                assert!(m.contains("CAA_ERROR"), "{m}");
            }
            other => panic!("{s:?}: {other:?}"),
        }
    }
}

fn recs() -> Vec<ValidationRecord> {
    validation_records(&detail(ARN, CertificateStatus::PendingValidation, true))
}

#[test]
fn validation_records_come_in_label_order() {
    let r = recs();
    assert_eq!(
        r.iter().map(|r| r.label.unwrap()).collect::<Vec<_>>(),
        ["apex", "www", "api"]
    );
    assert_eq!(r[0].name, "_abc123.rtech.example.com");
    assert_eq!(r[0].value, "_xyz17.acm-validations.aws");
}

#[test]
fn the_timeout_names_each_missing_record_and_its_expected_value() {
    let r = recs();
    let mut zone = ZoneRecords::new();
    // apex present and right; www has another value; api absent
    zone.insert(r[0].name.clone(), vec![r[0].value.clone()]);
    zone.insert(r[1].name.clone(), vec!["_stale.acm-validations.aws".into()]);
    let m = timeout_message(ARN, 600, &r, Some(DOMAIN), Some(&zone));
    assert!(m.contains(ARN), "{m}");
    assert!(m.contains("600s"), "{m}");
    assert!(m.contains("missing from zone rtech.example.com"), "{m}");
    assert!(
        m.contains(&format!(
            "{} CNAME {} (the zone has _stale.acm-validations.aws)",
            r[1].name, r[1].value
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!("{} CNAME {}", r[2].name, r[2].value)),
        "{m}"
    );
    assert!(
        !m.contains(&format!("{} CNAME", r[0].name)),
        "apex is there: {m}"
    );
}

#[test]
fn the_timeout_with_every_record_present_says_dns_may_be_propagating() {
    let r = recs();
    let zone: ZoneRecords = r
        .iter()
        .map(|x| (x.name.clone(), vec![x.value.clone()]))
        .collect();
    let m = timeout_message(ARN, 30, &r, Some(DOMAIN), Some(&zone));
    assert!(m.contains(ARN), "{m}");
    assert!(m.contains("all 3 validation records are present"), "{m}");
    assert!(m.contains("propagating"), "{m}");
}

#[test]
fn the_timeout_without_a_zone_lists_every_record() {
    let r = recs();
    let m = timeout_message(ARN, 30, &r, None, None);
    assert!(m.contains("no Route 53 hosted zone"), "{m}");
    for x in &r {
        assert!(m.contains(&format!("{} CNAME {}", x.name, x.value)), "{m}");
    }
    let m = timeout_message(ARN, 30, &[], Some(DOMAIN), None);
    assert!(m.contains("no validation record yet"), "{m}");
}

// ---------------------------------------------------------------------------------------------
// delete: in use (AWS's ResourceInUseException, which the emulator never raises)

fn in_use() -> AwsError {
    AwsError::new(
        "acm:DeleteCertificate",
        "ResourceInUseException",
        "Certificate is in use",
    )
}

#[tokio::test(start_paused = true)]
async fn delete_retries_while_in_use_then_succeeds() {
    let calls = AtomicUsize::new(0);
    let statuses = std::sync::Mutex::new(vec![]);
    let r = delete_with_retry(
        ARN,
        Duration::from_secs(600),
        &|m| statuses.lock().unwrap().push(m.to_string()),
        || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(in_use())
                } else {
                    Ok(())
                }
            }
        },
        || async { panic!("not asked while it succeeds in time") },
    )
    .await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let st = statuses.lock().unwrap();
    assert_eq!(st.len(), 2);
    assert!(st[0].contains("still in use"), "{st:?}");
    assert!(st[0].contains("retrying in 1s"), "{st:?}");
    assert!(st[1].contains("retrying in 2s"), "backs off: {st:?}");
}

#[tokio::test(start_paused = true)]
async fn delete_still_in_use_at_the_timeout_names_the_users() {
    let start = tokio::time::Instant::now();
    let r = delete_with_retry(
        ARN,
        Duration::from_secs(600),
        &|_| {},
        || async { Err(in_use()) },
        || async {
            Ok(vec![
                "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/rtech-dev-alb/1".into(),
                "arn:aws:cloudfront::1:distribution/E123".into(),
            ])
        },
    )
    .await;
    let e = r.unwrap_err();
    assert_eq!(e.code, "ResourceInUseException");
    assert_eq!(e.op, "acm:DeleteCertificate");
    assert!(e.message.contains(ARN), "{e}");
    assert!(
        e.message.contains("loadbalancer/app/rtech-dev-alb/1"),
        "{e}"
    );
    assert!(e.message.contains("distribution/E123"), "{e}");
    // Retried with backoff up to the timeout, and says how long.
    let waited = start.elapsed();
    assert!(
        waited > Duration::from_secs(500) && waited <= Duration::from_secs(600),
        "{waited:?}"
    );
    assert!(
        e.message.contains(&format!("after {}s", waited.as_secs())),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn delete_fails_at_once_on_other_errors_and_succeeds_when_already_gone() {
    let calls = AtomicUsize::new(0);
    let r = delete_with_retry(
        ARN,
        Duration::from_secs(600),
        &|_| {},
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(AwsError::new(
                    "acm:DeleteCertificate",
                    "AccessDeniedException",
                    "no",
                ))
            }
        },
        || async { Ok(vec![]) },
    )
    .await;
    assert_eq!(r.unwrap_err().code, "AccessDeniedException");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let r = delete_with_retry(
        ARN,
        Duration::from_secs(600),
        &|_| {},
        || async {
            Err(AwsError::new(
                "acm:DeleteCertificate",
                "ResourceNotFoundException",
                "gone",
            ))
        },
        || async { Ok(vec![]) },
    )
    .await;
    assert!(r.is_ok());
}

#[test]
fn in_use_error_without_users_says_it_may_be_detaching() {
    let e = in_use_error(ARN, &[], Duration::from_secs(600));
    assert!(e.message.contains("detaching"), "{e}");
    assert!(e.message.contains("600s"), "{e}");
}

#[test]
fn new_names_replace_the_certificate_by_creating_first() {
    let desired = expand(&spec("eu-west-1", ""));
    let d = detail(ARN, CertificateStatus::Issued, true);
    let o = observe_certificate(certificate_id(MAIN), &d, &our_tags("certificate/main"))
        .prop("domain_name", Value::str("old.example.com"));
    let p = plan(
        &desired
            .iter()
            .filter(|r| r.id.kind == CERTIFICATE)
            .cloned()
            .collect::<Vec<_>>(),
        &[o],
    );
    let c = p
        .changes
        .iter()
        .find(|c| c.id == certificate_id(MAIN))
        .unwrap();
    assert_eq!(c.action, crate::plan::Action::Replace);
    assert!(c.create_first, "{c:?}");
    assert_eq!(c.symbol(), "+/-");
    let text = crate::plan::render::text(
        &p,
        crate::plan::render::Style { color: false },
        "envs/dev.toml",
    );
    assert!(
        text.contains("+/- certificate/main"),
        "the plan says it creates first: {text}"
    );
    assert_eq!(
        crate::plan::render::json(&p)["changes"][0]["create_before_destroy"],
        true
    );
}

#[test]
fn after_an_interrupted_replace_the_certificate_for_the_specs_names_is_kept() {
    // The old certificate (older, ISSUED) names another domain; the new one (newer) the spec's.
    let newer =
        "arn:aws:acm:eu-west-1:123456789012:certificate/99999999-0000-0000-0000-000000000000";
    let mut old = detail(ARN, CertificateStatus::Issued, true);
    old.domain_name = Some("old.example.com".into());
    let mut new = detail(newer, CertificateStatus::Issued, true);
    new.created_at = Some(DateTime::from_secs(1_800_000_000));
    let desired = expand(&spec("eu-west-1", ""));
    let obs = classify(
        "eu-west-1",
        vec![found_main(&old), found_main(&new)],
        &desired,
    );
    let kept = obs.iter().find(|o| o.id == certificate_id(MAIN)).unwrap();
    assert_eq!(kept.physical_id, newer);
    assert!(obs
        .iter()
        .any(|o| o.physical_id == ARN && o.id.name.starts_with("main~")));
    // So the next plan only deletes the old one.
    let p = acm_plan(&desired, &obs);
    assert!(
        p.iter()
            .all(|(id, a, _)| a == "delete" && id.starts_with("certificate/main~")),
        "{p:?}"
    );
}

#[test]
fn the_index_stands_for_the_list_only_when_it_holds_every_wanted_certificate() {
    use crate::reconcile::kit::tag_index::TagIndex;
    let mut other_env = our_tags("certificate/main");
    other_env.insert("rtech:env".into(), "staging".into());
    let index = TagIndex::from_pairs([
        (ARN.to_string(), our_tags("certificate/main")),
        (
            "arn:aws:acm:us-east-1:123456789012:certificate/theirs".to_string(),
            other_env,
        ),
        (
            "arn:aws:sns:us-east-1:123456789012:alerts".to_string(),
            our_tags("sns_topic/alerts"),
        ),
    ]);
    let region = ARN.split(':').nth(3).unwrap();
    let listed = indexed_certificates(&index, "rtech", "dev", region);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, certificate_id("main"));
    assert_eq!(listed[0].1, ARN);
    let want = |names: &[&str]| names.iter().map(|n| certificate_id(n)).collect();
    assert!(index_covers(&want(&["main"]), &listed));
    // A destroy (no spec) reads what the index lists; a wanted certificate it does not list
    // (to create, or tagged too recently) sends observe to ListCertificates.
    assert!(index_covers(&want(&[]), &listed));
    assert!(!index_covers(&want(&["main", "cloudfront"]), &listed));
    assert!(!index_covers(&want(&["main"]), &[]));
    // Another region's index holds none of them.
    assert!(indexed_certificates(&index, "rtech", "dev", "eu-west-9").is_empty());
}
