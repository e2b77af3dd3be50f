//! The alerts topic's customer managed key (`[monitoring.alerts_key]`) against the emulator, on
//! a temporary dev spec: the key, its alias and the topic that uses it, scoped with `--target`.
//! Every check goes through KMS's and SNS's own APIs (the SDK).

use std::collections::BTreeMap;

use aws_sdk_kms::types::KeyState;

use crate::emulator::Emulator;
use crate::support::*;

const KEY: &str = "kms_key/alerts";
const ALIAS: &str = "kms_alias/alerts";
const TOPIC: &str = "sns_topic/alerts";
const ALIAS_NAME: &str = "alias/rtech-dev-alerts";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:rtech-dev-alerts";
const TARGETS: &[&str] = &["--target", KEY, "--target", ALIAS, "--target", TOPIC];

fn spec() -> tempfile::TempDir {
    spec_dir(
        "dev",
        "\n[monitoring]\nemails = [\"ops@example.com\"]\n[monitoring.alerts_key]\ndeletion_window_days = 7\n",
    )
}

async fn key_tags(kms: &aws_sdk_kms::Client, key: &str) -> BTreeMap<String, String> {
    match kms.list_resource_tags().key_id(key).send().await {
        Ok(o) => o
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// (key id, state) of every key carrying our tags for env `dev`.
async fn our_keys(kms: &aws_sdk_kms::Client) -> Vec<(String, KeyState)> {
    let mut out = vec![];
    for k in kms.list_keys().send().await.unwrap().keys() {
        let id = k.key_id().unwrap();
        if !is_ours(&key_tags(kms, id).await, "dev") {
            continue;
        }
        let meta = kms.describe_key().key_id(id).send().await.unwrap();
        let meta = meta.key_metadata().unwrap();
        out.push((id.to_string(), meta.key_state().unwrap().clone()));
    }
    out
}

/// Our keys that are not pending deletion.
async fn live_keys(kms: &aws_sdk_kms::Client) -> Vec<String> {
    our_keys(kms)
        .await
        .into_iter()
        .filter(|(_, s)| *s != KeyState::PendingDeletion)
        .map(|(id, _)| id)
        .collect()
}

/// The key the alias names, if the alias exists.
async fn alias_target(kms: &aws_sdk_kms::Client) -> Option<String> {
    kms.list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(ALIAS_NAME))
        .and_then(|a| a.target_key_id().map(str::to_string))
}

async fn topic_key(sns: &aws_sdk_sns::Client) -> String {
    let a = sns
        .get_topic_attributes()
        .topic_arn(TOPIC_ARN)
        .send()
        .await
        .unwrap();
    a.attributes()
        .and_then(|m| m.get("KmsMasterKeyId").cloned())
        .unwrap_or_default()
}

/// The top-level props a change of `id` changes.
fn changed(plan: &serde_json::Value, id: &str) -> Vec<String> {
    let c = change_of(plan, id).unwrap_or_else(|| panic!("no change of {id}: {plan:#}"));
    let mut out: Vec<String> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f["path"].as_str().unwrap();
            p.split('.').next().unwrap().to_string()
        })
        .collect();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn key_alias_and_topic_apply_drift_repair_recreate_and_destroy() {
    let emu = Emulator::start();
    let dir = spec();
    let d = dir.path();
    let kms = kms(&emu).await;
    let sns = sns(&emu).await;

    apply_in(&emu, d, "dev", TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", TARGETS));

    // As KMS has it: one key, enabled, rotating, the alias on it, the topic encrypted with it.
    let keys = live_keys(&kms).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = keys[0].clone();
    assert_eq!(alias_target(&kms).await.as_deref(), Some(key.as_str()));
    let meta = kms.describe_key().key_id(&key).send().await.unwrap();
    let meta = meta.key_metadata().unwrap().clone();
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(topic_key(&sns).await, meta.arn().unwrap());
    let rotation = kms.get_key_rotation_status().key_id(&key).send().await;
    assert!(rotation.unwrap().key_rotation_enabled());
    assert_eq!(
        key_tags(&kms, &key).await["rtech:deletion-window-days"],
        "7"
    );
    let policy = kms
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let text = policy.to_string();
    for p in [
        "arn:aws:iam::123456789012:root",
        "cloudwatch.amazonaws.com",
        "events.rds.amazonaws.com",
        "backup.amazonaws.com",
        "elasticache.amazonaws.com",
    ] {
        assert!(text.contains(p), "{p} not in {policy:#}");
    }

    // Out of band: rotation off and the ElastiCache statement removed. Exactly that drift.
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let mut edited = policy.clone();
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "ElastiCachePublish");
    kms.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(edited.to_string())
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", TARGETS);
    assert_eq!(changes(&p), [(KEY.to_string(), "update".to_string())]);
    assert_eq!(changed(&p, KEY), ["policy", "rotation"]);
    apply_in(&emu, d, "dev", TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", TARGETS));
    let rotation = kms.get_key_rotation_status().key_id(&key).send().await;
    assert!(rotation.unwrap().key_rotation_enabled());

    // Out of band: the key scheduled for deletion. Gone for rtech: a create, and the alias and
    // the topic follow the new key.
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", TARGETS);
    let got = changes(&p);
    assert!(
        got.contains(&(KEY.to_string(), "create".to_string())),
        "{got:?}"
    );
    apply_in(&emu, d, "dev", TARGETS);
    assert_no_changes(&plan_json_in(&emu, d, "dev", TARGETS));
    let keys = live_keys(&kms).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0], key, "a new key");
    assert_eq!(alias_target(&kms).await.as_deref(), Some(keys[0].as_str()));
    let meta = kms.describe_key().key_id(&keys[0]).send().await.unwrap();
    assert_eq!(
        topic_key(&sns).await,
        meta.key_metadata().unwrap().arn().unwrap()
    );

    // Destroy: no key of ours left that is not pending deletion, its window the spec's 7 days;
    // the alias gone.
    let new_key = keys[0].clone();
    destroy_in(&emu, d, "dev");
    assert!(live_keys(&kms).await.is_empty());
    assert_eq!(alias_target(&kms).await, None);
    let meta = kms.describe_key().key_id(&new_key).send().await.unwrap();
    let meta = meta.key_metadata().unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::PendingDeletion));
    let days = (meta.deletion_date().unwrap().secs()
        - aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs())
        as f64
        / 86_400.0;
    assert!((6.9..=7.1).contains(&days), "deletion in {days:.2} days");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_of_our_name_on_a_foreign_key_is_a_conflict_and_never_touched() {
    foreign_alias_is_left_alone(None).await;
}

/// The alias is read by DescribeKey on its name: a key whose policy refuses us that read
/// (AccessDenied) is someone else's, and its alias a conflict, not an error.
#[tokio::test(flavor = "multi_thread")]
async fn an_alias_of_our_name_on_a_key_we_may_not_describe_is_a_conflict_and_never_touched() {
    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "NobodyElseDescribes",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:DescribeKey",
            "Resource": "*"
        }]
    });
    foreign_alias_is_left_alone(Some(deny.to_string())).await;
}

/// An alias of our name on someone else's key (with `policy`, when given): plan and apply
/// show the conflict, and neither the alias nor the key changes.
async fn foreign_alias_is_left_alone(policy: Option<String>) {
    let emu = Emulator::start();
    let dir = spec();
    let kms = kms(&emu).await;
    let foreign = kms
        .create_key()
        .description("someone else's")
        .set_policy(policy.clone())
        .send()
        .await
        .unwrap();
    let foreign = foreign.key_metadata().unwrap().key_id().to_string();
    kms.create_alias()
        .alias_name(ALIAS_NAME)
        .target_key_id(&foreign)
        .send()
        .await
        .unwrap();
    if policy.is_some() {
        let refused = kms.describe_key().key_id(ALIAS_NAME).send().await;
        assert!(
            format!("{:?}", refused.unwrap_err()).contains("AccessDenied"),
            "the key's policy refuses DescribeKey"
        );
    }

    assert_conflicts_left_alone_in(&emu, dir.path(), "dev", &[ALIAS], TARGETS);

    assert_eq!(alias_target(&kms).await.as_deref(), Some(foreign.as_str()));
    if policy.is_none() {
        let meta = kms.describe_key().key_id(&foreign).send().await.unwrap();
        assert_eq!(
            meta.key_metadata().unwrap().key_state(),
            Some(&KeyState::Enabled)
        );
    }
    assert!(
        our_keys(&kms).await.is_empty(),
        "apply refused: no key made"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_create_key_and_create_alias_responses_converge_in_one_apply_without_a_duplicate() {
    let emu = Emulator::start();
    let dir = spec();
    let d = dir.path();
    let kms = kms(&emu).await;
    let proxy = FaultProxy::start(&emu, &["--lose-first", "CreateKey,CreateAlias"]);

    let mut c = assert_cmd::Command::from_std(proxy.rtech(&emu));
    c.arg("--envs-dir").arg(d).arg("-v");
    let r = apply_with(c, "dev", TARGETS);
    let stats = proxy.stats();
    println!(
        "lost: {}, retried: {}",
        stats["faults"]["lost"],
        retried(&r.stderr)
    );
    assert_eq!(
        stats["lost_operations"]["CreateKey"], 1,
        "the CreateKey response was lost: {stats:#}"
    );
    // Sent once: the lost answer was not retried blindly (that would make a second key).
    assert_eq!(stats["mutating_operations"]["CreateKey"], 1, "{stats:#}");
    // CreateAlias's SDK retry meets the alias its first attempt made, naming our key: adopted.
    assert_eq!(
        stats["lost_operations"]["CreateAlias"], 1,
        "the CreateAlias response was lost: {stats:#}"
    );
    assert_no_changes(&plan_json_in(&emu, d, "dev", TARGETS));
    let keys = our_keys(&kms).await;
    assert_eq!(keys.len(), 1, "one key, no duplicate: {keys:?}");
    assert_eq!(
        alias_target(&kms).await.as_deref(),
        Some(keys[0].0.as_str())
    );
}
