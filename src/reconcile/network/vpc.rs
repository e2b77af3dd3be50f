//! `vpc/main`: the env's VPC, with DNS support and hostnames on.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, sync_tags, tag_map, tag_spec, Ec2Tags, VPC, WAIT};
use crate::aws::{aws, waited, AwsError, Call, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, to_props, with_ticker, OrNotFound, TagApi};
use crate::reconcile::{Ctx, Import, Kind, PhysicalId, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(VPC, &["cidr_block"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcProps {
    pub tags: BTreeMap<String, String>,
    pub cidr_block: String,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
}

pub struct Vpc;

/// The VPC's DNS attributes, (support, hostnames): DescribeVpcAttribute takes one attribute
/// per call, so two calls at once.
pub(super) async fn dns_attributes(ctx: &Ctx, vid: &str) -> Result<(bool, bool), AwsError> {
    let attribute = |a: VpcAttributeName| {
        ctx.clients
            .ec2
            .describe_vpc_attribute()
            .vpc_id(vid)
            .attribute(a)
            .send()
    };
    let (sup, host) = tokio::try_join!(
        attribute(VpcAttributeName::EnableDnsSupport),
        attribute(VpcAttributeName::EnableDnsHostnames),
    )
    .map_err(aws("ec2:DescribeVpcAttribute"))?;
    let on = |v: Option<&AttributeBooleanValue>| v.and_then(|v| v.value()).unwrap_or(false);
    Ok((
        on(sup.enable_dns_support()),
        on(host.enable_dns_hostnames()),
    ))
}

/// A live VPC → its props (pure): what observe and `rtech import` read.
pub(super) fn props(
    tags: BTreeMap<String, String>,
    cidr_block: String,
    (enable_dns_support, enable_dns_hostnames): (bool, bool),
) -> VpcProps {
    VpcProps {
        tags,
        cidr_block,
        enable_dns_support,
        enable_dns_hostnames,
    }
}

/// A VPC id: `vpc-` and hex digits.
pub fn is_vpc_id(s: &str) -> bool {
    s.strip_prefix("vpc-")
        .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
}

static VPC_ID: PhysicalId = PhysicalId {
    form: "a VPC id (vpc-…)",
    check: is_vpc_id,
    found_by_name: false,
};

/// `rtech import vpc/main vpc-…`: DescribeVpcs of that id, then its DNS attributes.
#[async_trait]
impl Import for Vpc {
    fn physical(&self) -> &'static PhysicalId {
        &VPC_ID
    }

    async fn read(&self, ctx: &Ctx, id: &ResourceId, vid: &str) -> Result<Observed, AwsError> {
        let op = "ec2:DescribeVpcs";
        let req = ctx.clients.ec2.describe_vpcs().vpc_ids(vid);
        let out = req.send().await.map_err(aws(op))?;
        let missing = format!("The vpc ID '{vid}' does not exist");
        let v = out
            .vpcs()
            .first()
            .or_not_found(op, "InvalidVpcID.NotFound", missing)?;
        let dns = dns_attributes(ctx, vid).await?;
        let p = props(
            tag_map(v.tags()),
            v.cidr_block().unwrap_or_default().to_string(),
            dns,
        );
        Ok(Observed::new(id.clone(), vid).with_props(to_props(&p)))
    }

    fn tag_calls<'a>(&self, ctx: &'a Ctx, live: &Observed) -> (Box<dyn TagApi + 'a>, String) {
        (
            Box::new(Ec2Tags(&ctx.clients.ec2)),
            live.physical_id.clone(),
        )
    }
}

/// The DNS attributes named in `changed` (ModifyVpcAttribute takes one attribute per call).
async fn set_dns(
    ctx: &Ctx,
    vid: &str,
    p: &VpcProps,
    changed: &BTreeSet<String>,
) -> Result<(), AwsError> {
    for (key, on) in [
        ("enable_dns_support", p.enable_dns_support),
        ("enable_dns_hostnames", p.enable_dns_hostnames),
    ] {
        if !changed.contains(key) {
            continue;
        }
        let on = AttributeBooleanValue::builder().value(on).build();
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

#[async_trait]
impl Kind for Vpc {
    crate::typed_kind!(SCHEMA, VpcProps, import);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: VpcProps = from_props(&r.props)?;
        let ec2 = &ctx.clients.ec2;
        let out = ec2
            .create_vpc()
            .cidr_block(&p.cidr_block)
            .tag_specifications(tag_spec(ResourceType::Vpc, &p.tags))
            .send()
            .await
            .map_err(aws("ec2:CreateVpc"))?;
        let vid = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .required("ec2:CreateVpc", "no VPC id returned")?
            .to_string();
        with_ticker(
            task,
            &format!("{vid} to become available"),
            ec2.wait_until_vpc_available().vpc_ids(&vid).wait(WAIT),
        )
        .await
        .map_err(waited("ec2:DescribeVpcs", &vid))?;
        let both = ["enable_dns_support", "enable_dns_hostnames"]
            .into_iter()
            .map(String::from)
            .collect();
        set_dns(ctx, &vid, &p, &both).await?;
        Ok(attrs(&vid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let p: VpcProps = from_props(&r.props)?;
        sync_tags(ctx, prior, changed, &p.tags).await?;
        set_dns(ctx, &prior.physical_id, &p, changed).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let id = &o.physical_id;
        delete_when_free(&[], || {
            ec2.delete_vpc().vpc_id(id).send().done("ec2:DeleteVpc")
        })
        .await
    }
}
