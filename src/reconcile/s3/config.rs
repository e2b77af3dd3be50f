//! A bucket's configuration, one shape for both sides: the typed pieces of [`BucketProps`]
//! (public access block, lifecycle rules), how S3's answers read into them, and the requests
//! that set each one.
//!
//! [`BucketProps`]: super::bucket::BucketProps

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use serde::{Deserialize, Serialize};

use super::policy::policy_text;
use super::{account, Account, LIFECYCLE_RULE};
use crate::aws::{aws, AwsError};
use crate::reconcile::kit::{try_tag_list, TagApi};
use crate::reconcile::Ctx;

/// The four public access block switches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// The four switches, all set to `on`.
pub fn public_access_block(on: bool) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: on,
        ignore_public_acls: on,
        block_public_policy: on,
        restrict_public_buckets: on,
    }
}

/// One lifecycle rule: its status and expiry, and whatever else a live rule does that
/// rtech's does not (a prefix, another filter, other actions), so that it shows as drift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRuleProps {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_actions: Option<String>,
}

/// Lifecycle rules by rule id.
pub type Lifecycle = BTreeMap<String, LifecycleRuleProps>;

/// rtech's lifecycle: every object expires `days` after its creation.
pub fn lifecycle(days: i64) -> Lifecycle {
    BTreeMap::from([(
        LIFECYCLE_RULE.to_string(),
        LifecycleRuleProps {
            status: "Enabled".into(),
            expiration_days: Some(days),
            prefix: None,
            filter: None,
            other_actions: None,
        },
    )])
}

// ---------------------------------------------------------------------------------------------
// S3's answers → the typed shape (pure)

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
pub fn encryption_value(c: Option<&ServerSideEncryptionConfiguration>) -> Option<String> {
    c.and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string())
}

/// No public access block configuration blocks nothing.
pub fn public_access_block_value(c: Option<&PublicAccessBlockConfiguration>) -> PublicAccessBlock {
    let b = |v: Option<bool>| v.unwrap_or(false);
    match c {
        None => public_access_block(false),
        Some(c) => PublicAccessBlock {
            block_public_acls: b(c.block_public_acls()),
            ignore_public_acls: b(c.ignore_public_acls()),
            block_public_policy: b(c.block_public_policy()),
            restrict_public_buckets: b(c.restrict_public_buckets()),
        },
    }
}

/// Lifecycle rules as a map by rule id, in the shape of [`lifecycle`].
pub fn lifecycle_value(rules: Option<&[LifecycleRule]>) -> Lifecycle {
    let mut out = BTreeMap::new();
    for (i, r) in rules.unwrap_or_default().iter().enumerate() {
        let id = r
            .id()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("(rule {})", i + 1));
        #[allow(deprecated)]
        let prefix = r
            .filter()
            .and_then(|f| f.prefix())
            .or(r.prefix())
            .unwrap_or_default();
        let filtered = r.filter().is_some_and(|f| {
            f.tag().is_some()
                || f.and().is_some()
                || f.object_size_greater_than().is_some()
                || f.object_size_less_than().is_some()
        });
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
        let rule = LifecycleRuleProps {
            status: r.status().as_str().to_string(),
            expiration_days: r.expiration().and_then(|e| e.days()).map(i64::from),
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            filter: filtered.then(|| "by tag or size".to_string()),
            other_actions: (!other.is_empty()).then(|| other.join(", ")),
        };
        out.insert(id, rule);
    }
    out
}

pub fn ownership_value(c: Option<&OwnershipControls>) -> Option<String> {
    c.and_then(|c| c.rules().first())
        .map(|r| r.object_ownership().as_str().to_string())
}

// ---------------------------------------------------------------------------------------------
// requests

/// An SDK builder's error (a required field left out) as an error of `op`.
pub(super) fn build_err(op: &'static str) -> impl Fn(aws_sdk_s3::error::BuildError) -> AwsError {
    move |e| AwsError::new(op, "InvalidRequest", e.to_string())
}

/// PutBucketTagging: S3 replaces the whole tag set in one call (it has no per-key tag and
/// untag), so the bucket is sent its desired set.
pub async fn put_tags(
    ctx: &Ctx,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let tags = try_tag_list(tags, "s3:PutBucketTagging", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
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

/// [`TagApi`] over PutBucketTagging, which replaces the whole set: each call sends the set as
/// it stands, the bucket's live tags with every call so far applied.
pub struct BucketTags<'a> {
    ctx: &'a Ctx,
    set: std::sync::Mutex<BTreeMap<String, String>>,
}

impl<'a> BucketTags<'a> {
    /// The bucket's tag calls, from its live tags `live`.
    pub fn new(ctx: &'a Ctx, live: BTreeMap<String, String>) -> Self {
        BucketTags {
            ctx,
            set: std::sync::Mutex::new(live),
        }
    }

    /// Send the set as `edit` leaves it, and keep it.
    async fn put(
        &self,
        name: &str,
        edit: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner()).clone();
        edit(&mut set);
        put_tags(self.ctx, name, &set).await?;
        *self.set.lock().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }
}

#[async_trait::async_trait]
impl TagApi for BucketTags<'_> {
    async fn untag(&self, name: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.put(name, |set| set.retain(|k, _| !keys.contains(k)))
            .await
    }
    async fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        self.put(name, |set| set.extend(tags)).await
    }
}

pub async fn put_public_access_block(
    ctx: &Ctx,
    name: &str,
    b: &PublicAccessBlock,
) -> Result<(), AwsError> {
    ctx.clients
        .s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(b.block_public_acls)
                .ignore_public_acls(b.ignore_public_acls)
                .block_public_policy(b.block_public_policy)
                .restrict_public_buckets(b.restrict_public_buckets)
                .build(),
        )
        .send()
        .await
        .map_err(aws("s3:PutPublicAccessBlock"))?;
    Ok(())
}

pub async fn put_ownership(ctx: &Ctx, name: &str, ownership: &str) -> Result<(), AwsError> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership))
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

pub async fn put_encryption(ctx: &Ctx, name: &str, algorithm: &str) -> Result<(), AwsError> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(algorithm))
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

/// The lifecycle rules PutBucketLifecycleConfiguration is sent.
pub fn lifecycle_rules(rules: &Lifecycle) -> Result<Vec<LifecycleRule>, AwsError> {
    rules
        .iter()
        .map(|(id, rule)| {
            let mut b = LifecycleRule::builder()
                .id(id)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .status(ExpirationStatus::from(rule.status.as_str()));
            if let Some(days) = rule.expiration_days {
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

pub async fn put_lifecycle(ctx: &Ctx, name: &str, lifecycle: &Lifecycle) -> Result<(), AwsError> {
    let rules = lifecycle_rules(lifecycle)?;
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

/// CreateBucket of `name` in the session's region: us-east-1 takes no location constraint
/// (and refuses its own name as one).
/// CreateBucket with the bucket's tags in the call itself, so that a bucket made by a create
/// whose response was lost, or by an apply killed right after it, is already ours to the next
/// plan (and a retried create finds it by its tags). S3 wants no location constraint in
/// us-east-1 and the region's own elsewhere.
pub fn create_bucket(
    ctx: &Ctx,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<aws_sdk_s3::operation::create_bucket::builders::CreateBucketFluentBuilder, AwsError> {
    let tags = try_tag_list(tags, "s3:CreateBucket", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
    let mut conf = aws_sdk_s3::types::CreateBucketConfiguration::builder().set_tags(Some(tags));
    if ctx.region != "us-east-1" {
        conf = conf.location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
            ctx.region.as_str(),
        ));
    }
    Ok(ctx
        .clients
        .s3
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(conf.build()))
}

/// PutBucketPolicy with the account filled in, or DeleteBucketPolicy for a null policy.
pub async fn put_policy(
    ctx: &Ctx,
    name: &str,
    policy: &serde_json::Value,
    acct: &Account,
) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    if policy.is_null() {
        s3.delete_bucket_policy()
            .bucket(name)
            .send()
            .await
            .map_err(aws("s3:DeleteBucketPolicy"))?;
        return Ok(());
    }
    let text = policy_text(policy, &account(ctx, acct).await?);
    s3.put_bucket_policy()
        .bucket(name)
        .policy(text)
        .send()
        .await
        .map_err(aws("s3:PutBucketPolicy"))?;
    Ok(())
}
