//! `iam_role/<name>`: a role, its trust policy, its attached managed policies, its inline
//! policies and its tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::client::Waiters;
use aws_sdk_iam::types::{Role, RoleDetail};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::aws::{aws, waited, AwsError, ErrorKind, Required};
use crate::model::{tags_for, Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::tags::tag_map;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, retry_while, sync_tags, to_props, with_ticker,
    Existing,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

use super::document::{document_text, document_value};
use super::{iam_tags, list_policies, role_id, IamTags, ROLE, ROLES};
use crate::model::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleProps {
    pub name: String,
    pub description: Option<String>,
    /// The trust policy, keyed (see `document::keyed`).
    pub assume_role_policy: Option<J>,
    /// Sorted, de-duplicated.
    pub managed_policy_arns: Vec<String>,
    /// Inline policy documents by policy name, keyed.
    pub inline_policies: BTreeMap<String, J>,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(ROLE, &["name"]);

/// How long to wait for a new role to become readable, and for DeleteRole to stop conflicting.
const WAIT: Duration = Duration::from_secs(120);
const RETRY: Duration = Duration::from_secs(60);

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// One role of the spec (pure).
pub fn desired(
    spec: &Spec,
    name: &str,
    description: &str,
    trust: Value,
    managed: Vec<String>,
    inline: BTreeMap<String, J>,
) -> Resource {
    let id = role_id(name);
    let suffix = ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or(name);
    let aws_name = spec.name(suffix);
    let tags = tags_for(&spec.project, &spec.env, &id, &aws_name, &spec.tags);
    let props = to_props(&RoleProps {
        name: aws_name.clone(),
        description: Some(description.to_string()),
        assume_role_policy: Some(trust.to_json()),
        managed_policy_arns: sorted(managed),
        inline_policies: inline,
        tags,
    });
    // `prop` also records the resources the policies refer to (secrets) as dependencies.
    Resource::new(id, aws_name).with_props(props)
}

/// A live role as IAM returned it, from whichever calls read it: GetRole with the role's
/// policy lists, or one `RoleDetail` of GetAccountAuthorizationDetails with ListRoles's
/// description.
pub struct LiveRole<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// As IAM returns it (URL-encoded JSON).
    pub trust: Option<&'a str>,
    pub tags: BTreeMap<String, String>,
    pub managed: Vec<String>,
    /// (policy name, document as IAM returns it).
    pub inline: Vec<(String, String)>,
}

impl<'a> LiveRole<'a> {
    /// A role of GetAccountAuthorizationDetails (which holds everything but the description),
    /// with the description ListRoles (or GetRole) gave.
    pub fn from_detail(d: &'a RoleDetail, description: Option<&'a str>) -> Self {
        LiveRole {
            arn: d.arn().unwrap_or_default(),
            name: d.role_name().unwrap_or_default(),
            description,
            trust: d.assume_role_policy_document(),
            tags: tag_map(d.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
            managed: d
                .attached_managed_policies()
                .iter()
                .filter_map(|a| a.policy_arn().map(str::to_string))
                .collect(),
            inline: d
                .role_policy_list()
                .iter()
                .map(|p| {
                    (
                        p.policy_name().unwrap_or_default().to_string(),
                        p.policy_document().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        }
    }
}

/// A live role in the plan's shape (pure: from what the IAM calls returned).
pub fn observed_role(
    id: crate::model::ResourceId,
    role: &aws_sdk_iam::types::Role,
    managed: Vec<String>,
    inline: Vec<(String, String)>,
) -> Observed {
    observed_live(
        id,
        LiveRole {
            arn: role.arn(),
            name: role.role_name(),
            description: role.description(),
            trust: role.assume_role_policy_document(),
            tags: role_tags(role),
            managed,
            inline,
        },
    )
}

/// A live role in the plan's shape (pure).
pub fn observed_live(id: crate::model::ResourceId, role: LiveRole<'_>) -> Observed {
    Observed::new(id, role.arn)
        .with_props(to_props(&RoleProps {
            name: role.name.to_string(),
            description: role.description.map(str::to_string),
            assume_role_policy: role.trust.map(|d| document_value(d).to_json()),
            managed_policy_arns: sorted(role.managed),
            inline_policies: role
                .inline
                .iter()
                .map(|(n, doc)| (n.clone(), document_value(doc).to_json()))
                .collect(),
            tags: role.tags,
        }))
        .attr("arn", role.arn)
        .attr("name", role.name)
}

/// A role's tags, read with the one rule (AWS's own `aws:` tags dropped).
pub fn role_tags(role: &aws_sdk_iam::types::Role) -> BTreeMap<String, String> {
    tag_map(role.tags().iter().map(|t| (Some(t.key()), Some(t.value()))))
}

// ---- apply ---------------------------------------------------------------------------------

fn role_name(o: &Observed) -> String {
    o.get_str("name").map(str::to_string).unwrap_or_else(|| {
        o.physical_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

/// An IAM write: the request `$req` builds, sent (as `$op`) and retried while IAM reports a
/// concurrent change to the same entity.
macro_rules! write {
    ($op:literal, $req:expr) => {
        retry_while(&[ErrorKind::Conflict], &[], RETRY, || {
            let req = $req;
            async move { req.send().await.map(|_| ()).map_err(aws($op)) }
        })
    };
}

async fn attach(ctx: &Ctx, name: &str, arn: &str) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    write!(
        "iam:AttachRolePolicy",
        iam.attach_role_policy().role_name(name).policy_arn(arn)
    )
    .await
    .map_err(|e| {
        let msg = format!("{arn}: {}", e.message);
        e.with_message(msg)
    })
}

async fn detach(ctx: &Ctx, name: &str, arn: &str) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    gone_ok(
        write!(
            "iam:DetachRolePolicy",
            iam.detach_role_policy().role_name(name).policy_arn(arn)
        )
        .await,
    )
}

async fn put_policy(ctx: &Ctx, name: &str, policy: &str, doc: &J) -> Result<(), AwsError> {
    let text = document_text(doc);
    let iam = &ctx.clients.iam;
    write!(
        "iam:PutRolePolicy",
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(&text)
    )
    .await
}

async fn delete_policy(ctx: &Ctx, name: &str, policy: &str) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    gone_ok(
        write!(
            "iam:DeleteRolePolicy",
            iam.delete_role_policy().role_name(name).policy_name(policy)
        )
        .await,
    )
}

fn attrs(arn: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("name".into(), name.to_string());
    a
}

pub struct RoleKind;

#[async_trait]
impl Kind for RoleKind {
    crate::typed_kind!(SCHEMA, RoleProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let iam = &ctx.clients.iam;
        let p = from_props::<RoleProps>(&r.props)?;
        let name = p.name.as_str();
        let tags = iam_tags(&p.tags, "iam:CreateRole")?;
        let create = async {
            let out = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(
                    p.assume_role_policy
                        .as_ref()
                        .map(document_text)
                        .unwrap_or_default(),
                )
                .description(p.description.clone().unwrap_or_default())
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(aws("iam:CreateRole"))?;
            out.role()
                .map(|x| x.arn().to_string())
                .required("iam:CreateRole", format!("no role returned for {name}"))
        };
        // The name is unique: EntityAlreadyExists on a retried create (lost response) adopts
        // the role when it is ours; the trust policy, description and policies are then set
        // below or by the next plan's update, like any drift.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            Ok(match get_role(ctx, name).await? {
                None => Existing::Missing,
                Some(role) => Existing::by_tags(
                    &role_tags(&role),
                    &ctx.project,
                    &ctx.env,
                    &r.id,
                    role.arn().to_string(),
                ),
            })
        })
        .await?;
        // IAM is eventually consistent: wait until the new role can be read before using it.
        let what = format!("role {name} to be visible");
        with_ticker(
            task,
            &what,
            iam.wait_until_role_exists().role_name(name).wait(WAIT),
        )
        .await
        .map_err(waited("iam:GetRole", &what))?;
        for arn in &p.managed_policy_arns {
            task.status(&format!("attaching {arn}"));
            attach(ctx, name, arn).await?;
        }
        for (policy, doc) in &p.inline_policies {
            task.status(&format!("putting inline policy {policy}"));
            put_policy(ctx, name, policy, doc).await?;
        }
        Ok(attrs(&arn, name))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior, changed) = (u.desired, u.prior, u.changed);
        let iam = &ctx.clients.iam;
        let want = from_props::<RoleProps>(&desired.props)?;
        let have = from_props::<RoleProps>(&prior.props)?;
        let name = role_name(prior);
        let name = name.as_str();
        if changed.contains("assume_role_policy") {
            task.status("updating the trust policy");
            let doc = want
                .assume_role_policy
                .as_ref()
                .map(document_text)
                .unwrap_or_default();
            write!(
                "iam:UpdateAssumeRolePolicy",
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(&doc)
            )
            .await?;
        }
        if changed.contains("description") {
            iam.update_role()
                .role_name(name)
                .description(want.description.clone().unwrap_or_default())
                .send()
                .await
                .map_err(aws("iam:UpdateRole"))?;
        }
        if changed.contains("managed_policy_arns") {
            let (w, h) = (&want.managed_policy_arns, &have.managed_policy_arns);
            for arn in h.iter().filter(|a| !w.contains(a)) {
                task.status(&format!("detaching {arn}"));
                detach(ctx, name, arn).await?;
            }
            for arn in w.iter().filter(|a| !h.contains(a)) {
                task.status(&format!("attaching {arn}"));
                attach(ctx, name, arn).await?;
            }
        }
        if changed.contains("inline_policies") {
            let (w, h) = (&want.inline_policies, &have.inline_policies);
            for policy in h.keys().filter(|p| !w.contains_key(*p)) {
                task.status(&format!("deleting inline policy {policy}"));
                delete_policy(ctx, name, policy).await?;
            }
            for (policy, doc) in w.iter().filter(|(p, d)| h.get(*p) != Some(*d)) {
                task.status(&format!("putting inline policy {policy}"));
                put_policy(ctx, name, policy, doc).await?;
            }
        }
        if changed.contains("tags") {
            sync_tags(&IamTags(iam), name, &have.tags, &want.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// Detach and delete every policy the role has now (not only what the plan saw), then the
    /// role. A role already gone is fine.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let iam = &ctx.clients.iam;
        let name = role_name(o);
        let name = name.as_str();
        let Some((attached, inline)) = found(list_policies(iam, name).await)? else {
            return Ok(());
        };
        for a in &attached {
            if let Some(arn) = a.policy_arn() {
                task.status(&format!("detaching {arn}"));
                detach(ctx, name, arn).await?;
            }
        }
        for p in &inline {
            task.status(&format!("deleting inline policy {p}"));
            delete_policy(ctx, name, p).await?;
        }
        task.status(&format!("deleting role {name}"));
        // The detachments may take a moment to be seen: DeleteConflict until then.
        let r = retry_while(&[ErrorKind::Conflict], &["DeleteConflict"], RETRY, || {
            let req = iam.delete_role().role_name(name);
            async move { req.send().await.map(|_| ()).map_err(aws("iam:DeleteRole")) }
        })
        .await;
        match gone_ok(r) {
            Err(e) if e.is("DeleteConflict") => {
                let msg = format!(
                    "{} (an instance profile or a policy added since may still hold role {name})",
                    e.message
                );
                Err(e.with_message(msg))
            }
            other => other,
        }
    }
}

/// GetRole `name`: the role, or None when there is none of that name.
pub async fn get_role(ctx: &Ctx, name: &str) -> Result<Option<Role>, AwsError> {
    let out = found(
        ctx.clients
            .iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(aws("iam:GetRole")),
    )?;
    Ok(out.and_then(|o| o.role))
}
