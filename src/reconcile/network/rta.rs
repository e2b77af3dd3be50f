//! `rta/<subnet>`: a subnet's association with its route table.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{attrs, filter, id, route_tables, RTA};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, gone_ok, Existing, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(RTA, &["subnet_id"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtaProps {
    pub route_table_id: Link,
    pub subnet_id: Link,
}

pub struct Rta;

/// The association `rta/<name>` of `subnet` with `table`.
pub fn desired(name: &str, table: &ResourceId, subnet: &ResourceId) -> Resource {
    super::desired(
        id(RTA, name),
        "",
        &RtaProps {
            route_table_id: Link::to(table, "id"),
            subnet_id: Link::to(subnet, "id"),
        },
    )
}

#[async_trait]
impl Kind for Rta {
    crate::typed_kind!(SCHEMA, RtaProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: RtaProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let (rt, subnet) = (
            p.route_table_id.require("route_table_id")?,
            p.subnet_id.require("subnet_id")?,
        );
        let create = async {
            let out = ec2
                .associate_route_table()
                .route_table_id(rt)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(aws("ec2:AssociateRouteTable"))?;
            Ok(out
                .association_id()
                .required("ec2:AssociateRouteTable", "no association id returned")?
                .to_string())
        };
        // A subnet has one explicit association: a retried associate (lost response) meets
        // Resource.AlreadyAssociated, and the association is adopted when it is with our
        // route table (associations carry no tags; the pair is what identifies it).
        let association = adopt_on_exists(&r.id.to_string(), create, || async {
            let by_subnet = filter("association.subnet-id", [subnet]);
            let tables = route_tables(ec2.describe_route_tables().filters(by_subnet)).await?;
            let mut associations = tables.iter().flat_map(|t| t.associations());
            let found = associations.find(|a| a.subnet_id() == Some(subnet));
            Ok(match found {
                None => Existing::Missing,
                Some(a) if a.route_table_id() == Some(rt) => Existing::Ours(
                    a.route_table_association_id()
                        .unwrap_or_default()
                        .to_string(),
                ),
                Some(a) => Existing::Differs(format!(
                    "{subnet} is associated with {}",
                    a.route_table_id().unwrap_or("another route table")
                )),
            })
        })
        .await?;
        Ok(attrs(&association))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        if !changed.contains("route_table_id") {
            return Ok(Attrs::new());
        }
        let p: RtaProps = from_props(&r.props)?;
        ctx.clients
            .ec2
            .replace_route_table_association()
            .association_id(&prior.physical_id)
            .route_table_id(p.route_table_id.require("route_table_id")?)
            .send()
            .await
            .map_err(aws("ec2:ReplaceRouteTableAssociation"))?;
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .ec2
                .disassociate_route_table()
                .association_id(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:DisassociateRouteTable")),
        )
    }
}
