//! The app's image repository as `rtech image push` needs it: the repository's URI and tag
//! mutability, a tag's digest, and the registry login (GetAuthorizationToken).

use aws_sdk_ecr::types::ImageIdentifier;

use crate::aws::{aws, AwsError};
use crate::reconcile::Ctx;

/// The env's repository as `image push` needs it.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<name>`.
    pub uri: String,
    pub immutable: bool,
    /// Carries the env's ownership tags for `ecr_repository/app`.
    pub ours: bool,
}

/// The repository named `name` (DescribeRepositories, ListTagsForResource), or None.
pub async fn repository(ctx: &Ctx, name: &str) -> Result<Option<Repo>, AwsError> {
    let Some(r) = super::describe_one(ctx, name).await? else {
        return Ok(None);
    };
    let tags = super::list_tags(ctx, r.repository_arn().unwrap_or_default())
        .await?
        .unwrap_or_default();
    Ok(Some(Repo {
        name: name.to_string(),
        uri: r.repository_uri().unwrap_or_default().to_string(),
        immutable: r
            .image_tag_mutability()
            .is_some_and(|m| m.as_str().starts_with("IMMUTABLE")),
        ours: super::claimed_repo(&tags, &ctx.project, &ctx.env).is_some(),
    }))
}

/// The digest of `tag` in the repository (DescribeImages), or None when it is not there.
pub async fn tag_digest(
    ctx: &Ctx,
    repository: &str,
    tag: &str,
) -> Result<Option<String>, AwsError> {
    let out = ctx
        .clients
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .map_err(aws("ecr:DescribeImages"));
    match out {
        Err(e) if e.is("ImageNotFoundException") => Ok(None),
        Err(e) => Err(e),
        Ok(o) => Ok(o
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_string)),
    }
}

/// Registry credentials from GetAuthorizationToken.
pub struct Login {
    pub username: String,
    pub password: String,
    /// The registry's endpoint (`https://<account>.dkr.ecr.<region>.amazonaws.com`).
    pub registry: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("registry", &self.registry)
            .finish()
    }
}

/// The registry login: GetAuthorizationToken's token is base64 of `user:password`.
pub async fn login(ctx: &Ctx) -> Result<Login, AwsError> {
    let out = ctx
        .clients
        .ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(aws("ecr:GetAuthorizationToken"))?;
    let data = out.authorization_data().first();
    let token = data
        .and_then(|d| d.authorization_token())
        .unwrap_or_default();
    let registry = data
        .and_then(|d| d.proxy_endpoint())
        .unwrap_or_default()
        .to_string();
    let (username, password) = decode_token(token).ok_or_else(|| {
        AwsError::new(
            "ecr:GetAuthorizationToken",
            "InvalidToken",
            "the authorization token is not base64 of user:password",
        )
    })?;
    Ok(Login {
        username,
        password,
        registry,
    })
}

/// `base64(user:password)` → (user, password).
pub fn decode_token(token: &str) -> Option<(String, String)> {
    let raw = aws_smithy_types::base64::decode(token).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}
