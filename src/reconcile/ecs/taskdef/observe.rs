//! Observe for the task definition: which revision the plan compares, and its normalisation
//! into [`TaskDefinitionProps`] (pure), plus the reads (module docs of `taskdef`).

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    ContainerDefinition, CpuArchitecture, HealthCheck, LinuxParameters, LogConfiguration, OsFamily,
    PortMapping, SortOrder, Tag, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    VersionConsistency,
};

use super::super::{task_definition_id, visible_tags, CONTAINER, TAG_KEEP_REVISIONS};
use super::{
    HealthCheckProps, LogConfigurationProps, PortMappingProps, SecretProps, TaskDefinitionProps,
};
use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Attrs, Observed, ResourceId, Value};
use crate::reconcile::kit::{found, to_props, Link};
use crate::reconcile::Ctx;

/// The health check's defaults when AWS omits them (ECS API reference, HealthCheck).
const HC_INTERVAL: i64 = 30;
const HC_TIMEOUT: i64 = 5;
const HC_RETRIES: i64 = 3;

/// `repo:tag` → (`repo`, `tag`); a digest (`repo@sha256:…`) keeps its `@`; a registry port
/// (`host:5000/repo`) is not a tag.
pub fn split_image(image: &str) -> (String, Option<String>) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), Some(format!("@{digest}")));
    }
    match image.rfind(':') {
        Some(i) if !image[i + 1..].contains('/') => {
            (image[..i].to_string(), Some(image[i + 1..].to_string()))
        }
        _ => (image.to_string(), None),
    }
}

/// The image reference for a repository and a tag (or `@digest`).
pub fn image_ref(repo: &str, tag: &str) -> String {
    if tag.starts_with('@') {
        format!("{repo}{tag}")
    } else {
        format!("{repo}:{tag}")
    }
}

/// `{arn}:{key}::` (a JSON key of the secret's current version), or the bare ARN.
pub fn value_from(arn: &str, key: &str) -> String {
    if key.is_empty() {
        arn.to_string()
    } else {
        format!("{arn}:{key}::")
    }
}

/// A Secrets Manager valueFrom → `{arn, key}` (plus `version_stage` / `version_id` when set);
/// anything else (an SSM parameter, a secret name) as `{value_from}`.
pub fn parse_value_from(v: &str) -> SecretProps {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "secretsmanager" {
        let part = |i: usize| {
            parts
                .get(i)
                .filter(|p| !p.is_empty())
                .map(|p| p.to_string())
        };
        SecretProps {
            arn: Some(Link::from(parts[..7].join(":"))),
            key: Some(parts.get(7).copied().unwrap_or_default().to_string()),
            version_stage: part(8),
            version_id: part(9),
            value_from: None,
        }
    } else {
        SecretProps {
            value_from: Some(v.to_string()),
            ..SecretProps::default()
        }
    }
}

fn non_empty<T>(v: Option<&Vec<T>>) -> bool {
    v.is_some_and(|v| !v.is_empty())
}

/// Linux parameters beyond what AWS may fill in (capabilities it drops).
fn linux_parameters_set(p: &LinuxParameters) -> bool {
    p.capabilities().is_some_and(|c| !c.add().is_empty())
        || !p.devices().is_empty()
        || p.init_process_enabled() == Some(true)
        || p.shared_memory_size().is_some()
        || !p.tmpfs().is_empty()
        || p.max_swap().is_some()
        || p.swappiness().is_some()
}

/// What the live definition sets that rtech never does (sorted; rtech wants none).
pub fn extras(td: &TaskDefinition, c: Option<&ContainerDefinition>) -> Vec<String> {
    let mut x: Vec<String> = vec![];
    let mut flag = |set: bool, name: &str| {
        if set {
            x.push(name.to_string());
        }
    };
    flag(non_empty(td.volumes.as_ref()), "volumes");
    flag(
        non_empty(td.placement_constraints.as_ref()),
        "placementConstraints",
    );
    flag(td.proxy_configuration().is_some(), "proxyConfiguration");
    flag(
        non_empty(td.inference_accelerators.as_ref()),
        "inferenceAccelerators",
    );
    flag(td.pid_mode().is_some(), "pidMode");
    flag(td.ipc_mode().is_some(), "ipcMode");
    flag(td.ephemeral_storage().is_some(), "ephemeralStorage");
    flag(
        td.enable_fault_injection() == Some(true),
        "enableFaultInjection",
    );
    if let Some(p) = td.runtime_platform() {
        let os = p
            .operating_system_family()
            .is_some_and(|o| *o != OsFamily::Linux);
        let arch = p
            .cpu_architecture()
            .is_some_and(|a| *a != CpuArchitecture::X8664);
        flag(os || arch, "runtimePlatform");
    }
    for other in td.container_definitions() {
        if c.is_some_and(|c| std::ptr::eq(c, other)) {
            continue;
        }
        x.push(format!("container {}", other.name().unwrap_or("(unnamed)")));
    }
    if let Some(c) = c {
        let mut flag = |set: bool, name: &str| {
            if set {
                x.push(name.to_string());
            }
        };
        flag(
            c.repository_credentials().is_some(),
            "repositoryCredentials",
        );
        flag(c.cpu != 0, "cpu");
        flag(c.memory().is_some(), "memory");
        flag(c.memory_reservation().is_some(), "memoryReservation");
        flag(non_empty(c.links.as_ref()), "links");
        flag(
            c.restart_policy().is_some_and(|p| p.enabled()),
            "restartPolicy",
        );
        flag(non_empty(c.entry_point.as_ref()), "entryPoint");
        flag(non_empty(c.command.as_ref()), "command");
        flag(non_empty(c.environment_files.as_ref()), "environmentFiles");
        flag(non_empty(c.mount_points.as_ref()), "mountPoints");
        flag(non_empty(c.volumes_from.as_ref()), "volumesFrom");
        flag(
            c.linux_parameters().is_some_and(linux_parameters_set),
            "linuxParameters",
        );
        flag(non_empty(c.depends_on.as_ref()), "dependsOn");
        flag(c.start_timeout().is_some(), "startTimeout");
        flag(c.stop_timeout().is_some(), "stopTimeout");
        flag(
            c.version_consistency() == Some(&VersionConsistency::Disabled),
            "versionConsistency",
        );
        flag(c.hostname().is_some(), "hostname");
        flag(c.working_directory().is_some(), "workingDirectory");
        flag(c.disable_networking() == Some(true), "disableNetworking");
        flag(c.privileged() == Some(true), "privileged");
        flag(non_empty(c.dns_servers.as_ref()), "dnsServers");
        flag(non_empty(c.dns_search_domains.as_ref()), "dnsSearchDomains");
        flag(non_empty(c.extra_hosts.as_ref()), "extraHosts");
        flag(
            non_empty(c.docker_security_options.as_ref()),
            "dockerSecurityOptions",
        );
        flag(c.interactive() == Some(true), "interactive");
        flag(c.pseudo_terminal() == Some(true), "pseudoTerminal");
        flag(
            c.docker_labels().is_some_and(|l| !l.is_empty()),
            "dockerLabels",
        );
        flag(non_empty(c.ulimits.as_ref()), "ulimits");
        flag(non_empty(c.system_controls.as_ref()), "systemControls");
        flag(
            non_empty(c.resource_requirements.as_ref()),
            "resourceRequirements",
        );
        flag(
            c.firelens_configuration().is_some(),
            "firelensConfiguration",
        );
        flag(non_empty(c.credential_specs.as_ref()), "credentialSpecs");
    }
    x.sort();
    x
}

fn port_mapping(p: &PortMapping) -> PortMappingProps {
    let container = p.container_port().unwrap_or_default() as i64;
    PortMappingProps {
        container_port: container,
        // Under awsvpc the host port is the container port (AWS fills it in).
        host_port: p.host_port().map(i64::from).unwrap_or(container),
        protocol: p
            .protocol()
            .map(|p| p.as_str())
            .unwrap_or("tcp")
            .to_string(),
        name: p.name().map(str::to_string),
        app_protocol: p.app_protocol().map(|a| a.as_str().to_string()),
        container_port_range: p.container_port_range().map(str::to_string),
    }
}

fn health_check(h: &HealthCheck) -> HealthCheckProps {
    HealthCheckProps {
        command: h.command().to_vec(),
        interval: h.interval().map(i64::from).unwrap_or(HC_INTERVAL),
        timeout: h.timeout().map(i64::from).unwrap_or(HC_TIMEOUT),
        retries: h.retries().map(i64::from).unwrap_or(HC_RETRIES),
        start_period: h.start_period().map(i64::from).unwrap_or(0),
    }
}

fn log_configuration(l: &LogConfiguration) -> LogConfigurationProps {
    // `mode` is left out: AWS may fill in the account's defaultLogDriverMode, and rtech does
    // not manage it.
    let options = l
        .options()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "mode")
                .map(|(k, v)| (k.clone(), Link::from(v.as_str())))
                .collect()
        })
        .unwrap_or_default();
    LogConfigurationProps {
        log_driver: l.log_driver().as_str().to_string(),
        options,
        secret_options: (!l.secret_options().is_empty()).then(|| {
            l.secret_options()
                .iter()
                .map(|s| format!("{}={}", s.name(), s.value_from()))
                .collect()
        }),
    }
}

/// A revision (the one in use) → `Observed` in the desired shape (pure). A definition without
/// containers (which AWS refuses to register) reads as one with an empty container.
pub fn observe_task_definition(td: &TaskDefinition, tags: &BTreeMap<String, String>) -> Observed {
    let arn = td.task_definition_arn().unwrap_or_default();
    let mut o = Observed::new(task_definition_id(), arn);
    o.attrs = attrs(td);
    let num = |s: Option<&str>| s.and_then(|s| s.trim().parse::<i64>().ok());
    let mut compat: Vec<String> = td
        .requires_compatibilities()
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    compat.sort();
    let containers = td.container_definitions();
    let c = containers
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
        .or(containers.first());
    let none = ContainerDefinition::builder().build();
    let x = extras(td, c);
    let c = c.unwrap_or(&none);
    let (repo, tag) = split_image(c.image().unwrap_or_default());
    let mut ports: Vec<PortMappingProps> = c.port_mappings().iter().map(port_mapping).collect();
    ports.sort_by_key(|p| Value::Map(to_props(p)).to_string());
    let p = TaskDefinitionProps {
        family: td.family().map(str::to_string),
        cpu: num(td.cpu()),
        memory: num(td.memory()),
        network_mode: td.network_mode().map(|m| m.as_str().to_string()),
        requires_compatibilities: compat,
        execution_role_arn: td.execution_role_arn().map(Link::from),
        task_role_arn: td.task_role_arn().map(Link::from),
        extras: x,
        container_name: c.name().map(str::to_string),
        image_repository: Link::from(repo),
        image_tag: tag,
        essential: c.essential().unwrap_or(true),
        port_mappings: ports,
        environment: c
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_string(), kv.value().map(Link::from))))
            .collect(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| (s.name().to_string(), parse_value_from(s.value_from())))
            .collect(),
        log_configuration: c.log_configuration().map(log_configuration),
        health_check: c.health_check().map(health_check),
        user: c.user().map(str::to_string),
        readonly_root_filesystem: c.readonly_root_filesystem().unwrap_or(false),
        keep_revisions: super::super::tag_int(tags, TAG_KEEP_REVISIONS),
        tags: visible_tags(tags),
    };

    // Deleted after whatever runs it, before what it references.
    for (kind, name) in [
        ("ecr_repository", "app"),
        ("iam_role", "execution"),
        ("iam_role", "task"),
        ("log_group", "app"),
    ] {
        o.deps.insert(ResourceId::new(kind, name));
    }
    for (name, secret) in [("MONGODB_URI", "docdb"), ("REDIS_AUTH_TOKEN", "redis")] {
        if p.secrets.contains_key(name) {
            o.deps.insert(ResourceId::new("secret", secret));
        }
    }
    if p.environment.contains_key("REDIS_HOST") {
        o.deps.insert(ResourceId::new("redis", "main"));
    }
    o.with_props(to_props(&p))
}

pub fn attrs(td: &TaskDefinition) -> Attrs {
    let mut a = Attrs::new();
    let arn = td.task_definition_arn().unwrap_or_default().to_string();
    a.insert("id".into(), arn.clone());
    a.insert("arn".into(), arn);
    a.insert("family".into(), td.family().unwrap_or_default().to_string());
    a.insert("revision".into(), td.revision().to_string());
    a
}

/// The revisions of exactly `family` among task definition ARNs, newest first (ECS's
/// family filter and sort order are not relied on).
pub fn revisions_of(arns: &[String], family: &str) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = arns
        .iter()
        .filter_map(|arn| {
            let (head, rev) = arn.rsplit_once(':')?;
            let fam = head.rsplit_once("task-definition/")?.1;
            if fam != family {
                return None;
            }
            Some((rev.parse().ok()?, arn.clone()))
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.0));
    out
}

/// What pruning deregisters: every ACTIVE revision beyond the newest `keep`, except the one
/// the service runs (a rollback needs it; it goes on a later apply).
pub fn to_deregister(revs: &[(i64, String)], keep: usize, in_use: Option<&str>) -> Vec<String> {
    revs.iter()
        .skip(keep)
        .filter(|(_, arn)| Some(arn.as_str()) != in_use)
        .map(|(_, arn)| arn.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// reads

/// The revisions of the family in `status`, newest first (paginated).
pub(in crate::reconcile::ecs) async fn revisions(
    ctx: &Ctx,
    family: &str,
    status: TaskDefinitionStatus,
) -> Result<Vec<(i64, String)>, AwsError> {
    let arns: Vec<String> = all_pages!(
        ctx.clients
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(status)
            .sort(SortOrder::Desc),
        "ecs:ListTaskDefinitions"
    )?;
    Ok(revisions_of(&arns, family))
}

/// The ACTIVE revisions of the family, newest first.
pub(in crate::reconcile::ecs) async fn active_revisions(
    ctx: &Ctx,
    family: &str,
) -> Result<Vec<(i64, String)>, AwsError> {
    revisions(ctx, family, TaskDefinitionStatus::Active).await
}

/// How many older revisions observe describes, looking for rtech's newest when the revision
/// compared is not rtech's.
const OWN_LOOKBACK: usize = 10;

/// What `observe_in_use` settles (pure) or leaves to a look further back.
#[derive(Debug)]
pub enum InUse {
    Observed(Observed),
    /// The revision compared is not ours, nor is the newest: observe looks for rtech's
    /// newest among older ACTIVE revisions (`observe_foreign_newest`).
    Theirs,
}

fn flag_theirs(o: &mut Observed, td: &TaskDefinition) {
    if let Some(Value::List(x)) = o.props.get_mut("extras") {
        x.push(Value::str(format!(
            "revision {} registered without rtech's tags",
            td.revision()
        )));
    }
}

/// Which revision the plan compares (pure; module docs): the one our service runs
/// (`in_use`, when it is not the newest ACTIVE one) when it is ours, so that a rolled-back
/// deploy is never rolled out again and an apply without `--image-tag` keeps what runs;
/// else the newest ACTIVE revision. A revision without our tags that runs, or that is newer
/// than what runs, is flagged in `extras` (apply registers a revision of ours on top).
pub fn observe_in_use(
    newest: (&TaskDefinition, &BTreeMap<String, String>),
    in_use: Option<(&TaskDefinition, &BTreeMap<String, String>)>,
    is_ours: impl Fn(&BTreeMap<String, String>) -> bool,
) -> InUse {
    let newest_ours = is_ours(newest.1);
    match in_use {
        Some((td, tags)) if is_ours(tags) => {
            let mut o = observe_task_definition(td, tags);
            if !newest_ours {
                flag_theirs(&mut o, newest.0);
            }
            InUse::Observed(o)
        }
        Some((td, tags)) if newest_ours => {
            InUse::Observed(observe_foreign_newest(td, tags, newest.0))
        }
        Some(_) => InUse::Theirs,
        None if newest_ours => InUse::Observed(observe_task_definition(newest.0, newest.1)),
        None => InUse::Theirs,
    }
}

/// The family as the plan sees it (module docs). `newest`: the family's newest ACTIVE
/// revision and its tags ([`newest_active`]); `running`: the task definition our service
/// runs, if there is one. No more reads when the service runs the newest revision (or there
/// is no service) and it is ours; one DescribeTaskDefinition when it runs another (a
/// rollback). Only when neither is ours is the list of ACTIVE revisions read, to look back
/// for rtech's newest. Without ACTIVE revisions and with no task definition in the spec
/// (`leftovers`: a destroy), INACTIVE revisions of ours left by an interrupted destroy are
/// observed, so that the destroy deletes them.
pub(in crate::reconcile::ecs) async fn observe(
    ctx: &Ctx,
    family: &str,
    newest: Option<(TaskDefinition, Vec<Tag>)>,
    running: Option<&str>,
    leftovers: bool,
) -> Result<Option<Observed>, AwsError> {
    let is_ours = |t: &BTreeMap<String, String>| super::super::ours(ctx, &task_definition_id(), t);
    let Some((newest, tags)) = newest else {
        return if leftovers {
            observe_leftovers(ctx, family, is_ours).await
        } else {
            Ok(None)
        };
    };
    let newest_arn = newest.task_definition_arn().unwrap_or_default().to_string();
    // The service's revision, when it is of our family and not the newest.
    let running = running.filter(|r| {
        *r != newest_arn.as_str() && !revisions_of(&[r.to_string()], family).is_empty()
    });
    let in_use = match running {
        Some(arn) => describe(ctx, arn).await?,
        None => None,
    };
    let tags = super::super::tag_map(&tags);
    let in_use = in_use.map(|(td, t)| (td, super::super::tag_map(&t)));
    let compared = match observe_in_use(
        (&newest, &tags),
        in_use.as_ref().map(|(td, t)| (td, t)),
        is_ours,
    ) {
        InUse::Observed(o) => return Ok(Some(o)),
        InUse::Theirs => in_use
            .as_ref()
            .map(|(td, t)| (td, t))
            .unwrap_or((&newest, &tags)),
    };
    // Neither is ours: rtech's newest among the older ACTIVE revisions, if any.
    let revs = active_revisions(ctx, family).await?;
    let older = revs
        .iter()
        .filter(|(_, arn)| *arn != newest_arn && Some(arn.as_str()) != running);
    for (_, arn) in older.take(OWN_LOOKBACK) {
        if let Some((td, t)) = describe(ctx, arn).await? {
            if is_ours(&super::super::tag_map(&t)) {
                return Ok(Some(observe_foreign_newest(compared.0, compared.1, &td)));
            }
        }
    }
    Ok(Some(super::super::foreign(
        task_definition_id(),
        &newest_arn,
    )))
}

/// Whether DescribeTaskDefinition's error says the family has no ACTIVE revision (or does
/// not exist): AWS answers a family's name without one with ClientException "Unable to
/// describe task definition." (not a NotFound code; terraform-provider-aws reads it the same
/// way). Any other ClientException stays an error.
pub fn no_active_revision(e: &AwsError) -> bool {
    e.is("ClientException")
        && e.message
            .to_ascii_lowercase()
            .contains("unable to describe task definition")
}

/// The family's newest ACTIVE revision and its tags: DescribeTaskDefinition by the family's
/// name alone (AWS answers with the newest ACTIVE revision). None: the family has none.
pub(in crate::reconcile::ecs) async fn newest_active(
    ctx: &Ctx,
    family: &str,
) -> Result<Option<(TaskDefinition, Vec<Tag>)>, AwsError> {
    match describe(ctx, family).await {
        Err(e) if no_active_revision(&e) => Ok(None),
        // A family's name answers only its own revisions; anything else is not ours to read.
        Ok(Some((td, _))) if td.family() != Some(family) => Ok(None),
        r => r,
    }
}

/// INACTIVE revisions of ours with no ACTIVE one left (an interrupted destroy): the newest
/// one, when it is ours, stands for the family so that a destroy plans its delete. One
/// ListTaskDefinitions, plus one DescribeTaskDefinition when there are any.
async fn observe_leftovers(
    ctx: &Ctx,
    family: &str,
    is_ours: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<Option<Observed>, AwsError> {
    let inactive = revisions(ctx, family, TaskDefinitionStatus::Inactive).await?;
    let Some((_, arn)) = inactive.first() else {
        return Ok(None);
    };
    Ok(match describe(ctx, arn).await? {
        Some((td, t)) if is_ours(&super::super::tag_map(&t)) => {
            Some(observe_task_definition(&td, &super::super::tag_map(&t)))
        }
        _ => None,
    })
}

/// Our family whose compared revision (the newest ACTIVE one, or the one the service runs)
/// someone registered without our tags (pure): its settings are compared, listed as an
/// extra so that apply registers a revision of ours on top (never re-tagging theirs); the
/// attributes are those of `ours`, rtech's newest.
pub fn observe_foreign_newest(
    newest: &TaskDefinition,
    tags: &BTreeMap<String, String>,
    ours: &TaskDefinition,
) -> Observed {
    let mut o = observe_task_definition(newest, tags);
    flag_theirs(&mut o, newest);
    o.physical_id = ours.task_definition_arn().unwrap_or_default().to_string();
    o.attrs = attrs(ours);
    o
}

pub(in crate::reconcile::ecs) async fn describe(
    ctx: &Ctx,
    arn: &str,
) -> Result<Option<(TaskDefinition, Vec<Tag>)>, AwsError> {
    let r = ctx
        .clients
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(aws("ecs:DescribeTaskDefinition"));
    Ok(found(r)?.and_then(|out| {
        out.task_definition()
            .cloned()
            .map(|td| (td, out.tags().to_vec()))
    }))
}
