//! `ecs_cluster/main`: the cluster `{project}-{env}`, its Container Insights setting and tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};
use serde::{Deserialize, Serialize};

use super::{cluster_id, cluster_name, ecs_tags, sync_tags, visible_tags, CLUSTER};
use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{self, from_props, to_props};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::app::App;
use crate::spec::Spec;

/// How long DeleteCluster retries while the cluster still holds draining services or tasks.
const DRAIN_RETRY: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterProps {
    /// `enabled` / `disabled`, as AWS names the setting's value.
    pub container_insights: String,
    pub tags: BTreeMap<String, String>,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(CLUSTER, &[]);

pub struct EcsCluster;

#[async_trait]
impl Kind for EcsCluster {
    crate::typed_kind!(SCHEMA, ClusterProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let ecs = &ctx.clients.ecs;
        let p: ClusterProps = from_props(&r.props)?;
        task.status(&format!("creating cluster {}", r.name));
        let out = ecs
            .create_cluster()
            .cluster_name(&r.name)
            .settings(setting(&p))
            .set_tags(Some(ecs_tags(&p.tags)))
            .send()
            .await
            .map_err(aws("ecs:CreateCluster"))?;
        let c = out.cluster().ok_or_else(|| {
            AwsError::new(
                "ecs:CreateCluster",
                "InvalidResponse",
                "no cluster returned",
            )
        })?;
        Ok(attrs(c))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior, changed) = (u.desired, u.prior, u.changed);
        let ecs = &ctx.clients.ecs;
        let p: ClusterProps = from_props(&desired.props)?;
        if changed.contains("container_insights") {
            task.status(&format!("container insights → {}", p.container_insights));
            // UpdateCluster takes the cluster's settings (as UpdateClusterSettings does).
            ecs.update_cluster()
                .cluster(&prior.physical_id)
                .settings(setting(&p))
                .send()
                .await
                .map_err(aws("ecs:UpdateCluster"))?;
        }
        if changed.contains("tags") {
            let before: ClusterProps = from_props(&prior.props)?;
            sync_tags(ctx, &prior.physical_id, &before.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let ecs = &ctx.clients.ecs;
        let r = kit::retry_while(
            &[],
            &[
                "ClusterContainsServicesException",
                "ClusterContainsTasksException",
                "UpdateInProgressException",
            ],
            DRAIN_RETRY,
            || async {
                ecs.delete_cluster()
                    .cluster(&o.physical_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws("ecs:DeleteCluster"))
            },
        )
        .await;
        kit::gone_ok(r)
    }
}

pub(super) fn expand(spec: &Spec, app: &App) -> Resource {
    let id = cluster_id();
    let name = cluster_name(&spec.project, &spec.env);
    let props = ClusterProps {
        container_insights: insights(app.container_insights).to_string(),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    Resource::new(id, &name).with_props(to_props(&props))
}

fn insights(on: bool) -> &'static str {
    if on {
        "enabled"
    } else {
        "disabled"
    }
}

pub fn attrs(c: &Cluster) -> Attrs {
    let mut a = Attrs::new();
    let arn = c.cluster_arn().unwrap_or_default().to_string();
    a.insert("id".into(), arn.clone());
    a.insert("arn".into(), arn);
    a.insert(
        "name".into(),
        c.cluster_name().unwrap_or_default().to_string(),
    );
    a
}

/// A live cluster → `Observed` (pure). No containerInsights setting reads as `disabled`
/// (what a cluster created without it has, unless the account default says otherwise, in
/// which case AWS lists the setting).
pub fn observe_cluster(c: &Cluster, tags: &BTreeMap<String, String>) -> Observed {
    let ci = c
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    let mut o = Observed::new(cluster_id(), c.cluster_arn().unwrap_or_default()).with_props(
        to_props(&ClusterProps {
            container_insights: ci.to_lowercase(),
            tags: visible_tags(tags),
        }),
    );
    o.attrs = attrs(c);
    o
}

/// The cluster, if AWS knows one of that name (INACTIVE ones included: the caller decides).
pub(super) async fn describe(ctx: &Ctx, name: &str) -> Result<Option<Cluster>, AwsError> {
    let out = ctx
        .clients
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(aws("ecs:DescribeClusters"))?;
    Ok(out
        .clusters()
        .iter()
        .find(|c| c.cluster_name() == Some(name))
        .cloned())
}

fn setting(p: &ClusterProps) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(&p.container_insights)
        .build()
}
