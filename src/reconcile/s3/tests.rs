//! S3 log buckets: expansion (with and without each bucket, names, the policy per region),
//! what observe makes of S3's answers (through the real diff), the error mapping, the guard,
//! and the requests apply sends.

use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Transition,
};
use serde::Serialize;
use serde_json::json;

use super::bucket::*;
use super::config::*;
use super::policy::*;
use super::*;
use crate::model::{
    policy, tags_of, Observed, Ownership, Resource, Value, TAG_ENV, TAG_ID, TAG_PROJECT,
};
use crate::plan::{Action, Change, Plan};
use crate::reconcile::force_delete;
use crate::reconcile::kit::{from_props, to_props};
use crate::testutil::{diff_of, parse_as, tag};

const ACCT: &str = "123456789012";

fn spec_with(sections: &str) -> Spec {
    spec_in("us-east-1", sections)
}

fn spec_in(region: &str, sections: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"{region}\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[ecr]\n[app]\n{sections}"
    );
    parse_as("dev", &text)
}

const ALB: &str = "[edge]\n[edge.alb]\naccess_logs = true\naccess_logs_expire_days = 30\n";
const BOTH: &str = "[edge]\n[edge.alb]\naccess_logs = true\n[edge.cloudfront]\nlogging = true\nlogs_expire_days = 14\n";

/// A typed piece of the props as the plan holds it.
fn v<T: Serialize>(t: &T) -> Value {
    Value::Map(to_props(t))
}

fn ids(rs: &[Resource]) -> Vec<String> {
    rs.iter().map(|r| r.id.to_string()).collect()
}

// --- expand ------------------------------------------------------------------------------------

#[test]
fn no_logging_no_bucket() {
    assert!(expand(&spec_with("")).is_empty(), "no [edge]");
    assert!(
        expand(&spec_with("[edge]\n")).is_empty(),
        "logging is off by default"
    );
    assert!(
        expand(&spec_with("[edge]\n[edge.cloudfront]\n")).is_empty(),
        "CloudFront without logging"
    );
    assert!(expand(&spec_with(
        "[edge]\n[edge.alb]\naccess_logs = false\n[edge.cloudfront]\nlogging = false\n"
    ))
    .is_empty());
}

#[test]
fn alb_access_logs_give_the_alb_log_bucket() {
    let rs = expand(&spec_with(ALB));
    assert_eq!(ids(&rs), ["s3_bucket/alb-logs"]);
    let r = &rs[0];
    assert_eq!(r.name, "rtech-dev-us-east-1-alb-logs");
    assert_eq!(r.get_str("name"), Some("rtech-dev-us-east-1-alb-logs"));
    assert_eq!(r.get_str("encryption"), Some("AES256"));
    assert_eq!(
        r.props["public_access_block"],
        v(&public_access_block(true))
    );
    assert_eq!(r.props["lifecycle"], v(&lifecycle(30)));
    assert_eq!(r.get_str("object_ownership"), Some("BucketOwnerEnforced"));
    assert_eq!(tag(r, TAG_ID), Some("s3_bucket/alb-logs"));
    assert_eq!(tag(r, TAG_PROJECT), Some("rtech"));
    assert_eq!(tag(r, TAG_ENV), Some("dev"));
    assert_eq!(tag(r, TAG_FORCE_DELETE), Some("false"), "the default");
    assert!(r.deps.is_empty());
    // What the ALB references resolves to this bucket.
    let all = crate::reconcile::expand(&spec_with(ALB));
    let lb = all
        .iter()
        .find(|r| r.id == crate::reconcile::elb::alb::load_balancer_id())
        .unwrap();
    assert!(lb.deps.contains(&bucket_id(ALB_LOGS)));
}

#[test]
fn cloudfront_logging_gives_the_cf_log_bucket_with_acls_allowed() {
    let rs = expand(&spec_with(
        "[edge]\n[edge.cloudfront]\nlogging = true\nlogs_expire_days = 14\n",
    ));
    assert_eq!(ids(&rs), ["s3_bucket/cf-logs"]);
    let r = &rs[0];
    assert_eq!(r.get_str("name"), Some("rtech-dev-us-east-1-cf-logs"));
    assert_eq!(r.get_str("object_ownership"), Some("BucketOwnerPreferred"));
    assert_eq!(r.props["lifecycle"], v(&lifecycle(14)));
    assert_eq!(r.props["policy"], Value::Null, "no bucket policy");
}

#[test]
fn both_buckets_and_the_force_delete_flag() {
    let rs = expand(&spec_with(BOTH));
    assert_eq!(ids(&rs), ["s3_bucket/alb-logs", "s3_bucket/cf-logs"]);
    assert_eq!(
        rs[0].props["lifecycle"],
        v(&lifecycle(90)),
        "the default expiry"
    );
    let forced = expand(&spec_with(
        "[edge]\nlog_buckets_force_delete = true\n[edge.alb]\naccess_logs = true\n[edge.cloudfront]\nlogging = true\n",
    ));
    assert!(forced
        .iter()
        .all(|r| tag(r, TAG_FORCE_DELETE) == Some("true")));
}

#[test]
fn bucket_names_fit_s3_and_are_shortened_stably() {
    assert_eq!(
        bucket_name("rtech", "dev", "us-east-1", ALB_LOGS),
        "rtech-dev-us-east-1-alb-logs"
    );
    // Only lowercase letters, digits and hyphens.
    assert_eq!(
        bucket_name("rtech", "QA_2", "eu-west-1", CF_LOGS),
        "rtech-qa-2-eu-west-1-cf-logs"
    );
    let long_env = "a-very-long-environment-name-for-testing";
    let a = bucket_name("rtech", long_env, "ap-southeast-2", ALB_LOGS);
    let b = bucket_name("rtech", long_env, "ap-southeast-2", CF_LOGS);
    assert!(a.len() <= NAME_MAX && b.len() <= NAME_MAX, "{a} {b}");
    assert_ne!(a, b, "same prefix, different names");
    assert_eq!(
        a,
        bucket_name("rtech", long_env, "ap-southeast-2", ALB_LOGS)
    );
    assert!(a.starts_with("rtech-a-very-long-environment-name"), "{a}");
    let hash = a.rsplit('-').next().unwrap();
    assert_eq!(hash.len(), 8, "{a}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    for n in [&a, &b] {
        assert!(!n.contains("--"), "{n}");
        assert!(n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert!(n.len() >= 3);
    }
}

#[test]
fn arn_and_domain_name() {
    let o = observed_bucket(
        bucket_id(CF_LOGS),
        "us-east-1",
        "b",
        &BTreeMap::new(),
        false,
        None,
        None,
    );
    assert_eq!(o.attrs["arn"], "arn:aws:s3:::b");
    assert_eq!(o.attrs["domain_name"], "b.s3.amazonaws.com");
    assert_eq!(o.attrs["name"], "b");
    // Read only for a delete or replace (`Kind::data_held`): not known, not claimed.
    assert!(!o.attrs.contains_key("has_objects"));
    assert_eq!(bucket_arn("cn-north-1", "b"), "arn:aws-cn:s3:::b");
}

fn elb_statement(region: &str) -> serde_json::Value {
    let p = bucket_policy(ALB_LOGS, region, "b").unwrap();
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ElbLogDelivery")
        .cloned()
        .unwrap()
}

#[test]
fn the_log_delivery_principal_follows_the_region() {
    let s = elb_statement("us-east-1");
    assert_eq!(
        s["Principal"],
        json!({"AWS": "arn:aws:iam::127311923021:root"})
    );
    assert_eq!(s["Action"], "s3:PutObject");
    assert_eq!(s["Resource"], "arn:aws:s3:::b/AWSLogs/<account>/*");
    assert_eq!(
        elb_statement("eu-west-1")["Principal"],
        json!({"AWS": "arn:aws:iam::156460612806:root"})
    );
    // Regions opened since August 2022 have no ELB account: the service principal.
    for region in ["ap-south-2", "eu-central-2", "il-central-1", "ca-west-1"] {
        assert_eq!(
            elb_statement(region)["Principal"],
            json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
            "{region}"
        );
    }
    assert_eq!(
        elb_statement("cn-north-1")["Principal"],
        json!({"AWS": "arn:aws-cn:iam::638102146993:root"})
    );
    assert_eq!(
        elb_statement("us-gov-west-1")["Principal"],
        json!({"AWS": "arn:aws-us-gov:iam::048591011584:root"})
    );
    // The expanded bucket carries the region's policy.
    let r = &expand(&spec_in("eu-west-1", ALB))[0];
    assert_eq!(r.get_str("name"), Some("rtech-dev-eu-west-1-alb-logs"));
    let p = r.props["policy"].to_json().to_string();
    assert!(p.contains("156460612806"), "{p}");
}

// --- observe + diff ----------------------------------------------------------------------------

/// The policy as S3 hands back what apply sent: the account filled in, other key order,
/// single items unwrapped.
fn live_policy(name: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Resource":"arn:aws:s3:::{name}/AWSLogs/{ACCT}/*","Action":"s3:PutObject","Principal":{{"AWS":"arn:aws:iam::127311923021:root"}},"Effect":"Allow","Sid":"ElbLogDelivery"}}
        ]}}"#
    )
}

fn expire_rule(id: &str, days: i32) -> LifecycleRule {
    LifecycleRule::builder()
        .id(id)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .status(ExpirationStatus::Enabled)
        .expiration(LifecycleExpiration::builder().days(days).build())
        .build()
        .unwrap()
}

/// The alb-logs bucket's configuration as S3 returns it after apply.
fn live_config(name: &str) -> Config {
    Config {
        encryption: Some(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .bucket_key_enabled(false)
                        .build(),
                )
                .build()
                .unwrap(),
        ),
        public_access_block: Some(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        ),
        lifecycle: Some(vec![expire_rule(LIFECYCLE_RULE, 30)]),
        ownership: Some(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        ),
        policy: Some(live_policy(name)),
    }
}

fn observed_alb(config: &Config, has_objects: bool) -> (Vec<Resource>, Observed) {
    let desired = expand(&spec_with(ALB));
    let name = desired[0].name.clone();
    let tags = tags_of(&desired[0].props);
    let o = observed_bucket(
        bucket_id(ALB_LOGS),
        "us-east-1",
        &name,
        &tags,
        has_objects,
        Some(config),
        Some(ACCT),
    );
    (desired, o)
}

fn fields(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .flat_map(|c| c.fields.iter().map(|f| f.path.clone()))
        .collect()
}

#[test]
fn a_bucket_as_s3_returns_it_is_no_change() {
    let name = "rtech-dev-us-east-1-alb-logs";
    let (desired, o) = observed_alb(&live_config(name), false);
    let plan = diff_of("dev", &desired, std::slice::from_ref(&o), false);
    assert!(plan.changes.is_empty(), "{:?}", fields(&plan));
    assert_eq!(o.physical_id, name);
    assert_eq!(o.attrs["arn"], format!("arn:aws:s3:::{name}"));
    assert_eq!(o.attrs["domain_name"], format!("{name}.s3.amazonaws.com"));
    assert_eq!(o.ownership, Ownership::Owned);
}

#[test]
fn each_drift_is_exactly_that_field() {
    let name = "rtech-dev-us-east-1-alb-logs";
    let check = |f: &dyn Fn(&mut Config), want: &[&str]| {
        let mut c = live_config(name);
        f(&mut c);
        let (desired, o) = observed_alb(&c, false);
        let plan = diff_of("dev", &desired, &[o], false);
        assert_eq!(fields(&plan), want);
        assert!(plan.changes.iter().all(|c| c.action == Action::Update));
    };
    check(
        &|c| c.lifecycle = Some(vec![expire_rule(LIFECYCLE_RULE, 7)]),
        &["lifecycle.rtech-expire-logs.expiration_days"],
    );
    check(
        &|c| c.public_access_block = None,
        &[
            "public_access_block.block_public_acls",
            "public_access_block.block_public_policy",
            "public_access_block.ignore_public_acls",
            "public_access_block.restrict_public_buckets",
        ],
    );
    check(
        &|c| {
            c.public_access_block = Some(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(false)
                    .restrict_public_buckets(true)
                    .build(),
            )
        },
        &["public_access_block.block_public_policy"],
    );
    check(&|c| c.encryption = None, &["encryption"]);
    check(&|c| c.ownership = None, &["object_ownership"]);
    check(
        &|c| c.lifecycle = None,
        &[
            "lifecycle.rtech-expire-logs.expiration_days",
            "lifecycle.rtech-expire-logs.status",
        ],
    );
    // Someone else's rule is drift too (apply replaces the set).
    check(
        &|c| {
            c.lifecycle = Some(vec![
                expire_rule(LIFECYCLE_RULE, 30),
                LifecycleRule::builder()
                    .id("archive")
                    .filter(LifecycleRuleFilter::builder().prefix("old/").build())
                    .status(ExpirationStatus::Enabled)
                    .transitions(Transition::builder().days(30).build())
                    .build()
                    .unwrap(),
            ])
        },
        &[
            "lifecycle.archive.other_actions",
            "lifecycle.archive.prefix",
            "lifecycle.archive.status",
        ],
    );
    check(
        &|c| c.policy = None,
        &["policy.Statement", "policy.Version"],
    );
    // A policy for another account's logs is a difference of meaning.
    check(
        &|c| c.policy = Some(live_policy(name).replace(ACCT, "999999999999")),
        &["policy.Statement"],
    );
}

#[test]
fn a_removed_tag_is_that_tag() {
    let name = "rtech-dev-us-east-1-alb-logs";
    let (desired, mut o) = observed_alb(&live_config(name), false);
    let mut tags = tags_of(&o.props);
    tags.remove("Name");
    o.props.insert("tags".into(), Value::string_map(&tags));
    let plan = diff_of("dev", &desired, &[o], false);
    assert_eq!(fields(&plan), ["tags.Name"]);
}

#[test]
fn the_policy_is_compared_by_meaning_with_the_account_as_a_placeholder() {
    let name = "b";
    let want = policy::iam(&bucket_policy(ALB_LOGS, "us-east-1", name).unwrap());
    assert_eq!(bucket_policy(CF_LOGS, "us-east-1", name), None);
    assert_eq!(policy_value(Some(&live_policy(name)), Some(ACCT)), want);
    // Without knowing the account, the live account stays and differs.
    assert_ne!(policy_value(Some(&live_policy(name)), None), want);
    assert_eq!(policy_value(None, Some(ACCT)), Value::Null);
    assert_eq!(policy_value(Some("not json"), None), Value::str("not json"));
    // What apply sends: the account filled in, and S3 reading it back compares equal.
    let text = policy_text(&want.to_json(), ACCT);
    assert!(!text.contains(ACCOUNT), "{text}");
    assert!(
        text.contains(&format!("arn:aws:s3:::b/AWSLogs/{ACCT}/*")),
        "{text}"
    );
    assert_eq!(policy_value(Some(&text), Some(ACCT)), want);
}

#[test]
fn a_bucket_the_spec_no_longer_wants_is_read_by_name_and_tags_only_and_deleted() {
    let desired = expand(&spec_with(ALB));
    let o = observed_bucket(
        bucket_id(ALB_LOGS),
        "us-east-1",
        "rtech-dev-us-east-1-alb-logs",
        &tags_of(&desired[0].props),
        false,
        None,
        None,
    );
    assert_eq!(
        o.props.keys().collect::<Vec<_>>(),
        ["name", "tags"],
        "no config read for a delete"
    );
    let plan = diff_of("dev", &[], &[o], true);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Delete);
    assert_eq!(
        guard(&plan.changes[0]),
        None,
        "empty: deleted without the flag"
    );
}

// --- error mapping -----------------------------------------------------------------------------

fn err(code: &str) -> AwsError {
    AwsError::new("s3:GetBucketSomething", code, "injected")
}

#[test]
fn not_configured_errors_read_as_absent() {
    for code in NOT_CONFIGURED {
        assert_eq!(
            classify::<()>(Err(err(code))).unwrap(),
            Read::NotConfigured,
            "{code}"
        );
    }
    assert_eq!(
        classify::<()>(Err(err("NoSuchBucket"))).unwrap(),
        Read::NoBucket
    );
    assert_eq!(classify(Ok(3)).unwrap(), Read::Found(3));
    let e = classify::<()>(Err(err("InternalError"))).unwrap_err();
    assert_eq!(
        (e.op.as_str(), e.code.as_str()),
        ("s3:GetBucketSomething", "InternalError")
    );
}

#[test]
fn the_tag_probe_tells_absent_foreign_and_ours_apart() {
    assert_eq!(probe(Err(err("NoSuchBucket"))).unwrap(), Probe::Absent);
    // Someone else's bucket (AWS answers 403), or one in another region.
    for code in ["AccessDenied", "AllAccessDisabled", "PermanentRedirect"] {
        assert_eq!(probe(Err(err(code))).unwrap(), Probe::Unreadable, "{code}");
    }
    // A bucket without tags: readable, and not ours.
    let Probe::Tags(t) = probe(Err(err("NoSuchTagSet"))).unwrap() else {
        panic!("tags");
    };
    assert!(t.is_empty());
    assert!(!owned(&t, "rtech", "dev", &bucket_id(ALB_LOGS)));
    let tags = vec![
        Tag::builder()
            .key(TAG_PROJECT)
            .value("rtech")
            .build()
            .unwrap(),
        Tag::builder().key(TAG_ENV).value("dev").build().unwrap(),
        Tag::builder()
            .key(TAG_ID)
            .value("s3_bucket/alb-logs")
            .build()
            .unwrap(),
        Tag::builder()
            .key("aws:cloudformation:stack-name")
            .value("x")
            .build()
            .unwrap(),
    ];
    let Probe::Tags(t) = probe(Ok(tags)).unwrap() else {
        panic!("tags");
    };
    assert!(!t.contains_key("aws:cloudformation:stack-name"));
    assert!(owned(&t, "rtech", "dev", &bucket_id(ALB_LOGS)));
    assert!(
        !owned(&t, "rtech", "prod", &bucket_id(ALB_LOGS)),
        "another env's"
    );
    assert!(
        !owned(&t, "rtech", "dev", &bucket_id(CF_LOGS)),
        "claims another id"
    );
    assert!(probe(Err(err("SlowDown"))).is_err());
}

// --- guard -------------------------------------------------------------------------------------

fn delete_change(has_objects: bool, force_tag: Option<&str>) -> Change {
    let desired = expand(&spec_with(ALB));
    let mut tags = tags_of(&desired[0].props);
    match force_tag {
        Some(v) => {
            tags.insert(TAG_FORCE_DELETE.into(), v.into());
        }
        None => {
            tags.remove(TAG_FORCE_DELETE);
        }
    }
    let o = observed_bucket(
        bucket_id(ALB_LOGS),
        "us-east-1",
        "rtech-dev-us-east-1-alb-logs",
        &tags,
        has_objects,
        None,
        None,
    );
    diff_of("dev", &[], &[o], true).changes.remove(0)
}

#[test]
fn a_bucket_holding_objects_is_deleted_only_when_marked() {
    assert_eq!(guard(&delete_change(false, Some("false"))), None);
    assert_eq!(guard(&delete_change(true, Some("true"))), None);
    for tag in [Some("false"), None] {
        let msg = guard(&delete_change(true, tag)).expect("refused");
        assert!(
            msg.starts_with(
                "refused: s3_bucket/alb-logs (bucket rtech-dev-us-east-1-alb-logs) holds objects"
            ),
            "{msg}"
        );
        assert!(msg.contains("log_buckets_force_delete = true"), "{msg}");
    }
    assert!(force_delete(
        delete_change(true, Some("true")).prior.as_ref().unwrap()
    ));
    assert!(!force_delete(
        delete_change(true, None).prior.as_ref().unwrap()
    ));
}

#[test]
fn a_replace_needs_the_flag_in_the_spec_too() {
    let mut c = delete_change(true, Some("true"));
    c.action = Action::Replace;
    let mut d = expand(&spec_with(ALB)).remove(0);
    c.desired = Some(d.clone());
    let msg = guard(&c).expect("the spec says false");
    assert!(msg.contains("replacing it deletes them"), "{msg}");
    let mut tags = tags_of(&d.props);
    tags.insert(TAG_FORCE_DELETE.into(), "true".into());
    d.props.insert("tags".into(), Value::string_map(&tags));
    c.desired = Some(d);
    assert_eq!(guard(&c), None);
    // Not a bucket, not a delete: none of the guard's business.
    let mut u = delete_change(true, None);
    u.action = Action::Update;
    assert_eq!(guard(&u), None);
}

// --- apply requests ----------------------------------------------------------------------------

#[test]
fn the_lifecycle_rule_apply_sends() {
    let r = &expand(&spec_with(ALB))[0];
    let p: BucketProps = from_props(&r.props).unwrap();
    let rules = lifecycle_rules(p.lifecycle.as_ref().unwrap()).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id(), Some(LIFECYCLE_RULE));
    assert_eq!(rules[0].status(), &ExpirationStatus::Enabled);
    assert_eq!(rules[0].expiration().unwrap().days(), Some(30));
    assert_eq!(rules[0].filter().unwrap().prefix(), Some(""));
    // Read back, it is what the spec wants.
    assert_eq!(lifecycle_value(Some(&rules)), lifecycle(30));
}

#[test]
fn objects_are_deleted_a_thousand_at_a_time() {
    let keys: Vec<(String, Option<String>)> = (0..2500)
        .map(|i| (format!("k{i}"), Some(format!("v{i}"))))
        .collect();
    let b = batches(keys);
    assert_eq!(
        b.iter().map(Vec::len).collect::<Vec<_>>(),
        [1000, 1000, 500]
    );
    assert_eq!(b[2][499].0, "k2499");
    assert!(batches(vec![]).is_empty());
}

#[test]
fn a_policy_on_the_cloudfront_bucket_is_drift() {
    let desired = expand(&spec_with(BOTH));
    let cf = desired.iter().find(|r| r.id == bucket_id(CF_LOGS)).unwrap();
    let mut c = live_config(&cf.name);
    c.ownership = Some(
        OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerPreferred)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    c.lifecycle = Some(vec![expire_rule(LIFECYCLE_RULE, 14)]);
    let o = |c: &Config| {
        observed_bucket(
            bucket_id(CF_LOGS),
            "us-east-1",
            &cf.name,
            &tags_of(&cf.props),
            false,
            Some(c),
            Some(ACCT),
        )
    };
    let plan = diff_of("dev", std::slice::from_ref(cf), &[o(&c)], false);
    assert_eq!(fields(&plan), ["policy.Statement", "policy.Version"]);
    c.policy = None;
    assert!(diff_of("dev", std::slice::from_ref(cf), &[o(&c)], false)
        .changes
        .is_empty());
}
