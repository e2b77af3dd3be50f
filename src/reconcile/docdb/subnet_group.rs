//! `docdb_subnet_group/main`: the env's private subnets, keyed by AZ.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_docdb::types::DbSubnetGroup;
use serde::{Deserialize, Serialize};

use super::{
    existing_at, group_attrs, rid, spec_tags, sync_tags, tag_list, BUSY_RETRY, SUBNET_GROUP,
};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, retry_while, subnet_links, to_props, Link,
    PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(SUBNET_GROUP, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetGroupProps {
    pub name: String,
    pub description: Option<String>,
    /// AZ → subnet id. A second subnet in one AZ (added out of band) is `<az>#<subnet id>`.
    pub subnet_ids: BTreeMap<String, Link>,
    pub tags: BTreeMap<String, String>,
}

impl SubnetGroupProps {
    /// The group as DocumentDB describes it, with its tags.
    pub fn observed(g: &DbSubnetGroup, tags: BTreeMap<String, String>) -> Self {
        let mut subnet_ids = BTreeMap::new();
        for s in g.subnets() {
            let Some(id) = s.subnet_identifier() else {
                continue;
            };
            let az = s
                .subnet_availability_zone()
                .and_then(|a| a.name())
                .unwrap_or("unknown");
            // Two subnets in one AZ (added out of band) both show.
            let key = if subnet_ids.contains_key(az) {
                format!("{az}#{id}")
            } else {
                az.to_string()
            };
            subnet_ids.insert(key, Link::from(id));
        }
        SubnetGroupProps {
            name: g.db_subnet_group_name().unwrap_or_default().to_string(),
            description: g.db_subnet_group_description().map(String::from),
            subnet_ids,
            tags,
        }
    }

    fn subnets(&self) -> Result<Vec<String>, PropsError> {
        self.subnet_ids
            .values()
            .map(|l| l.require("subnet_ids").map(String::from))
            .collect()
    }
}

pub fn expand(spec: &Spec) -> Resource {
    let id = rid(SUBNET_GROUP, "main");
    let name = spec.name("docdb");
    let subnet_ids = subnet_links(spec, "private").into_iter().collect();
    let props = SubnetGroupProps {
        name: name.clone(),
        description: Some(format!(
            "rtech {}: DocumentDB in the private subnets",
            spec.env
        )),
        subnet_ids,
        tags: spec_tags(spec, &id, &name, &[]),
    };
    Resource::new(id, &name).with_props(to_props(&props))
}

pub struct SubnetGroup;

#[async_trait]
impl Kind for SubnetGroup {
    crate::typed_kind!(SCHEMA, SubnetGroupProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: &SubnetGroupProps = &from_props(&r.props)?;
        let dd = &ctx.clients.docdb;
        let create = async {
            let out = dd
                .create_db_subnet_group()
                .db_subnet_group_name(&p.name)
                .set_db_subnet_group_description(p.description.clone())
                .set_subnet_ids(Some(p.subnets()?))
                .set_tags(Some(tag_list(&p.tags)))
                .send()
                .await
                .map_err(aws("docdb:CreateDBSubnetGroup"))?;
            Ok(out
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_arn())
                .map(str::to_string))
        };
        // The name is unique: a retried create (lost response) adopts the group when it is
        // ours; its description and subnets are then the next plan's update, like any drift.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let r2 = dd
                .describe_db_subnet_groups()
                .db_subnet_group_name(&p.name)
                .send()
                .await
                .map_err(aws("docdb:DescribeDBSubnetGroups"));
            let arn = found(r2)?.and_then(|o| {
                o.db_subnet_groups()
                    .first()
                    .and_then(|g| g.db_subnet_group_arn())
                    .map(str::to_string)
            });
            existing_at(ctx, r, arn.as_deref(), arn.clone()).await
        })
        .await?;
        Ok(group_attrs(&p.name, arn.as_deref()))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &SubnetGroupProps = &from_props(&u.desired.props)?;
        if changed.contains("description") || changed.contains("subnet_ids") {
            ctx.clients
                .docdb
                .modify_db_subnet_group()
                .db_subnet_group_name(&p.name)
                .set_db_subnet_group_description(p.description.clone())
                .set_subnet_ids(Some(p.subnets()?))
                .send()
                .await
                .map_err(aws("docdb:ModifyDBSubnetGroup"))?;
        }
        if changed.contains("tags") {
            let before: SubnetGroupProps = from_props(&prior.props)?;
            sync_tags(ctx, prior, &before.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// Retried while a cluster being deleted still uses it.
    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            retry_while(
                &[],
                &["InvalidDBSubnetGroupStateFault"],
                BUSY_RETRY,
                || async {
                    ctx.clients
                        .docdb
                        .delete_db_subnet_group()
                        .db_subnet_group_name(&o.physical_id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(aws("docdb:DeleteDBSubnetGroup"))
                },
            )
            .await,
        )
    }
}
