//! The alerts key's policy, typed: a [`KeyPolicy`] is what expand wants and what observe reads
//! back from GetKeyPolicy, in one canonical form, so that two documents KMS treats alike
//! compare equal (statement order, a single item written as a string or a one-item list, key
//! order and whitespace do not matter).
//!
//! Expand is pure and knows no account: the account and the partition are the tokens
//! `{account}` and `{partition}` ([`ACCOUNT`], [`PARTITION`]), as in `rtech iam-policy`'s
//! templates. [`KeyPolicy::render`] fills them in for PutKeyPolicy and CreateKey;
//! [`KeyPolicy::from_live`] puts them back where the live document names the key's own
//! account (the root principal, a bare account id, an `aws:SourceAccount` value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};

pub const ACCOUNT: &str = "{account}";
pub const PARTITION: &str = "{partition}";
/// The only policy name KMS has.
pub const POLICY_NAME: &str = "default";
const VERSION: &str = "2012-10-17";

/// What an event publisher needs to publish to a topic encrypted with the key.
pub const PUBLISH_ACTIONS: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey*"];

/// The service principals that publish to the alerts topic, and whether their statement is
/// limited to the key's account (`aws:SourceAccount`, for the publishers AWS documents it for).
pub const PUBLISHERS: &[(&str, &str, bool)] = &[
    ("CloudWatchAlarmsPublish", "cloudwatch.amazonaws.com", false),
    (
        "RdsEventSubscriptionsPublish",
        "events.rds.amazonaws.com",
        true,
    ),
    ("BackupPublish", "backup.amazonaws.com", true),
    ("ElastiCachePublish", "elasticache.amazonaws.com", false),
];

/// A key policy in canonical form: statements sorted, every list sorted and de-duplicated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPolicy {
    pub version: String,
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// `Sid`, empty when the statement has none.
    pub sid: String,
    pub effect: String,
    /// Principal type (`AWS`, `Service`) → principals; `"Principal": "*"` is `AWS: ["*"]`.
    pub principals: BTreeMap<String, Vec<String>>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Operator → condition key → values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Any other element (`NotAction`, `NotPrincipal`, …) as its JSON text: kept, so that it
    /// shows as drift, never silently dropped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

/// `arn:{partition}:iam::{account}:root`.
pub fn account_root() -> String {
    format!("arn:{PARTITION}:iam::{ACCOUNT}:root")
}

/// The alerts key's policy: the account administers the key through IAM (`kms:*` for its
/// root, as KMS's default policy has it), and each of [`PUBLISHERS`] may use it to publish.
pub fn alerts_policy() -> KeyPolicy {
    let mut statements = vec![Statement {
        sid: "AccountAdministersTheKey".into(),
        effect: "Allow".into(),
        principals: BTreeMap::from([("AWS".into(), vec![account_root()])]),
        actions: vec!["kms:*".into()],
        resources: vec!["*".into()],
        conditions: BTreeMap::new(),
        other: BTreeMap::new(),
    }];
    for (sid, service, source_account) in PUBLISHERS {
        let mut conditions = BTreeMap::new();
        if *source_account {
            conditions.insert(
                "StringEquals".to_string(),
                BTreeMap::from([("aws:SourceAccount".to_string(), vec![ACCOUNT.to_string()])]),
            );
        }
        statements.push(Statement {
            sid: sid.to_string(),
            effect: "Allow".into(),
            principals: BTreeMap::from([("Service".into(), vec![service.to_string()])]),
            actions: PUBLISH_ACTIONS.iter().map(|a| a.to_string()).collect(),
            resources: vec!["*".into()],
            conditions,
            other: BTreeMap::new(),
        });
    }
    KeyPolicy::canonical(VERSION.into(), statements)
}

/// `"x"` or `["x", …]` (or a number or boolean, as condition values may be) → a sorted,
/// de-duplicated list of strings, each passed through `f`.
fn strings(v: &J, f: &dyn Fn(&str) -> String) -> Vec<String> {
    let one = |j: &J| match j {
        J::String(s) => f(s),
        other => f(&other.to_string()),
    };
    let mut out: Vec<String> = match v {
        J::Array(a) => a.iter().map(one).collect(),
        other => vec![one(other)],
    };
    out.sort();
    out.dedup();
    out
}

impl KeyPolicy {
    fn canonical(version: String, mut statements: Vec<Statement>) -> KeyPolicy {
        statements.sort();
        statements.dedup();
        KeyPolicy {
            version,
            statements,
        }
    }

    /// The live document (GetKeyPolicy's text) of a key in `account` and `partition`, in
    /// canonical form with the account and partition as tokens. Text that is not a JSON object
    /// reads as one statement holding it under `other`, which differs from any wanted policy.
    pub fn from_live(text: &str, account: &str, partition: &str) -> KeyPolicy {
        let root = format!("arn:{partition}:iam::{account}:root");
        let tokens = |s: &str| -> String {
            if s == account {
                ACCOUNT.to_string()
            } else if s == root {
                account_root()
            } else {
                s.to_string()
            }
        };
        let plain = |s: &str| s.to_string();
        let doc = match serde_json::from_str::<J>(text) {
            Ok(J::Object(o)) => o,
            _ => {
                return KeyPolicy::canonical(
                    String::new(),
                    vec![Statement {
                        other: BTreeMap::from([("document".into(), text.to_string())]),
                        ..Statement::default()
                    }],
                )
            }
        };
        let version = doc
            .get("Version")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        let raw = match doc.get("Statement") {
            Some(J::Array(a)) => a.clone(),
            Some(one) => vec![one.clone()],
            None => vec![],
        };
        let statements = raw
            .iter()
            .map(|s| {
                let mut st = Statement::default();
                let Some(obj) = s.as_object() else {
                    st.other.insert("statement".into(), s.to_string());
                    return st;
                };
                for (k, v) in obj {
                    match (k.as_str(), v) {
                        ("Sid", J::String(s)) => st.sid = s.clone(),
                        ("Effect", J::String(s)) => st.effect = s.clone(),
                        ("Principal", J::String(s)) => {
                            st.principals.insert("AWS".into(), vec![tokens(s)]);
                        }
                        ("Principal", J::Object(p)) => {
                            for (t, who) in p {
                                st.principals.insert(t.clone(), strings(who, &tokens));
                            }
                        }
                        ("Action", v) => st.actions = strings(v, &plain),
                        ("Resource", v) => st.resources = strings(v, &plain),
                        ("Condition", J::Object(ops)) if ops.values().all(J::is_object) => {
                            for (op, keys) in ops {
                                let keys = keys.as_object().into_iter().flatten();
                                st.conditions.insert(
                                    op.clone(),
                                    keys.map(|(k, v)| (k.clone(), strings(v, &tokens)))
                                        .collect(),
                                );
                            }
                        }
                        (k, v) => {
                            st.other.insert(k.to_string(), v.to_string());
                        }
                    }
                }
                st
            })
            .collect();
        KeyPolicy::canonical(version, statements)
    }

    /// The document for KMS, the tokens filled in for `account` and `partition`.
    pub fn render(&self, account: &str, partition: &str) -> String {
        let fill = |s: &str| s.replace(ACCOUNT, account).replace(PARTITION, partition);
        let list = |l: &[String]| J::Array(l.iter().map(|s| J::String(fill(s))).collect());
        let statements: Vec<J> = self
            .statements
            .iter()
            .map(|s| {
                let mut o = serde_json::Map::new();
                if !s.sid.is_empty() {
                    o.insert("Sid".into(), J::String(s.sid.clone()));
                }
                o.insert("Effect".into(), J::String(s.effect.clone()));
                if !s.principals.is_empty() {
                    o.insert(
                        "Principal".into(),
                        J::Object(
                            s.principals
                                .iter()
                                .map(|(k, v)| (k.clone(), list(v)))
                                .collect(),
                        ),
                    );
                }
                o.insert("Action".into(), list(&s.actions));
                o.insert("Resource".into(), list(&s.resources));
                if !s.conditions.is_empty() {
                    o.insert(
                        "Condition".into(),
                        J::Object(
                            s.conditions
                                .iter()
                                .map(|(op, keys)| {
                                    (
                                        op.clone(),
                                        J::Object(
                                            keys.iter()
                                                .map(|(k, v)| (k.clone(), list(v)))
                                                .collect(),
                                        ),
                                    )
                                })
                                .collect(),
                        ),
                    );
                }
                for (k, v) in &s.other {
                    o.insert(
                        k.clone(),
                        serde_json::from_str(v).unwrap_or(J::String(v.clone())),
                    );
                }
                J::Object(o)
            })
            .collect();
        json!({"Version": self.version, "Statement": statements}).to_string()
    }
}
