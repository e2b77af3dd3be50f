//! `backup_plan/docdb`: the plan, one rule per name (`daily`: the spec's schedule to the env's
//! vault, each recovery point deleted after `[backup] retention_days`). Rules are compared by
//! name, so an extra rule added out of band shows as exactly that key; any rule change is one
//! UpdateBackupPlan with the whole desired document.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_backup::types::{BackupPlan, BackupPlanInput, BackupRuleInput, Lifecycle};
use serde::{Deserialize, Serialize};

use super::{hash_tags, list_tags, rid, BackupTags, PLAN, VAULT};
use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, ctx_token, from_props, gone_ok, sync_tags, to_props, Existing,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::data::Backup as BackupSpec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(PLAN, &["name"]);

/// The one rule rtech makes.
pub const RULE: &str = "daily";
/// How long after the scheduled time a backup may start, and must finish (minutes).
pub const START_WINDOW_MINUTES: i64 = 60;
pub const COMPLETION_WINDOW_MINUTES: i64 = 24 * 60;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProps {
    pub target_vault: String,
    pub schedule: Option<String>,
    pub start_window_minutes: Option<i64>,
    pub completion_window_minutes: Option<i64>,
    /// Lifecycle DeleteAfterDays (None: kept for ever).
    pub delete_after_days: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanProps {
    pub name: String,
    /// By rule name.
    pub rules: BTreeMap<String, RuleProps>,
    pub tags: BTreeMap<String, String>,
}

pub fn expand(name: &str, vault: &str, b: &BackupSpec, tags: BTreeMap<String, String>) -> Resource {
    let rule = RuleProps {
        target_vault: vault.to_string(),
        schedule: Some(b.schedule.clone()),
        start_window_minutes: Some(START_WINDOW_MINUTES),
        completion_window_minutes: Some(COMPLETION_WINDOW_MINUTES),
        delete_after_days: Some(b.retention_days),
    };
    let props = PlanProps {
        name: name.to_string(),
        rules: [(RULE.to_string(), rule)].into_iter().collect(),
        tags,
    };
    // The rule names the vault by name: created after it, deleted before it.
    Resource::new(rid(PLAN), name)
        .dep(&rid(VAULT))
        .with_props(to_props(&props))
}

/// A live plan (pure): GetBackupPlan's document.
pub fn observed(
    id: ResourceId,
    plan_id: &str,
    arn: &str,
    doc: &BackupPlan,
    tags: BTreeMap<String, String>,
) -> Observed {
    let rules = doc
        .rules()
        .iter()
        .map(|r| {
            (
                r.rule_name().to_string(),
                RuleProps {
                    target_vault: r.target_backup_vault_name().to_string(),
                    schedule: r.schedule_expression().map(str::to_string),
                    start_window_minutes: r.start_window_minutes(),
                    completion_window_minutes: r.completion_window_minutes(),
                    delete_after_days: r.lifecycle().and_then(|l| l.delete_after_days()),
                },
            )
        })
        .collect();
    let mut o = Observed::new(id, plan_id)
        .with_props(to_props(&PlanProps {
            name: doc.backup_plan_name().to_string(),
            rules,
            tags,
        }))
        .attr("id", plan_id)
        .attr("arn", arn);
    // Deleted before the vault its rules write to.
    o.deps.insert(rid(VAULT));
    o
}

fn invalid(op: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(op, "InvalidRequest", e.to_string())
}

/// The plan document (pure): every rule, in name order.
pub fn plan_input(p: &PlanProps, op: &str) -> Result<BackupPlanInput, AwsError> {
    let mut b = BackupPlanInput::builder().backup_plan_name(&p.name);
    for (name, r) in &p.rules {
        let mut rule = BackupRuleInput::builder()
            .rule_name(name)
            .target_backup_vault_name(&r.target_vault)
            .set_schedule_expression(r.schedule.clone())
            .set_start_window_minutes(r.start_window_minutes)
            .set_completion_window_minutes(r.completion_window_minutes);
        if let Some(d) = r.delete_after_days {
            rule = rule.lifecycle(Lifecycle::builder().delete_after_days(d).build());
        }
        b = b.rules(rule.build().map_err(|e| invalid(op, e))?);
    }
    b.build().map_err(|e| invalid(op, e))
}

fn attrs(plan_id: Option<&str>, arn: Option<&str>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(i) = plan_id {
        a.insert("id".into(), i.to_string());
    }
    if let Some(arn) = arn {
        a.insert("arn".into(), arn.to_string());
    }
    a
}

pub struct PlanKind;

#[async_trait]
impl Kind for PlanKind {
    crate::typed_kind!(SCHEMA, PlanProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: PlanProps = from_props(&r.props)?;
        let bk = &ctx.clients.backup;
        let doc = plan_input(&p, "backup:CreateBackupPlan")?;
        // CreatorRequestId: a retried request (lost response) gets the plan the first made.
        let create = async {
            let out = bk
                .create_backup_plan()
                .backup_plan(doc)
                .set_backup_plan_tags(Some(hash_tags(&p.tags)))
                .creator_request_id(ctx_token(ctx, &r.id, 32))
                .send()
                .await
                .map_err(aws("backup:CreateBackupPlan"))?;
            Ok(attrs(out.backup_plan_id(), out.backup_plan_arn()))
        };
        // AlreadyExists (the same plan, made by an earlier apply whose answer was lost): the
        // plan of that name is adopted when it carries our tags.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let plans = all_pages!(bk.list_backup_plans(), "backup:ListBackupPlans")?;
            let Some(found) = plans
                .iter()
                .find(|x| x.backup_plan_name() == Some(p.name.as_str()))
            else {
                return Ok(Existing::Missing);
            };
            let arn = found.backup_plan_arn().unwrap_or_default();
            Ok(Existing::of(
                ctx,
                &r.id,
                list_tags(ctx, arn).await?,
                attrs(found.backup_plan_id(), Some(arn)),
            ))
        })
        .await
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: PlanProps = from_props(&u.desired.props)?;
        let live: PlanProps = from_props(&u.prior.props)?;
        let bk = &ctx.clients.backup;
        let plan_id = u.prior.physical_id.as_str();
        if u.changed("rules") {
            bk.update_backup_plan()
                .backup_plan_id(plan_id)
                .backup_plan(plan_input(&p, "backup:UpdateBackupPlan")?)
                .send()
                .await
                .map_err(aws("backup:UpdateBackupPlan"))?;
        }
        if u.changed("tags") {
            let arn = u.prior.attrs.get("arn").cloned().unwrap_or_default();
            sync_tags(&BackupTags(bk), &arn, &live.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// AWS refuses while the plan has selections: they are deleted first (they depend on it).
    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .backup
                .delete_backup_plan()
                .backup_plan_id(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("backup:DeleteBackupPlan")),
        )
    }
}
