//! `kms_key/alerts`: the alerts topic's customer managed key (symmetric, encrypt/decrypt),
//! its policy ([`super::policy`]), automatic rotation on, tagged; the deletion window destroy
//! schedules its deletion with is the tag `rtech:deletion-window-days` (KMS does not report
//! the window of a key that is not pending deletion, so the key carries it).
//!
//! CreateKey has no idempotency token and keys have no unique name, so the SDK's own retry of
//! a CreateKey whose response was lost would make a second key. CreateKey is therefore sent
//! with the SDK's retries off, and rtech retries it itself: a throttled call (which AWS did not
//! run) is simply sent again; a call that may have run (a dropped connection, a timeout, a 5xx)
//! first looks for the key by its tags in the tag index (`tag:GetResources`, the tags are in
//! the CreateKey request itself) and adopts the one it finds. A key the index does not list
//! yet (it can lag on AWS) is found by the next plan as a duplicate `kms_key/alerts~<id>`,
//! whose deletion that apply schedules.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, KeyUsageType, Tag};
use serde::{Deserialize, Serialize};

use super::policy::{KeyPolicy, POLICY_NAME};
use super::{key_id, KmsTags, KEY, TAG_DELETION_WINDOW};
use crate::aws::{aws, AwsError, ErrorKind, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId, TAG_ENV, TAG_ID, TAG_PROJECT};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, retry_if, sync_tags, to_props};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::monitoring::DEFAULT_KEY_DELETION_WINDOW_DAYS;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(KEY, &["key_spec", "key_usage"]);

pub const KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";

/// How long rtech retries a CreateKey that was throttled or may not have arrived.
const CREATE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyProps {
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    /// The key is enabled (a key disabled out of band is drift: the topic cannot encrypt).
    pub enabled: bool,
    /// Automatic yearly rotation of the key material (EnableKeyRotation).
    pub rotation: bool,
    pub policy: KeyPolicy,
    pub tags: BTreeMap<String, String>,
}

/// The wanted key (pure): tags already hold the deletion window.
pub fn expand(name: &str, description: &str, tags: BTreeMap<String, String>) -> Resource {
    let props = KeyProps {
        description: description.to_string(),
        key_spec: KEY_SPEC.into(),
        key_usage: KEY_USAGE.into(),
        enabled: true,
        rotation: true,
        policy: super::policy::alerts_policy(),
        tags,
    };
    Resource::new(key_id(), name).with_props(to_props(&props))
}

/// `(partition, account)` of a KMS key ARN `arn:<partition>:kms:<region>:<account>:key/<id>`.
pub fn arn_parts(arn: &str) -> (String, String) {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    (
        p.get(1).copied().unwrap_or("aws").to_string(),
        p.get(4).copied().unwrap_or_default().to_string(),
    )
}

/// The live key → `Observed` (pure). `policy` is GetKeyPolicy's text.
pub fn observed(
    id: ResourceId,
    meta: &KeyMetadata,
    policy: &str,
    rotation: bool,
    tags: BTreeMap<String, String>,
) -> Observed {
    let arn = meta.arn().unwrap_or_default();
    let (partition, account) = arn_parts(arn);
    let props = KeyProps {
        description: meta.description().unwrap_or_default().to_string(),
        key_spec: meta
            .key_spec()
            .map(|s| s.as_str())
            .unwrap_or(KEY_SPEC)
            .to_string(),
        key_usage: meta
            .key_usage()
            .map(|s| s.as_str())
            .unwrap_or(KEY_USAGE)
            .to_string(),
        enabled: meta.key_state() == Some(&KeyState::Enabled),
        rotation,
        policy: KeyPolicy::from_live(policy, &account, &partition),
        tags,
    };
    Observed::new(id, meta.key_id())
        .with_props(to_props(&props))
        .attr("arn", arn)
        .attr("key_id", meta.key_id())
}

fn attrs(meta: &KeyMetadata) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), meta.key_id().to_string());
    a.insert("key_id".into(), meta.key_id().to_string());
    a.insert("arn".into(), meta.arn().unwrap_or_default().to_string());
    a
}

pub(super) fn kms_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    m.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| AwsError::new("kms:TagResource", "InvalidTag", e.to_string()))
        })
        .collect()
}

/// Errors after which the CreateKey may have run: no answer (the connection dropped, the
/// attempt timed out, an answer that is not one) or a server-side failure (5xx).
const MAYBE_RAN: &[&str] = &[
    "EndpointUnreachable",
    "Timeout",
    "DispatchFailure",
    "InvalidResponse",
    "Unknown",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
];

/// An error after which the CreateKey may have run (anything else, such as a malformed
/// policy or a limit, is AWS refusing it: no retry).
pub(super) fn maybe_ran(e: &AwsError) -> bool {
    MAYBE_RAN.contains(&e.code.as_str())
}

/// The env's live (not pending deletion) key tagged as ours, from the tag index read now
/// (not the session's: the key may be seconds old).
async fn find_by_tags(ctx: &Ctx, id: &ResourceId) -> Result<Option<KeyMetadata>, AwsError> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let found = crate::aws::all_pages!(
        ctx.clients
            .tagging
            .get_resources()
            .tag_filters(filter(TAG_PROJECT, &ctx.project))
            .tag_filters(filter(TAG_ENV, &ctx.env))
            .tag_filters(filter(TAG_ID, &id.to_string()))
            .resource_type_filters("kms:key"),
        "tag:GetResources"
    )?;
    for m in found {
        let Some(arn) = m.resource_arn() else {
            continue;
        };
        let got = crate::reconcile::kit::found(
            ctx.clients
                .kms
                .describe_key()
                .key_id(arn)
                .send()
                .await
                .map_err(aws("kms:DescribeKey")),
        )?;
        if let Some(meta) = got.as_ref().and_then(|g| g.key_metadata()) {
            if meta.key_state() != Some(&KeyState::PendingDeletion) {
                return Ok(Some(meta.clone()));
            }
        }
    }
    Ok(None)
}

pub struct Key;

impl Key {
    /// CreateKey once (no SDK retry); after a failure it may have run, the key found by its
    /// tags, if any.
    async fn create_once(
        &self,
        ctx: &Ctx,
        r: &Resource,
        p: &KeyProps,
        policy: &str,
    ) -> Result<KeyMetadata, AwsError> {
        let once = aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled());
        let sent = ctx
            .clients
            .kms
            .create_key()
            .description(&p.description)
            .key_spec(KeySpec::from(p.key_spec.as_str()))
            .key_usage(KeyUsageType::from(p.key_usage.as_str()))
            .policy(policy)
            .set_tags(Some(kms_tags(&p.tags)?))
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(aws("kms:CreateKey"));
        match sent {
            Ok(out) => Ok(out
                .key_metadata()
                .required("kms:CreateKey", format!("no key returned for {}", r.id))?
                .clone()),
            Err(e) if maybe_ran(&e) => match find_by_tags(ctx, &r.id).await? {
                Some(meta) => Ok(meta),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Kind for Key {
    crate::typed_kind!(SCHEMA, KeyProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: KeyProps = from_props(&r.props)?;
        let account = ctx.account().await?;
        let partition = crate::reconcile::iam::partition(&ctx.region);
        let policy = p.policy.render(&account, partition);
        let retryable = |e: &AwsError| e.kind() == ErrorKind::Throttled || maybe_ran(e);
        let on_retry = |e: &AwsError, d: Duration| {
            task.status(&format!(
                "kms:CreateKey: {} ({}), trying again in {} s",
                e.code,
                r.id,
                d.as_secs()
            ))
        };
        let meta = retry_if(retryable, CREATE_TIMEOUT, on_retry, || {
            self.create_once(ctx, r, &p, &policy)
        })
        .await
        .map_err(|e| {
            let m = format!("{} ({}): {}", r.id, p.description, e.message);
            e.with_message(m)
        })?;
        let kms = &ctx.clients.kms;
        if p.rotation {
            kms.enable_key_rotation()
                .key_id(meta.key_id())
                .send()
                .await
                .map_err(aws("kms:EnableKeyRotation"))?;
        }
        Ok(attrs(&meta))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: KeyProps = from_props(&u.desired.props)?;
        let live: KeyProps = from_props(&u.prior.props)?;
        let key = u.prior.physical_id.as_str();
        let kms = &ctx.clients.kms;
        if u.changed("enabled") {
            if p.enabled {
                kms.enable_key()
                    .key_id(key)
                    .send()
                    .await
                    .map_err(aws("kms:EnableKey"))?;
            } else {
                kms.disable_key()
                    .key_id(key)
                    .send()
                    .await
                    .map_err(aws("kms:DisableKey"))?;
            }
        }
        if u.changed("policy") {
            let arn = u.prior.attrs.get("arn").cloned().unwrap_or_default();
            let (partition, account) = arn_parts(&arn);
            kms.put_key_policy()
                .key_id(key)
                .policy_name(POLICY_NAME)
                .policy(p.policy.render(&account, &partition))
                .send()
                .await
                .map_err(aws("kms:PutKeyPolicy"))?;
        }
        if u.changed("description") {
            kms.update_key_description()
                .key_id(key)
                .description(&p.description)
                .send()
                .await
                .map_err(aws("kms:UpdateKeyDescription"))?;
        }
        if u.changed("rotation") {
            if p.rotation {
                kms.enable_key_rotation()
                    .key_id(key)
                    .send()
                    .await
                    .map_err(aws("kms:EnableKeyRotation"))?;
            } else {
                kms.disable_key_rotation()
                    .key_id(key)
                    .send()
                    .await
                    .map_err(aws("kms:DisableKeyRotation"))?;
            }
        }
        if u.changed("tags") {
            sync_tags(&KmsTags(kms), key, &live.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// ScheduleKeyDeletion with the window the live key's tag names (else KMS's longest, 30
    /// days): the key is gone for rtech at once (pending deletion counts as deleted) and for
    /// KMS when the window ends; until then CancelKeyDeletion brings it back.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let days = deletion_window(o);
        task.status(&format!(
            "scheduling deletion of key {} in {days} days",
            o.physical_id
        ));
        let r = ctx
            .clients
            .kms
            .schedule_key_deletion()
            .key_id(&o.physical_id)
            .pending_window_in_days(days as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("kms:ScheduleKeyDeletion"));
        match r {
            // Already pending deletion: gone, as far as rtech is concerned.
            Err(e) if e.is("KMSInvalidStateException") => Ok(()),
            other => gone_ok(other),
        }
    }
}

/// The deletion window the live key's tag names (KMS's 7 to 30), else 30.
pub fn deletion_window(o: &Observed) -> i64 {
    o.tag(TAG_DELETION_WINDOW)
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| crate::spec::monitoring::KEY_DELETION_WINDOW_DAYS.contains(d))
        .unwrap_or(DEFAULT_KEY_DELETION_WINDOW_DAYS)
}
