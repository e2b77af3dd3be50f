//! `s3_bucket`: one access-log bucket. Its props, expand, the normaliser observe uses, the
//! guard against deleting logs, and create / update / delete (with emptying).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as J;

use super::config::{
    build_err, create_bucket, encryption_value, lifecycle, lifecycle_value, ownership_value,
    public_access_block, public_access_block_value, put_encryption, put_lifecycle, put_ownership,
    put_policy, put_public_access_block, put_tags, BucketTags, Config, Lifecycle,
    PublicAccessBlock,
};
use super::policy::{desired_policy, policy_value};
use super::{
    bucket_arn, bucket_id, bucket_name, domain_name, read_tags, Account, Probe, ENCRYPTION,
};
use crate::aws::{aws, AwsError};
use crate::model::{
    tag_pairs, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId,
};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, retry_while, to_props, Existing, PropsError,
    TagApi,
};
use crate::reconcile::{
    force_delete, refuse_data_loss, Ctx, DataLoss, Import, Kind, PhysicalId, Update,
};
use crate::spec::Spec;

pub use crate::reconcile::TAG_FORCE_DELETE;

pub const BUCKET: &str = "s3_bucket";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(BUCKET, &["name"]);

/// How long apply retries a configuration call while a new bucket is not visible yet.
const NEW_BUCKET_WAIT: Duration = Duration::from_secs(60);

/// A present key, even when its value is null: with `default` and `skip_serializing_if`, an
/// `Option<Option<T>>` field is absent (None), null (Some(None)) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A bucket's properties. A bucket the spec no longer wants is observed by name and tags
/// only (it is about to be deleted): the configuration fields are then absent. Read, a
/// configuration S3 does not have is null (`encryption`, `object_ownership`, `policy`) or
/// its "off" value (`public_access_block` all false, `lifecycle` empty).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketProps {
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub encryption: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub object_ownership: Option<Option<String>>,
    /// The canonical document (model::policy::iam), or null for none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub policy: Option<J>,
    pub tags: BTreeMap<String, String>,
}

/// A field every desired bucket has (only an observed bucket about to be deleted lacks it).
fn want<'a, T>(v: &'a Option<T>, field: &str) -> Result<&'a T, PropsError> {
    v.as_ref().ok_or_else(|| PropsError {
        message: format!("{field}: missing"),
    })
}

fn want_str<'a>(v: &'a Option<Option<String>>, field: &str) -> Result<&'a str, PropsError> {
    want(v, field)?.as_deref().ok_or_else(|| PropsError {
        message: format!("{field}: null"),
    })
}

pub struct Bucket;

/// A bucket name as S3 allows it: 3–63 lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
pub fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

static BUCKET_NAME: PhysicalId = PhysicalId {
    form: "a bucket name",
    check: is_bucket_name,
    found_by_name: true,
};

/// `rtech import s3_bucket/… NAME`: the bucket's tags (GetBucketTagging: NoSuchBucket, or
/// AccessDenied for another account's bucket, is the error) and its configuration, read as
/// observe reads ours. Observe finds buckets by the name the spec gives them.
#[async_trait]
impl Import for Bucket {
    fn physical(&self) -> &'static PhysicalId {
        &BUCKET_NAME
    }

    async fn read(&self, ctx: &Ctx, id: &ResourceId, name: &str) -> Result<Observed, AwsError> {
        let read = ctx
            .clients
            .s3
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map_err(aws("s3:GetBucketTagging"));
        let tags = match read {
            Ok(o) => tag_pairs(o.tag_set().iter().map(|t| (Some(t.key()), Some(t.value())))),
            Err(e) if e.is("NoSuchTagSet") => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let config = super::read_config(ctx, name).await?.ok_or_else(|| {
            AwsError::new(
                "s3:GetBucketEncryption",
                "NoSuchBucket",
                format!("no bucket named {name}"),
            )
        })?;
        let account = match &config.policy {
            Some(_) => Some(ctx.account().await?),
            None => None,
        };
        Ok(observed_bucket(
            id.clone(),
            &ctx.region,
            name,
            &tags,
            false,
            Some(&config),
            account.as_deref(),
        ))
    }

    fn tag_calls<'a>(&self, ctx: &'a Ctx, live: &Observed) -> (Box<dyn TagApi + 'a>, String) {
        let api = BucketTags::new(ctx, tags_of(&live.props));
        (Box::new(api), live.physical_id.clone())
    }
}

#[async_trait]
impl Kind for Bucket {
    crate::typed_kind!(SCHEMA, BucketProps, import);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: BucketProps = from_props(&r.props)?;
        let name = p.name.as_str();
        let create = async {
            create_bucket(ctx, name, &p.tags)?
                .send()
                .await
                .map(|_| ())
                .map_err(aws("s3:CreateBucket"))
        };
        // Bucket names are unique: a retried create (lost response) or an apply killed after
        // the create finds the bucket born with our tags, and adopts it; an untagged one or
        // another env's is refused by name.
        let made = adopt_on_exists(&r.id.to_string(), create, || async {
            Ok(match read_tags(ctx, name).await? {
                Probe::Absent => Existing::Missing,
                Probe::Unreadable => Existing::Foreign,
                Probe::Tags(t) => Existing::by_tags(&t, &ctx.project, &ctx.env, &r.id, ()),
            })
        })
        .await;
        match made {
            Ok(()) => {}
            Err(e) if e.is("BucketAlreadyExists") => {
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
        retry_while(&[], &["NoSuchBucket"], NEW_BUCKET_WAIT, || {
            put_tags(ctx, name, &p.tags)
        })
        .await?;
        task.status("blocking public access");
        put_public_access_block(
            ctx,
            name,
            want(&p.public_access_block, "public_access_block")?,
        )
        .await?;
        task.status("setting object ownership, encryption, lifecycle and policy");
        put_ownership(
            ctx,
            name,
            want_str(&p.object_ownership, "object_ownership")?,
        )
        .await?;
        put_encryption(ctx, name, want_str(&p.encryption, "encryption")?).await?;
        put_lifecycle(ctx, name, want(&p.lifecycle, "lifecycle")?).await?;
        let policy = want(&p.policy, "policy")?;
        if !policy.is_null() {
            put_policy(ctx, name, policy, &Account::new()).await?;
        }
        Ok(attrs(&ctx.region, name, false))
    }

    /// Only the configuration calls whose fields changed.
    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: BucketProps = from_props(&u.desired.props)?;
        let name = u.prior.physical_id.as_str();
        if u.changed("tags") {
            put_tags(ctx, name, &p.tags).await?;
        }
        if u.changed("public_access_block") {
            put_public_access_block(
                ctx,
                name,
                want(&p.public_access_block, "public_access_block")?,
            )
            .await?;
        }
        if u.changed("object_ownership") {
            put_ownership(
                ctx,
                name,
                want_str(&p.object_ownership, "object_ownership")?,
            )
            .await?;
        }
        if u.changed("encryption") {
            put_encryption(ctx, name, want_str(&p.encryption, "encryption")?).await?;
        }
        if u.changed("lifecycle") {
            put_lifecycle(ctx, name, want(&p.lifecycle, "lifecycle")?).await?;
        }
        if u.changed("policy") {
            put_policy(ctx, name, want(&p.policy, "policy")?, &Account::new()).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let name = o.physical_id.as_str();
        if force_delete(o) {
            empty(ctx, name, task).await?;
        }
        let deleted = ctx
            .clients
            .s3
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("s3:DeleteBucket"));
        match gone_ok(deleted) {
            Err(e) if e.is("BucketNotEmpty") => Err(AwsError::new(
                e.op,
                e.code,
                format!(
                    "{} ({name}) holds objects and is not marked {TAG_FORCE_DELETE}=true: set [edge] log_buckets_force_delete = true and apply first ({})",
                    o.id, e.message
                ),
            )),
            other => other,
        }
    }

    /// Whether the bucket holds objects (ListObjectsV2, one key): what the guard needs.
    async fn data_held(&self, ctx: &Ctx, prior: &Observed) -> Result<Attrs, AwsError> {
        let read = super::read_has_objects(ctx, &prior.physical_id).await?;
        let held = matches!(read, super::Read::Found(true));
        Ok([("has_objects".to_string(), held.to_string())].into())
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}

// ---------------------------------------------------------------------------------------------
// expand

/// One log bucket of the spec's env.
pub fn bucket(spec: &Spec, role: &str, days: i64, ownership: &str, force: bool) -> Resource {
    let id = bucket_id(role);
    let name = bucket_name(&spec.project, &spec.env, &spec.region, role);
    let mut tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    tags.insert(TAG_FORCE_DELETE.into(), force.to_string());
    let p = BucketProps {
        name: name.clone(),
        encryption: Some(Some(ENCRYPTION.into())),
        public_access_block: Some(public_access_block(true)),
        lifecycle: Some(lifecycle(days)),
        object_ownership: Some(Some(ownership.into())),
        policy: Some(desired_policy(role, &spec.region, &name)),
        tags,
    };
    Resource::new(id, &name).with_props(to_props(&p))
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

pub fn attrs(region: &str, name: &str, has_objects: bool) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    a.insert("name".into(), name.to_string());
    a.insert("arn".into(), bucket_arn(region, name));
    a.insert("domain_name".into(), domain_name(name));
    // Set by `data_held` when the plan deletes or replaces the bucket (observe does not read
    // it); a bucket known to hold objects says so.
    if has_objects {
        a.insert("has_objects".into(), "true".into());
    }
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
    let mut p = BucketProps {
        name: name.to_string(),
        encryption: None,
        public_access_block: None,
        lifecycle: None,
        object_ownership: None,
        policy: None,
        tags: tags.clone(),
    };
    if let Some(c) = config {
        p.encryption = Some(encryption_value(c.encryption.as_ref()));
        p.public_access_block = Some(public_access_block_value(c.public_access_block.as_ref()));
        p.lifecycle = Some(lifecycle_value(c.lifecycle.as_deref()));
        p.object_ownership = Some(ownership_value(c.ownership.as_ref()));
        p.policy = Some(policy_value(c.policy.as_deref(), account).to_json());
    }
    Observed {
        attrs: attrs(region, name, has_objects),
        ..Observed::new(id, name).with_props(to_props(&p))
    }
}

/// A bucket under one of our names that is not ours.
pub fn foreign(id: ResourceId, name: &str) -> Observed {
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
// apply

/// Delete every object version and delete marker, 1000 at a time.
async fn empty(ctx: &Ctx, name: &str, task: &Task) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    let mut deleted = 0usize;
    loop {
        let listed = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(aws("s3:ListObjectVersions"));
        // The bucket gone already: nothing to empty.
        let Some(out) = found(listed)? else {
            return Ok(());
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
