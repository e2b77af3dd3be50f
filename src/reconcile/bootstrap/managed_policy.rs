//! `managed_policy/<env>-<plan|apply>-<n>`: one customer managed policy of a CI role, under
//! the path `/rtech/` and named `<project>-rtech-<env>-<plan|apply>-<n>`, holding the n-th
//! document of `rtech iam-policy --env <env> --for <plan|apply>`.
//!
//! Managed, not inline: IAM caps a role's inline policies at 10,240 characters in all, and an
//! env's apply policy alone is larger (prod's is four documents of up to 6,144 each), while a
//! role takes 10 managed policies. A changed document becomes a new default version
//! (CreatePolicyVersion); IAM keeps at most 5 versions, so when there are 5 the oldest that is
//! not the default is deleted first. Delete removes the non-default versions, then the policy.
//!
//! Observe: one ListPolicies of the account's local policies under `/rtech/`, then, for the
//! env's (by name), GetPolicy (its tags) and GetPolicyVersion (its default document).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::types::PolicyScopeType;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use super::ALL_ENVS;
use crate::aws::{all_pages, aws, AwsError, ErrorKind, Required};
use crate::model::{policy, tags_for, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::iam::document::{compact_text, document_value, keyed};
use crate::reconcile::iam::{iam_tags, partition};
use crate::reconcile::kit::tags::tag_map;
use crate::reconcile::kit::{
    found, from_props, gone_ok, is_ours, retry_while, sync_tags, to_props,
};
use crate::reconcile::{Ctx, Kind, Update};

pub const KIND: &str = "managed_policy";
/// Where rtech's managed policies live (one ListPolicies finds them all).
pub const PATH: &str = "/rtech/";
/// IAM keeps at most this many versions of a managed policy.
const MAX_VERSIONS: usize = 5;
/// How long IAM may take to see a policy detached before it can be deleted.
const RETRY: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedPolicyProps {
    pub name: String,
    pub path: String,
    /// The default version's document, keyed (see `iam::document::keyed`).
    pub document: J,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(KIND, &["name", "path"]);

/// The policy's ARN (deterministic from its name).
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:{}:iam::{account}:policy{PATH}{name}",
        partition(region)
    )
}

/// One policy document of a CI role (pure).
pub fn desired(
    project: &str,
    region: &str,
    account: &str,
    id: ResourceId,
    name: &str,
    document: &J,
) -> Resource {
    let tags = tags_for(project, ALL_ENVS, &id, name, &BTreeMap::new());
    Resource::new(id, arn(region, account, name)).with_props(to_props(&ManagedPolicyProps {
        name: name.to_string(),
        path: PATH.into(),
        document: keyed(policy::iam(document)).to_json(),
        tags,
    }))
}

/// A live policy in the plan's shape (pure).
pub fn observed(
    id: ResourceId,
    arn: &str,
    name: &str,
    path: &str,
    document: &str,
    tags: BTreeMap<String, String>,
) -> Observed {
    Observed::new(id, arn)
        .with_props(to_props(&ManagedPolicyProps {
            name: name.to_string(),
            path: path.to_string(),
            document: document_value(document).to_json(),
            tags,
        }))
        .attr("arn", arn)
}

/// The account's policies under [`PATH`] whose names start with `prefix`: ours by tag (the
/// id they claim), and, under a name `wanted` holds, foreign ones as conflicts.
pub async fn observe(
    ctx: &Ctx,
    prefix: &str,
    wanted: &BTreeMap<String, ResourceId>,
) -> Result<Vec<Observed>, AwsError> {
    let iam = &ctx.clients.iam;
    let listed = all_pages!(
        iam.list_policies()
            .scope(PolicyScopeType::Local)
            .path_prefix(PATH),
        "iam:ListPolicies"
    )?;
    let mine = listed
        .into_iter()
        .filter(|p| p.policy_name().is_some_and(|n| n.starts_with(prefix)));
    let jobs = mine.map(|p| async move {
        let (Some(name), Some(arn)) = (p.policy_name(), p.arn()) else {
            return Ok(None);
        };
        let got = found(
            iam.get_policy()
                .policy_arn(arn)
                .send()
                .await
                .map_err(aws("iam:GetPolicy")),
        )?;
        // Deleted since it was listed: absent.
        let Some(got) = got else {
            return Ok(None);
        };
        let Some(live) = got.policy() else {
            return Ok(None);
        };
        let tags = tag_map(live.tags().iter().map(|t| (Some(t.key()), Some(t.value()))));
        let claimed = crate::reconcile::kit::claimed_id(&tags, &ctx.project, ALL_ENVS)
            .filter(|id| id.kind == KIND);
        let id = match (claimed, wanted.get(name)) {
            (Some(id), _) if is_ours(&tags, &ctx.project, ALL_ENVS, &id) => id,
            (_, Some(id)) => {
                let mut o = Observed::new(id.clone(), arn);
                o.ownership = Ownership::Foreign;
                return Ok(Some(o));
            }
            _ => return Ok(None),
        };
        let version = live.default_version_id().unwrap_or("v1");
        let doc = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(aws("iam:GetPolicyVersion"))?;
        let text = doc
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        Ok::<_, AwsError>(Some(observed(
            id,
            arn,
            name,
            live.path().unwrap_or(PATH),
            text,
            tags,
        )))
    });
    Ok(futures::future::try_join_all(jobs)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

crate::tag_api!(PolicyTags, aws_sdk_iam::Client,
    untag "iam:UntagPolicy" => |c, arn, keys| c.untag_policy().policy_arn(arn).set_tag_keys(Some(keys)),
    tag "iam:TagPolicy" => |c, arn, tags| c.tag_policy().policy_arn(arn)
        .set_tags(Some(iam_tags(&tags, "iam:TagPolicy")?)));

/// The policy's versions that are not the default, oldest first.
async fn old_versions(ctx: &Ctx, arn: &str) -> Result<(usize, Vec<String>), AwsError> {
    let mut all = all_pages!(
        ctx.clients.iam.list_policy_versions().policy_arn(arn),
        "iam:ListPolicyVersions"
    )?;
    let n = all.len();
    all.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
    Ok((
        n,
        all.iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| v.version_id().map(str::to_string))
            .collect(),
    ))
}

async fn delete_version(ctx: &Ctx, arn: &str, version: &str) -> Result<(), AwsError> {
    gone_ok(
        ctx.clients
            .iam
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("iam:DeletePolicyVersion")),
    )
}

pub struct ManagedPolicy;

#[async_trait]
impl Kind for ManagedPolicy {
    crate::typed_kind!(SCHEMA, ManagedPolicyProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p = from_props::<ManagedPolicyProps>(&r.props)?;
        let out = ctx
            .clients
            .iam
            .create_policy()
            .policy_name(&p.name)
            .path(&p.path)
            .policy_document(compact_text(&p.document))
            .description(format!(
                "rtech: {} (rtech iam-policy, generated from the code)",
                p.name
            ))
            .set_tags(Some(iam_tags(&p.tags, "iam:CreatePolicy")?))
            .send()
            .await
            .map_err(aws("iam:CreatePolicy"))?;
        let arn = out
            .policy()
            .and_then(|p| p.arn())
            .map(str::to_string)
            .required(
                "iam:CreatePolicy",
                format!("no policy returned for {}", p.name),
            )?;
        let mut a = Attrs::new();
        a.insert("arn".into(), arn);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let want = from_props::<ManagedPolicyProps>(&u.desired.props)?;
        let have = from_props::<ManagedPolicyProps>(&u.prior.props)?;
        let arn = u.prior.physical_id.as_str();
        let iam = &ctx.clients.iam;
        if u.changed("document") {
            let (n, old) = old_versions(ctx, arn).await?;
            if n >= MAX_VERSIONS {
                if let Some(oldest) = old.first() {
                    task.status(&format!("deleting the oldest version {oldest}"));
                    delete_version(ctx, arn, oldest).await?;
                }
            }
            task.status("creating a new default version");
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(compact_text(&want.document))
                .set_as_default(true)
                .send()
                .await
                .map_err(aws("iam:CreatePolicyVersion"))?;
        }
        if u.changed("tags") {
            sync_tags(&PolicyTags(iam), arn, &have.tags, &want.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// The versions that are not the default, then the policy (once the roles that had it
    /// attached have let go: the plan detaches first; IAM may take a moment to see that).
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let arn = o.physical_id.as_str();
        let old = match old_versions(ctx, arn).await {
            Ok((_, old)) => old,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in &old {
            task.status(&format!("deleting version {v}"));
            delete_version(ctx, arn, v).await?;
        }
        let iam = &ctx.clients.iam;
        gone_ok(
            retry_while(&[ErrorKind::Conflict], &["DeleteConflict"], RETRY, || {
                let req = iam.delete_policy().policy_arn(arn);
                async move {
                    req.send()
                        .await
                        .map(|_| ())
                        .map_err(aws("iam:DeletePolicy"))
                }
            })
            .await,
        )
    }
}
