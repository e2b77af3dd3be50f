//! AWS Backup of the DocumentDB cluster (only with `[backup]` and `[docdb]`): DocumentDB has no
//! export to S3 (`StartExportTask` is RDS's), and AWS Backup is AWS's managed, scheduled
//! copy of the cluster kept apart from it.
//!
//! - `backup_vault/docdb` ([`vault`]): the vault `{project}-{env}-docdb`, encrypted with AWS
//!   Backup's default key, tagged.
//! - `backup_plan/docdb` ([`plan`]): the plan `{project}-{env}-docdb`, one rule `daily` to that
//!   vault on `[backup] schedule`, each recovery point deleted after `retention_days`; tagged.
//! - `backup_selection/docdb` ([`selection`]): the selection `{project}-{env}-docdb-cluster`
//!   in that plan naming the cluster's ARN, run as `iam_role/backup` (the iam service's role
//!   trusted by `backup.amazonaws.com` with `AWSBackupServiceRolePolicyForBackup`). Selections
//!   carry no tags: they are ours because they are in our plan, so every selection of our plan
//!   is observed.
//!
//! Destroy deletes the selection, then the plan, then the vault (each depends on the one
//! before). AWS refuses to delete a vault that holds recovery points: the delete fails naming
//! the vault and AWS's code, and says to delete the recovery points first.
//!
//! Observe, from the env's tag index (it lists vaults and plans with their tags): the vault the
//! index lists as ours under our name is observed from it (its props are its name and tags);
//! our plan is read by the id its indexed ARN holds: GetBackupPlan and ListBackupSelections
//! at once, then GetBackupSelection per selection (one). What the index does not list (a
//! resource tagged too recently, someone else's under our name), and an indexed plan that is
//! gone, are looked for by name: ListBackupVaults / ListBackupPlans (paginated), ListTags for
//! one the index does not list. A no-op plan: 3 calls (5 before the index stood in for the lists).

pub mod plan;
pub mod selection;
pub mod vault;

mod iam;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_backup::Client;

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{tags_for, Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{claimed_id, found, tag_index::TagIndex, tags::tag_map, Claims};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub const VAULT: &str = "backup_vault";
pub const PLAN: &str = "backup_plan";
pub const SELECTION: &str = "backup_selection";

const KINDS: &[&dyn Kind] = &[&vault::Vault, &plan::PlanKind, &selection::SelectionKind];

pub fn rid(kind: &str) -> ResourceId {
    ResourceId::new(kind, "docdb")
}

/// `{project}-{env}-docdb`: the vault and the plan.
pub fn vault_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-docdb")
}

pub fn plan_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-docdb")
}

/// `{project}-{env}-docdb-cluster`.
pub fn selection_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-docdb-cluster")
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let (Some(b), Some(_)) = (&spec.backup, &spec.docdb) else {
        return vec![];
    };
    let tags =
        |id: &ResourceId, name: &str| tags_for(&spec.project, &spec.env, id, name, &spec.tags);
    let vault_name = vault_name(&spec.project, &spec.env);
    let plan_name = plan_name(&spec.project, &spec.env);
    vec![
        vault::expand(&vault_name, tags(&rid(VAULT), &vault_name)),
        plan::expand(&plan_name, &vault_name, b, tags(&rid(PLAN), &plan_name)),
        selection::expand(&selection_name(&spec.project, &spec.env)),
    ]
}

pub(crate) fn hash_tags(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

crate::tag_api!(BackupTags, Client,
    untag "backup:UntagResource" => |c, arn, keys| c.untag_resource().resource_arn(arn).set_tag_key_list(Some(keys)),
    tag "backup:TagResource" => |c, arn, tags| c.tag_resource().resource_arn(arn).set_tags(Some(hash_tags(&tags))));

/// A resource's tags (None: gone).
async fn list_tags(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let r = ctx
        .clients
        .backup
        .list_tags()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("backup:ListTags"));
    Ok(found(r)?.map(|o| {
        tag_map(
            o.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        )
    }))
}

/// Our tags for `kind`'s resource at `arn`, from the index or read.
async fn tags_at(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    if let Some(t) = ctx.tag_index().await?.tags(arn) {
        return Ok(Some(t.clone()));
    }
    list_tags(ctx, arn).await
}

/// Whose a live vault or plan is: (id, ownership), or None (someone else's, another name).
fn classify(
    ctx: &Ctx,
    claims: &mut Claims,
    kind: &str,
    name: &str,
    wanted: &str,
    tags: &BTreeMap<String, String>,
) -> Option<(ResourceId, Ownership)> {
    match claimed_id(tags, &ctx.project, &ctx.env) {
        Some(id) if id.kind == kind => Some((claims.claim(id, name), Ownership::Owned)),
        _ if name == wanted => Some((rid(kind), Ownership::Foreign)),
        _ => None,
    }
}

/// The AWS Backup resource the index lists as the env's `kind` (its `rtech:id` tag), in
/// `region`, whose ARN's resource part starts with `prefix` (`backup-vault:`, `backup-plan:`):
/// (the rest of it: the vault's name or the plan's id, the ARN, its tags). Pure.
pub fn indexed(
    index: &TagIndex,
    (project, env, region): (&str, &str, &str),
    kind: &str,
    prefix: &str,
) -> Option<(String, String, BTreeMap<String, String>)> {
    index
        .resources("backup", Some(region), prefix)
        .find(|(_, _, tags)| claimed_id(tags, project, env) == Some(rid(kind)))
        .map(|(rest, arn, tags)| (rest.to_string(), arn.to_string(), tags.clone()))
}

/// Our plan (by its id) and its selections: GetBackupPlan and ListBackupSelections at once,
/// then GetBackupSelection per selection. None: the plan is gone (deleted, or only a deleted
/// plan's record).
async fn read_plan(
    ctx: &Ctx,
    claims: &mut Claims,
    id: ResourceId,
    plan_id: &str,
    arn: &str,
    tags: BTreeMap<String, String>,
) -> Result<Option<Vec<Observed>>, AwsError> {
    let bk = &ctx.clients.backup;
    let (got, selections) = tokio::try_join!(
        async {
            found(
                bk.get_backup_plan()
                    .backup_plan_id(plan_id)
                    .send()
                    .await
                    .map_err(aws("backup:GetBackupPlan")),
            )
        },
        async {
            found(all_pages!(
                bk.list_backup_selections().backup_plan_id(plan_id),
                "backup:ListBackupSelections"
            ))
        },
    )?;
    let Some(doc) = got.as_ref().and_then(|g| g.backup_plan()) else {
        return Ok(None);
    };
    if got.as_ref().is_some_and(|g| g.deletion_date().is_some()) {
        return Ok(None);
    }
    let mut out = vec![plan::observed(id, plan_id, arn, doc, tags)];
    let selections = selections.unwrap_or_default();
    let details = futures::future::try_join_all(selections.iter().map(|s| async move {
        let sid = s.selection_id().unwrap_or_default();
        let r = bk
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(sid)
            .send()
            .await
            .map_err(aws("backup:GetBackupSelection"));
        Ok::<_, AwsError>((sid.to_string(), found(r)?))
    }))
    .await?;
    for (sid, got) in details {
        let Some(sel) = got.as_ref().and_then(|g| g.backup_selection()) else {
            continue;
        };
        let wanted = selection_name(&ctx.project, &ctx.env);
        let name = sel.selection_name();
        // Every selection of our plan is ours: the desired one under its id, any other
        // under one of its own (deleted by the next apply).
        let id = if name == wanted {
            rid(SELECTION)
        } else {
            ResourceId::new(SELECTION, format!("docdb~{name}"))
        };
        out.push(selection::observed(
            claims.claim(id, &sid),
            plan_id,
            &sid,
            sel,
        ));
    }
    Ok(Some(out))
}

async fn observe(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let (vaults, plans) = tokio::try_join!(observe_vault(ctx), observe_plan(ctx))?;
    Ok(vaults.into_iter().chain(plans).collect())
}

/// The vault. Its props are its name and tags, both in the index: a vault the index lists as
/// ours under our name is observed from it, without a read (vault names are unique in a
/// region, so no one else's can hold ours). Otherwise ListBackupVaults (paginated): ours
/// tagged too recently for the index, or someone else's under our name (a conflict).
async fn observe_vault(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let vault_name = vault_name(&ctx.project, &ctx.env);
    let index = ctx.tag_index().await?;
    if let Some((name, arn, tags)) = indexed(
        index,
        (&ctx.project, &ctx.env, &ctx.region),
        VAULT,
        "backup-vault:",
    ) {
        if name == vault_name {
            return Ok(vec![vault::observed(rid(VAULT), &name, &arn, None, tags)]);
        }
    }
    let bk = &ctx.clients.backup;
    let vaults = all_pages!(bk.list_backup_vaults(), "backup:ListBackupVaults")?;
    let mut claims = Claims::new();
    let mut out = vec![];
    // Only resources under our names can be ours or clash with ours.
    for v in vaults
        .iter()
        .filter(|v| v.backup_vault_name() == Some(vault_name.as_str()))
    {
        let (Some(name), Some(arn)) = (v.backup_vault_name(), v.backup_vault_arn()) else {
            continue;
        };
        let Some(tags) = tags_at(ctx, arn).await? else {
            continue;
        };
        let Some((id, own)) = classify(ctx, &mut claims, VAULT, name, &vault_name, &tags) else {
            continue;
        };
        let mut o = vault::observed(id, name, arn, Some(v.number_of_recovery_points()), tags);
        o.ownership = own;
        out.push(o);
    }
    Ok(out)
}

/// The plan: the one the index lists as ours is read by the id its ARN holds (plan names are
/// unique in a region: no one else's can hold ours). Not listed, or gone since, or renamed out
/// of band: ListBackupPlans (paginated), by name.
async fn observe_plan(ctx: &Ctx) -> Result<Vec<Observed>, AwsError> {
    let plan_name = plan_name(&ctx.project, &ctx.env);
    let index = ctx.tag_index().await?;
    if let Some((plan_id, arn, tags)) = indexed(
        index,
        (&ctx.project, &ctx.env, &ctx.region),
        PLAN,
        "backup-plan:",
    ) {
        let mut claims = Claims::new();
        if let Some(out) = read_plan(ctx, &mut claims, rid(PLAN), &plan_id, &arn, tags).await? {
            let named = out.first().and_then(|o| o.get_str("name")) == Some(plan_name.as_str());
            if named {
                return Ok(out);
            }
        }
    }
    let bk = &ctx.clients.backup;
    let plans = all_pages!(bk.list_backup_plans(), "backup:ListBackupPlans")?;
    let mut claims = Claims::new();
    let mut out = vec![];
    for p in plans
        .iter()
        .filter(|p| p.backup_plan_name() == Some(plan_name.as_str()))
    {
        let (Some(plan_id), Some(arn)) = (p.backup_plan_id(), p.backup_plan_arn()) else {
            continue;
        };
        let name = p.backup_plan_name().unwrap_or_default();
        let Some(tags) = tags_at(ctx, arn).await? else {
            continue;
        };
        let Some((id, own)) = classify(ctx, &mut claims, PLAN, name, &plan_name, &tags) else {
            continue;
        };
        if own == Ownership::Foreign {
            let mut o = Observed::new(id, plan_id);
            o.ownership = Ownership::Foreign;
            out.push(o);
            continue;
        }
        // Deleted in between (or only a deleted plan's record): gone.
        if let Some(o) = read_plan(ctx, &mut claims, id, plan_id, arn, tags).await? {
            out.extend(o);
        }
    }
    Ok(out)
}

pub struct Backup;

#[async_trait]
impl Service for Backup {
    crate::service_basics!("backup", KINDS, expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx).await
    }
}

#[cfg(test)]
mod tests;
