//! `subnet/<tier>-<az>`: a public or private subnet in one availability zone.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, filter, sync_tags, tag_map, tag_spec, SUBNET, WAIT};
use crate::aws::{aws, waited, AwsError, Call, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, with_ticker, Existing, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(SUBNET, &["vpc_id", "cidr_block", "availability_zone"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetProps {
    pub tags: BTreeMap<String, String>,
    pub vpc_id: Link,
    pub cidr_block: String,
    pub availability_zone: String,
    pub map_public_ip_on_launch: bool,
}

pub struct Subnet;

async fn set_map_public_ip(ctx: &Ctx, sid: &str, on: bool) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(sid)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map_err(aws("ec2:ModifySubnetAttribute"))?;
    Ok(())
}

#[async_trait]
impl Kind for Subnet {
    crate::typed_kind!(SCHEMA, SubnetProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: SubnetProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let vpc = p.vpc_id.require("vpc_id")?;
        let create = async {
            let out = ec2
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(&p.cidr_block)
                .availability_zone(&p.availability_zone)
                .tag_specifications(tag_spec(ResourceType::Subnet, &p.tags))
                .send()
                .await
                .map_err(aws("ec2:CreateSubnet"))?;
            Ok(out
                .subnet()
                .and_then(|v| v.subnet_id())
                .required("ec2:CreateSubnet", "no subnet id returned")?
                .to_string())
        };
        // CreateSubnet takes no token, but a CIDR holds one subnet per VPC: a retried create
        // (lost response) meets InvalidSubnet.Conflict, and the subnet at exactly that CIDR is
        // adopted when it carries our tags (it was made with them).
        let sid = adopt_on_exists(&r.id.to_string(), create, || async {
            let out = ec2
                .describe_subnets()
                .filters(filter("vpc-id", [vpc]))
                .filters(filter("cidr-block", [p.cidr_block.as_str()]))
                .send()
                .await
                .map_err(aws("ec2:DescribeSubnets"))?;
            Ok(match out.subnets().first() {
                None => Existing::Missing,
                Some(s) => Existing::of(
                    ctx,
                    &r.id,
                    Some(tag_map(s.tags())),
                    s.subnet_id().unwrap_or_default().to_string(),
                ),
            })
        })
        .await?;
        with_ticker(
            task,
            &format!("{sid} to become available"),
            ec2.wait_until_subnet_available()
                .subnet_ids(&sid)
                .wait(WAIT),
        )
        .await
        .map_err(waited("ec2:DescribeSubnets", &sid))?;
        if p.map_public_ip_on_launch {
            set_map_public_ip(ctx, &sid, true).await?;
        }
        Ok(attrs(&sid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let p: SubnetProps = from_props(&r.props)?;
        sync_tags(ctx, prior, changed, &p.tags).await?;
        if changed.contains("map_public_ip_on_launch") {
            set_map_public_ip(ctx, &prior.physical_id, p.map_public_ip_on_launch).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let req = ec2.delete_subnet().subnet_id(&o.physical_id);
        delete_when_free(&[], || req.clone().send().done("ec2:DeleteSubnet")).await
    }
}
