//! `backup_vault/docdb`: the vault the DocumentDB cluster's recovery points go to.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{hash_tags, list_tags, rid, BackupTags, VAULT};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, ctx_token, found, from_props, gone_ok, sync_tags, to_props, Existing,
};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(VAULT, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultProps {
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

pub fn expand(name: &str, tags: BTreeMap<String, String>) -> Resource {
    let props = VaultProps {
        name: name.to_string(),
        tags,
    };
    Resource::new(rid(VAULT), name).with_props(to_props(&props))
}

/// A live vault (pure); `recovery_points` (when ListBackupVaults read it) is kept as an
/// attribute.
pub fn observed(
    id: ResourceId,
    name: &str,
    arn: &str,
    recovery_points: Option<i64>,
    tags: BTreeMap<String, String>,
) -> Observed {
    let o = Observed::new(id, name)
        .with_props(to_props(&VaultProps {
            name: name.to_string(),
            tags,
        }))
        .attr("id", name)
        .attr("arn", arn);
    match recovery_points {
        Some(n) => o.attr("recovery_points", n.to_string()),
        None => o,
    }
}

/// AWS refuses to delete a vault holding recovery points (InvalidRequestException): the error
/// keeps AWS's code and says what to do.
pub fn explain_delete_error(vault: &str, e: AwsError) -> AwsError {
    if e.is("InvalidRequestException") && e.message.to_lowercase().contains("recovery point") {
        let msg = format!(
            "backup vault {vault} still holds recovery points and AWS Backup cannot delete it: delete them first (aws backup list-recovery-points-by-backup-vault --backup-vault-name {vault}, then aws backup delete-recovery-point for each), or keep the vault and its backups ({})",
            e.message
        );
        return e.with_message(msg);
    }
    e
}

fn attrs(name: &str, arn: Option<&str>) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    if let Some(arn) = arn {
        a.insert("arn".into(), arn.to_string());
    }
    a
}

pub struct Vault;

#[async_trait]
impl Kind for Vault {
    crate::typed_kind!(SCHEMA, VaultProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: VaultProps = from_props(&r.props)?;
        let bk = &ctx.clients.backup;
        // CreatorRequestId: a retried request (lost response) gets the vault the first made.
        let create = async {
            let out = bk
                .create_backup_vault()
                .backup_vault_name(&p.name)
                .set_backup_vault_tags(Some(hash_tags(&p.tags)))
                .creator_request_id(ctx_token(ctx, &r.id, 32))
                .send()
                .await
                .map_err(aws("backup:CreateBackupVault"))?;
            Ok(attrs(&p.name, out.backup_vault_arn()))
        };
        // The name is unique: one that exists is adopted when it carries our tags.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let got = found(
                bk.describe_backup_vault()
                    .backup_vault_name(&p.name)
                    .send()
                    .await
                    .map_err(aws("backup:DescribeBackupVault")),
            )?;
            let Some(arn) = got.and_then(|g| g.backup_vault_arn().map(str::to_string)) else {
                return Ok(Existing::Missing);
            };
            Ok(Existing::of(
                ctx,
                &r.id,
                list_tags(ctx, &arn).await?,
                attrs(&p.name, Some(&arn)),
            ))
        })
        .await
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        if u.changed("tags") {
            let p: VaultProps = from_props(&u.desired.props)?;
            let live: VaultProps = from_props(&u.prior.props)?;
            let arn = u.prior.attrs.get("arn").cloned().unwrap_or_default();
            sync_tags(&BackupTags(&ctx.clients.backup), &arn, &live.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let name = o.physical_id.as_str();
        gone_ok(
            ctx.clients
                .backup
                .delete_backup_vault()
                .backup_vault_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("backup:DeleteBackupVault"))
                .map_err(|e| explain_delete_error(name, e)),
        )
    }
}
