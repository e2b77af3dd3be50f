//! `docdb_instance/<n>`: the cluster's instances, n = 1..instances, spread over the env's AZs
//! round-robin.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_docdb::client::Waiters;
use aws_sdk_docdb::types::DbInstance;
use serde::{Deserialize, Serialize};

use super::cluster::TAG_APPLY_IMMEDIATELY;
use super::{
    apply_now_tag, create_after_deleting, describe_instance, existing_at, rid, spec_tags,
    sync_tags, tag_list, CLUSTER, INSTANCE, WAIT,
};
use crate::aws::{aws, waited, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, from_props, to_props, with_ticker, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::data::Docdb as DocdbSpec;
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    INSTANCE,
    &["identifier", "cluster_identifier", "availability_zone"],
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceProps {
    pub identifier: String,
    pub cluster_identifier: Option<Link>,
    pub instance_class: Option<String>,
    pub availability_zone: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl InstanceProps {
    /// The instance as properties. A class change AWS holds for the maintenance window
    /// (PendingModifiedValues) counts as done: the plan shows it once, not on every run.
    pub fn observed(i: &DbInstance, tags: BTreeMap<String, String>) -> Self {
        let class = i
            .pending_modified_values()
            .and_then(|p| p.db_instance_class())
            .or(i.db_instance_class());
        InstanceProps {
            identifier: i.db_instance_identifier().unwrap_or_default().to_string(),
            cluster_identifier: i.db_cluster_identifier().map(Link::from),
            instance_class: class.map(String::from),
            availability_zone: i.availability_zone().map(String::from),
            tags,
        }
    }
}

pub fn expand(spec: &Spec, d: &DocdbSpec) -> Vec<Resource> {
    let cluster = rid(CLUSTER, "main");
    let azs = &spec.network.azs;
    (1..=d.instances as usize)
        .map(|n| {
            let id = rid(INSTANCE, &n.to_string());
            let name = spec.name(&format!("docdb-{n}"));
            let props = InstanceProps {
                identifier: name.clone(),
                cluster_identifier: Some(Link::to(&cluster, "id")),
                instance_class: Some(d.instance_class.clone()),
                availability_zone: Some(azs[(n - 1) % azs.len()].clone()),
                tags: spec_tags(
                    spec,
                    &id,
                    &name,
                    &[(TAG_APPLY_IMMEDIATELY, apply_now_tag(d.apply_immediately))],
                ),
            };
            Resource::new(id, &name).with_props(to_props(&props))
        })
        .collect()
}

pub fn instance_attrs(i: &DbInstance) -> Attrs {
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

pub struct Instance;

#[async_trait]
impl Kind for Instance {
    crate::typed_kind!(SCHEMA, InstanceProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: &InstanceProps = &from_props(&r.props)?;
        let id = p.identifier.as_str();
        let cluster = p
            .cluster_identifier
            .as_ref()
            .map(|l| l.require("cluster_identifier").map(String::from))
            .transpose()?;
        let send = || async {
            ctx.clients
                .docdb
                .create_db_instance()
                .db_instance_identifier(id)
                .set_db_instance_class(p.instance_class.clone())
                .engine("docdb")
                .set_db_cluster_identifier(cluster.clone())
                .set_availability_zone(p.availability_zone.clone())
                .set_tags(Some(tag_list(&p.tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(aws("docdb:CreateDBInstance"))
        };
        let deleting = async {
            let i = describe_instance(ctx, id).await?;
            Ok(i.is_some_and(|i| i.db_instance_status() == Some("deleting")))
        };
        let create = create_after_deleting(
            send,
            "DBInstanceAlreadyExists",
            deleting,
            instance_gone(ctx, id, task),
        );
        // The identifier is unique: an existing instance that is not being deleted is ours when
        // tagged so (a retried create whose first attempt succeeded), and adopted.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let i = describe_instance(ctx, id).await?;
            existing_at(ctx, r, i.as_ref().and_then(|i| i.db_instance_arn()), ()).await
        })
        .await?;
        let i = instance_available(ctx, id, task).await?;
        Ok(instance_attrs(&i))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &InstanceProps = &from_props(&u.desired.props)?;
        let id = prior.physical_id.as_str();
        let mut attrs = prior.attrs.clone();
        if changed.contains("instance_class") {
            let now = p.tags.get(TAG_APPLY_IMMEDIATELY).map(String::as_str) == Some("true");
            ctx.clients
                .docdb
                .modify_db_instance()
                .db_instance_identifier(id)
                .set_db_instance_class(p.instance_class.clone())
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
            let before: InstanceProps = from_props(&prior.props)?;
            sync_tags(ctx, prior, &before.tags, &p.tags).await?;
        }
        Ok(attrs)
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        delete_instance(ctx, &o.physical_id, task).await
    }
}

/// Delete instance `id` and wait until it is gone; one already gone is deleted, one already
/// being deleted is waited for like any other.
pub(super) async fn delete_instance(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    let r = ctx
        .clients
        .docdb
        .delete_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("docdb:DeleteDBInstance"));
    match r {
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) if e.is("InvalidDBInstanceState") => {}
        other => other?,
    }
    instance_gone(ctx, id, task).await
}

pub(super) async fn instance_gone(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    let what = format!("instance {id} to be deleted");
    let waiter = ctx
        .clients
        .docdb
        .wait_until_db_instance_deleted()
        .db_instance_identifier(id)
        .wait(WAIT);
    with_ticker(task, &what, waiter)
        .await
        .map(|_| ())
        .map_err(waited("docdb:DescribeDBInstances", what.as_str()))
}

pub(super) async fn instance_available(
    ctx: &Ctx,
    id: &str,
    task: &Task,
) -> Result<DbInstance, AwsError> {
    let what = format!("instance {id} to be available");
    let waiter = ctx
        .clients
        .docdb
        .wait_until_db_instance_available()
        .db_instance_identifier(id)
        .wait(WAIT);
    with_ticker(task, &what, waiter)
        .await
        .map_err(waited("docdb:DescribeDBInstances", what.as_str()))?;
    describe_instance(ctx, id).await?.ok_or_else(|| {
        AwsError::new(
            "docdb:DescribeDBInstances",
            "DBInstanceNotFound",
            format!("instance {id} disappeared after becoming available"),
        )
    })
}
