//! KMS: the alerts topic's customer managed key, in envs whose spec has
//! `[monitoring.alerts_key]` (and an alerts topic). The AWS managed key `alias/aws/sns` cannot be
//! used by the services that publish events to the topic (CloudWatch alarms, RDS/DocumentDB
//! event subscriptions, AWS Backup, ElastiCache): their messages would be dropped. A customer
//! managed key whose policy lets them use it can.
//!
//! - `kms_key/alerts` ([`key`]): symmetric, rotation on, the typed policy of [`policy`], tagged
//!   (with the deletion window as `rtech:deletion-window-days`).
//! - `kms_alias/alerts` ([`alias`]): `alias/{project}-{env}-alerts`, naming that key.
//!
//! The topic's `kms_master_key_id` references the key's ARN.
//!
//! Destroy deletes the alias, then schedules the key's deletion with its window (7 to 30
//! days): a key pending deletion counts as gone (a plan shows a create, and apply makes a new
//! key; CancelKeyDeletion out of band brings the old one back for adoption).
//!
//! Observe: the env's tag index (the keys tagged as ours, with their tags) and, beside it when
//! the spec wants the alias, DescribeKey on the alias's name (the key it names; NotFound: no
//! alias; AccessDenied: a key we may not read, someone else's). Without the alias in the spec,
//! that read runs only when the index lists a key of ours (an env without the key makes no KMS
//! call). Per key of ours GetKeyPolicy and GetKeyRotationStatus at once, and DescribeKey unless
//! the alias's read already described it: three calls for the key and its alias. An alias of
//! our name naming a key the index does not list is read with ListResourceTags on that key:
//! ours (the index lags) or foreign.

pub mod alias;
pub mod key;
pub mod policy;

mod iam;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyMetadata, KeyState};
use aws_sdk_kms::Client;

use crate::aws::{all_pages, aws, AwsError, ErrorKind};
use crate::model::{tags_for, Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{claimed_id, found, tags::tag_map, Claims};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub const KEY: &str = "kms_key";
pub const ALIAS: &str = "kms_alias";
/// The key's deletion window in days: KMS reports it only once deletion is scheduled.
pub const TAG_DELETION_WINDOW: &str = "rtech:deletion-window-days";

pub fn key_id() -> ResourceId {
    ResourceId::new(KEY, "alerts")
}

pub fn alias_id() -> ResourceId {
    ResourceId::new(ALIAS, "alerts")
}

/// `alias/{project}-{env}-alerts`.
pub fn alias_name(project: &str, env: &str) -> String {
    format!("alias/{project}-{env}-alerts")
}

/// Whether the env has the alerts key: `[monitoring.alerts_key]`, and a topic to encrypt.
pub fn wanted(spec: &Spec) -> bool {
    spec.monitoring.alerts_key.is_some() && crate::reconcile::sns::wanted(spec)
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(k) = spec.monitoring.alerts_key.filter(|_| wanted(spec)) else {
        return vec![];
    };
    let name = spec.name("alerts");
    let mut tags = tags_for(&spec.project, &spec.env, &key_id(), &name, &spec.tags);
    tags.insert(
        TAG_DELETION_WINDOW.into(),
        k.deletion_window_days.to_string(),
    );
    let description = format!("{name}: encrypts the alerts topic");
    vec![
        key::expand(&name, &description, tags),
        alias::expand(&alias_name(&spec.project, &spec.env)),
    ]
}

crate::tag_api!(KmsTags, Client,
    untag "kms:UntagResource" => |c, key, keys| c.untag_resource().key_id(key).set_tag_keys(Some(keys)),
    tag "kms:TagResource" => |c, key, tags| c.tag_resource().key_id(key).set_tags(Some(key::kms_tags(&tags)?)));

/// `(region, key id)` of `arn:<partition>:kms:<region>:<account>:key/<id>`, for KMS key ARNs.
fn key_arn_parts(arn: &str) -> Option<(&str, &str)> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[2] != "kms" {
        return None;
    }
    Some((p[3], p[5].strip_prefix("key/")?))
}

/// A key's tags (None: gone).
async fn list_tags(ctx: &Ctx, key: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let r = all_pages!(
        ctx.clients.kms.list_resource_tags().key_id(key),
        "kms:ListResourceTags"
    );
    Ok(found(r)?.map(|tags| {
        tag_map(
            tags.iter()
                .map(|t| (Some(t.tag_key()), Some(t.tag_value()))),
        )
    }))
}

/// What DescribeKey by the alias's name says.
#[derive(Clone)]
enum Named {
    /// The key the alias names.
    Key(Box<KeyMetadata>),
    /// The alias exists, but its key's policy does not let us describe it: someone else's.
    Unreadable,
}

/// The key the alias `name` names (DescribeKey takes an alias name): None when there is no
/// such alias.
async fn alias_target(ctx: &Ctx, name: &str) -> Result<Option<Named>, AwsError> {
    let r = ctx
        .clients
        .kms
        .describe_key()
        .key_id(name)
        .send()
        .await
        .map_err(aws("kms:DescribeKey"));
    match found(r) {
        Ok(d) => Ok(d.and_then(|d| d.key_metadata().cloned().map(|m| Named::Key(Box::new(m))))),
        Err(e) if e.kind() == ErrorKind::AccessDenied => Ok(Some(Named::Unreadable)),
        Err(e) => Err(e),
    }
}

/// The alias `name`'s ARN, beside the ARN of the key it names (pure).
fn alias_arn(key_arn: &str, name: &str) -> String {
    match key_arn.split_once(":key/") {
        Some((prefix, _)) => format!("{prefix}:{name}"),
        None => name.to_string(),
    }
}

/// One of our keys as read: None when it is gone or pending deletion. `known`: its
/// DescribeKey answer when the alias's read already gave it (then only its policy and
/// rotation are read).
async fn read_key(
    ctx: &Ctx,
    arn: &str,
    known: Option<&KeyMetadata>,
) -> Result<Option<(KeyMetadata, String, bool)>, AwsError> {
    let kms = &ctx.clients.kms;
    let (described, policy, rotation) = tokio::join!(
        async {
            if let Some(meta) = known.filter(|m| m.arn() == Some(arn)) {
                return Ok::<_, AwsError>(Some(meta.clone()));
            }
            Ok(found(
                kms.describe_key()
                    .key_id(arn)
                    .send()
                    .await
                    .map_err(aws("kms:DescribeKey")),
            )?
            .and_then(|d| d.key_metadata().cloned()))
        },
        async {
            kms.get_key_policy()
                .key_id(arn)
                .policy_name(policy::POLICY_NAME)
                .send()
                .await
                .map_err(aws("kms:GetKeyPolicy"))
        },
        async {
            kms.get_key_rotation_status()
                .key_id(arn)
                .send()
                .await
                .map_err(aws("kms:GetKeyRotationStatus"))
        },
    );
    let Some(meta) = described? else {
        return Ok(None);
    };
    // Pending deletion: gone for rtech (the other two reads may refuse such a key).
    if matches!(
        meta.key_state(),
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
    ) {
        return Ok(None);
    }
    let policy = found(policy)?.and_then(|p| p.policy().map(str::to_string));
    let rotation = found(rotation)?.map(|r| r.key_rotation_enabled());
    let (Some(policy), Some(rotation)) = (policy, rotation) else {
        return Ok(None);
    };
    Ok(Some((meta, policy, rotation)))
}

async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let wanted_alias = alias_name(&ctx.project, &ctx.env);
    // The spec wants the alias: the key it names is read (DescribeKey by the alias's name)
    // beside the tag index; without it, only once the index names a key of ours.
    let wants_alias = desired.iter().any(|r| r.id.kind == ALIAS);
    let (index, early_alias) = tokio::try_join!(ctx.tag_index(), async {
        if wants_alias {
            alias_target(ctx, &wanted_alias).await.map(Some)
        } else {
            Ok(None)
        }
    })?;
    // Our keys in this region (pending deletion too), by key id: (ARN, tags).
    let ours: BTreeMap<String, (String, BTreeMap<String, String>)> = index
        .with_prefix("arn:")
        .filter_map(|(arn, tags)| {
            let (region, id) = key_arn_parts(arn)?;
            let claimed = claimed_id(tags, &ctx.project, &ctx.env)?;
            (region == ctx.region && claimed.kind == KEY)
                .then(|| (id.to_string(), (arn.to_string(), tags.clone())))
        })
        .collect();
    // The alias matters when the spec wants it (a foreign one is a conflict) or when we have a
    // key it may name; otherwise an env without the key makes no KMS call at all. Without the
    // spec (a destroy) it is read beside the keys the index names.
    let known = match &early_alias {
        Some(Some(Named::Key(m))) => Some(m.as_ref().clone()),
        _ => None,
    };
    let read_alias = async {
        if let Some(a) = early_alias {
            return Ok(a);
        }
        if ours.is_empty() {
            return Ok(None);
        }
        alias_target(ctx, &wanted_alias).await
    };
    let known = known.as_ref();
    let read_keys =
        futures::future::try_join_all(ours.iter().map(|(id, (arn, tags))| async move {
            Ok::<_, AwsError>(
                read_key(ctx, arn, known)
                    .await?
                    .map(|k| (id.clone(), k, tags.clone())),
            )
        }));
    let (alias, mut reads) = tokio::try_join!(read_alias, read_keys)?;
    let mut out = vec![];
    let mut target = None;
    if let Some(named) = alias {
        let mut owned = false;
        if let Named::Key(named) = &named {
            let key_arn = named.arn().unwrap_or_default().to_string();
            let key = named.key_id().to_string();
            owned = ours.contains_key(&key);
            if !owned && !key.is_empty() {
                // Not in the index: someone else's key, or ours tagged too recently for it.
                if let Some(tags) = list_tags(ctx, &key).await? {
                    if claimed_id(&tags, &ctx.project, &ctx.env).is_some_and(|id| id.kind == KEY) {
                        reads.push(
                            read_key(ctx, &key_arn, Some(named))
                                .await?
                                .map(|k| (key.clone(), k, tags.clone())),
                        );
                        owned = true;
                    }
                }
            }
            if owned {
                out.push(alias::observed(
                    &wanted_alias,
                    &alias_arn(&key_arn, &wanted_alias),
                    &key,
                ));
                target = Some(key);
            }
        }
        if !owned {
            let mut o = Observed::new(alias_id(), &wanted_alias);
            o.ownership = Ownership::Foreign;
            out.push(o);
        }
    }
    let mut keys: Vec<_> = reads.into_iter().flatten().collect();
    // The key the alias names keeps the id, then the oldest: any other is a duplicate
    // (`kms_key/alerts~<key id>`), which the plan deletes.
    keys.sort_by_key(|(id, (meta, _, _), _)| {
        (
            target.as_deref() != Some(id.as_str()),
            meta.creation_date().map(|d| (d.secs(), d.subsec_nanos())),
            id.clone(),
        )
    });
    let mut claims = Claims::new();
    for (id, (meta, policy, rotation), tags) in keys {
        let Some(rid) = claimed_id(&tags, &ctx.project, &ctx.env) else {
            continue;
        };
        out.push(key::observed(
            claims.claim(rid, &id),
            &meta,
            &policy,
            rotation,
            tags,
        ));
    }
    Ok(out)
}

const KINDS: &[&dyn Kind] = &[&key::Key, &alias::Alias];

pub struct Kms;

#[async_trait]
impl Service for Kms {
    crate::service_basics!("kms", KINDS, expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx, desired).await
    }
}

#[cfg(test)]
mod tests;
