//! Policy documents compared by meaning: `model::policy::iam`'s canonical form with
//! `Statement` keyed by `Sid` (or a short hash of the statement), and the documents rtech
//! writes (the ECS trust policy, the execution role's secrets policy, the task role's policy).

use std::collections::BTreeMap;

use serde_json::{json, Value as J};
use sha2::{Digest, Sha256};

use crate::model::{policy, ResourceId, Value};
use crate::reconcile::kit::Link;
use crate::spec::Spec;

use super::{ECS_TASKS, FLOW_LOGS_POLICY, SECRETS_POLICY, TASK_POLICY, VERSION};

/// The data-tier secrets (`secret/<name>`) the execution role may read.
const DATA_SECRETS: &[&str] = &["docdb", "redis"];

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

/// The JSON text IAM is given for a (resolved) document in the props' JSON form: the keyed
/// statements become a list again.
pub fn document_text(doc: &J) -> String {
    let mut j = doc.clone();
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

/// [`document_text`] as short as IAM's grammar allows: a one-item `Action`/`Resource` list
/// (and their `Not` forms) or condition value is written as the string alone, as
/// `rtech iam-policy` prints it. IAM counts a managed policy's characters, so a document that
/// the generator fitted under the limit must reach IAM no longer than that.
pub fn compact_text(doc: &J) -> String {
    fn one(v: &mut J) {
        if let J::Array(a) = v {
            if a.len() == 1 {
                *v = a.remove(0);
            }
        }
    }
    let mut j: J = serde_json::from_str(&document_text(doc)).expect("JSON text");
    if let Some(J::Array(statements)) = j.get_mut("Statement") {
        for st in statements.iter_mut().filter_map(J::as_object_mut) {
            for k in ["Action", "NotAction", "Resource", "NotResource"] {
                if let Some(v) = st.get_mut(k) {
                    one(v);
                }
            }
            if let Some(J::Object(ops)) = st.get_mut("Condition") {
                for keys in ops.values_mut().filter_map(J::as_object_mut) {
                    keys.values_mut().for_each(one);
                }
            }
        }
    }
    j.to_string()
}

/// The JSON text IAM is given for a (resolved) document value.
#[cfg(test)]
pub fn document_json(v: &Value) -> String {
    document_text(&v.to_json())
}

/// Trusted by ECS tasks (the execution and task roles).
pub fn trust_policy() -> Value {
    trusted_by("EcsTasksAssumeRole", ECS_TASKS)
}

/// Trusted by ECS itself (the infrastructure role it shifts load balancer traffic with).
pub fn ecs_trust_policy() -> Value {
    trusted_by("EcsAssumeRole", super::ECS)
}

/// Trusted by the AWS service principal `service` only (statement `sid`).
pub fn trusted_by(sid: &str, service: &str) -> Value {
    keyed(policy::iam(&json!({
        "Version": VERSION,
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    })))
}

/// The VPC flow log role's inline policy: write log streams and events to the flow log's own
/// group and nothing else. Its `Resource` is the group's ARN and its streams (`…:*`), both
/// references in the order IAM's canonical form sorts them once resolved (`X` before `X:*`).
pub fn flow_logs_inline() -> BTreeMap<String, J> {
    let group = ResourceId::new("log_group", "vpc-flow-logs");
    let statement = json!({
        "Action": [
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ],
        "Effect": "Allow",
        "Resource": [Link::to(&group, "arn"), Link::to(&group, "streams_arn")],
        "Sid": "DeliverToTheFlowLogGroup",
    });
    let doc = json!({
        "Statement": {"DeliverToTheFlowLogGroup": statement},
        "Version": VERSION,
    });
    BTreeMap::from([(FLOW_LOGS_POLICY.to_string(), doc)])
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// `GetSecretValue` on one secret, already in canonical form: a one-item `Resource` list
/// whose only item is a reference, so resolving it cannot change the statement's shape.
fn read_secret(secret: &str) -> (String, J) {
    let sid = format!("Read{}Secret", capitalised(secret));
    let stmt = json!({
        "Action": ["secretsmanager:GetSecretValue"],
        "Effect": "Allow",
        "Resource": [Link::to(&ResourceId::new("secret", secret), "arn")],
        "Sid": sid,
    });
    (sid, stmt)
}

/// The execution role's inline policies: read exactly the secrets this env has.
pub fn execution_inline(spec: &Spec) -> BTreeMap<String, J> {
    let present = |s: &str| match s {
        "docdb" => spec.docdb.is_some(),
        "redis" => spec.redis.is_some(),
        _ => false,
    };
    let statements: serde_json::Map<String, J> = DATA_SECRETS
        .iter()
        .filter(|s| present(s))
        .map(|s| read_secret(s))
        .collect();
    if statements.is_empty() {
        return BTreeMap::new();
    }
    let doc = json!({ "Statement": statements, "Version": VERSION });
    BTreeMap::from([(SECRETS_POLICY.to_string(), doc)])
}

/// The task role's inline policies: the spec's statements, if any.
pub fn task_inline(app: &crate::spec::app::App) -> BTreeMap<String, J> {
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
    BTreeMap::from([(TASK_POLICY.to_string(), keyed(doc).to_json())])
}
