//! References between services: to the env's subnets in the spec's AZ order (expand), and
//! read back from a desired resource (observe orders what AWS lists, subnets in any order, the
//! way the spec does, by the resources the desired property refers to).

use super::Link;
use crate::model::{Resource, ResourceId};
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
