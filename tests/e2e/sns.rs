//! The alerts topic and its subscriptions against the emulator, on a temporary spec
//! with a `[monitoring]` section. Applies and plans are scoped with `--target sns_topic/alerts`
//! and the subscription's id. Every check goes through SNS's own API (the SDK).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::emulator::Emulator;
use crate::support::*;

const TOPIC: &str = "sns_topic/alerts";
const NAME: &str = "rtech-dev-alerts";
/// moto's default account.
const ARN: &str = "arn:aws:sns:us-east-1:123456789012:rtech-dev-alerts";
const EMAIL: &str = "ops@example.com";

/// `sns_subscription/<protocol>-<first 8 hex of sha256(endpoint)>` (the documented scheme).
fn sub_id(protocol: &str, endpoint: &str) -> String {
    let h = hex::encode(&Sha256::digest(endpoint.as_bytes())[..4]);
    format!("sns_subscription/{protocol}-{h}")
}

async fn topic_tags(sns: &aws_sdk_sns::Client, arn: &str) -> BTreeMap<String, String> {
    match sns.list_tags_for_resource().resource_arn(arn).send().await {
        Ok(o) => o
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// (endpoint, subscription arn, protocol) of the topic's subscriptions.
async fn subscriptions(sns: &aws_sdk_sns::Client) -> Vec<(String, String, String)> {
    sns.list_subscriptions_by_topic()
        .topic_arn(ARN)
        .send()
        .await
        .unwrap()
        .subscriptions()
        .iter()
        .map(|s| {
            (
                s.endpoint().unwrap_or_default().to_string(),
                s.subscription_arn().unwrap_or_default().to_string(),
                s.protocol().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Topics carrying our tags for env `dev`.
async fn ours(sns: &aws_sdk_sns::Client) -> Vec<String> {
    let mut out = vec![];
    for t in sns.list_topics().send().await.unwrap().topics() {
        let arn = t.topic_arn().unwrap();
        if is_ours(&topic_tags(sns, arn).await, "dev") {
            out.push(arn.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_and_email_subscription_apply_drift_repair_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("\n[monitoring]\nemails = [\"{EMAIL}\"]\n"));
    let d = dir.path();
    let sns = sns(&emu).await;
    let sub = sub_id("email", EMAIL);
    let target = ["--target", TOPIC, "--target", sub.as_str()];

    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As SNS has it.
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(ARN)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs["KmsMasterKeyId"], "alias/aws/sns");
    let tags = topic_tags(&sns, ARN).await;
    assert!(is_ours(&tags, "dev"), "{tags:?}");
    assert_eq!(tags["rtech:id"], TOPIC);
    assert_eq!(tags["Name"], NAME);
    let subs = subscriptions(&sns).await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].0, EMAIL);
    // moto confirms email subscriptions at once.
    assert_ne!(subs[0].1, "PendingConfirmation", "{subs:?}");

    // Unsubscribed out of band: a create, and apply re-subscribes.
    sns.unsubscribe()
        .subscription_arn(&subs[0].1)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    let got: Vec<(String, String)> = changes_of_kinds(&p, &["sns_topic", "sns_subscription"])
        .into_iter()
        .map(|(i, a, _)| (i, a))
        .collect();
    assert_eq!(got, vec![(sub.clone(), "create".to_string())], "{p:#}");
    apply_in(&emu, d, "dev", &target);
    assert_eq!(subscriptions(&sns).await.len(), 1);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // The KMS key changed out of band: exactly that drift, repaired.
    sns.set_topic_attributes()
        .topic_arn(ARN)
        .attribute_name("KmsMasterKeyId")
        .attribute_value("alias/other")
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        changes_of_kinds(&p, &["sns_topic", "sns_subscription"]),
        vec![(
            TOPIC.to_string(),
            "update".to_string(),
            vec!["kms_master_key_id".to_string()]
        )]
    );
    apply_in(&emu, d, "dev", &target);
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(ARN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attrs.attributes().unwrap()["KmsMasterKeyId"],
        "alias/aws/sns"
    );
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // The topic deleted out of band (its subscriptions go with it): both are creates.
    sns.delete_topic().topic_arn(ARN).send().await.unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    let mut got: Vec<(String, String)> = changes_of_kinds(&p, &["sns_topic", "sns_subscription"])
        .into_iter()
        .map(|(i, a, _)| (i, a))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (sub.clone(), "create".to_string()),
            (TOPIC.to_string(), "create".to_string()),
        ],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert!(is_ours(&topic_tags(&sns, ARN).await, "dev"));
    assert_eq!(subscriptions(&sns).await.len(), 1);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    destroy_in(&emu, d, "dev");
    assert!(ours(&sns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn same_named_topic_without_our_tags_is_a_conflict_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("\n[monitoring]\nemails = [\"{EMAIL}\"]\n"));
    let sns = sns(&emu).await;
    sns.create_topic().name(NAME).send().await.unwrap();
    assert_conflicts_left_alone_in(&emu, dir.path(), "dev", &[TOPIC], &["--target", TOPIC]);
    // Still there, untouched: no tags, no subscriptions.
    assert!(topic_tags(&sns, ARN).await.is_empty());
    assert!(subscriptions(&sns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_subscription_is_made_and_removed_with_the_spec() {
    const HOOK: &str = "https://hooks.example.com/rtech/alerts";
    let emu = Emulator::start();
    let with_hook =
        format!("\n[monitoring]\nemails = [\"{EMAIL}\"]\nhttps_endpoints = [\"{HOOK}\"]\n");
    let dir = spec_dir("dev", &with_hook);
    let d = dir.path();
    let sns = sns(&emu).await;
    let email = sub_id("email", EMAIL);
    let hook = sub_id("https", HOOK);
    let target = [
        "--target",
        TOPIC,
        "--target",
        email.as_str(),
        "--target",
        hook.as_str(),
    ];

    let p = plan_json_in(&emu, d, "dev", &target);
    let mut got: Vec<(String, String)> = changes_of_kinds(&p, &["sns_subscription"])
        .into_iter()
        .map(|(i, a, _)| (i, a))
        .collect();
    got.sort();
    let mut want = vec![
        (email.clone(), "create".to_string()),
        (hook.clone(), "create".to_string()),
    ];
    want.sort();
    assert_eq!(got, want, "{p:#}");
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    let protocols: Vec<(String, String)> = subscriptions(&sns)
        .await
        .into_iter()
        .map(|(endpoint, _, protocol)| (protocol, endpoint))
        .collect();
    assert!(
        protocols.contains(&("https".to_string(), HOOK.to_string())),
        "{protocols:?}"
    );
    assert_eq!(protocols.len(), 2, "{protocols:?}");

    // The hook leaves the spec: its subscription (and only it) is deleted.
    std::fs::write(
        d.join("dev.toml"),
        format!(
            "{}\n[monitoring]\nemails = [\"{EMAIL}\"]\n",
            spec_head("dev")
        ),
    )
    .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes_of_kinds(&p, &["sns_topic", "sns_subscription"])
            .into_iter()
            .map(|(i, a, _)| (i, a))
            .collect::<Vec<_>>(),
        vec![(hook.clone(), "delete".to_string())],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &target);
    let subs = subscriptions(&sns).await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].0, EMAIL);
}
