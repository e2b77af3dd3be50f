//! IAM end to end, on temporary env specs with `[redis]` (for a real secret ARN), `[ecr]` and
//! `[app]`: the ECS task execution and task roles. Applies and plans are scoped with
//! `--target iam_role/execution --target iam_role/task` (which takes their dependencies, the
//! Redis secret, along): the rest of the container platform is not this module's concern.
//! Every check of live state goes through the IAM API itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value as J};

use crate::emulator::Emulator;
use crate::support::*;

const EXECUTION: &str = "rtech-dev-ecs-execution";
const TASK: &str = "rtech-dev-ecs-task";
const MANAGED: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const TARGETS: &[&str] = &[
    "--target",
    "iam_role/execution",
    "--target",
    "iam_role/task",
];

/// The image repository and the app, with one statement for the task role; with a small
/// Redis (`DEV_REDIS`: its secret is what the execution role may read).
const APP: &str = r#"
[ecr]
force_delete = true

[app]

[[app.task_role_statements]]
sid = "ReadUploads"
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::rtech-dev-uploads/*"]
"#;

fn apply_roles(emu: &Emulator, dir: &Path) -> Run {
    apply_in(emu, dir, "dev", TARGETS)
}

/// The roles' plan as JSON (with changes: exit 2).
fn plan_roles(emu: &Emulator, dir: &Path) -> J {
    plan_json_in(emu, dir, "dev", TARGETS)
}

fn roles_plan_is_empty(emu: &Emulator, dir: &Path) {
    assert_plan_empty_in(emu, dir, "dev", TARGETS);
}

/// The fields of the only change, which must be `id`'s `action`.
fn only_change(p: &J, id: &str, action: &str) -> Vec<J> {
    assert_eq!(
        changes(p),
        [(id.to_string(), action.to_string())],
        "{:#}",
        p["changes"]
    );
    p["changes"][0]["fields"].as_array().unwrap().clone()
}

/// What IAM has for a role: None when there is no such role.
struct Live {
    arn: String,
    tags: BTreeMap<String, String>,
    trust: J,
    managed: Vec<String>,
    inline: BTreeMap<String, J>,
}

fn decode(s: &str) -> J {
    let text = if s.trim_start().starts_with('{') {
        s.to_string()
    } else {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    serde_json::from_str(&text).unwrap()
}

async fn live(iam: &aws_sdk_iam::Client, name: &str) -> Option<Live> {
    let role = match iam.get_role().role_name(name).send().await {
        Ok(o) => o.role.unwrap(),
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|s| s.meta().code())
                .map(str::to_string);
            assert_eq!(code.as_deref(), Some("NoSuchEntity"), "{e:?}");
            return None;
        }
    };
    let managed = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .map(|p| p.policy_arn().unwrap().to_string())
        .collect();
    let mut inline = BTreeMap::new();
    for p in iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .policy_names()
    {
        let doc = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .unwrap();
        inline.insert(p.clone(), decode(doc.policy_document()));
    }
    Some(Live {
        arn: role.arn().to_string(),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        trust: decode(role.assume_role_policy_document().unwrap()),
        managed,
        inline,
    })
}

/// Statements of a document, always as a list.
fn statements(doc: &J) -> Vec<J> {
    match &doc["Statement"] {
        J::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// A one-or-many field as a list of strings.
fn strings(v: &J) -> Vec<String> {
    match v {
        J::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        J::String(s) => vec![s.clone()],
        other => panic!("not a string or list: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_from_empty_then_drift_repaired_and_destroyed() {
    let emu = Emulator::start();
    let iam = iam(&emu).await;
    let dir = spec_dir("dev", &format!("{DEV_REDIS}{APP}"));

    // From empty: both roles (and the secret they need) are created.
    let first = plan_roles(&emu, dir.path());
    let ch = changes(&first);
    for id in ["iam_role/execution", "iam_role/task", "secret/redis"] {
        assert!(ch.contains(&(id.into(), "create".into())), "{ch:?}");
    }
    let r = apply_roles(&emu, dir.path());
    assert!(
        r.stderr.contains("iam_role/execution: created"),
        "{}",
        r.stderr
    );
    roles_plan_is_empty(&emu, dir.path());

    // The execution role: ECS may assume it, the managed policy, and exactly the secret.
    let secret = secret_arn(&emu, "rtech/dev/redis").await;
    let ex = live(&iam, EXECUTION).await.expect("the execution role");
    assert!(
        ex.arn.ends_with(":role/rtech-dev-ecs-execution"),
        "{}",
        ex.arn
    );
    let trust = statements(&ex.trust);
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Effect"], "Allow");
    assert_eq!(
        strings(&trust[0]["Principal"]["Service"]),
        ["ecs-tasks.amazonaws.com"]
    );
    assert_eq!(strings(&trust[0]["Action"]), ["sts:AssumeRole"]);
    assert_eq!(ex.managed, [MANAGED]);
    assert_eq!(ex.inline.keys().collect::<Vec<_>>(), ["rtech-secrets"]);
    let sts = statements(&ex.inline["rtech-secrets"]);
    assert_eq!(
        sts.len(),
        1,
        "only the Redis secret: the env has no DocumentDB"
    );
    assert_eq!(sts[0]["Effect"], "Allow");
    assert_eq!(
        strings(&sts[0]["Action"]),
        ["secretsmanager:GetSecretValue"]
    );
    assert_eq!(
        strings(&sts[0]["Resource"]),
        [secret.as_str()],
        "nothing wider"
    );
    assert_eq!(ex.tags["rtech:project"], "rtech");
    assert_eq!(ex.tags["rtech:env"], "dev");
    assert_eq!(ex.tags["rtech:id"], "iam_role/execution");
    assert_eq!(ex.tags["Name"], EXECUTION);
    assert_eq!(ex.tags["Environment"], "test");

    // The task role: no managed policy, only the spec's statement.
    let task = live(&iam, TASK).await.expect("the task role");
    assert!(task.managed.is_empty());
    assert_eq!(task.inline.keys().collect::<Vec<_>>(), ["rtech-app"]);
    let sts = statements(&task.inline["rtech-app"]);
    assert_eq!(sts.len(), 1);
    assert_eq!(sts[0]["Sid"], "ReadUploads");
    assert_eq!(strings(&sts[0]["Action"]), ["s3:GetObject"]);
    assert_eq!(
        strings(&sts[0]["Resource"]),
        ["arn:aws:s3:::rtech-dev-uploads/*"]
    );
    assert_eq!(task.tags["rtech:id"], "iam_role/task");

    // An extra statement in the execution role's inline policy, added out of band (written
    // as IAM users do: single strings, statements in another order): exactly that drift.
    let mut doc = ex.inline["rtech-secrets"].clone();
    doc["Statement"] = J::Array(vec![
        json!({"Sid": "Wider", "Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}),
        sts_single(&secret),
    ]);
    iam.put_role_policy()
        .role_name(EXECUTION)
        .policy_name("rtech-secrets")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
    let p = plan_roles(&emu, dir.path());
    let fields = only_change(&p, "iam_role/execution", "update");
    let paths: Vec<&str> = fields.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(!paths.is_empty());
    for f in &fields {
        assert!(
            f["path"]
                .as_str()
                .unwrap()
                .starts_with("inline_policies.rtech-secrets.Statement.Wider."),
            "{paths:?}"
        );
        assert!(f["after"].is_null(), "{f}");
    }
    assert!(paths.contains(&"inline_policies.rtech-secrets.Statement.Wider.Action"));
    apply_roles(&emu, dir.path());
    roles_plan_is_empty(&emu, dir.path());
    let ex = live(&iam, EXECUTION).await.unwrap();
    let sts = statements(&ex.inline["rtech-secrets"]);
    assert_eq!(sts.len(), 1, "the extra statement is gone: {sts:?}");
    assert_eq!(strings(&sts[0]["Resource"]), [secret.as_str()]);

    // The managed policy detached out of band: shown, and attached again.
    iam.detach_role_policy()
        .role_name(EXECUTION)
        .policy_arn(MANAGED)
        .send()
        .await
        .unwrap();
    let p = plan_roles(&emu, dir.path());
    let fields = only_change(&p, "iam_role/execution", "update");
    assert_eq!(fields.len(), 1, "{fields:#?}");
    assert_eq!(fields[0]["path"], "managed_policy_arns");
    assert_eq!(fields[0]["before"], json!([]));
    assert_eq!(fields[0]["after"], json!([MANAGED]));
    apply_roles(&emu, dir.path());
    roles_plan_is_empty(&emu, dir.path());
    assert_eq!(live(&iam, EXECUTION).await.unwrap().managed, [MANAGED]);

    // On the task role: a policy attached, an inline policy added and a tag changed out of
    // band; all shown, all undone.
    iam.attach_role_policy()
        .role_name(TASK)
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(TASK)
        .policy_name("debug")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.tag_role()
        .role_name(TASK)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("Environment")
                .value("hacked")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let p = plan_roles(&emu, dir.path());
    let fields = only_change(&p, "iam_role/task", "update");
    let props: std::collections::BTreeSet<&str> = fields
        .iter()
        .map(|f| f["path"].as_str().unwrap().split('.').next().unwrap())
        .collect();
    assert_eq!(
        props.into_iter().collect::<Vec<_>>(),
        ["inline_policies", "managed_policy_arns", "tags"],
        "{fields:#?}"
    );
    assert!(fields.iter().any(|f| f["path"] == "tags.Environment"
        && f["before"] == "hacked"
        && f["after"] == "test"));
    assert!(fields
        .iter()
        .all(|f| f["path"] != "inline_policies.rtech-app"
            && !f["path"]
                .as_str()
                .unwrap()
                .starts_with("inline_policies.rtech-app.")));
    apply_roles(&emu, dir.path());
    roles_plan_is_empty(&emu, dir.path());
    let task = live(&iam, TASK).await.unwrap();
    assert!(task.managed.is_empty(), "{:?}", task.managed);
    assert_eq!(task.inline.keys().collect::<Vec<_>>(), ["rtech-app"]);
    assert_eq!(task.tags["Environment"], "test");

    // The task role deleted out of band: planned as a create, and created again.
    iam.delete_role_policy()
        .role_name(TASK)
        .policy_name("rtech-app")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name(TASK).send().await.unwrap();
    let p = plan_roles(&emu, dir.path());
    only_change(&p, "iam_role/task", "create");
    apply_roles(&emu, dir.path());
    roles_plan_is_empty(&emu, dir.path());
    assert!(live(&iam, TASK).await.is_some());

    // Destroy: no role of ours is left (an attached and an inline policy do not stop it).
    let r = destroy_in(&emu, dir.path(), "dev");
    assert!(
        r.stderr.contains("iam_role/execution: destroyed"),
        "{}",
        r.stderr
    );
    assert!(live(&iam, EXECUTION).await.is_none());
    assert!(live(&iam, TASK).await.is_none());
    let left: Vec<String> = iam
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .filter(|n| n.starts_with("rtech-dev-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// rtech's own statement for the secret, written by hand the way a person would.
fn sts_single(secret: &str) -> J {
    json!({"Resource": secret, "Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Sid": "ReadRedisSecret"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_role_without_our_tags_is_a_conflict_and_never_touched() {
    let emu = Emulator::start();
    let iam = iam(&emu).await;
    let dir = spec_dir("dev", &format!("{DEV_REDIS}{APP}"));

    // Someone else's role under the execution role's name, trusted by EC2, with an inline
    // policy and a tag of its own.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(EXECUTION)
        .assume_role_policy_document(trust.to_string())
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("data")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(EXECUTION)
        .policy_name("theirs")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let before = live(&iam, EXECUTION).await.unwrap();

    // The plan reports the conflict (and blocks); apply refuses and changes nothing.
    let r = run(rtech_in(&emu, dir.path())
        .args(["plan", "--env", "dev", "--json"])
        .args(TARGETS));
    assert_ne!(
        r.code, 0,
        "a conflict blocks the plan:\n{}\n{}",
        r.stdout, r.stderr
    );
    let p: J = serde_json::from_str(&r.stdout).unwrap();
    let conflicts = p["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    assert_eq!(conflicts[0]["id"], "iam_role/execution");
    assert_eq!(conflicts[0]["physical_id"], before.arn.as_str());
    assert!(
        !changes(&p).iter().any(|(id, _)| id == "iam_role/execution"),
        "{:?}",
        changes(&p)
    );
    let r = run(rtech_in(&emu, dir.path())
        .args(["apply", "--env", "dev", "--auto-approve"])
        .args(TARGETS));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("iam_role/execution"), "{}", r.stderr);

    // Destroy does not take it either.
    destroy_in(&emu, dir.path(), "dev");
    let after = live(&iam, EXECUTION)
        .await
        .expect("their role is still there");
    assert_eq!(after.arn, before.arn);
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.trust, before.trust);
    assert!(after.managed.is_empty());
    assert_eq!(after.inline, before.inline);
    assert!(
        live(&iam, TASK).await.is_none(),
        "apply refused: nothing was created"
    );
}
