//! ACM: the env's TLS certificates ([`certificate`]) and their DNS validation
//! ([`validation`]); observe in [`observe`].
//!
//! `certificate/main` is in the env's region (the HTTPS listener's). `certificate/cloudfront`
//! is the same in us-east-1 (the only region CloudFront takes certificates from), only with
//! `[edge.cloudfront]` and an env region other than us-east-1 (else CloudFront uses
//! `certificate/main`). Each has a `certificate_validation` of the same name: the wait until
//! it is ISSUED.

pub mod certificate;
mod iam;
pub mod observe;
pub mod validation;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, KeyAlgorithm, Tag};
use aws_sdk_acm::Client;

use crate::aws::{aws, AwsError, Required, CLOUDFRONT_CERT_REGION};
use crate::model::{tag_pairs, tags_for, Observed, Resource, ResourceId, Value};
use crate::reconcile::kit::{to_props, Link};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub use certificate::CertificateProps;
#[cfg(test)]
pub use certificate::{delete_with_retry, idempotency_token, in_use_error};
pub use observe::*;
pub use validation::ValidationProps;
#[cfg(test)]
pub use validation::{issue_state, timeout_message, Issue, ZoneRecords};

pub const CERTIFICATE: &str = "certificate";
pub const VALIDATION: &str = "certificate_validation";
pub const MAIN: &str = "main";
pub const CLOUDFRONT: &str = "cloudfront";

/// The names a certificate covers, by label: the apex, then `www.` and `api.`.
pub const LABELS: &[&str] = &["apex", "www", "api"];

const KINDS: &[&dyn Kind] = &[
    &certificate::Certificate,
    &validation::CertificateValidation,
];

pub fn certificate_id(name: &str) -> ResourceId {
    ResourceId::new(CERTIFICATE, name)
}

pub fn validation_id(name: &str) -> ResourceId {
    ResourceId::new(VALIDATION, name)
}

/// The dns engineer's validation CNAME for a label (`record/validation-<label>`).
pub fn validation_record_id(label: &str) -> ResourceId {
    ResourceId::new("record", format!("validation-{label}"))
}

/// `{project}-{env}-cert-{name}` (the Name tag; certificates have no name of their own).
pub fn certificate_name(project: &str, env: &str, name: &str) -> String {
    format!("{project}-{env}-cert-{name}")
}

/// Lowercase, without the trailing dot: how names are compared and published.
pub fn normalise_name(s: &str) -> String {
    s.trim_end_matches('.').to_ascii_lowercase()
}

/// The label of `name` on a certificate for `domain`: apex, www or api.
pub fn label_of(domain: &str, name: &str) -> Option<&'static str> {
    let (d, n) = (normalise_name(domain), normalise_name(name));
    if n == d {
        Some("apex")
    } else if n == format!("www.{d}") {
        Some("www")
    } else if n == format!("api.{d}") {
        Some("api")
    } else {
        None
    }
}

/// The region of an ARN (`arn:aws:acm:<region>:…`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The ACM client for a region: the env's, or us-east-1's.
fn client<'a>(ctx: &'a Ctx, region: &str) -> &'a Client {
    if region == CLOUDFRONT_CERT_REGION && ctx.region != CLOUDFRONT_CERT_REGION {
        &ctx.clients.acm_us_east_1
    } else {
        &ctx.clients.acm
    }
}

/// The region a certificate of this name belongs in.
fn home_region<'a>(name: &str, env_region: &'a str) -> &'a str {
    if name == CLOUDFRONT {
        CLOUDFRONT_CERT_REGION
    } else {
        env_region
    }
}

// ---------------------------------------------------------------------------------------------
// expand

/// Spec → Desired (pure): with `[edge]`, `certificate/main` and its validation; with
/// `[edge.cloudfront]` outside us-east-1, `certificate/cloudfront` and its validation too.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(edge) = &spec.edge else {
        return vec![];
    };
    // The validation CNAMEs the dns service writes (`record/validation-<label>`, all three
    // with [edge]): on AWS a name's validation CNAME is the same for every certificate of the
    // account, so they validate certificate/cloudfront too.
    // `records` is late-initialised (see `validation`): its references only order the wait
    // after the records.
    let records = Value::List(
        LABELS
            .iter()
            .map(|l| Value::reference(&validation_record_id(l), "fqdn"))
            .collect(),
    );
    let mut names = vec![(MAIN, spec.region.as_str())];
    if edge.cloudfront.is_some() && spec.region != CLOUDFRONT_CERT_REGION {
        names.push((CLOUDFRONT, CLOUDFRONT_CERT_REGION));
    }
    let mut out = vec![];
    for (name, region) in names {
        let id = certificate_id(name);
        let display = certificate_name(&spec.project, &spec.env, name);
        let tags = tags_for(&spec.project, &spec.env, &id, &display, &spec.tags);
        let domain = &edge.domain;
        let mut sans = vec![format!("www.{domain}"), format!("api.{domain}")];
        sans.sort();
        out.push(
            Resource::new(id.clone(), &display).with_props(to_props(&CertificateProps {
                domain_name: domain.clone(),
                subject_alternative_names: sans,
                validation_method: Some("DNS".into()),
                key_algorithm: Some(KeyAlgorithm::Rsa2048.as_str().into()),
                region: Some(region.into()),
                tags,
            })),
        );
        out.push(
            Resource::new(validation_id(name), &display)
                .dep(&id)
                .late("records", records.clone())
                .with_props(to_props(&ValidationProps {
                    certificate_arn: Link::to(&id, "arn"),
                    records: None,
                    timeout_seconds: Some(edge.certificate_timeout_seconds),
                })),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// the calls

fn acm_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

// Certificate tags through AddTagsToCertificate / RemoveTagsFromCertificate; a tag given
// without its value is removed whatever its value.
crate::tag_api!(AcmTags, Client,
    untag "acm:RemoveTagsFromCertificate" => |c, arn, keys| c.remove_tags_from_certificate()
        .certificate_arn(arn)
        .set_tags(Some(keys.iter().filter_map(|k| Tag::builder().key(k).build().ok()).collect())),
    tag "acm:AddTagsToCertificate" => |c, arn, tags| c.add_tags_to_certificate()
        .certificate_arn(arn)
        .set_tags(Some(acm_tags(&tags))));

async fn describe(c: &Client, arn: &str) -> Result<CertificateDetail, AwsError> {
    c.describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(aws("acm:DescribeCertificate"))?
        .certificate
        .required(
            "acm:DescribeCertificate",
            format!("no certificate detail for {arn}"),
        )
}

async fn list_tags(c: &Client, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = c
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(aws("acm:ListTagsForCertificate"))?;
    Ok(tag_pairs(
        out.tags().iter().map(|t| (Some(t.key()), t.value())),
    ))
}

/// Our certificates in one region (ListCertificates, then tags of the candidates, then
/// DescribeCertificate of ours).
pub struct Acm;

#[async_trait]
impl Service for Acm {
    fn outputs(&self, observed: &[Observed]) -> Vec<crate::reconcile::kit::outputs::Output> {
        let certs: serde_json::Map<String, serde_json::Value> =
            crate::reconcile::kit::outputs::owned(observed, "certificate", "")
                .iter()
                .map(|o| {
                    (
                        o.id.name.clone(),
                        serde_json::json!({
                            "arn": o.attrs.get("arn").cloned().unwrap_or_else(|| o.physical_id.clone()),
                            "status": o.attrs.get("status"),
                        }),
                    )
                })
                .collect();
        vec![("certificates", certs.into())]
    }

    crate::service_basics!("acm", KINDS, expand, iam::GRANTS);
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe::observe(ctx, desired).await
    }
}

#[cfg(test)]
mod tests;
