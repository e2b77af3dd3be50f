//! `ecs_task_definition/app`: the family `{project}-{env}-app`, one Fargate container `app`.
//!
//! The properties are the container definition taken apart (`port_mappings`, `environment`
//! as a map, `secrets` as a map of `{arn, key}`, `log_configuration`, `health_check`, …) so
//! that a plan names exactly what changed. Observe normalises what AWS fills in: container
//! `cpu` 0, empty `mountPoints` / `volumesFrom` / `systemControls`, `hostPort` (= the container
//! port under awsvpc), `protocol` tcp, `essential` true, the health check's default interval,
//! timeout and retries, and the order of `environment` and `secrets`. Anything set on the live
//! definition that rtech never sets (a command, mount points, another container…) is listed
//! in `extras`, which rtech wants empty: an out-of-band revision is drift, never ignored.
//!
//! The revision compared (`observe_in_use`) is the one our service runs when it is ours
//! (after a rollback that is not the newest: the plan keeps what runs, never the image that
//! was rolled back), else the newest ACTIVE one. Its ARN and revision are the attributes.
//!
//! Ownership is per revision. The family is ours when the revision compared carries our
//! tags, or (a revision registered by hand) the newest or an older ACTIVE one does: then a
//! revision without our tags that runs, or that sits on top of ours, is flagged in `extras`,
//! so apply registers a revision of ours on top. A family with no revision of ours is
//! `Foreign` (a conflict).
//!
//! Apply makes a new revision only when the newest ACTIVE one is not already the one wanted
//! (`same_definition`; reused, its tags synced, otherwise). Pruning and destroy deregister
//! only revisions with our tags, then delete them (DeleteTaskDefinitions, ten per call; a
//! pruning failure is reported and left INACTIVE, a destroy failure fails the destroy, and
//! an endpoint without the call leaves them INACTIVE). Destroy also deletes INACTIVE
//! revisions of ours an interrupted destroy left.

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, HealthCheck, KeyValuePair,
    LinuxParameters, LogConfiguration, LogDriver, NetworkMode, OsFamily, PortMapping, Secret,
    SortOrder, Tag, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
    VersionConsistency,
};
use aws_sdk_ecs::Client;

use super::{
    app_name, cluster_name, desired_tags, int, prior_tags, string_list, string_map, sync_tags,
    task_definition_id, visible_tags, CONTAINER, TAG_KEEP_REVISIONS,
};
use crate::aws::{all_pages, aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId, Value};
use crate::progress::Task;
use crate::reconcile::{Ctx, Op};
use crate::spec::app::App;
use crate::spec::network::REDIS_PORT;
use crate::spec::Spec;

/// Properties that live in tags, not in the revision: changing them registers nothing.
const TAG_PROPS: &[(&str, &str)] = &[(TAG_KEEP_REVISIONS, "keep_revisions")];

/// The health check's defaults when AWS omits them (ECS API reference, HealthCheck).
const HC_INTERVAL: i64 = 30;
const HC_TIMEOUT: i64 = 5;
const HC_RETRIES: i64 = 3;

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// An ECS secret in the properties: the secret's ARN and the JSON key (valueFrom is built
/// from them at apply).
fn secret_value(secret: &str, key: &str) -> Value {
    map([
        (
            "arn",
            Value::reference(&ResourceId::new("secret", secret), "arn"),
        ),
        ("key", Value::str(key)),
    ])
}

pub(super) fn expand(spec: &Spec, app: &App) -> Resource {
    let id = task_definition_id();
    let family = spec.name("app");
    let tags = tags_for(&spec.project, &spec.env, &id, &family, &spec.tags);

    let mut environment: BTreeMap<String, Value> = app
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(v)))
        .collect();
    let mut secrets: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(r) = &spec.redis {
        environment.insert(
            "REDIS_HOST".into(),
            Value::reference(&ResourceId::new("redis", "main"), "primary_endpoint"),
        );
        environment.insert("REDIS_PORT".into(), Value::str(REDIS_PORT.to_string()));
        if r.transit_encryption {
            secrets.insert("REDIS_AUTH_TOKEN".into(), secret_value("redis", "token"));
        }
    }
    if spec.docdb.is_some() {
        secrets.insert("MONGODB_URI".into(), secret_value("docdb", "uri"));
    }
    let port = Value::Int(app.port);
    let health_check = match &app.health_check {
        Some(h) => map([
            (
                "command",
                Value::List(vec![Value::str("CMD-SHELL"), Value::str(&h.command)]),
            ),
            ("interval", Value::Int(h.interval_seconds)),
            ("timeout", Value::Int(h.timeout_seconds)),
            ("retries", Value::Int(h.retries)),
            ("start_period", Value::Int(h.start_period_seconds)),
        ]),
        None => Value::Null,
    };
    let log_group = ResourceId::new("log_group", "app");

    let r = Resource::new(id, &family)
        .prop("family", Value::str(&family))
        .prop("cpu", Value::Int(app.cpu))
        .prop("memory", Value::Int(app.memory))
        .prop("network_mode", Value::str("awsvpc"))
        .prop(
            "requires_compatibilities",
            Value::List(vec![Value::str("FARGATE")]),
        )
        .prop(
            "execution_role_arn",
            Value::reference(&ResourceId::new("iam_role", "execution"), "arn"),
        )
        .prop(
            "task_role_arn",
            Value::reference(&ResourceId::new("iam_role", "task"), "arn"),
        )
        .prop(
            "image_repository",
            Value::reference(&ResourceId::new("ecr_repository", "app"), "url"),
        )
        .prop("container_name", Value::str(CONTAINER))
        .prop("essential", Value::Bool(true))
        .prop(
            "port_mappings",
            Value::List(vec![map([
                ("container_port", port.clone()),
                ("host_port", port),
                ("protocol", Value::str("tcp")),
            ])]),
        )
        .prop("environment", Value::Map(environment))
        .prop("secrets", Value::Map(secrets))
        .prop(
            "log_configuration",
            map([
                ("log_driver", Value::str("awslogs")),
                (
                    "options",
                    map([
                        ("awslogs-group", Value::reference(&log_group, "name")),
                        ("awslogs-region", Value::str(&spec.region)),
                        ("awslogs-stream-prefix", Value::str("app")),
                    ]),
                ),
            ]),
        )
        .prop("health_check", health_check)
        .prop("user", Value::opt_str(app.user.as_deref()))
        .prop(
            "readonly_root_filesystem",
            Value::Bool(app.read_only_root_filesystem),
        )
        .prop("extras", Value::List(vec![]))
        .prop("keep_revisions", Value::Int(app.keep_revisions))
        .prop("tags", Value::string_map(&tags));
    // `--image-tag` wins; without it the deployed tag stays (an infrastructure-only apply never
    // rolls the image back), and the spec's tag is used on first create.
    match &spec.image_tag {
        Some(t) => r.prop("image_tag", Value::str(t)),
        None => r.late("image_tag", Value::str(&app.image_tag)),
    }
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

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
pub fn parse_value_from(v: &str) -> Value {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "secretsmanager" {
        let mut m = BTreeMap::new();
        m.insert("arn".to_string(), Value::str(parts[..7].join(":")));
        m.insert(
            "key".to_string(),
            Value::str(parts.get(7).copied().unwrap_or_default()),
        );
        for (i, name) in [(8, "version_stage"), (9, "version_id")] {
            if let Some(p) = parts.get(i).filter(|p| !p.is_empty()) {
                m.insert(name.to_string(), Value::str(*p));
            }
        }
        Value::Map(m)
    } else {
        map([("value_from", Value::str(v))])
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

fn port_mapping(p: &PortMapping) -> Value {
    let container = p.container_port().unwrap_or_default() as i64;
    let mut m = BTreeMap::new();
    m.insert("container_port".to_string(), Value::Int(container));
    // Under awsvpc the host port is the container port (AWS fills it in).
    m.insert(
        "host_port".to_string(),
        Value::Int(p.host_port().map(i64::from).unwrap_or(container)),
    );
    m.insert(
        "protocol".to_string(),
        Value::str(p.protocol().map(|p| p.as_str()).unwrap_or("tcp")),
    );
    if let Some(n) = p.name() {
        m.insert("name".to_string(), Value::str(n));
    }
    if let Some(a) = p.app_protocol() {
        m.insert("app_protocol".to_string(), Value::str(a.as_str()));
    }
    if let Some(r) = p.container_port_range() {
        m.insert("container_port_range".to_string(), Value::str(r));
    }
    Value::Map(m)
}

fn health_check(h: &HealthCheck) -> Value {
    map([
        (
            "command",
            Value::List(h.command().iter().map(Value::str).collect()),
        ),
        (
            "interval",
            Value::Int(h.interval().map(i64::from).unwrap_or(HC_INTERVAL)),
        ),
        (
            "timeout",
            Value::Int(h.timeout().map(i64::from).unwrap_or(HC_TIMEOUT)),
        ),
        (
            "retries",
            Value::Int(h.retries().map(i64::from).unwrap_or(HC_RETRIES)),
        ),
        (
            "start_period",
            Value::Int(h.start_period().map(i64::from).unwrap_or(0)),
        ),
    ])
}

fn log_configuration(l: &LogConfiguration) -> Value {
    // `mode` is left out: AWS may fill in the account's defaultLogDriverMode, and rtech does
    // not manage it.
    let options: BTreeMap<String, Value> = l
        .options()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "mode")
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect()
        })
        .unwrap_or_default();
    let mut m = BTreeMap::new();
    m.insert(
        "log_driver".to_string(),
        Value::str(l.log_driver().as_str()),
    );
    m.insert("options".to_string(), Value::Map(options));
    if !l.secret_options().is_empty() {
        m.insert(
            "secret_options".to_string(),
            Value::List(
                l.secret_options()
                    .iter()
                    .map(|s| Value::str(format!("{}={}", s.name(), s.value_from())))
                    .collect(),
            ),
        );
    }
    Value::Map(m)
}

/// A revision (the one in use) → `Observed` in the desired shape (pure).
pub fn observe_task_definition(td: &TaskDefinition, tags: &BTreeMap<String, String>) -> Observed {
    let arn = td.task_definition_arn().unwrap_or_default();
    let mut o = Observed::new(task_definition_id(), arn);
    o.attrs = attrs(td);
    let set = |o: &mut Observed, k: &str, v: Value| {
        o.props.insert(k.to_string(), v);
    };
    let num = |s: Option<&str>| {
        s.and_then(|s| s.trim().parse::<i64>().ok())
            .map(Value::Int)
            .unwrap_or(Value::Null)
    };
    set(&mut o, "family", Value::opt_str(td.family()));
    set(&mut o, "cpu", num(td.cpu()));
    set(&mut o, "memory", num(td.memory()));
    set(
        &mut o,
        "network_mode",
        Value::opt_str(td.network_mode().map(|m| m.as_str())),
    );
    let mut compat: Vec<&str> = td
        .requires_compatibilities()
        .iter()
        .map(|c| c.as_str())
        .collect();
    compat.sort();
    set(
        &mut o,
        "requires_compatibilities",
        Value::List(compat.into_iter().map(Value::str).collect()),
    );
    set(
        &mut o,
        "execution_role_arn",
        Value::opt_str(td.execution_role_arn()),
    );
    set(&mut o, "task_role_arn", Value::opt_str(td.task_role_arn()));

    let containers = td.container_definitions();
    let c = containers
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
        .or(containers.first());
    set(&mut o, "extras", {
        Value::List(extras(td, c).into_iter().map(Value::str).collect())
    });
    if let Some(c) = c {
        set(&mut o, "container_name", Value::opt_str(c.name()));
        let (repo, tag) = split_image(c.image().unwrap_or_default());
        set(&mut o, "image_repository", Value::str(repo));
        set(&mut o, "image_tag", Value::opt_str(tag.as_deref()));
        set(
            &mut o,
            "essential",
            Value::Bool(c.essential().unwrap_or(true)),
        );
        let mut ports: Vec<Value> = c.port_mappings().iter().map(port_mapping).collect();
        ports.sort_by_key(|v| v.to_string());
        set(&mut o, "port_mappings", Value::List(ports));
        let env: BTreeMap<String, Value> = c
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_string(), Value::opt_str(kv.value()))))
            .collect();
        set(&mut o, "environment", Value::Map(env));
        let secrets: BTreeMap<String, Value> = c
            .secrets()
            .iter()
            .map(|s| (s.name().to_string(), parse_value_from(s.value_from())))
            .collect();
        set(&mut o, "secrets", Value::Map(secrets));
        set(
            &mut o,
            "log_configuration",
            c.log_configuration()
                .map(log_configuration)
                .unwrap_or(Value::Null),
        );
        set(
            &mut o,
            "health_check",
            c.health_check().map(health_check).unwrap_or(Value::Null),
        );
        set(&mut o, "user", Value::opt_str(c.user()));
        set(
            &mut o,
            "readonly_root_filesystem",
            Value::Bool(c.readonly_root_filesystem().unwrap_or(false)),
        );
    }
    set(
        &mut o,
        "keep_revisions",
        tags.get(TAG_KEEP_REVISIONS)
            .and_then(|v| v.parse::<i64>().ok())
            .map(Value::Int)
            .unwrap_or(Value::Null),
    );
    set(&mut o, "tags", visible_tags(tags));

    // Deleted after whatever runs it, before what it references.
    for (kind, name) in [
        ("ecr_repository", "app"),
        ("iam_role", "execution"),
        ("iam_role", "task"),
        ("log_group", "app"),
    ] {
        o.deps.insert(ResourceId::new(kind, name));
    }
    if let Some(Value::Map(s)) = o.props.get("secrets").cloned() {
        for (name, secret) in [("MONGODB_URI", "docdb"), ("REDIS_AUTH_TOKEN", "redis")] {
            if s.contains_key(name) {
                o.deps.insert(ResourceId::new("secret", secret));
            }
        }
    }
    if o.props
        .get("environment")
        .and_then(Value::as_map)
        .is_some_and(|e| e.contains_key("REDIS_HOST"))
    {
        o.deps.insert(ResourceId::new("redis", "main"));
    }
    o
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
async fn revisions(
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
pub(super) async fn active_revisions(
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

/// The family as the plan sees it (module docs). `revs`: the ACTIVE revisions, newest first;
/// `running`: the task definition our service runs, if there is one. One
/// DescribeTaskDefinition when the service runs the newest revision (or there is no
/// service), two when it runs another (a rollback). Without ACTIVE revisions and with no
/// task definition in the spec (`leftovers`: a destroy), INACTIVE revisions of ours left by
/// an interrupted destroy are observed, so that the destroy deletes them.
pub(super) async fn observe(
    ctx: &Ctx,
    family: &str,
    revs: &[(i64, String)],
    running: Option<&str>,
    leftovers: bool,
) -> Result<Option<Observed>, AwsError> {
    let is_ours = |t: &BTreeMap<String, String>| {
        super::ours(&ctx.project, &ctx.env, &task_definition_id(), t)
    };
    let Some((_, newest_arn)) = revs.first() else {
        return if leftovers {
            observe_leftovers(ctx, family, is_ours).await
        } else {
            Ok(None)
        };
    };
    // The service's revision, when it is of our family and not the newest.
    let running = running.filter(|r| {
        *r != newest_arn.as_str() && !revisions_of(&[r.to_string()], family).is_empty()
    });
    let (newest, in_use) = tokio::try_join!(describe(ctx, newest_arn), async {
        match running {
            Some(arn) => describe(ctx, arn).await,
            None => Ok(None),
        }
    })?;
    let Some((newest, tags)) = newest else {
        return Ok(None);
    };
    let tags = super::tag_map(&tags);
    let in_use = in_use.map(|(td, t)| (td, super::tag_map(&t)));
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
    for (_, arn) in revs.iter().skip(1).take(OWN_LOOKBACK) {
        if Some(arn.as_str()) == running {
            continue;
        }
        if let Some((td, t)) = describe(ctx, arn).await? {
            if is_ours(&super::tag_map(&t)) {
                return Ok(Some(observe_foreign_newest(compared.0, compared.1, &td)));
            }
        }
    }
    Ok(Some(super::foreign(task_definition_id(), newest_arn)))
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
        Some((td, t)) if is_ours(&super::tag_map(&t)) => {
            Some(observe_task_definition(&td, &super::tag_map(&t)))
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

pub(super) async fn describe(
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
    match r {
        Ok(out) => Ok(out
            .task_definition()
            .cloned()
            .map(|td| (td, out.tags().to_vec()))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (built apart from sending, so that they are unit-tested)

fn missing(r: &Resource, what: &str) -> AwsError {
    AwsError::new(
        "rtech",
        "InvalidTaskDefinition",
        format!("{}: {what} is missing", r.id),
    )
}

fn i32_of(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_int).map(|n| n as i32)
}

/// The container definition rtech registers, from the desired properties (resolved).
pub fn container_definition(r: &Resource) -> Result<ContainerDefinition, AwsError> {
    let repo = r
        .get_str("image_repository")
        .ok_or_else(|| missing(r, "image_repository"))?;
    let tag = r
        .get_str("image_tag")
        .ok_or_else(|| missing(r, "image_tag"))?;
    let mut c = ContainerDefinition::builder()
        .name(r.get_str("container_name").unwrap_or(CONTAINER))
        .image(image_ref(repo, tag))
        .essential(r.props.get("essential").and_then(Value::as_bool) != Some(false));
    if let Some(Value::List(ports)) = r.props.get("port_mappings") {
        for p in ports {
            let m = p.as_map();
            let get = |k: &str| m.and_then(|m| m.get(k));
            c = c.port_mappings(
                PortMapping::builder()
                    .set_container_port(i32_of(get("container_port")))
                    .set_host_port(i32_of(get("host_port")))
                    .protocol(TransportProtocol::from(
                        get("protocol").and_then(Value::as_str).unwrap_or("tcp"),
                    ))
                    .build(),
            );
        }
    }
    // Sorted by name (a BTreeMap): the same order every time.
    for (k, v) in string_map(r.props.get("environment")) {
        c = c.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    if let Some(secrets) = r.props.get("secrets").and_then(Value::as_map) {
        for (name, s) in secrets {
            let m = string_map(Some(s));
            let arn = m
                .get("arn")
                .ok_or_else(|| missing(r, &format!("secrets.{name}.arn")))?;
            let key = m.get("key").map(String::as_str).unwrap_or_default();
            let secret = Secret::builder()
                .name(name)
                .value_from(value_from(arn, key))
                .build()
                .map_err(|e| AwsError::new("rtech", "InvalidTaskDefinition", e.to_string()))?;
            c = c.secrets(secret);
        }
    }
    if let Some(l) = r.props.get("log_configuration").and_then(Value::as_map) {
        let driver = l
            .get("log_driver")
            .and_then(Value::as_str)
            .unwrap_or("awslogs");
        let options = string_map(l.get("options"));
        let lc = LogConfiguration::builder()
            .log_driver(LogDriver::from(driver))
            .set_options(Some(options.into_iter().collect()))
            .build()
            .map_err(|e| AwsError::new("rtech", "InvalidTaskDefinition", e.to_string()))?;
        c = c.log_configuration(lc);
    }
    if let Some(h) = r.props.get("health_check").and_then(Value::as_map) {
        let hc = HealthCheck::builder()
            .set_command(Some(string_list(h.get("command"))))
            .set_interval(i32_of(h.get("interval")))
            .set_timeout(i32_of(h.get("timeout")))
            .set_retries(i32_of(h.get("retries")))
            .set_start_period(i32_of(h.get("start_period")))
            .build()
            .map_err(|e| AwsError::new("rtech", "InvalidTaskDefinition", e.to_string()))?;
        c = c.health_check(hc);
    }
    if let Some(u) = r.get_str("user") {
        c = c.user(u);
    }
    if let Some(ro) = r
        .props
        .get("readonly_root_filesystem")
        .and_then(Value::as_bool)
    {
        c = c.readonly_root_filesystem(ro);
    }
    Ok(c.build())
}

pub fn register_request(
    c: &Client,
    r: &Resource,
) -> Result<RegisterTaskDefinitionFluentBuilder, AwsError> {
    let family = r.get_str("family").ok_or_else(|| missing(r, "family"))?;
    let compat: Vec<Compatibility> = string_list(r.props.get("requires_compatibilities"))
        .iter()
        .map(|s| Compatibility::from(s.as_str()))
        .collect();
    Ok(c.register_task_definition()
        .family(family)
        .set_requires_compatibilities(Some(compat))
        .network_mode(NetworkMode::from(
            r.get_str("network_mode").unwrap_or("awsvpc"),
        ))
        .set_cpu(int(r, "cpu").map(|n| n.to_string()))
        .set_memory(int(r, "memory").map(|n| n.to_string()))
        .set_execution_role_arn(r.get_str("execution_role_arn").map(str::to_string))
        .set_task_role_arn(r.get_str("task_role_arn").map(str::to_string))
        .container_definitions(container_definition(r)?)
        .set_tags(Some(super::ecs_tags(&desired_tags(r, TAG_PROPS)))))
}

fn keep(r: &Resource) -> usize {
    int(r, "keep_revisions").unwrap_or(5).max(1) as usize
}

/// Whether a live revision, observed, is the definition `r` wants (pure): every property
/// but the tags and what lives in tags compares equal the way the plan compares them
/// (absent and null alike, a missing map as an empty one).
pub fn same_definition(r: &Resource, live: &Observed) -> bool {
    r.props
        .iter()
        .filter(|(k, _)| k.as_str() != "tags" && !TAG_PROPS.iter().any(|(_, p)| p == k))
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

/// The newest ACTIVE revision when it is ours and already the definition `r` wants (a
/// re-run after a rollback with the same `--image-tag`, or an apply interrupted after it
/// registered and before it updated the service): reused instead of registering a duplicate.
async fn reusable(
    ctx: &Ctx,
    r: &Resource,
    family: &str,
) -> Result<Option<(TaskDefinition, BTreeMap<String, String>)>, AwsError> {
    let revs = active_revisions(ctx, family).await?;
    let Some((_, arn)) = revs.first() else {
        return Ok(None);
    };
    let Some((td, tags)) = describe(ctx, arn).await? else {
        return Ok(None);
    };
    let tags = super::tag_map(&tags);
    let ours = super::ours(&ctx.project, &ctx.env, &task_definition_id(), &tags);
    Ok((ours && same_definition(r, &observe_task_definition(&td, &tags))).then_some((td, tags)))
}

/// Register a new revision (tags included), or reuse the newest one when it is already the
/// one wanted (`reusable`), and return its attributes.
async fn register(ctx: &Ctx, r: &Resource, family: &str, task: &Task) -> Result<Attrs, AwsError> {
    let image = r
        .get_str("image_tag")
        .map(|t| format!(" (image tag {t})"))
        .unwrap_or_default();
    if let Some((td, tags)) = reusable(ctx, r, family).await? {
        task.status(&format!(
            "reusing revision {} of {family}{image}: it is already the definition wanted",
            td.revision()
        ));
        let arn = td.task_definition_arn().unwrap_or_default();
        sync_tags(ctx, arn, &tags, &desired_tags(r, TAG_PROPS)).await?;
        return Ok(attrs(&td));
    }
    task.status(&format!("registering a new revision of {family}{image}"));
    let req = register_request(&ctx.clients.ecs, r)?;
    let out = super::while_role_propagates(task, || async {
        req.clone()
            .send()
            .await
            .map_err(aws("ecs:RegisterTaskDefinition"))
    })
    .await?;
    let td = out.task_definition().ok_or_else(|| {
        AwsError::new(
            "ecs:RegisterTaskDefinition",
            "InvalidResponse",
            "no task definition returned",
        )
    })?;
    Ok(attrs(td))
}

/// Whether a revision carries our tags (a revision someone registered by hand in our family
/// is never deregistered).
async fn ours(ctx: &Ctx, arn: &str) -> Result<bool, AwsError> {
    let out = ctx
        .clients
        .ecs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("ecs:ListTagsForResource"));
    let tags = match out {
        Ok(out) => out.tags().to_vec(),
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(super::ours(
        &ctx.project,
        &ctx.env,
        &task_definition_id(),
        &super::tag_map(&tags),
    ))
}

/// The revisions among `arns` that carry our tags.
async fn only_ours(ctx: &Ctx, arns: &[String]) -> Result<Vec<String>, AwsError> {
    let mut out = vec![];
    for arn in arns {
        if ours(ctx, arn).await? {
            out.push(arn.clone());
        }
    }
    Ok(out)
}

/// Deregister `arns` that carry our tags; returns the ones deregistered.
async fn deregister_ours(ctx: &Ctx, arns: &[String]) -> Result<Vec<String>, AwsError> {
    let ours = only_ours(ctx, arns).await?;
    for arn in &ours {
        deregister(ctx, arn).await?;
    }
    Ok(ours)
}

fn left_alone(task: &Task, wanted: usize, done: usize) {
    if done < wanted {
        task.status(&format!(
            "left {} revision(s) without rtech's tags in place",
            wanted - done
        ));
    }
}

/// How many revisions one DeleteTaskDefinitions takes.
const DELETE_BATCH: usize = 10;

/// Whether DeleteTaskDefinitions is not offered where rtech runs (a partition or an endpoint
/// without it): deregistered revisions then stay INACTIVE, as they always did.
fn delete_unavailable(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "UnknownOperationException" | "UnsupportedOperation" | "InvalidAction" | "NotImplemented"
    )
}

/// Delete deregistered (INACTIVE) revisions, `DELETE_BATCH` per call. A revision that is gone
/// already is not a failure; any other failure is an error when `strict` (destroy), a
/// status line otherwise (pruning: the revisions are deregistered, which is what counts).
async fn delete_revisions(
    ctx: &Ctx,
    arns: &[String],
    strict: bool,
    task: &Task,
) -> Result<(), AwsError> {
    for chunk in arns.chunks(DELETE_BATCH) {
        let out = ctx
            .clients
            .ecs
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("ecs:DeleteTaskDefinitions"));
        let out = match out {
            Ok(out) => out,
            Err(e) if delete_unavailable(&e) => {
                task.status(&format!(
                    "DeleteTaskDefinitions is not available here ({}): {} revision(s) stay INACTIVE",
                    e.code,
                    arns.len()
                ));
                return Ok(());
            }
            Err(e) if !strict => {
                task.status(&format!(
                    "could not delete deregistered revisions: {e}; they stay INACTIVE"
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let failures: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| {
                !f.reason()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains("does not exist")
            })
            .map(|f| {
                format!(
                    "{}: {}",
                    f.arn().unwrap_or_default(),
                    f.reason().unwrap_or_default()
                )
            })
            .collect();
        if failures.is_empty() {
            continue;
        }
        if strict {
            return Err(AwsError::new(
                "ecs:DeleteTaskDefinitions",
                "DeleteFailed",
                failures.join("; "),
            ));
        }
        task.status(&format!(
            "could not delete deregistered revisions ({}); they stay INACTIVE",
            failures.join("; ")
        ));
    }
    Ok(())
}

/// Deregister, then delete, ACTIVE revisions beyond the newest `keep` (module docs).
async fn prune(ctx: &Ctx, family: &str, keep: usize, task: &Task) -> Result<(), AwsError> {
    let revs = active_revisions(ctx, family).await?;
    if revs.len() <= keep {
        return Ok(());
    }
    let in_use = super::service::current_task_definition(
        ctx,
        &cluster_name(&ctx.project, &ctx.env),
        &app_name(&ctx.project, &ctx.env),
    )
    .await?;
    let old = to_deregister(&revs, keep, in_use.as_deref());
    if old.is_empty() {
        return Ok(());
    }
    task.status(&format!(
        "deregistering and deleting {} revision(s) beyond the newest {keep}",
        old.len()
    ));
    let done = deregister_ours(ctx, &old).await?;
    left_alone(task, old.len(), done.len());
    delete_revisions(ctx, &done, false, task).await
}

async fn deregister(ctx: &Ctx, arn: &str) -> Result<(), AwsError> {
    let r = ctx
        .clients
        .ecs
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("ecs:DeregisterTaskDefinition"));
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

pub(super) async fn apply(ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
    match op {
        Op::Create(r) => {
            let family = r.get_str("family").unwrap_or(&r.name);
            let a = register(ctx, r, family, task).await?;
            prune(ctx, family, keep(r), task).await?;
            Ok(a)
        }
        Op::Update {
            desired,
            prior,
            changed,
        } => {
            let family = desired.get_str("family").unwrap_or(&desired.name);
            let new_revision = changed
                .iter()
                .any(|k| k != "tags" && !TAG_PROPS.iter().any(|(_, p)| p == k));
            let a = if new_revision {
                register(ctx, desired, family, task).await?
            } else {
                sync_tags(
                    ctx,
                    &prior.physical_id,
                    &prior_tags(prior, TAG_PROPS),
                    &desired_tags(desired, TAG_PROPS),
                )
                .await?;
                prior.attrs.clone()
            };
            prune(ctx, family, keep(desired), task).await?;
            Ok(a)
        }
        Op::Delete(o) => {
            let family = o
                .attrs
                .get("family")
                .cloned()
                .unwrap_or_else(|| app_name(&ctx.project, &ctx.env));
            let revs: Vec<String> = active_revisions(ctx, &family)
                .await?
                .into_iter()
                .map(|(_, a)| a)
                .collect();
            task.status(&format!(
                "deregistering {} revision(s) of {family}",
                revs.len()
            ));
            let done = deregister_ours(ctx, &revs).await?;
            left_alone(task, revs.len(), done.len());
            // Deregistered revisions linger as INACTIVE: delete them, with those of ours an
            // interrupted destroy (or pruning before rtech deleted what it pruned) left.
            let inactive: Vec<String> = revisions(ctx, &family, TaskDefinitionStatus::Inactive)
                .await?
                .into_iter()
                .map(|(_, a)| a)
                .collect();
            let mut gone = done;
            let others: Vec<String> = inactive.into_iter().filter(|a| !gone.contains(a)).collect();
            gone.extend(only_ours(ctx, &others).await?);
            if !gone.is_empty() {
                task.status(&format!(
                    "deleting {} deregistered revision(s) of {family}",
                    gone.len()
                ));
            }
            delete_revisions(ctx, &gone, true, task).await?;
            Ok(Attrs::new())
        }
    }
}
