//! Redis: expansion, the normalisation observe does (pending modifications, versions, member
//! settings), replace reasons through the real diff, and the requests.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, AutomaticFailoverStatus, CacheCluster, CacheSubnetGroup,
    CloudWatchLogsDestinationDetails, DestinationDetails, DestinationType, Endpoint,
    KinesisFirehoseDestinationDetails, LogDeliveryConfiguration, LogDeliveryConfigurationStatus,
    LogFormat, LogType, MultiAzStatus, NodeGroup, NodeGroupMember, NotificationConfiguration,
    PendingAutomaticFailoverStatus, PendingModifiedValues, ReplicationGroup,
    ReplicationGroupPendingModifiedValues, SecurityGroupMembership, Subnet, Tag,
};
use aws_sdk_elasticache::Client;
use aws_smithy_types::DateTime;

use super::group::{is_downgrade, normalise_version, RedisProps};
use super::group_apply::*;
use super::log_delivery::*;
use super::subnet_group::{
    delete_subnet_group_request, modify_subnet_group_request, SubnetGroupProps,
};
use super::*;
use crate::model::{Observed, Resource, ResourceId, Value};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::from_props;
use crate::spec::Spec;
use crate::testutil::{dev_store, diff_of, get, only_update, parse_as, refs, tag, DEV_2AZ};

fn dev_redis() -> String {
    let settings = [
        r#"node_type = "cache.t3.micro""#,
        "replicas = 0",
        "snapshot_retention_days = 0",
    ];
    dev_store("redis", &settings)
}

const PROD_REDIS: &str = r#"
[redis]
node_type = "cache.t3.micro"
replicas = 1
snapshot_retention_days = 7
"#;

fn spec(redis: &str) -> Spec {
    parse_as("dev", &format!("{DEV_2AZ}{redis}"))
}

fn rid_of(s: &str) -> ResourceId {
    s.parse().unwrap()
}

#[test]
fn no_redis_section_means_no_resources() {
    let s = parse_as("dev", DEV_2AZ);
    assert!(expand(&s).is_empty());
}

#[test]
fn dev_is_one_node_without_failover_and_skips_the_final_snapshot() {
    let rs = expand(&spec(&dev_redis()));
    assert_eq!(rs.len(), 2);
    let sng = get(&rs, "cache_subnet_group/main");
    assert_eq!(sng.name, "rtech-dev-redis");
    assert_eq!(
        refs(&sng.props["subnet_ids"]),
        ["subnet/private-a.id", "subnet/private-b.id"]
    );
    let g = get(&rs, "redis/main");
    assert_eq!(g.name, "rtech-dev-redis");
    assert_eq!(g.props["num_cache_clusters"], Value::Int(1));
    assert_eq!(g.props["automatic_failover"], Value::Bool(false));
    assert_eq!(g.props["multi_az"], Value::Bool(false));
    assert_eq!(g.props["port"], Value::Int(6379));
    assert_eq!(g.get_str("engine"), Some("redis"));
    assert_eq!(g.get_str("engine_version"), Some("7.1"));
    assert_eq!(
        g.get_str("cache_subnet_group_name"),
        Some("rtech-dev-redis")
    );
    assert_eq!(refs(&g.props["security_group_ids"]), ["sg/redis.id"]);
    assert_eq!(g.props["snapshot_retention_limit"], Value::Int(0));
    assert_eq!(
        g.props["snapshot_window"],
        Value::Null,
        "no snapshots, no window to compare"
    );
    assert_eq!(tag(g, TAG_FINAL_SNAPSHOT), Some("skip"));
    assert_eq!(tag(g, TAG_APPLY_IMMEDIATELY), Some("true"));
    assert_eq!(tag(g, "rtech:id"), Some("redis/main"));
    assert!(
        !g.props.contains_key("apply_immediately"),
        "apply_immediately is a tag, not a compared field"
    );
    for dep in ["cache_subnet_group/main", "sg/redis", "secret/redis"] {
        assert!(g.deps.contains(&rid_of(dep)), "redis/main depends on {dep}");
    }
}

#[test]
fn prod_is_a_primary_and_a_replica_with_failover_and_multi_az() {
    let rs = expand(&spec(PROD_REDIS));
    let g = get(&rs, "redis/main");
    assert_eq!(g.props["num_cache_clusters"], Value::Int(2));
    assert_eq!(g.props["automatic_failover"], Value::Bool(true));
    assert_eq!(g.props["multi_az"], Value::Bool(true));
    assert_eq!(g.props["snapshot_retention_limit"], Value::Int(7));
    assert_eq!(g.get_str("snapshot_window"), Some("05:00-06:00"));
    assert_eq!(
        g.get_str("preferred_maintenance_window"),
        Some("sun:06:00-sun:07:00")
    );
    assert_eq!(tag(g, TAG_FINAL_SNAPSHOT), Some("take"));
    assert_eq!(tag(g, TAG_APPLY_IMMEDIATELY), Some("false"));
}

#[test]
fn the_auth_token_is_referenced_only_with_transit_encryption() {
    let with = expand(&spec(PROD_REDIS));
    let g = get(&with, "redis/main");
    assert_eq!(refs(&g.props["auth_token_secret"]), ["secret/redis.arn"]);
    assert_eq!(
        refs(&g.props["auth_token_id"]),
        ["secret/redis.generated_id"]
    );
    assert!(g.sensitive.is_empty(), "ids and ARNs are not secrets");
    for r in &with {
        for k in r.props.keys() {
            assert!(
                !k.contains("token") || k.starts_with("auth_token_"),
                "{}: {k}",
                r.id
            );
        }
    }

    let without = expand(&spec(&format!("{PROD_REDIS}transit_encryption = false\n")));
    let g = get(&without, "redis/main");
    assert!(!g.props.contains_key("auth_token_secret"));
    assert!(!g.props.contains_key("auth_token_id"));
    assert!(!g.deps.contains(&rid_of("secret/redis")));
    assert_eq!(g.props["transit_encryption"], Value::Bool(false));
}

#[test]
fn versions_normalise_to_the_spec_line_and_downgrades_are_spotted() {
    assert_eq!(normalise_version("7.1.0", Some("7.1")), "7.1");
    assert_eq!(normalise_version("7.1.4", Some("7.1")), "7.1");
    assert_eq!(normalise_version("7.0.7", Some("7.1")), "7.0.7");
    assert_eq!(normalise_version("7.1.0", None), "7.1.0");
    assert!(is_downgrade("7.2.4", "7.1"));
    assert!(is_downgrade("7.1", "7.0"));
    assert!(!is_downgrade("7.1.0", "7.1"));
    assert!(!is_downgrade("7.0.7", "7.1"));
    assert!(!is_downgrade("7.1", "7.1.0"));
}

// ---------------------------------------------------------------------------------------------
// observe → diff

const ARN: &str = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:rtech-dev-redis";
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rtech/dev/redis-AbC";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:rtech-dev-alerts";

/// What AWS reports for the group `desired` describes, as the SDK types.
fn live(
    desired: &Resource,
) -> (
    aws_sdk_elasticache::types::builders::ReplicationGroupBuilder,
    aws_sdk_elasticache::types::builders::CacheClusterBuilder,
    BTreeMap<String, String>,
) {
    let n = desired.props["num_cache_clusters"].as_int().unwrap();
    let ha = desired.props["automatic_failover"].as_bool().unwrap();
    let mut ng = NodeGroup::builder()
        .node_group_id("0001")
        .primary_endpoint(
            Endpoint::builder()
                .address("master.rtech-dev-redis.abc.use1.cache.amazonaws.com")
                .port(6379)
                .build(),
        )
        .reader_endpoint(
            Endpoint::builder()
                .address("replica.rtech-dev-redis.abc.use1.cache.amazonaws.com")
                .port(6379)
                .build(),
        );
    let mut g =
        ReplicationGroup::builder()
            .replication_group_id("rtech-dev-redis")
            .arn(ARN)
            .description(desired.get_str("description").unwrap())
            .status("available")
            .engine("redis")
            .cache_node_type(desired.get_str("node_type").unwrap())
            .automatic_failover(if ha {
                AutomaticFailoverStatus::Enabled
            } else {
                AutomaticFailoverStatus::Disabled
            })
            .multi_az(if ha {
                MultiAzStatus::Enabled
            } else {
                MultiAzStatus::Disabled
            })
            .at_rest_encryption_enabled(true)
            .transit_encryption_enabled(true)
            .snapshot_retention_limit(
                desired.props["snapshot_retention_limit"].as_int().unwrap() as i32
            )
            // AWS keeps a window even without snapshots.
            .snapshot_window(desired.get_str("snapshot_window").unwrap_or("03:30-04:30"))
            .log_delivery_configurations(slow_log_config(
                "/elasticache/rtech-dev/slow-log",
                LogDeliveryConfigurationStatus::Active,
            ));
    for i in 1..=n {
        let id = format!("rtech-dev-redis-00{i}");
        g = g.member_clusters(&id);
        ng = ng.node_group_members(
            NodeGroupMember::builder()
                .cache_cluster_id(&id)
                .current_role(if i == 1 { "primary" } else { "replica" })
                .build(),
        );
    }
    let g = g.node_groups(ng.build());
    let member = CacheCluster::builder()
        .cache_cluster_id("rtech-dev-redis-001")
        .engine("redis")
        .engine_version("7.1.0")
        .cache_subnet_group_name("rtech-dev-redis")
        .security_groups(
            SecurityGroupMembership::builder()
                .security_group_id("sg-redis")
                .status("active")
                .build(),
        )
        .preferred_maintenance_window("sun:06:00-sun:07:00");
    // The events topic, when the env has one.
    let member = if desired.props["notification_topic_arn"] != Value::Null {
        member.notification_configuration(
            NotificationConfiguration::builder()
                .topic_arn(TOPIC_ARN)
                .topic_status("active")
                .build(),
        )
    } else {
        member
    };
    let mut tags: BTreeMap<String, String> = desired.props["tags"]
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    tags.insert(TAG_AUTH_TOKEN_SECRET.into(), SECRET_ARN.into());
    tags.insert(TAG_AUTH_TOKEN_ID.into(), "gen-1".into());
    (g, member, tags)
}

/// A slow-log delivery to CloudWatch Logs as JSON, as AWS reports it.
fn slow_log_config(
    group: &str,
    status: LogDeliveryConfigurationStatus,
) -> LogDeliveryConfiguration {
    LogDeliveryConfiguration::builder()
        .log_type(LogType::SlowLog)
        .destination_type(DestinationType::CloudWatchLogs)
        .destination_details(
            DestinationDetails::builder()
                .cloud_watch_logs_details(
                    CloudWatchLogsDestinationDetails::builder()
                        .log_group(group)
                        .build(),
                )
                .build(),
        )
        .log_format(LogFormat::Json)
        .status(status)
        .build()
}

/// What the group references, as live and owned.
fn neighbours() -> Vec<Observed> {
    let mut sg = Observed::new(rid_of("sg/redis"), "sg-redis");
    sg.attrs.insert("id".into(), "sg-redis".into());
    let mut secret = Observed::new(rid_of("secret/redis"), SECRET_ARN);
    secret.attrs.insert("arn".into(), SECRET_ARN.into());
    secret.attrs.insert("generated_id".into(), "gen-1".into());
    let sng = Observed::new(rid_of("cache_subnet_group/main"), "rtech-dev-redis");
    let slow_log = Observed::new(
        rid_of("log_group/redis-slow-log"),
        "/elasticache/rtech-dev/slow-log",
    );
    let mut topic = Observed::new(rid_of("sns_topic/alerts"), TOPIC_ARN);
    topic.attrs.insert("arn".into(), TOPIC_ARN.into());
    vec![sg, secret, sng, slow_log, topic]
}

/// The plan for `redis/main` alone (its neighbours are observed, not desired).
fn plan_for(desired: &Resource, observed: Observed) -> Plan {
    let mut all = neighbours();
    all.push(observed);
    let mut plan = diff_of("dev", std::slice::from_ref(desired), &all, false);
    // The neighbours are not desired here: their deletes are not what these tests look at.
    plan.changes.retain(|c| c.id == rid_of("redis/main"));
    plan
}

fn group_of(rs: &[Resource]) -> Resource {
    get(rs, "redis/main").clone()
}

/// The group's typed properties.
fn props(r: &Resource) -> RedisProps {
    from_props(&r.props).unwrap()
}

#[test]
fn a_group_as_created_has_no_diff_and_the_attributes_dependants_need() {
    for redis in [dev_redis().as_str(), PROD_REDIS] {
        let d = group_of(&expand(&spec(redis)));
        let (g, m, tags) = live(&d);
        let o = observe_group(&g.build(), Some(&m.build()), &tags, Some(&props(&d)));
        assert_eq!(o.attrs["id"], "rtech-dev-redis");
        assert_eq!(o.attrs["arn"], ARN);
        assert_eq!(
            o.attrs["primary_endpoint"],
            "master.rtech-dev-redis.abc.use1.cache.amazonaws.com"
        );
        assert!(o.attrs["reader_endpoint"].starts_with("replica."));
        assert_eq!(o.attrs["port"], "6379");
        assert!(
            !o.props["tags"]
                .as_map()
                .unwrap()
                .contains_key(TAG_AUTH_TOKEN_ID),
            "the token's record is a property of its own"
        );
        let plan = plan_for(&d, o);
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    }
}

#[test]
fn pending_modifications_count_as_done() {
    let d = group_of(&expand(&spec(
        &PROD_REDIS.replace("cache.t3.micro", "cache.t3.small"),
    )));
    let (g, m, tags) = live(&d);
    // The live group still runs the old node type and has failover off, with the spec's
    // values waiting for the maintenance window.
    let g = g
        .cache_node_type("cache.t3.micro")
        .automatic_failover(AutomaticFailoverStatus::Disabled)
        .pending_modified_values(
            ReplicationGroupPendingModifiedValues::builder()
                .automatic_failover_status(PendingAutomaticFailoverStatus::Enabled)
                .build(),
        )
        .build();
    let m = m
        .engine_version("7.0.7")
        .pending_modified_values(
            PendingModifiedValues::builder()
                .cache_node_type("cache.t3.small")
                .engine_version("7.1.2")
                .build(),
        )
        .build();
    let o = observe_group(&g, Some(&m), &tags, Some(&props(&d)));
    assert_eq!(o.get_str("node_type"), Some("cache.t3.small"));
    assert_eq!(o.props["automatic_failover"], Value::Bool(true));
    assert_eq!(o.get_str("engine_version"), Some("7.1"));
    let plan = plan_for(&d, o);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);

    // Without the pending values the same group shows exactly those fields.
    let (g2, m2, tags) = live(&d);
    let g2 = g2
        .cache_node_type("cache.t3.micro")
        .automatic_failover(AutomaticFailoverStatus::Disabled)
        .build();
    let o = observe_group(&g2, Some(&m2.build()), &tags, Some(&props(&d)));
    let plan = plan_for(&d, o);
    assert_eq!(only_update(&plan), ["automatic_failover", "node_type"]);
}

#[test]
fn a_transit_encryption_change_is_a_replace_with_the_reason() {
    let d = group_of(&expand(&spec(PROD_REDIS)));
    let (g, m, tags) = live(&d);
    let g = g.transit_encryption_enabled(false).build();
    let o = observe_group(&g, Some(&m.build()), &tags, Some(&props(&d)));
    let plan = plan_for(&d, o);
    assert_eq!(plan.changes.len(), 1);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Replace);
    assert!(
        c.reason.as_deref().unwrap().contains("transit_encryption"),
        "{:?}",
        c.reason
    );
    let f = c
        .fields
        .iter()
        .find(|f| f.path == "transit_encryption")
        .unwrap();
    assert!(f.forces_replacement);
}

#[test]
fn an_engine_downgrade_is_a_replace_and_an_upgrade_is_an_update() {
    let d = group_of(&expand(&spec(PROD_REDIS)));
    let (g, m, tags) = live(&d);
    let g = g.build();

    let newer = m.clone().engine_version("7.2.4").build();
    let o = observe_group(&g, Some(&newer), &tags, Some(&props(&d)));
    assert_eq!(
        o.get_str("engine_version_downgrade"),
        Some("7.2.4 to 7.1: ElastiCache cannot downgrade in place")
    );
    let plan = plan_for(&d, o);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Replace);
    assert_eq!(
        c.reason.as_deref(),
        Some("engine_version_downgrade cannot change in place")
    );
    assert!(c.fields.iter().any(|f| f.path == "engine_version"));

    let older = m.engine_version("7.0.7").build();
    let o = observe_group(&g, Some(&older), &tags, Some(&props(&d)));
    assert_eq!(o.get_str("engine_version_downgrade"), None);
    let plan = plan_for(&d, o);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(
        c.changed_props(),
        ["engine_version".to_string()].into_iter().collect()
    );
}

#[test]
fn a_new_token_in_the_secret_is_an_update_not_a_replace() {
    let d = group_of(&expand(&spec(PROD_REDIS)));
    let (g, m, mut tags) = live(&d);
    tags.insert(TAG_AUTH_TOKEN_ID.into(), "gen-0".into());
    let o = observe_group(&g.build(), Some(&m.build()), &tags, Some(&props(&d)));
    let plan = plan_for(&d, o);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(
        c.changed_props(),
        ["auth_token_id".to_string()].into_iter().collect()
    );
}

#[test]
fn member_settings_come_from_the_primary_member_and_are_unknown_without_it() {
    let d = group_of(&expand(&spec(&dev_redis())));
    let (g, m, tags) = live(&d);
    let g = g.build();
    let o = observe_group(&g, Some(&m.build()), &tags, Some(&props(&d)));
    assert_eq!(o.get_str("engine_version"), Some("7.1"));
    assert_eq!(
        o.get_str("cache_subnet_group_name"),
        Some("rtech-dev-redis")
    );
    assert_eq!(
        o.props["security_group_ids"],
        Value::List(vec![Value::str("sg-redis")])
    );
    assert_eq!(
        o.get_str("preferred_maintenance_window"),
        Some("sun:06:00-sun:07:00")
    );

    // No member to read (a destroy never needs one): unknown, never guessed.
    let honest = observe_group(&g, None, &tags, Some(&props(&d)));
    for key in [
        "engine_version",
        "cache_subnet_group_name",
        "security_group_ids",
        "preferred_maintenance_window",
    ] {
        assert_eq!(honest.props[key], Value::Null, "{key} is not known");
    }
}

#[test]
fn subnet_group_subnets_follow_the_spec_order() {
    let rs = expand(&spec(&dev_redis()));
    let d = get(&rs, "cache_subnet_group/main");
    let sng = CacheSubnetGroup::builder()
        .cache_subnet_group_name("rtech-dev-redis")
        .cache_subnet_group_description(d.get_str("description").unwrap())
        .arn("arn:aws:elasticache:us-east-1:1:subnetgroup:rtech-dev-redis")
        .subnets(Subnet::builder().subnet_identifier("subnet-aaa").build())
        .subnets(Subnet::builder().subnet_identifier("subnet-bbb").build())
        .build();
    // subnet-aaa is private-b and subnet-bbb is private-a: AWS's order is not the spec's.
    let rids = BTreeMap::from([
        ("subnet-aaa".to_string(), rid_of("subnet/private-b")),
        ("subnet-bbb".to_string(), rid_of("subnet/private-a")),
    ]);
    let o = observe_subnet_group(&sng, &BTreeMap::new(), &rids, Some(d));
    assert_eq!(
        o.props["subnet_ids"],
        Value::List(vec![Value::str("subnet-bbb"), Value::str("subnet-aaa")])
    );
    assert!(o.deps.contains(&rid_of("subnet/private-a")));
    assert_eq!(o.attrs["id"], "rtech-dev-redis");
}

// ---------------------------------------------------------------------------------------------
// requests

fn client() -> Client {
    crate::offline_client!(aws_sdk_elasticache)
}

/// The desired group with its references resolved, as the executor hands it over.
fn resolved(redis: &str) -> Resource {
    let mut d = group_of(&expand(&spec(redis)));
    let lookup = |r: &crate::model::Ref| -> Option<String> {
        Some(match (r.resource.to_string().as_str(), r.attr.as_str()) {
            ("sg/redis", "id") => "sg-redis".into(),
            ("secret/redis", "arn") => SECRET_ARN.into(),
            ("secret/redis", "generated_id") => "gen-1".into(),
            ("sns_topic/alerts", "arn") => TOPIC_ARN.into(),
            _ => return None,
        })
    };
    d.props = d
        .props
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve(&lookup)))
        .collect();
    d
}

fn tag_of(tags: &[Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_string))
}

#[test]
fn create_asks_for_primary_plus_replicas_and_the_token_only_with_transit() {
    let d = resolved(PROD_REDIS);
    let req = create_request(&client(), &d.name, &props(&d), Some("not-a-real-token")).unwrap();
    let i = req.as_input();
    assert_eq!(
        i.get_replication_group_id().as_deref(),
        Some("rtech-dev-redis")
    );
    assert_eq!(i.get_num_cache_clusters(), &Some(2));
    assert_eq!(
        i.get_replicas_per_node_group(),
        &None,
        "AWS gets NumCacheClusters only"
    );
    assert_eq!(i.get_automatic_failover_enabled(), &Some(true));
    assert_eq!(i.get_multi_az_enabled(), &Some(true));
    assert_eq!(i.get_transit_encryption_enabled(), &Some(true));
    assert_eq!(i.get_at_rest_encryption_enabled(), &Some(true));
    assert_eq!(i.get_auth_token().as_deref(), Some("not-a-real-token"));
    assert_eq!(i.get_port(), &Some(6379));
    assert_eq!(i.get_engine().as_deref(), Some("redis"));
    assert_eq!(i.get_engine_version().as_deref(), Some("7.1"));
    assert_eq!(
        i.get_security_group_ids().as_deref(),
        Some(&["sg-redis".to_string()][..])
    );
    assert_eq!(
        i.get_cache_subnet_group_name().as_deref(),
        Some("rtech-dev-redis")
    );
    assert_eq!(i.get_snapshot_retention_limit(), &Some(7));
    assert_eq!(i.get_snapshot_window().as_deref(), Some("05:00-06:00"));
    let tags = i.get_tags().clone().unwrap();
    assert_eq!(tag_of(&tags, TAG_AUTH_TOKEN_ID).as_deref(), Some("gen-1"));
    assert_eq!(
        tag_of(&tags, TAG_AUTH_TOKEN_SECRET).as_deref(),
        Some(SECRET_ARN)
    );
    assert_eq!(tag_of(&tags, TAG_FINAL_SNAPSHOT).as_deref(), Some("take"));

    let dev = resolved(&dev_redis().replace(
        "apply_immediately",
        "transit_encryption = false\napply_immediately",
    ));
    let req = create_request(&client(), &dev.name, &props(&dev), None).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_num_cache_clusters(), &Some(1));
    assert_eq!(i.get_automatic_failover_enabled(), &Some(false));
    assert_eq!(i.get_auth_token(), &None);
    assert_eq!(i.get_transit_encryption_enabled(), &Some(false));
    assert_eq!(i.get_snapshot_window(), &None);
    assert_eq!(
        tag_of(i.get_tags().as_deref().unwrap(), TAG_AUTH_TOKEN_ID),
        None
    );
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn modify_sends_only_the_changed_fields_and_the_specs_apply_immediately() {
    let prod = resolved(PROD_REDIS);
    let req = modify_request(
        &client(),
        "g",
        &props(&prod),
        &set(&["snapshot_retention_limit"]),
    )
    .unwrap()
    .unwrap();
    let i = req.as_input();
    assert_eq!(i.get_snapshot_retention_limit(), &Some(7));
    assert_eq!(
        i.get_apply_immediately(),
        &Some(false),
        "prod waits for the window"
    );
    assert_eq!(i.get_cache_node_type(), &None);
    assert_eq!(i.get_engine_version(), &None);
    assert_eq!(i.get_automatic_failover_enabled(), &None);
    assert_eq!(i.get_security_group_ids(), &None);
    assert_eq!(i.get_auth_token(), &None);

    let dev = resolved(&dev_redis());
    let req = modify_request(
        &client(),
        "g",
        &props(&dev),
        &set(&[
            "node_type",
            "multi_az",
            "security_group_ids",
            "preferred_maintenance_window",
        ]),
    )
    .unwrap()
    .unwrap();
    let i = req.as_input();
    assert_eq!(i.get_apply_immediately(), &Some(true));
    assert_eq!(i.get_cache_node_type().as_deref(), Some("cache.t3.micro"));
    // Multi-AZ needs failover: both are sent together.
    assert_eq!(i.get_multi_az_enabled(), &Some(false));
    assert_eq!(i.get_automatic_failover_enabled(), &Some(false));
    assert_eq!(
        i.get_security_group_ids().as_deref(),
        Some(&["sg-redis".to_string()][..])
    );
    assert_eq!(
        i.get_preferred_maintenance_window().as_deref(),
        Some("sun:06:00-sun:07:00")
    );

    // Tags, the token and replica counts go through other calls.
    assert!(modify_request(
        &client(),
        "g",
        &props(&dev),
        &set(&["tags", "auth_token_id", "num_cache_clusters"])
    )
    .unwrap()
    .is_none());
}

#[test]
fn token_rotation_uses_rotate_and_applies_at_once() {
    let req = rotate_token_request(&client(), "rtech-dev-redis", "not-a-real-token");
    let i = req.as_input();
    assert_eq!(
        i.get_replication_group_id().as_deref(),
        Some("rtech-dev-redis")
    );
    assert_eq!(i.get_auth_token().as_deref(), Some("not-a-real-token"));
    assert_eq!(
        i.get_auth_token_update_strategy(),
        &Some(AuthTokenUpdateStrategyType::Rotate)
    );
    assert_eq!(i.get_apply_immediately(), &Some(true));
}

#[test]
fn replica_counts_are_nodes_minus_the_primary_and_immediate() {
    let up = increase_replicas_request(&client(), "g", 3);
    assert_eq!(up.as_input().get_new_replica_count(), &Some(2));
    assert_eq!(up.as_input().get_apply_immediately(), &Some(true));
    assert_eq!(
        up.as_input().get_replication_group_id().as_deref(),
        Some("g")
    );
    let down = decrease_replicas_request(&client(), "g", 1);
    assert_eq!(down.as_input().get_new_replica_count(), &Some(0));
    assert_eq!(down.as_input().get_apply_immediately(), &Some(true));
}

#[test]
fn delete_takes_a_final_snapshot_unless_the_group_says_skip() {
    let now = DateTime::from_secs(1_795_639_409); // 2026-11-25T20:43:29Z
    assert_eq!(
        final_snapshot_name("rtech-prod-redis", now),
        "rtech-prod-redis-final-20261125204329"
    );
    let with_tag = |v: Option<&str>| {
        let mut t = BTreeMap::new();
        if let Some(v) = v {
            t.insert(TAG_FINAL_SNAPSHOT.to_string(), v.to_string());
        }
        Observed::new(rid_of("redis/main"), "rtech-prod-redis").prop("tags", Value::string_map(&t))
    };
    let take = delete_request(&client(), &with_tag(Some("take")), now);
    assert_eq!(
        take.as_input().get_final_snapshot_identifier().as_deref(),
        Some("rtech-prod-redis-final-20261125204329")
    );
    assert_eq!(
        take.as_input().get_replication_group_id().as_deref(),
        Some("rtech-prod-redis")
    );
    let untagged = delete_request(&client(), &with_tag(None), now);
    assert!(
        untagged
            .as_input()
            .get_final_snapshot_identifier()
            .is_some(),
        "without the tag the data is kept"
    );
    let skip = delete_request(&client(), &with_tag(Some("skip")), now);
    assert_eq!(skip.as_input().get_final_snapshot_identifier(), &None);
}

#[test]
fn subnet_group_modify_and_delete_requests() {
    let rs = expand(&spec(&dev_redis()));
    let mut d = get(&rs, "cache_subnet_group/main").clone();
    d.props.insert(
        "subnet_ids".into(),
        Value::List(vec![Value::str("subnet-a"), Value::str("subnet-b")]),
    );
    let p: SubnetGroupProps = from_props(&d.props).unwrap();
    let m = modify_subnet_group_request(&client(), &p, "rtech-dev-redis").unwrap();
    let i = m.as_input();
    assert_eq!(
        i.get_cache_subnet_group_name().as_deref(),
        Some("rtech-dev-redis")
    );
    assert_eq!(
        i.get_subnet_ids().as_deref(),
        Some(&["subnet-a".to_string(), "subnet-b".to_string()][..])
    );
    assert_eq!(
        i.get_cache_subnet_group_description().as_deref(),
        Some("rtech dev: private subnets for ElastiCache Redis")
    );
    let del = delete_subnet_group_request(&client(), "rtech-dev-redis");
    assert_eq!(
        del.as_input().get_cache_subnet_group_name().as_deref(),
        Some("rtech-dev-redis")
    );
}

// ---------------------------------------------------------------------------------------------
// slow-log delivery

#[test]
fn the_slow_log_goes_to_its_log_group_as_json_and_the_group_waits_for_it() {
    let d = group_of(&expand(&spec(&dev_redis())));
    assert_eq!(
        props(&d).log_delivery,
        slow_log_delivery("/elasticache/rtech-dev/slow-log")
    );
    let entry = d.props["log_delivery"].as_map().unwrap()["slow-log"]
        .as_map()
        .unwrap()
        .clone();
    assert_eq!(entry["destination_type"], Value::str("cloudwatch-logs"));
    assert_eq!(entry["log_format"], Value::str("json"));
    assert!(d.deps.contains(&rid_of("log_group/redis-slow-log")));
}

#[test]
fn delivery_turned_off_or_pointed_elsewhere_is_an_in_place_update() {
    let d = group_of(&expand(&spec(PROD_REDIS)));
    for (configs, what) in [
        (vec![], "no delivery"),
        (
            vec![slow_log_config(
                "/elasticache/rtech-dev/slow-log",
                LogDeliveryConfigurationStatus::Disabling,
            )],
            "delivery being turned off",
        ),
        (
            vec![slow_log_config(
                "/elasticache/rtech-dev/slow-log",
                LogDeliveryConfigurationStatus::Error,
            )],
            "delivery failing",
        ),
        (
            vec![slow_log_config(
                "/somewhere/else",
                LogDeliveryConfigurationStatus::Active,
            )],
            "another log group",
        ),
    ] {
        let (g, m, tags) = live(&d);
        let g = g.set_log_delivery_configurations(Some(configs)).build();
        let o = observe_group(&g, Some(&m.build()), &tags, Some(&props(&d)));
        let plan = plan_for(&d, o);
        assert_eq!(plan.changes.len(), 1, "{what}: {:#?}", plan.changes);
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::Update, "{what}");
        let fields: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        assert!(
            fields.iter().all(|f| f.starts_with("log_delivery")),
            "{what}: only the delivery changes: {fields:?}"
        );
    }
}

#[test]
fn create_and_modify_send_the_delivery_and_turn_off_what_the_spec_lacks() {
    let dev = resolved(&dev_redis());
    let req = create_request(&client(), &dev.name, &props(&dev), None).unwrap();
    let sent = req
        .as_input()
        .get_log_delivery_configurations()
        .clone()
        .unwrap();
    assert_eq!(sent.len(), 1);
    let c = &sent[0];
    assert_eq!(c.log_type(), Some(&LogType::SlowLog));
    assert_eq!(c.destination_type(), Some(&DestinationType::CloudWatchLogs));
    assert_eq!(c.log_format(), Some(&LogFormat::Json));
    assert_eq!(c.enabled(), Some(true));
    assert_eq!(
        c.destination_details()
            .and_then(|d| d.cloud_watch_logs_details())
            .and_then(|d| d.log_group()),
        Some("/elasticache/rtech-dev/slow-log")
    );

    // Live: the engine log delivered out of band to Firehose, the slow log missing.
    let mut live = props(&dev);
    live.log_delivery = BTreeMap::from([(
        "engine-log".to_string(),
        delivery(KINESIS_FIREHOSE, "someone-elses-stream", "text"),
    )]);
    // Nothing for the ordinary modify: the delivery is its own, immediate call.
    assert!(
        modify_request(&client(), "g", &props(&dev), &set(&["log_delivery"]))
            .unwrap()
            .is_none()
    );
    let req = log_delivery_request(&client(), "g", &props(&dev), &live).unwrap();
    assert_eq!(req.as_input().get_apply_immediately(), &Some(true));
    let sent = req
        .as_input()
        .get_log_delivery_configurations()
        .clone()
        .unwrap();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0].log_type(), Some(&LogType::SlowLog));
    assert_eq!(sent[0].enabled(), Some(true));
    assert_eq!(sent[1].log_type(), Some(&LogType::EngineLog));
    assert_eq!(sent[1].enabled(), Some(false));
    assert_eq!(sent[1].destination_details(), None);
    // Nothing else rides along.
    assert_eq!(req.as_input().get_cache_node_type(), &None);
}

#[test]
fn a_firehose_delivery_reads_back_in_the_same_shape() {
    let g = ReplicationGroup::builder()
        .log_delivery_configurations(
            LogDeliveryConfiguration::builder()
                .log_type(LogType::EngineLog)
                .destination_type(DestinationType::KinesisFirehose)
                .destination_details(
                    DestinationDetails::builder()
                        .kinesis_firehose_details(
                            KinesisFirehoseDestinationDetails::builder()
                                .delivery_stream("s")
                                .build(),
                        )
                        .build(),
                )
                .log_format(LogFormat::Text)
                .status(LogDeliveryConfigurationStatus::Enabling)
                .build(),
        )
        .build();
    let v = observe_log_delivery(&g);
    assert_eq!(
        v,
        BTreeMap::from([(
            "engine-log".to_string(),
            delivery(KINESIS_FIREHOSE, "s", "text")
        )])
    );
    // Round trip: the request built from what was read names the same stream.
    let sent = log_delivery_requests(&v, &BTreeMap::new());
    assert_eq!(
        sent[0]
            .destination_details()
            .and_then(|d| d.kinesis_firehose_details())
            .and_then(|d| d.delivery_stream()),
        Some("s")
    );
}

// ---------------------------------------------------------------------------------------------
// event notifications

#[test]
fn the_group_sends_its_events_to_the_alerts_topic_when_the_env_has_one() {
    let g = group_of(&expand(&spec(PROD_REDIS)));
    assert_eq!(
        refs(&g.props["notification_topic_arn"]),
        ["sns_topic/alerts.arn"]
    );
    assert!(g.deps.contains(&rid_of("sns_topic/alerts")));
    let quiet = group_of(&expand(&spec(&format!(
        "{PROD_REDIS}\n[monitoring]\nalarms_enabled = false\n"
    ))));
    assert_eq!(quiet.props["notification_topic_arn"], Value::Null);

    let d = resolved(PROD_REDIS);
    let req = create_request(&client(), "g", &props(&d), None).unwrap();
    assert_eq!(req.get_notification_topic_arn().as_deref(), Some(TOPIC_ARN));
}

#[test]
fn notifications_turned_off_or_repointed_are_that_drift_and_modify_sets_them_back() {
    let d = group_of(&expand(&spec(PROD_REDIS)));
    for (status, arn) in [
        ("inactive", TOPIC_ARN),
        ("active", "arn:aws:sns:us-east-1:1:other"),
    ] {
        let (g, m, tags) = live(&d);
        let m = m.notification_configuration(
            NotificationConfiguration::builder()
                .topic_arn(arn)
                .topic_status(status)
                .build(),
        );
        let o = observe_group(&g.build(), Some(&m.build()), &tags, Some(&props(&d)));
        let plan = plan_for(&d, o);
        assert_eq!(
            only_update(&plan),
            ["notification_topic_arn"],
            "{status} {arn}"
        );
    }

    let prod = resolved(PROD_REDIS);
    let i = modify_request(
        &client(),
        "g",
        &props(&prod),
        &set(&["notification_topic_arn"]),
    )
    .unwrap()
    .unwrap();
    let i = i.as_input();
    assert_eq!(i.get_notification_topic_arn().as_deref(), Some(TOPIC_ARN));
    assert_eq!(i.get_notification_topic_status().as_deref(), Some("active"));
    assert_eq!(i.get_snapshot_retention_limit(), &None);

    // No topic in the spec any more: notifications are turned off.
    let mut none = props(&prod);
    none.notification_topic_arn = None;
    let i = modify_request(&client(), "g", &none, &set(&["notification_topic_arn"]))
        .unwrap()
        .unwrap();
    assert_eq!(
        i.as_input().get_notification_topic_status().as_deref(),
        Some("inactive")
    );
}
