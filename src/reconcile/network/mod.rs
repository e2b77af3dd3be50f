//! Network: VPC, subnets, internet gateway, EIPs and NAT gateways, route tables, routes and
//! associations, security groups and each of their rules as its own resource.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, IpPermission, IpRange, ResourceType,
    SecurityGroupRuleRequest, SecurityGroupRuleUpdate, Tag, TagSpecification, UserIdGroupPair,
};

use crate::aws::waited;
use crate::aws::{all_pages, aws, retry_on, AwsError, Required};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::network::{NatLayout, Network as NetSpec, DOCDB_PORT, REDIS_PORT};
use crate::spec::Spec;

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

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: VPC,
        force_new: &["cidr_block"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: SUBNET,
        force_new: &["vpc_id", "cidr_block", "availability_zone"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: IGW,
        force_new: &[],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: EIP,
        force_new: &["domain"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: NAT,
        force_new: &["subnet_id", "allocation_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: ROUTE_TABLE,
        force_new: &["vpc_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: ROUTE,
        force_new: &["route_table_id", "destination_cidr_block"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: RTA,
        force_new: &["subnet_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: SG,
        force_new: &["group_name", "description", "vpc_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: SG_RULE,
        force_new: &[
            "group_id",
            "direction",
            "protocol",
            "from_port",
            "to_port",
            "cidr_ipv4",
            "referenced_group_id",
        ],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

/// How long to wait for AWS to settle (NAT gateways take minutes on real AWS).
const WAIT: Duration = Duration::from_secs(15 * 60);
/// How long deletes retry DependencyViolation while ENIs and mappings linger.
const DEPENDENCY_RETRY: Duration = Duration::from_secs(10 * 60);

fn id(kind: &str, name: &str) -> ResourceId {
    ResourceId::new(kind, name)
}

fn sanitize(s: &str) -> String {
    s.replace('/', "_")
}

/// A security-group rule's id is its content, so that a rule added out of band has one too:
/// `sg_rule/app-in-tcp-3000-alb`, `sg_rule/alb-out-all-0.0.0.0_0`.
pub fn rule_name(sg: &str, egress: bool, protocol: &str, from: i64, to: i64, peer: &str) -> String {
    let dir = if egress { "out" } else { "in" };
    let (proto, ports) = match protocol {
        "-1" => ("all".to_string(), String::new()),
        p => {
            let ports = if from == to {
                format!("-{from}")
            } else {
                format!("-{from}-{to}")
            };
            (p.to_string(), ports)
        }
    };
    format!("{sg}-{dir}-{proto}{ports}-{}", sanitize(peer))
}

/// A route's id: `route/public-default` for 0.0.0.0/0, else the sanitised CIDR.
pub fn route_name(table: &str, dest: &str) -> String {
    if dest == "0.0.0.0/0" {
        format!("{table}-default")
    } else {
        format!("{table}-{}", sanitize(dest))
    }
}

fn normalise_protocol(p: &str) -> String {
    match p {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "all" => "-1".into(),
        p => p.to_lowercase(),
    }
}

struct RuleSpec<'a> {
    sg: &'a str,
    egress: bool,
    protocol: &'a str,
    from: i64,
    to: i64,
    cidr: Option<String>,
    peer_sg: Option<&'a str>,
    description: String,
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let n: &NetSpec = &spec.network;
    let tags = |rid: &ResourceId, name: &str| {
        Value::string_map(&tags_for(&spec.project, &spec.env, rid, name, &spec.tags))
    };
    let mut out = Vec::new();
    // Routes and associations cannot carry tags; everything else does.
    let mut push = |r: Resource| {
        if matches!(r.id.kind.as_str(), ROUTE | RTA) {
            out.push(r);
        } else {
            let t = tags(&r.id, &r.name);
            out.push(r.prop("tags", t));
        }
    };

    let vpc = id(VPC, "main");
    push(
        Resource::new(vpc.clone(), spec.name("vpc"))
            .prop("cidr_block", Value::str(n.cidr.to_string()))
            .prop("enable_dns_support", Value::Bool(true))
            .prop("enable_dns_hostnames", Value::Bool(true)),
    );
    let igw = id(IGW, "main");
    push(Resource::new(igw.clone(), spec.name("igw")).prop("vpc_id", Value::reference(&vpc, "id")));

    let rt_public = id(ROUTE_TABLE, "public");
    push(
        Resource::new(rt_public.clone(), spec.name("public"))
            .prop("vpc_id", Value::reference(&vpc, "id")),
    );
    push(route(&rt_public, "public", "0.0.0.0/0", &igw, "gateway_id"));

    let nat_azs: Vec<&String> = match n.nat {
        NatLayout::None => vec![],
        NatLayout::Single => n.azs.iter().take(1).collect(),
        NatLayout::OnePerAz => n.azs.iter().collect(),
    };
    for (i, az) in n.azs.iter().enumerate() {
        let s = NetSpec::az_suffix(az);
        let public = id(SUBNET, &format!("public-{s}"));
        let private = id(SUBNET, &format!("private-{s}"));
        push(
            Resource::new(public.clone(), spec.name(&format!("public-{s}")))
                .prop("vpc_id", Value::reference(&vpc, "id"))
                .prop("cidr_block", Value::str(n.public_subnets[i].to_string()))
                .prop("availability_zone", Value::str(az.clone()))
                .prop("map_public_ip_on_launch", Value::Bool(true)),
        );
        push(
            Resource::new(private.clone(), spec.name(&format!("private-{s}")))
                .prop("vpc_id", Value::reference(&vpc, "id"))
                .prop("cidr_block", Value::str(n.private_subnets[i].to_string()))
                .prop("availability_zone", Value::str(az.clone()))
                .prop("map_public_ip_on_launch", Value::Bool(false)),
        );
        push(
            Resource::new(id(RTA, &format!("public-{s}")), String::new())
                .prop("route_table_id", Value::reference(&rt_public, "id"))
                .prop("subnet_id", Value::reference(&public, "id")),
        );
        let rt_private = id(ROUTE_TABLE, &format!("private-{s}"));
        push(
            Resource::new(rt_private.clone(), spec.name(&format!("private-{s}")))
                .prop("vpc_id", Value::reference(&vpc, "id")),
        );
        push(
            Resource::new(id(RTA, &format!("private-{s}")), String::new())
                .prop("route_table_id", Value::reference(&rt_private, "id"))
                .prop("subnet_id", Value::reference(&private, "id")),
        );
        if nat_azs.contains(&az) {
            let eip = id(EIP, &format!("nat-{s}"));
            push(
                Resource::new(eip.clone(), spec.name(&format!("nat-{s}")))
                    .prop("domain", Value::str("vpc"))
                    // Releasing an EIP must come before detaching the IGW (mapped addresses).
                    .dep(&igw),
            );
            push(
                Resource::new(id(NAT, &s), spec.name(&format!("nat-{s}")))
                    .prop("subnet_id", Value::reference(&public, "id"))
                    .prop("allocation_id", Value::reference(&eip, "allocation_id"))
                    .dep(&igw),
            );
        }
        if let Some(first) = nat_azs.first() {
            let nat_az = if nat_azs.contains(&az) { az } else { first };
            let nat = id(NAT, &NetSpec::az_suffix(nat_az));
            push(route(
                &rt_private,
                &format!("private-{s}"),
                "0.0.0.0/0",
                &nat,
                "nat_gateway_id",
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
        push(
            Resource::new(id(SG, role), spec.name(role))
                .prop("group_name", Value::str(spec.name(role)))
                .prop(
                    "description",
                    Value::str(format!("rtech {}: {what}", spec.env)),
                )
                .prop("vpc_id", Value::reference(&vpc, "id")),
        );
    }
    let mut rules: Vec<RuleSpec> = Vec::new();
    for cidr in &n.alb_ingress_cidrs {
        for port in [80, 443] {
            rules.push(RuleSpec {
                sg: "alb",
                egress: false,
                protocol: "tcp",
                from: port,
                to: port,
                cidr: Some(cidr.to_string()),
                peer_sg: None,
                description: format!("{} from {cidr}", if port == 80 { "HTTP" } else { "HTTPS" }),
            });
        }
    }
    for (sg, port, from) in [
        ("app", n.app_port, "alb"),
        ("docdb", DOCDB_PORT, "app"),
        ("redis", REDIS_PORT, "app"),
    ] {
        rules.push(RuleSpec {
            sg,
            egress: false,
            protocol: "tcp",
            from: port as i64,
            to: port as i64,
            cidr: None,
            peer_sg: Some(from),
            description: format!("port {port} from the {from} security group"),
        });
    }
    for (role, _) in groups {
        rules.push(RuleSpec {
            sg: role,
            egress: true,
            protocol: "-1",
            from: -1,
            to: -1,
            cidr: Some("0.0.0.0/0".into()),
            peer_sg: None,
            // AWS gives every new group exactly this rule, without a description: match it.
            description: String::new(),
        });
    }
    for r in rules {
        let sg = id(SG, r.sg);
        let peer = r
            .cidr
            .clone()
            .unwrap_or_else(|| r.peer_sg.unwrap_or_default().to_string());
        let rid = id(
            SG_RULE,
            &rule_name(r.sg, r.egress, r.protocol, r.from, r.to, &peer),
        );
        let mut res = Resource::new(rid, String::new())
            .prop("group_id", Value::reference(&sg, "id"))
            .prop(
                "direction",
                Value::str(if r.egress { "egress" } else { "ingress" }),
            )
            .prop("protocol", Value::str(r.protocol))
            .prop("from_port", Value::Int(r.from))
            .prop("to_port", Value::Int(r.to))
            .prop(
                "description",
                if r.description.is_empty() {
                    Value::Null
                } else {
                    Value::str(r.description)
                },
            );
        res = match (&r.cidr, r.peer_sg) {
            (Some(c), _) => res.prop("cidr_ipv4", Value::str(c.clone())),
            (None, Some(p)) => res.prop("referenced_group_id", Value::reference(&id(SG, p), "id")),
            (None, None) => res,
        };
        out.push(res);
    }
    out
}

fn route(
    rt: &ResourceId,
    table: &str,
    dest: &str,
    target: &ResourceId,
    target_prop: &str,
) -> Resource {
    let other = if target_prop == "gateway_id" {
        "nat_gateway_id"
    } else {
        "gateway_id"
    };
    Resource::new(id(ROUTE, &route_name(table, dest)), String::new())
        .prop("route_table_id", Value::reference(rt, "id"))
        .prop("destination_cidr_block", Value::str(dest))
        .prop(target_prop, Value::reference(target, "id"))
        .prop(other, Value::Null)
}

// ---------------------------------------------------------------------------------------------
// observe

fn tag_filters(ctx: &Ctx) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{TAG_PROJECT}"))
            .values(&ctx.project)
            .build(),
        Filter::builder()
            .name(format!("tag:{TAG_ENV}"))
            .values(&ctx.env)
            .build(),
    ]
}

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(v);
    }
    b.build()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (t.key(), t.value())))
}

fn tag_spec(rt: ResourceType, tags: &Value) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(rt);
    if let Some(m) = tags.as_map() {
        for (k, v) in m {
            b = b.tags(
                Tag::builder()
                    .key(k)
                    .value(v.as_str().unwrap_or_default())
                    .build(),
            );
        }
    }
    b.build()
}

/// Turns tagged live resources into `Observed`, keyed by their `rtech:id` tag. A second live
/// resource claiming the same id (a duplicate) gets its own id and, not being desired, is
/// deleted by the next apply.
struct Collector {
    project: String,
    env: String,
    out: Vec<Observed>,
    seen: BTreeSet<ResourceId>,
    /// physical id → resource id, for turning references back into ids.
    by_physical: BTreeMap<String, ResourceId>,
}

impl Collector {
    fn new(ctx: &Ctx) -> Self {
        Collector {
            project: ctx.project.clone(),
            env: ctx.env.clone(),
            out: vec![],
            seen: BTreeSet::new(),
            by_physical: BTreeMap::new(),
        }
    }

    fn add(&mut self, kind: &str, physical: &str, tags: &[Tag]) -> Option<usize> {
        let t = tag_map(tags);
        // The server-side tag filter is not trusted alone (the emulator ignores it for NAT
        // gateways): a resource is ours only if its tags say this project and env.
        if t.get(TAG_PROJECT) != Some(&self.project) || t.get(TAG_ENV) != Some(&self.env) {
            return None;
        }
        let rid: ResourceId = t.get(TAG_ID)?.parse().ok()?;
        let rid = if rid.kind != kind || self.seen.contains(&rid) {
            ResourceId::new(kind, format!("{}~{physical}", rid.name))
        } else {
            rid
        };
        self.seen.insert(rid.clone());
        self.by_physical.insert(physical.to_string(), rid.clone());
        self.out
            .push(Observed::new(rid, physical).prop("tags", Value::string_map(&t)));
        Some(self.out.len() - 1)
    }
    fn rid(&self, physical: Option<&str>) -> Option<ResourceId> {
        self.by_physical.get(physical?).cloned()
    }
    fn last(&mut self, i: usize) -> &mut Observed {
        &mut self.out[i]
    }
}

fn set(o: &mut Observed, key: &str, v: Value) {
    o.props.insert(key.to_string(), v);
}

fn dep(o: &mut Observed, rid: Option<ResourceId>) {
    if let Some(r) = rid {
        o.deps.insert(r);
    }
}

pub struct Network;

#[async_trait]
impl Reconciler for Network {
    fn service(&self) -> &'static str {
        "network"
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let ec2 = &ctx.clients.ec2;
        let f = tag_filters(ctx);
        // One batched, paginated call per kind, all at once.
        let (vpcs, subnets, igws, addrs, nats, rts, sgs) = tokio::try_join!(
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
                ec2.describe_addresses()
                    .set_filters(Some(f.clone()))
                    .send()
                    .await
                    .map_err(aws("ec2:DescribeAddresses"))
                    .map(|o| o.addresses.unwrap_or_default())
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
            async {
                all_pages!(
                    ec2.describe_security_groups().set_filters(Some(f.clone())),
                    "ec2:DescribeSecurityGroups"
                )
            },
        )?;

        let mut c = Collector::new(ctx);
        // Pass 1: tagged resources, so references between them can be mapped back to ids.
        let mut vpc_idx = vec![];
        for v in &vpcs {
            if let Some(i) = c.add(VPC, v.vpc_id().unwrap_or_default(), v.tags()) {
                set(c.last(i), "cidr_block", Value::opt_str(v.cidr_block()));
                vpc_idx.push(i);
            }
        }
        for s in &subnets {
            if let Some(i) = c.add(SUBNET, s.subnet_id().unwrap_or_default(), s.tags()) {
                let vpc = c.rid(s.vpc_id());
                let o = c.last(i);
                set(o, "vpc_id", Value::opt_str(s.vpc_id()));
                set(o, "cidr_block", Value::opt_str(s.cidr_block()));
                set(
                    o,
                    "availability_zone",
                    Value::opt_str(s.availability_zone()),
                );
                set(
                    o,
                    "map_public_ip_on_launch",
                    Value::Bool(s.map_public_ip_on_launch().unwrap_or(false)),
                );
                dep(o, vpc);
            }
        }
        let mut igw_rid = None;
        for g in &igws {
            if let Some(i) = c.add(IGW, g.internet_gateway_id().unwrap_or_default(), g.tags()) {
                let attached = g.attachments().iter().find(|a| {
                    a.state().is_some_and(|s| {
                        matches!(s.as_str(), "available" | "attached" | "attaching")
                    })
                });
                let vpc_id = attached.and_then(|a| a.vpc_id());
                let vpc = c.rid(vpc_id);
                let o = c.last(i);
                set(o, "vpc_id", Value::opt_str(vpc_id));
                dep(o, vpc);
                igw_rid.get_or_insert(o.id.clone());
            }
        }
        for a in &addrs {
            if let Some(i) = c.add(EIP, a.allocation_id().unwrap_or_default(), a.tags()) {
                let o = c.last(i);
                set(
                    o,
                    "domain",
                    Value::str(a.domain().map(|d| d.as_str()).unwrap_or("vpc")),
                );
                o.attrs.insert(
                    "allocation_id".into(),
                    a.allocation_id().unwrap_or_default().into(),
                );
                if let Some(ip) = a.public_ip() {
                    o.attrs.insert("public_ip".into(), ip.into());
                }
                dep(o, igw_rid.clone());
            }
        }
        for n in &nats {
            if let Some(i) = c.add(NAT, n.nat_gateway_id().unwrap_or_default(), n.tags()) {
                let alloc = n
                    .nat_gateway_addresses()
                    .first()
                    .and_then(|a| a.allocation_id())
                    .map(str::to_string);
                let subnet = c.rid(n.subnet_id());
                let eip = c.rid(alloc.as_deref());
                let o = c.last(i);
                set(o, "subnet_id", Value::opt_str(n.subnet_id()));
                set(o, "allocation_id", Value::opt_str(alloc.as_deref()));
                dep(o, subnet);
                dep(o, eip);
                dep(o, igw_rid.clone());
            }
        }
        let mut rt_idx = vec![];
        for r in &rts {
            if let Some(i) = c.add(
                ROUTE_TABLE,
                r.route_table_id().unwrap_or_default(),
                r.tags(),
            ) {
                let vpc = c.rid(r.vpc_id());
                let o = c.last(i);
                set(o, "vpc_id", Value::opt_str(r.vpc_id()));
                dep(o, vpc);
                rt_idx.push((i, r));
            }
        }
        let mut sg_ids = vec![];
        for g in &sgs {
            if let Some(i) = c.add(SG, g.group_id().unwrap_or_default(), g.tags()) {
                let vpc = c.rid(g.vpc_id());
                let o = c.last(i);
                set(o, "group_name", Value::opt_str(g.group_name()));
                set(o, "description", Value::opt_str(g.description()));
                set(o, "vpc_id", Value::opt_str(g.vpc_id()));
                dep(o, vpc);
                sg_ids.push(g.group_id().unwrap_or_default().to_string());
            }
        }

        // Pass 2: what hangs off them. Routes and associations come with the route tables.
        let mut extra = vec![];
        for (i, r) in &rt_idx {
            let rt_rid = c.out[*i].id.clone();
            let rt_phys = c.out[*i].physical_id.clone();
            for route in r.routes() {
                let Some(dest) = route.destination_cidr_block() else {
                    continue;
                };
                if route.gateway_id() == Some("local")
                    || route.origin().is_some_and(|o| o.as_str() != "CreateRoute")
                {
                    continue;
                }
                let gw = route.gateway_id().filter(|g| !g.is_empty());
                let nat = route.nat_gateway_id().filter(|g| !g.is_empty());
                let mut o = Observed::new(
                    id(ROUTE, &route_name(&rt_rid.name, dest)),
                    format!("{rt_phys}_{dest}"),
                )
                .prop("route_table_id", Value::str(&rt_phys))
                .prop("destination_cidr_block", Value::str(dest))
                .prop("gateway_id", Value::opt_str(gw))
                .prop("nat_gateway_id", Value::opt_str(nat))
                .dep(&rt_rid);
                dep(&mut o, c.rid(gw).or_else(|| c.rid(nat)));
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
                let mut o = Observed::new(
                    id(RTA, &name),
                    a.route_table_association_id().unwrap_or_default(),
                )
                .prop("route_table_id", Value::str(&rt_phys))
                .prop("subnet_id", Value::str(subnet))
                .dep(&rt_rid);
                dep(&mut o, subnet_rid);
                extra.push(o);
            }
        }

        // VPC attributes (no batch API: one VPC, two calls), SG rules in one call, and
        // same-named groups in our VPC that are not ours.
        let our_vpc = vpc_idx.first().map(|i| c.out[*i].physical_id.clone());
        let wanted_groups: Vec<(ResourceId, String)> = desired
            .iter()
            .filter(|r| r.id.kind == SG)
            .filter_map(|r| Some((r.id.clone(), r.get_str("group_name")?.to_string())))
            .collect();
        let (attrs, rules, same_named) = tokio::try_join!(
            async {
                let mut out = vec![];
                for i in &vpc_idx {
                    let vid = c.out[*i].physical_id.clone();
                    let (sup, host) = tokio::try_join!(
                        async {
                            ec2.describe_vpc_attribute()
                                .vpc_id(&vid)
                                .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport)
                                .send()
                                .await
                                .map_err(aws("ec2:DescribeVpcAttribute"))
                        },
                        async {
                            ec2.describe_vpc_attribute()
                                .vpc_id(&vid)
                                .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
                                .send()
                                .await
                                .map_err(aws("ec2:DescribeVpcAttribute"))
                        },
                    )?;
                    let b = |v: Option<&AttributeBooleanValue>| {
                        Value::Bool(v.and_then(|v| v.value()).unwrap_or(false))
                    };
                    out.push((
                        *i,
                        b(sup.enable_dns_support()),
                        b(host.enable_dns_hostnames()),
                    ));
                }
                Ok::<_, AwsError>(out)
            },
            async {
                if sg_ids.is_empty() {
                    return Ok(vec![]);
                }
                all_pages!(
                    ec2.describe_security_group_rules()
                        .filters(filter("group-id", sg_ids.clone())),
                    "ec2:DescribeSecurityGroupRules"
                )
            },
            async {
                let Some(v) = &our_vpc else { return Ok(vec![]) };
                if wanted_groups.is_empty() {
                    return Ok(vec![]);
                }
                let req = ec2
                    .describe_security_groups()
                    .filters(filter("vpc-id", [v.clone()]))
                    .filters(filter(
                        "group-name",
                        wanted_groups.iter().map(|(_, n)| n.clone()),
                    ));
                all_pages!(req, "ec2:DescribeSecurityGroups")
            },
        )?;
        for (i, sup, host) in attrs {
            set(&mut c.out[i], "enable_dns_support", sup);
            set(&mut c.out[i], "enable_dns_hostnames", host);
        }
        for r in &rules {
            let Some(sg_rid) = c.rid(r.group_id()) else {
                continue;
            };
            let egress = r.is_egress().unwrap_or(false);
            let proto = normalise_protocol(r.ip_protocol().unwrap_or("-1"));
            let (from, to) = if proto == "-1" {
                (-1, -1)
            } else {
                (
                    r.from_port().unwrap_or(-1) as i64,
                    r.to_port().unwrap_or(-1) as i64,
                )
            };
            let peer_group = r.referenced_group_info().and_then(|g| g.group_id());
            let peer_rid = c.rid(peer_group);
            let peer = match (
                r.cidr_ipv4(),
                r.cidr_ipv6(),
                r.prefix_list_id(),
                &peer_rid,
                peer_group,
            ) {
                (Some(c4), _, _, _, _) => c4.to_string(),
                (_, Some(c6), _, _, _) => c6.to_string(),
                (_, _, Some(pl), _, _) => pl.to_string(),
                (_, _, _, Some(p), _) => p.name.clone(),
                (_, _, _, _, Some(g)) => g.to_string(),
                _ => "unknown".into(),
            };
            let rid = id(
                SG_RULE,
                &rule_name(&sg_rid.name, egress, &proto, from, to, &peer),
            );
            let mut o = Observed::new(rid, r.security_group_rule_id().unwrap_or_default())
                .prop("group_id", Value::opt_str(r.group_id()))
                .prop(
                    "direction",
                    Value::str(if egress { "egress" } else { "ingress" }),
                )
                .prop("protocol", Value::str(&proto))
                .prop("from_port", Value::Int(from))
                .prop("to_port", Value::Int(to))
                .prop(
                    "description",
                    Value::opt_str(r.description().filter(|d| !d.is_empty())),
                )
                .prop("cidr_ipv4", Value::opt_str(r.cidr_ipv4()))
                .prop("referenced_group_id", Value::opt_str(peer_group))
                .dep(&sg_rid);
            if let Some(ip6) = r.cidr_ipv6() {
                o = o.prop("cidr_ipv6", Value::str(ip6));
            }
            dep(&mut o, peer_rid);
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
                let mut o = Observed::new(rid.clone(), gid)
                    .prop("group_name", Value::opt_str(g.group_name()));
                o.ownership = Ownership::Foreign;
                extra.push(o);
            }
        }
        let mut out = c.out;
        out.extend(extra);
        Ok(out)
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed)
                .await
                .map(|_| prior.attrs.clone()),
            Op::Delete(o) => delete(ctx, o, task).await.map(|_| Attrs::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// apply

fn s<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.get_str(key).unwrap_or_default()
}

fn attrs(physical: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), physical.to_string());
    a
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let ec2 = &ctx.clients.ec2;
    let tags = r.props.get("tags").cloned().unwrap_or(Value::Null);
    match r.id.kind.as_str() {
        VPC => {
            let out = ec2
                .create_vpc()
                .cidr_block(s(r, "cidr_block"))
                .tag_specifications(tag_spec(ResourceType::Vpc, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateVpc"))?;
            let vid = out
                .vpc()
                .and_then(|v| v.vpc_id())
                .required("ec2:CreateVpc", "no VPC id returned")?
                .to_string();
            task.status(&format!("waiting for {vid} to become available"));
            ec2.wait_until_vpc_available()
                .vpc_ids(&vid)
                .wait(WAIT)
                .await
                .map_err(waited("ec2:DescribeVpcs", &vid))?;
            set_vpc_dns(
                ctx,
                &vid,
                r,
                &["enable_dns_support", "enable_dns_hostnames"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
            .await?;
            Ok(attrs(&vid))
        }
        SUBNET => {
            let out = ec2
                .create_subnet()
                .vpc_id(s(r, "vpc_id"))
                .cidr_block(s(r, "cidr_block"))
                .availability_zone(s(r, "availability_zone"))
                .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateSubnet"))?;
            let sid = out
                .subnet()
                .and_then(|v| v.subnet_id())
                .required("ec2:CreateSubnet", "no subnet id returned")?
                .to_string();
            ec2.wait_until_subnet_available()
                .subnet_ids(&sid)
                .wait(WAIT)
                .await
                .map_err(waited("ec2:DescribeSubnets", &sid))?;
            if r.props.get("map_public_ip_on_launch") == Some(&Value::Bool(true)) {
                set_map_public_ip(ctx, &sid, true).await?;
            }
            Ok(attrs(&sid))
        }
        IGW => {
            let out = ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateInternetGateway"))?;
            let gid = out
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .required(
                    "ec2:CreateInternetGateway",
                    "no internet gateway id returned",
                )?
                .to_string();
            ec2.attach_internet_gateway()
                .internet_gateway_id(&gid)
                .vpc_id(s(r, "vpc_id"))
                .send()
                .await
                .map_err(aws("ec2:AttachInternetGateway"))?;
            Ok(attrs(&gid))
        }
        EIP => {
            let out = ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(ResourceType::ElasticIp, &tags))
                .send()
                .await
                .map_err(aws("ec2:AllocateAddress"))?;
            let alloc = out
                .allocation_id()
                .required("ec2:AllocateAddress", "no allocation id returned")?
                .to_string();
            let mut a = attrs(&alloc);
            a.insert("allocation_id".into(), alloc.clone());
            if let Some(ip) = out.public_ip() {
                a.insert("public_ip".into(), ip.into());
            }
            Ok(a)
        }
        NAT => {
            let out = ec2
                .create_nat_gateway()
                .subnet_id(s(r, "subnet_id"))
                .allocation_id(s(r, "allocation_id"))
                .tag_specifications(tag_spec(ResourceType::Natgateway, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateNatGateway"))?;
            let nid = out
                .nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .required("ec2:CreateNatGateway", "no NAT gateway id returned")?
                .to_string();
            task.status(&format!(
                "waiting for NAT gateway {nid} to become available (minutes on AWS)"
            ));
            ec2.wait_until_nat_gateway_available()
                .nat_gateway_ids(&nid)
                .wait(WAIT)
                .await
                .map_err(waited("ec2:DescribeNatGateways", &nid))?;
            Ok(attrs(&nid))
        }
        ROUTE_TABLE => {
            let out = ec2
                .create_route_table()
                .vpc_id(s(r, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::RouteTable, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateRouteTable"))?;
            let rid = out
                .route_table()
                .and_then(|t| t.route_table_id())
                .required("ec2:CreateRouteTable", "no route table id returned")?
                .to_string();
            Ok(attrs(&rid))
        }
        ROUTE => {
            let rt = s(r, "route_table_id");
            let dest = s(r, "destination_cidr_block");
            let mut req = ec2
                .create_route()
                .route_table_id(rt)
                .destination_cidr_block(dest);
            if let Some(g) = r.get_str("gateway_id") {
                req = req.gateway_id(g);
            }
            if let Some(n) = r.get_str("nat_gateway_id") {
                req = req.nat_gateway_id(n);
            }
            req.send().await.map_err(aws("ec2:CreateRoute"))?;
            Ok(attrs(&format!("{rt}_{dest}")))
        }
        RTA => {
            let out = ec2
                .associate_route_table()
                .route_table_id(s(r, "route_table_id"))
                .subnet_id(s(r, "subnet_id"))
                .send()
                .await
                .map_err(aws("ec2:AssociateRouteTable"))?;
            Ok(attrs(out.association_id().required(
                "ec2:AssociateRouteTable",
                "no association id returned",
            )?))
        }
        SG => {
            let out = ec2
                .create_security_group()
                .group_name(s(r, "group_name"))
                .description(s(r, "description"))
                .vpc_id(s(r, "vpc_id"))
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &tags))
                .send()
                .await
                .map_err(aws("ec2:CreateSecurityGroup"))?;
            let gid = out
                .group_id()
                .required("ec2:CreateSecurityGroup", "no group id returned")?
                .to_string();
            ec2.wait_until_security_group_exists()
                .group_ids(&gid)
                .wait(WAIT)
                .await
                .map_err(waited("ec2:DescribeSecurityGroups", &gid))?;
            Ok(attrs(&gid))
        }
        SG_RULE => create_rule(ctx, r).await,
        k => Err(AwsError::new("rtech", "UnknownKind", k.to_string())),
    }
}

fn permission(r: &Resource) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(s(r, "protocol"));
    if s(r, "protocol") != "-1" {
        p = p
            .from_port(
                r.props
                    .get("from_port")
                    .and_then(Value::as_int)
                    .unwrap_or(-1) as i32,
            )
            .to_port(r.props.get("to_port").and_then(Value::as_int).unwrap_or(-1) as i32);
    }
    let desc = r.get_str("description");
    if let Some(c) = r.get_str("cidr_ipv4") {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(desc.map(String::from))
                .build(),
        );
    }
    if let Some(g) = r.get_str("referenced_group_id") {
        p = p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(desc.map(String::from))
                .build(),
        );
    }
    p.build()
}

/// Authorise one rule. A rule that already exists (the default egress rule of a new group, or
/// one an interrupted apply created) is found and adopted rather than failing.
async fn create_rule(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let ec2 = &ctx.clients.ec2;
    let gid = s(r, "group_id");
    let egress = s(r, "direction") == "egress";
    let res = if egress {
        ec2.authorize_security_group_egress()
            .group_id(gid)
            .ip_permissions(permission(r))
            .send()
            .await
            .map_err(aws("ec2:AuthorizeSecurityGroupEgress"))
            .map(|o| o.security_group_rules.unwrap_or_default())
    } else {
        ec2.authorize_security_group_ingress()
            .group_id(gid)
            .ip_permissions(permission(r))
            .send()
            .await
            .map_err(aws("ec2:AuthorizeSecurityGroupIngress"))
            .map(|o| o.security_group_rules.unwrap_or_default())
    };
    let rule_id = match res {
        Ok(rules) => rules
            .first()
            .and_then(|x| x.security_group_rule_id())
            .map(str::to_string),
        Err(e) if e.is("InvalidPermission.Duplicate") => None,
        Err(e) => return Err(e),
    };
    let rule_id = match rule_id {
        Some(id) => id,
        None => find_rule(ctx, r).await?,
    };
    // Descriptions on an adopted rule may differ: make them what the spec says.
    let existing = find_rule_description(ctx, &rule_id).await?;
    if existing.as_deref() != r.get_str("description") {
        modify_rule(ctx, gid, &rule_id, r).await?;
    }
    Ok(attrs(&rule_id))
}

async fn group_rules(
    ctx: &Ctx,
    gid: &str,
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroupRule>, AwsError> {
    let ec2 = &ctx.clients.ec2;
    all_pages!(
        ec2.describe_security_group_rules()
            .filters(filter("group-id", [gid])),
        "ec2:DescribeSecurityGroupRules"
    )
}

async fn find_rule(ctx: &Ctx, r: &Resource) -> Result<String, AwsError> {
    let gid = s(r, "group_id");
    let egress = s(r, "direction") == "egress";
    let proto = s(r, "protocol");
    let rules = group_rules(ctx, gid).await?;
    rules
        .iter()
        .find(|x| {
            x.is_egress() == Some(egress)
                && normalise_protocol(x.ip_protocol().unwrap_or("-1")) == proto
                && (proto == "-1"
                    || (Some(x.from_port().unwrap_or(-1) as i64)
                        == r.props.get("from_port").and_then(Value::as_int)
                        && Some(x.to_port().unwrap_or(-1) as i64)
                            == r.props.get("to_port").and_then(Value::as_int)))
                && x.cidr_ipv4() == r.get_str("cidr_ipv4")
                && x.referenced_group_info().and_then(|g| g.group_id())
                    == r.get_str("referenced_group_id")
        })
        .and_then(|x| x.security_group_rule_id().map(str::to_string))
        .ok_or_else(|| {
            AwsError::new(
                "ec2:DescribeSecurityGroupRules",
                "RuleNotFound",
                format!(
                    "{}: AWS reports the rule as a duplicate but it is not in {gid}",
                    r.id
                ),
            )
        })
}

async fn find_rule_description(ctx: &Ctx, rule_id: &str) -> Result<Option<String>, AwsError> {
    let out = ctx
        .clients
        .ec2
        .describe_security_group_rules()
        .security_group_rule_ids(rule_id)
        .send()
        .await
        .map_err(aws("ec2:DescribeSecurityGroupRules"))?;
    Ok(out
        .security_group_rules()
        .first()
        .and_then(|x| x.description())
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

async fn modify_rule(ctx: &Ctx, gid: &str, rule_id: &str, r: &Resource) -> Result<(), AwsError> {
    // Ports are -1 for protocol -1; AWS accepts them and the emulator requires them.
    let mut u = SecurityGroupRuleRequest::builder()
        .ip_protocol(s(r, "protocol"))
        .from_port(
            r.props
                .get("from_port")
                .and_then(Value::as_int)
                .unwrap_or(-1) as i32,
        )
        .to_port(r.props.get("to_port").and_then(Value::as_int).unwrap_or(-1) as i32);
    if let Some(c) = r.get_str("cidr_ipv4") {
        u = u.cidr_ipv4(c);
    }
    if let Some(g) = r.get_str("referenced_group_id") {
        u = u.referenced_group_id(g);
    }
    u = u.set_description(r.get_str("description").map(String::from));
    ctx.clients
        .ec2
        .modify_security_group_rules()
        .group_id(gid)
        .security_group_rules(
            SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(rule_id)
                .security_group_rule(u.build())
                .build(),
        )
        .send()
        .await
        .map_err(aws("ec2:ModifySecurityGroupRules"))?;
    Ok(())
}

async fn set_vpc_dns(
    ctx: &Ctx,
    vid: &str,
    r: &Resource,
    changed: &BTreeSet<String>,
) -> Result<(), AwsError> {
    // ModifyVpcAttribute takes one attribute per call.
    for key in ["enable_dns_support", "enable_dns_hostnames"] {
        if !changed.contains(key) {
            continue;
        }
        let on = AttributeBooleanValue::builder()
            .value(r.props.get(key).and_then(Value::as_bool).unwrap_or(false))
            .build();
        let req = ctx.clients.ec2.modify_vpc_attribute().vpc_id(vid);
        let req = if key == "enable_dns_support" {
            req.enable_dns_support(on)
        } else {
            req.enable_dns_hostnames(on)
        };
        req.send().await.map_err(aws("ec2:ModifyVpcAttribute"))?;
    }
    Ok(())
}

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

/// Make the live tags what the spec says: delete the keys it does not have, set the rest.
async fn sync_tags(
    ctx: &Ctx,
    physical: &str,
    prior: &Observed,
    desired: &Resource,
) -> Result<(), AwsError> {
    let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
    let ec2 = &ctx.clients.ec2;
    if !d.removed.is_empty() {
        let removed = d
            .removed
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        ec2.delete_tags()
            .resources(physical)
            .set_tags(Some(removed))
            .send()
            .await
            .map_err(aws("ec2:DeleteTags"))?;
    }
    if !d.set.is_empty() {
        let set = d
            .set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ec2.create_tags()
            .resources(physical)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(aws("ec2:CreateTags"))?;
    }
    Ok(())
}

async fn update(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    let phys = prior.physical_id.as_str();
    if changed.contains("tags") {
        sync_tags(ctx, phys, prior, r).await?;
    }
    match r.id.kind.as_str() {
        VPC => set_vpc_dns(ctx, phys, r, changed).await?,
        SUBNET if changed.contains("map_public_ip_on_launch") => {
            set_map_public_ip(
                ctx,
                phys,
                r.props.get("map_public_ip_on_launch") == Some(&Value::Bool(true)),
            )
            .await?
        }
        IGW if changed.contains("vpc_id") => {
            if let Some(old) = prior.get_str("vpc_id") {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(phys)
                    .vpc_id(old)
                    .send()
                    .await
                    .map_err(aws("ec2:DetachInternetGateway"))?;
            }
            ec2.attach_internet_gateway()
                .internet_gateway_id(phys)
                .vpc_id(s(r, "vpc_id"))
                .send()
                .await
                .map_err(aws("ec2:AttachInternetGateway"))?;
        }
        ROUTE if changed.contains("gateway_id") || changed.contains("nat_gateway_id") => {
            let mut req = ec2
                .replace_route()
                .route_table_id(s(r, "route_table_id"))
                .destination_cidr_block(s(r, "destination_cidr_block"));
            if let Some(g) = r.get_str("gateway_id") {
                req = req.gateway_id(g);
            }
            if let Some(n) = r.get_str("nat_gateway_id") {
                req = req.nat_gateway_id(n);
            }
            req.send().await.map_err(aws("ec2:ReplaceRoute"))?;
        }
        RTA if changed.contains("route_table_id") => {
            ec2.replace_route_table_association()
                .association_id(phys)
                .route_table_id(s(r, "route_table_id"))
                .send()
                .await
                .map_err(aws("ec2:ReplaceRouteTableAssociation"))?;
        }
        SG_RULE if changed.contains("description") => {
            modify_rule(ctx, s(r, "group_id"), phys, r).await?
        }
        _ => {}
    }
    Ok(())
}

/// Deleting something already gone is success.
fn gone_ok(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Errors that mean "something still uses it": retried with backoff until the deadline.
const DEP: &[&str] = &["DependencyViolation", "InvalidIPAddress.InUse"];
/// ReleaseAddress answers AuthFailure while a deleted NAT gateway still holds the address;
/// only there is AuthFailure retried (a real permission error elsewhere surfaces at once).
const EIP_BUSY: &[&str] = &[
    "DependencyViolation",
    "InvalidIPAddress.InUse",
    "AuthFailure",
];

async fn delete(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    let phys = o.physical_id.as_str();
    let r = match o.id.kind.as_str() {
        VPC => {
            retry_on(DEP, DEPENDENCY_RETRY, || async {
                ec2.delete_vpc()
                    .vpc_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:DeleteVpc"))
            })
            .await
        }
        SUBNET => {
            retry_on(DEP, DEPENDENCY_RETRY, || async {
                ec2.delete_subnet()
                    .subnet_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:DeleteSubnet"))
            })
            .await
        }
        IGW => {
            if let Some(vpc) = o.get_str("vpc_id") {
                gone_ok(
                    retry_on(DEP, DEPENDENCY_RETRY, || async {
                        ec2.detach_internet_gateway()
                            .internet_gateway_id(phys)
                            .vpc_id(vpc)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(aws("ec2:DetachInternetGateway"))
                    })
                    .await,
                )
                .or_else(|e| {
                    if e.is("Gateway.NotAttached") {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })?;
            }
            ec2.delete_internet_gateway()
                .internet_gateway_id(phys)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:DeleteInternetGateway"))
        }
        EIP => {
            retry_on(EIP_BUSY, DEPENDENCY_RETRY, || async {
                ec2.release_address()
                    .allocation_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:ReleaseAddress"))
            })
            .await
        }
        NAT => {
            gone_ok(
                ec2.delete_nat_gateway()
                    .nat_gateway_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:DeleteNatGateway")),
            )?;
            task.status(&format!(
                "waiting for NAT gateway {phys} to be deleted (minutes on AWS)"
            ));
            ec2.wait_until_nat_gateway_deleted()
                .nat_gateway_ids(phys)
                .wait(WAIT)
                .await
                .map(|_| ())
                .map_err(waited("ec2:DescribeNatGateways", phys))
        }
        ROUTE_TABLE => {
            retry_on(DEP, DEPENDENCY_RETRY, || async {
                ec2.delete_route_table()
                    .route_table_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:DeleteRouteTable"))
            })
            .await
        }
        ROUTE => ec2
            .delete_route()
            .route_table_id(o.get_str("route_table_id").unwrap_or_default())
            .destination_cidr_block(o.get_str("destination_cidr_block").unwrap_or_default())
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ec2:DeleteRoute")),
        RTA => ec2
            .disassociate_route_table()
            .association_id(phys)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ec2:DisassociateRouteTable")),
        SG => {
            retry_on(DEP, DEPENDENCY_RETRY, || async {
                ec2.delete_security_group()
                    .group_id(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:DeleteSecurityGroup"))
            })
            .await
        }
        SG_RULE => {
            let gid = o.get_str("group_id").unwrap_or_default();
            if o.get_str("direction") == Some("egress") {
                ec2.revoke_security_group_egress()
                    .group_id(gid)
                    .security_group_rule_ids(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:RevokeSecurityGroupEgress"))
            } else {
                ec2.revoke_security_group_ingress()
                    .group_id(gid)
                    .security_group_rule_ids(phys)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ec2:RevokeSecurityGroupIngress"))
            }
        }
        k => Err(AwsError::new("rtech", "UnknownKind", k.to_string())),
    };
    gone_ok(r)
}

#[cfg(test)]
mod tests;
