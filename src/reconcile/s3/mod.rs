//! S3: the edge's access-log buckets (issue 5).
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
//! - `policy`: compared by meaning (model::policy::iam). alb-logs lets ELB log delivery put
//!   objects under `AWSLogs/<account>/` — the regional ELB account for the regions that have
//!   one ([`elb_account`]), else the service principal
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
//! has no spec): GetBucketTagging per candidate (NoSuchBucket: absent; AccessDenied or a
//! redirect: someone else's bucket; no tags or not ours: `Ownership::Foreign`, a conflict, never
//! touched), then for each bucket of ours ListObjectsV2 (max 1 key: does it hold objects?) and,
//! when the spec wants it, GetBucketEncryption, GetPublicAccessBlock,
//! GetBucketLifecycleConfiguration, GetBucketOwnershipControls and GetBucketPolicy (the
//! "not configured" errors of each read as absent, [`classify`]), plus one GetCallerIdentity
//! when a policy was read. Both buckets in the spec: 15 calls; none: 2.
//!
//! Delete: a bucket holding objects is refused in the plan ([`guard`]) unless its
//! `rtech:force-delete` tag is `true` (for a replace, the spec must say so too); with it, apply
//! empties the bucket (ListObjectVersions + DeleteObjects, 1000 at a time, every version and
//! delete marker) and deletes it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::aws::{aws, retry_on, AwsError};
use crate::model::policy;
use crate::model::{
    tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV, TAG_ID,
    TAG_PROJECT,
};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::{force_delete, refuse_data_loss, Ctx, DataLoss, Op, Reconciler};
use crate::spec::Spec;

pub const BUCKET: &str = "s3_bucket";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: BUCKET,
    force_new: &["name"],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// The ALB's access-log bucket.
pub const ALB_LOGS: &str = "alb-logs";
/// CloudFront's standard-logging bucket.
pub const CF_LOGS: &str = "cf-logs";
/// Every bucket role rtech may have in an env (observe looks for all of them).
pub const ROLES: &[&str] = &[ALB_LOGS, CF_LOGS];

/// Tag telling destroy whether a bucket that still holds objects may be deleted.
pub use crate::reconcile::TAG_FORCE_DELETE;
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

/// How long apply retries a configuration call while a new bucket is not visible yet.
const NEW_BUCKET_WAIT: Duration = Duration::from_secs(60);

pub fn bucket_id(role: &str) -> ResourceId {
    ResourceId::new(BUCKET, role)
}

/// The regions' own ELB accounts that write access logs (regions opened before August 2022;
/// later ones use [`ELB_LOG_DELIVERY`]).
pub const ELB_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
    ("cn-north-1", "638102146993"),
    ("cn-northwest-1", "037604701340"),
];

/// The regional ELB account, for the regions that have one.
pub fn elb_account(region: &str) -> Option<&'static str> {
    ELB_ACCOUNTS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, a)| *a)
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

/// Who delivers ELB access logs in `region`, as a policy principal.
pub fn elb_principal(region: &str) -> serde_json::Value {
    match elb_account(region) {
        Some(a) => json!({"AWS": format!("arn:{}:iam::{a}:root", partition(region))}),
        None => json!({"Service": ELB_LOG_DELIVERY}),
    }
}

/// The bucket policy (with [`ACCOUNT`] for the caller's account): for the ALB's bucket, ELB
/// log delivery may put objects under `AWSLogs/<account>/`; the CloudFront bucket has none
/// (CloudFront's standard logging writes through the bucket ACL).
pub fn bucket_policy(role: &str, region: &str, name: &str) -> Option<serde_json::Value> {
    if role != ALB_LOGS {
        return None;
    }
    let arn = bucket_arn(region, name);
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ElbLogDelivery",
            "Effect": "Allow",
            "Principal": elb_principal(region),
            "Action": "s3:PutObject",
            "Resource": format!("{arn}/AWSLogs/{ACCOUNT}/*")
        }]
    }))
}

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The four public access block switches, all set to `on`.
pub fn public_access_block(on: bool) -> Value {
    map([
        ("block_public_acls", Value::Bool(on)),
        ("ignore_public_acls", Value::Bool(on)),
        ("block_public_policy", Value::Bool(on)),
        ("restrict_public_buckets", Value::Bool(on)),
    ])
}

/// rtech's lifecycle: every object expires `days` after its creation.
pub fn lifecycle(days: i64) -> Value {
    Value::Map(BTreeMap::from([(
        LIFECYCLE_RULE.to_string(),
        map([
            ("status", Value::str("Enabled")),
            ("expiration_days", Value::Int(days)),
        ]),
    )]))
}

// ---------------------------------------------------------------------------------------------
// expand

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

fn bucket(spec: &Spec, role: &str, days: i64, ownership: &str, force: bool) -> Resource {
    let id = bucket_id(role);
    let name = bucket_name(&spec.project, &spec.env, &spec.region, role);
    let mut tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    tags.insert(TAG_FORCE_DELETE.into(), force.to_string());
    Resource::new(id, &name)
        .prop("name", Value::str(&name))
        .prop("encryption", Value::str(ENCRYPTION))
        .prop("public_access_block", public_access_block(true))
        .prop("lifecycle", lifecycle(days))
        .prop("object_ownership", Value::str(ownership))
        .prop(
            "policy",
            bucket_policy(role, &spec.region, &name)
                .map(|p| policy::iam(&p))
                .unwrap_or(Value::Null),
        )
        .prop("tags", Value::string_map(&tags))
}

// ---------------------------------------------------------------------------------------------
// observe: error mapping and normalisation (pure)

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
        Err(e) if e.code == "NoSuchBucket" => Ok(Read::NoBucket),
        Err(e) if NOT_CONFIGURED.contains(&e.code.as_str()) => Ok(Read::NotConfigured),
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
        Err(e) if NOT_OURS.contains(&e.code.as_str()) => Ok(Probe::Unreadable),
        r => Ok(match classify(r)? {
            Read::Found(tags) => Probe::Tags(tag_map(&tags)),
            Read::NotConfigured => Probe::Tags(BTreeMap::new()),
            Read::NoBucket => Probe::Absent,
        }),
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

/// Whether the tags make the bucket at `id`'s name ours: project, env and id all match.
pub fn owned(tags: &BTreeMap<String, String>, project: &str, env: &str, id: &ResourceId) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&id.to_string())
}

/// A bucket's configuration as S3 returns it (None: not configured).
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub encryption: Option<ServerSideEncryptionConfiguration>,
    pub public_access_block: Option<PublicAccessBlockConfiguration>,
    pub lifecycle: Option<Vec<LifecycleRule>>,
    pub ownership: Option<OwnershipControls>,
    pub policy: Option<String>,
}

/// The default encryption's algorithm (`AES256`, `aws:kms`, …).
pub fn encryption_value(c: Option<&ServerSideEncryptionConfiguration>) -> Value {
    Value::opt_str(
        c.and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str()),
    )
}

/// No public access block configuration blocks nothing.
pub fn public_access_block_value(c: Option<&PublicAccessBlockConfiguration>) -> Value {
    let b = |v: Option<bool>| Value::Bool(v.unwrap_or(false));
    match c {
        None => public_access_block(false),
        Some(c) => map([
            ("block_public_acls", b(c.block_public_acls())),
            ("ignore_public_acls", b(c.ignore_public_acls())),
            ("block_public_policy", b(c.block_public_policy())),
            ("restrict_public_buckets", b(c.restrict_public_buckets())),
        ]),
    }
}

/// Lifecycle rules as a map by rule id, in the shape of [`lifecycle`]: status, expiration
/// days, and whatever else a rule does that rtech's does not (a prefix, another filter,
/// transitions, …) so that it shows as drift.
pub fn lifecycle_value(rules: Option<&[LifecycleRule]>) -> Value {
    let mut out = BTreeMap::new();
    for (i, r) in rules.unwrap_or_default().iter().enumerate() {
        let id = r
            .id()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("(rule {})", i + 1));
        let mut m = BTreeMap::new();
        m.insert("status".to_string(), Value::str(r.status().as_str()));
        if let Some(days) = r.expiration().and_then(|e| e.days()) {
            m.insert("expiration_days".into(), Value::Int(days.into()));
        }
        #[allow(deprecated)]
        let prefix = r
            .filter()
            .and_then(|f| f.prefix())
            .or(r.prefix())
            .unwrap_or_default();
        if !prefix.is_empty() {
            m.insert("prefix".into(), Value::str(prefix));
        }
        let f = r.filter();
        if f.is_some_and(|f| {
            f.tag().is_some()
                || f.and().is_some()
                || f.object_size_greater_than().is_some()
                || f.object_size_less_than().is_some()
        }) {
            m.insert("filter".into(), Value::str("by tag or size"));
        }
        let mut other = vec![];
        if r.expiration().and_then(|e| e.date()).is_some() {
            other.push("expiration date");
        }
        if r.expiration()
            .and_then(|e| e.expired_object_delete_marker())
            == Some(true)
        {
            other.push("expired delete markers");
        }
        if !r.transitions().is_empty() || !r.noncurrent_version_transitions().is_empty() {
            other.push("transitions");
        }
        if r.noncurrent_version_expiration().is_some() {
            other.push("noncurrent version expiration");
        }
        if r.abort_incomplete_multipart_upload().is_some() {
            other.push("abort incomplete multipart uploads");
        }
        if !other.is_empty() {
            m.insert("other_actions".into(), Value::str(other.join(", ")));
        }
        out.insert(id, Value::Map(m));
    }
    Value::Map(out)
}

pub fn ownership_value(c: Option<&OwnershipControls>) -> Value {
    Value::opt_str(
        c.and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str()),
    )
}

/// A live policy in the desired shape: canonical (model::policy::iam), with the caller's
/// account under `AWSLogs/` written as [`ACCOUNT`]. A policy that is not JSON stays text.
pub fn policy_value(text: Option<&str>, account: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let text = match account.filter(|a| !a.is_empty()) {
        Some(a) => text.replace(&format!("/AWSLogs/{a}/"), &format!("/AWSLogs/{ACCOUNT}/")),
        None => text.to_string(),
    };
    policy::iam_text(&text).unwrap_or(Value::Str(text))
}

/// The policy text PutBucketPolicy is sent: the desired document with the account filled in.
pub fn policy_text(v: &Value, account: &str) -> String {
    v.to_json().to_string().replace(ACCOUNT, account)
}

fn attrs(region: &str, name: &str, has_objects: bool) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    a.insert("name".into(), name.to_string());
    a.insert("arn".into(), bucket_arn(region, name));
    a.insert("domain_name".into(), domain_name(name));
    a.insert("has_objects".into(), has_objects.to_string());
    a
}

/// A bucket of ours → `Observed` (pure). Without `config` (a bucket the spec does not want,
/// about to be deleted) only the name and the tags are known.
pub fn observed_bucket(
    id: ResourceId,
    region: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
    has_objects: bool,
    config: Option<&Config>,
    account: Option<&str>,
) -> Observed {
    let mut o = Observed::new(id, name)
        .prop("name", Value::str(name))
        .prop("tags", Value::string_map(tags));
    if let Some(c) = config {
        o = o
            .prop("encryption", encryption_value(c.encryption.as_ref()))
            .prop(
                "public_access_block",
                public_access_block_value(c.public_access_block.as_ref()),
            )
            .prop("lifecycle", lifecycle_value(c.lifecycle.as_deref()))
            .prop("object_ownership", ownership_value(c.ownership.as_ref()))
            .prop("policy", policy_value(c.policy.as_deref(), account));
    }
    o.attrs = attrs(region, name, has_objects);
    o
}

fn foreign(id: ResourceId, name: &str) -> Observed {
    let mut o = Observed::new(id, name);
    o.ownership = Ownership::Foreign;
    o
}

/// The plan's refusal: deleting (or replacing) a bucket that still holds objects, unless the
/// bucket is marked `rtech:force-delete=true` (and, for a replace, the spec agrees).
pub fn guard(change: &Change) -> Option<String> {
    if change.id.kind != BUCKET || !matches!(change.action, Action::Delete | Action::Replace) {
        return None;
    }
    let prior = change.prior.as_ref()?;
    if prior.attrs.get("has_objects").map(String::as_str) != Some("true") {
        return None;
    }
    refuse_data_loss(
        change,
        DataLoss {
            noun: "bucket",
            holds: "objects".into(),
            setting: "[edge] log_buckets_force_delete = true",
            otherwise: "empty the bucket first",
        },
    )
}

/// DeleteObjects batches: at most 1000 keys (with their version) each.
pub fn batches(keys: Vec<(String, Option<String>)>) -> Vec<Vec<(String, Option<String>)>> {
    keys.chunks(1000).map(<[_]>::to_vec).collect()
}

// ---------------------------------------------------------------------------------------------
// observe: AWS calls

/// The caller's account, fetched at most once per observe or apply call.
type Account = OnceCell<String>;

async fn account(ctx: &Ctx, cell: &Account) -> Result<String, AwsError> {
    cell.get_or_try_init(|| ctx.clients.account_id())
        .await
        .cloned()
}

async fn read_tags(ctx: &Ctx, name: &str) -> Result<Probe, AwsError> {
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

async fn read_has_objects(ctx: &Ctx, name: &str) -> Result<Read<bool>, AwsError> {
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

async fn read_config(ctx: &Ctx, name: &str) -> Result<Option<Config>, AwsError> {
    let s3 = &ctx.clients.s3;
    let (enc, pab, lc, own, pol) = tokio::try_join!(
        async {
            classify(
                s3.get_bucket_encryption()
                    .bucket(name)
                    .send()
                    .await
                    .map(|o| o.server_side_encryption_configuration().cloned())
                    .map_err(aws("s3:GetBucketEncryption")),
            )
        },
        async {
            classify(
                s3.get_public_access_block()
                    .bucket(name)
                    .send()
                    .await
                    .map(|o| o.public_access_block_configuration().cloned())
                    .map_err(aws("s3:GetPublicAccessBlock")),
            )
        },
        async {
            classify(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .await
                    .map(|o| o.rules().to_vec())
                    .map_err(aws("s3:GetBucketLifecycleConfiguration")),
            )
        },
        async {
            classify(
                s3.get_bucket_ownership_controls()
                    .bucket(name)
                    .send()
                    .await
                    .map(|o| o.ownership_controls().cloned())
                    .map_err(aws("s3:GetBucketOwnershipControls")),
            )
        },
        async {
            classify(
                s3.get_bucket_policy()
                    .bucket(name)
                    .send()
                    .await
                    .map(|o| o.policy().map(str::to_string))
                    .map_err(aws("s3:GetBucketPolicy")),
            )
        },
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
    let tags = match read_tags(ctx, &name).await? {
        Probe::Absent => return Ok(None),
        Probe::Unreadable => return Ok(Some(foreign(id, &name))),
        Probe::Tags(t) => t,
    };
    if !owned(&tags, &ctx.project, &ctx.env, &id) {
        return Ok(Some(foreign(id, &name)));
    }
    let (has_objects, config) = if wanted {
        tokio::try_join!(read_has_objects(ctx, &name), async {
            read_config(ctx, &name).await
        })?
    } else {
        (read_has_objects(ctx, &name).await?, Some(Config::default()))
    };
    let has_objects = found!(has_objects).unwrap_or(false);
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
        has_objects,
        wanted.then_some(&config),
        account.as_deref(),
    )))
}

// ---------------------------------------------------------------------------------------------
// apply

fn s<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.get_str(key).unwrap_or_default()
}

fn build_err(op: &'static str) -> impl Fn(aws_sdk_s3::error::BuildError) -> AwsError {
    move |e| AwsError::new(op, "InvalidRequest", e.to_string())
}

async fn put_tags(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let tags = tags_of(&r.props)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_err("s3:PutBucketTagging"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(build_err("s3:PutBucketTagging"))?;
    ctx.clients
        .s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(aws("s3:PutBucketTagging"))?;
    Ok(())
}

async fn put_public_access_block(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let m = r
        .props
        .get("public_access_block")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let b = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
    ctx.clients
        .s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(b("block_public_acls"))
                .ignore_public_acls(b("ignore_public_acls"))
                .block_public_policy(b("block_public_policy"))
                .restrict_public_buckets(b("restrict_public_buckets"))
                .build(),
        )
        .send()
        .await
        .map_err(aws("s3:PutPublicAccessBlock"))?;
    Ok(())
}

async fn put_ownership(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(s(r, "object_ownership")))
        .build()
        .map_err(build_err("s3:PutBucketOwnershipControls"))?;
    ctx.clients
        .s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(build_err("s3:PutBucketOwnershipControls"))?,
        )
        .send()
        .await
        .map_err(aws("s3:PutBucketOwnershipControls"))?;
    Ok(())
}

async fn put_encryption(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(s(r, "encryption")))
        .build()
        .map_err(build_err("s3:PutBucketEncryption"))?;
    ctx.clients
        .s3
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(by_default)
                        .build(),
                )
                .build()
                .map_err(build_err("s3:PutBucketEncryption"))?,
        )
        .send()
        .await
        .map_err(aws("s3:PutBucketEncryption"))?;
    Ok(())
}

/// The lifecycle rules PutBucketLifecycleConfiguration is sent (from the `lifecycle` map).
pub fn lifecycle_rules(r: &Resource) -> Result<Vec<LifecycleRule>, AwsError> {
    let rules = r
        .props
        .get("lifecycle")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    rules
        .iter()
        .map(|(id, rule)| {
            let m = rule.as_map().cloned().unwrap_or_default();
            let mut b = LifecycleRule::builder()
                .id(id)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .status(ExpirationStatus::from(
                    m.get("status").and_then(Value::as_str).unwrap_or("Enabled"),
                ));
            if let Some(days) = m.get("expiration_days").and_then(Value::as_int) {
                b = b.expiration(
                    LifecycleExpiration::builder()
                        .days(days.try_into().unwrap_or(i32::MAX))
                        .build(),
                );
            }
            b.build()
                .map_err(build_err("s3:PutBucketLifecycleConfiguration"))
        })
        .collect()
}

async fn put_lifecycle(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let rules = lifecycle_rules(r)?;
    let s3 = &ctx.clients.s3;
    if rules.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(name)
            .send()
            .await
            .map_err(aws("s3:DeleteBucketLifecycle"))?;
        return Ok(());
    }
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .map_err(build_err("s3:PutBucketLifecycleConfiguration"))?,
        )
        .send()
        .await
        .map_err(aws("s3:PutBucketLifecycleConfiguration"))?;
    Ok(())
}

async fn put_policy(ctx: &Ctx, name: &str, r: &Resource, acct: &Account) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    match r.props.get("policy") {
        None | Some(Value::Null) => {
            s3.delete_bucket_policy()
                .bucket(name)
                .send()
                .await
                .map_err(aws("s3:DeleteBucketPolicy"))?;
        }
        Some(v) => {
            let text = policy_text(v, &account(ctx, acct).await?);
            s3.put_bucket_policy()
                .bucket(name)
                .policy(text)
                .send()
                .await
                .map_err(aws("s3:PutBucketPolicy"))?;
        }
    }
    Ok(())
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let s3 = &ctx.clients.s3;
    let name = s(r, "name");
    let mut req = s3.create_bucket().bucket(name);
    // us-east-1 takes no location constraint (and refuses its own name as one).
    if ctx.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                .build(),
        );
    }
    match req.send().await.map_err(aws("s3:CreateBucket")) {
        Ok(_) => {}
        // Ours already (an earlier apply stopped before tagging it): carry on.
        Err(e) if e.code == "BucketAlreadyOwnedByYou" => {}
        Err(e) if e.code == "BucketAlreadyExists" => {
            return Err(AwsError::new(
                e.op,
                e.code,
                format!(
                    "the bucket name {name} ({}) is taken by another AWS account: bucket names are global ({})",
                    r.id, e.message
                ),
            ))
        }
        Err(e) => return Err(e),
    }
    // Tags first: they are what makes the bucket ours to the next plan. A new bucket may take
    // a moment to be visible to its configuration APIs.
    task.status("tagging");
    retry_on(&["NoSuchBucket"], NEW_BUCKET_WAIT, || {
        put_tags(ctx, name, r)
    })
    .await?;
    task.status("blocking public access");
    put_public_access_block(ctx, name, r).await?;
    task.status("setting object ownership, encryption, lifecycle and policy");
    put_ownership(ctx, name, r).await?;
    put_encryption(ctx, name, r).await?;
    put_lifecycle(ctx, name, r).await?;
    if !matches!(r.props.get("policy"), None | Some(Value::Null)) {
        put_policy(ctx, name, r, &Account::new()).await?;
    }
    Ok(attrs(&ctx.region, name, false))
}

async fn update(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    let name = prior.physical_id.as_str();
    if changed.contains("tags") {
        put_tags(ctx, name, desired).await?;
    }
    if changed.contains("public_access_block") {
        put_public_access_block(ctx, name, desired).await?;
    }
    if changed.contains("object_ownership") {
        put_ownership(ctx, name, desired).await?;
    }
    if changed.contains("encryption") {
        put_encryption(ctx, name, desired).await?;
    }
    if changed.contains("lifecycle") {
        put_lifecycle(ctx, name, desired).await?;
    }
    if changed.contains("policy") {
        put_policy(ctx, name, desired, &Account::new()).await?;
    }
    let mut a = prior.attrs.clone();
    a.insert("id".into(), name.to_string());
    Ok(a)
}

/// Delete every object version and delete marker, 1000 at a time.
async fn empty(ctx: &Ctx, name: &str, task: &Task) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    let mut deleted = 0usize;
    loop {
        let out = match s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(aws("s3:ListObjectVersions"))
        {
            Ok(o) => o,
            Err(e) if e.code == "NoSuchBucket" => return Ok(()),
            Err(e) => return Err(e),
        };
        let keys: Vec<(String, Option<String>)> = out
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                out.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            )
            .filter_map(|(k, v)| Some((k?.to_string(), v.map(str::to_string))))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        for batch in batches(keys) {
            let n = batch.len();
            let objects = batch
                .into_iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v)
                        .build()
                        .map_err(build_err("s3:DeleteObjects"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(
                    Delete::builder()
                        .set_objects(Some(objects))
                        .quiet(true)
                        .build()
                        .map_err(build_err("s3:DeleteObjects"))?,
                )
                .send()
                .await
                .map_err(aws("s3:DeleteObjects"))?;
            if let Some(e) = out.errors().first() {
                return Err(AwsError::new(
                    "s3:DeleteObjects",
                    e.code().unwrap_or("Unknown"),
                    format!(
                        "emptying {name}: {} of {n} object(s) not deleted, e.g. {}: {}",
                        out.errors().len(),
                        e.key().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    ),
                ));
            }
            deleted += n;
            task.status(&format!("emptying: {deleted} object(s) deleted"));
        }
    }
}

async fn delete(ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
    let name = o.physical_id.as_str();
    if force_delete(o) {
        empty(ctx, name, task).await?;
    }
    match ctx
        .clients
        .s3
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(aws("s3:DeleteBucket"))
    {
        Ok(_) => Ok(Attrs::new()),
        Err(e) if e.code == "NoSuchBucket" => Ok(Attrs::new()),
        Err(e) if e.code == "BucketNotEmpty" => Err(AwsError::new(
            e.op,
            e.code,
            format!(
                "{} ({name}) holds objects and is not marked {TAG_FORCE_DELETE}=true: set [edge] log_buckets_force_delete = true and apply first ({})",
                o.id, e.message
            ),
        )),
        Err(e) => Err(e),
    }
}

pub struct S3;

#[async_trait]
impl Reconciler for S3 {
    fn service(&self) -> &'static str {
        "s3"
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

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

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed).await,
            Op::Delete(o) => delete(ctx, o, task).await,
        }
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}

#[cfg(test)]
mod tests;
