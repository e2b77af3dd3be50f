//! `certificate/main` (the env's region, the HTTPS listener's) and `certificate/cloudfront`
//! (us-east-1, the only region CloudFront takes certificates from): `edge.domain` with the
//! subject alternative names `www.<domain>` and `api.<domain>`, DNS validation, RSA_2048.
//! - replaced: domain_name, subject_alternative_names, validation_method, key_algorithm,
//!   region (none can change on an ACM certificate); a replace creates first: the new
//!   certificate is requested and validated, the listener and distribution move to it, and
//!   only then is the old one deleted, which AWS refuses while anything uses it.
//! - updated in place: tags (AddTagsToCertificate / RemoveTagsFromCertificate).
//! - created with RequestCertificate and a deterministic IdempotencyToken
//!   ([`idempotency_token`]), so that a re-run within AWS's hour after a lost response gets the
//!   same certificate instead of a second one. A token AWS still maps to a certificate deleted
//!   since (an out-of-band delete within the hour) returns that certificate's ARN, which is
//!   then not found: the next token of the chain is used. Then apply waits (bounded, with
//!   progress) until every name has its validation CNAME, and returns the attributes `arn`,
//!   `status`, `validation_name.<label>` and `validation_value.<label>` (label apex, www, api;
//!   lowercase, no trailing dot). `settle` does the same wait for a live certificate whose
//!   validation records are not out yet.
//! - deleted with DeleteCertificate. AWS refuses (`ResourceInUseException`) while a listener
//!   or distribution still holds it (detaching takes a while after they are changed or
//!   deleted): rtech retries with backoff for [`DELETE_TIMEOUT`], then fails naming the users
//!   (DescribeCertificate `InUseBy`) ([`delete_with_retry`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{CertificateDetail, KeyAlgorithm, ValidationMethod};
use aws_sdk_acm::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CERTIFICATE;
use super::{arn_region, certificate_attrs, client, describe, records_complete, AcmTags};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, retry_if, sync_tags, until, Poll};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema {
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
};

/// A certificate. Observe leaves `validation_method`, `key_algorithm` and `region` null when
/// ACM does not say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateProps {
    /// Lowercase, no trailing dot.
    pub domain_name: String,
    /// Sorted, without the domain itself.
    pub subject_alternative_names: Vec<String>,
    pub validation_method: Option<String>,
    /// `RSA_2048` (as RequestCertificate takes it).
    pub key_algorithm: Option<String>,
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// How long apply waits for a new certificate's validation CNAMEs (seconds on AWS).
pub const RECORDS_WAIT: Duration = Duration::from_secs(5 * 60);
/// How long a delete retries while the certificate is still in use.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Tokens tried when AWS keeps returning certificates deleted since (see the module doc).
const TOKEN_ATTEMPTS: u32 = 3;

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

/// Wait until every name has its validation CNAME (bounded); the fresh attributes.
async fn wait_for_records(c: &Client, arn: &str, task: &Task) -> Result<Attrs, AwsError> {
    let last: Mutex<Option<CertificateDetail>> = Mutex::new(None);
    let what = format!("ACM to publish the validation records of {arn}");
    let waited = until(
        Poll {
            op: "acm:DescribeCertificate",
            what: &what,
            pending: &["pending"],
            target: &["published"],
            timeout: RECORDS_WAIT,
        },
        task,
        || async {
            let d = describe(c, arn).await?;
            let state = if records_complete(&d) {
                "published"
            } else {
                "pending"
            };
            *last.lock().expect("not poisoned") = Some(d.clone());
            Ok((state.to_string(), d))
        },
    )
    .await;
    match waited {
        Ok(d) => Ok(certificate_attrs(&d)),
        Err(e) if e.is("WaitTimeout") => {
            let d = last
                .lock()
                .expect("not poisoned")
                .take()
                .unwrap_or_else(|| CertificateDetail::builder().build());
            Err(AwsError::new(
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
            ))
        }
        Err(e) => Err(e),
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

/// DeleteCertificate with the in-use retry (the kit's [`retry_if`] on
/// `ResourceInUseException`, for `timeout`): `attempt_delete` sends one delete, `users` reads
/// InUseBy for the error once time is up. A certificate already gone counts as deleted.
pub async fn delete_with_retry<D, DF, U, UF>(
    arn: &str,
    timeout: Duration,
    task: &(dyn Fn(&str) + Sync),
    attempt_delete: D,
    users: U,
) -> Result<(), AwsError>
where
    D: FnMut() -> DF,
    DF: Future<Output = Result<(), AwsError>>,
    U: FnOnce() -> UF,
    UF: Future<Output = Result<Vec<String>, AwsError>>,
{
    let start = tokio::time::Instant::now();
    let in_use = |e: &AwsError| e.is("ResourceInUseException");
    let on_retry = |_: &AwsError, delay: Duration| {
        task(&format!(
            "certificate {arn} is still in use (a listener or distribution is being detached); retrying in {}s",
            delay.as_secs().max(1)
        ))
    };
    match retry_if(in_use, timeout, on_retry, attempt_delete).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if in_use(&e) => {
            let who = users().await.unwrap_or_default();
            Err(in_use_error(arn, &who, start.elapsed()))
        }
        Err(e) => Err(e),
    }
}

pub struct Certificate;

#[async_trait]
impl Kind for Certificate {
    crate::typed_kind!(SCHEMA, CertificateProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: CertificateProps = from_props(&r.props)?;
        let region = p.region.clone().unwrap_or_else(|| ctx.region.clone());
        let c = client(ctx, &region);
        let domain = p.domain_name.as_str();
        let tags = super::acm_tags(&p.tags);
        let mut last: Option<AwsError> = None;
        for attempt in 0..TOKEN_ATTEMPTS {
            let token = idempotency_token(&ctx.project, &ctx.env, &r.id, &r.props, attempt);
            task.status(&format!(
                "requesting a certificate for {domain} in {region}"
            ));
            let arn = c
                .request_certificate()
                .domain_name(domain)
                .set_subject_alternative_names(Some(p.subject_alternative_names.clone()))
                .validation_method(ValidationMethod::from(
                    p.validation_method.as_deref().unwrap_or("DNS"),
                ))
                .key_algorithm(KeyAlgorithm::from(
                    p.key_algorithm.as_deref().unwrap_or("RSA_2048"),
                ))
                .idempotency_token(&token)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(aws("acm:RequestCertificate"))?
                .certificate_arn
                .required(
                    "acm:RequestCertificate",
                    format!("no certificate ARN returned for {domain}"),
                )?;
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

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let arn = u.prior.physical_id.as_str();
        let c = client(ctx, arn_region(arn).unwrap_or(&ctx.region));
        if u.changed("tags") {
            task.status("syncing tags");
            let had: CertificateProps = from_props(&u.prior.props)?;
            let want: CertificateProps = from_props(&u.desired.props)?;
            sync_tags(&AcmTags(c), arn, &had.tags, &want.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let arn = o.physical_id.as_str();
        let c = client(ctx, arn_region(arn).unwrap_or(&ctx.region));
        task.status(&format!("deleting certificate {arn}"));
        delete_with_retry(
            arn,
            DELETE_TIMEOUT,
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

    /// A live certificate whose validation CNAMEs are not out yet (seconds after the request
    /// on AWS): wait for them, since the records reference them.
    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        let c = client(ctx, arn_region(&o.physical_id).unwrap_or(&ctx.region));
        wait_for_records(c, &o.physical_id, task).await
    }
}
