//! `docdb_event_sub/cluster` and `docdb_event_sub/instance`: DocumentDB event subscriptions
//! that send the cluster's and its instances' failover, failure and availability events to the
//! env's alerts topic (`sns_topic/alerts`). DocumentDB publishes its events through SNS itself
//! (CreateEventSubscription); the subscriptions exist whenever the env has both `[docdb]` and
//! the alerts topic.
//!
//! The event categories each source type has on DocumentDB:
//! - `db-cluster`: creation, deletion, failover, maintenance, notification; the subscription
//!   takes `failover`, `maintenance` and `notification` (a cluster that failed to stop).
//! - `db-instance`: availability, configuration change, creation, deletion, failure,
//!   notification, recovery; the subscription takes `availability`, `failure` and `recovery`.
//!
//! SourceIds name the cluster, or every instance: the subscription depends on them (AWS
//! refuses a source that does not exist yet). Updatable: the topic, the categories, `enabled`
//! (ModifyEventSubscription) and the source ids (AddSourceIdentifierToSubscription /
//! RemoveSourceIdentifierFromSubscription, one call per id). The source type forces a replace.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_docdb::types::EventSubscription;
use aws_sdk_docdb::Client;
use serde::{Deserialize, Serialize};

use super::{existing_at, rid, spec_tags, sync_tags, tag_list, CLUSTER, EVENT_SUB, INSTANCE};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, found, from_props, gone_ok, to_props, Link};
use crate::reconcile::{sns, Ctx, Kind, Update};
use crate::spec::data::Docdb as DocdbSpec;
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(EVENT_SUB, &["name", "source_type"]);

/// The cluster's categories on the alerts topic.
pub const CLUSTER_CATEGORIES: &[&str] = &["failover", "maintenance", "notification"];
/// The instances' categories on the alerts topic.
pub const INSTANCE_CATEGORIES: &[&str] = &["availability", "failure", "recovery"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSubProps {
    pub name: String,
    /// The alerts topic's ARN.
    pub sns_topic_arn: Link,
    /// `db-cluster` or `db-instance`.
    pub source_type: String,
    /// Sorted.
    pub source_ids: Vec<String>,
    /// Sorted, lower case.
    pub event_categories: Vec<String>,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
}

fn sorted(items: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().map(Into::into).collect();
    set.into_iter().collect()
}

impl EventSubProps {
    /// A live subscription as properties.
    pub fn observed(s: &EventSubscription, tags: BTreeMap<String, String>) -> Self {
        EventSubProps {
            name: s.cust_subscription_id().unwrap_or_default().to_string(),
            sns_topic_arn: Link::from(s.sns_topic_arn().unwrap_or_default()),
            source_type: s.source_type().unwrap_or_default().to_string(),
            source_ids: sorted(s.source_ids_list().iter().cloned()),
            event_categories: sorted(s.event_categories_list().iter().map(|c| c.to_lowercase())),
            enabled: s.enabled().unwrap_or(false),
            tags,
        }
    }
}

/// `{project}-{env}-docdb-cluster-events` / `{project}-{env}-docdb-instance-events`.
pub fn name(spec: &Spec, which: &str) -> String {
    spec.name(&format!("docdb-{which}-events"))
}

/// The two subscriptions (pure), when the env has the alerts topic.
pub fn expand(spec: &Spec, d: &DocdbSpec) -> Vec<Resource> {
    if !sns::wanted(spec) {
        return vec![];
    }
    let topic = Link::to(&sns::topic_id(), "arn");
    let cluster = rid(CLUSTER, "main");
    let instances: Vec<(crate::model::ResourceId, String)> = (1..=d.instances as usize)
        .map(|n| {
            (
                rid(INSTANCE, &n.to_string()),
                spec.name(&format!("docdb-{n}")),
            )
        })
        .collect();
    let one = |which: &str,
               source_type: &str,
               ids: Vec<String>,
               categories: &[&str],
               deps: Vec<crate::model::ResourceId>| {
        let id = rid(EVENT_SUB, which);
        let name = name(spec, which);
        let props = EventSubProps {
            name: name.clone(),
            sns_topic_arn: topic.clone(),
            source_type: source_type.to_string(),
            source_ids: sorted(ids),
            event_categories: sorted(categories.iter().copied()),
            enabled: true,
            tags: spec_tags(spec, &id, &name, &[]),
        };
        deps.iter()
            .fold(Resource::new(id, &name), |r, d| r.dep(d))
            .with_props(to_props(&props))
    };
    vec![
        one(
            "cluster",
            "db-cluster",
            vec![spec.name("docdb")],
            CLUSTER_CATEGORIES,
            vec![cluster],
        ),
        one(
            "instance",
            "db-instance",
            instances.iter().map(|(_, n)| n.clone()).collect(),
            INSTANCE_CATEGORIES,
            instances.into_iter().map(|(id, _)| id).collect(),
        ),
    ]
}

/// CreateEventSubscription (pure).
pub fn create_request(
    c: &Client,
    p: &EventSubProps,
) -> Result<aws_sdk_docdb::operation::create_event_subscription::builders::CreateEventSubscriptionFluentBuilder, crate::reconcile::kit::PropsError>{
    Ok(c.create_event_subscription()
        .subscription_name(&p.name)
        .sns_topic_arn(p.sns_topic_arn.require("sns_topic_arn")?)
        .source_type(&p.source_type)
        .set_source_ids(Some(p.source_ids.clone()))
        .set_event_categories(Some(p.event_categories.clone()))
        .enabled(p.enabled)
        .set_tags(Some(tag_list(&p.tags))))
}

/// ModifyEventSubscription for the changed fields (pure); None when none of them changed.
pub fn modify_request(
    c: &Client,
    p: &EventSubProps,
    changed: &BTreeSet<String>,
) -> Result<
    Option<aws_sdk_docdb::operation::modify_event_subscription::builders::ModifyEventSubscriptionFluentBuilder>,
    crate::reconcile::kit::PropsError,
>{
    let has = |k: &str| changed.contains(k);
    if !(has("sns_topic_arn") || has("event_categories") || has("enabled")) {
        return Ok(None);
    }
    let mut req = c.modify_event_subscription().subscription_name(&p.name);
    if has("sns_topic_arn") {
        req = req.sns_topic_arn(p.sns_topic_arn.require("sns_topic_arn")?);
    }
    if has("event_categories") {
        req = req
            .source_type(&p.source_type)
            .set_event_categories(Some(p.event_categories.clone()));
    }
    if has("enabled") {
        req = req.enabled(p.enabled);
    }
    Ok(Some(req))
}

/// The source ids to add and to remove, going from `live` to `want`.
pub fn source_changes(live: &[String], want: &[String]) -> (Vec<String>, Vec<String>) {
    let live: BTreeSet<&String> = live.iter().collect();
    let want: BTreeSet<&String> = want.iter().collect();
    (
        want.difference(&live).map(|s| s.to_string()).collect(),
        live.difference(&want).map(|s| s.to_string()).collect(),
    )
}

pub fn sub_attrs(s: &EventSubscription) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "id".into(),
        s.cust_subscription_id().unwrap_or_default().to_string(),
    );
    if let Some(arn) = s.event_subscription_arn() {
        a.insert("arn".into(), arn.to_string());
    }
    a
}

async fn describe(ctx: &Ctx, name: &str) -> Result<Option<EventSubscription>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_event_subscriptions()
        .subscription_name(name)
        .send()
        .await
        .map_err(aws("docdb:DescribeEventSubscriptions"));
    Ok(found(r)?.and_then(|o| o.event_subscriptions_list().first().cloned()))
}

pub struct EventSub;

#[async_trait]
impl Kind for EventSub {
    crate::typed_kind!(SCHEMA, EventSubProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: &EventSubProps = &from_props(&r.props)?;
        let req = create_request(&ctx.clients.docdb, p)?;
        let create = async {
            let out = req
                .send()
                .await
                .map_err(aws("docdb:CreateEventSubscription"))?;
            Ok(out.event_subscription().map(sub_attrs).unwrap_or_default())
        };
        // The name is unique: a retried create (lost response) adopts the subscription when
        // it carries our tags; any difference is the next plan's update.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let s = describe(ctx, &p.name).await?;
            let arn = s.as_ref().and_then(|s| s.event_subscription_arn());
            let attrs = s.as_ref().map(sub_attrs).unwrap_or_default();
            existing_at(ctx, r, arn, attrs).await
        })
        .await
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &EventSubProps = &from_props(&u.desired.props)?;
        let before: EventSubProps = from_props(&prior.props)?;
        let dd = &ctx.clients.docdb;
        if let Some(req) = modify_request(dd, p, changed)? {
            req.send()
                .await
                .map_err(aws("docdb:ModifyEventSubscription"))?;
        }
        if changed.contains("source_ids") {
            let (add, remove) = source_changes(&before.source_ids, &p.source_ids);
            for id in add {
                dd.add_source_identifier_to_subscription()
                    .subscription_name(&p.name)
                    .source_identifier(id)
                    .send()
                    .await
                    .map_err(aws("docdb:AddSourceIdentifierToSubscription"))?;
            }
            for id in remove {
                // Already gone (the instance was deleted): nothing to remove.
                gone_ok(
                    dd.remove_source_identifier_from_subscription()
                        .subscription_name(&p.name)
                        .source_identifier(id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(aws("docdb:RemoveSourceIdentifierFromSubscription")),
                )?;
            }
        }
        if changed.contains("tags") {
            sync_tags(ctx, prior, &before.tags, &p.tags).await?;
        }
        Ok(prior.attrs.clone())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .docdb
                .delete_event_subscription()
                .subscription_name(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("docdb:DeleteEventSubscription")),
        )
    }
}
