//! ElastiCache Redis: `cache_subnet_group/main` (the private subnets) and `redis/main`, a
//! cluster-mode-disabled replication group (a primary plus `replicas` read replicas, with
//! automatic failover and Multi-AZ when there is at least one replica).
//!
//! What the plan compares and how each field is applied:
//! - updatable through ModifyReplicationGroup: description, engine_version (upgrades only),
//!   node_type, automatic_failover, multi_az, snapshot_retention_limit, snapshot_window,
//!   preferred_maintenance_window, security_group_ids, log_delivery; `apply_immediately` is not
//!   a compared field: it lives in the `rtech:apply-immediately` tag and steers
//!   ModifyReplicationGroup.
//! - log_delivery (seed 7.2): the slow log goes to `log_group/redis-slow-log` as JSON, a map of
//!   log type → `{destination_type, destination, log_format}`. A log type delivered live but not
//!   in the spec is turned off (`Enabled = false`); a configuration AWS is `disabling`, or in
//!   `error`, counts as not delivering. The group depends on the log group (AWS wants the destination to exist first). A
//!   delivery change is a ModifyReplicationGroup of its own with ApplyImmediately = true (AWS
//!   refuses one held for the maintenance window).
//! - num_cache_clusters: IncreaseReplicaCount / DecreaseReplicaCount (replicas are added before
//!   failover is turned on, and removed after it is turned off).
//! - replaced (delete, then create): engine, port, cache_subnet_group_name, at_rest_encryption,
//!   transit_encryption, and an engine downgrade (the synthetic `engine_version_downgrade`
//!   field, set by observe only when the live version is newer than the spec's; the same name
//!   DocumentDB uses).
//! - the AUTH token (with transit encryption): the group records which generated token it holds
//!   in the tags `rtech:auth-token-id` / `rtech:auth-token-secret`, reported as the properties
//!   `auth_token_id` / `auth_token_secret`; a new token in the secret rotates it
//!   (ModifyReplicationGroup AuthToken, AuthTokenUpdateStrategy=ROTATE). The token itself is read
//!   from Secrets Manager at apply time and never put in a property, attribute, log or error.
//! - modifications AWS holds for the maintenance window (PendingModifiedValues) count as done.
//! - delete: `rtech:final-snapshot` on the live group says `skip` or `take` (destroy has no
//!   spec); `take` deletes with FinalSnapshotIdentifier `<group>-final-<UTC yyyymmddHHMMSS>`.
//!
//! # The local emulator (`RTECH_EMULATOR_QUIRKS=1`)
//!
//! moto 5.2.5 differs from ElastiCache in ways no honest normalisation can hide, so rtech has one
//! explicit switch, the environment variable `RTECH_EMULATOR_QUIRKS=1`, which the e2e harness
//! (tests/e2e/support.rs) sets and which must never be set against AWS. With it:
//! - a group in `deleting` counts as deleted once DeleteReplicationGroup has been accepted
//!   (moto never finishes deleting one); otherwise the real waiter
//!   (`wait_until_replication_group_deleted`) runs, untouched. Creating a group whose name a
//!   `deleting` group still holds fails with `ReplicationGroupStillDeleting` (AWS: rtech waits).
//! - DeleteCacheSubnetGroup and ModifyCacheSubnetGroup are still called; when the emulator
//!   answers them with its HTTP 500 ("not implemented"), destroy reports the subnet group as
//!   left in place and an update as not made (the next plan shows it again) instead of failing.
//! - CreateReplicationGroup also sends ReplicasPerNodeGroup (moto ignores NumCacheClusters and
//!   makes `ReplicasPerNodeGroup + 1` members); against AWS only NumCacheClusters is sent.
//! - moto creates no member cache clusters, so engine version, subnet group, security groups and
//!   maintenance window cannot be read back; rtech records what it asked for in the tag
//!   `rtech:emulator-echo` and observe reads them from there when no member cluster exists.
//!   Without the switch a missing member cluster is an error (`MemberClusterNotFound`), never a
//!   plan built on guesses.
//!
//! scripts/moto_elasticache_shim.py (applied by scripts/moto_server.py) fixes the first three in
//! the emulator itself; everything here works with and without it.
//!
//! Calls moto does not implement (IncreaseReplicaCount, DecreaseReplicaCount,
//! ModifyCacheSubnetGroup, DeleteCacheSubnetGroup) are kept as the real calls, and their
//! requests are unit-tested (tests.rs), as are CreateReplicationGroup, ModifyReplicationGroup
//! (fields and AUTH token rotation) and DeleteReplicationGroup (final snapshot).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::operation::create_replication_group::builders::CreateReplicationGroupFluentBuilder;
use aws_sdk_elasticache::operation::decrease_replica_count::builders::DecreaseReplicaCountFluentBuilder;
use aws_sdk_elasticache::operation::delete_cache_subnet_group::builders::DeleteCacheSubnetGroupFluentBuilder;
use aws_sdk_elasticache::operation::delete_replication_group::builders::DeleteReplicationGroupFluentBuilder;
use aws_sdk_elasticache::operation::increase_replica_count::builders::IncreaseReplicaCountFluentBuilder;
use aws_sdk_elasticache::operation::modify_cache_subnet_group::builders::ModifyCacheSubnetGroupFluentBuilder;
use aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, CacheCluster, CacheSubnetGroup, CloudWatchLogsDestinationDetails,
    DestinationDetails, DestinationType, KinesisFirehoseDestinationDetails,
    LogDeliveryConfigurationRequest, LogDeliveryConfigurationStatus, LogFormat, LogType,
    ReplicationGroup, Tag,
};
use aws_sdk_elasticache::Client;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::aws::waited;
use crate::aws::{aws, retry_on, AwsError};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::logs::{redis_slow_log_id, redis_slow_log_name};
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::network::{Network as NetSpec, REDIS_PORT};
use crate::spec::Spec;

pub const SUBNET_GROUP: &str = "cache_subnet_group";
pub const REDIS: &str = "redis";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: SUBNET_GROUP,
        // ModifyCacheSubnetGroup changes the description and the subnets in place.
        force_new: &[],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: REDIS,
        force_new: &[
            "engine",
            "engine_version_downgrade",
            "port",
            "cache_subnet_group_name",
            "at_rest_encryption",
            "transit_encryption",
        ],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

/// How destroy treats the group: `skip` or `take` a final snapshot.
pub const TAG_FINAL_SNAPSHOT: &str = "rtech:final-snapshot";
/// The spec's `apply_immediately`, kept on the group (not a compared field).
pub const TAG_APPLY_IMMEDIATELY: &str = "rtech:apply-immediately";
/// Which generated AUTH token the group holds (the secret's `generated_id`), and from where.
pub const TAG_AUTH_TOKEN_ID: &str = "rtech:auth-token-id";
pub const TAG_AUTH_TOKEN_SECRET: &str = "rtech:auth-token-secret";
/// Emulator only: what rtech asked for that moto accepts but cannot report (module docs).
pub const TAG_EMULATOR_ECHO: &str = "rtech:emulator-echo";
/// Tags rtech manages through their own properties, kept out of the `tags` property.
const INTERNAL_TAGS: &[&str] = &[TAG_AUTH_TOKEN_ID, TAG_AUTH_TOKEN_SECRET, TAG_EMULATOR_ECHO];

use crate::aws::QUIRKS_ENV;

/// The local emulator's documented ElastiCache gaps may be bridged (module docs): only with
/// the switch set and a loopback endpoint (`Clients::emulator_quirks`).
fn emulator_quirks(ctx: &Ctx) -> bool {
    ctx.clients.emulator_quirks
}

/// Creating or modifying a replication group takes minutes, up to 40-60 in the worst case.
const WAIT: Duration = Duration::from_secs(60 * 60);
/// How long DeleteCacheSubnetGroup retries while a deleted group still holds the subnets.
const IN_USE_RETRY: Duration = Duration::from_secs(10 * 60);

const ENGINE: &str = "redis";

fn rid(kind: &str) -> ResourceId {
    ResourceId::new(kind, "main")
}

fn secret_ref() -> ResourceId {
    ResourceId::new("secret", "redis")
}

// ---------------------------------------------------------------------------------------------
// expand

/// Spec → Desired (pure): nothing without a `[redis]` section.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(r) = &spec.redis else {
        return vec![];
    };
    let name = spec.name("redis");
    let tags = |id: &ResourceId| tags_for(&spec.project, &spec.env, id, &name, &spec.tags);

    let sng = rid(SUBNET_GROUP);
    let subnets: Vec<Value> = spec
        .network
        .azs
        .iter()
        .map(|az| {
            let s = ResourceId::new("subnet", format!("private-{}", NetSpec::az_suffix(az)));
            Value::reference(&s, "id")
        })
        .collect();
    let subnet_group = Resource::new(sng.clone(), &name)
        .prop(
            "description",
            Value::str(format!(
                "rtech {}: private subnets for ElastiCache Redis",
                spec.env
            )),
        )
        .prop("subnet_ids", Value::List(subnets))
        .prop("tags", Value::string_map(&tags(&sng)));

    let group = rid(REDIS);
    let mut group_tags = tags(&group);
    group_tags.insert(
        TAG_FINAL_SNAPSHOT.into(),
        if r.skip_final_snapshot {
            "skip"
        } else {
            "take"
        }
        .into(),
    );
    group_tags.insert(
        TAG_APPLY_IMMEDIATELY.into(),
        r.apply_immediately.to_string(),
    );
    let ha = r.replicas > 0;
    let mut g = Resource::new(group.clone(), &name)
        .prop(
            "description",
            Value::str(format!("rtech {}: ElastiCache Redis", spec.env)),
        )
        .prop("engine", Value::str(ENGINE))
        .prop("engine_version", Value::str(&r.engine_version))
        // Set by observe only when the live engine is newer than the spec's (a downgrade).
        .prop("engine_version_downgrade", Value::Null)
        .prop("node_type", Value::str(&r.node_type))
        .prop("port", Value::Int(REDIS_PORT as i64))
        .prop("cache_subnet_group_name", Value::str(&name))
        .dep(&sng)
        .prop(
            "security_group_ids",
            Value::List(vec![Value::reference(
                &ResourceId::new("sg", "redis"),
                "id",
            )]),
        )
        .prop("num_cache_clusters", Value::Int(1 + r.replicas as i64))
        .prop("automatic_failover", Value::Bool(ha))
        .prop("multi_az", Value::Bool(ha))
        .prop("at_rest_encryption", Value::Bool(r.at_rest_encryption))
        .prop("transit_encryption", Value::Bool(r.transit_encryption))
        .prop(
            "snapshot_retention_limit",
            Value::Int(r.snapshot_retention_days),
        )
        // The window means nothing without snapshots; AWS keeps one anyway: not compared then.
        .prop(
            "snapshot_window",
            if r.snapshot_retention_days > 0 {
                Value::str(&r.snapshot_window)
            } else {
                Value::Null
            },
        )
        .prop(
            "preferred_maintenance_window",
            Value::str(r.maintenance_window.to_lowercase()),
        )
        .prop(
            "log_delivery",
            slow_log_delivery(&redis_slow_log_name(&spec.project, &spec.env)),
        )
        .dep(&redis_slow_log_id())
        .prop("tags", Value::string_map(&group_tags));
    if r.transit_encryption {
        g = g
            .prop("auth_token_secret", Value::reference(&secret_ref(), "arn"))
            .prop(
                "auth_token_id",
                Value::reference(&secret_ref(), "generated_id"),
            );
    }
    vec![subnet_group, g]
}

const SLOW_LOG: &str = "slow-log";
const CLOUDWATCH_LOGS: &str = "cloudwatch-logs";
const KINESIS_FIREHOSE: &str = "kinesis-firehose";

/// One log type's delivery, in the shape observe reports.
fn delivery(destination_type: &str, destination: &str, log_format: &str) -> Value {
    Value::Map(BTreeMap::from([
        ("destination_type".into(), Value::str(destination_type)),
        ("destination".into(), Value::str(destination)),
        ("log_format".into(), Value::str(log_format)),
    ]))
}

/// The spec's delivery: the slow log to the given CloudWatch Logs group, as JSON.
pub fn slow_log_delivery(log_group: &str) -> Value {
    Value::Map(BTreeMap::from([(
        SLOW_LOG.to_string(),
        delivery(CLOUDWATCH_LOGS, log_group, "json"),
    )]))
}

/// The live delivery configurations, in the shape of `slow_log_delivery` (pure). One AWS is
/// turning off, or reports in `error`, counts as not delivering (so the plan shows it).
pub fn observe_log_delivery(g: &ReplicationGroup) -> Value {
    let mut m = BTreeMap::new();
    for c in g.log_delivery_configurations() {
        // Being turned off, or failing (a missing log group policy): not delivering.
        if matches!(
            c.status(),
            Some(LogDeliveryConfigurationStatus::Disabling | LogDeliveryConfigurationStatus::Error)
        ) {
            continue;
        }
        let Some(log_type) = c.log_type() else {
            continue;
        };
        let details = c.destination_details();
        let destination = details
            .and_then(|d| d.cloud_watch_logs_details())
            .and_then(|d| d.log_group())
            .or(details
                .and_then(|d| d.kinesis_firehose_details())
                .and_then(|d| d.delivery_stream()))
            .unwrap_or_default();
        m.insert(
            log_type.as_str().to_string(),
            delivery(
                c.destination_type().map(|t| t.as_str()).unwrap_or_default(),
                destination,
                c.log_format().map(|f| f.as_str()).unwrap_or_default(),
            ),
        );
    }
    Value::Map(m)
}

fn delivery_map(v: Option<&Value>) -> BTreeMap<String, Value> {
    match v {
        Some(Value::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    }
}

/// The requests that turn `live` delivery into the desired one: every wanted log type
/// (enabled), and `Enabled = false` for each live type the spec no longer has.
pub fn log_delivery_requests(
    want: Option<&Value>,
    live: Option<&Value>,
) -> Vec<LogDeliveryConfigurationRequest> {
    let want = delivery_map(want);
    let mut out: Vec<LogDeliveryConfigurationRequest> = want
        .iter()
        .map(|(log_type, d)| {
            let field = |k: &str| match d {
                Value::Map(m) => m.get(k).and_then(Value::as_str).unwrap_or_default(),
                _ => "",
            };
            let target = field("destination").to_string();
            let details = match field("destination_type") {
                KINESIS_FIREHOSE => DestinationDetails::builder()
                    .kinesis_firehose_details(
                        KinesisFirehoseDestinationDetails::builder()
                            .delivery_stream(target)
                            .build(),
                    )
                    .build(),
                _ => DestinationDetails::builder()
                    .cloud_watch_logs_details(
                        CloudWatchLogsDestinationDetails::builder()
                            .log_group(target)
                            .build(),
                    )
                    .build(),
            };
            LogDeliveryConfigurationRequest::builder()
                .log_type(LogType::from(log_type.as_str()))
                .destination_type(DestinationType::from(field("destination_type")))
                .destination_details(details)
                .log_format(LogFormat::from(field("log_format")))
                .enabled(true)
                .build()
        })
        .collect();
    for log_type in delivery_map(live).keys() {
        if !want.contains_key(log_type) {
            out.push(
                LogDeliveryConfigurationRequest::builder()
                    .log_type(LogType::from(log_type.as_str()))
                    .enabled(false)
                    .build(),
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (t.key(), t.value())))
}

fn ours(ctx_project: &str, ctx_env: &str, tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(ctx_project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(ctx_env)
}

/// The `tags` property: every tag but the ones rtech keeps behind their own properties.
fn visible_tags(tags: &BTreeMap<String, String>) -> Value {
    Value::string_map(
        tags.iter()
            .filter(|(k, _)| !INTERNAL_TAGS.contains(&k.as_str())),
    )
}

fn version_parts(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `7.1.0` is what AWS reports for a group created with `7.1`: report it as the spec wrote it
/// when the live version is within the spec's line, and as AWS has it otherwise.
fn normalise_version(live: &str, wanted: Option<&str>) -> String {
    if let Some(w) = wanted {
        let (l, w_parts) = (version_parts(live), version_parts(w));
        if l.len() >= w_parts.len() && l[..w_parts.len()] == w_parts[..] {
            return w.to_string();
        }
    }
    live.to_string()
}

/// Whether going from `live` to `wanted` is a downgrade (not possible in place).
fn is_downgrade(live: &str, wanted: &str) -> bool {
    let (mut l, mut w) = (version_parts(live), version_parts(wanted));
    if l.len() >= w.len() && l[..w.len()] == w[..] {
        return false;
    }
    let n = l.len().max(w.len());
    l.resize(n, 0);
    w.resize(n, 0);
    l > w
}

/// The settings moto accepts but cannot report (it creates no member clusters).
const ECHOED: &[&str] = &[
    "engine_version",
    "cache_subnet_group_name",
    "security_group_ids",
    "preferred_maintenance_window",
];

/// `key=value` pairs separated by spaces (ElastiCache tag values allow letters, digits,
/// spaces and `_ . : / = + - @`); list items joined with `+`.
fn echo_value(r: &Resource) -> String {
    ECHOED
        .iter()
        .map(|k| {
            let v = match *k {
                "security_group_ids" => string_list(r.props.get(*k)).join("+"),
                _ => r.get_str(k).unwrap_or_default().to_string(),
            };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_echo(s: &str) -> BTreeMap<String, Value> {
    s.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = if k == "security_group_ids" {
                let mut l: Vec<&str> = v.split('+').filter(|x| !x.is_empty()).collect();
                l.sort();
                Value::List(l.into_iter().map(Value::str).collect())
            } else {
                Value::str(v)
            };
            (k.to_string(), v)
        })
        .collect()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

fn enabled(s: Option<&str>) -> bool {
    matches!(s, Some("enabled" | "enabling"))
}

/// The attributes dependants reference: `id`, `arn`, `primary_endpoint`, `reader_endpoint`
/// (when AWS reports one) and `port`.
pub fn group_attrs(g: &ReplicationGroup) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "id".into(),
        g.replication_group_id().unwrap_or_default().to_string(),
    );
    if let Some(arn) = g.arn() {
        a.insert("arn".into(), arn.to_string());
    }
    let ng = g.node_groups().first();
    let primary = ng
        .and_then(|n| n.primary_endpoint())
        .or(g.configuration_endpoint());
    if let Some(e) = primary {
        if let Some(addr) = e.address() {
            a.insert("primary_endpoint".into(), addr.to_string());
        }
        if let Some(p) = e.port() {
            a.insert("port".into(), p.to_string());
        }
    }
    if let Some(addr) = ng
        .and_then(|n| n.reader_endpoint())
        .and_then(|e| e.address())
    {
        a.insert("reader_endpoint".into(), addr.to_string());
    }
    a
}

/// The member cluster to read the group-wide settings from: the primary, else the first.
fn primary_member(g: &ReplicationGroup) -> Option<&str> {
    g.node_groups()
        .iter()
        .flat_map(|n| n.node_group_members())
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .or_else(|| g.member_clusters().first().map(String::as_str))
}

/// A live replication group → `Observed` in the desired shape (pure). `member` is its primary
/// cache cluster (engine version, subnet group, security groups, maintenance window live
/// there); pending modifications count as done.
pub fn observe_group(
    g: &ReplicationGroup,
    member: Option<&CacheCluster>,
    tags: &BTreeMap<String, String>,
    desired: Option<&Resource>,
    quirks: bool,
) -> Observed {
    let id = rid(REDIS);
    let mut o = Observed::new(id, g.replication_group_id().unwrap_or_default());
    o.attrs = group_attrs(g);
    let set = |o: &mut Observed, k: &str, v: Value| {
        o.props.insert(k.to_string(), v);
    };
    let group_pending = g.pending_modified_values();
    let member_pending = member.and_then(|m| m.pending_modified_values());

    set(&mut o, "description", Value::opt_str(g.description()));
    set(
        &mut o,
        "engine",
        Value::opt_str(g.engine().or(member.and_then(|m| m.engine()))),
    );
    let node_type = member_pending
        .and_then(|p| p.cache_node_type())
        .or(g.cache_node_type());
    set(&mut o, "node_type", Value::opt_str(node_type));
    let port = g
        .node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .or(g.configuration_endpoint())
        .and_then(|e| e.port());
    // No endpoint yet (still creating): the port cannot be read, and cannot have changed.
    let port = match (port, desired.and_then(|d| d.props.get("port"))) {
        (Some(p), _) => Value::Int(p as i64),
        (None, Some(v)) => v.clone(),
        (None, None) => Value::Null,
    };
    set(&mut o, "port", port);
    set(
        &mut o,
        "num_cache_clusters",
        Value::Int(g.member_clusters().len() as i64),
    );
    let failover = match group_pending.and_then(|p| p.automatic_failover_status()) {
        Some(p) => p.as_str() == "enabled",
        None => enabled(g.automatic_failover().map(|a| a.as_str())),
    };
    set(&mut o, "automatic_failover", Value::Bool(failover));
    set(
        &mut o,
        "multi_az",
        Value::Bool(enabled(g.multi_az().map(|m| m.as_str()))),
    );
    set(
        &mut o,
        "at_rest_encryption",
        Value::Bool(g.at_rest_encryption_enabled().unwrap_or(false)),
    );
    let transit = group_pending
        .and_then(|p| p.transit_encryption_enabled())
        .or(member_pending.and_then(|p| p.transit_encryption_enabled()))
        .or(g.transit_encryption_enabled())
        .unwrap_or(false);
    set(&mut o, "transit_encryption", Value::Bool(transit));
    let retention = g.snapshot_retention_limit().unwrap_or(0);
    set(
        &mut o,
        "snapshot_retention_limit",
        Value::Int(retention as i64),
    );
    set(
        &mut o,
        "snapshot_window",
        if retention > 0 {
            Value::opt_str(g.snapshot_window())
        } else {
            Value::Null
        },
    );

    // Settings that live on the member clusters (or, on the emulator, in the echo tag).
    let wanted_version = desired.and_then(|d| d.get_str("engine_version"));
    let echo = match (member, quirks, tags.get(TAG_EMULATOR_ECHO)) {
        (None, true, Some(e)) => parse_echo(e),
        _ => BTreeMap::new(),
    };
    let live_version: Option<String> = match member {
        Some(m) => member_pending
            .and_then(|p| p.engine_version())
            .or(m.engine_version())
            .map(str::to_string),
        None => echo
            .get("engine_version")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    match &live_version {
        Some(v) => {
            set(
                &mut o,
                "engine_version",
                Value::str(normalise_version(v, wanted_version)),
            );
            if let Some(w) = wanted_version {
                if is_downgrade(v, w) {
                    set(
                        &mut o,
                        "engine_version_downgrade",
                        Value::str(format!("{v} to {w}: ElastiCache cannot downgrade in place")),
                    );
                }
            }
        }
        None => set(&mut o, "engine_version", Value::Null),
    }
    match member {
        Some(m) => {
            set(
                &mut o,
                "cache_subnet_group_name",
                Value::opt_str(m.cache_subnet_group_name()),
            );
            let mut sgs: Vec<&str> = m
                .security_groups()
                .iter()
                .filter_map(|s| s.security_group_id())
                .collect();
            sgs.sort();
            set(
                &mut o,
                "security_group_ids",
                Value::List(sgs.into_iter().map(Value::str).collect()),
            );
            set(
                &mut o,
                "preferred_maintenance_window",
                Value::opt_str(
                    m.preferred_maintenance_window()
                        .map(str::to_lowercase)
                        .as_deref(),
                ),
            );
        }
        None => {
            for key in [
                "cache_subnet_group_name",
                "security_group_ids",
                "preferred_maintenance_window",
            ] {
                set(&mut o, key, echo.get(key).cloned().unwrap_or(Value::Null));
            }
        }
    }

    if let Some(a) = tags.get(TAG_AUTH_TOKEN_SECRET) {
        set(&mut o, "auth_token_secret", Value::str(a));
    }
    if let Some(a) = tags.get(TAG_AUTH_TOKEN_ID) {
        set(&mut o, "auth_token_id", Value::str(a));
    }
    set(&mut o, "log_delivery", observe_log_delivery(g));
    set(&mut o, "tags", visible_tags(tags));

    // Deletes run after the group: its subnet group, security group, slow-log group and token
    // secret.
    o.deps.insert(rid(SUBNET_GROUP));
    o.deps.insert(ResourceId::new("sg", "redis"));
    o.deps.insert(redis_slow_log_id());
    if tags.contains_key(TAG_AUTH_TOKEN_SECRET) {
        o.deps.insert(secret_ref());
    }
    o
}

/// A live cache subnet group → `Observed` (pure). `subnet_rids` maps subnet ids to the rtech
/// ids of our subnets, so the list follows the spec's order (AWS does not promise one).
pub fn observe_subnet_group(
    sg: &CacheSubnetGroup,
    tags: &BTreeMap<String, String>,
    subnet_rids: &BTreeMap<String, ResourceId>,
    desired: Option<&Resource>,
) -> Observed {
    let mut o = Observed::new(
        rid(SUBNET_GROUP),
        sg.cache_subnet_group_name().unwrap_or_default(),
    );
    if let Some(arn) = sg.arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    let order: Vec<ResourceId> = match desired.and_then(|d| d.props.get("subnet_ids")) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Ref(r) => Some(r.resource.clone()),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    let mut ids: Vec<&str> = sg
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    let rank = |id: &str| {
        let r = subnet_rids.get(id);
        (
            r.and_then(|r| order.iter().position(|x| x == r))
                .unwrap_or(usize::MAX),
            r.cloned(),
            id.to_string(),
        )
    };
    ids.sort_by_key(|id| rank(id));
    for id in &ids {
        if let Some(r) = subnet_rids.get(*id) {
            o.deps.insert(r.clone());
        }
    }
    o.props.insert(
        "description".into(),
        Value::opt_str(sg.cache_subnet_group_description()),
    );
    o.props.insert(
        "subnet_ids".into(),
        Value::List(ids.into_iter().map(Value::str).collect()),
    );
    o.props.insert("tags".into(), visible_tags(tags));
    o
}

fn foreign(kind: &str, physical: &str) -> Observed {
    let mut o = Observed::new(rid(kind), physical);
    o.ownership = Ownership::Foreign;
    o
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (built apart from sending, so that the ones the emulator lacks are
// unit-tested)

fn elasticache_tags<'a>(m: impl IntoIterator<Item = (&'a String, &'a str)>) -> Vec<Tag> {
    m.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn desired_tags(r: &Resource) -> BTreeMap<String, String> {
    r.props
        .get("tags")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Tags kept behind properties: the AUTH token's, and on the emulator the echo.
fn internal_tags(r: &Resource, quirks: bool) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    if let Some(a) = r.get_str("auth_token_secret") {
        t.insert(TAG_AUTH_TOKEN_SECRET.to_string(), a.to_string());
    }
    if let Some(a) = r.get_str("auth_token_id") {
        t.insert(TAG_AUTH_TOKEN_ID.to_string(), a.to_string());
    }
    if quirks {
        t.insert(TAG_EMULATOR_ECHO.to_string(), echo_value(r));
    }
    t
}

fn int(r: &Resource, key: &str) -> i32 {
    r.props.get(key).and_then(Value::as_int).unwrap_or(0) as i32
}

fn flag(r: &Resource, key: &str) -> bool {
    r.props.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn apply_immediately(r: &Resource) -> bool {
    desired_tags(r)
        .get(TAG_APPLY_IMMEDIATELY)
        .map(String::as_str)
        == Some("true")
}

pub fn create_request(
    c: &Client,
    r: &Resource,
    token: Option<&str>,
    quirks: bool,
) -> CreateReplicationGroupFluentBuilder {
    let n = int(r, "num_cache_clusters").max(1);
    let mut tags = desired_tags(r);
    tags.extend(internal_tags(r, quirks));
    let mut req = c
        .create_replication_group()
        .replication_group_id(&r.name)
        .replication_group_description(r.get_str("description").unwrap_or_default())
        .engine(r.get_str("engine").unwrap_or(ENGINE))
        .engine_version(r.get_str("engine_version").unwrap_or_default())
        .cache_node_type(r.get_str("node_type").unwrap_or_default())
        .port(int(r, "port"))
        .cache_subnet_group_name(r.get_str("cache_subnet_group_name").unwrap_or_default())
        .set_security_group_ids(Some(string_list(r.props.get("security_group_ids"))))
        .num_cache_clusters(n)
        .automatic_failover_enabled(flag(r, "automatic_failover"))
        .multi_az_enabled(flag(r, "multi_az"))
        .at_rest_encryption_enabled(flag(r, "at_rest_encryption"))
        .transit_encryption_enabled(flag(r, "transit_encryption"))
        .snapshot_retention_limit(int(r, "snapshot_retention_limit"))
        .set_snapshot_window(r.get_str("snapshot_window").map(str::to_string))
        .set_preferred_maintenance_window(
            r.get_str("preferred_maintenance_window")
                .map(str::to_string),
        )
        .set_tags(Some(elasticache_tags(
            tags.iter().map(|(k, v)| (k, v.as_str())),
        )));
    let delivery = log_delivery_requests(r.props.get("log_delivery"), None);
    if !delivery.is_empty() {
        req = req.set_log_delivery_configurations(Some(delivery));
    }
    if let Some(t) = token {
        req = req.auth_token(t);
    }
    if quirks {
        // moto ignores NumCacheClusters and makes ReplicasPerNodeGroup + 1 members.
        req = req.replicas_per_node_group(n - 1);
    }
    req
}

/// ModifyReplicationGroup for the changed fields (None when none of them is modified there;
/// the log delivery has [`log_delivery_request`]).
pub fn modify_request(
    c: &Client,
    group: &str,
    r: &Resource,
    changed: &BTreeSet<String>,
) -> Option<ModifyReplicationGroupFluentBuilder> {
    let mut req = c
        .modify_replication_group()
        .replication_group_id(group)
        .apply_immediately(apply_immediately(r));
    let mut any = false;
    let has = |k: &str| changed.contains(k);
    if has("description") {
        req = req.replication_group_description(r.get_str("description").unwrap_or_default());
        any = true;
    }
    if has("node_type") {
        req = req.cache_node_type(r.get_str("node_type").unwrap_or_default());
        any = true;
    }
    if has("engine_version") {
        req = req.engine_version(r.get_str("engine_version").unwrap_or_default());
        any = true;
    }
    if has("automatic_failover") || has("multi_az") {
        req = req
            .automatic_failover_enabled(flag(r, "automatic_failover"))
            .multi_az_enabled(flag(r, "multi_az"));
        any = true;
    }
    if has("snapshot_retention_limit") {
        req = req.snapshot_retention_limit(int(r, "snapshot_retention_limit"));
        any = true;
    }
    if has("snapshot_window") {
        if let Some(w) = r.get_str("snapshot_window") {
            req = req.snapshot_window(w);
            any = true;
        }
    }
    if has("preferred_maintenance_window") {
        req = req.preferred_maintenance_window(
            r.get_str("preferred_maintenance_window")
                .unwrap_or_default(),
        );
        any = true;
    }
    if has("security_group_ids") {
        req = req.set_security_group_ids(Some(string_list(r.props.get("security_group_ids"))));
        any = true;
    }
    any.then_some(req)
}

/// ModifyReplicationGroup for the log delivery alone: AWS takes a delivery change only with
/// ApplyImmediately (whatever the spec's `apply_immediately`), so it is a call of its own.
/// `live` is the group as observed: its delivered log types the spec lacks are turned off.
pub fn log_delivery_request(
    c: &Client,
    group: &str,
    r: &Resource,
    live: &Observed,
) -> Option<ModifyReplicationGroupFluentBuilder> {
    let delivery =
        log_delivery_requests(r.props.get("log_delivery"), live.props.get("log_delivery"));
    (!delivery.is_empty()).then(|| {
        c.modify_replication_group()
            .replication_group_id(group)
            .apply_immediately(true)
            .set_log_delivery_configurations(Some(delivery))
    })
}

/// A new AUTH token: ROTATE keeps the old one valid too, so clients still holding it keep
/// working until they read the new one from the secret. Always immediate.
pub fn rotate_token_request(
    c: &Client,
    group: &str,
    token: &str,
) -> ModifyReplicationGroupFluentBuilder {
    c.modify_replication_group()
        .replication_group_id(group)
        .auth_token(token)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
        .apply_immediately(true)
}

/// Replica count changes are always immediate (the API requires ApplyImmediately=true).
pub fn increase_replicas_request(
    c: &Client,
    group: &str,
    clusters: i32,
) -> IncreaseReplicaCountFluentBuilder {
    c.increase_replica_count()
        .replication_group_id(group)
        .new_replica_count(clusters - 1)
        .apply_immediately(true)
}

pub fn decrease_replicas_request(
    c: &Client,
    group: &str,
    clusters: i32,
) -> DecreaseReplicaCountFluentBuilder {
    c.decrease_replica_count()
        .replication_group_id(group)
        .new_replica_count(clusters - 1)
        .apply_immediately(true)
}

/// `<group>-final-<UTC yyyymmddHHMMSS>`.
pub fn final_snapshot_name(group: &str, now: DateTime) -> String {
    let stamp: String = DateTime::from_secs(now.secs())
        .fmt(Format::DateTime)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{group}-final-{stamp}")
}

/// Delete the group; a final snapshot unless its `rtech:final-snapshot` tag says `skip` (a
/// group without the tag keeps its data).
pub fn delete_request(
    c: &Client,
    o: &Observed,
    now: DateTime,
) -> DeleteReplicationGroupFluentBuilder {
    let req = c
        .delete_replication_group()
        .replication_group_id(&o.physical_id);
    if o.tag(TAG_FINAL_SNAPSHOT) == Some("skip") {
        req
    } else {
        req.final_snapshot_identifier(final_snapshot_name(&o.physical_id, now))
    }
}

pub fn modify_subnet_group_request(
    c: &Client,
    r: &Resource,
    name: &str,
) -> ModifyCacheSubnetGroupFluentBuilder {
    c.modify_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description(r.get_str("description").unwrap_or_default())
        .set_subnet_ids(Some(string_list(r.props.get("subnet_ids"))))
}

pub fn delete_subnet_group_request(c: &Client, name: &str) -> DeleteCacheSubnetGroupFluentBuilder {
    c.delete_cache_subnet_group().cache_subnet_group_name(name)
}

// ---------------------------------------------------------------------------------------------
// the reconciler

/// A call the emulator does not implement (moto answers HTTP 500 with an HTML page), and only
/// behind the switch: against AWS every error surfaces.
fn emulator_gap(ctx: &Ctx, e: &AwsError) -> bool {
    emulator_quirks(ctx) && matches!(e.code.as_str(), "Unknown" | "InvalidResponse")
}

fn is_missing(e: &AwsError) -> bool {
    e.is_not_found()
}

pub struct Redis;

#[async_trait]
impl Reconciler for Redis {
    fn service(&self) -> &'static str {
        "redis"
    }

    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        if o.id.kind != REDIS {
            return Ok(o.attrs.clone());
        }
        let g = wait_available(ctx, &o.physical_id, task).await?;
        Ok(group_attrs(&g))
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let ec = &ctx.clients.elasticache;
        let quirks = emulator_quirks(ctx);
        // Both names are deterministic: destroy (no desired) finds them too.
        let name = format!("{}-{}-redis", ctx.project, ctx.env);
        let want_group = desired.iter().find(|r| r.id == rid(REDIS));
        let want_sng = desired.iter().find(|r| r.id == rid(SUBNET_GROUP));

        let (groups, subnet_groups) = tokio::try_join!(
            async {
                ec.describe_replication_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("elasticache:DescribeReplicationGroups"))
            },
            async {
                ec.describe_cache_subnet_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("elasticache:DescribeCacheSubnetGroups"))
            },
        )?;
        // A group being deleted is gone as far as planning goes (never waited for here).
        let group = groups.into_iter().find(|g| {
            g.replication_group_id() == Some(name.as_str()) && g.status() != Some("deleting")
        });
        let sng = subnet_groups
            .into_iter()
            .find(|s| s.cache_subnet_group_name() == Some(name.as_str()));

        let list_tags = |arn: Option<String>, op: &'static str| async move {
            let Some(arn) = arn else {
                return Ok(BTreeMap::new());
            };
            ec.list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(aws(op))
                .map(|o| tag_map(o.tag_list()))
        };
        let member_id = group.as_ref().and_then(primary_member).map(str::to_string);
        let subnet_ids: Vec<String> = sng
            .iter()
            .flat_map(|s| s.subnets())
            .filter_map(|s| s.subnet_identifier().map(str::to_string))
            .collect();
        let (group_tags, sng_tags, member, subnet_rids) = tokio::try_join!(
            list_tags(
                group.as_ref().and_then(|g| g.arn().map(str::to_string)),
                "elasticache:ListTagsForResource"
            ),
            list_tags(
                sng.as_ref().and_then(|s| s.arn().map(str::to_string)),
                "elasticache:ListTagsForResource"
            ),
            async {
                let Some(id) = &member_id else {
                    return Ok(None);
                };
                let r = ec
                    .describe_cache_clusters()
                    .cache_cluster_id(id)
                    .send()
                    .await
                    .map_err(aws("elasticache:DescribeCacheClusters"));
                match r {
                    Ok(o) => Ok(o.cache_clusters().first().cloned()),
                    // Deleted between the two calls, or never listed (the emulator).
                    Err(e) if is_missing(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            },
            async {
                if subnet_ids.is_empty() {
                    return Ok(BTreeMap::new());
                }
                let f = aws_sdk_ec2::types::Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(subnet_ids.clone()))
                    .build();
                let subnets = ctx
                    .clients
                    .ec2
                    .describe_subnets()
                    .filters(f)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("ec2:DescribeSubnets"))?;
                let mut m = BTreeMap::new();
                for s in subnets {
                    let t: BTreeMap<String, String> = s
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect();
                    if !ours(&ctx.project, &ctx.env, &t) {
                        continue;
                    }
                    if let (Some(id), Some(r)) = (
                        s.subnet_id(),
                        t.get(crate::model::TAG_ID).and_then(|x| x.parse().ok()),
                    ) {
                        m.insert(id.to_string(), r);
                    }
                }
                Ok::<_, AwsError>(m)
            },
        )?;

        let mut out = vec![];
        if let Some(s) = &sng {
            if ours(&ctx.project, &ctx.env, &sng_tags) {
                out.push(observe_subnet_group(s, &sng_tags, &subnet_rids, want_sng));
            } else {
                out.push(foreign(SUBNET_GROUP, &name));
            }
        }
        if let Some(g) = &group {
            if ours(&ctx.project, &ctx.env, &group_tags) {
                // Without its member cluster, engine version, subnet group, security groups
                // and maintenance window are unknown: planning on that would show them all as
                // changed (and the subnet group as a replace). Refuse rather than guess; a
                // destroy needs none of them. The emulator has no members at all (module docs).
                if member.is_none() && !quirks && want_group.is_some() {
                    return Err(AwsError::new(
                        "elasticache:DescribeCacheClusters",
                        "MemberClusterNotFound",
                        format!(
                            "{name} ({}): its primary cache cluster {} cannot be read yet; plan again once the group is available",
                            g.status().unwrap_or("unknown status"),
                            member_id.as_deref().unwrap_or("(none listed)")
                        ),
                    ));
                }
                out.push(observe_group(
                    g,
                    member.as_ref(),
                    &group_tags,
                    want_group,
                    quirks,
                ));
            } else {
                out.push(foreign(REDIS, &name));
            }
        }
        Ok(out)
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) if r.id.kind == SUBNET_GROUP => create_subnet_group(ctx, r).await,
            Op::Create(r) => create_group(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == SUBNET_GROUP => {
                update_subnet_group(ctx, desired, prior, changed, task).await
            }
            Op::Update {
                desired,
                prior,
                changed,
            } => update_group(ctx, desired, prior, changed, task).await,
            Op::Delete(o) if o.id.kind == SUBNET_GROUP => delete_subnet_group(ctx, o, task)
                .await
                .map(|_| Attrs::new()),
            Op::Delete(o) => delete_group(ctx, o, task).await.map(|_| Attrs::new()),
        }
    }
}

async fn create_subnet_group(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let tags = desired_tags(r);
    let out = ctx
        .clients
        .elasticache
        .create_cache_subnet_group()
        .cache_subnet_group_name(&r.name)
        .cache_subnet_group_description(r.get_str("description").unwrap_or_default())
        .set_subnet_ids(Some(string_list(r.props.get("subnet_ids"))))
        .set_tags(Some(elasticache_tags(
            tags.iter().map(|(k, v)| (k, v.as_str())),
        )))
        .send()
        .await
        .map_err(aws("elasticache:CreateCacheSubnetGroup"))?;
    let mut a = Attrs::new();
    a.insert("id".into(), r.name.clone());
    if let Some(arn) = out.cache_subnet_group().and_then(|s| s.arn()) {
        a.insert("arn".into(), arn.to_string());
    }
    Ok(a)
}

async fn sync_tags(
    ctx: &Ctx,
    arn: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let ec = &ctx.clients.elasticache;
    let d = tag_delta(before, after);
    if !d.removed.is_empty() {
        ec.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(d.removed))
            .send()
            .await
            .map_err(aws("elasticache:RemoveTagsFromResource"))?;
    }
    let set: Vec<Tag> = elasticache_tags(d.set.iter().map(|(k, v)| (k, v.as_str())));
    if !set.is_empty() {
        ec.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(aws("elasticache:AddTagsToResource"))?;
    }
    Ok(())
}

fn observed_tags(o: &Observed) -> BTreeMap<String, String> {
    tags_of(&o.props)
}

async fn update_subnet_group(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    if changed.contains("description") || changed.contains("subnet_ids") {
        let sent = modify_subnet_group_request(&ctx.clients.elasticache, r, &prior.physical_id)
            .send()
            .await
            .map_err(aws("elasticache:ModifyCacheSubnetGroup"));
        match sent {
            Err(e) if emulator_gap(ctx, &e) => task.status(&format!(
                "not modified: the emulator does not implement ModifyCacheSubnetGroup ({QUIRKS_ENV}=1; {e}); the next plan shows it again"
            )),
            other => {
                other?;
            }
        }
    }
    if changed.contains("tags") {
        let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
        sync_tags(ctx, &arn, &observed_tags(prior), &desired_tags(r)).await?;
    }
    Ok(prior.attrs.clone())
}

async fn delete_subnet_group(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let ec = &ctx.clients.elasticache;
    let r = retry_on(&["CacheSubnetGroupInUse"], IN_USE_RETRY, || async {
        delete_subnet_group_request(ec, &o.physical_id)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("elasticache:DeleteCacheSubnetGroup"))
    })
    .await;
    match r {
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) if emulator_gap(ctx, &e) => {
            task.status(&format!(
                "left in place: the emulator does not implement DeleteCacheSubnetGroup ({QUIRKS_ENV}=1; {e})"
            ));
            Ok(())
        }
        other => other,
    }
}

/// The group as AWS has it now (None when there is none).
async fn describe(ctx: &Ctx, id: &str) -> Result<Option<ReplicationGroup>, AwsError> {
    let r = ctx
        .clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(aws("elasticache:DescribeReplicationGroups"));
    match r {
        Ok(o) => Ok(o.replication_groups().first().cloned()),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Wait (bounded) until the group is `available`, and return it.
async fn wait_available(ctx: &Ctx, id: &str, task: &Task) -> Result<ReplicationGroup, AwsError> {
    task.status(&format!(
        "waiting for replication group {id} to become available (minutes on AWS)"
    ));
    let done = ctx
        .clients
        .elasticache
        .wait_until_replication_group_available()
        .replication_group_id(id)
        .wait(WAIT)
        .await
        .map_err(waited("elasticache:DescribeReplicationGroups", id))?;
    done.into_result()
        .map_err(aws("elasticache:DescribeReplicationGroups"))?
        .replication_groups()
        .first()
        .cloned()
        .ok_or_else(|| {
            AwsError::new(
                "elasticache:DescribeReplicationGroups",
                "ReplicationGroupNotFoundFault",
                format!("{id} vanished while rtech waited for it"),
            )
        })
}

/// Wait until the group is gone. On the emulator, `deleting` is as far as it ever gets.
async fn wait_deleted(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    if emulator_quirks(ctx) {
        return match describe(ctx, id).await? {
            None => Ok(()),
            Some(g) if g.status() == Some("deleting") => Ok(()),
            Some(g) => Err(AwsError::new(
                "elasticache:DeleteReplicationGroup",
                "NotDeleting",
                format!(
                    "{id} is {} after DeleteReplicationGroup",
                    g.status().unwrap_or("in an unknown state")
                ),
            )),
        };
    }
    task.status(&format!(
        "waiting for replication group {id} to be deleted (minutes on AWS)"
    ));
    ctx.clients
        .elasticache
        .wait_until_replication_group_deleted()
        .replication_group_id(id)
        .wait(WAIT)
        .await
        .map(|_| ())
        .map_err(waited("elasticache:DescribeReplicationGroups", id))
}

async fn auth_token(ctx: &Ctx, r: &Resource) -> Result<Option<String>, AwsError> {
    if !flag(r, "transit_encryption") {
        return Ok(None);
    }
    let arn = r.get_str("auth_token_secret").ok_or_else(|| {
        AwsError::new(
            "rtech",
            "NoAuthTokenSecret",
            format!("{}: transit encryption needs the AUTH token secret", r.id),
        )
    })?;
    crate::reconcile::secrets::generated_value(ctx, arn)
        .await
        .map(Some)
}

async fn create_group(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let quirks = emulator_quirks(ctx);
    let id = r.name.as_str();
    // A group of the same name still being deleted (a replace, or an out-of-band delete)
    // holds the name until it is gone.
    if let Some(g) = describe(ctx, id).await? {
        if g.status() == Some("deleting") {
            if quirks {
                return Err(AwsError::new(
                    "elasticache:CreateReplicationGroup",
                    "ReplicationGroupStillDeleting",
                    format!("{id} is still `deleting`, which the emulator never finishes: restart the emulator"),
                ));
            }
            task.status(&format!(
                "waiting for the previous replication group {id} to finish deleting"
            ));
            wait_deleted(ctx, id, task).await?;
        }
    }
    let token = auth_token(ctx, r).await?;
    task.status(&format!("creating replication group {id}"));
    create_request(&ctx.clients.elasticache, r, token.as_deref(), quirks)
        .send()
        .await
        .map_err(aws("elasticache:CreateReplicationGroup"))?;
    let g = wait_available(ctx, id, task).await?;
    Ok(group_attrs(&g))
}

/// One ModifyReplicationGroup, then the wait until the group is available again.
async fn modify_and_wait(
    ctx: &Ctx,
    id: &str,
    req: ModifyReplicationGroupFluentBuilder,
    what: &str,
    task: &Task,
) -> Result<(), AwsError> {
    task.status(what);
    req.send()
        .await
        .map_err(aws("elasticache:ModifyReplicationGroup"))?;
    wait_available(ctx, id, task).await?;
    Ok(())
}

async fn update_group(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let ec = &ctx.clients.elasticache;
    let quirks = emulator_quirks(ctx);
    let id = prior.physical_id.as_str();
    // A modification still in progress (an earlier apply, or someone else) must finish first.
    if describe(ctx, id)
        .await?
        .and_then(|g| g.status().map(str::to_string))
        .as_deref()
        != Some("available")
    {
        wait_available(ctx, id, task).await?;
    }

    let want = int(r, "num_cache_clusters");
    let have = prior
        .props
        .get("num_cache_clusters")
        .and_then(Value::as_int)
        .unwrap_or(want as i64) as i32;
    // Replicas first when adding (failover needs one), last when removing (after failover
    // has been turned off).
    if changed.contains("num_cache_clusters") && want > have {
        task.status(&format!("adding replicas: {have} → {want} nodes"));
        increase_replicas_request(ec, id, want)
            .send()
            .await
            .map_err(aws("elasticache:IncreaseReplicaCount"))?;
        wait_available(ctx, id, task).await?;
    }
    if let Some(req) = modify_request(ec, id, r, changed) {
        modify_and_wait(ctx, id, req, "modifying the replication group", task).await?;
    }
    if changed.contains("log_delivery") {
        if let Some(req) = log_delivery_request(ec, id, r, prior) {
            let what = "changing the log delivery (applied immediately)";
            modify_and_wait(ctx, id, req, what, task).await?;
        }
    }
    if changed.contains("num_cache_clusters") && want < have {
        task.status(&format!("removing replicas: {have} → {want} nodes"));
        decrease_replicas_request(ec, id, want)
            .send()
            .await
            .map_err(aws("elasticache:DecreaseReplicaCount"))?;
        wait_available(ctx, id, task).await?;
    }
    if changed.contains("auth_token_id") && r.get_str("auth_token_id").is_some() {
        if let Some(token) = auth_token(ctx, r).await? {
            let req = rotate_token_request(ec, id, &token);
            modify_and_wait(ctx, id, req, "rotating the AUTH token", task).await?;
        }
    }

    // The visible tags and the AUTH token's record: written only where they differ.
    let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
    let mut before = observed_tags(prior);
    for (key, prop) in [
        (TAG_AUTH_TOKEN_SECRET, "auth_token_secret"),
        (TAG_AUTH_TOKEN_ID, "auth_token_id"),
    ] {
        if let Some(v) = prior.get_str(prop) {
            before.insert(key.into(), v.into());
        }
    }
    let mut after = desired_tags(r);
    after.extend(internal_tags(r, false));
    sync_tags(ctx, &arn, &before, &after).await?;
    // The emulator cannot report these back: keep its echo of what was asked for current.
    if quirks && ECHOED.iter().any(|k| changed.contains(*k)) {
        let echo = BTreeMap::from([(TAG_EMULATOR_ECHO.to_string(), echo_value(r))]);
        sync_tags(ctx, &arn, &BTreeMap::new(), &echo).await?;
    }

    let g = describe(ctx, id).await?.ok_or_else(|| {
        AwsError::new(
            "elasticache:DescribeReplicationGroups",
            "ReplicationGroupNotFoundFault",
            format!("{id} vanished during the update"),
        )
    })?;
    Ok(group_attrs(&g))
}

async fn delete_group(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let id = o.physical_id.as_str();
    let req = delete_request(
        &ctx.clients.elasticache,
        o,
        DateTime::from(std::time::SystemTime::now()),
    );
    match req.get_final_snapshot_identifier() {
        Some(s) => task.status(&format!("deleting; final snapshot {s}")),
        None => task.status("deleting without a final snapshot (rtech:final-snapshot=skip)"),
    }
    let r = req
        .send()
        .await
        .map(|_| ())
        .map_err(aws("elasticache:DeleteReplicationGroup"));
    match r {
        Err(e) if is_missing(&e) => return Ok(()),
        // Already being deleted: wait for it like for our own delete.
        Err(e) if e.is("InvalidReplicationGroupState") => {}
        other => other?,
    }
    wait_deleted(ctx, id, task).await
}

#[cfg(test)]
mod tests;
