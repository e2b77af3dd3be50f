//! `route_table/<public|private-az>`: a route table in the VPC (its routes and subnet
//! associations are resources of their own).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, tag_spec, update_tags, ROUTE_TABLE};
use crate::aws::{aws, AwsError, Call, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{ctx_token, from_props, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(ROUTE_TABLE, &["vpc_id"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTableProps {
    pub tags: BTreeMap<String, String>,
    pub vpc_id: Link,
}

pub struct RouteTable;

#[async_trait]
impl Kind for RouteTable {
    crate::typed_kind!(SCHEMA, RouteTableProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: RouteTableProps = from_props(&r.props)?;
        let out = ctx
            .clients
            .ec2
            .create_route_table()
            .vpc_id(p.vpc_id.require("vpc_id")?)
            .tag_specifications(tag_spec(ResourceType::RouteTable, &p.tags))
            // A retried create (lost response) returns the table the first attempt made.
            .client_token(ctx_token(ctx, &r.id, 32))
            .send()
            .await
            .map_err(aws("ec2:CreateRouteTable"))?;
        let rid = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .required("ec2:CreateRouteTable", "no route table id returned")?;
        Ok(attrs(rid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        update_tags(ctx, u).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let req = ec2.delete_route_table().route_table_id(&o.physical_id);
        delete_when_free(&[], || req.clone().send().done("ec2:DeleteRouteTable")).await
    }
}
