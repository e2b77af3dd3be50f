//! SNS (issue 6): `sns_topic/alerts`, the alerts topic `{project}-{env}-alerts`, encrypted with
//! the AWS-managed key `alias/aws/sns` (attribute `KmsMasterKeyId`) and tagged; and one
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
//! Observe (destroy too: the name derives from ctx.project/env): STS GetCallerIdentity (the
//! account for the derived ARN `arn:aws:sns:<region>:<account>:<name>`), GetTopicAttributes,
//! ListTagsForResource, ListSubscriptionsByTopic (paginated, 100 a page): four calls, two when
//! there is no topic. A same-named topic without our tags is Foreign (a conflict, never touched).
//!
//! A subscription removed out of band shows as a create. An endpoint removed from the spec is
//! unsubscribed; a subscription still pending confirmation (SubscriptionArn
//! `PendingConfirmation`) cannot be: AWS deletes it by itself after 3 days, so its delete is a
//! no-op that says so. [`pending`] lists the endpoints still pending confirmation.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_sns::types::{Subscription, Tag};

use crate::aws::{all_pages, aws, AwsError, Required};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const TOPIC: &str = "sns_topic";
pub const SUBSCRIPTION: &str = "sns_subscription";
/// The AWS-managed SNS key.
pub const KMS_KEY: &str = "alias/aws/sns";
/// SubscriptionArn of a subscription not yet confirmed.
pub const PENDING: &str = "PendingConfirmation";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: TOPIC,
        force_new: &["name"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: SUBSCRIPTION,
        force_new: &["protocol", "endpoint", "topic_arn"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

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
    let id = topic_id();
    let name = topic_name(&spec.project, &spec.env);
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    let mut out = vec![Resource::new(id.clone(), name.clone())
        .prop("name", Value::str(name))
        .prop("kms_master_key_id", Value::str(KMS_KEY))
        .prop("tags", Value::string_map(&tags))];
    let m = &spec.monitoring;
    let subs = m
        .emails
        .iter()
        .map(|e| ("email", e))
        .chain(m.https_endpoints.iter().map(|e| ("https", e)));
    let mut seen = BTreeSet::new();
    for (protocol, endpoint) in subs {
        let sid = subscription_id(protocol, endpoint);
        if !seen.insert(sid.clone()) {
            continue;
        }
        let mut sub = Resource::new(sid, shown_endpoint(protocol, endpoint))
            .prop("protocol", Value::str(protocol))
            .prop("endpoint", Value::str(endpoint.clone()))
            .prop("topic_arn", Value::reference(&id, "arn"));
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

pub fn ours(tags: &BTreeMap<String, String>, project: &str, env: &str) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&topic_id().to_string())
}

/// The live topic → `Observed` (pure). `attrs` is GetTopicAttributes' map.
pub fn observed_topic(
    arn: &str,
    name: &str,
    attrs: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let kms = attrs
        .get("KmsMasterKeyId")
        .filter(|k| !k.is_empty())
        .map(|k| Value::str(k.clone()))
        .unwrap_or(Value::Null);
    let mut o = Observed::new(topic_id(), arn)
        .prop("name", Value::str(name))
        .prop("kms_master_key_id", kms)
        .prop("tags", Value::string_map(tags));
    o.attrs.insert("arn".into(), arn.to_string());
    o.attrs.insert("name".into(), name.to_string());
    o
}

/// A live subscription of our topic → `Observed` (pure).
pub fn observed_subscription(s: &Subscription) -> Option<Observed> {
    let protocol = s.protocol()?;
    let endpoint = s.endpoint()?;
    let arn = s.subscription_arn().unwrap_or(PENDING);
    let mut o = Observed::new(subscription_id(protocol, endpoint), arn)
        .prop("protocol", Value::str(protocol))
        .prop("endpoint", Value::str(endpoint))
        .prop("topic_arn", Value::opt_str(s.topic_arn()))
        .dep(&topic_id());
    o.attrs.insert("arn".into(), arn.to_string());
    Some(o)
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|t| !t.key().starts_with("aws:"))
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
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

fn not_found(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "NotFound" | "NotFoundException" | "ResourceNotFound"
    )
}

async fn observe(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let sns = &ctx.clients.sns;
    let name = topic_name(&ctx.project, &ctx.env);
    let account = ctx.clients.account_id().await?;
    let arn = topic_arn(&ctx.region, &account, &name);
    let attrs: BTreeMap<String, String> = match sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .map_err(aws("sns:GetTopicAttributes"))
    {
        Ok(o) => o
            .attributes()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        Err(e) if not_found(&e) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let tags = match sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(aws("sns:ListTagsForResource"))
    {
        Ok(o) => tag_map(o.tags()),
        Err(e) if not_found(&e) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    if !ours(&tags, &ctx.project, &ctx.env) {
        let mut o = Observed::new(topic_id(), &arn);
        o.ownership = Ownership::Foreign;
        return Ok(vec![o]);
    }
    let mut out = vec![observed_topic(&arn, &name, &attrs, &tags)];
    let subs = match all_pages!(
        sns.list_subscriptions_by_topic().topic_arn(&arn),
        "sns:ListSubscriptionsByTopic"
    ) {
        Ok(s) => s,
        Err(e) if not_found(&e) => vec![],
        Err(e) => return Err(e),
    };
    out.extend(subs.iter().filter_map(observed_subscription));
    Ok(out)
}

async fn create_topic(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let name = r.get_str("name").unwrap_or_default();
    let mut req = ctx
        .clients
        .sns
        .create_topic()
        .name(name)
        .set_tags(Some(sns_tags(&tags_of(&r.props))?));
    if let Some(k) = r.get_str("kms_master_key_id") {
        req = req.attributes("KmsMasterKeyId", k);
    }
    let out = req.send().await.map_err(aws("sns:CreateTopic"))?;
    let arn = out
        .topic_arn()
        .required(
            "sns:CreateTopic",
            format!("no topic ARN returned for {name}"),
        )?
        .to_string();
    let mut a = Attrs::new();
    a.insert("id".into(), arn.clone());
    a.insert("arn".into(), arn);
    a.insert("name".into(), name.to_string());
    Ok(a)
}

async fn update_topic(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    let sns = &ctx.clients.sns;
    let arn = prior.physical_id.as_str();
    if changed.contains("kms_master_key_id") {
        sns.set_topic_attributes()
            .topic_arn(arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(desired.get_str("kms_master_key_id").unwrap_or_default())
            .send()
            .await
            .map_err(aws("sns:SetTopicAttributes"))?;
    }
    if changed.contains("tags") {
        let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
        if !d.removed.is_empty() {
            sns.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(d.removed))
                .send()
                .await
                .map_err(aws("sns:UntagResource"))?;
        }
        if !d.set.is_empty() {
            sns.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(sns_tags(&d.set.into_iter().collect())?))
                .send()
                .await
                .map_err(aws("sns:TagResource"))?;
        }
    }
    Ok(prior.attrs.clone())
}

async fn subscribe(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let out = ctx
        .clients
        .sns
        .subscribe()
        .topic_arn(r.get_str("topic_arn").unwrap_or_default())
        .protocol(r.get_str("protocol").unwrap_or_default())
        .endpoint(r.get_str("endpoint").unwrap_or_default())
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(aws("sns:Subscribe"))?;
    let arn = out.subscription_arn().unwrap_or(PENDING).to_string();
    let mut a = Attrs::new();
    a.insert("id".into(), arn.clone());
    a.insert("arn".into(), arn);
    Ok(a)
}

async fn delete(ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
    let sns = &ctx.clients.sns;
    let res = if o.id.kind == SUBSCRIPTION {
        if is_pending(o) {
            task.status(
                "pending confirmation: cannot be unsubscribed, AWS deletes it after 3 days",
            );
            return Ok(Attrs::new());
        }
        sns.unsubscribe()
            .subscription_arn(&o.physical_id)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("sns:Unsubscribe"))
    } else {
        sns.delete_topic()
            .topic_arn(&o.physical_id)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("sns:DeleteTopic"))
    };
    match res {
        Ok(()) => Ok(Attrs::new()),
        Err(e) if not_found(&e) => Ok(Attrs::new()),
        Err(e) => Err(e),
    }
}

pub struct Sns;

#[async_trait]
impl Reconciler for Sns {
    fn service(&self) -> &'static str {
        "sns"
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx).await
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) if r.id.kind == TOPIC => create_topic(ctx, r).await,
            Op::Create(r) => subscribe(ctx, r).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == TOPIC => update_topic(ctx, desired, prior, changed).await,
            // Subscriptions have nothing updatable: every field forces a new one.
            Op::Update { prior, .. } => Ok(prior.attrs.clone()),
            Op::Delete(o) => delete(ctx, o, task).await,
        }
    }
}

#[cfg(test)]
mod tests;
