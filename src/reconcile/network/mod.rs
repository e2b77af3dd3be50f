//! Network: VPC, subnets, internet gateway, EIPs and NAT gateways, route tables, routes and
//! associations, security groups and each of their rules as its own resource, and the VPC's
//! flow log.
//!
//! One file per kind (its props struct, schema and create / update / delete); here the
//! service itself, the spec's layout (expand) and what the kinds share; `observe` reads all
//! of them in one batch.

mod eip;
mod flow_log;
mod iam;
mod igw;
mod nat;
mod observe;
mod route;
mod route_table;
mod rta;
mod rule;
mod security_group;
mod subnet;
mod vpc;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde::Serialize;

use crate::aws::{AwsError, ErrorKind};
#[cfg(test)]
use crate::model::Value;
use crate::model::{tags_for, tags_of, Attrs, Observed, Resource, ResourceId};
use crate::reconcile::kit::{self, gone_ok, to_props, Link};
use crate::reconcile::{Ctx, Kind, Service, Update};
use crate::spec::network::{NatLayout, Network as NetSpec, DOCDB_PORT, REDIS_PORT};
use crate::spec::Spec;

use observe::all_rules;
pub use route::route_name;
#[cfg(test)]
use rule::normalise_protocol;
#[cfg(test)]
pub use rule::rule_name;

pub const VPC: &str = "vpc";
pub const SUBNET: &str = "subnet";
pub const IGW: &str = "igw";
pub const EIP: &str = "eip";
pub const NAT: &str = "nat";
pub const ROUTE_TABLE: &str = "route_table";
pub const ROUTE: &str = "route";
pub const RTA: &str = "rta";
pub const SG: &str = "sg";
pub const SG_RULE: &str = "sg_rule";
pub const FLOW_LOG: &str = "flow_log";

/// AWS's managed prefix list of CloudFront's origin-facing addresses, by name (its `pl-` id
/// differs per region).
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

const KINDS: &[&dyn Kind] = &[
    &vpc::Vpc,
    &subnet::Subnet,
    &igw::Igw,
    &eip::Eip,
    &nat::Nat,
    &route_table::RouteTable,
    &route::Route,
    &rta::Rta,
    &security_group::SecurityGroup,
    &rule::Rule,
    &flow_log::FlowLogKind,
];

/// How long to wait for AWS to settle (NAT gateways take minutes on real AWS).
const WAIT: Duration = Duration::from_secs(15 * 60);
/// How long deletes retry while something still uses the resource (ENIs and address mappings
/// linger for minutes after the NAT gateway or load balancer that held them is gone).
const DEPENDENCY_RETRY: Duration = Duration::from_secs(10 * 60);

fn id(kind: &str, name: &str) -> ResourceId {
    ResourceId::new(kind, name)
}

fn sanitize(s: &str) -> String {
    s.replace('/', "_")
}

pub struct Network;

#[async_trait]
impl Service for Network {
    fn outputs(&self, observed: &[Observed]) -> Vec<crate::reconcile::kit::outputs::Output> {
        use crate::reconcile::kit::outputs::{ids, owned};
        let sgs: serde_json::Map<String, serde_json::Value> = owned(observed, "sg", "")
            .iter()
            .map(|o| (o.id.name.clone(), o.physical_id.clone().into()))
            .collect();
        vec![
            (
                "vpc_id",
                ids(observed, "vpc", "main").get(0).cloned().into(),
            ),
            (
                "vpc_cidr",
                owned(observed, "vpc", "main")
                    .first()
                    .and_then(|o| o.get_str("cidr_block"))
                    .map(str::to_string)
                    .into(),
            ),
            ("public_subnet_ids", ids(observed, "subnet", "public-")),
            ("private_subnet_ids", ids(observed, "subnet", "private-")),
            ("nat_gateway_ids", ids(observed, "nat", "")),
            (
                "nat_public_ips",
                owned(observed, "eip", "")
                    .iter()
                    .filter_map(|o| o.attrs.get("public_ip").cloned())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ("security_group_ids", sgs.into()),
        ]
    }

    crate::service_basics!("network", KINDS, expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe::observe(ctx, desired).await
    }
}

// ---------------------------------------------------------------------------------------------
// expand

/// A desired resource from a kind's props (each reference in them is also a dependency).
fn desired<P: Serialize>(rid: ResourceId, name: impl Into<String>, props: &P) -> Resource {
    Resource::new(rid, name).with_props(to_props(props))
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let n: &NetSpec = &spec.network;
    // Routes, associations and rules cannot carry tags; everything else does.
    let tags =
        |rid: &ResourceId, name: &str| tags_for(&spec.project, &spec.env, rid, name, &spec.tags);
    let mut out = Vec::new();

    let vpc = id(VPC, "main");
    let name = spec.name("vpc");
    out.push(desired(
        vpc.clone(),
        &name,
        &vpc::VpcProps {
            tags: tags(&vpc, &name),
            cidr_block: n.cidr.to_string(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
        },
    ));
    let vpc_link = || Link::to(&vpc, "id");
    let igw = id(IGW, "main");
    let name = spec.name("igw");
    out.push(desired(
        igw.clone(),
        &name,
        &igw::IgwProps {
            tags: tags(&igw, &name),
            vpc_id: Some(vpc_link()),
        },
    ));

    let table = |rid: &ResourceId, name: String| {
        desired(
            rid.clone(),
            &name,
            &route_table::RouteTableProps {
                tags: tags(rid, &name),
                vpc_id: vpc_link(),
            },
        )
    };
    let rt_public = id(ROUTE_TABLE, "public");
    out.push(table(&rt_public, spec.name("public")));
    out.push(route::desired_default(&rt_public, "public", &igw, false));

    let nat_azs: Vec<&String> = match n.nat {
        NatLayout::None => vec![],
        NatLayout::Single => n.azs.iter().take(1).collect(),
        NatLayout::OnePerAz => n.azs.iter().collect(),
    };
    for (i, az) in n.azs.iter().enumerate() {
        let s = NetSpec::az_suffix(az);
        let subnet = |tier: &str, cidr: String, public: bool| {
            let rid = id(SUBNET, &format!("{tier}-{s}"));
            let name = spec.name(&format!("{tier}-{s}"));
            desired(
                rid.clone(),
                &name,
                &subnet::SubnetProps {
                    tags: tags(&rid, &name),
                    vpc_id: vpc_link(),
                    cidr_block: cidr,
                    availability_zone: az.clone(),
                    map_public_ip_on_launch: public,
                },
            )
        };
        let public_subnet = subnet("public", n.public_subnets[i].to_string(), true);
        let private_subnet = subnet("private", n.private_subnets[i].to_string(), false);
        let (public, private) = (public_subnet.id.clone(), private_subnet.id.clone());
        out.push(public_subnet);
        out.push(private_subnet);
        out.push(rta::desired(&format!("public-{s}"), &rt_public, &public));
        let rt_private = id(ROUTE_TABLE, &format!("private-{s}"));
        out.push(table(&rt_private, spec.name(&format!("private-{s}"))));
        out.push(rta::desired(&format!("private-{s}"), &rt_private, &private));
        if nat_azs.contains(&az) {
            let eip = id(EIP, &format!("nat-{s}"));
            let name = spec.name(&format!("nat-{s}"));
            out.push(
                desired(
                    eip.clone(),
                    &name,
                    &eip::EipProps {
                        tags: tags(&eip, &name),
                        domain: "vpc".into(),
                    },
                )
                // Releasing an EIP must come before detaching the IGW (mapped addresses).
                .dep(&igw),
            );
            let nat = id(NAT, &s);
            out.push(
                desired(
                    nat.clone(),
                    &name,
                    &nat::NatProps {
                        tags: tags(&nat, &name),
                        subnet_id: Link::to(&public, "id"),
                        allocation_id: Some(Link::to(&eip, "allocation_id")),
                    },
                )
                .dep(&igw),
            );
        }
        if let Some(first) = nat_azs.first() {
            let nat_az = if nat_azs.contains(&az) { az } else { first };
            let nat = id(NAT, &NetSpec::az_suffix(nat_az));
            out.push(route::desired_default(
                &rt_private,
                &format!("private-{s}"),
                &nat,
                true,
            ));
        }
    }

    // Security groups for the tiers, and each rule on its own.
    let groups = [
        ("alb", "load balancer: HTTP and HTTPS from the internet"),
        (
            "app",
            "application tasks: the container port from the load balancer",
        ),
        ("docdb", "DocumentDB: 27017 from the application"),
        ("redis", "ElastiCache Redis: 6379 from the application"),
    ];
    for (role, what) in groups {
        let rid = id(SG, role);
        let name = spec.name(role);
        out.push(desired(
            rid.clone(),
            &name,
            &security_group::SecurityGroupProps {
                tags: tags(&rid, &name),
                group_name: name.clone(),
                description: format!("rtech {}: {what}", spec.env),
                vpc_id: vpc_link(),
            },
        ));
    }
    let mut rules: Vec<rule::RuleSpec> = Vec::new();
    if spec.edge.as_ref().is_some_and(|e| e.cloudfront.is_some()) {
        // Only CloudFront reaches the load balancer: 443 from its origin-facing addresses
        // (the origin is https-only, so port 80, whose listener only redirects, is not open).
        rules.push(rule::RuleSpec {
            sg: "alb",
            egress: false,
            protocol: "tcp",
            from: 443,
            to: 443,
            cidr: None,
            peer_sg: None,
            prefix_list: Some(CLOUDFRONT_ORIGIN_FACING),
            description: "HTTPS from CloudFront".into(),
        });
    } else {
        for cidr in &n.alb_ingress_cidrs {
            for port in [80, 443] {
                rules.push(rule::RuleSpec {
                    sg: "alb",
                    egress: false,
                    protocol: "tcp",
                    from: port,
                    to: port,
                    cidr: Some(cidr.to_string()),
                    peer_sg: None,
                    prefix_list: None,
                    description: format!(
                        "{} from {cidr}",
                        if port == 80 { "HTTP" } else { "HTTPS" }
                    ),
                });
            }
        }
    }
    for (sg, port, from) in [
        ("app", n.app_port, "alb"),
        ("docdb", DOCDB_PORT, "app"),
        ("redis", REDIS_PORT, "app"),
    ] {
        rules.push(rule::RuleSpec {
            sg,
            egress: false,
            protocol: "tcp",
            from: port as i64,
            to: port as i64,
            cidr: None,
            peer_sg: Some(from),
            prefix_list: None,
            description: format!("port {port} from the {from} security group"),
        });
    }
    for (role, _) in groups {
        rules.push(rule::RuleSpec {
            sg: role,
            egress: true,
            protocol: "-1",
            from: -1,
            to: -1,
            cidr: Some("0.0.0.0/0".into()),
            peer_sg: None,
            prefix_list: None,
            // AWS gives every new group exactly this rule, without a description: match it.
            description: String::new(),
        });
    }
    out.extend(rules.into_iter().map(rule::desired));

    if let Some(traffic) = n.flow_logs.traffic_type() {
        let rid = id(FLOW_LOG, "main");
        let name = spec.name("vpc-flow-log");
        out.push(desired(
            rid.clone(),
            &name,
            &flow_log::desired(traffic, &vpc, tags(&rid, &name)),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// what the kinds share

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(v);
    }
    b.build()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    kit::tags::tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

/// The tags to create a resource with.
fn tag_spec(rt: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(rt);
    for (k, v) in tags {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.build()
}

crate::tag_api!(Ec2Tags, aws_sdk_ec2::Client,
    untag "ec2:DeleteTags" => |c, id, keys| c.delete_tags().resources(id)
        .set_tags(Some(keys.iter().map(|k| Tag::builder().key(k).build()).collect())),
    tag "ec2:CreateTags" => |c, id, tags| c.create_tags().resources(id)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())));

/// Make the live tags what the spec says, if they changed.
async fn sync_tags(
    ctx: &Ctx,
    prior: &Observed,
    changed: &BTreeSet<String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if !changed.contains("tags") {
        return Ok(());
    }
    let before = tags_of(&prior.props);
    kit::sync_tags(
        &Ec2Tags(&ctx.clients.ec2),
        &prior.physical_id,
        &before,
        after,
    )
    .await
}

fn attrs(physical: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), physical.to_string());
    a
}

/// The route tables a DescribeRouteTables request `req` answers (one page: a read-back by one
/// table id or one subnet's association).
async fn route_tables(
    req: aws_sdk_ec2::operation::describe_route_tables::builders::DescribeRouteTablesFluentBuilder,
) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, AwsError> {
    let out = req
        .send()
        .await
        .map_err(crate::aws::aws("ec2:DescribeRouteTables"))?;
    Ok(out.route_tables.unwrap_or_default())
}

/// Retry a delete while AWS says something still uses the resource (DependencyViolation,
/// `InvalidIPAddress.InUse`) or one of `codes`; a resource already gone is success.
async fn delete_when_free<F, Fut>(codes: &[&str], f: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    gone_ok(kit::retry_while(&[ErrorKind::InUse], codes, DEPENDENCY_RETRY, f).await)
}

/// A kind whose only mutable property is its tags: make them what the spec says.
async fn update_tags(ctx: &Ctx, u: Update<'_>) -> Result<Attrs, AwsError> {
    sync_tags(ctx, u.prior, u.changed, &tags_of(&u.desired.props)).await?;
    Ok(Attrs::new())
}

#[cfg(test)]
mod tests;
