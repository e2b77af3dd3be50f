//! `docdb_cluster/main`: the encrypted cluster. Its master password goes from `secret/docdb`
//! straight into the create/modify call; the cluster records which password it has (the
//! secret's generated id) and where it lives in tags, read back as the `password_id` and
//! `master_password_secret` properties.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_docdb::types::{CloudwatchLogsExportConfiguration, DbCluster};
use serde::{Deserialize, Serialize};

use super::{
    apply_now_tag, create_after_deleting, describe_cluster, export_log_groups, list_tags, rid,
    spec_tags, sync_tags, tag_list, BUSY_RETRY, CLUSTER, PARAM_GROUP, SUBNET_GROUP, WAIT,
};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, Value};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, retry_while, to_props, until, Existing, Link, Poll,
    PropsError,
};
use crate::reconcile::{secrets, Ctx, Kind, Update};
use crate::spec::data::Docdb as DocdbSpec;
use crate::spec::network::DOCDB_PORT;
use crate::spec::Spec;

/// A property that is only ever set on the observed side: when the live engine is newer than
/// the spec's, the cluster must be replaced (DocumentDB cannot downgrade in place).
pub const ENGINE_DOWNGRADE: &str = "engine_version_downgrade";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    CLUSTER,
    &[
        "identifier",
        "engine",
        ENGINE_DOWNGRADE,
        "master_username",
        "storage_encrypted",
        "db_subnet_group_name",
    ],
);

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

/// Cluster states that pass on their own (waiting for `available` goes on through them).
const BUSY: &[&str] = &[
    "creating",
    "backing-up",
    "modifying",
    "upgrading",
    "renaming",
    "resetting-master-credentials",
    "maintenance",
    "migrating",
    "preparing-data-migration",
    "rebooting",
    "starting",
    "failing-over",
];
/// The other states a cluster being deleted may still show before it is gone.
const SETTLED: &[&str] = &[
    "deleting",
    "available",
    "stopping",
    "stopped",
    "failed",
    "inaccessible-encryption-credentials",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterProps {
    pub identifier: String,
    pub engine: String,
    pub engine_version: Option<String>,
    /// Observed only (`<live> to <wanted>: …`): forces a replace.
    pub engine_version_downgrade: Option<String>,
    pub master_username: Option<String>,
    /// The secret's ARN (tag `rtech:password-secret` on the live cluster).
    pub master_password_secret: Option<Link>,
    /// The secret's generated id (tag `rtech:password-id`).
    pub password_id: Option<Link>,
    pub storage_encrypted: bool,
    pub db_subnet_group_name: Option<Link>,
    pub vpc_security_group_ids: Vec<Link>,
    pub port: Option<i64>,
    pub backup_retention_period: Option<i64>,
    pub preferred_backup_window: Option<String>,
    /// Lower case (AWS may answer in another case).
    pub preferred_maintenance_window: Option<String>,
    /// Sorted.
    pub enabled_cloudwatch_logs_exports: Vec<String>,
    pub deletion_protection: bool,
    pub copy_tags_to_snapshot: bool,
    pub db_cluster_parameter_group_name: Option<Link>,
    pub tags: BTreeMap<String, String>,
}

/// Compare dotted versions numerically (`10.0.0` > `5.0.0`).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn sorted(items: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    v
}

impl ClusterProps {
    /// The cluster as properties. `tags` are all its tags (the password ones included);
    /// `wanted_version` is the spec's engine version (none on destroy): a live engine newer
    /// than it can only be replaced.
    pub fn observed(
        c: &DbCluster,
        tags: &BTreeMap<String, String>,
        wanted_version: Option<&str>,
    ) -> Self {
        let current = c.engine_version().unwrap_or_default();
        // A deferred upgrade still waiting for the maintenance window counts as done.
        let live = match tags.get(TAG_PENDING_ENGINE) {
            Some(p) if version_key(p) > version_key(current) => p.as_str(),
            _ => current,
        };
        let downgrade = match wanted_version {
            Some(w) if version_key(live) > version_key(w) => Some(format!(
                "{live} to {w}: DocumentDB cannot downgrade in place"
            )),
            _ => None,
        };
        let tag = |k: &str| tags.get(k).map(|v| Link::from(v.as_str()));
        ClusterProps {
            identifier: c.db_cluster_identifier().unwrap_or_default().to_string(),
            engine: c.engine().unwrap_or_default().to_string(),
            engine_version: c.engine_version().map(|_| live.to_string()),
            engine_version_downgrade: downgrade,
            master_username: c.master_username().map(String::from),
            master_password_secret: tag(TAG_PASSWORD_SECRET),
            password_id: tag(TAG_PASSWORD_ID),
            storage_encrypted: c.storage_encrypted().unwrap_or(false),
            db_subnet_group_name: c.db_subnet_group().map(Link::from),
            vpc_security_group_ids: sorted(
                c.vpc_security_groups()
                    .iter()
                    .filter(|g| g.status().is_none_or(|s| s != "removing"))
                    .filter_map(|g| g.vpc_security_group_id()),
            )
            .into_iter()
            .map(Link::from)
            .collect(),
            port: c.port().map(i64::from),
            backup_retention_period: c.backup_retention_period().map(i64::from),
            preferred_backup_window: c.preferred_backup_window().map(String::from),
            preferred_maintenance_window: c.preferred_maintenance_window().map(str::to_lowercase),
            enabled_cloudwatch_logs_exports: sorted(
                c.enabled_cloudwatch_logs_exports().iter().cloned(),
            ),
            deletion_protection: c.deletion_protection().unwrap_or(false),
            copy_tags_to_snapshot: c.copy_tags_to_snapshot().unwrap_or(false),
            db_cluster_parameter_group_name: c.db_cluster_parameter_group().map(Link::from),
            tags: tags
                .iter()
                .filter(|(k, _)| !PROP_TAGS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Modifications AWS can defer go now only when the spec says `apply_immediately`.
    fn apply_now(&self) -> bool {
        self.tags.get(TAG_APPLY_IMMEDIATELY).map(String::as_str) == Some("true")
    }

    fn security_groups(&self) -> Result<Vec<String>, PropsError> {
        self.vpc_security_group_ids
            .iter()
            .map(|l| l.require("vpc_security_group_ids").map(String::from))
            .collect()
    }

    fn secret(&self) -> Result<&str, PropsError> {
        required(&self.master_password_secret, "master_password_secret")
    }

    /// The tags that say which password the cluster has and where it lives.
    fn password_tags(&self) -> Result<[(String, String); 2], PropsError> {
        Ok([
            (
                TAG_PASSWORD_ID.to_string(),
                required(&self.password_id, "password_id")?.to_string(),
            ),
            (TAG_PASSWORD_SECRET.to_string(), self.secret()?.to_string()),
        ])
    }
}

fn required<'a>(l: &'a Option<Link>, field: &str) -> Result<&'a str, PropsError> {
    match l {
        Some(l) => l.require(field),
        None => Err(PropsError {
            message: format!("{field}: missing"),
        }),
    }
}

/// A reference that may be absent, resolved.
fn known(l: &Option<Link>, field: &str) -> Result<Option<String>, PropsError> {
    l.as_ref()
        .map(|l| l.require(field).map(String::from))
        .transpose()
}

pub fn expand(spec: &Spec, d: &DocdbSpec) -> Resource {
    let id = rid(CLUSTER, "main");
    let name = spec.name("docdb");
    let secret = secrets::secret_id("docdb");
    let mut logs = vec![];
    if d.audit_logs {
        logs.push("audit".to_string());
    }
    if d.profiler_logs {
        logs.push("profiler".to_string());
    }
    let final_snapshot = if d.skip_final_snapshot {
        "skip"
    } else {
        "take"
    };
    let props = ClusterProps {
        identifier: name.clone(),
        engine: "docdb".into(),
        engine_version: Some(d.engine_version.clone()),
        engine_version_downgrade: None,
        master_username: Some(d.master_username.clone()),
        master_password_secret: Some(Link::to(&secret, "arn")),
        password_id: Some(Link::to(&secret, secrets::GENERATED_ID)),
        storage_encrypted: true,
        db_subnet_group_name: Some(Link::to(&rid(SUBNET_GROUP, "main"), "id")),
        vpc_security_group_ids: vec![Link::to(&rid("sg", "docdb"), "id")],
        port: Some(DOCDB_PORT as i64),
        backup_retention_period: Some(d.backup_retention_days),
        preferred_backup_window: Some(d.backup_window.clone()),
        preferred_maintenance_window: Some(d.maintenance_window.to_lowercase()),
        enabled_cloudwatch_logs_exports: logs,
        deletion_protection: d.deletion_protection,
        copy_tags_to_snapshot: d.copy_tags_to_snapshot,
        db_cluster_parameter_group_name: Some(Link::to(&rid(PARAM_GROUP, "main"), "id")),
        tags: spec_tags(
            spec,
            &id,
            &name,
            &[
                (TAG_FINAL_SNAPSHOT, final_snapshot),
                (TAG_APPLY_IMMEDIATELY, apply_now_tag(d.apply_immediately)),
            ],
        ),
    };
    let mut cluster = Resource::new(id, &name);
    // rtech creates the export log groups first (retention, tags), else AWS creates them bare.
    for id in export_log_groups(d.audit_logs, d.profiler_logs) {
        cluster = cluster.dep(&id);
    }
    cluster.with_props(to_props(&props))
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

pub struct Cluster;

#[async_trait]
impl Kind for Cluster {
    crate::typed_kind!(SCHEMA, ClusterProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: &ClusterProps = &from_props(&r.props)?;
        let id = p.identifier.as_str();
        // Straight from the secret into the call: never in a property, an attribute or a log.
        let password = secrets::generated_value(ctx, p.secret()?).await?;
        let mut tags = p.tags.clone();
        tags.extend(p.password_tags()?);
        let tags = tag_list(&tags);
        let subnet_group = known(&p.db_subnet_group_name, "db_subnet_group_name")?;
        let param_group = known(
            &p.db_cluster_parameter_group_name,
            "db_cluster_parameter_group_name",
        )?;
        let security_groups = p.security_groups()?;
        let send = || async {
            ctx.clients
                .docdb
                .create_db_cluster()
                .db_cluster_identifier(id)
                .engine(&p.engine)
                .set_engine_version(p.engine_version.clone())
                .set_master_username(p.master_username.clone())
                .master_user_password(&password)
                .storage_encrypted(p.storage_encrypted)
                .set_db_subnet_group_name(subnet_group.clone())
                .set_vpc_security_group_ids(Some(security_groups.clone()))
                .set_port(p.port.map(|n| n as i32))
                .set_backup_retention_period(p.backup_retention_period.map(|n| n as i32))
                .set_preferred_backup_window(p.preferred_backup_window.clone())
                .set_preferred_maintenance_window(p.preferred_maintenance_window.clone())
                .set_enable_cloudwatch_logs_exports(Some(p.enabled_cloudwatch_logs_exports.clone()))
                .deletion_protection(p.deletion_protection)
                .copy_tags_to_snapshot(p.copy_tags_to_snapshot)
                .set_db_cluster_parameter_group_name(param_group.clone())
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("docdb:CreateDBCluster"))
        };
        let deleting = async {
            let c = describe_cluster(ctx, id).await?;
            Ok(c.is_some_and(|c| c.status() == Some("deleting")))
        };
        let create = create_after_deleting(
            send,
            "DBClusterAlreadyExistsFault",
            deleting,
            cluster_gone(ctx, id, task),
        );
        // The identifier is unique: an existing cluster that is not being deleted is ours when
        // tagged so (a retried create whose first attempt succeeded), and adopted.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let Some(arn) = describe_cluster(ctx, id)
                .await?
                .and_then(|c| c.db_cluster_arn().map(str::to_string))
            else {
                return Ok(Existing::Missing);
            };
            Ok(match list_tags(ctx, &arn).await? {
                None => Existing::Missing,
                Some(tags) => Existing::by_tags(&tags, &ctx.project, &ctx.env, &r.id, ()),
            })
        })
        .await?;
        let c = cluster_available(ctx, id, task).await?;
        Ok(cluster_attrs(&c))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &ClusterProps = &from_props(&u.desired.props)?;
        let before: ClusterProps = from_props(&prior.props)?;
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
        let mut now = p.apply_now();
        let mut pending_engine = None;
        if has("engine_version") {
            let from = before.engine_version.clone().unwrap_or_default();
            let to = p.engine_version.clone().unwrap_or_default();
            let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
            req = req
                .engine_version(&to)
                .allow_major_version_upgrade(major(&from) != major(&to));
            modify = true;
            pending_engine = Some(to);
        }
        if has("backup_retention_period") {
            req = req.set_backup_retention_period(p.backup_retention_period.map(|n| n as i32));
            modify = true;
        }
        if has("preferred_backup_window") {
            req = req.set_preferred_backup_window(p.preferred_backup_window.clone());
            modify = true;
        }
        if has("preferred_maintenance_window") {
            req = req.set_preferred_maintenance_window(p.preferred_maintenance_window.clone());
            modify = true;
        }
        if has("port") {
            req = req.set_port(p.port.map(|n| n as i32));
            modify = true;
        }
        if has("deletion_protection") {
            req = req.deletion_protection(p.deletion_protection);
            modify = true;
        }
        if has("copy_tags_to_snapshot") {
            req = req.copy_tags_to_snapshot(p.copy_tags_to_snapshot);
            modify = true;
        }
        if has("vpc_security_group_ids") {
            req = req.set_vpc_security_group_ids(Some(p.security_groups()?));
            modify = true;
        }
        if has("db_cluster_parameter_group_name") {
            req = req.set_db_cluster_parameter_group_name(known(
                &p.db_cluster_parameter_group_name,
                "db_cluster_parameter_group_name",
            )?);
            modify = true;
        }
        if has("enabled_cloudwatch_logs_exports") {
            let from: BTreeSet<&String> = before.enabled_cloudwatch_logs_exports.iter().collect();
            let to: BTreeSet<&String> = p.enabled_cloudwatch_logs_exports.iter().collect();
            let cfg = CloudwatchLogsExportConfiguration::builder()
                .set_enable_log_types(Some(to.difference(&from).map(|s| s.to_string()).collect()))
                .set_disable_log_types(Some(from.difference(&to).map(|s| s.to_string()).collect()))
                .build();
            req = req.cloudwatch_logs_export_configuration(cfg);
            modify = true;
        }
        let password_changed = has("password_id") || has("master_password_secret");
        if password_changed {
            let password = secrets::generated_value(ctx, p.secret()?).await?;
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
            // The bookkeeping tags are not in the `tags` property: always set when given.
            let mut after = p.tags.clone();
            if password_changed {
                after.extend(p.password_tags()?);
            }
            if let Some(v) = pending_engine {
                after.insert(TAG_PENDING_ENGINE.to_string(), v);
            }
            sync_tags(ctx, prior, &before.tags, &after).await?;
        }
        let c = cluster_available(ctx, id, task).await?;
        Ok(cluster_attrs(&c))
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
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
        delete_cluster(ctx, id, (!skip).then_some(snapshot.as_str()), task).await
    }

    /// A cluster a change references (its endpoint) must be available first, e.g. after an
    /// interrupted apply left it `creating`.
    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        Ok(cluster_attrs(
            &cluster_available(ctx, &o.physical_id, task).await?,
        ))
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}

/// Wait until the cluster is `available`; its final description.
pub(super) async fn cluster_available(
    ctx: &Ctx,
    id: &str,
    task: &Task,
) -> Result<DbCluster, AwsError> {
    let what = format!("cluster {id} to be available");
    let poll = Poll {
        op: "docdb:DescribeDBClusters",
        what: &what,
        pending: BUSY,
        target: &["available"],
        timeout: WAIT,
    };
    until(poll, task, || async {
        match describe_cluster(ctx, id).await? {
            Some(c) => Ok((c.status().unwrap_or("unknown").to_string(), c)),
            None => Err(AwsError::new(
                "docdb:DescribeDBClusters",
                "DBClusterNotFoundFault",
                format!("cluster {id} disappeared while waiting for it"),
            )),
        }
    })
    .await
}

pub(super) async fn cluster_gone(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    let what = format!("cluster {id} to be deleted");
    let any: Vec<&str> = BUSY.iter().chain(SETTLED).copied().collect();
    let poll = Poll {
        op: "docdb:DescribeDBClusters",
        what: &what,
        pending: &any,
        target: &["deleted"],
        timeout: WAIT,
    };
    until(poll, task, || async {
        let state = match describe_cluster(ctx, id).await? {
            None => "deleted".to_string(),
            Some(c) => c.status().unwrap_or("deleting").to_string(),
        };
        Ok((state, ()))
    })
    .await
}

/// DeleteDBCluster `id`, with a final snapshot of that name or without one, retried while the
/// cluster is busy (instances still being deleted, a backup running); then waits until it is
/// gone. What is already gone counts as deleted.
pub async fn delete_cluster(
    ctx: &Ctx,
    id: &str,
    final_snapshot: Option<&str>,
    task: &Task,
) -> Result<(), AwsError> {
    let r = retry_while(&[], &["InvalidDBClusterStateFault"], BUSY_RETRY, || async {
        let req = ctx
            .clients
            .docdb
            .delete_db_cluster()
            .db_cluster_identifier(id);
        let req = match final_snapshot {
            None => req.skip_final_snapshot(true),
            Some(snapshot) => req
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(snapshot),
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:DeleteDBCluster"))
    })
    .await;
    if found(r)?.is_none() {
        return Ok(());
    }
    cluster_gone(ctx, id, task).await
}
