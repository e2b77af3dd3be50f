//! `igw/main`: the internet gateway, attached to the VPC.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, sync_tags, tag_spec, IGW};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, gone_ok, Existing, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(IGW, &[]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgwProps {
    pub tags: BTreeMap<String, String>,
    /// The VPC it is attached to (null while detached).
    pub vpc_id: Option<Link>,
}

pub struct Igw;

/// Attach the gateway to `vpc`. A retried attach (lost response) meets
/// Resource.AlreadyAssociated: done when the gateway is attached to that VPC.
async fn attach(ctx: &Ctx, gid: &str, vpc: &Option<Link>) -> Result<(), AwsError> {
    let Some(vpc) = vpc else { return Ok(()) };
    let vpc = vpc.require("vpc_id")?;
    let ec2 = &ctx.clients.ec2;
    let send = async {
        ec2.attach_internet_gateway()
            .internet_gateway_id(gid)
            .vpc_id(vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ec2:AttachInternetGateway"))
    };
    adopt_on_exists(gid, send, || async {
        let out = ec2
            .describe_internet_gateways()
            .internet_gateway_ids(gid)
            .send()
            .await
            .map_err(aws("ec2:DescribeInternetGateways"))?;
        let attached: Vec<&str> = out
            .internet_gateways()
            .iter()
            .flat_map(|g| g.attachments())
            .filter_map(|a| a.vpc_id())
            .collect();
        Ok(if attached.contains(&vpc) {
            Existing::Ours(())
        } else if attached.is_empty() {
            Existing::Missing
        } else {
            Existing::Differs(format!("it is attached to {}", attached.join(", ")))
        })
    })
    .await
}

async fn detach(ctx: &Ctx, gid: &str, vpc: &str) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .detach_internet_gateway()
        .internet_gateway_id(gid)
        .vpc_id(vpc)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("ec2:DetachInternetGateway"))
}

#[async_trait]
impl Kind for Igw {
    crate::typed_kind!(SCHEMA, IgwProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: IgwProps = from_props(&r.props)?;
        let out = ctx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, &p.tags))
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
        attach(ctx, &gid, &p.vpc_id).await?;
        Ok(attrs(&gid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let p: IgwProps = from_props(&r.props)?;
        sync_tags(ctx, prior, changed, &p.tags).await?;
        if changed.contains("vpc_id") {
            let before: IgwProps = from_props(&prior.props)?;
            if let Some(old) = before.vpc_id.as_ref().and_then(Link::known) {
                detach(ctx, &prior.physical_id, old).await?;
            }
            attach(ctx, &prior.physical_id, &p.vpc_id).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let gid = o.physical_id.as_str();
        let p: IgwProps = from_props(&o.props)?;
        if let Some(vpc) = p.vpc_id.as_ref().and_then(Link::known) {
            match delete_when_free(&[], || detach(ctx, gid, vpc)).await {
                Err(e) if e.is("Gateway.NotAttached") => {}
                other => other?,
            }
        }
        gone_ok(
            ctx.clients
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(gid)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("ec2:DeleteInternetGateway")),
        )
    }
}
