//! `sg/<tier>`: a security group (its rules are resources of their own).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{Filter, ResourceType};
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, tag_map, tag_spec, update_tags, SG, WAIT};
use crate::aws::{aws, waited, AwsError, Call, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, with_ticker, Existing, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(SG, &["group_name", "description", "vpc_id"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupProps {
    pub tags: BTreeMap<String, String>,
    pub group_name: String,
    pub description: String,
    pub vpc_id: Link,
}

pub struct SecurityGroup;

#[async_trait]
impl Kind for SecurityGroup {
    crate::typed_kind!(SCHEMA, SecurityGroupProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: SecurityGroupProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let vpc_id = p.vpc_id.require("vpc_id")?;
        // The group name is unique in its VPC: a retried create whose first attempt made the
        // group (lost response) answers InvalidGroup.Duplicate; ours is adopted.
        let create = async {
            let out = ec2
                .create_security_group()
                .group_name(&p.group_name)
                .description(&p.description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &p.tags))
                .send()
                .await
                .map_err(aws("ec2:CreateSecurityGroup"))?;
            Ok(out
                .group_id()
                .required("ec2:CreateSecurityGroup", "no group id returned")?
                .to_string())
        };
        let gid = adopt_on_exists(&r.id.to_string(), create, || async {
            let out = ec2
                .describe_security_groups()
                .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                .filters(
                    Filter::builder()
                        .name("group-name")
                        .values(&p.group_name)
                        .build(),
                )
                .send()
                .await
                .map_err(aws("ec2:DescribeSecurityGroups"))?;
            Ok(match out.security_groups().first() {
                Some(g) => Existing::by_tags(
                    &tag_map(g.tags()),
                    &ctx.project,
                    &ctx.env,
                    &r.id,
                    g.group_id().unwrap_or_default().to_string(),
                ),
                None => Existing::Missing,
            })
        })
        .await?;
        with_ticker(
            task,
            &format!("security group {gid} to exist"),
            ec2.wait_until_security_group_exists()
                .group_ids(&gid)
                .wait(WAIT),
        )
        .await
        .map_err(waited("ec2:DescribeSecurityGroups", &gid))?;
        Ok(attrs(&gid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        update_tags(ctx, u).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let req = ec2.delete_security_group().group_id(&o.physical_id);
        delete_when_free(&[], || req.clone().send().done("ec2:DeleteSecurityGroup")).await
    }
}
