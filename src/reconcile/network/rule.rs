//! `sg_rule/<group>-<in|out>-<protocol>[-<ports>]-<peer>`: one rule of a security group,
//! named by its content so that a rule added out of band has an id too.

use async_trait::async_trait;
use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    IpPermission, IpRange, PrefixListId, SecurityGroupRule, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate, UserIdGroupPair,
};
use serde::{Deserialize, Serialize};

use super::{all_rules, attrs, desired as resource, filter, id, sanitize};
use super::{SG, SG_RULE};
use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    SG_RULE,
    &[
        "group_id",
        "direction",
        "protocol",
        "from_port",
        "to_port",
        "cidr_ipv4",
        "referenced_group_id",
        "prefix_list_name",
    ],
);

/// The peer is a CIDR, another group or a managed prefix list by name (an IPv6 CIDR only on a
/// rule added out of band). Ports are -1 for protocol -1.
///
/// A prefix list is named, never given by id (`pl-…` differs per region and account): create
/// resolves the name with DescribeManagedPrefixLists (filter `prefix-list-name`), observe turns
/// the live rule's id back into its name, and `prefix_list_id` is observed only (shown, never
/// compared).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProps {
    pub group_id: Link,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_group_id: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    /// `com.amazonaws.global.cloudfront.origin-facing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_name: Option<String>,
    /// Observed only: the id the name resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
}

impl RuleProps {
    fn egress(&self) -> bool {
        self.direction == "egress"
    }
    fn peer_group(&self) -> Result<Option<&str>, AwsError> {
        Ok(self
            .referenced_group_id
            .as_ref()
            .map(|g| g.require("referenced_group_id"))
            .transpose()?)
    }
}

pub struct Rule;

/// A rule's id is its content: `sg_rule/app-in-tcp-3000-alb`, `sg_rule/alb-out-all-0.0.0.0_0`.
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

/// AWS's protocol numbers and spellings as the spec writes them.
pub fn normalise_protocol(p: &str) -> String {
    match p {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "all" => "-1".into(),
        p => p.to_lowercase(),
    }
}

/// A rule as the spec lays it out: on group `sg` (a tier), to a CIDR or another tier's group.
pub struct RuleSpec<'a> {
    pub sg: &'a str,
    pub egress: bool,
    pub protocol: &'a str,
    pub from: i64,
    pub to: i64,
    pub cidr: Option<String>,
    pub peer_sg: Option<&'a str>,
    /// A managed prefix list, by name.
    pub prefix_list: Option<&'a str>,
    pub description: String,
}

pub fn desired(r: RuleSpec<'_>) -> Resource {
    let peer = r
        .cidr
        .clone()
        .or_else(|| r.prefix_list.map(prefix_list_peer))
        .unwrap_or_else(|| r.peer_sg.unwrap_or_default().to_string());
    let rid = id(
        SG_RULE,
        &rule_name(r.sg, r.egress, r.protocol, r.from, r.to, &peer),
    );
    let props = RuleProps {
        group_id: Link::to(&id(SG, r.sg), "id"),
        direction: if r.egress { "egress" } else { "ingress" }.into(),
        protocol: r.protocol.into(),
        from_port: r.from,
        to_port: r.to,
        description: Some(r.description).filter(|d| !d.is_empty()),
        cidr_ipv4: r.cidr.clone(),
        referenced_group_id: match (&r.cidr, r.peer_sg) {
            (None, Some(p)) => Some(Link::to(&id(SG, p), "id")),
            _ => None,
        },
        cidr_ipv6: None,
        prefix_list_name: r.prefix_list.map(str::to_string),
        prefix_list_id: None,
    };
    resource(rid, "", &props)
}

/// How a prefix list names the peer in a rule's id: its last dotted part
/// (`com.amazonaws.global.cloudfront.origin-facing` → `pl-origin-facing`).
pub fn prefix_list_peer(name: &str) -> String {
    format!("pl-{}", name.rsplit('.').next().unwrap_or(name))
}

/// The names of the managed prefix lists `ids` (one call; none without ids).
pub async fn prefix_list_names(
    ctx: &Ctx,
    ids: Vec<String>,
) -> Result<BTreeMap<String, String>, AwsError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    prefix_lists(ctx, |r| r.set_prefix_list_ids(Some(ids))).await
}

/// id → name of the managed prefix lists the request `by` selects (every page).
async fn prefix_lists(
    ctx: &Ctx,
    by: impl FnOnce(DescribePrefixLists) -> DescribePrefixLists,
) -> Result<BTreeMap<String, String>, AwsError> {
    let lists = all_pages!(
        by(ctx.clients.ec2.describe_managed_prefix_lists()),
        "ec2:DescribeManagedPrefixLists"
    )?;
    Ok(lists
        .iter()
        .filter_map(|l| Some((l.prefix_list_id()?.into(), l.prefix_list_name()?.into())))
        .collect())
}

type DescribePrefixLists = aws_sdk_ec2::operation::describe_managed_prefix_lists::builders::DescribeManagedPrefixListsFluentBuilder;

/// id → name of the managed prefix lists named `names` in the env's region (one call; none
/// without names).
pub async fn prefix_lists_named(
    ctx: &Ctx,
    names: Vec<String>,
) -> Result<BTreeMap<String, String>, AwsError> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    prefix_lists(ctx, |r| r.filters(filter("prefix-list-name", names))).await
}

/// The id of the managed prefix list named `name` in the env's region, for rule `r`.
async fn prefix_list_id(ctx: &Ctx, r: &Resource, name: &str) -> Result<String, AwsError> {
    prefix_lists_named(ctx, vec![name.to_string()])
        .await?
        .into_keys()
        .next()
        .ok_or_else(|| {
            AwsError::new(
                "ec2:DescribeManagedPrefixLists",
                "InvalidPrefixListName.NotFound",
                format!(
                    "{}: no managed prefix list named {name} in this region",
                    r.id
                ),
            )
        })
}

/// A live rule of group `sg` (its resource id), with the resource id of the group it refers
/// to when that is ours and the names of the prefix lists it may refer to: its id and its
/// props.
pub fn observed(
    r: &SecurityGroupRule,
    sg: &ResourceId,
    peer_rid: Option<&ResourceId>,
    prefix_lists: &BTreeMap<String, String>,
) -> (ResourceId, RuleProps) {
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
    let peer = match (
        r.cidr_ipv4(),
        r.cidr_ipv6(),
        r.prefix_list_id(),
        peer_rid,
        peer_group,
    ) {
        (Some(c4), _, _, _, _) => c4.to_string(),
        (_, Some(c6), _, _, _) => c6.to_string(),
        (_, _, Some(pl), _, _) => prefix_lists
            .get(pl)
            .map(|n| prefix_list_peer(n))
            .unwrap_or_else(|| pl.to_string()),
        (_, _, _, Some(p), _) => p.name.clone(),
        (_, _, _, _, Some(g)) => g.to_string(),
        _ => "unknown".into(),
    };
    let rid = id(
        SG_RULE,
        &rule_name(&sg.name, egress, &proto, from, to, &peer),
    );
    let props = RuleProps {
        group_id: r.group_id().unwrap_or_default().into(),
        direction: if egress { "egress" } else { "ingress" }.into(),
        protocol: proto,
        from_port: from,
        to_port: to,
        description: r
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        cidr_ipv4: r.cidr_ipv4().map(str::to_string),
        referenced_group_id: peer_group.map(Link::from),
        cidr_ipv6: r.cidr_ipv6().map(str::to_string),
        prefix_list_name: r.prefix_list_id().map(|pl| {
            prefix_lists
                .get(pl)
                .cloned()
                .unwrap_or_else(|| pl.to_string())
        }),
        prefix_list_id: r.prefix_list_id().map(str::to_string),
    };
    (rid, props)
}

fn permission(p: &RuleProps, pl: Option<&str>) -> Result<IpPermission, AwsError> {
    let mut b = IpPermission::builder().ip_protocol(&p.protocol);
    if p.protocol != "-1" {
        b = b.from_port(p.from_port as i32).to_port(p.to_port as i32);
    }
    if let Some(c) = &p.cidr_ipv4 {
        b = b.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(p.description.clone())
                .build(),
        );
    }
    if let Some(pl) = pl {
        b = b.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(pl)
                .set_description(p.description.clone())
                .build(),
        );
    }
    if let Some(g) = p.peer_group()? {
        b = b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(p.description.clone())
                .build(),
        );
    }
    Ok(b.build())
}

/// The live rule of `gid` that is `p`, when AWS says it already exists.
async fn find_rule(
    ctx: &Ctx,
    r: &Resource,
    gid: &str,
    p: &RuleProps,
    pl: Option<&str>,
) -> Result<String, AwsError> {
    let peer = p.peer_group()?;
    let rules = all_rules(ctx, vec![gid.to_string()]).await?;
    rules
        .iter()
        .find(|x| {
            x.is_egress() == Some(p.egress())
                && normalise_protocol(x.ip_protocol().unwrap_or("-1")) == p.protocol
                && (p.protocol == "-1"
                    || (x.from_port().unwrap_or(-1) as i64 == p.from_port
                        && x.to_port().unwrap_or(-1) as i64 == p.to_port))
                && x.cidr_ipv4() == p.cidr_ipv4.as_deref()
                && x.referenced_group_info().and_then(|g| g.group_id()) == peer
                && x.prefix_list_id() == pl
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

async fn modify_rule(
    ctx: &Ctx,
    gid: &str,
    rule_id: &str,
    p: &RuleProps,
    pl: Option<&str>,
) -> Result<(), AwsError> {
    // Protocol -1 (all traffic) takes ports -1 to -1, as AWS reports them.
    let u = SecurityGroupRuleRequest::builder()
        .ip_protocol(&p.protocol)
        .from_port(p.from_port as i32)
        .to_port(p.to_port as i32)
        .set_cidr_ipv4(p.cidr_ipv4.clone())
        .set_referenced_group_id(p.peer_group()?.map(String::from))
        .set_prefix_list_id(pl.map(String::from))
        .set_description(p.description.clone());
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

#[async_trait]
impl Kind for Rule {
    crate::typed_kind!(SCHEMA, RuleProps);

    /// Authorise one rule. A rule that already exists (the default egress rule of a new group,
    /// or one an interrupted apply created) is found and adopted rather than failing.
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: RuleProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let gid = p.group_id.require("group_id")?;
        let pl = match &p.prefix_list_name {
            Some(name) => Some(prefix_list_id(ctx, r, name).await?),
            None => None,
        };
        let pl = pl.as_deref();
        let res = if p.egress() {
            ec2.authorize_security_group_egress()
                .group_id(gid)
                .ip_permissions(permission(&p, pl)?)
                .send()
                .await
                .map_err(aws("ec2:AuthorizeSecurityGroupEgress"))
                .map(|o| o.security_group_rules.unwrap_or_default())
        } else {
            ec2.authorize_security_group_ingress()
                .group_id(gid)
                .ip_permissions(permission(&p, pl)?)
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
            None => find_rule(ctx, r, gid, &p, pl).await?,
        };
        // Descriptions on an adopted rule may differ: make them what the spec says.
        if find_rule_description(ctx, &rule_id).await? != p.description {
            modify_rule(ctx, gid, &rule_id, &p, pl).await?;
        }
        Ok(attrs(&rule_id))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        if !changed.contains("description") {
            return Ok(Attrs::new());
        }
        let p: RuleProps = from_props(&r.props)?;
        // The live rule's own id: the name is not re-resolved for a description change.
        let live: RuleProps = from_props(&prior.props)?;
        modify_rule(
            ctx,
            p.group_id.require("group_id")?,
            &prior.physical_id,
            &p,
            live.prefix_list_id.as_deref(),
        )
        .await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let p: RuleProps = from_props(&o.props)?;
        let ec2 = &ctx.clients.ec2;
        let gid = p.group_id.require("group_id")?;
        let r = if p.egress() {
            ec2.revoke_security_group_egress()
                .group_id(gid)
                .security_group_rule_ids(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:RevokeSecurityGroupEgress"))
        } else {
            ec2.revoke_security_group_ingress()
                .group_id(gid)
                .security_group_rule_ids(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:RevokeSecurityGroupIngress"))
        };
        gone_ok(r)
    }
}
