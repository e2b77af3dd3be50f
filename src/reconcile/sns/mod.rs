//! SNS: `sns_topic/alerts`, the alerts topic `{project}-{env}-alerts`, encrypted (attribute
//! `KmsMasterKeyId`) with the env's customer managed key `kms_key/alerts` where the spec has
//! `[monitoring.alerts_key]` (the kms service), else with the AWS managed key `alias/aws/sns`
//! (which the AWS services that publish events cannot use), and tagged; and one
//! `sns_subscription/<protocol>-<h>` per endpoint of `spec.monitoring.emails` (protocol
//! `email`) and `spec.monitoring.https_endpoints` (protocol `https`).
//!
//! Subscription ids: `<protocol>-<h>` where `<h>` is the first 8 hex digits of the SHA-256 of
//! the endpoint exactly as written: stable per endpoint whatever the order of the lists
//! ([`subscription_id`]). Subscriptions carry no tags: they are ours because they are on our
//! topic, so every subscription of our topic is observed (one on a foreign topic never).
//!
//! The topic exists whenever the env has any alarm or subscription. Alarms reference its `arn`.
//!
//! Observe (destroy too: the name derives from ctx.project/env): the env's tag index
//! (`kit::tag_index`) names our topic's ARN and tags; then GetTopicAttributes and
//! ListSubscriptionsByTopic (paginated, 100 a page) at once: two calls. A topic the index does
//! not list is looked for at the ARN derived from the account (the session's STS answer):
//! GetTopicAttributes and ListTagsForResource at once, and ListSubscriptionsByTopic when its
//! tags make it ours. A same-named topic without our tags is Foreign (a conflict, never touched).
//!
//! A subscription removed out of band shows as a create. An endpoint removed from the spec is
//! unsubscribed; a subscription still pending confirmation (SubscriptionArn
//! `PendingConfirmation`) cannot be: AWS deletes it by itself after 3 days, so its delete is a
//! no-op that says so. [`pending`] lists the endpoints still pending confirmation.

//!
//! One file per kind: [`topic`] and [`subscription`].

mod iam;
mod subscription;
mod topic;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;

pub use subscription::{observed_subscription, Subscription};
pub use topic::{observed_topic, Topic};

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{found, is_ours, tags::tag_map};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub const TOPIC: &str = "sns_topic";
pub const SUBSCRIPTION: &str = "sns_subscription";
/// The AWS managed SNS key, for envs without `[monitoring.alerts_key]`.
pub const KMS_KEY: &str = "alias/aws/sns";
/// SubscriptionArn of a subscription not yet confirmed.
pub const PENDING: &str = "PendingConfirmation";
pub fn topic_id() -> ResourceId {
    ResourceId::new(TOPIC, "alerts")
}

/// `{project}-{env}-alerts`.
pub fn topic_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-alerts")
}

/// `arn:aws:sns:<region>:<account>:<name>`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

/// `sns_subscription/<protocol>-<first 8 hex digits of sha256(endpoint)>`.
pub fn subscription_id(protocol: &str, endpoint: &str) -> ResourceId {
    use sha2::{Digest, Sha256};
    let h = hex::encode(&Sha256::digest(endpoint.as_bytes())[..4]);
    ResourceId::new(SUBSCRIPTION, format!("{protocol}-{h}"))
}

/// Whether the env needs the topic: any alarm or subscription.
pub fn wanted(spec: &Spec) -> bool {
    let m = &spec.monitoring;
    !m.alarms.is_empty() || !m.emails.is_empty() || !m.https_endpoints.is_empty()
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    if !wanted(spec) {
        return vec![];
    }
    let mut out = vec![topic::expand(spec, &topic_name(&spec.project, &spec.env))];
    let m = &spec.monitoring;
    let subs = m
        .emails
        .iter()
        .map(|e| ("email", e))
        .chain(m.https_endpoints.iter().map(|e| ("https", e)));
    let mut seen = BTreeSet::new();
    for (protocol, endpoint) in subs {
        if !seen.insert(subscription_id(protocol, endpoint)) {
            continue;
        }
        let mut sub = subscription::expand(protocol, endpoint, shown_endpoint(protocol, endpoint));
        if protocol == "https" {
            // Webhook URLs often carry their key in the path or query (an integration key):
            // never in plan text, JSON or logs.
            sub.masked.insert("endpoint".into());
        }
        out.push(sub);
    }
    out
}

/// An endpoint as rtech shows it: an email whole, an HTTPS URL by its host only
/// (`https://hooks.example.com/…`), since its path or query may hold a key.
pub fn shown_endpoint(protocol: &str, endpoint: &str) -> String {
    if protocol != "https" {
        return endpoint.to_string();
    }
    let rest = endpoint.strip_prefix("https://").unwrap_or(endpoint);
    // Credentials (`user:key@host`, where the key may hold any character): nothing shown.
    if rest.contains('@') {
        return "https://…".to_string();
    }
    match rest.find(['/', '?', '#']) {
        Some(end) => format!("https://{}/…", &rest[..end]),
        None => format!("https://{rest}"),
    }
}

/// Endpoints whose subscription is still pending confirmation (for `rtech output`), as
/// [`shown_endpoint`] shows them.
pub fn pending(observed: &[Observed]) -> Vec<String> {
    observed
        .iter()
        .filter(|o| o.id.kind == SUBSCRIPTION && is_pending(o))
        .filter_map(|o| {
            let endpoint = o.get_str("endpoint")?;
            Some(shown_endpoint(
                o.get_str("protocol").unwrap_or_default(),
                endpoint,
            ))
        })
        .collect()
}

fn is_pending(o: &Observed) -> bool {
    o.attrs.get("arn").map(String::as_str) == Some(PENDING) || o.physical_id == PENDING
}

fn sns_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    m.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::new("sns:TagResource", "InvalidTag", e.to_string()))
        })
        .collect()
}

crate::tag_api!(SnsTags, Client,
    untag "sns:UntagResource" => |c, arn, keys| c.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)),
    tag "sns:TagResource" => |c, arn, tags| c.tag_resource().resource_arn(arn).set_tags(Some(sns_tags(&tags)?)));

async fn observe(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let sns = &ctx.clients.sns;
    let name = topic_name(&ctx.project, &ctx.env);
    // The tag index names our topic's ARN (and its tags): no STS, no tag read. Else the ARN
    // derives from the account, and the topic's own tags say whose it is.
    let index = ctx.tag_index().await?;
    let indexed = index
        .find("sns", &ctx.region, &name)
        .map(|(arn, tags)| (arn.to_string(), tags.clone()));
    let arn = match &indexed {
        Some((arn, _)) => arn.clone(),
        None => topic_arn(&ctx.region, &ctx.account().await?, &name),
    };
    let attrs_read = async {
        found(
            sns.get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await
                .map_err(aws("sns:GetTopicAttributes")),
        )
    };
    let tags_read = async {
        if let Some((_, tags)) = &indexed {
            return Ok(Some(tags.clone()));
        }
        Ok(found(
            sns.list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(aws("sns:ListTagsForResource")),
        )?
        .map(|got| tag_map(got.tags().iter().map(|t| (Some(t.key()), Some(t.value()))))))
    };
    // The subscriptions are read beside the rest when the index says the topic is ours.
    let subs_read = async {
        if indexed.is_none() {
            return Ok(None);
        }
        found(all_pages!(
            sns.list_subscriptions_by_topic().topic_arn(&arn),
            "sns:ListSubscriptionsByTopic"
        ))
    };
    let (got, tags, subs) = tokio::try_join!(attrs_read, tags_read, subs_read)?;
    let (Some(got), Some(tags)) = (got, tags) else {
        return Ok(vec![]);
    };
    let attrs: BTreeMap<String, String> = got
        .attributes()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if !is_ours(&tags, &ctx.project, &ctx.env, &topic_id()) {
        let mut o = Observed::new(topic_id(), &arn);
        o.ownership = Ownership::Foreign;
        return Ok(vec![o]);
    }
    let mut out = vec![observed_topic(&arn, &name, &attrs, &tags)];
    let subs = match subs {
        Some(s) => s,
        None => found(all_pages!(
            sns.list_subscriptions_by_topic().topic_arn(&arn),
            "sns:ListSubscriptionsByTopic"
        ))?
        .unwrap_or_default(),
    };
    out.extend(subs.iter().filter_map(observed_subscription));
    Ok(out)
}

const KINDS: &[&dyn Kind] = &[&Topic, &Subscription];

pub struct Sns;

#[async_trait]
impl Service for Sns {
    fn outputs(&self, observed: &[Observed]) -> Vec<crate::reconcile::kit::outputs::Output> {
        let mut out = crate::reconcile::kit::outputs::attrs(
            observed,
            &[("alerts_topic_arn", "sns_topic", "alerts", "arn")],
        );
        out.push(("pending_subscriptions", pending(observed).into()));
        out
    }

    crate::service_basics!("sns", KINDS, expand, iam::GRANTS);
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx).await
    }
}

#[cfg(test)]
mod tests;
