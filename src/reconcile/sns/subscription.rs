//! `sns_subscription/<protocol>-<h>`: one endpoint subscribed to the alerts topic. Nothing is
//! updatable: every field forces a new subscription.

use async_trait::async_trait;
use aws_sdk_sns::types::Subscription as SdkSubscription;
use serde::{Deserialize, Serialize};

use super::{is_pending, subscription_id, topic_id, PENDING, SUBSCRIPTION};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(SUBSCRIPTION, &["protocol", "endpoint", "topic_arn"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionProps {
    /// `email` or `https`.
    pub protocol: String,
    /// The address or URL exactly as the spec writes it (masked for `https`).
    pub endpoint: String,
    pub topic_arn: Option<Link>,
}

/// One endpoint's subscription (pure); `shown` is how rtech shows the endpoint.
pub fn expand(protocol: &str, endpoint: &str, shown: String) -> Resource {
    let props = SubscriptionProps {
        protocol: protocol.to_string(),
        endpoint: endpoint.to_string(),
        topic_arn: Some(Link::to(&topic_id(), "arn")),
    };
    Resource::new(subscription_id(protocol, endpoint), shown).with_props(to_props(&props))
}

/// A live subscription of our topic → `Observed` (pure).
pub fn observed_subscription(s: &SdkSubscription) -> Option<Observed> {
    let props = SubscriptionProps {
        protocol: s.protocol()?.to_string(),
        endpoint: s.endpoint()?.to_string(),
        topic_arn: s.topic_arn().map(Link::from),
    };
    let arn = s.subscription_arn().unwrap_or(PENDING);
    Some(
        Observed::new(subscription_id(&props.protocol, &props.endpoint), arn)
            .dep(&topic_id())
            .with_props(to_props(&props))
            .attr("arn", arn),
    )
}

pub struct Subscription;

#[async_trait]
impl Kind for Subscription {
    crate::typed_kind!(SCHEMA, SubscriptionProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: SubscriptionProps = from_props(&r.props)?;
        let topic_arn = p
            .topic_arn
            .as_ref()
            .map(|l| l.require("topic_arn"))
            .transpose()?;
        let out = ctx
            .clients
            .sns
            .subscribe()
            .set_topic_arn(topic_arn.map(str::to_string))
            .protocol(&p.protocol)
            .endpoint(&p.endpoint)
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

    /// Nothing is updatable: every field forces a new subscription.
    async fn update(&self, _ctx: &Ctx, _u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        if is_pending(o) {
            task.status(
                "pending confirmation: cannot be unsubscribed, AWS deletes it after 3 days",
            );
            return Ok(());
        }
        gone_ok(
            ctx.clients
                .sns
                .unsubscribe()
                .subscription_arn(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("sns:Unsubscribe")),
        )
    }
}
