//! Observe: every network resource of the env, in one batch of concurrent, paginated
//! Describe calls filtered by our tags (one per kind; security groups by name, which also
//! finds same-named foreign groups, with the tag index for any of ours named otherwise; the
//! prefix lists the spec's rules name), then the VPC's DNS attributes and the groups' rules.
//! Routes and associations come with their route tables.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Address, DomainType, NatGateway, SecurityGroupRule, Tag};

use super::eip::eip_attrs;
use super::{eip, flow_log, igw, nat, route, route_table, rta, rule, security_group, subnet, vpc};
use super::{
    filter, id, route_name, tag_map, EIP, FLOW_LOG, IGW, NAT, ROUTE, ROUTE_TABLE, RTA, SG,
};
use super::{SUBNET, VPC};
use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId, Value, TAG_ENV, TAG_PROJECT};
use crate::reconcile::kit::tag_index::TagIndex;
use crate::reconcile::kit::{claimed_id, to_props, Claims, Link};
use crate::reconcile::Ctx;

/// `{project}-{env}-*`: the name of every security group rtech makes for the env.
fn group_name_pattern(ctx: &Ctx) -> String {
    format!("{}-{}-*", ctx.project, ctx.env)
}

/// Every rule of the groups `ids`, in one paginated call.
pub(super) async fn all_rules(
    ctx: &Ctx,
    ids: Vec<String>,
) -> Result<Vec<SecurityGroupRule>, AwsError> {
    all_pages!(
        ctx.clients
            .ec2
            .describe_security_group_rules()
            .filters(filter("group-id", ids)),
        "ec2:DescribeSecurityGroupRules"
    )
}

/// Turns tagged live resources into `Observed`, keyed by their `rtech:id` tag. A second live
/// resource claiming the same id (a duplicate) gets its own id and, not being desired, is
/// deleted by the next apply.
struct Collector<'a> {
    ctx: &'a Ctx,
    out: Vec<Observed>,
    claims: Claims,
    /// physical id → resource id, for turning references back into ids.
    by_physical: BTreeMap<String, ResourceId>,
}

impl Collector<'_> {
    /// Our resource of `kind` (its index and its tags), if its tags say it is ours. The
    /// server-side tag filter is not trusted alone: the tags must name this project and env.
    fn add(&mut self, kind: &str, physical: &str, tags: &[Tag]) -> Option<(usize, Tags)> {
        let t = tag_map(tags);
        let rid = claimed_id(&t, &self.ctx.project, &self.ctx.env)?;
        // A resource tagged with another kind's id is never that id's claimant.
        let rid = if rid.kind == kind {
            self.claims.claim(rid, physical)
        } else {
            id(kind, &format!("{}~{physical}", rid.name))
        };
        self.by_physical.insert(physical.to_string(), rid.clone());
        self.out.push(Observed::new(rid, physical));
        Some((self.out.len() - 1, t))
    }
    fn rid(&self, physical: Option<&str>) -> Option<ResourceId> {
        self.by_physical.get(physical?).cloned()
    }
    /// Set resource `i`'s props and what it depends on.
    fn set<P: serde::Serialize>(&mut self, i: usize, props: &P, deps: &[Option<ResourceId>]) {
        let o = &mut self.out[i];
        o.props = to_props(props);
        o.deps.extend(deps.iter().flatten().cloned());
    }
}

type Tags = BTreeMap<String, String>;

fn link(s: Option<&str>) -> Link {
    s.unwrap_or_default().into()
}

/// Our Elastic IPs as our NAT gateways' DescribeNatGateways answer holds them (allocation id
/// and public IP), with the tags the env's tag index lists (AWS lists `ec2:elastic-ip`), when
/// the index lists at least one, every one it lists is held by a live NAT gateway of ours, and
/// it lists every one the spec wants (`wanted`; none in a destroy). An address a NAT gateway
/// holds cannot be released, and an Elastic IP's props are its tags and its domain (`vpc`,
/// the only one a NAT gateway takes): DescribeAddresses would add nothing. None: it decides
/// (an address no NAT gateway holds, a leftover, one the index does not list yet). Pure.
pub fn addresses_from_nats(
    index: &TagIndex,
    (project, env, region): (&str, &str, &str),
    nats: &[NatGateway],
    wanted: &BTreeSet<ResourceId>,
) -> Option<Vec<Address>> {
    let indexed: BTreeMap<&str, &BTreeMap<String, String>> = index
        .resources("ec2", Some(region), "elastic-ip/")
        .filter(|(_, _, tags)| claimed_id(tags, project, env).is_some())
        .map(|(alloc, _, tags)| (alloc, tags))
        .collect();
    let claimed: BTreeSet<ResourceId> = indexed
        .values()
        .filter_map(|t| claimed_id(t, project, env))
        .collect();
    if indexed.is_empty() || !wanted.is_subset(&claimed) {
        return None;
    }
    let held: BTreeMap<&str, Option<&str>> = nats
        .iter()
        .flat_map(|n| n.nat_gateway_addresses())
        .filter_map(|a| Some((a.allocation_id()?, a.public_ip())))
        .collect();
    indexed
        .iter()
        .map(|(alloc, tags)| {
            let public_ip = held.get(alloc)?;
            let tags = tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            Some(
                Address::builder()
                    .allocation_id(*alloc)
                    .set_public_ip(public_ip.map(str::to_string))
                    .domain(DomainType::Vpc)
                    .set_tags(Some(tags))
                    .build(),
            )
        })
        .collect()
}

pub(super) async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let ec2 = &ctx.clients.ec2;
    let f = vec![
        filter(&format!("tag:{TAG_PROJECT}"), [&ctx.project]),
        filter(&format!("tag:{TAG_ENV}"), [&ctx.env]),
    ];
    // One batched, paginated call per kind, all at once.
    let (vpcs, subnets, igws, nats, rts, named_sgs, flow_logs, index, mut prefix_lists) = tokio::try_join!(
        async {
            all_pages!(
                ec2.describe_vpcs().set_filters(Some(f.clone())),
                "ec2:DescribeVpcs"
            )
        },
        async {
            all_pages!(
                ec2.describe_subnets().set_filters(Some(f.clone())),
                "ec2:DescribeSubnets"
            )
        },
        async {
            all_pages!(
                ec2.describe_internet_gateways()
                    .set_filters(Some(f.clone())),
                "ec2:DescribeInternetGateways"
            )
        },
        async {
            let mut fl = f.clone();
            fl.push(filter("state", ["pending", "available"]));
            all_pages!(
                ec2.describe_nat_gateways().set_filter(Some(fl)),
                "ec2:DescribeNatGateways"
            )
        },
        async {
            all_pages!(
                ec2.describe_route_tables().set_filters(Some(f.clone())),
                "ec2:DescribeRouteTables"
            )
        },
        // Groups by name: every group named like the env's (`{project}-{env}-*`: ours, and
        // someone else's under one of our names, a conflict), in one call. Ownership is still
        // decided by tags below.
        async {
            all_pages!(
                ec2.describe_security_groups()
                    .filters(filter("group-name", [group_name_pattern(ctx)])),
                "ec2:DescribeSecurityGroups"
            )
        },
        async {
            all_pages!(
                ec2.describe_flow_logs().set_filter(Some(f.clone())),
                "ec2:DescribeFlowLogs"
            )
        },
        ctx.tag_index(),
        // The prefix lists the spec's rules name, resolved beside the first round (their ids
        // differ per region and account).
        async {
            let names: BTreeSet<String> = desired
                .iter()
                .filter(|r| r.id.kind == super::SG_RULE)
                .filter_map(|r| r.get_str("prefix_list_name").map(str::to_string))
                .collect();
            rule::prefix_lists_named(ctx, names.into_iter().collect()).await
        },
    )?;
    // The Elastic IPs: from our NAT gateways' answers when they hold every one the index lists
    // as ours (addresses_from_nats), else DescribeAddresses.
    let wanted_eips: BTreeSet<ResourceId> = desired
        .iter()
        .filter(|r| r.id.kind == EIP)
        .map(|r| r.id.clone())
        .collect();
    let addrs = match addresses_from_nats(
        index,
        (&ctx.project, &ctx.env, &ctx.region),
        &nats,
        &wanted_eips,
    ) {
        Some(a) => a,
        None => ec2
            .describe_addresses()
            .set_filters(Some(f.clone()))
            .send()
            .await
            .map_err(aws("ec2:DescribeAddresses"))
            .map(|o| o.addresses.unwrap_or_default())?,
    };
    // A group the tag index lists as ours that is named otherwise (not made by rtech under
    // its deterministic name, but tagged as the env's): read by id, so that ownership stays
    // decided by tags (usually no call).
    let named_ids: BTreeSet<&str> = named_sgs.iter().filter_map(|g| g.group_id()).collect();
    let other_ids: Vec<String> = index
        .with_prefix("arn:")
        .filter_map(|(arn, _)| {
            let (_, rest) = arn.split_once(":security-group/")?;
            (arn.split(':').nth(2) == Some("ec2") && !named_ids.contains(rest))
                .then(|| rest.to_string())
        })
        .collect();
    let mut sgs = named_sgs.clone();
    if !other_ids.is_empty() {
        sgs.extend(all_pages!(
            ec2.describe_security_groups().set_filters(Some(
                f.iter()
                    .cloned()
                    .chain([filter("group-id", other_ids)])
                    .collect()
            )),
            "ec2:DescribeSecurityGroups"
        )?);
    }

    let mut c = Collector {
        ctx,
        out: vec![],
        claims: Claims::new(),
        by_physical: BTreeMap::new(),
    };
    // Pass 1: tagged resources, so references between them can be mapped back to ids. The
    // VPCs' props wait for their DNS attributes.
    let mut vpc_idx = vec![];
    for v in &vpcs {
        if let Some((i, tags)) = c.add(VPC, v.vpc_id().unwrap_or_default(), v.tags()) {
            vpc_idx.push((i, tags, v.cidr_block().unwrap_or_default().to_string()));
        }
    }
    for s in &subnets {
        if let Some((i, tags)) = c.add(SUBNET, s.subnet_id().unwrap_or_default(), s.tags()) {
            let props = subnet::SubnetProps {
                tags,
                vpc_id: link(s.vpc_id()),
                cidr_block: s.cidr_block().unwrap_or_default().into(),
                availability_zone: s.availability_zone().unwrap_or_default().into(),
                map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
            };
            c.set(i, &props, &[c.rid(s.vpc_id())]);
        }
    }
    let mut igw_rid = None;
    for g in &igws {
        if let Some((i, tags)) = c.add(IGW, g.internet_gateway_id().unwrap_or_default(), g.tags()) {
            let attached = g.attachments().iter().find(|a| {
                a.state()
                    .is_some_and(|s| matches!(s.as_str(), "available" | "attached" | "attaching"))
            });
            let vpc_id = attached.and_then(|a| a.vpc_id());
            let props = igw::IgwProps {
                tags,
                vpc_id: vpc_id.map(Link::from),
            };
            c.set(i, &props, &[c.rid(vpc_id)]);
            igw_rid.get_or_insert(c.out[i].id.clone());
        }
    }
    for a in &addrs {
        let alloc = a.allocation_id().unwrap_or_default();
        if let Some((i, tags)) = c.add(EIP, alloc, a.tags()) {
            let props = eip::EipProps {
                tags,
                domain: a.domain().map(|d| d.as_str()).unwrap_or("vpc").into(),
            };
            c.set(i, &props, &[igw_rid.clone()]);
            c.out[i].attrs = eip_attrs(alloc, a.public_ip());
        }
    }
    for n in &nats {
        if let Some((i, tags)) = c.add(NAT, n.nat_gateway_id().unwrap_or_default(), n.tags()) {
            let alloc = n
                .nat_gateway_addresses()
                .first()
                .and_then(|a| a.allocation_id());
            let props = nat::NatProps {
                tags,
                subnet_id: link(n.subnet_id()),
                allocation_id: alloc.map(Link::from),
            };
            let deps = [c.rid(n.subnet_id()), c.rid(alloc), igw_rid.clone()];
            c.set(i, &props, &deps);
        }
    }
    let mut rt_idx = vec![];
    for r in &rts {
        if let Some((i, tags)) = c.add(
            ROUTE_TABLE,
            r.route_table_id().unwrap_or_default(),
            r.tags(),
        ) {
            let props = route_table::RouteTableProps {
                tags,
                vpc_id: link(r.vpc_id()),
            };
            c.set(i, &props, &[c.rid(r.vpc_id())]);
            rt_idx.push((i, r));
        }
    }
    let mut sg_ids = vec![];
    for g in &sgs {
        if let Some((i, tags)) = c.add(SG, g.group_id().unwrap_or_default(), g.tags()) {
            let props = security_group::SecurityGroupProps {
                tags,
                group_name: g.group_name().unwrap_or_default().into(),
                description: g.description().unwrap_or_default().into(),
                vpc_id: link(g.vpc_id()),
            };
            c.set(i, &props, &[c.rid(g.vpc_id())]);
            sg_ids.push(g.group_id().unwrap_or_default().to_string());
        }
    }

    for fl in &flow_logs {
        let fid = fl.flow_log_id().unwrap_or_default();
        if let Some((i, _)) = c.add(FLOW_LOG, fid, fl.tags()) {
            let vpc = c.rid(fl.resource_id());
            let o = flow_log::observed(c.out[i].id.clone(), fl, vpc);
            c.out[i] = o;
        }
    }

    // Pass 2: what hangs off them. Routes and associations come with the route tables.
    let mut extra = vec![];
    for (i, r) in &rt_idx {
        let rt_rid = c.out[*i].id.clone();
        let rt_phys = c.out[*i].physical_id.clone();
        for rt in r.routes() {
            let Some(dest) = rt.destination_cidr_block() else {
                continue;
            };
            if rt.gateway_id() == Some("local")
                || rt.origin().is_some_and(|o| o.as_str() != "CreateRoute")
            {
                continue;
            }
            let gw = rt.gateway_id().filter(|g| !g.is_empty());
            let nat = rt.nat_gateway_id().filter(|g| !g.is_empty());
            let props = route::RouteProps {
                route_table_id: rt_phys.as_str().into(),
                destination_cidr_block: dest.into(),
                gateway_id: gw.map(Link::from),
                nat_gateway_id: nat.map(Link::from),
            };
            let mut o = Observed::new(
                id(ROUTE, &route_name(&rt_rid.name, dest)),
                format!("{rt_phys}_{dest}"),
            )
            .dep(&rt_rid);
            o.props = to_props(&props);
            o.deps.extend(c.rid(gw).or_else(|| c.rid(nat)));
            extra.push(o);
        }
        for a in r.associations() {
            if a.main().unwrap_or(false) {
                continue;
            }
            let Some(subnet) = a.subnet_id() else {
                continue;
            };
            let subnet_rid = c.rid(Some(subnet));
            let name = subnet_rid
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_else(|| subnet.to_string());
            let props = rta::RtaProps {
                route_table_id: rt_phys.as_str().into(),
                subnet_id: subnet.into(),
            };
            let mut o = Observed::new(
                id(RTA, &name),
                a.route_table_association_id().unwrap_or_default(),
            )
            .dep(&rt_rid);
            o.props = to_props(&props);
            o.deps.extend(subnet_rid);
            extra.push(o);
        }
    }

    // VPC attributes (no batch API: one VPC, two calls), SG rules in one call, and
    // same-named groups in our VPC that are not ours.
    let our_vpc = vpc_idx
        .first()
        .map(|(i, _, _)| c.out[*i].physical_id.clone());
    let wanted_groups: Vec<(ResourceId, String)> = desired
        .iter()
        .filter(|r| r.id.kind == SG)
        .filter_map(|r| Some((r.id.clone(), r.get_str("group_name")?.to_string())))
        .collect();
    let (dns, rules) = tokio::try_join!(
        futures::future::try_join_all(
            vpc_idx
                .iter()
                .map(|(i, _, _)| vpc::dns_attributes(ctx, &c.out[*i].physical_id))
        ),
        async {
            if sg_ids.is_empty() {
                return Ok(vec![]);
            }
            all_rules(ctx, sg_ids.clone()).await
        },
    )?;
    // Same-named groups in our VPC that are not ours: from the groups read by name.
    let same_named: Vec<_> = named_sgs
        .iter()
        .filter(|g| our_vpc.is_some() && g.vpc_id() == our_vpc.as_deref())
        .collect();
    for ((i, tags, cidr_block), (sup, host)) in vpc_idx.into_iter().zip(dns) {
        let props = vpc::props(tags, cidr_block, (sup, host));
        c.set(i, &props, &[]);
    }
    // The names of the prefix lists our rules refer to (rules name them, never by id).
    let pl_ids: BTreeSet<String> = rules
        .iter()
        .filter_map(|r| r.prefix_list_id().map(str::to_string))
        .collect();
    // Those the spec names came with the first round; any other (a rule added out of band, or
    // destroy's, which has no spec) costs one call.
    let unknown: Vec<String> = pl_ids
        .into_iter()
        .filter(|i| !prefix_lists.contains_key(i))
        .collect();
    prefix_lists.extend(rule::prefix_list_names(ctx, unknown).await?);
    for r in &rules {
        let Some(sg_rid) = c.rid(r.group_id()) else {
            continue;
        };
        let peer_rid = c.rid(r.referenced_group_info().and_then(|g| g.group_id()));
        let (rid, props) = rule::observed(r, &sg_rid, peer_rid.as_ref(), &prefix_lists);
        let mut o = Observed::new(rid, r.security_group_rule_id().unwrap_or_default()).dep(&sg_rid);
        o.props = to_props(&props);
        o.deps.extend(peer_rid);
        extra.push(o);
    }
    for g in &same_named {
        let gid = g.group_id().unwrap_or_default();
        if c.by_physical.contains_key(gid) {
            continue;
        }
        if let Some((rid, _)) = wanted_groups
            .iter()
            .find(|(_, n)| Some(n.as_str()) == g.group_name())
        {
            // Not ours: only what the conflict message needs, never changed or deleted.
            let mut o =
                Observed::new(rid.clone(), gid).prop("group_name", Value::opt_str(g.group_name()));
            o.ownership = Ownership::Foreign;
            extra.push(o);
        }
    }
    let mut out = c.out;
    out.extend(extra);
    Ok(out)
}
