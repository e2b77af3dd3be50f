//! `oidc_provider/github`: GitHub Actions' OpenID Connect identity provider in IAM
//! (`token.actions.githubusercontent.com`, audience `sts.amazonaws.com`), what the CI roles'
//! trust policies name as their federated principal. One per URL per account: its ARN is
//! `arn:<partition>:iam::<account>:oidc-provider/token.actions.githubusercontent.com`.
//!
//! Thumbprints: since 2023-07-06 AWS verifies GitHub's OIDC endpoint against its own library of
//! trusted root CAs and ignores the thumbprints configured for it, but the API and older SDKs
//! still take a list; rtech sets GitHub's two published intermediate thumbprints (what
//! GitHub's changelog of 2023-06-27 lists), so the provider is the same however it was made.
//!
//! A provider for that URL without rtech's tags (one made by hand or by another tool) is a
//! conflict: left alone, and bootstrap refuses, naming how to adopt it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::ALL_ENVS;
use crate::aws::{aws, AwsError, Required};
use crate::model::{tags_for, Attrs, Observed, Ownership, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::iam::{iam_tags, partition};
use crate::reconcile::kit::tags::tag_map;
use crate::reconcile::kit::{found, from_props, gone_ok, is_ours, sync_tags, to_props};
use crate::reconcile::{Ctx, Kind, Update};

pub const KIND: &str = "oidc_provider";
/// GitHub Actions' token issuer, as IAM names the provider (no scheme).
pub const GITHUB_HOST: &str = "token.actions.githubusercontent.com";
/// The audience `aws-actions/configure-aws-credentials` asks GitHub for.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// GitHub's published intermediate CA thumbprints (AWS ignores them for GitHub since 2023-07).
pub const GITHUB_THUMBPRINTS: &[&str] = &[
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
    "6938fd4d98bab03faadb97b34396831e3780aea1",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderProps {
    /// The issuer without its scheme, as IAM returns it.
    pub url: String,
    /// The audiences, sorted.
    pub client_ids: Vec<String>,
    /// Lower-case, sorted.
    pub thumbprints: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(KIND, &["url"]);

pub fn id() -> ResourceId {
    ResourceId::new(KIND, "github")
}

/// The provider's ARN in an account (deterministic: one provider per URL per account).
pub fn arn(region: &str, account: &str) -> String {
    format!(
        "arn:{}:iam::{account}:oidc-provider/{GITHUB_HOST}",
        partition(region)
    )
}

fn sorted(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

/// GitHub's provider as rtech wants it (pure).
pub fn desired(project: &str, region: &str, account: &str) -> Resource {
    let id = id();
    let tags = tags_for(project, ALL_ENVS, &id, GITHUB_HOST, &BTreeMap::new());
    Resource::new(id, arn(region, account)).with_props(to_props(&OidcProviderProps {
        url: GITHUB_HOST.into(),
        client_ids: vec![STS_AUDIENCE.into()],
        thumbprints: sorted(GITHUB_THUMBPRINTS.iter().map(|t| t.to_string())),
        tags,
    }))
}

/// A live provider in the plan's shape (pure); foreign without rtech's tags.
pub fn observed(
    project: &str,
    arn: &str,
    url: &str,
    client_ids: &[String],
    thumbprints: &[String],
    tags: BTreeMap<String, String>,
) -> Observed {
    let id = id();
    let ours = is_ours(&tags, project, ALL_ENVS, &id);
    let mut o = Observed::new(id, arn)
        .with_props(to_props(&OidcProviderProps {
            url: url.trim_start_matches("https://").to_string(),
            client_ids: sorted(client_ids.iter().cloned()),
            thumbprints: sorted(thumbprints.iter().map(|t| t.to_ascii_lowercase())),
            tags,
        }))
        .attr("arn", arn);
    if !ours {
        o.ownership = Ownership::Foreign;
    }
    o
}

/// GetOpenIDConnectProvider on the account's GitHub provider: one call, absent when NotFound.
pub async fn observe(ctx: &Ctx) -> Result<Option<Observed>, AwsError> {
    let arn = arn(&ctx.region, &ctx.account().await?);
    let out = found(
        ctx.clients
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await
            .map_err(aws("iam:GetOpenIDConnectProvider")),
    )?;
    Ok(out.map(|p| {
        observed(
            &ctx.project,
            &arn,
            p.url().unwrap_or(GITHUB_HOST),
            p.client_id_list(),
            p.thumbprint_list(),
            tag_map(p.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
        )
    }))
}

crate::tag_api!(ProviderTags, aws_sdk_iam::Client,
    untag "iam:UntagOpenIDConnectProvider" => |c, arn, keys| c
        .untag_open_id_connect_provider().open_id_connect_provider_arn(arn).set_tag_keys(Some(keys)),
    tag "iam:TagOpenIDConnectProvider" => |c, arn, tags| c
        .tag_open_id_connect_provider().open_id_connect_provider_arn(arn)
        .set_tags(Some(iam_tags(&tags, "iam:TagOpenIDConnectProvider")?)));

pub struct OidcProvider;

#[async_trait]
impl Kind for OidcProvider {
    crate::typed_kind!(SCHEMA, OidcProviderProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p = from_props::<OidcProviderProps>(&r.props)?;
        let out = ctx
            .clients
            .iam
            .create_open_id_connect_provider()
            .url(format!("https://{}", p.url))
            .set_client_id_list(Some(p.client_ids.clone()))
            .set_thumbprint_list(Some(p.thumbprints.clone()))
            .set_tags(Some(iam_tags(&p.tags, "iam:CreateOpenIDConnectProvider")?))
            .send()
            .await
            .map_err(aws("iam:CreateOpenIDConnectProvider"))?;
        let arn = out
            .open_id_connect_provider_arn()
            .map(str::to_string)
            .required(
                "iam:CreateOpenIDConnectProvider",
                "no provider ARN returned",
            )?;
        let mut a = Attrs::new();
        a.insert("arn".into(), arn);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let iam = &ctx.clients.iam;
        let want = from_props::<OidcProviderProps>(&u.desired.props)?;
        let have = from_props::<OidcProviderProps>(&u.prior.props)?;
        let arn = u.prior.physical_id.as_str();
        if u.changed("client_ids") {
            for c in want
                .client_ids
                .iter()
                .filter(|c| !have.client_ids.contains(c))
            {
                task.status(&format!("adding audience {c}"));
                iam.add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(c)
                    .send()
                    .await
                    .map_err(aws("iam:AddClientIDToOpenIDConnectProvider"))?;
            }
            for c in have
                .client_ids
                .iter()
                .filter(|c| !want.client_ids.contains(c))
            {
                task.status(&format!("removing audience {c}"));
                iam.remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(c)
                    .send()
                    .await
                    .map_err(aws("iam:RemoveClientIDFromOpenIDConnectProvider"))?;
            }
        }
        if u.changed("thumbprints") {
            iam.update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(want.thumbprints.clone()))
                .send()
                .await
                .map_err(aws("iam:UpdateOpenIDConnectProviderThumbprint"))?;
        }
        if u.changed("tags") {
            sync_tags(&ProviderTags(iam), arn, &have.tags, &want.tags).await?;
        }
        Ok(Attrs::new())
    }

    fn conflict_message(&self, ctx: &Ctx, c: &crate::plan::Conflict) -> Option<String> {
        Some(format!(
            "conflict: the account already has GitHub's OIDC provider ({}) without rtech's tags; rtech will not touch it. To let rtech manage it, tag it: aws iam tag-open-id-connect-provider --open-id-connect-provider-arn {} --tags Key={},Value={} Key={},Value={ALL_ENVS} Key={},Value={}",
            c.physical_id,
            c.physical_id,
            crate::model::TAG_PROJECT,
            ctx.project,
            crate::model::TAG_ENV,
            crate::model::TAG_ID,
            id()
        ))
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("iam:DeleteOpenIDConnectProvider")),
        )
    }
}
