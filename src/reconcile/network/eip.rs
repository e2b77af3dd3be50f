//! `eip/nat-<az>`: the Elastic IP address of a NAT gateway.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use serde::{Deserialize, Serialize};

use super::{attrs, delete_when_free, tag_spec, update_tags, EIP};
use crate::aws::{aws, AwsError, Call, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::from_props;
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(EIP, &["domain"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EipProps {
    pub tags: BTreeMap<String, String>,
    /// Always `vpc`.
    pub domain: String,
}

pub struct Eip;

/// What dependants read: the allocation id (also the physical id) and the address.
pub fn eip_attrs(allocation_id: &str, public_ip: Option<&str>) -> Attrs {
    let mut a = attrs(allocation_id);
    a.insert("allocation_id".into(), allocation_id.to_string());
    if let Some(ip) = public_ip {
        a.insert("public_ip".into(), ip.into());
    }
    a
}

#[async_trait]
impl Kind for Eip {
    crate::typed_kind!(SCHEMA, EipProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: EipProps = from_props(&r.props)?;
        let out = ctx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::from(p.domain.as_str()))
            .tag_specifications(tag_spec(ResourceType::ElasticIp, &p.tags))
            .send()
            .await
            .map_err(aws("ec2:AllocateAddress"))?;
        let alloc = out
            .allocation_id()
            .required("ec2:AllocateAddress", "no allocation id returned")?;
        Ok(eip_attrs(alloc, out.public_ip()))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        update_tags(ctx, u).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ec2 = &ctx.clients.ec2;
        let id = &o.physical_id;
        delete_when_free(&["AuthFailure"], || {
            ec2.release_address()
                .allocation_id(id)
                .send()
                .done("ec2:ReleaseAddress")
        })
        .await
    }
}
