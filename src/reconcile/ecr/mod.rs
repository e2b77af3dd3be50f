//! ECR: `ecr_repository/app`, the app's image repository (only with an `[ecr]` section).
//!
//! What the plan compares and how each field is applied:
//! - `scan_on_push`: PutImageScanningConfiguration.
//! - `image_tag_mutability` (`IMMUTABLE` with `ecr.immutable_tags`, else `MUTABLE`):
//!   PutImageTagMutability.
//! - `lifecycle_policy`: the policy document as a `Value` (model::policy::from_json), so key
//!   order and whitespace never make a difference: PutLifecyclePolicy (DeleteLifecyclePolicy if
//!   a desired repository ever has none). Rule 1 expires untagged images
//!   `untagged_expire_days` days after their push (`sinceImagePushed`); rule 2 keeps the newest
//!   `keep_tagged_images` tagged images (`tagStatus: tagged` with `tagPatternList: ["*"]`, which
//!   selects every tagged image: ECR requires a pattern or prefix list with `tagged`, and `any`
//!   would count untagged images too and must be the last rule).
//! - `tags`: TagResource / UntagResource (model::tag_delta). Besides our ownership tags the
//!   repository carries `rtech:force-delete` = `true`/`false` (from `ecr.force_delete`): destroy
//!   has no spec, and the tag tells it whether a repository that still holds images may go.
//! - replaced (delete, then create): `name` and `encryption` (AES256; ECR cannot change a
//!   repository's encryption in place).
//!
//! Observe: one paginated DescribeRepositories (ECR has no tag filter, and the repository name
//! comes from the spec, which destroy does not have), ListTagsForResource for each repository
//! to find ours (at most 8 at a time), then for ours GetLifecyclePolicy and a paginated
//! ListImages (distinct digests = the image count, attribute `image_count`). A repository named
//! as the spec wants without our tags is a conflict (`Ownership::Foreign`), never touched.
//!
//! Delete: a repository holding images is refused in the plan (`guard`) unless its
//! `rtech:force-delete` tag is `true` (for a replace, the spec must say so too); DeleteRepository
//! is sent with `force` only then.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::aws::{all_pages, aws, AwsError, Required};
use crate::model::policy;
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::{force_delete, refuse_data_loss, Ctx, DataLoss, Op, Reconciler};
use crate::spec::app::Ecr as EcrSpec;
use crate::spec::Spec;

pub const REPOSITORY: &str = "ecr_repository";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: REPOSITORY,
    force_new: &["name", "encryption"],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// Tag telling destroy whether a repository that still holds images may be deleted.
pub use crate::reconcile::TAG_FORCE_DELETE;
/// The only encryption rtech asks for.
pub const ENCRYPTION: &str = "AES256";

pub fn repo_id() -> ResourceId {
    ResourceId::new(REPOSITORY, "app")
}

/// The lifecycle policy the spec asks for, as JSON (what PutLifecyclePolicy is sent).
pub fn lifecycle_policy(e: &EcrSpec) -> serde_json::Value {
    let days = e.untagged_expire_days;
    let keep = e.keep_tagged_images;
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("Expire untagged images {days} day(s) after push"),
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": days
                },
                "action": {"type": "expire"}
            },
            {
                "rulePriority": 2,
                "description": format!("Keep the newest {keep} tagged image(s)"),
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep
                },
                "action": {"type": "expire"}
            }
        ]
    })
}

/// Spec → Desired (pure): the repository, when the spec has `[ecr]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(e) = &spec.ecr else {
        return vec![];
    };
    let id = repo_id();
    let mut tags = tags_for(&spec.project, &spec.env, &id, &e.repository, &spec.tags);
    tags.insert(TAG_FORCE_DELETE.into(), e.force_delete.to_string());
    let mutability = if e.immutable_tags {
        "IMMUTABLE"
    } else {
        "MUTABLE"
    };
    vec![Resource::new(id, e.repository.clone())
        .prop("name", Value::str(&e.repository))
        .prop("scan_on_push", Value::Bool(e.scan_on_push))
        .prop("image_tag_mutability", Value::str(mutability))
        .prop("encryption", Value::str(ENCRYPTION))
        .prop("lifecycle_policy", policy::from_json(&lifecycle_policy(e)))
        .prop("tags", Value::string_map(&tags))]
}

/// Tags as a map, without the `aws:` ones nobody can set.
fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::model::tag_pairs(tags.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

/// Which id a live repository's tags claim for this project and env (None: not ours).
pub fn claimed_id(tags: &BTreeMap<String, String>, project: &str, env: &str) -> Option<ResourceId> {
    if tags.get(TAG_PROJECT).map(String::as_str) != Some(project)
        || tags.get(TAG_ENV).map(String::as_str) != Some(env)
    {
        return None;
    }
    tags.get(TAG_ID)
        .and_then(|t| t.parse::<ResourceId>().ok())
        .filter(|r| r.kind == REPOSITORY)
}

/// A live repository → `Observed` (pure). `policy_text` is GetLifecyclePolicy's text (None when
/// it has none); `image_count` the number of distinct image digests it holds.
pub fn observed_repo(
    id: ResourceId,
    repo: &Repository,
    tags: &BTreeMap<String, String>,
    policy_text: Option<&str>,
    image_count: usize,
) -> Observed {
    let name = repo.repository_name().unwrap_or_default();
    let mut o = Observed::new(id, name);
    let lifecycle = match policy_text {
        None => Value::Null,
        Some(t) => policy::parse(t).unwrap_or_else(|| Value::str(t)),
    };
    o = o
        .prop("name", Value::str(name))
        .prop(
            "scan_on_push",
            Value::Bool(
                repo.image_scanning_configuration()
                    .is_some_and(|c| c.scan_on_push()),
            ),
        )
        .prop(
            "image_tag_mutability",
            Value::opt_str(repo.image_tag_mutability().map(|m| m.as_str())),
        )
        .prop(
            "encryption",
            Value::opt_str(
                repo.encryption_configuration()
                    .map(|c| c.encryption_type().as_str()),
            ),
        )
        .prop("lifecycle_policy", lifecycle)
        .prop("tags", Value::string_map(tags));
    if let Some(arn) = repo.repository_arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    if let Some(uri) = repo.repository_uri() {
        o.attrs.insert("url".into(), uri.to_string());
    }
    o.attrs.insert("name".into(), name.to_string());
    o.attrs
        .insert("image_count".into(), image_count.to_string());
    o
}

fn foreign(id: ResourceId, name: &str) -> Observed {
    let mut o = Observed::new(id, name);
    o.ownership = Ownership::Foreign;
    o
}

/// Ours first by the name the spec wants, then by name: the first claims the id, any other
/// repository claiming the same id gets `<id>~<name>` (and is deleted as not in the spec).
fn assign_ids(
    mut ours: Vec<(ResourceId, Repository, BTreeMap<String, String>)>,
    wanted_name: Option<&str>,
) -> Vec<(ResourceId, Repository, BTreeMap<String, String>)> {
    ours.sort_by_key(|(id, r, _)| {
        (
            id.clone(),
            r.repository_name() != wanted_name,
            r.repository_name().unwrap_or_default().to_string(),
        )
    });
    let mut seen = BTreeSet::new();
    ours.into_iter()
        .map(|(id, r, t)| {
            let id = if seen.insert(id.clone()) {
                id
            } else {
                ResourceId::new(
                    REPOSITORY,
                    format!("{}~{}", id.name, r.repository_name().unwrap_or_default()),
                )
            };
            (id, r, t)
        })
        .collect()
}

async fn list_tags(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    match ctx
        .clients
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("ecr:ListTagsForResource"))
    {
        Ok(out) => Ok(Some(tag_map(out.tags()))),
        // Deleted since it was listed.
        Err(e) if e.code == "RepositoryNotFoundException" => Ok(None),
        Err(e) => Err(e),
    }
}

async fn lifecycle_text(ctx: &Ctx, name: &str) -> Result<Option<String>, AwsError> {
    match ctx
        .clients
        .ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .map_err(aws("ecr:GetLifecyclePolicy"))
    {
        Ok(out) => Ok(out.lifecycle_policy_text),
        Err(e) if e.code == "LifecyclePolicyNotFoundException" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Distinct image digests in a repository (ListImages lists one id per tag).
async fn image_count(ctx: &Ctx, name: &str) -> Result<usize, AwsError> {
    let ids = all_pages!(
        ctx.clients
            .ecr
            .list_images()
            .repository_name(name)
            .max_results(1000),
        "ecr:ListImages"
    )?;
    Ok(ids
        .iter()
        .map(|i| i.image_digest().unwrap_or_default().to_string())
        .collect::<BTreeSet<_>>()
        .len())
}

/// The plan's refusal: deleting (or replacing) a repository that still holds images, unless
/// the repository is marked `rtech:force-delete=true` (and, for a replace, the spec agrees).
pub fn guard(change: &Change) -> Option<String> {
    if change.id.kind != REPOSITORY || !matches!(change.action, Action::Delete | Action::Replace) {
        return None;
    }
    let prior = change.prior.as_ref()?;
    let images: usize = prior
        .attrs
        .get("image_count")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if images == 0 {
        return None;
    }
    refuse_data_loss(
        change,
        DataLoss {
            noun: "repository",
            holds: format!("{images} image(s)"),
            setting: "ecr.force_delete = true",
            otherwise: "delete the images first",
        },
    )
}

// ---------------------------------------------------------------------------------------------
// apply

fn s<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.get_str(key).unwrap_or_default()
}

fn ecr_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    m.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::new("ecr:TagResource", "InvalidTag", e.to_string()))
        })
        .collect()
}

/// The policy text sent to ECR (None: the repository should have none).
pub fn policy_text(r: &Resource) -> Option<String> {
    match r.props.get("lifecycle_policy") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_json().to_string()),
    }
}

fn attrs_of(repo: &Repository, image_count: usize) -> Attrs {
    let name = repo.repository_name().unwrap_or_default();
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    a.insert("name".into(), name.to_string());
    a.insert(
        "arn".into(),
        repo.repository_arn().unwrap_or_default().to_string(),
    );
    a.insert(
        "url".into(),
        repo.repository_uri().unwrap_or_default().to_string(),
    );
    a.insert("image_count".into(), image_count.to_string());
    a
}

async fn put_lifecycle(ctx: &Ctx, name: &str, r: &Resource) -> Result<(), AwsError> {
    let ecr = &ctx.clients.ecr;
    match policy_text(r) {
        Some(text) => {
            ecr.put_lifecycle_policy()
                .repository_name(name)
                .lifecycle_policy_text(text)
                .send()
                .await
                .map_err(aws("ecr:PutLifecyclePolicy"))?;
        }
        None => match ecr
            .delete_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
            .map_err(aws("ecr:DeleteLifecyclePolicy"))
        {
            Ok(_) => {}
            Err(e) if e.code == "LifecyclePolicyNotFoundException" => {}
            Err(e) => return Err(e),
        },
    }
    Ok(())
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let ecr = &ctx.clients.ecr;
    let name = s(r, "name");
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::from(s(r, "encryption")))
        .build()
        .map_err(|e| AwsError::new("ecr:CreateRepository", "InvalidRequest", e.to_string()))?;
    let out = ecr
        .create_repository()
        .repository_name(name)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(r.props.get("scan_on_push").and_then(Value::as_bool) == Some(true))
                .build(),
        )
        .image_tag_mutability(ImageTagMutability::from(s(r, "image_tag_mutability")))
        .encryption_configuration(encryption)
        .set_tags(Some(ecr_tags(&tags_of(&r.props))?))
        .send()
        .await
        .map_err(aws("ecr:CreateRepository"))?;
    let repo = out
        .repository
        .required("ecr:CreateRepository", "no repository returned")?;
    task.status("setting the lifecycle policy");
    put_lifecycle(ctx, name, r).await?;
    Ok(attrs_of(&repo, 0))
}

async fn update(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    let ecr = &ctx.clients.ecr;
    let name = prior.physical_id.as_str();
    if changed.contains("scan_on_push") {
        ecr.put_image_scanning_configuration()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(
                        desired.props.get("scan_on_push").and_then(Value::as_bool) == Some(true),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(aws("ecr:PutImageScanningConfiguration"))?;
    }
    if changed.contains("image_tag_mutability") {
        ecr.put_image_tag_mutability()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::from(s(desired, "image_tag_mutability")))
            .send()
            .await
            .map_err(aws("ecr:PutImageTagMutability"))?;
    }
    if changed.contains("lifecycle_policy") {
        put_lifecycle(ctx, name, desired).await?;
    }
    if changed.contains("tags") {
        let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
        let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
        if !d.removed.is_empty() {
            ecr.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(d.removed))
                .send()
                .await
                .map_err(aws("ecr:UntagResource"))?;
        }
        if !d.set.is_empty() {
            let set: BTreeMap<String, String> = d.set.into_iter().collect();
            ecr.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(ecr_tags(&set)?))
                .send()
                .await
                .map_err(aws("ecr:TagResource"))?;
        }
    }
    let mut a = prior.attrs.clone();
    a.insert("id".into(), name.to_string());
    Ok(a)
}

async fn delete(ctx: &Ctx, o: &Observed) -> Result<Attrs, AwsError> {
    match ctx
        .clients
        .ecr
        .delete_repository()
        .repository_name(&o.physical_id)
        .force(force_delete(o))
        .send()
        .await
        .map_err(aws("ecr:DeleteRepository"))
    {
        Ok(_) => Ok(Attrs::new()),
        Err(e) if e.code == "RepositoryNotFoundException" => Ok(Attrs::new()),
        Err(e) if e.code == "RepositoryNotEmptyException" => Err(AwsError::new(
            e.op,
            e.code,
            format!(
                "{} ({}) holds images and is not marked {TAG_FORCE_DELETE}=true: set ecr.force_delete = true and apply first ({})",
                o.id, o.physical_id, e.message
            ),
        )),
        Err(e) => Err(e),
    }
}

pub struct Ecr;

#[async_trait]
impl Reconciler for Ecr {
    fn service(&self) -> &'static str {
        "ecr"
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let repos = all_pages!(
            ctx.clients.ecr.describe_repositories().max_results(1000),
            "ecr:DescribeRepositories"
        )?;
        let wanted = desired
            .iter()
            .find(|r| r.id.kind == REPOSITORY)
            .map(|r| (r.id.clone(), s(r, "name").to_string()));
        // ECR cannot filter by tag: read every repository's tags, a few at a time. A repository
        // whose tags we may not read (a registry shared with other teams) is not ours, unless
        // it holds the name we want: then the error stands.
        let wanted_name = wanted.as_ref().map(|(_, n)| n.clone());
        let tagged: Vec<(Repository, Option<BTreeMap<String, String>>)> =
            futures::stream::iter(repos)
                .map(|repo| {
                    let wanted_name = wanted_name.clone();
                    async move {
                        let arn = repo.repository_arn().unwrap_or_default();
                        let tags = match list_tags(ctx, arn).await {
                            Err(e)
                                if e.code == "AccessDeniedException"
                                    && repo.repository_name() != wanted_name.as_deref() =>
                            {
                                None
                            }
                            other => other?,
                        };
                        Ok::<_, AwsError>((repo, tags))
                    }
                })
                .buffer_unordered(8)
                .try_collect()
                .await?;
        let mut ours = vec![];
        let mut result = vec![];
        for (repo, tags) in tagged {
            let Some(tags) = tags else { continue };
            match claimed_id(&tags, &ctx.project, &ctx.env) {
                Some(id) => ours.push((id, repo, tags)),
                None => {
                    if let Some((id, name)) = &wanted {
                        if repo.repository_name() == Some(name.as_str()) {
                            result.push(foreign(id.clone(), name));
                        }
                    }
                }
            }
        }
        let ours = assign_ids(ours, wanted.as_ref().map(|(_, n)| n.as_str()));
        let details = futures::future::try_join_all(ours.iter().map(|(_, repo, _)| async move {
            let name = repo.repository_name().unwrap_or_default();
            tokio::try_join!(lifecycle_text(ctx, name), image_count(ctx, name))
        }))
        .await?;
        for ((id, repo, tags), (text, count)) in ours.into_iter().zip(details) {
            result.push(observed_repo(id, &repo, &tags, text.as_deref(), count));
        }
        Ok(result)
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed).await,
            Op::Delete(o) => delete(ctx, o).await,
        }
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}

#[cfg(test)]
mod tests;
