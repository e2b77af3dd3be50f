//! `route/<table>-<destination>`: one route of a route table, to the internet gateway or a
//! NAT gateway. Its physical id is `<table id>_<destination>` (routes have no id of their own).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{attrs, desired, id, route_tables, sanitize, ROUTE};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, gone_ok, Existing, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(ROUTE, &["route_table_id", "destination_cidr_block"]);

/// Exactly one of the targets is set; the other is null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteProps {
    pub route_table_id: Link,
    pub destination_cidr_block: String,
    pub gateway_id: Option<Link>,
    pub nat_gateway_id: Option<Link>,
}

pub struct Route;

/// A route's id: `route/public-default` for 0.0.0.0/0, else the sanitised CIDR.
pub fn route_name(table: &str, dest: &str) -> String {
    if dest == "0.0.0.0/0" {
        format!("{table}-default")
    } else {
        format!("{table}-{}", sanitize(dest))
    }
}

/// The default route of `table` (named `name`) to the internet gateway or a NAT gateway.
pub fn desired_default(table: &ResourceId, name: &str, target: &ResourceId, nat: bool) -> Resource {
    let dest = "0.0.0.0/0";
    let to = Some(Link::to(target, "id"));
    let (gateway_id, nat_gateway_id) = if nat { (None, to) } else { (to, None) };
    desired(
        id(ROUTE, &route_name(name, dest)),
        "",
        &RouteProps {
            route_table_id: Link::to(table, "id"),
            destination_cidr_block: dest.into(),
            gateway_id,
            nat_gateway_id,
        },
    )
}

fn target(l: &Option<Link>, field: &str) -> Result<Option<String>, AwsError> {
    Ok(l.as_ref()
        .map(|l| l.require(field))
        .transpose()?
        .map(String::from))
}

/// Whether a live route's targets are the desired ones (pure).
fn existing_route(
    gateway: Option<&str>,
    nat: Option<&str>,
    want_gateway: &Option<String>,
    want_nat: &Option<String>,
) -> Existing<()> {
    if gateway == want_gateway.as_deref() && nat == want_nat.as_deref() {
        Existing::Ours(())
    } else {
        Existing::Differs(format!(
            "it points at {}",
            gateway.or(nat).unwrap_or("another target")
        ))
    }
}

#[async_trait]
impl Kind for Route {
    crate::typed_kind!(SCHEMA, RouteProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: RouteProps = from_props(&r.props)?;
        let rt = p.route_table_id.require("route_table_id")?;
        let dest = &p.destination_cidr_block;
        let ec2 = &ctx.clients.ec2;
        let gw = target(&p.gateway_id, "gateway_id")?;
        let nat = target(&p.nat_gateway_id, "nat_gateway_id")?;
        let create = async {
            ec2.create_route()
                .route_table_id(rt)
                .destination_cidr_block(dest)
                .set_gateway_id(gw.clone())
                .set_nat_gateway_id(nat.clone())
                .send()
                .await
                .map_err(aws("ec2:CreateRoute"))?;
            Ok(())
        };
        // RouteAlreadyExists on a retried create (lost response): the route the first attempt
        // made is adopted when it points where we want.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let tables = route_tables(ec2.describe_route_tables().route_table_ids(rt)).await?;
            let mut routes = tables.iter().flat_map(|t| t.routes());
            let found = routes.find(|x| x.destination_cidr_block() == Some(dest.as_str()));
            Ok(match found {
                None => Existing::Missing,
                Some(x) => existing_route(x.gateway_id(), x.nat_gateway_id(), &gw, &nat),
            })
        })
        .await?;
        Ok(attrs(&format!("{rt}_{dest}")))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        if !u.changed("gateway_id") && !u.changed("nat_gateway_id") {
            return Ok(Attrs::new());
        }
        let p: RouteProps = from_props(&u.desired.props)?;
        ctx.clients
            .ec2
            .replace_route()
            .route_table_id(p.route_table_id.require("route_table_id")?)
            .destination_cidr_block(&p.destination_cidr_block)
            .set_gateway_id(target(&p.gateway_id, "gateway_id")?)
            .set_nat_gateway_id(target(&p.nat_gateway_id, "nat_gateway_id")?)
            .send()
            .await
            .map_err(aws("ec2:ReplaceRoute"))?;
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let p: RouteProps = from_props(&o.props)?;
        gone_ok(
            ctx.clients
                .ec2
                .delete_route()
                .route_table_id(p.route_table_id.require("route_table_id")?)
                .destination_cidr_block(&p.destination_cidr_block)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:DeleteRoute")),
        )
    }
}

#[cfg(test)]
mod lost_response_tests {
    use super::*;

    #[test]
    fn an_existing_route_is_adopted_only_when_it_points_where_we_want() {
        let igw = Some("igw-1".to_string());
        assert!(matches!(
            existing_route(Some("igw-1"), None, &igw, &None),
            Existing::Ours(())
        ));
        match existing_route(Some("igw-2"), None, &igw, &None) {
            Existing::Differs(why) => assert!(why.contains("igw-2"), "{why}"),
            other => panic!("{other:?}"),
        }
        let nat = Some("nat-1".to_string());
        assert!(matches!(
            existing_route(None, Some("nat-1"), &None, &nat),
            Existing::Ours(())
        ));
        assert!(matches!(
            existing_route(Some("igw-1"), None, &None, &nat),
            Existing::Differs(_)
        ));
    }
}
