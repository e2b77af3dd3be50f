//! References between services: to the env's subnets in the spec's AZ order (expand), and
//! read back from a desired resource (observe orders what AWS lists, subnets in any order, the
//! way the spec does, by the resources the desired property refers to).

use std::collections::BTreeMap;

use super::Link;
use crate::aws::{all_pages, AwsError};
use crate::model::{Resource, ResourceId};
use crate::reconcile::Ctx;
use crate::spec::network::Network as NetSpec;
use crate::spec::Spec;

/// For each of the env's AZs in order, the AZ and a link to the `id` of its subnet of `tier`
/// (`public`, `private`).
pub fn subnet_links(spec: &Spec, tier: &str) -> Vec<(String, Link)> {
    spec.network
        .azs
        .iter()
        .map(|az| {
            let s = ResourceId::new("subnet", format!("{tier}-{}", NetSpec::az_suffix(az)));
            (az.clone(), Link::to(&s, "id"))
        })
        .collect()
}

/// The resources `key` of the desired resource refers to, in order (none without one).
pub fn refs_in(desired: Option<&Resource>, key: &str) -> Vec<ResourceId> {
    let mut refs = vec![];
    if let Some(v) = desired.and_then(|d| d.props.get(key)) {
        v.refs(&mut refs);
    }
    refs.into_iter().map(|r| r.resource).collect()
}

/// Our resource id (`subnet/private-a`) of each subnet in `ids` that carries the env's tags,
/// for services that hold subnet ids (a cache subnet group, an ECS service): from the env's tag
/// index, which lists our subnets with their tags, and one DescribeSubnets for the ids it does
/// not list (someone else's subnets, or ours tagged too recently for the index).
pub async fn subnet_rids(
    ctx: &Ctx,
    ids: &[String],
) -> Result<BTreeMap<String, ResourceId>, AwsError> {
    let mut m = BTreeMap::new();
    if ids.is_empty() {
        return Ok(m);
    }
    let index = ctx.tag_index().await?;
    let mut unlisted = vec![];
    for id in ids {
        match index.find("ec2", &ctx.region, &format!("subnet/{id}")) {
            Some((_, t)) => {
                if let Some(r) = super::claimed_id(t, &ctx.project, &ctx.env) {
                    m.insert(id.clone(), r);
                }
            }
            None => unlisted.push(id.clone()),
        }
    }
    if unlisted.is_empty() {
        return Ok(m);
    }
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("subnet-id")
        .set_values(Some(unlisted))
        .build();
    let subnets = all_pages!(
        ctx.clients.ec2.describe_subnets().filters(f),
        "ec2:DescribeSubnets"
    )?;
    for sn in subnets {
        let t = super::tags::tag_map(sn.tags().iter().map(|t| (t.key(), t.value())));
        if let (Some(id), Some(r)) = (
            sn.subnet_id(),
            super::claimed_id(&t, &ctx.project, &ctx.env),
        ) {
            m.insert(id.to_string(), r);
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn the_references_of_one_property_in_order() {
        let (b, a) = (
            ResourceId::new("subnet", "b"),
            ResourceId::new("subnet", "a"),
        );
        let r = Resource::new(ResourceId::new("x", "y"), "y").prop(
            "subnets",
            Value::List(vec![
                Value::reference(&b, "id"),
                Value::str("subnet-1"),
                Value::reference(&a, "id"),
            ]),
        );
        assert_eq!(refs_in(Some(&r), "subnets"), vec![b, a]);
        assert!(refs_in(Some(&r), "other").is_empty());
        assert!(refs_in(None, "subnets").is_empty());
    }

    #[test]
    fn one_subnet_link_per_az_in_order() {
        let spec = crate::testutil::env_spec("dev");
        let links = subnet_links(&spec, "private");
        assert_eq!(links.len(), spec.network.azs.len());
        for ((az, l), want) in links.iter().zip(&spec.network.azs) {
            assert_eq!(az, want);
            let suffix = NetSpec::az_suffix(want);
            let subnet = ResourceId::new("subnet", format!("private-{suffix}"));
            assert_eq!(l, &Link::to(&subnet, "id"));
        }
    }
}
