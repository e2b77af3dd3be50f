//! `docdb_param_group/main`: the cluster parameter group, `tls`, `audit_logs` and `profiler`
//! per the spec, named after the engine's major version (an engine upgrade replaces it).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_docdb::types::{ApplyMethod, DbClusterParameterGroup, Parameter};
use serde::{Deserialize, Serialize};

use super::{
    cluster_name, describe_cluster, existing_at, family, group_attrs, list_tags, rid, spec_tags,
    sync_tags, tag_list, BUSY_RETRY, PARAM_GROUP,
};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, claimed_id, found, from_props, gone_ok, retry_while, to_props,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::data::Docdb as DocdbSpec;
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema {
    kind: PARAM_GROUP,
    // A parameter group's family and description cannot be modified.
    force_new: &["name", "family", "description"],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamGroupProps {
    pub name: String,
    pub family: Option<String>,
    pub description: Option<String>,
    /// The parameters rtech manages (`audit_logs`, `profiler`, `tls`) → `enabled`/`disabled`.
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// Engine defaults for the parameters rtech manages (what a group reports before it is set).
const PARAMETER_DEFAULTS: [(&str, &str); 3] = [
    ("audit_logs", "disabled"),
    ("profiler", "disabled"),
    ("tls", "enabled"),
];

impl ParamGroupProps {
    /// `parameters` holds what rtech manages; a parameter the group does not list has its
    /// engine default (AWS lists every parameter, some implementations only those set).
    pub fn observed(
        g: &DbClusterParameterGroup,
        params: &[Parameter],
        tags: BTreeMap<String, String>,
    ) -> Self {
        let mut parameters: BTreeMap<String, String> = PARAMETER_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for p in params {
            if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                if let Some(slot) = parameters.get_mut(k) {
                    *slot = v.to_string();
                }
            }
        }
        ParamGroupProps {
            name: g
                .db_cluster_parameter_group_name()
                .unwrap_or_default()
                .to_string(),
            family: g.db_parameter_group_family().map(String::from),
            description: g.description().map(String::from),
            parameters,
            tags,
        }
    }
}

fn on_off(b: bool) -> String {
    if b { "enabled" } else { "disabled" }.to_string()
}

pub fn expand(spec: &Spec, d: &DocdbSpec) -> Resource {
    let id = rid(PARAM_GROUP, "main");
    let name = spec.name(&format!(
        "docdb{}",
        d.engine_version.split('.').next().unwrap_or("5")
    ));
    let props = ParamGroupProps {
        name: name.clone(),
        family: Some(family(&d.engine_version)),
        description: Some(format!("rtech {}: DocumentDB cluster parameters", spec.env)),
        parameters: BTreeMap::from([
            ("audit_logs".to_string(), on_off(d.audit_logs)),
            ("profiler".to_string(), on_off(d.profiler_logs)),
            ("tls".to_string(), on_off(d.tls)),
        ]),
        tags: spec_tags(spec, &id, &name, &[]),
    };
    Resource::new(id, &name).with_props(to_props(&props))
}

/// Each managed parameter with how it applies: `tls` is static (takes effect when the
/// instances reboot), the log switches are dynamic. With `only`, just those that differ from
/// it.
pub fn parameters(
    values: &BTreeMap<String, String>,
    only: Option<&BTreeMap<String, String>>,
) -> Vec<Parameter> {
    values
        .iter()
        .filter(|(k, v)| only.is_none_or(|before| before.get(*k) != Some(*v)))
        .map(|(k, v)| {
            let method = if k == "tls" {
                ApplyMethod::PendingReboot
            } else {
                ApplyMethod::Immediate
            };
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(method)
                .build()
        })
        .collect()
}

pub struct ParamGroup;

#[async_trait]
impl Kind for ParamGroup {
    crate::typed_kind!(SCHEMA, ParamGroupProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: &ParamGroupProps = &from_props(&r.props)?;
        let dd = &ctx.clients.docdb;
        let create = async {
            let out = dd
                .create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&p.name)
                .set_db_parameter_group_family(p.family.clone())
                .set_description(p.description.clone())
                .set_tags(Some(tag_list(&p.tags)))
                .send()
                .await
                .map_err(aws("docdb:CreateDBClusterParameterGroup"))?;
            Ok(out
                .db_cluster_parameter_group()
                .and_then(|g| g.db_cluster_parameter_group_arn())
                .map(str::to_string))
        };
        // The name is unique: a retried create (lost response) adopts the group when it is
        // ours; the parameters are set below either way.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let r2 = dd
                .describe_db_cluster_parameter_groups()
                .db_cluster_parameter_group_name(&p.name)
                .send()
                .await
                .map_err(aws("docdb:DescribeDBClusterParameterGroups"));
            let arn = found(r2)?.and_then(|o| {
                o.db_cluster_parameter_groups()
                    .first()
                    .and_then(|g| g.db_cluster_parameter_group_arn())
                    .map(str::to_string)
            });
            existing_at(ctx, r, arn.as_deref(), arn.clone()).await
        })
        .await?;
        set_parameters(ctx, &p.name, parameters(&p.parameters, None)).await?;
        Ok(group_attrs(&p.name, arn.as_deref()))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &ParamGroupProps = &from_props(&u.desired.props)?;
        let before: ParamGroupProps = from_props(&prior.props)?;
        if changed.contains("parameters") {
            set_parameters(
                ctx,
                &p.name,
                parameters(&p.parameters, Some(&before.parameters)),
            )
            .await?;
        }
        if changed.contains("tags") {
            sync_tags(ctx, prior, &before.tags, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// Delete a parameter group. While our cluster still uses it (an engine upgrade replaces the
    /// group before the cluster moves to the new one), the cluster is moved to the engine's
    /// default group first; the update that follows gives it the new group.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let dd = &ctx.clients.docdb;
        let name = o.physical_id.as_str();
        let delete = || async {
            dd.delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("docdb:DeleteDBClusterParameterGroup"))
        };
        let r = match delete().await {
            Err(e) if e.is("InvalidDBParameterGroupState") => {
                let cluster = cluster_name(&ctx.project, &ctx.env);
                if let Some(c) = describe_cluster(ctx, &cluster).await? {
                    // Only our own cluster is ever modified here.
                    let tags = list_tags(ctx, c.db_cluster_arn().unwrap_or_default())
                        .await?
                        .unwrap_or_default();
                    let ours = claimed_id(&tags, &ctx.project, &ctx.env).is_some();
                    if ours
                        && c.db_cluster_parameter_group() == Some(name)
                        && c.status() != Some("deleting")
                    {
                        let family = from_props::<ParamGroupProps>(&o.props)?.family;
                        let default =
                            format!("default.{}", family.as_deref().unwrap_or("docdb5.0"));
                        task.status(&format!(
                            "moving cluster {cluster} to {default} while its parameter group is replaced"
                        ));
                        dd.modify_db_cluster()
                            .db_cluster_identifier(&cluster)
                            .db_cluster_parameter_group_name(default)
                            .apply_immediately(true)
                            .send()
                            .await
                            .map_err(aws("docdb:ModifyDBCluster"))?;
                    }
                }
                task.status("deleting (retried while a cluster still uses it)");
                retry_while(&[], &["InvalidDBParameterGroupState"], BUSY_RETRY, delete).await
            }
            other => other,
        };
        gone_ok(r)
    }
}

async fn set_parameters(ctx: &Ctx, name: &str, params: Vec<Parameter>) -> Result<(), AwsError> {
    if params.is_empty() {
        return Ok(());
    }
    ctx.clients
        .docdb
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(name)
        .set_parameters(Some(params))
        .send()
        .await
        .map_err(aws("docdb:ModifyDBClusterParameterGroup"))?;
    Ok(())
}
