//! The first-deploy order: a task definition revision whose image lives in the env's own
//! repository is registered only once its tag is there. On AWS a service whose image was never
//! pushed starts no task, and apply would wait out its timeout; the first apply of a new env
//! (which creates the repository) would always do that.
//!
//! After the diff, for a change that registers a revision (a create, or an update of anything
//! but `tags` and `keep_revisions`) with an image `<env's repository>:<tag>`, one BatchGetImage
//! asks for the tag (none when nothing is registered). A repository that does not exist yet
//! holds no tag. A missing tag blocks the change and its dependants (the service): the plan
//! shows them as blocked with the command that pushes the image, and apply makes every other
//! change and exits 1 naming the step.

use aws_sdk_ecr::types::ImageIdentifier;

use super::{TaskDefinitionProps, TAG_PROPS};
use crate::aws::{aws, AwsError};
use crate::model::{Resource, ResourceId};
use crate::plan::{Action, Change};
use crate::reconcile::kit::{from_props, Link};
use crate::reconcile::Ctx;

fn repository_id() -> ResourceId {
    ResourceId::new("ecr_repository", "app")
}

/// Whether the change registers a new revision (module docs).
pub fn registers(change: &Change) -> bool {
    match change.action {
        Action::Create | Action::Replace => true,
        Action::Update => change
            .changed_props()
            .iter()
            .any(|k| k != "tags" && !TAG_PROPS.contains(&k.as_str())),
        Action::Delete => false,
    }
}

/// The repository name and tag the change's new revision would run, when its image lives in
/// the env's own repository. Pure.
pub fn wanted_image(change: &Change, desired: &[Resource]) -> Option<(String, String)> {
    if !registers(change) {
        return None;
    }
    let p: TaskDefinitionProps = from_props(&change.desired.as_ref()?.props).ok()?;
    if p.image_repository != Link::to(&repository_id(), "url") {
        return None;
    }
    let tag = p.image_tag?;
    let repo = desired.iter().find(|r| r.id == repository_id())?;
    Some((repo.name.clone(), tag))
}

/// What the plan says of a revision whose image is not in the repository.
pub fn message(repository: &str, tag: &str, env: &str) -> String {
    format!(
        "image {repository}:{tag} is not in the repository: push it with rtech image push --env {env} --tag {tag}"
    )
}

/// Whether `tag` is in `repository` (one BatchGetImage; a missing repository holds nothing).
async fn has_tag(ctx: &Ctx, repository: &str, tag: &str) -> Result<bool, AwsError> {
    let out = ctx
        .clients
        .ecr
        .batch_get_image()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .map_err(aws("ecr:BatchGetImage"));
    match out {
        Err(e) if e.is("RepositoryNotFoundException") => Ok(false),
        Err(e) => Err(e),
        Ok(o) => Ok(o
            .images()
            .iter()
            .any(|i| i.image_id().and_then(|id| id.image_tag()) == Some(tag))),
    }
}

/// The kind's `blocked`: the reason when the change's image is not in the repository.
pub async fn blocked(
    ctx: &Ctx,
    change: &Change,
    desired: &[Resource],
) -> Result<Option<String>, AwsError> {
    let Some((repository, tag)) = wanted_image(change, desired) else {
        return Ok(None);
    };
    Ok((!has_tag(ctx, &repository, &tag).await?).then(|| message(&repository, &tag, &ctx.env)))
}
