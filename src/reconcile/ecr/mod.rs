//! ECR: `ecr_repository/app`, the app's image repository (only with an `[ecr]` section).
//!
//! What the plan compares and how each field is applied:
//! - `scan_on_push`: PutImageScanningConfiguration.
//! - `image_tag_mutability` (`IMMUTABLE` with `ecr.immutable_tags`, else `MUTABLE`):
//!   PutImageTagMutability.
//! - `lifecycle_policy`: the policy document, compared by meaning (key order and whitespace
//!   never make a difference): PutLifecyclePolicy (DeleteLifecyclePolicy if a desired
//!   repository ever has none). Rule 1 expires untagged images `untagged_expire_days` days
//!   after their push (`sinceImagePushed`); rule 2 keeps the newest `keep_tagged_images` tagged
//!   images (`tagStatus: tagged` with `tagPatternList: ["*"]`, which selects every tagged
//!   image: ECR requires a pattern or prefix list with `tagged`, and `any` would count untagged
//!   images too and must be the last rule).
//! - `tags`: TagResource / UntagResource. Besides our ownership tags the repository carries
//!   `rtech:force-delete` = `true`/`false` (from `ecr.force_delete`): destroy has no spec, and
//!   the tag tells it whether a repository that still holds images may go.
//! - replaced (delete, then create): `name` and `encryption` (AES256; ECR cannot change a
//!   repository's encryption in place).
//!
//! Observe: one paginated DescribeRepositories (ECR has no tag filter, and the repository name
//! comes from the spec, which destroy does not have) beside the env's tag index, which lists
//! ours with their tags; ListTagsForResource only for a repository holding the wanted name
//! that the index does not list (a conflict, or ours tagged too recently for the index; at
//! most 8 at a time), then for ours GetLifecyclePolicy and a paginated
//! ListImages (distinct digests = the image count, attribute `image_count`). A repository named
//! as the spec wants without our tags is a conflict (`Ownership::Foreign`), never touched.
//!
//! Delete: a repository holding images is refused in the plan (`guard`) unless its
//! `rtech:force-delete` tag is `true` (for a replace, the spec must say so too); DeleteRepository
//! is sent with `force` only then.

mod iam;
pub mod images;
pub mod repository;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ecr::types::{Repository, Tag};
use futures::{StreamExt, TryStreamExt};

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{claimed_id, found, tags::tag_map, try_tag_list, Claims};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

use repository::observed_repo;
#[cfg(test)]
use repository::{guard, policy_text, repo_id};

pub const REPOSITORY: &str = "ecr_repository";

const KINDS: &[&dyn Kind] = &[&repository::RepositoryKind];

/// Tag telling destroy whether a repository that still holds images may be deleted.
pub use crate::reconcile::TAG_FORCE_DELETE;
/// The only encryption rtech asks for.
pub const ENCRYPTION: &str = "AES256";

/// Spec → Desired (pure): the repository, when the spec has `[ecr]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    match &spec.ecr {
        Some(e) => vec![repository::desired(spec, e)],
        None => vec![],
    }
}

pub(crate) fn ecr_tags(m: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    try_tag_list(m, "ecr:TagResource", |k, v| {
        Tag::builder().key(k).value(v).build()
    })
}

// ECR's tag calls for one repository (by ARN).
crate::tag_api!(EcrTags, aws_sdk_ecr::Client,
    untag "ecr:UntagResource" => |c, arn, keys| c.untag_resource().resource_arn(arn)
        .set_tag_keys(Some(keys)),
    tag "ecr:TagResource" => |c, arn, tags| c.tag_resource().resource_arn(arn)
        .set_tags(Some(ecr_tags(&tags)?)));

/// Which repository id a live repository's tags claim for this project and env (None: not
/// ours, or an id of another kind).
pub fn claimed_repo(
    tags: &BTreeMap<String, String>,
    project: &str,
    env: &str,
) -> Option<ResourceId> {
    claimed_id(tags, project, env).filter(|r| r.kind == REPOSITORY)
}

fn foreign(id: ResourceId, name: &str) -> Observed {
    let mut o = Observed::new(id, name);
    o.ownership = Ownership::Foreign;
    o
}

type Claimant = (ResourceId, Repository, BTreeMap<String, String>);

/// Ours first by the name the spec wants, then by name: the first claims the id, any other
/// repository claiming the same id gets `<id>~<name>` (and is deleted as not in the spec).
fn assign_ids(mut ours: Vec<Claimant>, wanted_name: Option<&str>) -> Vec<Claimant> {
    ours.sort_by_key(|(id, r, _)| {
        (
            id.clone(),
            r.repository_name() != wanted_name,
            r.repository_name().unwrap_or_default().to_string(),
        )
    });
    let mut claims = Claims::new();
    ours.into_iter()
        .map(|(id, r, t)| {
            let id = claims.claim(id, r.repository_name().unwrap_or_default());
            (id, r, t)
        })
        .collect()
}

/// The repository named `name` (DescribeRepositories of that name), or None when there is none.
pub(super) async fn describe_one(ctx: &Ctx, name: &str) -> Result<Option<Repository>, AwsError> {
    let ecr = &ctx.clients.ecr;
    let req = ecr.describe_repositories().repository_names(name);
    let out = found(req.send().await.map_err(aws("ecr:DescribeRepositories")))?;
    Ok(out.and_then(|o| o.repositories.and_then(|v| v.into_iter().next())))
}

async fn list_tags(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let r = ctx
        .clients
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("ecr:ListTagsForResource"));
    // None: deleted since it was listed.
    Ok(found(r)?.map(|out| tag_map(out.tags().iter().map(|t| (Some(t.key()), Some(t.value()))))))
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
        Err(e) if e.is("LifecyclePolicyNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Distinct image digests in a repository (ListImages lists one id per tag).
pub(crate) async fn image_count(ctx: &Ctx, name: &str) -> Result<usize, AwsError> {
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

pub struct Ecr;

#[async_trait]
impl Service for Ecr {
    crate::service_basics!("ecr", KINDS, expand, iam::GRANTS, outputs: [("ecr_repository_url", "ecr_repository", "app", "url")]);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let (repos, index) = tokio::try_join!(
            async {
                all_pages!(
                    ctx.clients.ecr.describe_repositories().max_results(1000),
                    "ecr:DescribeRepositories"
                )
            },
            ctx.tag_index()
        )?;
        let wanted = desired
            .iter()
            .find(|r| r.id.kind == REPOSITORY)
            .map(|r| (r.id.clone(), r.name.clone()));
        // ECR cannot filter by tag: the env's tag index lists ours (any name) with their tags.
        // A repository it does not list is read with ListTagsForResource only when it holds
        // the name the spec wants (someone else's, a conflict; or ours, tagged too recently for
        // the index; an error reading its tags stands); any other it does not list is not
        // ours, and its tags are never read (a registry shared with other teams may deny it).
        let wanted_name = wanted.as_ref().map(|(_, n)| n.clone());
        let tagged: Vec<(Repository, Option<BTreeMap<String, String>>)> =
            futures::stream::iter(repos)
                .map(|repo| {
                    let wanted_name = wanted_name.clone();
                    async move {
                        let arn = repo.repository_arn().unwrap_or_default();
                        if let Some(t) = index.tags(arn) {
                            return Ok::<_, AwsError>((repo, Some(t.clone())));
                        }
                        if repo.repository_name() != wanted_name.as_deref() {
                            return Ok((repo, None));
                        }
                        let tags = list_tags(ctx, arn).await?;
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
            match claimed_repo(&tags, &ctx.project, &ctx.env) {
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
            lifecycle_text(ctx, name).await
        }))
        .await?;
        // The image count is read only when the plan deletes or replaces the repository
        // (`Kind::data_held`).
        for ((id, repo, tags), text) in ours.into_iter().zip(details) {
            result.push(observed_repo(id, &repo, &tags, text.as_deref(), 0));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests;
