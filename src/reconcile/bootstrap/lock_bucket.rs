//! `lock_bucket/main`: the bucket that holds every env's lock (`[lock] bucket`, default
//! `<project>-rtech-<account id>-<region>`):
//! - `versioning`: `Enabled` (every lock ever written stays readable).
//! - `encryption`: `AES256` (SSE-S3 by default).
//! - `public_access_block`: all four switches on.
//! - `policy`: one statement denying every request not made over TLS
//!   (`aws:SecureTransport = false`).
//! - `tags`: rtech's (`rtech:project`, `rtech:id = lock_bucket/main`, `Name`); `rtech:env` is
//!   `all`: one bucket serves every env of the project in the account and region.
//!
//! A bucket of that name without those tags (another account's, as bucket names are global,
//! or one made by hand) is a conflict: left alone, and bootstrap refuses. rtech never deletes
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};

use super::ALL_ENVS;
use crate::aws::{aws, AwsError};
use crate::model::{policy, tags_for, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, is_ours, retry_while, to_props};
use crate::reconcile::s3::config::{
    create_bucket, encryption_value, public_access_block, public_access_block_value,
    put_encryption, put_public_access_block, put_tags, PublicAccessBlock,
};
use crate::reconcile::s3::{bucket_arn, read_config, read_tags, Probe, ENCRYPTION};
use crate::reconcile::{Ctx, Kind, Update};

/// The lock bucket's kind; it is not an env's resource, so no env's service observes it.
pub const KIND: &str = "lock_bucket";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockBucketProps {
    pub name: String,
    pub versioning: Option<String>,
    pub encryption: Option<String>,
    pub public_access_block: PublicAccessBlock,
    /// The bucket policy in `policy::iam`'s canonical form.
    pub policy: Option<J>,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(KIND, &["name"]);

/// How long a new bucket may take to be visible to its configuration calls.
const NEW_BUCKET_WAIT: Duration = Duration::from_secs(60);

pub fn id() -> ResourceId {
    ResourceId::new(KIND, "main")
}

/// The bucket policy: nothing reaches the bucket except over TLS.
pub fn tls_only_policy(region: &str, bucket: &str) -> J {
    let arn = bucket_arn(region, bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
}

/// The lock bucket as rtech wants it (pure).
pub fn desired(project: &str, region: &str, bucket: &str) -> Resource {
    let id = id();
    let tags = tags_for(project, ALL_ENVS, &id, bucket, &BTreeMap::new());
    Resource::new(id, bucket).with_props(to_props(&LockBucketProps {
        name: bucket.to_string(),
        versioning: Some("Enabled".into()),
        encryption: Some(ENCRYPTION.into()),
        public_access_block: public_access_block(true),
        policy: Some(policy::iam(&tls_only_policy(region, bucket)).to_json()),
        tags,
    }))
}

/// What S3 says about the bucket, read into the desired shape.
pub struct Live {
    pub tags: BTreeMap<String, String>,
    pub versioning: Option<String>,
    pub encryption: Option<String>,
    pub public_access_block: PublicAccessBlock,
    pub policy: Option<String>,
}

/// The live bucket as an Observed (pure): ours only with rtech's tags for `lock_bucket/main`.
pub fn observed(project: &str, region: &str, bucket: &str, live: &Live) -> Observed {
    let id = id();
    let mut o = Observed::new(id.clone(), bucket)
        .with_props(to_props(&LockBucketProps {
            name: bucket.to_string(),
            versioning: live.versioning.clone(),
            encryption: live.encryption.clone(),
            public_access_block: live.public_access_block.clone(),
            policy: live
                .policy
                .as_deref()
                .and_then(policy::iam_text)
                .map(|v| v.to_json()),
            tags: live.tags.clone(),
        }))
        .attr("name", bucket)
        .attr("arn", bucket_arn(region, bucket));
    if !is_ours(&live.tags, project, ALL_ENVS, &id) {
        o.ownership = Ownership::Foreign;
    }
    o
}

/// A bucket we cannot look into or that lacks our tags.
fn foreign(bucket: &str) -> Observed {
    let mut o = Observed::new(id(), bucket);
    o.ownership = Ownership::Foreign;
    o
}

/// Read the bucket: absent, foreign, or ours with its configuration (the log buckets' reads,
/// and its versioning).
pub async fn observe(ctx: &Ctx, bucket: &str) -> Result<Option<Observed>, AwsError> {
    let tags = match read_tags(ctx, bucket).await? {
        Probe::Absent => return Ok(None),
        Probe::Unreadable => return Ok(Some(foreign(bucket))),
        Probe::Tags(t) => t,
    };
    if !is_ours(&tags, &ctx.project, ALL_ENVS, &id()) {
        return Ok(Some(foreign(bucket)));
    }
    let (versioning, config) = tokio::try_join!(
        async {
            ctx.clients
                .s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map(|o| o.status().map(|s| s.as_str().to_string()))
                .map_err(aws("s3:GetBucketVersioning"))
        },
        read_config(ctx, bucket),
    )?;
    // Deleted since its tags were read: absent.
    let Some(config) = config else {
        return Ok(None);
    };
    Ok(Some(observed(
        &ctx.project,
        &ctx.region,
        bucket,
        &Live {
            tags,
            versioning,
            encryption: encryption_value(config.encryption.as_ref()),
            public_access_block: public_access_block_value(config.public_access_block.as_ref()),
            policy: config.policy,
        },
    )))
}

/// Create the bucket (`changed` None), or set only the properties `changed` names.
async fn set(ctx: &Ctx, bucket: &str, changed: Option<&BTreeSet<String>>) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    let tags = tags_for(&ctx.project, ALL_ENVS, &id(), bucket, &BTreeMap::new());
    if changed.is_none() {
        let req = create_bucket(ctx, bucket, &tags)?;
        match req.send().await.map_err(aws("s3:CreateBucket")) {
            Err(e) if !e.is("BucketAlreadyOwnedByYou") => return Err(e),
            _ => {}
        }
    }
    let wants = |p: &str| changed.is_none_or(|c| c.contains(p));
    // Tags first: they make the bucket ours to the next plan. A new bucket may take a moment
    // to be visible to its configuration calls.
    if wants("tags") {
        retry_while(&[], &["NoSuchBucket"], NEW_BUCKET_WAIT, || {
            put_tags(ctx, bucket, &tags)
        })
        .await?;
    }
    if wants("versioning") {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("s3:PutBucketVersioning"))?;
    }
    if wants("encryption") {
        put_encryption(ctx, bucket, ENCRYPTION).await?;
    }
    if wants("public_access_block") {
        put_public_access_block(ctx, bucket, &public_access_block(true)).await?;
    }
    if wants("policy") {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(tls_only_policy(&ctx.region, bucket).to_string())
            .send()
            .await
            .map_err(aws("s3:PutBucketPolicy"))?;
    }
    Ok(())
}

fn attrs(ctx: &Ctx, bucket: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("name".into(), bucket.to_string());
    a.insert("arn".into(), bucket_arn(&ctx.region, bucket));
    a
}

pub struct LockBucket;

#[async_trait]
impl Kind for LockBucket {
    crate::typed_kind!(SCHEMA, LockBucketProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p = from_props::<LockBucketProps>(&r.props)?;
        task.status(&format!("creating bucket {}", p.name));
        set(ctx, &p.name, None).await?;
        Ok(attrs(ctx, &p.name))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p = from_props::<LockBucketProps>(&u.desired.props)?;
        set(ctx, &p.name, Some(u.changed)).await?;
        Ok(Attrs::new())
    }

    fn conflict_message(&self, ctx: &Ctx, c: &crate::plan::Conflict) -> Option<String> {
        Some(format!(
            "conflict: the bucket {} exists without rtech's tags for it ({}={}, {}={}): another account's (bucket names are global) or made by hand; rtech will not touch it. Name another in the spec ([lock] bucket = \"…\"), or tag it to adopt it",
            c.physical_id,
            crate::model::TAG_PROJECT,
            ctx.project,
            crate::model::TAG_ID,
            id()
        ))
    }

    /// Never: the bucket holds every env's lock and its history.
    async fn delete(&self, _ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        Err(AwsError::new(
            "s3:DeleteBucket",
            "Refused",
            format!(
                "rtech never deletes the lock bucket {}; delete it by hand once no env uses it",
                o.physical_id
            ),
        ))
    }
}
