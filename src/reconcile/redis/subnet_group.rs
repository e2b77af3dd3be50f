//! `cache_subnet_group/main`: the env's private subnets, where the replication group's nodes
//! live. Description and subnets change in place (ModifyCacheSubnetGroup).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::operation::delete_cache_subnet_group::builders::DeleteCacheSubnetGroupFluentBuilder;
use aws_sdk_elasticache::operation::modify_cache_subnet_group::builders::ModifyCacheSubnetGroupFluentBuilder;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use aws_sdk_elasticache::Client;
use serde::{Deserialize, Serialize};

use super::{ec_tags, existing_at, rid, visible_tags, Ec, IN_USE_RETRY, SUBNET_GROUP};
use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, retry_while, subnet_links, sync_tags, to_props,
    Link, PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema {
    kind: SUBNET_GROUP,
    // ModifyCacheSubnetGroup changes the description and the subnets in place.
    force_new: &[],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetGroupProps {
    pub description: String,
    /// The private subnets, in the spec's AZ order.
    pub subnet_ids: Vec<Link>,
    pub tags: BTreeMap<String, String>,
}

/// The spec's subnet group (pure), named `name`.
pub fn expand(spec: &Spec, name: &str) -> Resource {
    let id = rid(SUBNET_GROUP);
    let props = SubnetGroupProps {
        description: format!("rtech {}: private subnets for ElastiCache Redis", spec.env),
        subnet_ids: subnet_links(spec, "private")
            .into_iter()
            .map(|(_, l)| l)
            .collect(),
        tags: tags_for(&spec.project, &spec.env, &id, name, &spec.tags),
    };
    // Each property's references become dependencies (`Resource::prop`).
    to_props(&props)
        .into_iter()
        .fold(Resource::new(id, name), |r, (k, v)| r.prop(&k, v))
}

/// A live cache subnet group → `Observed` (pure). `subnet_rids` maps subnet ids to the rtech
/// ids of our subnets, so the list follows the spec's order (AWS does not promise one).
pub fn observe_subnet_group(
    sg: &CacheSubnetGroup,
    tags: &BTreeMap<String, String>,
    subnet_rids: &BTreeMap<String, ResourceId>,
    desired: Option<&Resource>,
) -> Observed {
    let mut o = Observed::new(
        rid(SUBNET_GROUP),
        sg.cache_subnet_group_name().unwrap_or_default(),
    );
    if let Some(arn) = sg.arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    let order: Vec<ResourceId> = desired
        .and_then(|d| from_props::<SubnetGroupProps>(&d.props).ok())
        .map(|p| {
            p.subnet_ids
                .into_iter()
                .filter_map(|l| match l {
                    Link::Ref { reference } => Some(reference.resource),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ids: Vec<&str> = sg
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    let rank = |id: &str| {
        let r = subnet_rids.get(id);
        (
            r.and_then(|r| order.iter().position(|x| x == r))
                .unwrap_or(usize::MAX),
            r.cloned(),
            id.to_string(),
        )
    };
    ids.sort_by_key(|id| rank(id));
    for id in &ids {
        if let Some(r) = subnet_rids.get(*id) {
            o.deps.insert(r.clone());
        }
    }
    let props = SubnetGroupProps {
        description: sg
            .cache_subnet_group_description()
            .unwrap_or_default()
            .to_string(),
        subnet_ids: ids.into_iter().map(Link::from).collect(),
        tags: visible_tags(tags),
    };
    o.props = to_props(&props);
    o
}

fn subnet_ids(p: &SubnetGroupProps) -> Result<Vec<String>, PropsError> {
    p.subnet_ids
        .iter()
        .map(|l| l.require("subnet_ids").map(str::to_string))
        .collect()
}

pub fn modify_subnet_group_request(
    c: &Client,
    p: &SubnetGroupProps,
    name: &str,
) -> Result<ModifyCacheSubnetGroupFluentBuilder, PropsError> {
    Ok(c.modify_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description(&p.description)
        .set_subnet_ids(Some(subnet_ids(p)?)))
}

pub fn delete_subnet_group_request(c: &Client, name: &str) -> DeleteCacheSubnetGroupFluentBuilder {
    c.delete_cache_subnet_group().cache_subnet_group_name(name)
}

pub struct SubnetGroup;

#[async_trait]
impl Kind for SubnetGroup {
    crate::typed_kind!(SCHEMA, SubnetGroupProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: SubnetGroupProps = from_props(&r.props)?;
        let ec = &ctx.clients.elasticache;
        let create = async {
            let out = ec
                .create_cache_subnet_group()
                .cache_subnet_group_name(&r.name)
                .cache_subnet_group_description(&p.description)
                .set_subnet_ids(Some(subnet_ids(&p)?))
                .set_tags(Some(ec_tags(&p.tags)))
                .send()
                .await
                .map_err(aws("elasticache:CreateCacheSubnetGroup"))?;
            Ok(out
                .cache_subnet_group()
                .and_then(|s| s.arn())
                .map(str::to_string))
        };
        // The name is unique: a retried create (lost response) adopts the group when it is
        // ours; its description and subnets are then the next plan's update, like any drift.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let out = found(
                ec.describe_cache_subnet_groups()
                    .cache_subnet_group_name(&r.name)
                    .send()
                    .await
                    .map_err(aws("elasticache:DescribeCacheSubnetGroups")),
            )?;
            let arn = out.and_then(|o| {
                o.cache_subnet_groups()
                    .first()
                    .and_then(|g| g.arn())
                    .map(str::to_string)
            });
            existing_at(ctx, r, arn.as_deref(), arn.clone()).await
        })
        .await?;
        let mut a = Attrs::new();
        a.insert("id".into(), r.name.clone());
        if let Some(arn) = arn {
            a.insert("arn".into(), arn);
        }
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let p: SubnetGroupProps = from_props(&r.props)?;
        if changed.contains("description") || changed.contains("subnet_ids") {
            modify_subnet_group_request(&ctx.clients.elasticache, &p, &prior.physical_id)?
                .send()
                .await
                .map_err(aws("elasticache:ModifyCacheSubnetGroup"))?;
        }
        if changed.contains("tags") {
            let before: SubnetGroupProps = from_props(&prior.props)?;
            let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
            sync_tags(&Ec(&ctx.clients.elasticache), &arn, &before.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec = &ctx.clients.elasticache;
        // A group deleted just before still holds the subnets for a while.
        gone_ok(
            retry_while(&[], &["CacheSubnetGroupInUse"], IN_USE_RETRY, || async {
                delete_subnet_group_request(ec, &o.physical_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("elasticache:DeleteCacheSubnetGroup"))
            })
            .await,
        )
    }
}
