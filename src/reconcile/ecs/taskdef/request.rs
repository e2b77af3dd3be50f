//! The RegisterTaskDefinition request, built from [`TaskDefinitionProps`] apart from sending
//! (unit-tested), and the test that a live revision is already the one wanted.

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, PortMapping, Secret, TransportProtocol,
};
use aws_sdk_ecs::Client;

use super::observe::{image_ref, value_from};
use super::{revision_tags, TaskDefinitionProps, TAG_PROPS};
use crate::aws::AwsError;
use crate::model::{Observed, Resource, Value};
use crate::reconcile::kit::{from_props, PropsError};

fn invalid(e: impl std::fmt::Display) -> AwsError {
    AwsError::new("rtech", "InvalidTaskDefinition", e.to_string())
}

fn i32_of(n: i64) -> i32 {
    n as i32
}

/// The container definition rtech registers, from the desired properties (resolved).
#[cfg(test)]
pub fn container_definition(r: &Resource) -> Result<ContainerDefinition, AwsError> {
    let p: TaskDefinitionProps = from_props(&r.props)?;
    container_of(&p)
}

fn container_of(p: &TaskDefinitionProps) -> Result<ContainerDefinition, AwsError> {
    let repo = p.image_repository.require("image_repository")?;
    let tag = p.image_tag.as_deref().ok_or_else(|| PropsError {
        message: "image_tag: is missing".into(),
    })?;
    let mut c = ContainerDefinition::builder()
        .name(p.container_name.as_deref().unwrap_or(super::CONTAINER))
        .image(image_ref(repo, tag))
        .essential(p.essential);
    for m in &p.port_mappings {
        c = c.port_mappings(
            PortMapping::builder()
                .container_port(i32_of(m.container_port))
                .host_port(i32_of(m.host_port))
                .protocol(TransportProtocol::from(m.protocol.as_str()))
                .build(),
        );
    }
    // Sorted by name (a BTreeMap): the same order every time.
    for (k, v) in &p.environment {
        // A variable without a value (only ever read from a live revision) is not sent.
        let Some(v) = v else { continue };
        let value = v.require(&format!("environment.{k}"))?;
        c = c.environment(KeyValuePair::builder().name(k).value(value).build());
    }
    for (name, s) in &p.secrets {
        let from = match (&s.arn, &s.value_from) {
            (Some(arn), _) => value_from(
                arn.require(&format!("secrets.{name}.arn"))?,
                s.key.as_deref().unwrap_or_default(),
            ),
            (None, Some(v)) => v.clone(),
            (None, None) => {
                return Err(PropsError {
                    message: format!("secrets.{name}.arn: is missing"),
                }
                .into())
            }
        };
        let secret = Secret::builder()
            .name(name)
            .value_from(from)
            .build()
            .map_err(invalid)?;
        c = c.secrets(secret);
    }
    if let Some(l) = &p.log_configuration {
        let mut options = std::collections::HashMap::new();
        for (k, v) in &l.options {
            options.insert(
                k.clone(),
                v.require(&format!("log_configuration.options.{k}"))?
                    .to_string(),
            );
        }
        let lc = LogConfiguration::builder()
            .log_driver(LogDriver::from(l.log_driver.as_str()))
            .set_options(Some(options))
            .build()
            .map_err(invalid)?;
        c = c.log_configuration(lc);
    }
    if let Some(h) = &p.health_check {
        let hc = HealthCheck::builder()
            .set_command(Some(h.command.clone()))
            .interval(i32_of(h.interval))
            .timeout(i32_of(h.timeout))
            .retries(i32_of(h.retries))
            .start_period(i32_of(h.start_period))
            .build()
            .map_err(invalid)?;
        c = c.health_check(hc);
    }
    if let Some(u) = &p.user {
        c = c.user(u);
    }
    c = c.readonly_root_filesystem(p.readonly_root_filesystem);
    Ok(c.build())
}

pub fn register_request(
    c: &Client,
    r: &Resource,
) -> Result<RegisterTaskDefinitionFluentBuilder, AwsError> {
    let p: TaskDefinitionProps = from_props(&r.props)?;
    let family = p.family.as_deref().ok_or_else(|| PropsError {
        message: "family: is missing".into(),
    })?;
    let role =
        |l: &Option<crate::reconcile::kit::Link>, f: &str| -> Result<Option<String>, PropsError> {
            l.as_ref()
                .map(|l| l.require(f).map(str::to_string))
                .transpose()
        };
    Ok(c.register_task_definition()
        .family(family)
        .set_requires_compatibilities(Some(
            p.requires_compatibilities
                .iter()
                .map(|s| Compatibility::from(s.as_str()))
                .collect(),
        ))
        .network_mode(NetworkMode::from(
            p.network_mode.as_deref().unwrap_or("awsvpc"),
        ))
        .set_cpu(p.cpu.map(|n| n.to_string()))
        .set_memory(p.memory.map(|n| n.to_string()))
        .set_execution_role_arn(role(&p.execution_role_arn, "execution_role_arn")?)
        .set_task_role_arn(role(&p.task_role_arn, "task_role_arn")?)
        .container_definitions(container_of(&p)?)
        .set_tags(Some(super::super::ecs_tags(&revision_tags(&p)))))
}

/// Whether a live revision, observed, is the definition `r` wants (pure): every property
/// but the tags and what lives in tags compares equal the way the plan compares them
/// (absent and null alike, a missing map as an empty one).
pub fn same_definition(r: &Resource, live: &Observed) -> bool {
    r.props
        .iter()
        .filter(|(k, _)| k.as_str() != "tags" && !TAG_PROPS.contains(&k.as_str()))
        .all(|(k, v)| equivalent(live.props.get(k), Some(v)))
}

fn equivalent(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| **v != Value::Null);
    let b = b.filter(|v| **v != Value::Null);
    if a.is_some_and(Value::is_unknown) || b.is_some_and(Value::is_unknown) {
        return false;
    }
    match (a, b) {
        (Some(Value::Map(x)), Some(Value::Map(y))) => x
            .keys()
            .chain(y.keys())
            .all(|k| equivalent(x.get(k), y.get(k))),
        (Some(Value::Map(m)), None) | (None, Some(Value::Map(m))) => {
            m.values().all(|v| equivalent(Some(v), None))
        }
        (a, b) => a == b,
    }
}
