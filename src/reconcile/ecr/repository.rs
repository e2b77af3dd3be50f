//! `ecr_repository/app`: the repository, its scanning and tag mutability settings, its
//! lifecycle policy and its tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};

use crate::aws::{aws, AwsError, Required};
use crate::model::{policy, tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::{Action, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, from_props, gone_ok, sync_tags, to_props, Existing, OrNotFound, TagApi,
};
use crate::reconcile::{
    force_delete, refuse_data_loss, Ctx, DataLoss, Import, Kind, PhysicalId, Update,
};
use crate::spec::app::Ecr as EcrSpec;
use crate::spec::Spec;

use super::{
    describe_one, ecr_tags, lifecycle_text, list_tags, EcrTags, ENCRYPTION, REPOSITORY,
    TAG_FORCE_DELETE,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryProps {
    pub name: String,
    pub scan_on_push: bool,
    /// `IMMUTABLE` or `MUTABLE` (None: AWS did not say).
    pub image_tag_mutability: Option<String>,
    /// `AES256` (None: AWS did not say).
    pub encryption: Option<String>,
    /// The lifecycle policy document, compared by meaning (None: the repository has none).
    pub lifecycle_policy: Option<J>,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(REPOSITORY, &["name", "encryption"]);

pub fn repo_id() -> ResourceId {
    ResourceId::new(REPOSITORY, "app")
}

/// The lifecycle policy the spec asks for, as JSON (what PutLifecyclePolicy is sent).
pub fn lifecycle_policy(e: &EcrSpec) -> J {
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

/// Spec → the repository (pure).
pub fn desired(spec: &Spec, e: &EcrSpec) -> Resource {
    let id = repo_id();
    let mut tags = tags_for(&spec.project, &spec.env, &id, &e.repository, &spec.tags);
    tags.insert(TAG_FORCE_DELETE.into(), e.force_delete.to_string());
    let mutability = if e.immutable_tags {
        "IMMUTABLE"
    } else {
        "MUTABLE"
    };
    Resource::new(id, e.repository.clone()).with_props(to_props(&RepositoryProps {
        name: e.repository.clone(),
        scan_on_push: e.scan_on_push,
        image_tag_mutability: Some(mutability.to_string()),
        encryption: Some(ENCRYPTION.to_string()),
        lifecycle_policy: Some(lifecycle_policy(e)),
        tags,
    }))
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
    let mut o = Observed::new(id, name).with_props(to_props(&RepositoryProps {
        name: name.to_string(),
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
        image_tag_mutability: repo.image_tag_mutability().map(|m| m.as_str().to_string()),
        encryption: repo
            .encryption_configuration()
            .map(|c| c.encryption_type().as_str().to_string()),
        // By meaning (key order, whitespace); text that is not JSON stays text, a difference.
        lifecycle_policy: policy_text.map(|t| {
            policy::parse(t)
                .map(|v| v.to_json())
                .unwrap_or_else(|| J::String(t.to_string()))
        }),
        tags: tags.clone(),
    }));
    if let Some(arn) = repo.repository_arn() {
        o.attrs.insert("arn".into(), arn.to_string());
    }
    if let Some(uri) = repo.repository_uri() {
        o.attrs.insert("url".into(), uri.to_string());
    }
    let o = o.attr("name", name);
    // Set by `data_held` when the plan deletes or replaces the repository (observe does not
    // read it); a repository known to hold images says how many.
    if image_count > 0 {
        o.attr("image_count", image_count.to_string())
    } else {
        o
    }
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

/// The policy text sent to ECR (None: the repository should have none).
pub fn policy_text(p: &RepositoryProps) -> Option<String> {
    p.lifecycle_policy
        .as_ref()
        .filter(|j| !j.is_null())
        .map(J::to_string)
}

fn scanning(p: &RepositoryProps) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder()
        .scan_on_push(p.scan_on_push)
        .build()
}

fn mutability(p: &RepositoryProps) -> ImageTagMutability {
    ImageTagMutability::from(p.image_tag_mutability.as_deref().unwrap_or("MUTABLE"))
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

async fn put_lifecycle(ctx: &Ctx, name: &str, p: &RepositoryProps) -> Result<(), AwsError> {
    let ecr = &ctx.clients.ecr;
    match policy_text(p) {
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
            Err(e) if e.is("LifecyclePolicyNotFoundException") => {}
            Err(e) => return Err(e),
        },
    }
    Ok(())
}

pub struct RepositoryKind;

/// A repository name as ECR allows it: 2–256 lowercase letters, digits and `._-/`, starting
/// and ending with a letter or digit.
pub fn is_repository_name(s: &str) -> bool {
    (2..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

static REPOSITORY_NAME: PhysicalId = PhysicalId {
    form: "a repository name",
    check: is_repository_name,
    found_by_name: false,
};

/// `rtech import ecr_repository/app NAME`: DescribeRepositories of that name, its tags and its
/// lifecycle policy, read as observe reads ours.
#[async_trait]
impl Import for RepositoryKind {
    fn physical(&self) -> &'static PhysicalId {
        &REPOSITORY_NAME
    }

    async fn read(&self, ctx: &Ctx, id: &ResourceId, name: &str) -> Result<Observed, AwsError> {
        let missing = format!("no repository named {name}");
        let repo = describe_one(ctx, name).await?.or_not_found(
            "ecr:DescribeRepositories",
            "RepositoryNotFoundException",
            missing,
        )?;
        let arn = repo.repository_arn().unwrap_or_default();
        let (tags, text) = tokio::try_join!(list_tags(ctx, arn), lifecycle_text(ctx, name))?;
        let tags = tags.unwrap_or_default();
        Ok(observed_repo(id.clone(), &repo, &tags, text.as_deref(), 0))
    }

    fn tag_calls<'a>(&self, ctx: &'a Ctx, live: &Observed) -> (Box<dyn TagApi + 'a>, String) {
        let arn = live.attrs.get("arn").cloned().unwrap_or_default();
        (Box::new(EcrTags(&ctx.clients.ecr)), arn)
    }
}

#[async_trait]
impl Kind for RepositoryKind {
    crate::typed_kind!(SCHEMA, RepositoryProps, import);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p = from_props::<RepositoryProps>(&r.props)?;
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(
                p.encryption.as_deref().unwrap_or(ENCRYPTION),
            ))
            .build()
            .map_err(|e| AwsError::new("ecr:CreateRepository", "InvalidRequest", e.to_string()))?;
        let ecr = &ctx.clients.ecr;
        let create = async {
            ecr.create_repository()
                .repository_name(&p.name)
                .image_scanning_configuration(scanning(&p))
                .image_tag_mutability(mutability(&p))
                .encryption_configuration(encryption)
                .set_tags(Some(ecr_tags(&p.tags)?))
                .send()
                .await
                .map_err(aws("ecr:CreateRepository"))?
                .repository
                .required("ecr:CreateRepository", "no repository returned")
        };
        // The name is unique: a retried create (lost response) adopts the repository when it
        // is ours; its settings are then the next plan's update, like any drift.
        let repo = adopt_on_exists(&r.id.to_string(), create, || async {
            let Some(repo) = describe_one(ctx, &p.name).await? else {
                return Ok(Existing::Missing);
            };
            let tags = match repo.repository_arn() {
                Some(arn) => list_tags(ctx, arn).await?,
                None => None,
            };
            Ok(Existing::of(ctx, &r.id, tags, repo))
        })
        .await?;
        task.status("setting the lifecycle policy");
        put_lifecycle(ctx, &p.name, &p).await?;
        Ok(attrs_of(&repo, 0))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior, changed) = (u.desired, u.prior, u.changed);
        let ecr = &ctx.clients.ecr;
        let p = from_props::<RepositoryProps>(&desired.props)?;
        let name = prior.physical_id.as_str();
        if changed.contains("scan_on_push") {
            ecr.put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(scanning(&p))
                .send()
                .await
                .map_err(aws("ecr:PutImageScanningConfiguration"))?;
        }
        if changed.contains("image_tag_mutability") {
            ecr.put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(mutability(&p))
                .send()
                .await
                .map_err(aws("ecr:PutImageTagMutability"))?;
        }
        if changed.contains("lifecycle_policy") {
            put_lifecycle(ctx, name, &p).await?;
        }
        if changed.contains("tags") {
            let before = from_props::<RepositoryProps>(&prior.props)?.tags;
            let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
            sync_tags(&EcrTags(ecr), &arn, &before, &p.tags).await?;
        }
        let mut a = prior.attrs.clone();
        a.insert("id".into(), name.to_string());
        Ok(a)
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let r = ctx
            .clients
            .ecr
            .delete_repository()
            .repository_name(&o.physical_id)
            .force(force_delete(o))
            .send()
            .await
            .map(|_| ())
            .map_err(aws("ecr:DeleteRepository"));
        match gone_ok(r) {
            Err(e) if e.is("RepositoryNotEmptyException") => {
                let msg = format!(
                    "{} ({}) holds images and is not marked {TAG_FORCE_DELETE}=true: set ecr.force_delete = true and apply first ({})",
                    o.id, o.physical_id, e.message
                );
                Err(e.with_message(msg))
            }
            other => other,
        }
    }
    /// How many images the repository holds (ListImages): what the guard needs.
    async fn data_held(&self, ctx: &Ctx, prior: &Observed) -> Result<Attrs, AwsError> {
        let n = super::image_count(ctx, &prior.physical_id).await?;
        Ok([("image_count".to_string(), n.to_string())].into())
    }

    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }
}
