//! `backup_selection/docdb`: what the plan backs up (the DocumentDB cluster, by ARN) and the
//! role AWS Backup does it as. AWS Backup cannot change a selection: any difference replaces
//! it. Selections take no tags; every selection of our plan is ours.

use async_trait::async_trait;
use aws_sdk_backup::types::BackupSelection;
use serde::{Deserialize, Serialize};

use super::{rid, PLAN, SELECTION};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{ctx_token, from_props, gone_ok, to_props, Link, PropsError};
use crate::reconcile::{docdb, iam, Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(SELECTION, &["name", "plan_id", "iam_role_arn", "resources"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionProps {
    pub name: String,
    /// The plan's id.
    pub plan_id: Link,
    /// `iam_role/backup`'s ARN.
    pub iam_role_arn: Link,
    /// The cluster's ARN.
    pub resources: Vec<Link>,
}

pub fn expand(name: &str) -> Resource {
    let props = SelectionProps {
        name: name.to_string(),
        plan_id: Link::to(&rid(PLAN), "id"),
        iam_role_arn: Link::to(&iam::role_id(iam::BACKUP), "arn"),
        resources: vec![Link::to(&ResourceId::new(docdb::CLUSTER, "main"), "arn")],
    };
    Resource::new(rid(SELECTION), name).with_props(to_props(&props))
}

/// A live selection of plan `plan_id` (pure).
pub fn observed(
    id: ResourceId,
    plan_id: &str,
    selection_id: &str,
    s: &BackupSelection,
) -> Observed {
    let mut resources: Vec<&String> = s.resources().iter().collect();
    resources.sort();
    let mut o = Observed::new(id, selection_id)
        .with_props(to_props(&SelectionProps {
            name: s.selection_name().to_string(),
            plan_id: Link::from(plan_id),
            iam_role_arn: Link::from(s.iam_role_arn()),
            resources: resources
                .into_iter()
                .map(|r| Link::from(r.as_str()))
                .collect(),
        }))
        .attr("id", selection_id)
        .attr("plan_id", plan_id);
    // Deleted before its plan, its role and what it selects.
    o.deps.insert(rid(PLAN));
    o.deps.insert(iam::role_id(iam::BACKUP));
    o.deps.insert(ResourceId::new(docdb::CLUSTER, "main"));
    o
}

/// The selection as AWS Backup takes it (pure).
pub fn selection_input(p: &SelectionProps) -> Result<BackupSelection, AwsError> {
    let resources = p
        .resources
        .iter()
        .map(|l| l.require("resources").map(str::to_string))
        .collect::<Result<Vec<_>, PropsError>>()?;
    BackupSelection::builder()
        .selection_name(&p.name)
        .iam_role_arn(p.iam_role_arn.require("iam_role_arn")?)
        .set_resources(Some(resources))
        .build()
        .map_err(|e| {
            AwsError::new(
                "backup:CreateBackupSelection",
                "InvalidRequest",
                e.to_string(),
            )
        })
}

pub struct SelectionKind;

#[async_trait]
impl Kind for SelectionKind {
    crate::typed_kind!(SCHEMA, SelectionProps);

    /// CreatorRequestId: a retried request (lost response) gets the selection the first made.
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: SelectionProps = from_props(&r.props)?;
        let plan_id = p.plan_id.require("plan_id")?.to_string();
        let out = ctx
            .clients
            .backup
            .create_backup_selection()
            .backup_plan_id(&plan_id)
            .backup_selection(selection_input(&p)?)
            .creator_request_id(ctx_token(ctx, &r.id, 32))
            .send()
            .await
            .map_err(aws("backup:CreateBackupSelection"))?;
        let mut a = Attrs::new();
        if let Some(s) = out.selection_id() {
            a.insert("id".into(), s.to_string());
        }
        a.insert("plan_id".into(), plan_id);
        Ok(a)
    }

    /// Nothing changes in place (every field forces a replace).
    async fn update(&self, _ctx: &Ctx, _u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let plan_id = o.attrs.get("plan_id").cloned().unwrap_or_default();
        gone_ok(
            ctx.clients
                .backup
                .delete_backup_selection()
                .backup_plan_id(plan_id)
                .selection_id(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("backup:DeleteBackupSelection")),
        )
    }
}
