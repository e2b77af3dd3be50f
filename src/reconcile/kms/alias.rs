//! `kms_alias/alerts`: `alias/{project}-{env}-alerts`, naming the alerts key. An alias carries
//! no tags: it is ours when the key it names carries ours; one naming any other key is
//! foreign (a conflict, never touched).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{alias_id, key_id, ALIAS};
use crate::aws::{all_pages, aws, AwsError, ErrorKind};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(ALIAS, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasProps {
    /// `alias/…`.
    pub name: String,
    /// The key's id (ListAliases' `TargetKeyId`).
    pub target_key_id: Link,
}

/// The wanted alias (pure), naming the env's alerts key.
pub fn expand(name: &str) -> Resource {
    let props = AliasProps {
        name: name.to_string(),
        target_key_id: Link::to(&key_id(), "key_id"),
    };
    Resource::new(alias_id(), name).with_props(to_props(&props))
}

/// The live alias → `Observed` (pure).
pub fn observed(name: &str, arn: &str, target: &str) -> Observed {
    let props = AliasProps {
        name: name.to_string(),
        target_key_id: Link::Known(target.to_string()),
    };
    Observed::new(alias_id(), name)
        .with_props(to_props(&props))
        .attr("arn", arn)
        .attr("name", name)
        .dep(&key_id())
}

/// Whether the alias `name` exists and names the key `key` (its id or ARN).
async fn names(ctx: &Ctx, name: &str, key: &str) -> Result<bool, AwsError> {
    let aliases = all_pages!(ctx.clients.kms.list_aliases(), "kms:ListAliases")?;
    Ok(aliases.iter().any(|a| {
        a.alias_name() == Some(name)
            && a.target_key_id()
                .is_some_and(|t| key == t || key.ends_with(&format!(":key/{t}")))
    }))
}

pub struct Alias;

#[async_trait]
impl Kind for Alias {
    crate::typed_kind!(SCHEMA, AliasProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: AliasProps = from_props(&r.props)?;
        let target = p.target_key_id.require("target_key_id")?;
        let req = ctx.clients.kms.create_alias().alias_name(&p.name);
        let made = req.target_key_id(target).send().await;
        let made = made.map(|_| ()).map_err(aws("kms:CreateAlias"));
        match made {
            // The SDK's retry of a CreateAlias whose answer was lost: the alias is there,
            // naming our key, so our first attempt made it.
            Err(e)
                if e.kind() == ErrorKind::AlreadyExists && names(ctx, &p.name, target).await? => {}
            Err(e) => {
                let m = format!("{} ({}): {}", r.id, p.name, e.message);
                return Err(e.with_message(m));
            }
            Ok(()) => {}
        }
        let mut a = Attrs::new();
        a.insert("id".into(), p.name.clone());
        a.insert("name".into(), p.name);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let p: AliasProps = from_props(&u.desired.props)?;
        if u.changed("target_key_id") {
            ctx.clients
                .kms
                .update_alias()
                .alias_name(&p.name)
                .target_key_id(p.target_key_id.require("target_key_id")?)
                .send()
                .await
                .map_err(aws("kms:UpdateAlias"))?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .kms
                .delete_alias()
                .alias_name(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("kms:DeleteAlias")),
        )
    }
}
