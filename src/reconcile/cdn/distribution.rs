//! `distribution`: the kind — its schema, and create / update / delete, each waiting until
//! CloudFront reports the change `Deployed` (unless `apply --no-wait`).

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{DistributionConfig, DistributionConfigWithTags};
use aws_sdk_cloudfront::Client;

use std::collections::BTreeMap;

use super::props::{DistributionProps, OriginProps};
use super::request::{
    apply_desired, caller_reference, create_config, disabled, explain, retry_update, sdk_tags,
};
use super::wait::{
    delete_step, on_delete_error, wait_deployed, DeleteStep, Recovery, DELETE_ROUNDS,
};
use super::{dist_attrs, CloudFrontTags, DISTRIBUTION};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, sync_tags};
use crate::reconcile::secrets::{
    marker, origin_header_values, ORIGIN_HEADER, ORIGIN_HEADER_SECRET,
};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(DISTRIBUTION, &[]);

pub struct Distribution;

#[async_trait]
impl Kind for Distribution {
    crate::typed_kind!(SCHEMA, DistributionProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: DistributionProps = from_props(&r.props)?;
        let c = &ctx.clients.cloudfront;
        let tags = sdk_tags(&p.tags)?;
        let headers = header_values(ctx, r, &p).await?;
        let mut caller_ref = caller_reference(&ctx.project, &ctx.env, r, ctx.nonce);
        task.status(&format!("creating distribution {}", r.name));
        let mut retried = false;
        let out = loop {
            let config = create_config(&caller_ref, r, &headers)?;
            match c
                .create_distribution_with_tags()
                .distribution_config_with_tags(
                    DistributionConfigWithTags::builder()
                        .distribution_config(config)
                        .tags(tags.clone())
                        .build(),
                )
                .send()
                .await
                .map_err(aws("cloudfront:CreateDistributionWithTags"))
            {
                Ok(out) => break out,
                // The reference belongs to another (or a deleted) distribution with another
                // config: observe found none of ours, so make the reference unique.
                Err(e) if e.is("DistributionAlreadyExists") && !retried => {
                    retried = true;
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or_default();
                    caller_ref = format!("{caller_ref}-{nanos}");
                }
                Err(e) => return Err(explain(e, &p.aliases)),
            }
        };
        let d = out.distribution().required(
            "cloudfront:CreateDistributionWithTags",
            format!("no distribution returned for {}", r.name),
        )?;
        let attrs = dist_attrs(d.id(), d.arn(), d.domain_name(), d.status());
        finish_wait(ctx, d.id(), attrs, task).await
    }

    /// The config (GetDistributionConfig → the managed fields replaced → UpdateDistribution with
    /// IfMatch, re-read and retried once on a stale ETag) only when a config field changed; the
    /// tags only when they did.
    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let p: DistributionProps = from_props(&r.props)?;
        let c = &ctx.clients.cloudfront;
        let id = prior.physical_id.as_str();
        let mut attrs = prior.attrs.clone();
        let config_changed = changed.iter().any(|p| p != "tags");
        if config_changed {
            let headers = header_values(ctx, r, &p).await?;
            let mut attempt = 0;
            loop {
                task.status(&format!("updating distribution {id}"));
                let (live, etag) = get_config(c, id).await?;
                let config = apply_desired(live, r, &headers)?;
                match c
                    .update_distribution()
                    .id(id)
                    .if_match(etag)
                    .distribution_config(config)
                    .send()
                    .await
                    .map_err(aws("cloudfront:UpdateDistribution"))
                {
                    Ok(out) => {
                        if let Some(d) = out.distribution() {
                            attrs = dist_attrs(d.id(), d.arn(), d.domain_name(), d.status());
                        }
                        break;
                    }
                    Err(e) if retry_update(&e, attempt) => {
                        task.status("the distribution changed meanwhile (ETag): reading it again");
                        attempt += 1;
                    }
                    Err(e) => return Err(explain(e, &p.aliases)),
                }
            }
        }
        if u.changed("tags") {
            let before = from_props::<DistributionProps>(&prior.props)?.tags;
            let arn = prior
                .attrs
                .get("arn")
                .cloned()
                .unwrap_or_else(|| prior.physical_id.clone());
            sync_tags(&CloudFrontTags(c), &arn, &before, &p.tags).await?;
        }
        if config_changed {
            attrs = finish_wait(ctx, id, attrs, task).await?;
        }
        Ok(attrs)
    }

    /// Disable, wait until Deployed, delete with the fresh ETag; tolerant of a distribution that
    /// is already disabled or gone.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let c = &ctx.clients.cloudfront;
        let id = o.physical_id.as_str();
        for _ in 0..DELETE_ROUNDS {
            let live = match get_live(c, id).await {
                Ok(l) => l,
                Err(e) if on_delete_error(&e) == Recovery::Gone => return Ok(()),
                Err(e) => return Err(e),
            };
            let result = match delete_step(live.config.enabled(), &live.status) {
                DeleteStep::Disable => {
                    task.status(&format!("disabling distribution {id}"));
                    match c
                        .update_distribution()
                        .id(id)
                        .if_match(&live.etag)
                        .distribution_config(disabled(live.config))
                        .send()
                        .await
                        .map_err(aws("cloudfront:UpdateDistribution"))
                    {
                        Ok(_) => wait_deployed(c, id, task).await.map(|_| ()),
                        Err(e) => Err(e),
                    }
                }
                DeleteStep::Wait => wait_deployed(c, id, task).await.map(|_| ()),
                DeleteStep::Delete => {
                    task.status(&format!("deleting distribution {id}"));
                    match c
                        .delete_distribution()
                        .id(id)
                        .if_match(&live.etag)
                        .send()
                        .await
                        .map_err(aws("cloudfront:DeleteDistribution"))
                    {
                        Ok(_) => return Ok(()),
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = result {
                match on_delete_error(&e) {
                    Recovery::Gone => return Ok(()),
                    Recovery::Reread => {
                        task.status(&format!("{}: reading distribution {id} again", e.code));
                    }
                    Recovery::Fail => return Err(e),
                }
            }
        }
        Err(AwsError::new(
            "cloudfront:DeleteDistribution",
            "DeleteNotConverged",
            format!(
                "distribution {id} could not be disabled and deleted in {DELETE_ROUNDS} rounds; run destroy again"
            ),
        ))
    }
}

/// The values of the origins' custom headers (apply time only, from Secrets Manager): each must
/// be the one the plan was made with (its marker), or the secret changed since.
async fn header_values(
    ctx: &Ctx,
    r: &Resource,
    p: &DistributionProps,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for o in p.origins.values() {
        let OriginProps::Custom(o) = o else { continue };
        for (name, want) in &o.custom_headers {
            if name != ORIGIN_HEADER {
                return Err(AwsError::new(
                    "cloudfront",
                    "InvalidRequest",
                    format!(
                        "{}: rtech sets only the {ORIGIN_HEADER} header, not {name}",
                        r.id
                    ),
                ));
            }
            let (value, _) = origin_header_values(ctx).await?;
            let want = want.require(&format!("custom_headers.{name}"))?;
            if marker(&value) != want {
                return Err(AwsError::new(
                    "cloudfront",
                    "StaleSecret",
                    format!(
                        "{}: secret/{ORIGIN_HEADER_SECRET} holds {} now, the plan has {want}: plan again",
                        r.id,
                        marker(&value)
                    ),
                ));
            }
            out.insert(name.clone(), value);
        }
    }
    Ok(out)
}

pub(super) async fn get_config(
    c: &Client,
    id: &str,
) -> Result<(DistributionConfig, String), AwsError> {
    let out = c
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .map_err(aws("cloudfront:GetDistributionConfig"))?;
    let config = out.distribution_config().cloned().required(
        "cloudfront:GetDistributionConfig",
        format!("no config returned for distribution {id}"),
    )?;
    Ok((config, out.e_tag().unwrap_or_default().to_string()))
}

/// The distribution now: its config, status and ETag.
/// Whether distribution `id` is `Deployed` and sends `value` as the origin header: a rotation
/// may then stop accepting the previous value.
pub async fn sends_origin_header(ctx: &Ctx, id: &str, value: &str) -> Result<bool, AwsError> {
    let live = get_live(&ctx.clients.cloudfront, id).await?;
    let sends = live
        .config
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .flat_map(|o| o.custom_headers().map(|h| h.items()).unwrap_or_default())
        .any(|h| h.header_name() == ORIGIN_HEADER && h.header_value() == value);
    Ok(live.status == "Deployed" && sends)
}

struct Live {
    config: DistributionConfig,
    status: String,
    etag: String,
}

async fn get_live(c: &Client, id: &str) -> Result<Live, AwsError> {
    let out = c
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(aws("cloudfront:GetDistribution"))?;
    let d = out.distribution().required(
        "cloudfront:GetDistribution",
        format!("no distribution returned for {id}"),
    )?;
    let config = d.distribution_config().cloned().required(
        "cloudfront:GetDistribution",
        format!("no config returned for distribution {id}"),
    )?;
    Ok(Live {
        config,
        status: d.status().to_string(),
        etag: out.e_tag().unwrap_or_default().to_string(),
    })
}

async fn finish_wait(ctx: &Ctx, id: &str, attrs: Attrs, task: &Task) -> Result<Attrs, AwsError> {
    if ctx.no_wait {
        task.status(&format!(
            "not waiting for Deployed (--no-wait): distribution {id} propagates in the background (status {})",
            attrs
                .get("status")
                .map(String::as_str)
                .unwrap_or("InProgress")
        ));
        return Ok(attrs);
    }
    wait_deployed(&ctx.clients.cloudfront, id, task).await
}
