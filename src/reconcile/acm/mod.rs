//! ACM: the env's TLS certificates and their DNS validation (issue 5, section Certificates).
//!
//! `certificate/main`: in the env's region (the HTTPS listener's), for `edge.domain` with the
//! subject alternative names `www.<domain>` and `api.<domain>`, DNS validation, key algorithm
//! RSA_2048, our tags. `certificate/cloudfront`: the same in us-east-1 (the only region
//! CloudFront takes certificates from), only with `[edge.cloudfront]` and an env region other
//! than us-east-1 (else CloudFront uses `certificate/main`).
//! - replaced: domain_name, subject_alternative_names, validation_method, key_algorithm,
//!   region (none can change on an ACM certificate).
//! - updated in place: tags (AddTagsToCertificate / RemoveTagsFromCertificate).
//! - created with RequestCertificate and a deterministic IdempotencyToken (32 hex digits of a
//!   SHA-256 over project, env, id and the desired properties: [`idempotency_token`]), so that
//!   a re-run within AWS's hour after a lost response gets the same certificate instead of a
//!   second one. A token AWS still maps to a certificate deleted since (an out-of-band delete
//!   within the hour) is detected (the returned ARN is not found) and the next token of the
//!   chain is used ([`token_is_stale`]). Then apply polls DescribeCertificate (bounded, with
//!   progress) until every name has its validation CNAME, and returns the attributes `arn`,
//!   `status`, `validation_name.<label>` and `validation_value.<label>` (label apex, www, api;
//!   lowercase, no trailing dot). [`Acm::settle`] does the same wait for a live certificate
//!   whose validation records are not out yet.
//! - deleted with DeleteCertificate. AWS refuses (`ResourceInUseException`) while a listener or
//!   distribution still holds it (detaching takes a while after they are changed or deleted):
//!   rtech retries with backoff for [`DELETE_TIMEOUT`], then fails naming the users
//!   (DescribeCertificate `InUseBy`) ([`delete_step`]).
//!
//! `certificate_validation/main` (and `/cloudfront`): a virtual resource, "the certificate is
//! ISSUED". Props: `certificate_arn` (a reference to the certificate's `arn`), `records` (the
//! validation records' `fqdn`s, so it runs after the dns engineer's `record/validation-*`) and
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
//! - delete: nothing to do (the certificate's own delete comes after it, and after the
//!   listener and distribution that reference it).
//!
//! Observe (destroy included, which has no spec): ListCertificates (paginated, every status
//! and key type) in the env's region, and in us-east-1 too when the env's region is another
//! (destroy has no spec to say whether CloudFront is on); then ListTagsForCertificate for the
//! every certificate listed (eight at a time: ACM has no tag filter, and a certificate for names
//! the spec no longer has is still ours to replace or delete); then DescribeCertificate for
//! ours (rtech:project, rtech:env and an rtech:id of kind `certificate`). Calls: per region
//! 1 + the region's certificates + ours; an account holding only the env's certificate: 3 (6
//! with the us-east-1 one). Certificates are not unique by name: one for
//! the same domain without our tags is not a conflict, it is ignored. Two of ours with the
//! same rtech:id (an interrupted apply past AWS's idempotency hour, or an interrupted replace):
//! the one to keep (for the spec's names, in the expected region, ISSUED first, then the
//! oldest) keeps the id, any other is observed as `certificate/<name>~<certificate id>`, which
//! the plan deletes.
//!
//! A replace (new names) creates first ([`KindSchema::create_before_destroy`]): the new
//! certificate is requested and validated, the listener and distribution move to it, and only
//! then is the old one deleted, which AWS refuses while anything uses it.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, Filters, KeyAlgorithm, Tag, ValidationMethod,
};
use aws_sdk_acm::Client;
use sha2::{Digest, Sha256};

use crate::aws::{all_pages, aws, AwsError, Required, CLOUDFRONT_CERT_REGION};
use crate::model::{
    tag_delta, tag_pairs, tags_for, tags_of, Attrs, Observed, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const CERTIFICATE: &str = "certificate";
pub const VALIDATION: &str = "certificate_validation";
pub const MAIN: &str = "main";
pub const CLOUDFRONT: &str = "cloudfront";

/// The names a certificate covers, by label: the apex, then `www.` and `api.`.
pub const LABELS: &[&str] = &["apex", "www", "api"];

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: CERTIFICATE,
        force_new: &[
            "domain_name",
            "subject_alternative_names",
            "validation_method",
            "key_algorithm",
            "region",
        ],
        new_attrs_on_update: false,
        // AWS refuses to delete a certificate a listener or distribution uses: a new one is
        // requested and validated, its users move to it, then the old one is deleted.
        create_before_destroy: true,
    },
    KindSchema {
        kind: VALIDATION,
        // Another certificate is another validation: what uses it (the listener, the
        // distribution) then sees the new certificate's ARN as known after apply.
        force_new: &["certificate_arn"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

/// ListTagsForCertificate calls in flight at once while observing.
const TAG_PROBES: usize = 8;

/// How long apply waits for a new certificate's validation CNAMEs (seconds on AWS).
pub const RECORDS_WAIT: Duration = Duration::from_secs(5 * 60);
/// How long a delete retries while the certificate is still in use.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Tokens tried when AWS keeps returning certificates deleted since (see the module doc).
const TOKEN_ATTEMPTS: u32 = 3;

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
    // The validation CNAMEs the dns reconciler writes (`record/validation-<label>`, all three
    // with [edge]): on AWS a name's validation CNAME is the same for every certificate of the
    // account, so they validate certificate/cloudfront too.
    let records: Vec<Value> = LABELS
        .iter()
        .map(|l| Value::reference(&validation_record_id(l), "fqdn"))
        .collect();
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
            Resource::new(id.clone(), &display)
                .prop("domain_name", Value::str(domain))
                .prop(
                    "subject_alternative_names",
                    Value::List(sans.into_iter().map(Value::Str).collect()),
                )
                .prop("validation_method", Value::str("DNS"))
                .prop("key_algorithm", Value::str(KeyAlgorithm::Rsa2048.as_str()))
                .prop("region", Value::str(region))
                .prop("tags", Value::string_map(&tags)),
        );
        out.push(
            Resource::new(validation_id(name), &display)
                .prop("certificate_arn", Value::reference(&id, "arn"))
                .prop(
                    "timeout_seconds",
                    Value::Int(edge.certificate_timeout_seconds),
                )
                .late("records", Value::List(records.clone())),
        );
    }
    out
}

/// RequestCertificate's IdempotencyToken: 32 hex digits (AWS: 1 to 32 word characters) of a
/// SHA-256 over project, env, id, the desired properties (canonical JSON: maps are sorted) and
/// the attempt (0 first; see the module doc). The same inputs always give the same token.
pub fn idempotency_token(
    project: &str,
    env: &str,
    id: &ResourceId,
    props: &crate::model::Props,
    attempt: u32,
) -> String {
    let json = serde_json::to_string(props).expect("props serialise");
    let mut h = Sha256::new();
    h.update(format!("{project}\n{env}\n{id}\n{attempt}\n").as_bytes());
    h.update(json.as_bytes());
    hex::encode(h.finalize())[..32].to_string()
}

/// Whether a RequestCertificate failure means "this token names a certificate that no longer
/// exists" so the next token should be tried: the emulator answers a reused token of a deleted
/// certificate with an internal error (moto 5.2.5, a documented gap, only with the quirks
/// switch); AWS answers with the old ARN, which [`create_certificate`] then finds gone.
pub fn token_is_stale(e: &AwsError, emulator_quirks: bool) -> bool {
    emulator_quirks
        && matches!(
            e.code.as_str(),
            "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "Unknown"
                | "InvalidResponse"
        )
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

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

/// `RSA-2048` (what AWS's DescribeCertificate says) and `RSA_2048` (what RequestCertificate
/// takes, and the emulator says) are one algorithm.
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
    let method = if methods.is_empty() {
        Value::Null
    } else {
        Value::str(methods.into_iter().collect::<Vec<_>>().join(","))
    };
    let mut o = Observed::new(id, arn)
        .prop("domain_name", Value::str(&domain))
        .prop(
            "subject_alternative_names",
            Value::List(sans.into_iter().map(Value::Str).collect()),
        )
        .prop("validation_method", method)
        .prop(
            "key_algorithm",
            Value::opt_str(
                d.key_algorithm()
                    .map(|k| normalise_key_algorithm(k.as_str()))
                    .as_deref(),
            ),
        )
        .prop("region", Value::opt_str(arn_region(arn)))
        .prop("tags", Value::string_map(tags));
    o.attrs = certificate_attrs(d);
    o
}

/// The validation of a certificate that is ISSUED (pure); None while it is not.
/// `timeout_seconds` is the desired value, echoed (see the module doc).
pub fn observe_validation(
    name: &str,
    d: &CertificateDetail,
    timeout_seconds: Option<&Value>,
) -> Option<Observed> {
    if d.status() != Some(&CertificateStatus::Issued) {
        return None;
    }
    let arn = d.certificate_arn().unwrap_or_default();
    let names: Vec<Value> = validation_records(d)
        .into_iter()
        .map(|r| r.name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Value::Str)
        .collect();
    let mut o = Observed::new(validation_id(name), arn)
        .prop("certificate_arn", Value::str(arn))
        .prop("records", Value::List(names))
        .dep(&certificate_id(name));
    if let Some(t) = timeout_seconds {
        o = o.prop("timeout_seconds", t.clone());
    }
    o.attrs.insert("arn".into(), arn.to_string());
    o.attrs.insert("status".into(), "ISSUED".into());
    Some(o)
}

/// Our certificate's id from its tags: project and env ours, rtech:id a certificate.
pub fn owned_id(project: &str, env: &str, tags: &BTreeMap<String, String>) -> Option<ResourceId> {
    if tags.get(TAG_PROJECT).map(String::as_str) != Some(project)
        || tags.get(TAG_ENV).map(String::as_str) != Some(env)
    {
        return None;
    }
    tags.get(TAG_ID)
        .and_then(|t| t.parse::<ResourceId>().ok())
        .filter(|r| r.kind == CERTIFICATE && !r.name.contains('~'))
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
                    .and_then(|r| r.props.get("timeout_seconds"));
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

// ---------------------------------------------------------------------------------------------
// observe

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
async fn observe_region(
    ctx: &Ctx,
    c: &Client,
    wanted: &BTreeSet<String>,
) -> Result<Vec<Found>, AwsError> {
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
    // changed) is still ours, and ACM has no tag filter. At most TAG_PROBES at once.
    let arns: Vec<(String, bool)> = summaries
        .iter()
        .filter_map(|s| {
            let wanted = wanted.contains(&normalise_name(s.domain_name().unwrap_or_default()));
            Some((s.certificate_arn()?.to_string(), wanted))
        })
        .collect();
    let tagged: Vec<Option<(String, BTreeMap<String, String>)>> = futures::stream::iter(arns)
        .map(|(arn, wanted)| async move {
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
        match describe(c, &arn).await {
            Ok(detail) => Ok(Some(Found { id, detail, tags })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

pub async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let wanted: BTreeSet<String> = desired
        .iter()
        .filter(|r| r.id.kind == CERTIFICATE)
        .filter_map(|r| r.get_str("domain_name").map(normalise_name))
        .collect();
    let mut found = observe_region(ctx, &ctx.clients.acm, &wanted).await?;
    if ctx.region != CLOUDFRONT_CERT_REGION {
        found.extend(observe_region(ctx, &ctx.clients.acm_us_east_1, &wanted).await?);
    }
    Ok(classify(&ctx.region, found, desired))
}

// ---------------------------------------------------------------------------------------------
// apply: certificates

fn acm_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Poll DescribeCertificate until every name has its validation CNAME (bounded); the fresh
/// attributes.
async fn wait_for_records(c: &Client, arn: &str, task: &Task) -> Result<Attrs, AwsError> {
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let d = describe(c, arn).await?;
        if records_complete(&d) {
            return Ok(certificate_attrs(&d));
        }
        if start.elapsed() + delay > RECORDS_WAIT {
            return Err(AwsError::new(
                "acm:DescribeCertificate",
                "ValidationRecordsTimeout",
                format!(
                    "certificate {arn}: ACM published no DNS validation record for {} within {}s",
                    d.domain_validation_options()
                        .iter()
                        .filter(|o| o.resource_record().is_none())
                        .map(|o| o.domain_name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    RECORDS_WAIT.as_secs()
                ),
            ));
        }
        task.status(&format!(
            "waiting for ACM to publish the validation records of {arn} ({}s)",
            start.elapsed().as_secs()
        ));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

pub async fn create_certificate(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let region = r.get_str("region").unwrap_or(&ctx.region).to_string();
    let c = client(ctx, &region);
    let domain = r.get_str("domain_name").unwrap_or_default();
    let tags = acm_tags(&tags_of(&r.props));
    let mut last: Option<AwsError> = None;
    for attempt in 0..TOKEN_ATTEMPTS {
        let token = idempotency_token(&ctx.project, &ctx.env, &r.id, &r.props, attempt);
        task.status(&format!(
            "requesting a certificate for {domain} in {region}"
        ));
        let out = c
            .request_certificate()
            .domain_name(domain)
            .set_subject_alternative_names(Some(strings(r.props.get("subject_alternative_names"))))
            .validation_method(ValidationMethod::from(
                r.get_str("validation_method").unwrap_or("DNS"),
            ))
            .key_algorithm(KeyAlgorithm::from(
                r.get_str("key_algorithm").unwrap_or("RSA_2048"),
            ))
            .idempotency_token(&token)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map_err(aws("acm:RequestCertificate"));
        let arn = match out {
            Ok(o) => o.certificate_arn.required(
                "acm:RequestCertificate",
                format!("no certificate ARN returned for {domain}"),
            )?,
            Err(e) if token_is_stale(&e, ctx.clients.emulator_quirks) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        match wait_for_records(c, &arn, task).await {
            // The token named a certificate deleted since: try the next one.
            Err(e) if e.is_not_found() => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| {
        AwsError::new(
            "acm:RequestCertificate",
            "InvalidResponse",
            format!("no certificate for {domain}"),
        )
    }))
}

async fn update_certificate(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let arn = prior.physical_id.as_str();
    let c = client(ctx, arn_region(arn).unwrap_or(&ctx.region));
    if changed.contains("tags") {
        task.status("syncing tags");
        let delta = tag_delta(&tags_of(&prior.props), &tags_of(&r.props));
        if !delta.removed.is_empty() {
            let old = tags_of(&prior.props);
            c.remove_tags_from_certificate()
                .certificate_arn(arn)
                .set_tags(Some(
                    delta
                        .removed
                        .iter()
                        .filter_map(|k| {
                            Tag::builder()
                                .key(k)
                                .set_value(old.get(k).cloned())
                                .build()
                                .ok()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(aws("acm:RemoveTagsFromCertificate"))?;
        }
        if !delta.set.is_empty() {
            c.add_tags_to_certificate()
                .certificate_arn(arn)
                .set_tags(Some(acm_tags(&delta.set.into_iter().collect())))
                .send()
                .await
                .map_err(aws("acm:AddTagsToCertificate"))?;
        }
    }
    Ok(prior.attrs.clone())
}

/// What to do after a DeleteCertificate attempt (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteStep {
    /// Deleted (or already gone).
    Done,
    /// Still in use: try again after this long.
    Retry(Duration),
    /// Still in use and out of time: fail naming its users.
    InUse,
    /// Any other error: fail with it.
    Fail,
}

/// The backoff before retry `attempt` (0-based): `base`, doubled each time, at most 30 s.
pub fn delete_backoff(base: Duration, attempt: u32) -> Duration {
    (base * 2u32.saturating_pow(attempt.min(16))).min(Duration::from_secs(30))
}

/// Decide after a delete attempt: `ResourceInUseException` is retried while
/// `elapsed + backoff < timeout`; not found counts as done.
pub fn delete_step(
    result: Result<(), &AwsError>,
    elapsed: Duration,
    timeout: Duration,
    base: Duration,
    attempt: u32,
) -> DeleteStep {
    match result {
        Ok(()) => DeleteStep::Done,
        Err(e) if e.is_not_found() => DeleteStep::Done,
        Err(e) if e.is("ResourceInUseException") => {
            let delay = delete_backoff(base, attempt);
            if elapsed + delay < timeout {
                DeleteStep::Retry(delay)
            } else {
                DeleteStep::InUse
            }
        }
        Err(_) => DeleteStep::Fail,
    }
}

/// The error once a certificate stayed in use for the whole delete timeout.
pub fn in_use_error(arn: &str, in_use_by: &[String], waited: Duration) -> AwsError {
    let users = if in_use_by.is_empty() {
        "(ACM lists no user any more: it may be detaching; run destroy again shortly)".to_string()
    } else {
        in_use_by.join(", ")
    };
    AwsError::new(
        "acm:DeleteCertificate",
        "ResourceInUseException",
        format!(
            "certificate {arn} is still in use after {}s by: {users}; remove it from those (rtech deletes its own listener/https and distribution/main before the certificate) and run again",
            waited.as_secs()
        ),
    )
}

/// DeleteCertificate with the in-use retry: `attempt` sends one delete, `users` reads InUseBy.
pub async fn delete_with_retry<D, DF, U, UF>(
    arn: &str,
    timeout: Duration,
    base: Duration,
    task: &(dyn Fn(&str) + Sync),
    mut attempt_delete: D,
    users: U,
) -> Result<(), AwsError>
where
    D: FnMut() -> DF,
    DF: Future<Output = Result<(), AwsError>>,
    U: FnOnce() -> UF,
    UF: Future<Output = Result<Vec<String>, AwsError>>,
{
    let start = Instant::now();
    let mut n = 0;
    loop {
        let r = attempt_delete().await;
        match delete_step(r.as_ref().map(|_| ()), start.elapsed(), timeout, base, n) {
            DeleteStep::Done => return Ok(()),
            DeleteStep::Fail => return r,
            DeleteStep::Retry(delay) => {
                task(&format!(
                    "certificate {arn} is still in use (a listener or distribution is being detached); retrying in {}s",
                    delay.as_secs().max(1)
                ));
                tokio::time::sleep(delay).await;
                n += 1;
            }
            DeleteStep::InUse => {
                let who = users().await.unwrap_or_default();
                return Err(in_use_error(arn, &who, start.elapsed()));
            }
        }
    }
}

pub async fn delete_certificate(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let arn = o.physical_id.as_str();
    let c = client(ctx, arn_region(arn).unwrap_or(&ctx.region));
    task.status(&format!("deleting certificate {arn}"));
    delete_with_retry(
        arn,
        DELETE_TIMEOUT,
        Duration::from_secs(2),
        &|m| task.status(m),
        || async {
            c.delete_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("acm:DeleteCertificate"))
        },
        || async { Ok(describe(c, arn).await?.in_use_by().to_vec()) },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// apply: validation

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

/// Wait until the certificate is ISSUED (progress; timeout from `timeout_seconds`).
pub async fn wait_issued(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let arn = r.get_str("certificate_arn").unwrap_or_default().to_string();
    let c = client(ctx, arn_region(&arn).unwrap_or(&ctx.region));
    let timeout = Duration::from_secs(
        r.props
            .get("timeout_seconds")
            .and_then(Value::as_int)
            .unwrap_or(1800)
            .max(1) as u64,
    );
    let start = Instant::now();
    let mut delay = Duration::from_secs(2);
    let mut last_status = String::new();
    let mut last_print = Instant::now();
    let detail = loop {
        let d = describe(c, &arn).await?;
        match issue_state(&d) {
            Issue::Issued => return Ok(validation_attrs(&arn)),
            Issue::Failed(m) => {
                return Err(AwsError::new(
                    "acm:DescribeCertificate",
                    d.status().map(|s| s.as_str()).unwrap_or("Failed"),
                    m,
                ))
            }
            Issue::Pending => {}
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            break d;
        }
        let pending = d
            .domain_validation_options()
            .iter()
            .filter(|o| o.validation_status().map(|s| s.as_str()) != Some("SUCCESS"))
            .count();
        let msg = format!(
            "waiting for certificate {arn} to be issued: {pending} name(s) pending DNS validation"
        );
        if msg != last_status || last_print.elapsed() >= Duration::from_secs(60) {
            task.status(&format!(
                "{msg} ({}s of {}s)",
                elapsed.as_secs(),
                timeout.as_secs()
            ));
            last_status = msg;
            last_print = Instant::now();
        }
        tokio::time::sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    };
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

// ---------------------------------------------------------------------------------------------

pub struct Acm;

#[async_trait]
impl Reconciler for Acm {
    fn service(&self) -> &'static str {
        "acm"
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx, desired).await
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) if r.id.kind == CERTIFICATE => create_certificate(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == CERTIFICATE => {
                update_certificate(ctx, desired, prior, changed, task).await
            }
            Op::Delete(o) if o.id.kind == CERTIFICATE => {
                delete_certificate(ctx, o, task).await?;
                Ok(Attrs::new())
            }
            Op::Create(r) | Op::Update { desired: r, .. } => wait_issued(ctx, r, task).await,
            // The validation is virtual: its certificate's delete is what removes anything.
            Op::Delete(_) => Ok(Attrs::new()),
        }
    }
    /// A live certificate whose validation CNAMEs are not out yet (seconds after the request
    /// on AWS): wait for them, since the records reference them.
    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        if o.id.kind != CERTIFICATE {
            return Ok(o.attrs.clone());
        }
        let c = client(ctx, arn_region(&o.physical_id).unwrap_or(&ctx.region));
        wait_for_records(c, &o.physical_id, task).await
    }
}

#[cfg(test)]
mod tests;
