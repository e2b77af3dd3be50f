//! `sns_topic/alerts`: the alerts topic, encrypted and tagged: with the env's customer managed
//! key `kms_key/alerts` (a reference to its ARN) where the spec has `[monitoring.alerts_key]`,
//! else with the AWS managed key `alias/aws/sns`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{sns_tags, topic_id, SnsTags, KMS_KEY, TOPIC};
use crate::aws::{aws, AwsError, Required};
use crate::model::{tags_for, Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, sync_tags, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(TOPIC, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicProps {
    pub name: String,
    /// The topic's KMS key (`KmsMasterKeyId`): the alerts key's ARN or `alias/aws/sns`; None
    /// when the live topic is not encrypted.
    pub kms_master_key_id: Option<Link>,
    pub tags: BTreeMap<String, String>,
}

/// The spec's topic (pure), named `name`.
pub fn expand(spec: &Spec, name: &str) -> Resource {
    let id = topic_id();
    let props = TopicProps {
        name: name.to_string(),
        kms_master_key_id: Some(if crate::reconcile::kms::wanted(spec) {
            Link::to(&crate::reconcile::kms::key_id(), "arn")
        } else {
            Link::from(KMS_KEY)
        }),
        tags: tags_for(&spec.project, &spec.env, &id, name, &spec.tags),
    };
    Resource::new(id, name).with_props(to_props(&props))
}

/// The live topic → `Observed` (pure). `attrs` is GetTopicAttributes' map.
pub fn observed_topic(
    arn: &str,
    name: &str,
    attrs: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let props = TopicProps {
        name: name.to_string(),
        kms_master_key_id: attrs
            .get("KmsMasterKeyId")
            .filter(|k| !k.is_empty())
            .map(|k| Link::from(k.as_str())),
        tags: tags.clone(),
    };
    Observed::new(topic_id(), arn)
        .with_props(to_props(&props))
        .attr("arn", arn)
        .attr("name", name)
}

pub struct Topic;

#[async_trait]
impl Kind for Topic {
    crate::typed_kind!(SCHEMA, TopicProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: TopicProps = from_props(&r.props)?;
        let mut req = ctx
            .clients
            .sns
            .create_topic()
            .name(&p.name)
            .set_tags(Some(sns_tags(&p.tags)?));
        if let Some(k) = &p.kms_master_key_id {
            req = req.attributes("KmsMasterKeyId", k.require("kms_master_key_id")?);
        }
        let out = req.send().await.map_err(aws("sns:CreateTopic"))?;
        let arn = out
            .topic_arn()
            .required(
                "sns:CreateTopic",
                format!("no topic ARN returned for {}", p.name),
            )?
            .to_string();
        let mut a = Attrs::new();
        a.insert("id".into(), arn.clone());
        a.insert("arn".into(), arn);
        a.insert("name".into(), p.name);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: TopicProps = from_props(&u.desired.props)?;
        let arn = u.prior.physical_id.as_str();
        if u.changed("kms_master_key_id") {
            ctx.clients
                .sns
                .set_topic_attributes()
                .topic_arn(arn)
                .attribute_name("KmsMasterKeyId")
                // No key: an empty value turns encryption off.
                .attribute_value(match &p.kms_master_key_id {
                    Some(k) => k.require("kms_master_key_id")?,
                    None => "",
                })
                .send()
                .await
                .map_err(aws("sns:SetTopicAttributes"))?;
        }
        if u.changed("tags") {
            let live: TopicProps = from_props(&u.prior.props)?;
            sync_tags(&SnsTags(&ctx.clients.sns), arn, &live.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .sns
                .delete_topic()
                .topic_arn(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("sns:DeleteTopic")),
        )
    }
}
