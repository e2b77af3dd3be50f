//! `certificate_validation/main` (and `/cloudfront`): a virtual resource, "the certificate is
//! ISSUED". Props: `certificate_arn` (a reference to the certificate's `arn`), `records` (the
//! validation records' `fqdn`s, so it runs after the `record/validation-*` records) and
//! `timeout_seconds` (`edge.certificate_timeout_seconds`).
//! - observed as existing (physical id = the certificate ARN) when its certificate is ISSUED; a
//!   PENDING_VALIDATION (or failed) certificate has no validation, so the plan shows a create,
//!   which is the wait.
//! - no perpetual diff: `records` is late-initialised (the live value once the validation
//!   exists; observe reports the certificate's validation record names there), so its
//!   references only order the create; `timeout_seconds` is echoed from the desired resource
//!   (how long to wait is not a property of AWS's certificate).
//! - create/update: wait for ISSUED (progress, timeout `timeout_seconds`). On timeout the error
//!   names the certificate and each validation CNAME missing from (or different in) the
//!   Route 53 zone (`Ctx.zone`, else the closest parent zone of the domain, found with
//!   ListHostedZonesByName; records read with ListResourceRecordSets), or says that they are
//!   all there and DNS may still be propagating ([`timeout_message`]). FAILED,
//!   VALIDATION_TIMED_OUT, REVOKED, EXPIRED, INACTIVE end the wait with an error at once.
//!   The SDK's `certificate_validated` waiter does not fit: it polls every 60 to 120 s, waits
//!   out REVOKED/EXPIRED/INACTIVE, and keeps no detail to name the missing records with.
//! - delete: nothing to do (the certificate's own delete comes after it, and after the
//!   listener and distribution that reference it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus};
use serde::{Deserialize, Serialize};

use super::VALIDATION;
use super::{arn_region, client, describe, normalise_name, validation_records, ValidationRecord};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, until, Link, Poll};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema {
    kind: VALIDATION,
    // Another certificate is another validation: what uses it (the listener, the
    // distribution) then sees the new certificate's ARN as known after apply.
    force_new: &["certificate_arn"],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationProps {
    pub certificate_arn: Link,
    /// The validation records' names: late-initialised (see the module doc), so absent from
    /// the spec's side until the plan fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Link>>,
    /// Echoed from the desired resource by observe; absent when nothing is desired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

/// Where a certificate stands for its validation (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum Issue {
    Issued,
    Pending,
    /// Will never be issued: the message says why.
    Failed(String),
}

pub fn issue_state(d: &CertificateDetail) -> Issue {
    let arn = d.certificate_arn().unwrap_or_default();
    match d.status() {
        Some(CertificateStatus::Issued) => Issue::Issued,
        Some(CertificateStatus::PendingValidation) | None => Issue::Pending,
        Some(s) => {
            let reason = d
                .failure_reason()
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default();
            Issue::Failed(format!(
                "certificate {arn} is {}{reason} and will not be issued: delete it (rtech destroy, or aws acm delete-certificate) and apply again to request a new one",
                s.as_str()
            ))
        }
    }
}

/// What Route 53 holds for each validation name (CNAME values, normalised); a name absent
/// from the map is absent from the zone.
pub type ZoneRecords = BTreeMap<String, Vec<String>>;

/// The timeout error's text (pure): the certificate, and each validation record missing from
/// the zone (or with another value), or that all are present.
pub fn timeout_message(
    arn: &str,
    waited_seconds: u64,
    records: &[ValidationRecord],
    zone: Option<&str>,
    found: Option<&ZoneRecords>,
) -> String {
    let mut uniq: Vec<&ValidationRecord> = vec![];
    for r in records {
        if !uniq.iter().any(|u| u.name == r.name) {
            uniq.push(r);
        }
    }
    let head = format!(
        "certificate {arn} is still PENDING_VALIDATION after {waited_seconds}s (edge.certificate_timeout_seconds)"
    );
    let list = |rs: &[&ValidationRecord], found: Option<&ZoneRecords>| {
        rs.iter()
            .map(|r| {
                let now = match found.and_then(|f| f.get(&r.name)) {
                    Some(v) if !v.is_empty() => format!(" (the zone has {})", v.join(", ")),
                    _ => String::new(),
                };
                format!("{} CNAME {}{now}", r.name, r.value)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (zone, found) {
        _ if uniq.is_empty() => {
            format!("{head}; ACM has published no validation record yet")
        }
        (None, _) | (_, None) => format!(
            "{head}; no Route 53 hosted zone found for it: the validation records must exist in the domain's DNS: {}",
            list(&uniq, None)
        ),
        (Some(z), Some(f)) => {
            let missing: Vec<&ValidationRecord> = uniq
                .iter()
                .copied()
                .filter(|r| !f.get(&r.name).is_some_and(|v| v.contains(&r.value)))
                .collect();
            if missing.is_empty() {
                format!(
                    "{head}; all {} validation records are present in zone {z}: DNS may still be propagating (ACM takes minutes, sometimes hours): apply again later",
                    uniq.len()
                )
            } else {
                format!(
                    "{head}; missing from zone {z}: {}",
                    list(&missing, Some(f))
                )
            }
        }
    }
}

/// The public hosted zone holding `domain`: `Ctx.zone` when known, else the closest parent
/// that exists (ListHostedZonesByName). Returns (zone id, zone name).
async fn find_zone(ctx: &Ctx, domain: &str) -> Result<Option<(String, String)>, AwsError> {
    let candidates: Vec<String> = match &ctx.zone {
        Some(z) => vec![normalise_name(z)],
        None => {
            let labels: Vec<&str> = domain.split('.').collect();
            (0..labels.len().saturating_sub(1))
                .map(|i| labels[i..].join("."))
                .collect()
        }
    };
    for name in candidates {
        let out = ctx
            .clients
            .route53
            .list_hosted_zones_by_name()
            .dns_name(&name)
            .max_items(10)
            .send()
            .await
            .map_err(aws("route53:ListHostedZonesByName"))?;
        if let Some(z) = out.hosted_zones().iter().find(|z| {
            normalise_name(z.name()) == name && !z.config().is_some_and(|c| c.private_zone())
        }) {
            let id = z.id().trim_start_matches("/hostedzone/").to_string();
            return Ok(Some((id, name)));
        }
    }
    Ok(None)
}

/// The CNAME values Route 53 holds for each validation name (one ListResourceRecordSets each).
async fn zone_records(
    ctx: &Ctx,
    zone_id: &str,
    records: &[ValidationRecord],
) -> Result<ZoneRecords, AwsError> {
    let mut out = ZoneRecords::new();
    let names: BTreeSet<&str> = records.iter().map(|r| r.name.as_str()).collect();
    for name in names {
        let sets = ctx
            .clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .start_record_type(aws_sdk_route53::types::RrType::Cname)
            .max_items(1)
            .send()
            .await
            .map_err(aws("route53:ListResourceRecordSets"))?;
        if let Some(s) = sets.resource_record_sets().iter().find(|s| {
            normalise_name(s.name()) == name && *s.r#type() == aws_sdk_route53::types::RrType::Cname
        }) {
            out.insert(
                name.to_string(),
                s.resource_records()
                    .iter()
                    .map(|v| normalise_name(v.value()))
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn validation_attrs(arn: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("status".into(), "ISSUED".into());
    a
}

pub struct CertificateValidation;

#[async_trait]
impl Kind for CertificateValidation {
    crate::typed_kind!(SCHEMA, ValidationProps);

    /// Wait until the certificate is ISSUED (progress; timeout from `timeout_seconds`).
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: ValidationProps = from_props(&r.props)?;
        let arn = p.certificate_arn.require("certificate_arn")?.to_string();
        let c = client(ctx, arn_region(&arn).unwrap_or(&ctx.region));
        let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1800).max(1) as u64);
        let start = Instant::now();
        let last: Mutex<Option<CertificateDetail>> = Mutex::new(None);
        let what = format!("certificate {arn} to be issued");
        let waited = until(
            Poll {
                op: "acm:DescribeCertificate",
                what: &what,
                pending: &["PENDING_VALIDATION"],
                target: &["ISSUED"],
                timeout,
            },
            task,
            || async {
                let d = describe(c, &arn).await?;
                let state = match issue_state(&d) {
                    Issue::Issued => "ISSUED",
                    Issue::Pending => "PENDING_VALIDATION",
                    Issue::Failed(m) => {
                        return Err(AwsError::new(
                            "acm:DescribeCertificate",
                            d.status().map(|s| s.as_str()).unwrap_or("Failed"),
                            m,
                        ))
                    }
                };
                let pending = d
                    .domain_validation_options()
                    .iter()
                    .filter(|o| o.validation_status().map(|s| s.as_str()) != Some("SUCCESS"))
                    .count();
                if state != "ISSUED" {
                    task.status(&format!(
                        "waiting for certificate {arn} to be issued: {pending} name(s) pending DNS validation ({}s of {}s)",
                        start.elapsed().as_secs(),
                        timeout.as_secs()
                    ));
                }
                *last.lock().expect("not poisoned") = Some(d);
                Ok((state.to_string(), ()))
            },
        )
        .await;
        match waited {
            Ok(()) => return Ok(validation_attrs(&arn)),
            Err(e) if e.is("WaitTimeout") => {}
            Err(e) => return Err(e),
        }
        let detail = last
            .lock()
            .expect("not poisoned")
            .take()
            .unwrap_or_else(|| CertificateDetail::builder().build());
        // Timed out: say which records are missing from the zone.
        let records = validation_records(&detail);
        let domain = normalise_name(detail.domain_name().unwrap_or_default());
        task.status("timed out: checking the validation records in Route 53");
        let (zone, found) = match find_zone(ctx, &domain).await {
            Ok(Some((id, name))) => match zone_records(ctx, &id, &records).await {
                Ok(f) => (Some(name), Some(f)),
                Err(_) => (Some(name), None),
            },
            _ => (None, None),
        };
        Err(AwsError::new(
            "acm:DescribeCertificate",
            "CertificateValidationTimeout",
            timeout_message(
                &arn,
                start.elapsed().as_secs(),
                &records,
                zone.as_deref(),
                found.as_ref(),
            ),
        ))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        self.create(ctx, u.desired, task).await
    }

    /// The validation is virtual: its certificate's delete is what removes anything.
    async fn delete(&self, _ctx: &Ctx, _o: &Observed, _task: &Task) -> Result<(), AwsError> {
        Ok(())
    }
}
