use super::*;
use crate::model::{tags_of, Value, TAG_ID};
use crate::reconcile::kit::is_ours;
use crate::testutil::{dev_spec, diff_of};
use aws_sdk_sns::types::Subscription as SnsSubscription;

fn with_subs() -> Spec {
    dev_spec("\n[monitoring]\nemails = [\"ops@example.com\", \"oncall@example.com\"]\nhttps_endpoints = [\"https://hooks.example.com/x\"]\n")
}

const ARN: &str = "arn:aws:sns:us-east-1:123456789012:rtech-dev-alerts";

fn live_topic(desired: &[Resource], kms: Option<&str>) -> Observed {
    let mut attrs = BTreeMap::new();
    attrs.insert("TopicArn".to_string(), ARN.to_string());
    if let Some(k) = kms {
        attrs.insert("KmsMasterKeyId".to_string(), k.to_string());
    }
    observed_topic(ARN, "rtech-dev-alerts", &attrs, &tags_of(&desired[0].props))
}

fn live_sub(protocol: &str, endpoint: &str, arn: &str) -> Observed {
    observed_subscription(
        &SnsSubscription::builder()
            .protocol(protocol)
            .endpoint(endpoint)
            .subscription_arn(arn)
            .topic_arn(ARN)
            .build(),
    )
    .unwrap()
}

#[test]
fn expand_topic_and_one_subscription_per_endpoint() {
    let rs = expand(&with_subs());
    assert_eq!(rs.len(), 4);
    let t = &rs[0];
    assert_eq!(t.id.to_string(), "sns_topic/alerts");
    assert_eq!(t.get_str("name"), Some("rtech-dev-alerts"));
    assert_eq!(t.get_str("kms_master_key_id"), Some("alias/aws/sns"));
    let tags = tags_of(&t.props);
    assert_eq!(tags[TAG_ID], "sns_topic/alerts");
    assert_eq!(tags["Name"], "rtech-dev-alerts");
    let subs: Vec<_> = rs[1..].iter().collect();
    for s in &subs {
        assert_eq!(s.props["topic_arn"], Value::reference(&topic_id(), "arn"));
        assert!(s.deps.contains(&topic_id()));
        let p = s.get_str("protocol").unwrap();
        let e = s.get_str("endpoint").unwrap();
        assert_eq!(s.id, subscription_id(p, e));
    }
    let got: BTreeSet<(&str, &str)> = subs
        .iter()
        .map(|s| {
            (
                s.get_str("protocol").unwrap(),
                s.get_str("endpoint").unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(&str, &str)> = [
        ("email", "ops@example.com"),
        ("email", "oncall@example.com"),
        ("https", "https://hooks.example.com/x"),
    ]
    .into();
    assert_eq!(got, want);
}

#[test]
fn subscription_ids_are_stable_per_endpoint() {
    let a = subscription_id("email", "ops@example.com");
    assert_eq!(a, subscription_id("email", "ops@example.com"));
    assert!(
        a.name.starts_with("email-") && a.name.len() == "email-".len() + 8,
        "{a}"
    );
    assert_ne!(a, subscription_id("email", "oncall@example.com"));
    assert_ne!(subscription_id("email", "x"), subscription_id("https", "x"));
    // Reordering the list keeps every id.
    let one = expand(&dev_spec(
        "\n[monitoring]\nemails = [\"a@x.io\", \"b@x.io\"]\n",
    ));
    let two = expand(&dev_spec(
        "\n[monitoring]\nemails = [\"b@x.io\", \"a@x.io\"]\n",
    ));
    let ids = |rs: &[Resource]| rs.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>();
    assert_eq!(ids(&one), ids(&two));
    // A duplicate endpoint is one subscription.
    assert_eq!(
        expand(&dev_spec(
            "\n[monitoring]\nemails = [\"a@x.io\", \"a@x.io\"]\n"
        ))
        .len(),
        2
    );
}

#[test]
fn no_alarms_no_subscriptions_no_topic() {
    let mut s = dev_spec("");
    assert!(!s.monitoring.alarms.is_empty(), "default alarms");
    assert_eq!(expand(&s).len(), 1, "alarms alone want the topic");
    s.monitoring.alarms.clear();
    assert!(expand(&s).is_empty());
    s.monitoring
        .https_endpoints
        .push("https://h.example.com".into());
    assert_eq!(expand(&s).len(), 2);
}

#[test]
fn normalisation_topic_as_aws_returns_it_is_no_change_and_kms_drift_is_one_field() {
    let desired = expand(&with_subs());
    let mut observed = vec![live_topic(&desired, Some("alias/aws/sns"))];
    for r in &desired[1..] {
        observed.push(live_sub(
            r.get_str("protocol").unwrap(),
            r.get_str("endpoint").unwrap(),
            &format!("{ARN}:{}", r.id.name),
        ));
    }
    assert_eq!(observed[0].attrs["arn"], ARN);
    assert_eq!(observed[0].attrs["name"], "rtech-dev-alerts");
    assert!(diff_of("dev", &desired, &observed, false)
        .changes
        .is_empty());

    for kms in [None, Some(""), Some("alias/other")] {
        observed[0] = live_topic(&desired, kms);
        let p = diff_of("dev", &desired, &observed, false);
        assert_eq!(p.changes.len(), 1, "{kms:?}");
        let f = &p.changes[0].fields;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path, "kms_master_key_id");
        assert_eq!(f[0].after, Some(Value::str(KMS_KEY)));
    }
}

#[test]
fn subscription_diff_missing_is_create_extra_is_delete() {
    let desired = expand(&with_subs());
    let topic = live_topic(&desired, Some(KMS_KEY));
    // ops@ removed out of band; a stale endpoint still subscribed.
    let observed = vec![
        topic,
        live_sub("email", "oncall@example.com", &format!("{ARN}:1")),
        live_sub("https", "https://hooks.example.com/x", &format!("{ARN}:2")),
        live_sub("email", "old@example.com", &format!("{ARN}:3")),
    ];
    let p = diff_of("dev", &desired, &observed, false);
    let mut got: Vec<(String, String)> = p
        .changes
        .iter()
        .map(|c| (c.id.to_string(), format!("{:?}", c.action).to_lowercase()))
        .collect();
    got.sort();
    let mut want = vec![
        (
            subscription_id("email", "ops@example.com").to_string(),
            "create".to_string(),
        ),
        (
            subscription_id("email", "old@example.com").to_string(),
            "delete".to_string(),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn ownership_needs_project_env_and_id() {
    let desired = expand(&with_subs());
    let tags = tags_of(&desired[0].props);
    assert!(is_ours(&tags, "rtech", "dev", &topic_id()));
    assert!(!is_ours(&tags, "rtech", "prod", &topic_id()));
    assert!(!is_ours(&tags, "other", "dev", &topic_id()));
    let mut other = tags.clone();
    other.insert(TAG_ID.into(), "sns_topic/other".into());
    assert!(!is_ours(&other, "rtech", "dev", &topic_id()));
    assert!(!is_ours(&BTreeMap::new(), "rtech", "dev", &topic_id()));
}

#[test]
fn pending_lists_unconfirmed_endpoints_only() {
    let observed = vec![
        live_topic(&expand(&with_subs()), Some(KMS_KEY)),
        live_sub("email", "ops@example.com", PENDING),
        live_sub("email", "oncall@example.com", &format!("{ARN}:1")),
        live_sub("https", "https://hooks.example.com/x", PENDING),
    ];
    assert_eq!(
        pending(&observed),
        vec!["ops@example.com", "https://hooks.example.com/…"]
    );
    assert!(pending(&observed[..1]).is_empty());
    // No SubscriptionArn at all counts as pending.
    let none = observed_subscription(
        &SnsSubscription::builder()
            .protocol("email")
            .endpoint("z@x.io")
            .build(),
    )
    .unwrap();
    assert_eq!(none.physical_id, PENDING);
    assert_eq!(pending(&[none]), vec!["z@x.io"]);
}

#[test]
fn derived_arn_and_not_found_codes() {
    assert_eq!(
        topic_arn("us-east-1", "123456789012", "rtech-dev-alerts"),
        ARN
    );
    assert!(AwsError::new("sns:GetTopicAttributes", "NotFound", "x").is_not_found());
    assert!(!AwsError::new("sns:GetTopicAttributes", "AuthorizationError", "x").is_not_found());
}

#[test]
fn an_https_endpoint_is_sensitive_and_shown_by_its_host_only() {
    let key = "a1b2c3d4e5f6";
    let url = format!("https://events.pagerduty.com/integration/{key}/enqueue");
    let rs = expand(&dev_spec(&format!(
        "\n[monitoring]\nhttps_endpoints = [\"{url}\"]\nemails = [\"ops@example.com\"]\n"
    )));
    let hook = rs
        .iter()
        .find(|r| r.id == subscription_id("https", &url))
        .unwrap();
    assert!(hook.masked.contains("endpoint") && hook.sensitive.is_empty());
    assert_eq!(hook.name, "https://events.pagerduty.com/…");
    let mail = rs
        .iter()
        .find(|r| r.id == subscription_id("email", "ops@example.com"))
        .unwrap();
    assert!(mail.masked.is_empty());
    assert_eq!(mail.name, "ops@example.com");

    // Neither the plan text nor its JSON carries the key.
    let p = diff_of("dev", &rs, &[], false);
    let text = crate::plan::render::text(
        &p,
        crate::plan::render::Style { color: false },
        "envs/dev.toml",
    );
    let json = crate::plan::render::json(&p).to_string();
    assert!(!text.contains(key) && !json.contains(key), "{text}");
    assert!(text.contains("https://events.pagerduty.com/…"), "{text}");

    assert_eq!(
        shown_endpoint("https", "https://h.example.com"),
        "https://h.example.com"
    );
    for with_credentials in [
        "https://user:secret@h.example.com",
        "https://user:p#ss@h.example.com/x",
        "https://user:p/ss@h.example.com",
    ] {
        assert_eq!(shown_endpoint("https", with_credentials), "https://…");
    }
    assert_eq!(
        shown_endpoint("https", "https://h.example.com?token=x"),
        "https://h.example.com/…"
    );
}

#[test]
fn a_saved_plan_keeps_the_webhook_for_apply_but_never_shows_it() {
    let url = "https://hooks.example.com/services/KEY999";
    let rs = expand(&dev_spec(&format!(
        "\n[monitoring]\nhttps_endpoints = [\"{url}\"]\n"
    )));
    let p = diff_of("dev", &rs, &[], false);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev.plan");
    crate::plan::saved::write(&file, &p).unwrap();
    let back = crate::plan::saved::read(&file).unwrap();
    let c = back
        .changes
        .iter()
        .find(|c| c.id == subscription_id("https", url))
        .unwrap();
    // Apply needs the URL (a spec input, not a generated secret) …
    assert_eq!(
        c.desired.as_ref().unwrap().props["endpoint"],
        Value::str(url)
    );
    // … and `rtech show` never prints it.
    let text = crate::plan::render::text(
        &back,
        crate::plan::render::Style { color: false },
        "envs/dev.toml",
    );
    assert!(!text.contains("KEY999"), "{text}");
    assert!(!crate::plan::render::json(&back)
        .to_string()
        .contains("KEY999"));
}
