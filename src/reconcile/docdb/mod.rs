//! DocumentDB: the subnet group, the cluster parameter group, the cluster and its instances.
//!
//! - `docdb_subnet_group/main`: the private subnets, keyed by AZ (a stable order to compare).
//! - `docdb_param_group/main`: `tls`, `audit_logs` and `profiler`, per the spec.
//! - `docdb_cluster/main`: encrypted, with its master password read from `secret/docdb` at
//!   apply time only (never a property); the generated id of that password and the secret's
//!   ARN are kept in tags (`rtech:password-id`, `rtech:password-secret`) so a plan can tell
//!   whether the cluster is in sync with its secret without ever reading the password.
//! - `docdb_instance/<n>`: n = 1..instances, spread over the env's AZs round-robin.
//!
//! There is no state file, and destroy has no spec: how the cluster is deleted (final snapshot
//! or not) lives on the cluster itself, in the tag `rtech:final-snapshot`. Deletion protection
//! is read from the live cluster: `guard` refuses a plan that would delete or replace a
//! protected cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_docdb::client::Waiters;
use aws_sdk_docdb::types::{
    ApplyMethod, CloudwatchLogsExportConfiguration, DbCluster, DbClusterParameterGroup, DbInstance,
    DbSubnetGroup, Filter, Parameter, Tag,
};

use crate::aws::{all_pages, aws, retry_on, AwsError};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Props, Resource, ResourceId, Value,
    TAG_ENV, TAG_ID, TAG_PROJECT,
};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::{logs, secrets, Ctx, Op, Reconciler};
use crate::spec::network::{Network as NetSpec, DOCDB_PORT};
use crate::spec::Spec;

pub const SUBNET_GROUP: &str = "docdb_subnet_group";
pub const PARAM_GROUP: &str = "docdb_param_group";
pub const CLUSTER: &str = "docdb_cluster";
pub const INSTANCE: &str = "docdb_instance";

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: SUBNET_GROUP,
        force_new: &["name"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: PARAM_GROUP,
        // A parameter group's family and description cannot be modified.
        force_new: &["name", "family", "description"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: CLUSTER,
        force_new: &[
            "identifier",
            "engine",
            ENGINE_DOWNGRADE,
            "master_username",
            "storage_encrypted",
            "db_subnet_group_name",
        ],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: INSTANCE,
        force_new: &["identifier", "cluster_identifier", "availability_zone"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

/// The generated id of the master password the cluster was last given (`secret/docdb`'s
/// `generated_id`), and the secret that holds it.
pub const TAG_PASSWORD_ID: &str = "rtech:password-id";
pub const TAG_PASSWORD_SECRET: &str = "rtech:password-secret";
/// `skip` or `take`: whether deleting the cluster takes a final snapshot.
pub const TAG_FINAL_SNAPSHOT: &str = "rtech:final-snapshot";
/// `true` or `false`: the spec's `apply_immediately`, for modifications AWS can defer.
pub const TAG_APPLY_IMMEDIATELY: &str = "rtech:apply-immediately";
/// An engine upgrade requested for the maintenance window (`apply_immediately = false`): the
/// cluster reports no pending values, so rtech records the request and counts it as done.
pub const TAG_PENDING_ENGINE: &str = "rtech:pending-engine-version";
/// Tags that are properties of their own (`password_id`, `master_password_secret`) or
/// bookkeeping, not part of the `tags` map.
const PROP_TAGS: [&str; 3] = [TAG_PASSWORD_ID, TAG_PASSWORD_SECRET, TAG_PENDING_ENGINE];

/// A property that is only ever set on the observed side: when the live engine is newer than
/// the spec's, the cluster must be replaced (DocumentDB cannot downgrade in place).
pub const ENGINE_DOWNGRADE: &str = "engine_version_downgrade";

/// Engine defaults for the parameters rtech manages (what a group reports before it is set).
const PARAMETER_DEFAULTS: [(&str, &str); 3] = [
    ("audit_logs", "disabled"),
    ("profiler", "disabled"),
    ("tls", "enabled"),
];

/// Cluster creation takes ~10 minutes on AWS, instance deletion ~7 (PITFALLS.md): generous.
const WAIT: Duration = Duration::from_secs(60 * 60);
/// How long deletes retry while something still uses the group or the cluster is busy.
const BUSY_RETRY: Duration = Duration::from_secs(20 * 60);

fn rid(kind: &str, name: &str) -> ResourceId {
    ResourceId::new(kind, name)
}

/// `docdb5.0` for 5.0.0, `docdb4.0` for 4.0.0.
pub fn family(engine_version: &str) -> String {
    let mut parts = engine_version.split('.');
    let major = parts.next().unwrap_or("5");
    let minor = parts.next().unwrap_or("0");
    format!("docdb{major}.{minor}")
}

fn on_off(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

/// Compare dotted versions numerically (`10.0.0` > `5.0.0`).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(d) = &spec.docdb else {
        return vec![];
    };
    let tags = |id: &ResourceId, name: &str, extra: &[(&str, &str)]| {
        let mut t = tags_for(&spec.project, &spec.env, id, name, &spec.tags);
        for (k, v) in extra {
            t.insert(k.to_string(), v.to_string());
        }
        Value::string_map(&t)
    };
    let apply_now = if d.apply_immediately { "true" } else { "false" };
    let mut out = vec![];

    let sg_id = rid(SUBNET_GROUP, "main");
    let sg_name = spec.name("docdb");
    let subnets: BTreeMap<String, Value> = spec
        .network
        .azs
        .iter()
        .map(|az| {
            let subnet = rid("subnet", &format!("private-{}", NetSpec::az_suffix(az)));
            (az.clone(), Value::reference(&subnet, "id"))
        })
        .collect();
    out.push(
        Resource::new(sg_id.clone(), &sg_name)
            .prop("name", Value::str(&sg_name))
            .prop(
                "description",
                Value::str(format!(
                    "rtech {}: DocumentDB in the private subnets",
                    spec.env
                )),
            )
            .prop("subnet_ids", Value::Map(subnets))
            .prop("tags", tags(&sg_id, &sg_name, &[])),
    );

    let fam = family(&d.engine_version);
    let pg_id = rid(PARAM_GROUP, "main");
    let pg_name = spec.name(&format!(
        "docdb{}",
        d.engine_version.split('.').next().unwrap_or("5")
    ));
    let params: BTreeMap<String, Value> = [
        ("audit_logs", on_off(d.audit_logs)),
        ("profiler", on_off(d.profiler_logs)),
        ("tls", on_off(d.tls)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::str(v)))
    .collect();
    out.push(
        Resource::new(pg_id.clone(), &pg_name)
            .prop("name", Value::str(&pg_name))
            .prop("family", Value::str(&fam))
            .prop(
                "description",
                Value::str(format!("rtech {}: DocumentDB cluster parameters", spec.env)),
            )
            .prop("parameters", Value::Map(params))
            .prop("tags", tags(&pg_id, &pg_name, &[])),
    );

    let cluster_id = rid(CLUSTER, "main");
    let cluster_name = spec.name("docdb");
    let secret = secrets::secret_id("docdb");
    let mut logs = vec![];
    if d.audit_logs {
        logs.push(Value::str("audit"));
    }
    if d.profiler_logs {
        logs.push(Value::str("profiler"));
    }
    let final_snapshot = if d.skip_final_snapshot {
        "skip"
    } else {
        "take"
    };
    let mut cluster = Resource::new(cluster_id.clone(), &cluster_name);
    // rtech creates the export log groups first (retention, tags), else AWS creates them bare.
    for id in export_log_groups(d.audit_logs, d.profiler_logs) {
        cluster = cluster.dep(&id);
    }
    out.push(
        cluster
            .prop("identifier", Value::str(&cluster_name))
            .prop("engine", Value::str("docdb"))
            .prop("engine_version", Value::str(&d.engine_version))
            .prop(ENGINE_DOWNGRADE, Value::Null)
            .prop("master_username", Value::str(&d.master_username))
            .prop("master_password_secret", Value::reference(&secret, "arn"))
            .prop(
                "password_id",
                Value::reference(&secret, secrets::GENERATED_ID),
            )
            .prop("storage_encrypted", Value::Bool(true))
            .prop("db_subnet_group_name", Value::reference(&sg_id, "id"))
            .prop(
                "vpc_security_group_ids",
                Value::List(vec![Value::reference(&rid("sg", "docdb"), "id")]),
            )
            .prop("port", Value::Int(DOCDB_PORT as i64))
            .prop(
                "backup_retention_period",
                Value::Int(d.backup_retention_days),
            )
            .prop("preferred_backup_window", Value::str(&d.backup_window))
            .prop(
                "preferred_maintenance_window",
                Value::str(d.maintenance_window.to_lowercase()),
            )
            .prop("enabled_cloudwatch_logs_exports", Value::List(logs))
            .prop("deletion_protection", Value::Bool(d.deletion_protection))
            .prop(
                "db_cluster_parameter_group_name",
                Value::reference(&pg_id, "id"),
            )
            .prop(
                "tags",
                tags(
                    &cluster_id,
                    &cluster_name,
                    &[
                        (TAG_FINAL_SNAPSHOT, final_snapshot),
                        (TAG_APPLY_IMMEDIATELY, apply_now),
                    ],
                ),
            ),
    );

    let azs = &spec.network.azs;
    for n in 1..=d.instances as usize {
        let id = rid(INSTANCE, &n.to_string());
        let name = spec.name(&format!("docdb-{n}"));
        let az = &azs[(n - 1) % azs.len()];
        out.push(
            Resource::new(id.clone(), &name)
                .prop("identifier", Value::str(&name))
                .prop("cluster_identifier", Value::reference(&cluster_id, "id"))
                .prop("instance_class", Value::str(&d.instance_class))
                .prop("availability_zone", Value::str(az))
                .prop(
                    "tags",
                    tags(&id, &name, &[(TAG_APPLY_IMMEDIATELY, apply_now)]),
                ),
        );
    }
    out
}

/// The log groups (`log_group/docdb-audit`, `log_group/docdb-profiler`) the cluster exports to.
pub fn export_log_groups(audit: bool, profiler: bool) -> Vec<ResourceId> {
    let mut v = vec![];
    if audit {
        v.push(logs::docdb_audit_id());
    }
    if profiler {
        v.push(logs::docdb_profiler_id());
    }
    v
}

// ---------------------------------------------------------------------------------------------
// observe: pure normalisers (unit-tested), then the batched reads

/// Tags as a map, without AWS's own.
fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (t.key(), t.value())))
}

/// The `tags` property: every tag except those that are properties of their own.
fn tags_prop(tags: &BTreeMap<String, String>) -> Value {
    Value::string_map(
        tags.iter()
            .filter(|(k, _)| !PROP_TAGS.contains(&k.as_str())),
    )
}

fn str_list(items: impl IntoIterator<Item = impl Into<String>>) -> Value {
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    Value::List(v.into_iter().map(Value::Str).collect())
}

pub fn subnet_group_props(g: &DbSubnetGroup) -> Props {
    let mut subnets = BTreeMap::new();
    for s in g.subnets() {
        let Some(id) = s.subnet_identifier() else {
            continue;
        };
        let az = s
            .subnet_availability_zone()
            .and_then(|a| a.name())
            .unwrap_or("unknown");
        // Two subnets in one AZ (added out of band) both show.
        let key = if subnets.contains_key(az) {
            format!("{az}#{id}")
        } else {
            az.to_string()
        };
        subnets.insert(key, Value::str(id));
    }
    Props::from([
        ("name".to_string(), Value::opt_str(g.db_subnet_group_name())),
        (
            "description".to_string(),
            Value::opt_str(g.db_subnet_group_description()),
        ),
        ("subnet_ids".to_string(), Value::Map(subnets)),
    ])
}

/// `parameters` holds what rtech manages; a parameter the group does not list has its engine
/// default (the emulator lists only what was set; AWS lists all).
pub fn param_group_props(g: &DbClusterParameterGroup, params: &[Parameter]) -> Props {
    let mut values: BTreeMap<String, Value> = PARAMETER_DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect();
    for p in params {
        if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
            if values.contains_key(k) {
                values.insert(k.to_string(), Value::str(v));
            }
        }
    }
    Props::from([
        (
            "name".to_string(),
            Value::opt_str(g.db_cluster_parameter_group_name()),
        ),
        (
            "family".to_string(),
            Value::opt_str(g.db_parameter_group_family()),
        ),
        ("description".to_string(), Value::opt_str(g.description())),
        ("parameters".to_string(), Value::Map(values)),
    ])
}

/// The cluster as properties. `wanted_version` is the spec's engine version (none on
/// destroy): a live engine newer than it can only be replaced.
pub fn cluster_props(
    c: &DbCluster,
    tags: &BTreeMap<String, String>,
    wanted_version: Option<&str>,
) -> Props {
    let current = c.engine_version().unwrap_or_default();
    // A deferred upgrade still waiting for the maintenance window counts as done.
    let live = match tags.get(TAG_PENDING_ENGINE) {
        Some(p) if version_key(p) > version_key(current) => p.as_str(),
        _ => current,
    };
    let downgrade = match wanted_version {
        Some(w) if version_key(live) > version_key(w) => Value::str(format!(
            "{live} to {w}: DocumentDB cannot downgrade in place"
        )),
        _ => Value::Null,
    };
    let tag = |k: &str| Value::opt_str(tags.get(k).map(String::as_str));
    Props::from([
        (
            "identifier".to_string(),
            Value::opt_str(c.db_cluster_identifier()),
        ),
        ("engine".to_string(), Value::opt_str(c.engine())),
        (
            "engine_version".to_string(),
            Value::opt_str(c.engine_version().map(|_| live)),
        ),
        (ENGINE_DOWNGRADE.to_string(), downgrade),
        (
            "master_username".to_string(),
            Value::opt_str(c.master_username()),
        ),
        (
            "master_password_secret".to_string(),
            tag(TAG_PASSWORD_SECRET),
        ),
        ("password_id".to_string(), tag(TAG_PASSWORD_ID)),
        (
            "storage_encrypted".to_string(),
            Value::Bool(c.storage_encrypted().unwrap_or(false)),
        ),
        (
            "db_subnet_group_name".to_string(),
            Value::opt_str(c.db_subnet_group()),
        ),
        (
            "vpc_security_group_ids".to_string(),
            str_list(
                c.vpc_security_groups()
                    .iter()
                    .filter(|g| g.status().is_none_or(|s| s != "removing"))
                    .filter_map(|g| g.vpc_security_group_id()),
            ),
        ),
        (
            "port".to_string(),
            c.port().map_or(Value::Null, |p| Value::Int(p as i64)),
        ),
        (
            "backup_retention_period".to_string(),
            c.backup_retention_period()
                .map_or(Value::Null, |p| Value::Int(p as i64)),
        ),
        (
            "preferred_backup_window".to_string(),
            Value::opt_str(c.preferred_backup_window()),
        ),
        (
            "preferred_maintenance_window".to_string(),
            c.preferred_maintenance_window()
                .map_or(Value::Null, |w| Value::str(w.to_lowercase())),
        ),
        (
            "enabled_cloudwatch_logs_exports".to_string(),
            str_list(c.enabled_cloudwatch_logs_exports().iter().cloned()),
        ),
        (
            "deletion_protection".to_string(),
            Value::Bool(c.deletion_protection().unwrap_or(false)),
        ),
        (
            "db_cluster_parameter_group_name".to_string(),
            Value::opt_str(c.db_cluster_parameter_group()),
        ),
        ("tags".to_string(), tags_prop(tags)),
    ])
}

pub fn cluster_attrs(c: &DbCluster) -> Attrs {
    let mut a = Attrs::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            a.insert(k.to_string(), v.to_string());
        }
    };
    put("id", c.db_cluster_identifier());
    put("arn", c.db_cluster_arn());
    put("endpoint", c.endpoint());
    put("reader_endpoint", c.reader_endpoint());
    a.insert(
        "port".into(),
        c.port().unwrap_or(DOCDB_PORT as i32).to_string(),
    );
    a
}

/// The instance as properties. A class change AWS holds for the maintenance window
/// (PendingModifiedValues) counts as done: the plan shows it once, not on every run.
pub fn instance_props(i: &DbInstance) -> Props {
    let class = i
        .pending_modified_values()
        .and_then(|p| p.db_instance_class())
        .or(i.db_instance_class());
    Props::from([
        (
            "identifier".to_string(),
            Value::opt_str(i.db_instance_identifier()),
        ),
        (
            "cluster_identifier".to_string(),
            Value::opt_str(i.db_cluster_identifier()),
        ),
        ("instance_class".to_string(), Value::opt_str(class)),
        (
            "availability_zone".to_string(),
            Value::opt_str(i.availability_zone()),
        ),
    ])
}

fn instance_attrs(i: &DbInstance) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "id".into(),
        i.db_instance_identifier().unwrap_or_default().to_string(),
    );
    if let Some(arn) = i.db_instance_arn() {
        a.insert("arn".into(), arn.to_string());
    }
    if let Some(e) = i.endpoint().and_then(|e| e.address()) {
        a.insert("endpoint".into(), e.to_string());
    }
    a
}

/// Decides whose a live resource is: ours (by tags, under the id its `rtech:id` tag names),
/// foreign (our name, not our tags), or neither.
struct Owners<'a> {
    project: &'a str,
    env: &'a str,
    /// (kind, AWS name) → the desired id wanting that name.
    wanted: BTreeMap<(&'static str, String), ResourceId>,
    seen: BTreeSet<ResourceId>,
}

impl<'a> Owners<'a> {
    fn new(ctx: &'a Ctx, desired: &[Resource]) -> Self {
        let mut wanted = BTreeMap::new();
        for r in desired {
            let (kind, key) = match r.id.kind.as_str() {
                SUBNET_GROUP => (SUBNET_GROUP, "name"),
                PARAM_GROUP => (PARAM_GROUP, "name"),
                CLUSTER => (CLUSTER, "identifier"),
                INSTANCE => (INSTANCE, "identifier"),
                _ => continue,
            };
            if let Some(name) = r.get_str(key) {
                wanted.insert((kind, name.to_string()), r.id.clone());
            }
        }
        Owners {
            project: &ctx.project,
            env: &ctx.env,
            wanted,
            seen: BTreeSet::new(),
        }
    }

    fn classify(
        &mut self,
        kind: &'static str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Option<(ResourceId, Ownership)> {
        let ours = tags.get(TAG_PROJECT).map(String::as_str) == Some(self.project)
            && tags.get(TAG_ENV).map(String::as_str) == Some(self.env);
        if !ours {
            return self
                .wanted
                .get(&(kind, name.to_string()))
                .map(|id| (id.clone(), Ownership::Foreign));
        }
        let id: ResourceId = tags.get(TAG_ID)?.parse().ok()?;
        // A second live resource claiming an id (or a wrong kind) gets an id of its own: not
        // desired, it is deleted by the next apply.
        let id = if id.kind != kind || self.seen.contains(&id) {
            ResourceId::new(kind, format!("{}~{name}", id.name))
        } else {
            id
        };
        self.seen.insert(id.clone());
        Some((id, Ownership::Owned))
    }
}

fn observed(
    id: ResourceId,
    ownership: Ownership,
    physical: &str,
    props: Props,
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

/// Not found, in any of the spellings DocumentDB uses (`DBClusterNotFoundFault`,
/// `DBInstanceNotFound`, `DBSubnetGroupNotFoundFault`, `DBParameterGroupNotFound`).
fn not_found(e: &AwsError) -> bool {
    e.is_not_found()
}

async fn list_tags(ctx: &Ctx, arn: String) -> Result<(String, Option<Vec<Tag>>), AwsError> {
    let r = ctx
        .clients
        .docdb
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .map_err(aws("docdb:ListTagsForResource"));
    match r {
        Ok(o) => Ok((arn, Some(o.tag_list().to_vec()))),
        // Deleted between the Describe and now: absent.
        Err(e) if not_found(&e) => Ok((arn, None)),
        Err(e) => Err(e),
    }
}

fn engine_filter() -> Filter {
    Filter::builder().name("engine").values("docdb").build()
}

pub struct Docdb;

#[async_trait]
impl Reconciler for Docdb {
    fn service(&self) -> &'static str {
        "docdb"
    }

    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        if o.id.kind != CLUSTER {
            return Ok(o.attrs.clone());
        }
        let c = cluster_available(ctx, &o.physical_id, task).await?;
        Ok(cluster_attrs(&c))
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let dd = &ctx.clients.docdb;
        // One paginated Describe per kind, all at once. The engine filter keeps RDS and
        // Neptune clusters out (they share this API); groups have no engine filter.
        let (clusters, instances, subnet_groups, param_groups) = tokio::try_join!(
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
                    dd.describe_db_subnet_groups(),
                    "docdb:DescribeDBSubnetGroups"
                )
            },
            async {
                all_pages!(
                    dd.describe_db_cluster_parameter_groups(),
                    "docdb:DescribeDBClusterParameterGroups"
                )
            },
        )?;

        // DocumentDB's Describe outputs carry no tags: ListTagsForResource per resource is the
        // only way to read them. Only resources under our name prefix can be ours or clash
        // with ours, so only they are asked about, all at once. Something being deleted is
        // already gone as far as a plan is concerned.
        let prefix = format!("{}-{}-docdb", ctx.project, ctx.env);
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
        let subnet_groups: Vec<&DbSubnetGroup> = subnet_groups
            .iter()
            .filter(|g| mine(g.db_subnet_group_name()))
            .collect();
        let param_groups: Vec<&DbClusterParameterGroup> = param_groups
            .iter()
            .filter(|g| mine(g.db_cluster_parameter_group_name()))
            .collect();
        let arns: Vec<String> = clusters
            .iter()
            .filter_map(|c| c.db_cluster_arn())
            .chain(instances.iter().filter_map(|i| i.db_instance_arn()))
            .chain(subnet_groups.iter().filter_map(|g| g.db_subnet_group_arn()))
            .chain(
                param_groups
                    .iter()
                    .filter_map(|g| g.db_cluster_parameter_group_arn()),
            )
            .map(str::to_string)
            .collect();
        let tags: BTreeMap<String, Option<Vec<Tag>>> =
            futures::future::try_join_all(arns.into_iter().map(|a| list_tags(ctx, a)))
                .await?
                .into_iter()
                .collect();
        let tags_of = |arn: Option<&str>| -> Option<BTreeMap<String, String>> {
            tags.get(arn?)?.as_deref().map(tag_map)
        };

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
            let mut props = subnet_group_props(g);
            props.insert("tags".into(), tags_prop(&t));
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
        let values =
            futures::future::try_join_all(ours_pg.iter().map(|(g, _, _, own)| async move {
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
            let mut props = param_group_props(g, &params);
            props.insert("tags".into(), tags_prop(&t));
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
                .and_then(|r| r.get_str("engine_version"));
            let props = cluster_props(c, &t, wanted_version);
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
            let mut props = instance_props(i);
            props.insert("tags".into(), tags_prop(&t));
            let mut o = observed(id, own, name, props, None);
            o.attrs = instance_attrs(i);
            if let Some(c) = i.db_cluster_identifier() {
                if let Some(d) = ids.get(&(CLUSTER, c.to_string())) {
                    o.deps.insert(d.clone());
                }
            }
            out.push(o);
        }
        Ok(out)
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => match r.id.kind.as_str() {
                SUBNET_GROUP => create_subnet_group(ctx, r).await,
                PARAM_GROUP => create_param_group(ctx, r).await,
                CLUSTER => create_cluster(ctx, r, task).await,
                INSTANCE => create_instance(ctx, r, task).await,
                k => Err(unknown(k)),
            },
            Op::Update {
                desired,
                prior,
                changed,
            } => match desired.id.kind.as_str() {
                SUBNET_GROUP => update_subnet_group(ctx, desired, prior, changed).await,
                PARAM_GROUP => update_param_group(ctx, desired, prior, changed).await,
                CLUSTER => update_cluster(ctx, desired, prior, changed, task).await,
                INSTANCE => update_instance(ctx, desired, prior, changed, task).await,
                k => Err(unknown(k)),
            },
            Op::Delete(o) => {
                match o.id.kind.as_str() {
                    SUBNET_GROUP => delete_subnet_group(ctx, o).await?,
                    PARAM_GROUP => delete_param_group(ctx, o, task).await?,
                    CLUSTER => delete_cluster(ctx, o, task).await?,
                    INSTANCE => delete_instance(ctx, o, task).await?,
                    k => return Err(unknown(k)),
                }
                Ok(Attrs::new())
            }
        }
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}

/// A protected cluster is never deleted or replaced: the plan shows why, apply refuses.
pub fn guard(change: &Change) -> Option<String> {
    if change.id.kind != CLUSTER || !matches!(change.action, Action::Delete | Action::Replace) {
        return None;
    }
    let prior = change.prior.as_ref()?;
    if prior.props.get("deletion_protection") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(format!(
        "refused: {} ({}) has deletion protection on; set docdb.deletion_protection = false in the spec and apply, then destroy",
        change.id, prior.physical_id
    ))
}

// ---------------------------------------------------------------------------------------------
// apply

fn unknown(kind: &str) -> AwsError {
    AwsError::new("rtech", "UnknownKind", kind.to_string())
}

fn s<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.get_str(key).unwrap_or_default()
}

fn int(r: &Resource, key: &str) -> i32 {
    r.props.get(key).and_then(Value::as_int).unwrap_or_default() as i32
}

fn flag(r: &Resource, key: &str) -> bool {
    r.props.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(Value::Map(m)) => m
            .values()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn tag_of<'a>(r: &'a Resource, key: &str) -> Option<&'a str> {
    r.props.get("tags")?.as_map()?.get(key)?.as_str()
}

fn apply_now(r: &Resource) -> bool {
    tag_of(r, TAG_APPLY_IMMEDIATELY) == Some("true")
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn tag_list(r: &Resource) -> Vec<Tag> {
    r.props
        .get("tags")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| tag(k, v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Make the live tags what the spec says: remove the keys it does not have, set the rest.
/// `extra` are set as well (the password tags).
async fn sync_tags(
    ctx: &Ctx,
    arn: &str,
    prior: &Observed,
    desired: &Resource,
    extra: &[(&str, &str)],
) -> Result<(), AwsError> {
    let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
    let removed = d.removed;
    let mut set: Vec<Tag> = d.set.iter().map(|(k, v)| tag(k, v)).collect();
    set.extend(extra.iter().map(|(k, v)| tag(k, v)));
    let dd = &ctx.clients.docdb;
    if !removed.is_empty() {
        dd.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(aws("docdb:RemoveTagsFromResource"))?;
    }
    if !set.is_empty() {
        dd.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(aws("docdb:AddTagsToResource"))?;
    }
    Ok(())
}

fn arn_of(o: &Observed) -> Result<&str, AwsError> {
    o.attrs
        .get("arn")
        .map(String::as_str)
        .ok_or_else(|| AwsError::new("rtech", "NoArn", format!("{}: no ARN observed", o.id)))
}

fn group_attrs(name: &str, arn: Option<&str>) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    if let Some(arn) = arn {
        a.insert("arn".into(), arn.to_string());
    }
    a
}

/// Poll `check` until it yields a value: at once, then backing off 1 s, 2 s, 4 s … 15 s,
/// until `timeout`. `check` returns the status it saw while waiting (shown as progress).
async fn poll<T, F, Fut>(
    op: &str,
    what: &str,
    timeout: Duration,
    task: &Task,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, AwsError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    loop {
        match check().await? {
            Ok(v) => return Ok(v),
            Err(status) => {
                if start.elapsed() + delay > timeout {
                    return Err(AwsError::new(
                        op,
                        "WaitTimeout",
                        format!(
                            "{what}: still {status} after {} s",
                            start.elapsed().as_secs()
                        ),
                    ));
                }
                if status != last {
                    task.status(&format!("waiting for {what} (now {status})"));
                    last = status;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

async fn describe_cluster(ctx: &Ctx, id: &str) -> Result<Option<DbCluster>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DescribeDBClusters"));
    match r {
        Ok(o) => Ok(o.db_clusters().first().cloned()),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn describe_instance(ctx: &Ctx, id: &str) -> Result<Option<DbInstance>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DescribeDBInstances"));
    match r {
        Ok(o) => Ok(o.db_instances().first().cloned()),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Wait until the cluster is `available`; its final description.
async fn cluster_available(ctx: &Ctx, id: &str, task: &Task) -> Result<DbCluster, AwsError> {
    poll(
        "docdb:DescribeDBClusters",
        &format!("cluster {id} to be available"),
        WAIT,
        task,
        || async {
            match describe_cluster(ctx, id).await? {
                Some(c) if c.status() == Some("available") => Ok(Ok(c)),
                Some(c) if matches!(c.status(), Some("failed" | "deleting")) => Err(AwsError::new(
                    "docdb:DescribeDBClusters",
                    "ClusterFailed",
                    format!("cluster {id} is {}", c.status().unwrap_or_default()),
                )),
                Some(c) => Ok(Err(c.status().unwrap_or("unknown").to_string())),
                None => Err(AwsError::new(
                    "docdb:DescribeDBClusters",
                    "DBClusterNotFoundFault",
                    format!("cluster {id} disappeared while waiting for it"),
                )),
            }
        },
    )
    .await
}

async fn cluster_gone(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    poll(
        "docdb:DescribeDBClusters",
        &format!("cluster {id} to be deleted"),
        WAIT,
        task,
        || async {
            Ok(match describe_cluster(ctx, id).await? {
                None => Ok(()),
                Some(c) => Err(c.status().unwrap_or("unknown").to_string()),
            })
        },
    )
    .await
}

async fn instance_gone(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    task.status(&format!(
        "waiting for instance {id} to be deleted (minutes on AWS)"
    ));
    ctx.clients
        .docdb
        .wait_until_db_instance_deleted()
        .db_instance_identifier(id)
        .wait(WAIT)
        .await
        .map(|_| ())
        .map_err(|e| {
            AwsError::new(
                "docdb:DescribeDBInstances",
                "WaiterFailed",
                format!("waiting for instance {id} to be deleted: {e}"),
            )
        })
}

async fn instance_available(ctx: &Ctx, id: &str, task: &Task) -> Result<DbInstance, AwsError> {
    task.status(&format!(
        "waiting for instance {id} to be available (minutes on AWS)"
    ));
    ctx.clients
        .docdb
        .wait_until_db_instance_available()
        .db_instance_identifier(id)
        .wait(WAIT)
        .await
        .map_err(|e| {
            AwsError::new(
                "docdb:DescribeDBInstances",
                "WaiterFailed",
                format!("waiting for instance {id} to be available: {e}"),
            )
        })?;
    describe_instance(ctx, id).await?.ok_or_else(|| {
        AwsError::new(
            "docdb:DescribeDBInstances",
            "DBInstanceNotFound",
            format!("instance {id} disappeared after becoming available"),
        )
    })
}

async fn create_subnet_group(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let name = s(r, "name");
    let out = ctx
        .clients
        .docdb
        .create_db_subnet_group()
        .db_subnet_group_name(name)
        .db_subnet_group_description(s(r, "description"))
        .set_subnet_ids(Some(strings(r.props.get("subnet_ids"))))
        .set_tags(Some(tag_list(r)))
        .send()
        .await
        .map_err(aws("docdb:CreateDBSubnetGroup"))?;
    Ok(group_attrs(
        name,
        out.db_subnet_group().and_then(|g| g.db_subnet_group_arn()),
    ))
}

async fn update_subnet_group(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    if changed.contains("description") || changed.contains("subnet_ids") {
        ctx.clients
            .docdb
            .modify_db_subnet_group()
            .db_subnet_group_name(s(r, "name"))
            .db_subnet_group_description(s(r, "description"))
            .set_subnet_ids(Some(strings(r.props.get("subnet_ids"))))
            .send()
            .await
            .map_err(aws("docdb:ModifyDBSubnetGroup"))?;
    }
    if changed.contains("tags") {
        sync_tags(ctx, arn_of(prior)?, prior, r, &[]).await?;
    }
    Ok(prior.attrs.clone())
}

/// Retried while a cluster being deleted still uses it.
async fn delete_subnet_group(ctx: &Ctx, o: &Observed) -> Result<(), AwsError> {
    let r = retry_on(&["InvalidDBSubnetGroupStateFault"], BUSY_RETRY, || async {
        ctx.clients
            .docdb
            .delete_db_subnet_group()
            .db_subnet_group_name(&o.physical_id)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:DeleteDBSubnetGroup"))
    })
    .await;
    match r {
        Err(e) if not_found(&e) => Ok(()),
        other => other,
    }
}

/// Each managed parameter with how it applies: `tls` is static (takes effect when the
/// instances reboot), the log switches are dynamic.
fn parameters(
    values: &BTreeMap<String, Value>,
    only: Option<&BTreeMap<String, Value>>,
) -> Vec<Parameter> {
    values
        .iter()
        .filter(|(k, v)| only.is_none_or(|before| before.get(*k) != Some(*v)))
        .map(|(k, v)| {
            let method = if k == "tls" {
                ApplyMethod::PendingReboot
            } else {
                ApplyMethod::Immediate
            };
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v.as_str().unwrap_or_default())
                .apply_method(method)
                .build()
        })
        .collect()
}

async fn set_parameters(ctx: &Ctx, name: &str, params: Vec<Parameter>) -> Result<(), AwsError> {
    if params.is_empty() {
        return Ok(());
    }
    ctx.clients
        .docdb
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(name)
        .set_parameters(Some(params))
        .send()
        .await
        .map_err(aws("docdb:ModifyDBClusterParameterGroup"))?;
    Ok(())
}

async fn create_param_group(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let name = s(r, "name");
    let out = ctx
        .clients
        .docdb
        .create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(name)
        .db_parameter_group_family(s(r, "family"))
        .description(s(r, "description"))
        .set_tags(Some(tag_list(r)))
        .send()
        .await
        .map_err(aws("docdb:CreateDBClusterParameterGroup"))?;
    let empty = BTreeMap::new();
    let values = r
        .props
        .get("parameters")
        .and_then(Value::as_map)
        .unwrap_or(&empty);
    set_parameters(ctx, name, parameters(values, None)).await?;
    Ok(group_attrs(
        name,
        out.db_cluster_parameter_group()
            .and_then(|g| g.db_cluster_parameter_group_arn()),
    ))
}

async fn update_param_group(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    if changed.contains("parameters") {
        let empty = BTreeMap::new();
        let after = r
            .props
            .get("parameters")
            .and_then(Value::as_map)
            .unwrap_or(&empty);
        let before = prior.props.get("parameters").and_then(Value::as_map);
        set_parameters(ctx, s(r, "name"), parameters(after, before)).await?;
    }
    if changed.contains("tags") {
        sync_tags(ctx, arn_of(prior)?, prior, r, &[]).await?;
    }
    Ok(prior.attrs.clone())
}

/// Delete a parameter group. While our cluster still uses it (an engine upgrade replaces the
/// group before the cluster moves to the new one), the cluster is moved to the engine's
/// default group first; the update that follows gives it the new group.
async fn delete_param_group(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let dd = &ctx.clients.docdb;
    let name = o.physical_id.as_str();
    let delete = || async {
        dd.delete_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:DeleteDBClusterParameterGroup"))
    };
    let r = match delete().await {
        Err(e) if e.is("InvalidDBParameterGroupState") => {
            let cluster = format!("{}-{}-docdb", ctx.project, ctx.env);
            if let Some(c) = describe_cluster(ctx, &cluster).await? {
                // Only our own cluster is ever modified here.
                let (_, tags) =
                    list_tags(ctx, c.db_cluster_arn().unwrap_or_default().to_string()).await?;
                let tags = tags.unwrap_or_default();
                let tagged = |k: &str, v: &str| {
                    tags.iter()
                        .any(|t| t.key() == Some(k) && t.value() == Some(v))
                };
                let ours = tagged(TAG_PROJECT, &ctx.project) && tagged(TAG_ENV, &ctx.env);
                if ours
                    && c.db_cluster_parameter_group() == Some(name)
                    && c.status() != Some("deleting")
                {
                    let default = format!("default.{}", o.get_str("family").unwrap_or("docdb5.0"));
                    task.status(&format!(
                        "moving cluster {cluster} to {default} while its parameter group is replaced"
                    ));
                    dd.modify_db_cluster()
                        .db_cluster_identifier(&cluster)
                        .db_cluster_parameter_group_name(default)
                        .apply_immediately(true)
                        .send()
                        .await
                        .map_err(aws("docdb:ModifyDBCluster"))?;
                }
            }
            task.status("deleting (retried while a cluster still uses it)");
            retry_on(&["InvalidDBParameterGroupState"], BUSY_RETRY, delete).await
        }
        other => other,
    };
    match r {
        Err(e) if not_found(&e) => Ok(()),
        other => other,
    }
}

async fn create_cluster(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let id = s(r, "identifier");
    let secret_arn = s(r, "master_password_secret");
    // Straight from the secret into the call: never in a property, an attribute or a log.
    let password = secrets::generated_value(ctx, secret_arn).await?;
    let mut tags = tag_list(r);
    tags.push(tag(TAG_PASSWORD_ID, s(r, "password_id")));
    tags.push(tag(TAG_PASSWORD_SECRET, secret_arn));
    let send = || async {
        ctx.clients
            .docdb
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(s(r, "engine"))
            .engine_version(s(r, "engine_version"))
            .master_username(s(r, "master_username"))
            .master_user_password(&password)
            .storage_encrypted(flag(r, "storage_encrypted"))
            .db_subnet_group_name(s(r, "db_subnet_group_name"))
            .set_vpc_security_group_ids(Some(strings(r.props.get("vpc_security_group_ids"))))
            .port(int(r, "port"))
            .backup_retention_period(int(r, "backup_retention_period"))
            .preferred_backup_window(s(r, "preferred_backup_window"))
            .preferred_maintenance_window(s(r, "preferred_maintenance_window"))
            .set_enable_cloudwatch_logs_exports(Some(strings(
                r.props.get("enabled_cloudwatch_logs_exports"),
            )))
            .deletion_protection(flag(r, "deletion_protection"))
            .db_cluster_parameter_group_name(s(r, "db_cluster_parameter_group_name"))
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:CreateDBCluster"))
    };
    match send().await {
        // Ours, still being deleted (an interrupted destroy or replace): wait, then create.
        Err(e) if e.is("DBClusterAlreadyExistsFault") => match describe_cluster(ctx, id).await? {
            Some(c) if c.status() == Some("deleting") => {
                cluster_gone(ctx, id, task).await?;
                send().await?;
            }
            _ => return Err(e),
        },
        other => other?,
    }
    let c = cluster_available(ctx, id, task).await?;
    Ok(cluster_attrs(&c))
}

async fn update_cluster(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let id = prior.physical_id.as_str();
    let has = |k: &str| changed.contains(k);
    let mut req = ctx
        .clients
        .docdb
        .modify_db_cluster()
        .db_cluster_identifier(id);
    let mut modify = false;
    // The engine version waits for the maintenance window unless the spec says
    // apply_immediately; the cluster reports no pending value for it, so a deferred upgrade
    // is recorded in a tag (observe counts it as done). The password is always applied at
    // once: the secret already holds the new one.
    let mut now = apply_now(r);
    let mut pending_engine = None;
    if has("engine_version") {
        let (before, after) = (
            prior.get_str("engine_version").unwrap_or_default(),
            s(r, "engine_version"),
        );
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        req = req
            .engine_version(after)
            .allow_major_version_upgrade(major(before) != major(after));
        modify = true;
        pending_engine = Some(after.to_string());
    }
    if has("backup_retention_period") {
        req = req.backup_retention_period(int(r, "backup_retention_period"));
        modify = true;
    }
    if has("preferred_backup_window") {
        req = req.preferred_backup_window(s(r, "preferred_backup_window"));
        modify = true;
    }
    if has("preferred_maintenance_window") {
        req = req.preferred_maintenance_window(s(r, "preferred_maintenance_window"));
        modify = true;
    }
    if has("port") {
        req = req.port(int(r, "port"));
        modify = true;
    }
    if has("deletion_protection") {
        req = req.deletion_protection(flag(r, "deletion_protection"));
        modify = true;
    }
    if has("vpc_security_group_ids") {
        req = req.set_vpc_security_group_ids(Some(strings(r.props.get("vpc_security_group_ids"))));
        modify = true;
    }
    if has("db_cluster_parameter_group_name") {
        req = req.db_cluster_parameter_group_name(s(r, "db_cluster_parameter_group_name"));
        modify = true;
    }
    if has("enabled_cloudwatch_logs_exports") {
        let before: BTreeSet<String> = strings(prior.props.get("enabled_cloudwatch_logs_exports"))
            .into_iter()
            .collect();
        let after: BTreeSet<String> = strings(r.props.get("enabled_cloudwatch_logs_exports"))
            .into_iter()
            .collect();
        let cfg = CloudwatchLogsExportConfiguration::builder()
            .set_enable_log_types(Some(after.difference(&before).cloned().collect()))
            .set_disable_log_types(Some(before.difference(&after).cloned().collect()))
            .build();
        req = req.cloudwatch_logs_export_configuration(cfg);
        modify = true;
    }
    let password_changed = has("password_id") || has("master_password_secret");
    if password_changed {
        let password = secrets::generated_value(ctx, s(r, "master_password_secret")).await?;
        req = req.master_user_password(password);
        now = true;
        modify = true;
    }
    if modify {
        req.apply_immediately(now)
            .send()
            .await
            .map_err(aws("docdb:ModifyDBCluster"))?;
    }
    // Deferred only when nothing in the same request had to go now.
    let pending_engine = pending_engine.filter(|_| !now);
    if has("tags") || password_changed || pending_engine.is_some() {
        let mut extra: Vec<(&str, &str)> = if password_changed {
            vec![
                (TAG_PASSWORD_ID, s(r, "password_id")),
                (TAG_PASSWORD_SECRET, s(r, "master_password_secret")),
            ]
        } else {
            vec![]
        };
        if let Some(v) = &pending_engine {
            extra.push((TAG_PENDING_ENGINE, v));
        }
        sync_tags(ctx, arn_of(prior)?, prior, r, &extra).await?;
    }
    let c = cluster_available(ctx, id, task).await?;
    Ok(cluster_attrs(&c))
}

/// `<cluster>-final-<UTC yyyymmddHHMMSS>`.
pub fn final_snapshot_id(cluster: &str, now: std::time::SystemTime) -> String {
    let stamp: String = aws_smithy_types::DateTime::from(now)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    format!("{cluster}-final-{stamp}")
}

async fn delete_cluster(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let id = o.physical_id.as_str();
    // The deletion policy lives on the cluster (destroy has no spec); without the tag, the
    // safe choice: take a snapshot.
    let skip = o.tag(TAG_FINAL_SNAPSHOT) == Some("skip");
    let snapshot = final_snapshot_id(id, std::time::SystemTime::now());
    if skip {
        task.status("deleting without a final snapshot (rtech:final-snapshot = skip)");
    } else {
        task.status(&format!("deleting with final snapshot {snapshot}"));
    }
    // Busy (instances still being deleted, a backup running): retried.
    let r = retry_on(&["InvalidDBClusterStateFault"], BUSY_RETRY, || async {
        let req = ctx
            .clients
            .docdb
            .delete_db_cluster()
            .db_cluster_identifier(id);
        let req = if skip {
            req.skip_final_snapshot(true)
        } else {
            req.skip_final_snapshot(false)
                .final_db_snapshot_identifier(&snapshot)
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:DeleteDBCluster"))
    })
    .await;
    match r {
        Err(e) if not_found(&e) => return Ok(()),
        other => other?,
    }
    cluster_gone(ctx, id, task).await
}

async fn create_instance(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let id = s(r, "identifier");
    let send = || async {
        ctx.clients
            .docdb
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(s(r, "instance_class"))
            .engine("docdb")
            .db_cluster_identifier(s(r, "cluster_identifier"))
            .availability_zone(s(r, "availability_zone"))
            .set_tags(Some(tag_list(r)))
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:CreateDBInstance"))
    };
    match send().await {
        Err(e) if e.is("DBInstanceAlreadyExists") => match describe_instance(ctx, id).await? {
            Some(i) if i.db_instance_status() == Some("deleting") => {
                instance_gone(ctx, id, task).await?;
                send().await?;
            }
            _ => return Err(e),
        },
        other => other?,
    }
    let i = instance_available(ctx, id, task).await?;
    Ok(instance_attrs(&i))
}

async fn update_instance(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let id = prior.physical_id.as_str();
    let mut attrs = prior.attrs.clone();
    if changed.contains("instance_class") {
        let now = apply_now(r);
        ctx.clients
            .docdb
            .modify_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(s(r, "instance_class"))
            .apply_immediately(now)
            .send()
            .await
            .map_err(aws("docdb:ModifyDBInstance"))?;
        if now {
            attrs = instance_attrs(&instance_available(ctx, id, task).await?);
        } else {
            task.status("the new class is pending until the maintenance window");
        }
    }
    if changed.contains("tags") {
        sync_tags(ctx, arn_of(prior)?, prior, r, &[]).await?;
    }
    Ok(attrs)
}

async fn delete_instance(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let id = o.physical_id.as_str();
    let r = ctx
        .clients
        .docdb
        .delete_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DeleteDBInstance"));
    match r {
        Err(e) if not_found(&e) => return Ok(()),
        // Already being deleted: wait for it like any other.
        Err(e) if e.is("InvalidDBInstanceState") => {}
        other => other.map(|_| ())?,
    }
    instance_gone(ctx, id, task).await
}

#[cfg(test)]
mod tests;
