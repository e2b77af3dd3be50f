use super::policy::{alerts_policy, KeyPolicy};
use super::*;
use crate::model::{tags_of, Value, TAG_ID};
use crate::plan::Action;
use crate::reconcile::kit::{from_props, round_trip};
use crate::testutil::{actions, dev_spec, diff_of, get, only_update};
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyUsageType};

const ACCOUNT: &str = "123456789012";
const KEY_UUID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn with_key(window: Option<i64>) -> Spec {
    let w = window
        .map(|d| format!("deletion_window_days = {d}\n"))
        .unwrap_or_default();
    dev_spec(&format!(
        "\n[monitoring]\nemails = [\"ops@example.com\"]\n[monitoring.alerts_key]\n{w}"
    ))
}

fn key_arn() -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_UUID}")
}

fn meta(state: KeyState) -> KeyMetadata {
    KeyMetadata::builder()
        .key_id(KEY_UUID)
        .arn(key_arn())
        .description("rtech-dev-alerts: encrypts the alerts topic")
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .enabled(state == KeyState::Enabled)
        .key_state(state)
        .build()
        .unwrap()
}

/// The wanted policy as KMS returns it: rendered for the account, statements in another order,
/// one-item lists as plain strings, pretty-printed.
fn live_policy_text() -> String {
    let rendered: serde_json::Value =
        serde_json::from_str(&alerts_policy().render(ACCOUNT, "aws")).unwrap();
    let mut statements = rendered["Statement"].as_array().unwrap().clone();
    statements.reverse();
    for s in &mut statements {
        let o = s.as_object_mut().unwrap();
        for k in ["Resource", "Action"] {
            if let Some(serde_json::Value::Array(a)) = o.get(k).cloned() {
                if a.len() == 1 {
                    o.insert(k.into(), a[0].clone());
                }
            }
        }
    }
    serde_json::to_string_pretty(&serde_json::json!({
        "Statement": statements,
        "Version": "2012-10-17",
    }))
    .unwrap()
}

fn live(desired: &[Resource]) -> Vec<Observed> {
    let key = get(desired, "kms_key/alerts");
    vec![
        key::observed(
            key_id(),
            &meta(KeyState::Enabled),
            &live_policy_text(),
            true,
            tags_of(&key.props),
        ),
        alias::observed(
            "alias/rtech-dev-alerts",
            &format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/rtech-dev-alerts"),
            KEY_UUID,
        ),
    ]
}

/// The desired resources with the alias's reference to the key resolved from `observed`.
fn resolved(desired: &[Resource]) -> Vec<Resource> {
    desired
        .iter()
        .map(|r| {
            crate::testutil::resolved_with(r, &|x| {
                (x.resource == key_id()).then(|| match x.attr.as_str() {
                    "arn" => key_arn(),
                    _ => KEY_UUID.to_string(),
                })
            })
        })
        .collect()
}

#[test]
fn no_alerts_key_table_no_key_and_the_topic_keeps_the_aws_managed_key() {
    let s = dev_spec("\n[monitoring]\nemails = [\"ops@example.com\"]\n");
    assert!(expand(&s).is_empty());
    let topic = crate::reconcile::sns::expand(&s);
    assert_eq!(topic[0].get_str("kms_master_key_id"), Some("alias/aws/sns"));
}

#[test]
fn expand_key_alias_and_the_topic_references_the_key_arn() {
    let s = with_key(None);
    let rs = expand(&s);
    assert_eq!(
        rs.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
        ["kms_key/alerts", "kms_alias/alerts"]
    );
    let key: key::KeyProps = from_props(&rs[0].props).unwrap();
    assert_eq!(rs[0].name, "rtech-dev-alerts");
    assert!(key.rotation && key.enabled);
    assert_eq!(key.key_spec, "SYMMETRIC_DEFAULT");
    assert_eq!(key.tags[TAG_ID], "kms_key/alerts");
    assert_eq!(key.tags[TAG_DELETION_WINDOW], "30");
    assert_eq!(key.policy, alerts_policy());
    let alias = &rs[1];
    assert_eq!(alias.get_str("name"), Some("alias/rtech-dev-alerts"));
    assert_eq!(
        alias.props["target_key_id"],
        Value::reference(&key_id(), "key_id")
    );
    assert!(alias.deps.contains(&key_id()));
    let topic = &crate::reconcile::sns::expand(&s)[0];
    assert_eq!(
        topic.props["kms_master_key_id"],
        Value::reference(&key_id(), "arn")
    );
    assert!(topic.deps.contains(&key_id()));
    for r in &rs {
        let k = Kms.kinds().iter().find(|k| k.schema().kind == r.id.kind);
        assert_eq!(k.unwrap().round_trip(&r.props).unwrap(), r.props);
    }
    assert_eq!(
        tags_of(&expand(&with_key(Some(7)))[0].props)[TAG_DELETION_WINDOW],
        "7"
    );
}

#[test]
fn no_topic_no_key() {
    let s = dev_spec(
        "\n[monitoring]\nalarms_enabled = false\n[monitoring.alerts_key]\ndeletion_window_days = 7\n",
    );
    assert!(!crate::reconcile::sns::wanted(&s));
    assert!(expand(&s).is_empty());
}

#[test]
fn policy_grants_the_account_and_the_four_publishers() {
    let doc: serde_json::Value =
        serde_json::from_str(&alerts_policy().render(ACCOUNT, "aws")).unwrap();
    let st = doc["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 5);
    let by_sid = |sid: &str| st.iter().find(|s| s["Sid"] == sid).unwrap().clone();
    let root = by_sid("AccountAdministersTheKey");
    assert_eq!(
        root["Principal"]["AWS"],
        serde_json::json!([format!("arn:aws:iam::{ACCOUNT}:root")])
    );
    assert_eq!(root["Action"], serde_json::json!(["kms:*"]));
    for (sid, service, source_account) in policy::PUBLISHERS {
        let s = by_sid(sid);
        assert_eq!(s["Principal"]["Service"], serde_json::json!([service]));
        assert_eq!(
            s["Action"],
            serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey*"])
        );
        let cond = &s["Condition"]["StringEquals"]["aws:SourceAccount"];
        if *source_account {
            assert_eq!(cond, &serde_json::json!([ACCOUNT]), "{sid}");
        } else {
            assert!(cond.is_null(), "{sid}");
        }
    }
    assert!(!doc.to_string().contains("{account}"));
    assert!(!doc.to_string().contains("{partition}"));
}

#[test]
fn policy_reads_back_as_written_whatever_the_order_and_list_forms() {
    let got = KeyPolicy::from_live(&live_policy_text(), ACCOUNT, "aws");
    assert_eq!(got, alerts_policy());
    // A bare account id as the principal is the account's root, as KMS reads it.
    let bare = live_policy_text().replace(&format!("arn:aws:iam::{ACCOUNT}:root"), ACCOUNT);
    let got = KeyPolicy::from_live(&bare, ACCOUNT, "aws");
    let root = got
        .statements
        .iter()
        .find(|s| s.sid == "AccountAdministersTheKey")
        .unwrap();
    assert_eq!(root.principals["AWS"], ["{account}"]);
    // Another account is never taken for ours.
    let other = live_policy_text().replace(ACCOUNT, "999999999999");
    assert_ne!(
        KeyPolicy::from_live(&other, ACCOUNT, "aws"),
        alerts_policy()
    );
    // Not JSON: a policy that differs, not a panic.
    assert_ne!(
        KeyPolicy::from_live("nope", ACCOUNT, "aws"),
        alerts_policy()
    );
}

#[test]
fn live_key_and_alias_as_aws_returns_them_is_no_change() {
    let desired = resolved(&expand(&with_key(None)));
    let observed = live(&desired);
    assert_eq!(observed[0].attrs["arn"], key_arn());
    assert_eq!(observed[0].physical_id, KEY_UUID);
    let p = diff_of("dev", &desired, &observed, false);
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
}

#[test]
fn rotation_off_and_a_policy_changed_out_of_band_are_exactly_that_drift() {
    let desired = resolved(&expand(&with_key(None)));
    let mut observed = live(&desired);
    let mut doc: serde_json::Value = serde_json::from_str(&live_policy_text()).unwrap();
    // Someone removed the ElastiCache statement and disabled rotation.
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "ElastiCachePublish");
    let tags = tags_of(&desired[0].props);
    observed[0] = key::observed(
        key_id(),
        &meta(KeyState::Enabled),
        &doc.to_string(),
        false,
        tags,
    );
    let p = diff_of("dev", &desired, &observed, false);
    assert_eq!(only_update(&p), ["policy", "rotation"]);
}

#[test]
fn a_disabled_key_is_drift_and_the_deletion_window_is_a_tag() {
    let desired = resolved(&expand(&with_key(Some(7))));
    let mut observed = live(&desired);
    let mut tags = tags_of(&desired[0].props);
    tags.insert(TAG_DELETION_WINDOW.into(), "30".into());
    observed[0] = key::observed(
        key_id(),
        &meta(KeyState::Disabled),
        &live_policy_text(),
        true,
        tags,
    );
    let p = diff_of("dev", &desired, &observed, false);
    assert_eq!(only_update(&p), ["enabled", "tags"]);
    assert_eq!(key::deletion_window(&observed[0]), 30);
    assert_eq!(key::deletion_window(&live(&desired)[0]), 7);
}

#[test]
fn key_gone_is_a_create_and_the_alias_follows_it() {
    let desired = expand(&with_key(None));
    let observed = vec![live(&resolved(&desired)).remove(1)];
    let p = diff_of("dev", &desired, &observed, false);
    assert_eq!(
        actions(&p),
        [
            ("kms_key/alerts".to_string(), Action::Create),
            ("kms_alias/alerts".to_string(), Action::Update),
        ]
    );
}

#[test]
fn a_foreign_alias_of_our_name_is_a_conflict() {
    let desired = expand(&with_key(None));
    let mut foreign = Observed::new(alias_id(), "alias/rtech-dev-alerts");
    foreign.ownership = Ownership::Foreign;
    let p = crate::testutil::try_diff("dev", &desired, &[foreign], false);
    let conflicts = match p {
        Ok(p) => p.conflicts,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].id, alias_id());
}

#[test]
fn destroy_deletes_the_alias_before_the_key() {
    let desired = resolved(&expand(&with_key(None)));
    let observed = live(&desired);
    let p = diff_of("dev", &[], &observed, true);
    assert_eq!(
        actions(&p),
        [
            ("kms_alias/alerts".to_string(), Action::Delete),
            ("kms_key/alerts".to_string(), Action::Delete),
        ]
    );
}

#[test]
fn round_trip_of_observed_props() {
    let desired = resolved(&expand(&with_key(None)));
    let observed = live(&desired);
    assert_eq!(
        round_trip::<key::KeyProps>(&observed[0].props).unwrap(),
        observed[0].props
    );
    assert_eq!(
        round_trip::<alias::AliasProps>(&observed[1].props).unwrap(),
        observed[1].props
    );
}

#[test]
fn key_arn_parts_and_alias_name() {
    assert_eq!(key_arn_parts(&key_arn()), Some(("us-east-1", KEY_UUID)));
    assert_eq!(key_arn_parts("arn:aws:kms:us-east-1:1:alias/x"), None);
    assert_eq!(key_arn_parts("arn:aws:sns:us-east-1:1:key/x"), None);
    assert_eq!(alias_name("rtech", "prod"), "alias/rtech-prod-alerts");
    assert_eq!(
        key::arn_parts(&key_arn()),
        ("aws".to_string(), ACCOUNT.to_string())
    );
}

#[test]
fn only_a_create_key_that_may_have_run_is_looked_for_and_retried() {
    use crate::aws::AwsError;
    for code in [
        "EndpointUnreachable",
        "Timeout",
        "InternalError",
        "KMSInternalException",
    ] {
        assert!(
            key::maybe_ran(&AwsError::new("kms:CreateKey", code, "")),
            "{code}"
        );
    }
    for code in [
        "MalformedPolicyDocumentException",
        "LimitExceededException",
        "TagException",
        "AccessDeniedException",
        "ThrottlingException",
    ] {
        assert!(
            !key::maybe_ran(&AwsError::new("kms:CreateKey", code, "")),
            "{code}"
        );
    }
}

#[test]
fn the_alias_arn_sits_beside_the_arn_of_the_key_it_names() {
    assert_eq!(
        alias_arn(
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/rtech-prod-alerts"
        ),
        "arn:aws:kms:eu-west-1:123456789012:alias/rtech-prod-alerts"
    );
    // A key id without an ARN (never answered by DescribeKey, but not a panic): the name.
    assert_eq!(
        alias_arn("1234abcd", "alias/rtech-prod-alerts"),
        "alias/rtech-prod-alerts"
    );
}
