//! `nat/<az>`: a NAT gateway in a public subnet, on its Elastic IP.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::ResourceType;
use serde::{Deserialize, Serialize};

use super::{attrs, tag_spec, update_tags, NAT, WAIT};
use crate::aws::{aws, waited, AwsError, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{ctx_token, from_props, gone_ok, with_ticker, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(NAT, &["subnet_id", "allocation_id"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatProps {
    pub tags: BTreeMap<String, String>,
    pub subnet_id: Link,
    /// The Elastic IP's allocation (null for a live gateway that reports no address).
    pub allocation_id: Option<Link>,
}

pub struct Nat;

#[async_trait]
impl Kind for Nat {
    crate::typed_kind!(SCHEMA, NatProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: NatProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let alloc = p.allocation_id.as_ref().map(|a| a.require("allocation_id"));
        let out = ec2
            .create_nat_gateway()
            .subnet_id(p.subnet_id.require("subnet_id")?)
            .set_allocation_id(alloc.transpose()?.map(String::from))
            .tag_specifications(tag_spec(ResourceType::Natgateway, &p.tags))
            // A retried create (lost response) returns the gateway the first attempt made.
            .client_token(ctx_token(ctx, &r.id, 32))
            .send()
            .await
            .map_err(aws("ec2:CreateNatGateway"))?;
        let nid = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .required("ec2:CreateNatGateway", "no NAT gateway id returned")?
            .to_string();
        with_ticker(
            task,
            &format!("NAT gateway {nid} to become available (minutes on AWS)"),
            ec2.wait_until_nat_gateway_available()
                .nat_gateway_ids(&nid)
                .wait(WAIT),
        )
        .await
        .map_err(waited("ec2:DescribeNatGateways", &nid))?;
        Ok(attrs(&nid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        update_tags(ctx, u).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let nid = o.physical_id.as_str();
        gone_ok(
            ec2.delete_nat_gateway()
                .nat_gateway_id(nid)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:DeleteNatGateway")),
        )?;
        gone_ok(
            with_ticker(
                task,
                &format!("NAT gateway {nid} to be deleted (minutes on AWS)"),
                ec2.wait_until_nat_gateway_deleted()
                    .nat_gateway_ids(nid)
                    .wait(WAIT),
            )
            .await
            .map(|_| ())
            .map_err(waited("ec2:DescribeNatGateways", nid)),
        )
    }
}
