//! Observe (destroy included, which has no spec): in the env's region, when the env's tag index
//! lists a certificate of ours for each one the spec wants there (in a destroy: always), those
//! it lists are described at once, without ListCertificates: a certificate without our tags
//! for the same names is no conflict (below), and every other one of ours is in the index (one
//! tagged too recently for it is found by the next plan). One it lists that is gone, or a
//! wanted certificate it does not list (a plan that creates it, ours tagged too recently):
//! ListCertificates (paginated, every status
//! and key type) in the env's region, and in us-east-1 too when the env's region is another
//! (destroy has no spec to say whether CloudFront is on); then the tags of every certificate
//! listed: the env's tag index (`kit::tag_index`, the env's region only) holds ours, and
//! ListTagsForCertificate reads each other one (eight at a time: ACM has no tag filter, and a
//! certificate for names the spec no longer has is still ours to replace or delete); then
//! DescribeCertificate for ours (rtech:project, rtech:env and an rtech:id of kind
//! `certificate`). Calls in the env's region: one per certificate of ours with the index (a no-op
//! plan: 1; 4 with the us-east-1 one of another region's env), else 1 + the certificates not
//! ours holding a wanted name + ours. Certificates are not unique by name: one for the same domain
//! without our tags is not a conflict, it is ignored. Two of ours with the same rtech:id (an
//! interrupted apply past AWS's idempotency hour, or an interrupted replace): the one to keep
//! (for the spec's names, in the expected region, ISSUED first, then the oldest) keeps the id,
//! any other is observed as `certificate/<name>~<certificate id>`, which the plan deletes.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, Filters, KeyAlgorithm, ValidationMethod,
};
use aws_sdk_acm::Client;
use futures::{StreamExt, TryStreamExt};

use super::certificate::CertificateProps;
use super::validation::ValidationProps;
use super::{
    arn_region, certificate_id, describe, home_region, label_of, list_tags, normalise_name,
    validation_id, CERTIFICATE, LABELS,
};
use crate::aws::{all_pages, AwsError, CLOUDFRONT_CERT_REGION};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::reconcile::kit::tag_index::TagIndex;
use crate::reconcile::kit::{self, claimed_id, from_props, to_props, Link};
use crate::reconcile::Ctx;

/// ListTagsForCertificate calls in flight at once while observing.
const TAG_PROBES: usize = 8;

/// One validation CNAME of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationRecord {
    /// apex, www, api (None for a name outside those).
    pub label: Option<&'static str>,
    pub domain: String,
    /// Lowercase, no trailing dot.
    pub name: String,
    pub value: String,
}

/// The validation CNAMEs AWS has published so far, in label order (names without a record
/// yet are left out).
pub fn validation_records(d: &CertificateDetail) -> Vec<ValidationRecord> {
    let apex = d.domain_name().unwrap_or_default();
    let mut out: Vec<ValidationRecord> = d
        .domain_validation_options()
        .iter()
        .filter_map(|o| {
            let rr = o.resource_record()?;
            Some(ValidationRecord {
                label: label_of(apex, o.domain_name()),
                domain: normalise_name(o.domain_name()),
                name: normalise_name(rr.name()),
                value: normalise_name(rr.value()),
            })
        })
        .collect();
    out.sort_by_key(|r| {
        (
            r.label
                .and_then(|l| LABELS.iter().position(|x| *x == l))
                .unwrap_or(LABELS.len()),
            r.domain.clone(),
        )
    });
    out
}

/// Whether every name of the certificate has its validation CNAME.
pub fn records_complete(d: &CertificateDetail) -> bool {
    !d.domain_validation_options().is_empty()
        && d.domain_validation_options()
            .iter()
            .all(|o| o.resource_record().is_some())
}

/// `RSA-2048` (what DescribeCertificate says) and `RSA_2048` (what RequestCertificate takes)
/// are one algorithm.
pub fn normalise_key_algorithm(s: &str) -> String {
    s.replace('-', "_")
}

/// What dependants reference: `arn`, `status`, and per label the validation CNAME.
pub fn certificate_attrs(d: &CertificateDetail) -> Attrs {
    let arn = d.certificate_arn().unwrap_or_default();
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert(
        "status".into(),
        d.status()
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
    );
    for r in validation_records(d) {
        if let Some(l) = r.label {
            a.insert(format!("validation_name.{l}"), r.name);
            a.insert(format!("validation_value.{l}"), r.value);
        }
    }
    a
}

/// A live certificate → `Observed` in the desired shape (pure). The subject alternative names
/// are the ones beside the domain (AWS lists the domain among them), sorted.
pub fn observe_certificate(
    id: ResourceId,
    d: &CertificateDetail,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let arn = d.certificate_arn().unwrap_or_default();
    let domain = normalise_name(d.domain_name().unwrap_or_default());
    let sans: BTreeSet<String> = d
        .subject_alternative_names()
        .iter()
        .map(|s| normalise_name(s))
        .filter(|s| *s != domain)
        .collect();
    let methods: BTreeSet<&str> = d
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.validation_method().map(ValidationMethod::as_str))
        .collect();
    let method = (!methods.is_empty()).then(|| methods.into_iter().collect::<Vec<_>>().join(","));
    let props = CertificateProps {
        domain_name: domain,
        subject_alternative_names: sans.into_iter().collect(),
        validation_method: method,
        key_algorithm: d
            .key_algorithm()
            .map(|k| normalise_key_algorithm(k.as_str())),
        region: arn_region(arn).map(str::to_string),
        tags: tags.clone(),
    };
    Observed {
        attrs: certificate_attrs(d),
        ..Observed::new(id, arn).with_props(to_props(&props))
    }
}

/// The validation of a certificate that is ISSUED (pure); None while it is not.
/// `timeout_seconds` is the desired value, echoed (see the module doc).
pub fn observe_validation(
    name: &str,
    d: &CertificateDetail,
    timeout_seconds: Option<i64>,
) -> Option<Observed> {
    if d.status() != Some(&CertificateStatus::Issued) {
        return None;
    }
    let arn = d.certificate_arn().unwrap_or_default();
    let names: BTreeSet<String> = validation_records(d).into_iter().map(|r| r.name).collect();
    let props = ValidationProps {
        certificate_arn: Link::from(arn),
        records: Some(names.into_iter().map(Link::from).collect()),
        timeout_seconds,
    };
    Some(
        Observed::new(validation_id(name), arn)
            .dep(&certificate_id(name))
            .with_props(to_props(&props))
            .attr("arn", arn)
            .attr("status", "ISSUED"),
    )
}

/// Our certificate's id from its tags: project and env ours, rtech:id a certificate.
pub fn owned_id(project: &str, env: &str, tags: &BTreeMap<String, String>) -> Option<ResourceId> {
    claimed_id(tags, project, env).filter(|r| r.kind == CERTIFICATE && !r.name.contains('~'))
}

/// One of our certificates as observe found it.
#[derive(Clone, Debug)]
pub struct Found {
    pub id: ResourceId,
    pub detail: CertificateDetail,
    pub tags: BTreeMap<String, String>,
}

fn status_rank(d: &CertificateDetail) -> u8 {
    match d.status() {
        Some(CertificateStatus::Issued) => 0,
        Some(CertificateStatus::PendingValidation) => 1,
        _ => 2,
    }
}

/// Our certificates → Observed (pure): per rtech:id the one to keep (in its home region, ISSUED
/// before pending before the rest, then the oldest, then by ARN) keeps the id, any other
/// becomes `<name>~<certificate id>`; each kept ISSUED certificate also gives its validation.
pub fn classify(env_region: &str, found: Vec<Found>, desired: &[Resource]) -> Vec<Observed> {
    let mut by_id: BTreeMap<ResourceId, Vec<Found>> = BTreeMap::new();
    for f in found {
        by_id.entry(f.id.clone()).or_default().push(f);
    }
    let mut out = vec![];
    for (id, mut certs) in by_id {
        let home = home_region(&id.name, env_region).to_string();
        let want = desired.iter().find(|r| r.id == id);
        // For the names the spec wants: after a replace that created first was interrupted,
        // the new certificate is the one to keep and the old one the one to delete.
        let other_names = |f: &Found| {
            want.is_some_and(|w| {
                let o = observe_certificate(id.clone(), &f.detail, &f.tags);
                ["domain_name", "subject_alternative_names"]
                    .iter()
                    .any(|k| o.props.get(*k) != w.props.get(*k))
            })
        };
        certs.sort_by_key(|f| {
            let arn = f.detail.certificate_arn().unwrap_or_default().to_string();
            (
                other_names(f),
                arn_region(&arn) != Some(home.as_str()),
                status_rank(&f.detail),
                f.detail
                    .created_at()
                    .map(|t| (t.secs(), t.subsec_nanos()))
                    .unwrap_or((i64::MAX, 0)),
                arn,
            )
        });
        for (i, f) in certs.iter().enumerate() {
            let arn = f.detail.certificate_arn().unwrap_or_default();
            if i == 0 {
                out.push(observe_certificate(id.clone(), &f.detail, &f.tags));
                let timeout = desired
                    .iter()
                    .find(|r| r.id == validation_id(&id.name))
                    .and_then(|r| from_props::<ValidationProps>(&r.props).ok())
                    .and_then(|p| p.timeout_seconds);
                out.extend(observe_validation(&id.name, &f.detail, timeout));
            } else {
                let suffix = arn.rsplit('/').next().unwrap_or(arn);
                let dup = certificate_id(&format!("{}~{suffix}", id.name));
                out.push(observe_certificate(dup, &f.detail, &f.tags));
            }
        }
    }
    out
}

/// The certificates of ours (in `region`) the env's tag index lists: (id, ARN, tags). Pure.
pub fn indexed_certificates(
    index: &TagIndex,
    project: &str,
    env: &str,
    region: &str,
) -> Vec<(ResourceId, String, BTreeMap<String, String>)> {
    index
        .resources("acm", Some(region), "certificate/")
        .filter_map(|(_, arn, t)| Some((owned_id(project, env, t)?, arn.to_string(), t.clone())))
        .collect()
}

/// Whether the index's certificates of ours hold every certificate the spec wants here
/// (`desired`: their ids; none in a destroy). Then ListCertificates would add nothing the plan
/// needs: a certificate of someone else's for the same names is no conflict (certificates are
/// not unique by name), and every other one of ours is in the index. Pure.
pub fn index_covers(
    desired: &BTreeSet<ResourceId>,
    listed: &[(ResourceId, String, BTreeMap<String, String>)],
) -> bool {
    desired
        .iter()
        .all(|id| listed.iter().any(|(i, _, _)| i == id))
}

/// DescribeCertificate of each, at once (None: one of them is gone).
async fn describe_all(
    c: &Client,
    ours: Vec<(ResourceId, String, BTreeMap<String, String>)>,
) -> Result<Option<Vec<Found>>, AwsError> {
    let found = futures::future::try_join_all(ours.into_iter().map(|(id, arn, tags)| async move {
        kit::found(describe(c, &arn).await).map(|d| d.map(|detail| Found { id, detail, tags }))
    }))
    .await?;
    Ok(found.into_iter().collect())
}

async fn observe_region(
    ctx: &Ctx,
    c: &Client,
    wanted: &BTreeSet<String>,
    desired: &BTreeSet<ResourceId>,
    index: Option<&TagIndex>,
) -> Result<Vec<Found>, AwsError> {
    // The index lists ours, each for a certificate the spec wants (or, in a destroy, whatever
    // it lists): those are described at once, without ListCertificates. One of them gone (the
    // index lags behind a delete): the list decides.
    if let Some(index) = index {
        let listed = indexed_certificates(index, &ctx.project, &ctx.env, &ctx.region);
        if index_covers(desired, &listed) {
            if let Some(found) = describe_all(c, listed).await? {
                return Ok(found);
            }
        }
    }
    let summaries = all_pages!(
        c.list_certificates()
            .set_certificate_statuses(Some(
                CertificateStatus::values()
                    .iter()
                    .map(|s| CertificateStatus::from(*s))
                    .collect()
            ))
            .includes(
                Filters::builder()
                    .set_key_types(Some(
                        KeyAlgorithm::values()
                            .iter()
                            .map(|k| KeyAlgorithm::from(*k))
                            .collect()
                    ))
                    .build()
            ),
        "acm:ListCertificates"
    )?;
    // Every certificate's tags: a certificate for names the spec no longer has (the domain
    // changed) is still ours, and ACM has no tag filter. The env's tag index has ours; without
    // it (us-east-1's certificates of another region's env) each is read, at most TAG_PROBES at
    // once.
    let arns: Vec<(String, bool)> = summaries
        .iter()
        .filter_map(|s| {
            let wanted = wanted.contains(&normalise_name(s.domain_name().unwrap_or_default()));
            Some((s.certificate_arn()?.to_string(), wanted))
        })
        .collect();
    let tagged: Vec<Option<(String, BTreeMap<String, String>)>> = futures::stream::iter(arns)
        .map(|(arn, wanted)| async move {
            // Ours, as the env's tag index lists them: no call.
            if let Some(t) = index.and_then(|i| i.tags(&arn)) {
                return Ok(Some((arn, t.clone())));
            }
            // The index lists every certificate of ours, whatever its names: one it does not
            // list is someone else's (another env's, another team's), and its tags are read only
            // when it holds a name the spec wants (a conflict, or ours tagged too recently for
            // the index). So other envs' certificates in the account cost no call.
            if index.is_some() && !wanted {
                return Ok(None);
            }
            match list_tags(c, &arn).await {
                Ok(t) => Ok(Some((arn, t))),
                // Deleted between the list and now.
                Err(e) if e.is_not_found() => Ok(None),
                // Someone else's certificate that our role may not read (IAM scoped by tag):
                // not ours. For a name the spec wants, the error stands.
                Err(e) if e.code == "AccessDeniedException" && !wanted => Ok(None),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(TAG_PROBES)
        .try_collect()
        .await?;
    let ours: Vec<(ResourceId, String, BTreeMap<String, String>)> = tagged
        .into_iter()
        .flatten()
        .filter_map(|(arn, t)| Some((owned_id(&ctx.project, &ctx.env, &t)?, arn, t)))
        .collect();
    let found = futures::future::try_join_all(ours.into_iter().map(|(id, arn, tags)| async move {
        // Deleted between the list and now: none.
        kit::found(describe(c, &arn).await).map(|d| d.map(|detail| Found { id, detail, tags }))
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

pub(super) async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let wanted: BTreeSet<String> = desired
        .iter()
        .filter(|r| r.id.kind == CERTIFICATE)
        .filter_map(|r| from_props::<CertificateProps>(&r.props).ok())
        .map(|p| normalise_name(&p.domain_name))
        .collect();
    // The env's tag index is the env's region's: us-east-1's certificates (another region's
    // env) are read one by one.
    // The certificates the spec wants in each region.
    let homed = |region: &str| -> BTreeSet<ResourceId> {
        desired
            .iter()
            .filter(|r| r.id.kind == CERTIFICATE && home_region(&r.id.name, &ctx.region) == region)
            .map(|r| r.id.clone())
            .collect()
    };
    let index = ctx.tag_index().await?;
    let here = homed(&ctx.region);
    let mut found = observe_region(ctx, &ctx.clients.acm, &wanted, &here, Some(index)).await?;
    if ctx.region != CLOUDFRONT_CERT_REGION {
        let there = homed(CLOUDFRONT_CERT_REGION);
        let c = &ctx.clients.acm_us_east_1;
        found.extend(observe_region(ctx, c, &wanted, &there, None).await?);
    }
    Ok(classify(&ctx.region, found, desired))
}
