//! Observe: one paginated Describe per kind and the env's tag index (`kit::tag_index`), all at
//! once (the subnet groups come with our instances when the index lists ours, else
//! DescribeDBSubnetGroups: [`subnet_groups_from_instances`]); one ListTagsForResource per resource under our name prefix that the index does not
//! list; then each live resource through its kind's normaliser.

use std::collections::BTreeMap;

use aws_sdk_docdb::types::{
    DbCluster, DbClusterParameterGroup, DbInstance, DbSubnetGroup, EventSubscription, Filter,
};

use super::cluster::{cluster_attrs, ClusterProps, TAG_PASSWORD_SECRET};
use super::event_sub::{sub_attrs, EventSubProps};
use super::instance::{instance_attrs, InstanceProps};
use super::param_group::ParamGroupProps;
use super::subnet_group::SubnetGroupProps;
use super::{
    cluster_name, export_log_groups, list_tags, rid, CLUSTER, EVENT_SUB, INSTANCE, PARAM_GROUP,
    SUBNET_GROUP,
};
use crate::aws::{all_pages, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::tag_index::TagIndex;
use crate::reconcile::kit::{claimed_id, from_props, to_props, Claims};
use crate::reconcile::{secrets, sns, Ctx};
use crate::spec::network::Network as NetSpec;

/// Decides whose a live resource is: ours (by tags, under the id its `rtech:id` tag names),
/// foreign (our name, not our tags), or neither.
struct Owners<'a> {
    project: &'a str,
    env: &'a str,
    /// (kind, AWS name) → the desired id wanting that name.
    wanted: BTreeMap<(&'static str, String), ResourceId>,
    claims: Claims,
}

impl<'a> Owners<'a> {
    fn new(ctx: &'a Ctx, desired: &[Resource]) -> Self {
        let mut wanted = BTreeMap::new();
        for r in desired {
            let (kind, name) = match r.id.kind.as_str() {
                SUBNET_GROUP => (
                    SUBNET_GROUP,
                    from_props::<SubnetGroupProps>(&r.props).map(|p| p.name),
                ),
                PARAM_GROUP => (
                    PARAM_GROUP,
                    from_props::<ParamGroupProps>(&r.props).map(|p| p.name),
                ),
                CLUSTER => (
                    CLUSTER,
                    from_props::<ClusterProps>(&r.props).map(|p| p.identifier),
                ),
                INSTANCE => (
                    INSTANCE,
                    from_props::<InstanceProps>(&r.props).map(|p| p.identifier),
                ),
                EVENT_SUB => (
                    EVENT_SUB,
                    from_props::<EventSubProps>(&r.props).map(|p| p.name),
                ),
                _ => continue,
            };
            if let Ok(name) = name {
                wanted.insert((kind, name), r.id.clone());
            }
        }
        Owners {
            project: &ctx.project,
            env: &ctx.env,
            wanted,
            claims: Claims::new(),
        }
    }

    fn classify(
        &mut self,
        kind: &'static str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Option<(ResourceId, Ownership)> {
        let Some(id) = claimed_id(tags, self.project, self.env) else {
            return self
                .wanted
                .get(&(kind, name.to_string()))
                .map(|id| (id.clone(), Ownership::Foreign));
        };
        // A second live resource claiming an id (or one of another kind) gets an id of its
        // own: not desired, it is deleted by the next apply.
        let id = if id.kind != kind {
            ResourceId::new(kind, format!("{}~{name}", id.name))
        } else {
            id
        };
        Some((self.claims.claim(id, name), Ownership::Owned))
    }
}

fn observed(
    id: ResourceId,
    ownership: Ownership,
    physical: &str,
    props: crate::model::Props,
    arn: Option<&str>,
) -> Observed {
    let mut o = Observed::new(id, physical);
    o.props = props;
    o.ownership = ownership;
    if let Some(a) = arn {
        o.attrs.insert("arn".into(), a.to_string());
    }
    o
}

pub(super) fn engine_filter() -> Filter {
    Filter::builder().name("engine").values("docdb").build()
}

/// The DocumentDB subnet groups the index lists as this env's (rtech:id of kind
/// `docdb_subnet_group`): name → ARN (pure).
fn indexed_subnet_groups(
    index: &TagIndex,
    (project, env, region): (&str, &str, &str),
) -> BTreeMap<String, String> {
    index
        .resources("rds", Some(region), "subgrp:")
        .filter(|(_, _, tags)| {
            claimed_id(tags, project, env).is_some_and(|id| id.kind == SUBNET_GROUP)
        })
        .map(|(name, arn, _)| (name.to_string(), arn.to_string()))
        .collect()
}

/// Our subnet groups as our instances' DescribeDBInstances answers hold them (an instance
/// carries its cluster's subnet group whole: name, description, subnets and their AZs), when
/// they hold every group the index lists as ours and every group the spec wants (`wanted`;
/// none in a destroy), and the index lists at least one: then DescribeDBSubnetGroups would add
/// nothing. A subnet group in use
/// cannot be deleted, and names are unique in a region, so no one else's can hold ours. None:
/// DescribeDBSubnetGroups decides (a group no instance uses, one the index does not list yet,
/// someone else's under our name). Pure.
pub fn subnet_groups_from_instances(
    index: &TagIndex,
    scope: (&str, &str, &str),
    instances: &[&DbInstance],
    wanted: &[String],
) -> Option<Vec<DbSubnetGroup>> {
    let indexed = indexed_subnet_groups(index, scope);
    let mut by_name: BTreeMap<String, DbSubnetGroup> = BTreeMap::new();
    for i in instances {
        let Some(g) = i.db_subnet_group() else {
            continue;
        };
        let Some(name) = g.db_subnet_group_name() else {
            continue;
        };
        let Some(arn) = indexed.get(name) else {
            continue;
        };
        if !g.subnets().is_empty() {
            let mut g = g.clone();
            g.db_subnet_group_arn = Some(arn.clone());
            by_name.insert(name.to_string(), g);
        }
    }
    let held = |n: &String| by_name.contains_key(n);
    let covered = !indexed.is_empty()
        && indexed.keys().all(held)
        && wanted.iter().all(|n| indexed.contains_key(n) && held(n));
    covered.then(|| by_name.into_values().collect())
}

pub async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let dd = &ctx.clients.docdb;
    // One paginated Describe per kind, all at once. The engine filter keeps RDS and Neptune
    // clusters out (they share this API); groups have no engine filter.
    let (clusters, instances, param_groups, subs, index) = tokio::try_join!(
        async {
            all_pages!(
                dd.describe_db_clusters().filters(engine_filter()),
                "docdb:DescribeDBClusters"
            )
        },
        async {
            all_pages!(
                dd.describe_db_instances().filters(engine_filter()),
                "docdb:DescribeDBInstances"
            )
        },
        async {
            all_pages!(
                dd.describe_db_cluster_parameter_groups(),
                "docdb:DescribeDBClusterParameterGroups"
            )
        },
        async {
            all_pages!(
                dd.describe_event_subscriptions(),
                "docdb:DescribeEventSubscriptions"
            )
        },
        ctx.tag_index(),
    )?;

    // DocumentDB's Describe outputs carry no tags: the env's tag index holds ours, and
    // ListTagsForResource reads any other resource under our name prefix (only those can be
    // ours or clash with ours), all at once. Something being deleted is already
    // gone as far as a plan is concerned.
    let prefix = cluster_name(&ctx.project, &ctx.env);
    let mine = |name: Option<&str>| name.is_some_and(|n| n.starts_with(&prefix));
    let clusters: Vec<&DbCluster> = clusters
        .iter()
        .filter(|c| c.engine() == Some("docdb") && mine(c.db_cluster_identifier()))
        .filter(|c| c.status() != Some("deleting"))
        .collect();
    let instances: Vec<&DbInstance> = instances
        .iter()
        .filter(|i| i.engine() == Some("docdb") && mine(i.db_instance_identifier()))
        .filter(|i| !matches!(i.db_instance_status(), Some("deleting" | "deleted")))
        .collect();
    // The subnet groups: from our instances' answers when they hold every one the index lists
    // as ours and every one the spec wants (subnet_groups_from_instances), else their Describe.
    let wanted_groups: Vec<String> = desired
        .iter()
        .filter(|r| r.id.kind == SUBNET_GROUP)
        .filter_map(|r| from_props::<SubnetGroupProps>(&r.props).ok())
        .map(|p| p.name)
        .collect();
    let subnet_groups: Vec<DbSubnetGroup> = match subnet_groups_from_instances(
        index,
        (&ctx.project, &ctx.env, &ctx.region),
        &instances,
        &wanted_groups,
    ) {
        Some(groups) => groups,
        None => all_pages!(
            dd.describe_db_subnet_groups(),
            "docdb:DescribeDBSubnetGroups"
        )?,
    };
    let subnet_groups: Vec<&DbSubnetGroup> = subnet_groups
        .iter()
        .filter(|g| mine(g.db_subnet_group_name()))
        .collect();
    let param_groups: Vec<&DbClusterParameterGroup> = param_groups
        .iter()
        .filter(|g| mine(g.db_cluster_parameter_group_name()))
        .collect();
    let subs: Vec<&EventSubscription> = subs
        .iter()
        .filter(|s| mine(s.cust_subscription_id()))
        .collect();
    let arns: Vec<&str> = clusters
        .iter()
        .filter_map(|c| c.db_cluster_arn())
        .chain(instances.iter().filter_map(|i| i.db_instance_arn()))
        .chain(subnet_groups.iter().filter_map(|g| g.db_subnet_group_arn()))
        .chain(
            param_groups
                .iter()
                .filter_map(|g| g.db_cluster_parameter_group_arn()),
        )
        .chain(subs.iter().filter_map(|s| s.event_subscription_arn()))
        .collect();
    let tags: BTreeMap<&str, Option<BTreeMap<String, String>>> =
        futures::future::try_join_all(arns.into_iter().map(|a| async move {
            match index.tags(a) {
                Some(t) => Ok((a, Some(t.clone()))),
                None => list_tags(ctx, a).await.map(|t| (a, t)),
            }
        }))
        .await?
        .into_iter()
        .collect();
    let tags_of =
        |arn: Option<&str>| -> Option<BTreeMap<String, String>> { tags.get(arn?)?.clone() };

    let mut owners = Owners::new(ctx, desired);
    let mut out: Vec<Observed> = vec![];
    // Physical name → id of what is ours, to turn names back into dependencies.
    let mut ids: BTreeMap<(&str, String), ResourceId> = BTreeMap::new();

    for g in &subnet_groups {
        let name = g.db_subnet_group_name().unwrap_or_default();
        let Some(t) = tags_of(g.db_subnet_group_arn()) else {
            continue;
        };
        let Some((id, own)) = owners.classify(SUBNET_GROUP, name, &t) else {
            continue;
        };
        let props = to_props(&SubnetGroupProps::observed(g, t));
        let mut o = observed(id.clone(), own, name, props, g.db_subnet_group_arn());
        for s in g.subnets() {
            if let Some(az) = s.subnet_availability_zone().and_then(|a| a.name()) {
                o.deps.insert(rid(
                    "subnet",
                    &format!("private-{}", NetSpec::az_suffix(az)),
                ));
            }
        }
        if own == Ownership::Owned {
            ids.insert((SUBNET_GROUP, name.to_string()), id);
        }
        out.push(o);
    }

    // Parameter values for our groups only (one or two), all at once.
    let ours_pg: Vec<(
        &DbClusterParameterGroup,
        BTreeMap<String, String>,
        ResourceId,
        Ownership,
    )> = param_groups
        .iter()
        .filter_map(|g| {
            let name = g.db_cluster_parameter_group_name().unwrap_or_default();
            let t = tags_of(g.db_cluster_parameter_group_arn())?;
            let (id, own) = owners.classify(PARAM_GROUP, name, &t)?;
            Some((*g, t, id, own))
        })
        .collect();
    let values = futures::future::try_join_all(ours_pg.iter().map(|(g, _, _, own)| async move {
        if *own == Ownership::Foreign {
            return Ok(vec![]);
        }
        all_pages!(
            dd.describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(
                    g.db_cluster_parameter_group_name().unwrap_or_default()
                ),
            "docdb:DescribeDBClusterParameters"
        )
    }))
    .await?;
    for ((g, t, id, own), params) in ours_pg.into_iter().zip(values) {
        let name = g.db_cluster_parameter_group_name().unwrap_or_default();
        let props = to_props(&ParamGroupProps::observed(g, &params, t));
        if own == Ownership::Owned {
            ids.insert((PARAM_GROUP, name.to_string()), id.clone());
        }
        out.push(observed(
            id,
            own,
            name,
            props,
            g.db_cluster_parameter_group_arn(),
        ));
    }

    for c in &clusters {
        let name = c.db_cluster_identifier().unwrap_or_default();
        let Some(t) = tags_of(c.db_cluster_arn()) else {
            continue;
        };
        let Some((id, own)) = owners.classify(CLUSTER, name, &t) else {
            continue;
        };
        let wanted_version = desired
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| from_props::<ClusterProps>(&r.props).ok())
            .and_then(|p| p.engine_version);
        let props = to_props(&ClusterProps::observed(c, &t, wanted_version.as_deref()));
        let mut o = observed(id.clone(), own, name, props, None);
        o.attrs = cluster_attrs(c);
        if let Some(sg) = c.db_subnet_group() {
            if let Some(d) = ids.get(&(SUBNET_GROUP, sg.to_string())) {
                o.deps.insert(d.clone());
            }
        }
        if let Some(pg) = c.db_cluster_parameter_group() {
            if let Some(d) = ids.get(&(PARAM_GROUP, pg.to_string())) {
                o.deps.insert(d.clone());
            }
        }
        // The security group cannot go before the cluster (its network interfaces).
        if !c.vpc_security_groups().is_empty() {
            o.deps.insert(rid("sg", "docdb"));
        }
        if t.contains_key(TAG_PASSWORD_SECRET) {
            o.deps.insert(secrets::secret_id("docdb"));
        }
        // Its export log groups go after it (destroy), else AWS may write to them again.
        let exports = c.enabled_cloudwatch_logs_exports();
        for id in export_log_groups(
            exports.iter().any(|l| l == "audit"),
            exports.iter().any(|l| l == "profiler"),
        ) {
            o.deps.insert(id);
        }
        if own == Ownership::Owned {
            ids.insert((CLUSTER, name.to_string()), id);
        }
        out.push(o);
    }

    for i in &instances {
        let name = i.db_instance_identifier().unwrap_or_default();
        let Some(t) = tags_of(i.db_instance_arn()) else {
            continue;
        };
        let Some((id, own)) = owners.classify(INSTANCE, name, &t) else {
            continue;
        };
        let props = to_props(&InstanceProps::observed(i, t));
        let mut o = observed(id, own, name, props, None);
        o.attrs = instance_attrs(i);
        if let Some(c) = i.db_cluster_identifier() {
            if let Some(d) = ids.get(&(CLUSTER, c.to_string())) {
                o.deps.insert(d.clone());
            }
        }
        out.push(o);
    }

    for s in &subs {
        let name = s.cust_subscription_id().unwrap_or_default();
        let Some(t) = tags_of(s.event_subscription_arn()) else {
            continue;
        };
        let Some((id, own)) = owners.classify(EVENT_SUB, name, &t) else {
            continue;
        };
        let props = to_props(&EventSubProps::observed(s, t));
        let mut o = observed(id, own, name, props, None);
        o.attrs = sub_attrs(s);
        // Deleted before the alerts topic it publishes to.
        o.deps.insert(sns::topic_id());
        out.push(o);
    }
    Ok(out)
}
