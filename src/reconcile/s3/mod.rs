//! S3: the edge's access-log buckets.
//!
//! `s3_bucket/alb-logs` (with `[edge.alb] access_logs = true`) and `s3_bucket/cf-logs` (with
//! `[edge.cloudfront] logging = true`), named `{project}-{env}-{region}-alb-logs` /
//! `-cf-logs` ([`bucket_name`]: S3's 3–63 lowercase characters, shortened with a stable hash).
//!
//! What the plan compares and how each field is applied:
//! - `name`: replaced (delete, then create).
//! - `encryption`: `AES256` (SSE-S3, the only default encryption ALB access logs support):
//!   PutBucketEncryption.
//! - `public_access_block`: all four switches on: PutPublicAccessBlock.
//! - `lifecycle`: one rule, `rtech-expire-logs`, expiring every object after
//!   `edge.alb.access_logs_expire_days` / `edge.cloudfront.logs_expire_days` days; the rules are
//!   a map by rule id, so a rule added out of band shows as its own drift:
//!   PutBucketLifecycleConfiguration (replaces the set).
//! - `object_ownership`: `BucketOwnerEnforced` for alb-logs (ACLs off), `BucketOwnerPreferred`
//!   for cf-logs (CloudFront standard logging writes with ACLs): PutBucketOwnershipControls.
//! - `policy`: compared by meaning (model::policy::iam, [`policy`]). alb-logs lets ELB log delivery put
//!   objects under `AWSLogs/<account>/` — the regional ELB account for the regions that have
//!   one ([`policy::elb_account`]), else the service principal
//!   `logdelivery.elasticloadbalancing.amazonaws.com`; cf-logs has none (CloudFront's standard
//!   logging writes through the bucket ACL).
//!   The spec cannot know the account, so the desired document says [`ACCOUNT`] and observe
//!   writes the caller's account (STS GetCallerIdentity) back as that placeholder; apply fills
//!   it in. PutBucketPolicy (DeleteBucketPolicy for a policy cf-logs should not have).
//! - `tags`: PutBucketTagging (replaces the set). Besides our ownership tags the bucket
//!   carries `rtech:force-delete` = `true`/`false` (from `[edge] log_buckets_force_delete`):
//!   destroy has no spec, and the tag tells it whether a bucket still holding logs may go.
//!
//! Attributes: `name`, `arn` (`arn:aws:s3:::<name>`), `domain_name` (`<name>.s3.amazonaws.com`,
//! CloudFront's logging target) and `has_objects` (for the guard).
//!
//! Observe: the names are deterministic, so both candidates are derived from the env (destroy
//! has no spec): a bucket the env's tag index (`kit::tag_index`) lists is ours with its tags;
//! any other candidate gets GetBucketTagging (NoSuchBucket: absent; AccessDenied or a
//! redirect: someone else's bucket; no tags or not ours: `Ownership::Foreign`, a conflict, never
//! touched), then for each bucket of ours ListObjectsV2 (max 1 key: does it hold objects?) and,
//! when the spec wants it, GetBucketEncryption, GetPublicAccessBlock,
//! GetBucketLifecycleConfiguration, GetBucketOwnershipControls and GetBucketPolicy (the
//! "not configured" errors of each read as absent, [`classify`]); a policy read needs the
//! account, the session's one GetCallerIdentity. Both buckets ours and in the spec: 12 calls;
//! none: 2 (the probes).
//!
//! Delete: a bucket holding objects is refused in the plan ([`bucket::guard`]) unless its
//! `rtech:force-delete` tag is `true` (for a replace, the spec must say so too); with it, apply
//! empties the bucket (ListObjectVersions + DeleteObjects, 1000 at a time, every version and
//! delete marker) and deletes it.

//!
//! Files: [`bucket`] (the kind: props, expand, normaliser, apply), [`config`] (the typed
//! configuration pieces, S3's answers read into them, the Put* requests), [`policy`] (the
//! log-delivery policy); here the names, the service and observe's calls.

pub mod bucket;
pub mod config;
mod iam;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_s3::types::Tag;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::aws::{aws, AwsError};
use crate::model::{tag_pairs, Observed, Resource, ResourceId};
use crate::reconcile::kit::is_ours;
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

use bucket::{bucket, foreign, observed_bucket, BUCKET};
use config::Config;

/// The ALB's access-log bucket.
pub const ALB_LOGS: &str = "alb-logs";
/// CloudFront's standard-logging bucket.
pub const CF_LOGS: &str = "cf-logs";
/// Every bucket role rtech may have in an env (observe looks for all of them).
pub const ROLES: &[&str] = &[ALB_LOGS, CF_LOGS];

/// SSE-S3, the only default encryption ALB access logs support.
pub const ENCRYPTION: &str = "AES256";
/// Stands for the caller's account id in the desired bucket policy (see the module doc).
pub const ACCOUNT: &str = "<account>";
/// The id of rtech's lifecycle rule.
pub const LIFECYCLE_RULE: &str = "rtech-expire-logs";
/// S3's longest bucket name.
pub const NAME_MAX: usize = 63;
/// ELB's log-delivery service principal (regions without an ELB account).
pub const ELB_LOG_DELIVERY: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

pub fn bucket_id(role: &str) -> ResourceId {
    ResourceId::new(BUCKET, role)
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `{project}-{env}-{region}-{role}` as S3 accepts it: lowercase letters, digits and hyphens
/// (anything else becomes a hyphen), at most 63 characters — else a prefix, a hyphen and 8 hex
/// digits of the full name's SHA-256 (stable; names sharing a prefix stay apart).
pub fn bucket_name(project: &str, env: &str, region: &str, role: &str) -> String {
    let full: String = format!("{project}-{env}-{region}-{role}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let full = full.trim_matches('-').to_string();
    if full.len() <= NAME_MAX {
        return full;
    }
    let hash = hex::encode(&Sha256::digest(full.as_bytes())[..4]);
    let prefix = &full[..NAME_MAX - hash.len() - 1];
    format!("{}-{hash}", prefix.trim_end_matches('-'))
}

pub fn bucket_arn(region: &str, name: &str) -> String {
    format!("arn:{}:s3:::{name}", partition(region))
}

/// The bucket's global REST endpoint name (CloudFront's logging target).
pub fn domain_name(name: &str) -> String {
    format!("{name}.s3.amazonaws.com")
}

// ---------------------------------------------------------------------------------------------
// the service

pub struct S3;

const KINDS: &[&dyn Kind] = &[&bucket::Bucket];

#[async_trait]
impl Service for S3 {
    crate::service_basics!("s3", KINDS, expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let wanted: BTreeSet<&ResourceId> = desired
            .iter()
            .filter(|r| r.id.kind == BUCKET)
            .map(|r| &r.id)
            .collect();
        let acct = Account::new();
        let found = futures::future::try_join_all(ROLES.iter().map(|role| {
            let wanted = wanted.contains(&bucket_id(role));
            let acct = &acct;
            async move { observe_role(ctx, role, wanted, acct).await }
        }))
        .await?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// Spec → Desired (pure): the log buckets the edge's logging settings ask for.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(edge) = &spec.edge else {
        return vec![];
    };
    let force = edge.log_buckets_force_delete;
    let mut out = vec![];
    if edge.alb.access_logs {
        out.push(bucket(
            spec,
            ALB_LOGS,
            edge.alb.access_logs_expire_days,
            "BucketOwnerEnforced",
            force,
        ));
    }
    if let Some(cf) = edge.cloudfront.as_ref().filter(|c| c.logging) {
        out.push(bucket(
            spec,
            CF_LOGS,
            cf.logs_expire_days,
            "BucketOwnerPreferred",
            force,
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// observe: error mapping (pure)

/// What a read of one bucket configuration gave.
#[derive(Debug, PartialEq)]
pub enum Read<T> {
    Found(T),
    /// The bucket has no such configuration (or tag set, or policy).
    NotConfigured,
    /// The bucket itself does not exist (deleted since it was listed).
    NoBucket,
}

/// The error codes S3 answers for a configuration the bucket does not have.
pub const NOT_CONFIGURED: &[&str] = &[
    "NoSuchTagSet",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
];

/// A configuration read's result, with "not configured" and "no such bucket" as values.
pub fn classify<T>(r: Result<T, AwsError>) -> Result<Read<T>, AwsError> {
    match r {
        Ok(v) => Ok(Read::Found(v)),
        Err(e) if e.is("NoSuchBucket") => Ok(Read::NoBucket),
        Err(e) if NOT_CONFIGURED.iter().any(|c| e.is(c)) => Ok(Read::NotConfigured),
        Err(e) => Err(e),
    }
}

/// The codes that mean the name is held by a bucket we may not look into: someone else's
/// (AccessDenied, AllAccessDisabled) or in another region than ours (a redirect).
pub const NOT_OURS: &[&str] = &[
    "AccessDenied",
    "AllAccessDisabled",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
];

/// What GetBucketTagging says about a candidate name.
#[derive(Debug, PartialEq)]
pub enum Probe {
    Absent,
    /// A bucket we cannot read: not ours.
    Unreadable,
    Tags(BTreeMap<String, String>),
}

pub fn probe(r: Result<Vec<Tag>, AwsError>) -> Result<Probe, AwsError> {
    match r {
        Err(e) if NOT_OURS.iter().any(|c| e.is(c)) => Ok(Probe::Unreadable),
        r => Ok(match classify(r)? {
            Read::Found(tags) => Probe::Tags(tag_pairs(
                tags.iter().map(|t| (Some(t.key()), Some(t.value()))),
            )),
            Read::NotConfigured => Probe::Tags(BTreeMap::new()),
            Read::NoBucket => Probe::Absent,
        }),
    }
}

/// Whether the tags make the bucket at `id`'s name ours: project, env and id all match.
pub fn owned(tags: &BTreeMap<String, String>, project: &str, env: &str, id: &ResourceId) -> bool {
    is_ours(tags, project, env, id)
}

// ---------------------------------------------------------------------------------------------
// observe: AWS calls

/// The caller's account (the session's one STS answer), kept once per observe or apply call.
pub(crate) type Account = OnceCell<String>;

pub(crate) async fn account(ctx: &Ctx, cell: &Account) -> Result<String, AwsError> {
    cell.get_or_try_init(|| ctx.account()).await.cloned()
}

/// GetBucketTagging: absent, someone else's, or the bucket's tags (also the lock bucket's).
pub(crate) async fn read_tags(ctx: &Ctx, name: &str) -> Result<Probe, AwsError> {
    probe(
        ctx.clients
            .s3
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map(|o| o.tag_set().to_vec())
            .map_err(aws("s3:GetBucketTagging")),
    )
}

pub(crate) async fn read_has_objects(ctx: &Ctx, name: &str) -> Result<Read<bool>, AwsError> {
    classify(
        ctx.clients
            .s3
            .list_objects_v2()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .map(|o| o.key_count().unwrap_or(0) > 0 || !o.contents().is_empty())
            .map_err(aws("s3:ListObjectsV2")),
    )
}

/// Read<T> → Option<T>, with "no bucket" as an early `Ok(None)` of the caller.
macro_rules! found {
    ($r:expr) => {
        match $r {
            Read::Found(v) => Some(v),
            Read::NotConfigured => None,
            Read::NoBucket => return Ok(None),
        }
    };
}

/// The bucket's configuration (None: no such bucket); also read for the lock bucket.
pub(crate) async fn read_config(ctx: &Ctx, name: &str) -> Result<Option<Config>, AwsError> {
    let s3 = &ctx.clients.s3;
    // One configuration read: `$get` of the bucket, its answer picked out by `$pick`.
    macro_rules! read {
        ($get:ident, $op:literal, $pick:expr) => {
            async {
                classify(
                    s3.$get()
                        .bucket(name)
                        .send()
                        .await
                        .map($pick)
                        .map_err(aws($op)),
                )
            }
        };
    }
    let (enc, pab, lc, own, pol) = tokio::try_join!(
        read!(get_bucket_encryption, "s3:GetBucketEncryption", |o| o
            .server_side_encryption_configuration()
            .cloned()),
        read!(get_public_access_block, "s3:GetPublicAccessBlock", |o| o
            .public_access_block_configuration()
            .cloned()),
        read!(
            get_bucket_lifecycle_configuration,
            "s3:GetBucketLifecycleConfiguration",
            |o| o.rules().to_vec()
        ),
        read!(
            get_bucket_ownership_controls,
            "s3:GetBucketOwnershipControls",
            |o| o.ownership_controls().cloned()
        ),
        read!(get_bucket_policy, "s3:GetBucketPolicy", |o| o
            .policy()
            .map(str::to_string)),
    )?;
    Ok(Some(Config {
        encryption: found!(enc).flatten(),
        public_access_block: found!(pab).flatten(),
        lifecycle: found!(lc),
        ownership: found!(own).flatten(),
        policy: found!(pol).flatten(),
    }))
}

async fn observe_role(
    ctx: &Ctx,
    role: &str,
    wanted: bool,
    acct: &Account,
) -> Result<Option<Observed>, AwsError> {
    let id = bucket_id(role);
    let name = bucket_name(&ctx.project, &ctx.env, &ctx.region, role);
    // The env's tag index lists our buckets with their tags: no probe. A name it does not list
    // is probed (absent, someone else's, or ours but just tagged).
    let indexed = ctx
        .tag_index()
        .await?
        .tags(&bucket_arn(&ctx.region, &name))
        .cloned();
    let tags = match indexed {
        Some(t) => t,
        None => match read_tags(ctx, &name).await? {
            Probe::Absent => return Ok(None),
            Probe::Unreadable => return Ok(Some(foreign(id, &name))),
            Probe::Tags(t) => t,
        },
    };
    if !owned(&tags, &ctx.project, &ctx.env, &id) {
        return Ok(Some(foreign(id, &name)));
    }
    // Whether it holds objects is read only when the plan deletes or replaces it
    // (`Kind::data_held`).
    let config = if wanted {
        read_config(ctx, &name).await?
    } else {
        Some(Config::default())
    };
    let Some(config) = config else {
        return Ok(None);
    };
    let account = match &config.policy {
        Some(_) => Some(account(ctx, acct).await?),
        None => None,
    };
    Ok(Some(observed_bucket(
        id,
        &ctx.region,
        &name,
        &tags,
        false,
        wanted.then_some(&config),
        account.as_deref(),
    )))
}

#[cfg(test)]
mod tests;
