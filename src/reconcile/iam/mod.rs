//! IAM: the roles the ECS service runs with (only when the spec has `[app]`).
//!
//! - `iam_role/execution` (`{project}-{env}-ecs-execution`): what ECS itself uses to start a
//!   task. Trusted by `ecs-tasks.amazonaws.com`; the AWS managed
//!   `AmazonECSTaskExecutionRolePolicy` (pull the image, write the logs); and an inline
//!   policy `rtech-secrets` allowing `secretsmanager:GetSecretValue` on exactly this env's
//!   data-tier secrets (`secret/docdb`, `secret/redis`, those the spec has), one statement per
//!   secret, nothing wider. No inline policy when the env has neither database.
//! - `iam_role/task` (`{project}-{env}-ecs-task`): what the application's code runs as. Same
//!   trust, no permissions by default; the spec's `app.task_role_statements` become the inline
//!   policy `rtech-app`.
//!
//! Policy documents are compared by meaning: each document is `model::policy::iam`'s canonical
//! form (sorted, de-duplicated `Action`/`Resource`/principal/condition values, single strings
//! and one-item lists alike, whitespace and key order gone; IAM returns documents URL-encoded,
//! `iam_text` decodes them), with `Statement` turned into a map keyed by each statement's
//! `Sid` (or, without one, `#` and a short hash of its content). Statement order therefore
//! never matters, an extra statement shows up as exactly that key, and a desired statement whose
//! `Resource` is a reference (a secret's ARN, known only once it exists) compares equal once
//! resolved: rtech's own statements carry a `Sid` and a single resource each, so nothing in the
//! desired document depends on how the resolved ARNs would sort.
//!
//! Observe: one GetRole per role name (ListRoles returns no tags), then, for roles that are
//! ours, ListAttachedRolePolicies, ListRolePolicies and one GetRolePolicy per inline policy, all
//! concurrent: 7 calls for dev and prod once the roles exist (2 before). A same-named role
//! without our tags (project, env and id) is a conflict, never modified or deleted.
//!
//! IAM is eventually consistent on AWS: after CreateRole, apply waits for the role to be
//! readable (the SDK's role-exists waiter) before attaching policies, and IAM's
//! `ConcurrentModification` is retried. A role just created may still not be assumable by ECS
//! for some seconds: ECS calls that use it must retry on that. Delete detaches and
//! deletes every policy the role has at that moment, then retries DeleteRole on
//! `DeleteConflict` (the detachments may take a moment to be seen), bounded.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::client::Waiters;
use aws_sdk_iam::types::Tag;
use serde_json::{json, Value as J};
use sha2::{Digest, Sha256};

use crate::aws::{all_pages, aws, retry_on, AwsError, Required};
use crate::model::policy;
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub const ROLE: &str = "iam_role";
pub const EXECUTION: &str = "execution";
pub const TASK: &str = "task";
/// The execution role's inline policy: read this env's data-tier secrets.
pub const SECRETS_POLICY: &str = "rtech-secrets";
/// The task role's inline policy: the spec's `app.task_role_statements`.
pub const TASK_POLICY: &str = "rtech-app";
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
const VERSION: &str = "2012-10-17";
/// The data-tier secrets (`secret/<name>`) the execution role may read.
const DATA_SECRETS: &[&str] = &["docdb", "redis"];

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: ROLE,
    force_new: &["name"],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// (id name, AWS name role) of every role rtech makes.
const ROLES: &[(&str, &str)] = &[(EXECUTION, "ecs-execution"), (TASK, "ecs-task")];

/// How long to wait for a new role to become readable, and for DeleteRole to stop conflicting.
const WAIT: Duration = Duration::from_secs(120);
const RETRY: Duration = Duration::from_secs(60);

pub fn role_id(name: &str) -> ResourceId {
    ResourceId::new(ROLE, name)
}

/// The AWS partition of a region (managed policy ARNs name it).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// The AWS managed policy every ECS task execution role needs (ECR pull, CloudWatch Logs).
pub fn execution_managed_policy(region: &str) -> String {
    format!(
        "arn:{}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        partition(region)
    )
}

// ---- policy documents ----------------------------------------------------------------------

/// A short, stable hash of a canonical statement (its key when it has no `Sid`).
fn digest(v: &Value) -> String {
    let text = serde_json::to_string(&v.to_json()).expect("JSON serialises");
    hex::encode(&Sha256::digest(text.as_bytes())[..4])
}

/// `policy::iam`'s canonical document with `Statement` as a map: by `Sid` when it is unique,
/// else `Sid#hash`, and `#hash` for statements without one (a `Sid` holds only letters and
/// digits, so the keys never collide).
pub fn keyed(doc: Value) -> Value {
    let Value::Map(mut m) = doc else {
        return doc;
    };
    let statements = match m.remove("Statement") {
        Some(Value::List(l)) => l,
        Some(Value::Map(keyed)) => keyed.into_values().collect(),
        Some(other) => vec![other],
        None => vec![],
    };
    let sid = |s: &Value| {
        s.as_map()
            .and_then(|m| m.get("Sid"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for s in &statements {
        if let Some(k) = sid(s) {
            *count.entry(k).or_default() += 1;
        }
    }
    let mut out = BTreeMap::new();
    for s in statements {
        let key = match sid(&s) {
            Some(k) if count[&k] == 1 => k,
            Some(k) => format!("{k}#{}", digest(&s)),
            None => format!("#{}", digest(&s)),
        };
        out.insert(key, s);
    }
    m.insert("Statement".into(), Value::Map(out));
    Value::Map(m)
}

/// A policy document's text (URL-encoded, as IAM returns it, or plain) as the plan compares
/// it; text that is not a JSON document is kept (decoded) so that it shows as a difference.
pub fn document_value(text: &str) -> Value {
    match policy::iam_text(text) {
        Some(v) => keyed(v),
        None => Value::str(policy::percent_decode(text)),
    }
}

/// The JSON text IAM is given for a (resolved) document value.
pub fn document_json(v: &Value) -> String {
    let mut j = v.to_json();
    if let Some(obj) = j.as_object_mut() {
        if let Some(J::Object(s)) = obj.get("Statement").cloned() {
            obj.insert(
                "Statement".into(),
                J::Array(s.into_iter().map(|(_, v)| v).collect()),
            );
        }
    }
    j.to_string()
}

/// Trusted by ECS tasks (both roles).
pub fn trust_policy() -> Value {
    keyed(policy::iam(&json!({
        "Version": VERSION,
        "Statement": [{
            "Sid": "EcsTasksAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": ECS_TASKS},
            "Action": "sts:AssumeRole",
        }],
    })))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// `GetSecretValue` on one secret, already in canonical form: a one-item `Resource` list
/// whose only item is a reference, so resolving it cannot change the statement's shape.
fn read_secret(secret: &str) -> (String, Value) {
    let sid = format!("Read{}Secret", capitalised(secret));
    let stmt = BTreeMap::from([
        (
            "Action".to_string(),
            Value::List(vec![Value::str("secretsmanager:GetSecretValue")]),
        ),
        ("Effect".to_string(), Value::str("Allow")),
        (
            "Resource".to_string(),
            Value::List(vec![Value::reference(
                &ResourceId::new("secret", secret),
                "arn",
            )]),
        ),
        ("Sid".to_string(), Value::str(&sid)),
    ]);
    (sid, Value::Map(stmt))
}

/// The execution role's inline policies: read exactly the secrets this env has.
fn execution_inline(spec: &Spec) -> BTreeMap<String, Value> {
    let present = |s: &str| match s {
        "docdb" => spec.docdb.is_some(),
        "redis" => spec.redis.is_some(),
        _ => false,
    };
    let statements: BTreeMap<String, Value> = DATA_SECRETS
        .iter()
        .filter(|s| present(s))
        .map(|s| read_secret(s))
        .collect();
    if statements.is_empty() {
        return BTreeMap::new();
    }
    let doc = BTreeMap::from([
        ("Statement".to_string(), Value::Map(statements)),
        ("Version".to_string(), Value::str(VERSION)),
    ]);
    BTreeMap::from([(SECRETS_POLICY.to_string(), Value::Map(doc))])
}

/// The task role's inline policies: the spec's statements, if any.
fn task_inline(app: &crate::spec::app::App) -> BTreeMap<String, Value> {
    if app.task_role_statements.is_empty() {
        return BTreeMap::new();
    }
    let statements: Vec<J> = app
        .task_role_statements
        .iter()
        .map(|s| {
            let mut m = serde_json::Map::new();
            if let Some(sid) = &s.sid {
                m.insert("Sid".into(), J::String(sid.clone()));
            }
            m.insert("Effect".into(), J::String(s.effect.clone()));
            m.insert("Action".into(), json!(s.actions));
            m.insert("Resource".into(), json!(s.resources));
            J::Object(m)
        })
        .collect();
    let doc = policy::iam(&json!({"Version": VERSION, "Statement": statements}));
    BTreeMap::from([(TASK_POLICY.to_string(), keyed(doc))])
}

fn role(
    spec: &Spec,
    name: &str,
    description: &str,
    managed: Vec<String>,
    inline: BTreeMap<String, Value>,
) -> Resource {
    let id = role_id(name);
    let suffix = ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or(name);
    let aws_name = spec.name(suffix);
    let tags = tags_for(&spec.project, &spec.env, &id, &aws_name, &spec.tags);
    let mut managed = managed;
    managed.sort();
    managed.dedup();
    Resource::new(id, aws_name.clone())
        .prop("name", Value::str(aws_name))
        .prop("description", Value::str(description))
        .prop("assume_role_policy", trust_policy())
        .prop(
            "managed_policy_arns",
            Value::List(managed.into_iter().map(Value::Str).collect()),
        )
        .prop("inline_policies", Value::Map(inline))
        .prop("tags", Value::string_map(&tags))
}

/// Spec → Desired (pure): both roles when the spec has `[app]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(app) = &spec.app else {
        return vec![];
    };
    vec![
        role(
            spec,
            EXECUTION,
            &format!(
                "rtech {}: ECS task execution role (image pull, logs, the data-tier secrets)",
                spec.env
            ),
            vec![execution_managed_policy(&spec.region)],
            execution_inline(spec),
        ),
        role(
            spec,
            TASK,
            &format!("rtech {}: the application's task role", spec.env),
            vec![],
            task_inline(app),
        ),
    ]
}

// ---- observe -------------------------------------------------------------------------------

/// The error, naming the role it was about.
fn about(id: &ResourceId, name: &str) -> impl FnOnce(AwsError) -> AwsError {
    let what = format!("{id} ({name})");
    move |mut e| {
        e.message = format!("{what}: {}", e.message);
        e
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn iam_tags(m: &BTreeMap<String, String>, op: &str) -> Result<Vec<Tag>, AwsError> {
    m.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::new(op, "InvalidTag", e.to_string()))
        })
        .collect()
}

/// Whether a role's tags say it is this env's `id`.
pub fn is_ours(tags: &BTreeMap<String, String>, project: &str, env: &str, id: &ResourceId) -> bool {
    tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID).map(String::as_str) == Some(id.to_string().as_str())
}

/// A live role in the plan's shape (pure: from what the IAM calls returned).
pub fn observed_role(
    id: ResourceId,
    role: &aws_sdk_iam::types::Role,
    managed: Vec<String>,
    inline: Vec<(String, String)>,
) -> Observed {
    let mut managed = managed;
    managed.sort();
    managed.dedup();
    let mut o = Observed::new(id, role.arn())
        .prop("name", Value::str(role.role_name()))
        .prop("description", Value::opt_str(role.description()))
        .prop(
            "assume_role_policy",
            role.assume_role_policy_document()
                .map(document_value)
                .unwrap_or(Value::Null),
        )
        .prop(
            "managed_policy_arns",
            Value::List(managed.into_iter().map(Value::Str).collect()),
        )
        .prop(
            "inline_policies",
            Value::Map(
                inline
                    .iter()
                    .map(|(n, doc)| (n.clone(), document_value(doc)))
                    .collect(),
            ),
        )
        .prop("tags", Value::string_map(&tag_map(role.tags())));
    o.attrs.insert("arn".into(), role.arn().to_string());
    o.attrs.insert("name".into(), role.role_name().to_string());
    o
}

async fn observe_role(
    ctx: &Ctx,
    id: ResourceId,
    name: String,
    wanted: bool,
) -> Result<Option<Observed>, AwsError> {
    let iam = &ctx.clients.iam;
    let role = match iam.get_role().role_name(&name).send().await {
        Ok(out) => match out.role {
            Some(r) => r,
            None => return Ok(None),
        },
        Err(e) => {
            let e = AwsError::from_sdk("iam:GetRole", e);
            if e.is("NoSuchEntity") {
                return Ok(None);
            }
            return Err(about(&id, &name)(e));
        }
    };
    if !is_ours(&tag_map(role.tags()), &ctx.project, &ctx.env, &id) {
        // Someone else's role under our name: a conflict if the spec wants it, else nothing.
        if !wanted {
            return Ok(None);
        }
        let mut o = Observed::new(id, role.arn()).prop("name", Value::str(role.role_name()));
        o.ownership = Ownership::Foreign;
        return Ok(Some(o));
    }
    let (attached, names) = tokio::try_join!(
        async {
            all_pages!(
                iam.list_attached_role_policies().role_name(&name),
                "iam:ListAttachedRolePolicies"
            )
        },
        async {
            all_pages!(
                iam.list_role_policies().role_name(&name),
                "iam:ListRolePolicies"
            )
        },
    )
    .map_err(about(&id, &name))?;
    let inline = futures::future::try_join_all(names.into_iter().map(|p| {
        let req = iam.get_role_policy().role_name(&name).policy_name(&p);
        async move {
            let out = req.send().await.map_err(aws("iam:GetRolePolicy"))?;
            Ok::<_, AwsError>((p, out.policy_document().to_string()))
        }
    }))
    .await
    .map_err(about(&id, &name))?;
    let managed = attached
        .iter()
        .filter_map(|a| a.policy_arn().map(str::to_string))
        .collect();
    Ok(Some(observed_role(id, &role, managed, inline)))
}

// ---- apply ---------------------------------------------------------------------------------

fn role_name(o: &Observed) -> String {
    o.get_str("name").map(str::to_string).unwrap_or_else(|| {
        o.physical_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

fn managed_of(props: &crate::model::Props) -> Vec<String> {
    match props.get("managed_policy_arns") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

fn inline_of(props: &crate::model::Props) -> BTreeMap<String, Value> {
    props
        .get("inline_policies")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default()
}

/// An IAM write, retried while IAM reports a concurrent change to the same entity.
async fn write<F, Fut>(f: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    retry_on(&["ConcurrentModification"], RETRY, f).await
}

async fn attach(ctx: &Ctx, name: &str, arn: &str) -> Result<(), AwsError> {
    write(|| {
        let req = ctx
            .clients
            .iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn);
        async move {
            req.send()
                .await
                .map(|_| ())
                .map_err(aws("iam:AttachRolePolicy"))
                .map_err(|mut e| {
                    e.message = format!("{arn}: {}", e.message);
                    e
                })
        }
    })
    .await
}

async fn detach(ctx: &Ctx, name: &str, arn: &str) -> Result<(), AwsError> {
    let r = write(|| {
        let req = ctx
            .clients
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn);
        async move {
            req.send()
                .await
                .map(|_| ())
                .map_err(aws("iam:DetachRolePolicy"))
        }
    })
    .await;
    match r {
        Err(e) if e.is("NoSuchEntity") => Ok(()),
        other => other,
    }
}

async fn put_policy(ctx: &Ctx, name: &str, policy: &str, doc: &Value) -> Result<(), AwsError> {
    let text = document_json(doc);
    write(|| {
        let req = ctx
            .clients
            .iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(&text);
        async move {
            req.send()
                .await
                .map(|_| ())
                .map_err(aws("iam:PutRolePolicy"))
        }
    })
    .await
}

async fn delete_policy(ctx: &Ctx, name: &str, policy: &str) -> Result<(), AwsError> {
    let r = write(|| {
        let req = ctx
            .clients
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy);
        async move {
            req.send()
                .await
                .map(|_| ())
                .map_err(aws("iam:DeleteRolePolicy"))
        }
    })
    .await;
    match r {
        Err(e) if e.is("NoSuchEntity") => Ok(()),
        other => other,
    }
}

fn attrs(arn: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("name".into(), name.to_string());
    a
}

async fn create(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let iam = &ctx.clients.iam;
    let name = r.get_str("name").unwrap_or_default();
    let trust = r
        .props
        .get("assume_role_policy")
        .map(document_json)
        .unwrap_or_default();
    let out = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .description(r.get_str("description").unwrap_or_default())
        .set_tags(Some(iam_tags(&tags_of(&r.props), "iam:CreateRole")?))
        .send()
        .await
        .map_err(aws("iam:CreateRole"))?;
    let arn = out
        .role()
        .map(|x| x.arn().to_string())
        .required("iam:CreateRole", format!("no role returned for {name}"))?;
    // IAM is eventually consistent: wait until the new role can be read before using it.
    task.status(&format!("waiting for role {name} to be visible"));
    iam.wait_until_role_exists()
        .role_name(name)
        .wait(WAIT)
        .await
        .map_err(|e| {
            AwsError::new(
                "iam:GetRole",
                "WaiterFailed",
                format!("waiting for role {name}: {e}"),
            )
        })?;
    for arn in managed_of(&r.props) {
        task.status(&format!("attaching {arn}"));
        attach(ctx, name, &arn).await?;
    }
    for (policy, doc) in inline_of(&r.props) {
        task.status(&format!("putting inline policy {policy}"));
        put_policy(ctx, name, &policy, &doc).await?;
    }
    Ok(attrs(&arn, name))
}

async fn update(
    ctx: &Ctx,
    desired: &Resource,
    prior: &Observed,
    changed: &std::collections::BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let iam = &ctx.clients.iam;
    let name = role_name(prior);
    let name = name.as_str();
    if changed.contains("assume_role_policy") {
        task.status("updating the trust policy");
        let doc = desired
            .props
            .get("assume_role_policy")
            .map(document_json)
            .unwrap_or_default();
        write(|| {
            let req = iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(&doc);
            async move {
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(aws("iam:UpdateAssumeRolePolicy"))
            }
        })
        .await?;
    }
    if changed.contains("description") {
        iam.update_role()
            .role_name(name)
            .description(desired.get_str("description").unwrap_or_default())
            .send()
            .await
            .map_err(aws("iam:UpdateRole"))?;
    }
    if changed.contains("managed_policy_arns") {
        let want = managed_of(&desired.props);
        let have = managed_of(&prior.props);
        for arn in have.iter().filter(|a| !want.contains(a)) {
            task.status(&format!("detaching {arn}"));
            detach(ctx, name, arn).await?;
        }
        for arn in want.iter().filter(|a| !have.contains(a)) {
            task.status(&format!("attaching {arn}"));
            attach(ctx, name, arn).await?;
        }
    }
    if changed.contains("inline_policies") {
        let want = inline_of(&desired.props);
        let have = inline_of(&prior.props);
        for policy in have.keys().filter(|p| !want.contains_key(*p)) {
            task.status(&format!("deleting inline policy {policy}"));
            delete_policy(ctx, name, policy).await?;
        }
        for (policy, doc) in want.iter().filter(|(p, d)| have.get(*p) != Some(*d)) {
            task.status(&format!("putting inline policy {policy}"));
            put_policy(ctx, name, policy, doc).await?;
        }
    }
    if changed.contains("tags") {
        let d = tag_delta(&tags_of(&prior.props), &tags_of(&desired.props));
        if !d.removed.is_empty() {
            iam.untag_role()
                .role_name(name)
                .set_tag_keys(Some(d.removed))
                .send()
                .await
                .map_err(aws("iam:UntagRole"))?;
        }
        if !d.set.is_empty() {
            let set: BTreeMap<String, String> = d.set.into_iter().collect();
            iam.tag_role()
                .role_name(name)
                .set_tags(Some(iam_tags(&set, "iam:TagRole")?))
                .send()
                .await
                .map_err(aws("iam:TagRole"))?;
        }
    }
    Ok(prior.attrs.clone())
}

/// Detach and delete every policy the role has now (not only what the plan saw), then the
/// role. A role already gone is fine.
async fn delete(ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
    let iam = &ctx.clients.iam;
    let name = role_name(o);
    let name = name.as_str();
    let listed = tokio::try_join!(
        async {
            all_pages!(
                iam.list_attached_role_policies().role_name(name),
                "iam:ListAttachedRolePolicies"
            )
        },
        async {
            all_pages!(
                iam.list_role_policies().role_name(name),
                "iam:ListRolePolicies"
            )
        },
    );
    let (attached, inline) = match listed {
        Ok(x) => x,
        Err(e) if e.is("NoSuchEntity") => return Ok(Attrs::new()),
        Err(e) => return Err(e),
    };
    for a in &attached {
        if let Some(arn) = a.policy_arn() {
            task.status(&format!("detaching {arn}"));
            detach(ctx, name, arn).await?;
        }
    }
    for p in &inline {
        task.status(&format!("deleting inline policy {p}"));
        delete_policy(ctx, name, p).await?;
    }
    task.status(&format!("deleting role {name}"));
    let r = retry_on(&["DeleteConflict", "ConcurrentModification"], RETRY, || {
        let req = iam.delete_role().role_name(name);
        async move { req.send().await.map(|_| ()).map_err(aws("iam:DeleteRole")) }
    })
    .await;
    match r {
        Ok(()) => Ok(Attrs::new()),
        Err(e) if e.is("NoSuchEntity") => Ok(Attrs::new()),
        Err(mut e) => {
            if e.is("DeleteConflict") {
                e.message = format!(
                    "{} (an instance profile or a policy added since may still hold role {name})",
                    e.message
                );
            }
            Err(e)
        }
    }
}

pub struct Iam;

#[async_trait]
impl Reconciler for Iam {
    fn service(&self) -> &'static str {
        "iam"
    }

    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // Both names are probed even when the spec has no [app]: destroy and a removed [app]
        // must still find the roles to delete them.
        let jobs = ROLES.iter().map(|(n, suffix)| {
            let id = role_id(n);
            let wanted = desired.iter().find(|r| r.id == id);
            let name = wanted
                .and_then(|r| r.get_str("name"))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}-{}-{suffix}", ctx.project, ctx.env));
            observe_role(ctx, id, name, wanted.is_some())
        });
        Ok(futures::future::try_join_all(jobs)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => create(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } => update(ctx, desired, prior, changed, task).await,
            Op::Delete(o) => delete(ctx, o, task).await,
        }
    }
}

#[cfg(test)]
mod tests;
