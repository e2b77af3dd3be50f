//! ECR: expansion for dev and prod, the lifecycle policy compared by meaning, what observe
//! makes of a repository as AWS returns it, ids of duplicate claimants, and the guard.

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
};

use super::*;
use crate::model::{policy, tags_of, Value, TAG_ENV, TAG_ID};
use crate::plan::{Action, Change, FieldDiff, Plan};
use crate::reconcile::force_delete;
use crate::reconcile::kit::from_props;
use crate::testutil::{dev_spec, diff_of, env_spec, tag};

#[test]
fn dev_repository_is_mutable_short_lived_and_force_deletable() {
    let rs = expand(&env_spec("dev"));
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r.id.to_string(), "ecr_repository/app");
    assert_eq!(r.name, "rtech-dev-app");
    assert_eq!(r.get_str("name"), Some("rtech-dev-app"));
    assert_eq!(r.props["scan_on_push"], Value::Bool(true), "the default");
    assert_eq!(r.get_str("image_tag_mutability"), Some("MUTABLE"));
    assert_eq!(r.get_str("encryption"), Some("AES256"));
    assert_eq!(tag(r, TAG_FORCE_DELETE), Some("true"));
    assert_eq!(tag(r, TAG_ID), Some("ecr_repository/app"));
    assert_eq!(tag(r, TAG_ENV), Some("dev"));
    assert_eq!(tag(r, "Name"), Some("rtech-dev-app"));
    assert!(r.deps.is_empty());
    let p = policy_text(&from_props(&r.props).unwrap()).unwrap();
    let j: serde_json::Value = serde_json::from_str(&p).unwrap();
    assert_eq!(j["rules"][0]["selection"]["countNumber"], 1);
    assert_eq!(j["rules"][1]["selection"]["countNumber"], 10);
}

#[test]
fn prod_repository_is_immutable_and_keeps_its_images() {
    let rs = expand(&env_spec("prod"));
    let r = &rs[0];
    assert_eq!(r.get_str("name"), Some("rtech-app"));
    assert_eq!(r.get_str("image_tag_mutability"), Some("IMMUTABLE"));
    assert_eq!(r.props["scan_on_push"], Value::Bool(true));
    assert_eq!(tag(r, TAG_FORCE_DELETE), Some("false"));
    assert_eq!(tag(r, "Environment"), Some("production"));
    let want = serde_json::json!({"rules": [
        {"rulePriority": 1, "description": "Expire untagged images 7 day(s) after push",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Keep the newest 30 tagged image(s)",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 30},
         "action": {"type": "expire"}}
    ]});
    assert_eq!(r.props["lifecycle_policy"], policy::from_json(&want));
}

#[test]
fn no_ecr_section_no_repository() {
    let spec = dev_spec("");
    assert!(expand(&spec).is_empty());
}

/// The policy as ECR might hand it back: other key order, other whitespace.
const PROD_POLICY_REORDERED: &str = r#"{
  "rules" : [ {
    "action" : { "type" : "expire" },
    "selection" : { "countNumber" : 7, "countUnit" : "days", "countType" : "sinceImagePushed", "tagStatus" : "untagged" },
    "description" : "Expire untagged images 7 day(s) after push",
    "rulePriority" : 1
  }, {
    "selection" : { "countType" : "imageCountMoreThan", "tagPatternList" : [ "*" ], "tagStatus" : "tagged", "countNumber" : 30 },
    "rulePriority" : 2,
    "action" : { "type" : "expire" },
    "description" : "Keep the newest 30 tagged image(s)"
  } ]
}"#;

fn live_repo(name: &str, scan: bool, mutability: &str) -> Repository {
    Repository::builder()
        .repository_name(name)
        .repository_arn(format!(
            "arn:aws:ecr:us-east-1:123456789012:repository/{name}"
        ))
        .repository_uri(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}"
        ))
        .registry_id("123456789012")
        .image_tag_mutability(ImageTagMutability::from(mutability))
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan)
                .build(),
        )
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Aes256)
                .build()
                .unwrap(),
        )
        .build()
}

fn prod_observed(scan: bool, policy: Option<&str>, images: usize) -> (Vec<Resource>, Observed) {
    let desired = expand(&env_spec("prod"));
    let tags = tags_of(&desired[0].props);
    let o = observed_repo(
        repo_id(),
        &live_repo("rtech-app", scan, "IMMUTABLE"),
        &tags,
        policy,
        images,
    );
    (desired, o)
}

#[test]
fn a_repository_as_aws_returns_it_with_a_reordered_policy_is_no_change() {
    let (desired, o) = prod_observed(true, Some(PROD_POLICY_REORDERED), 3);
    assert!(diff_of("dev", &desired, std::slice::from_ref(&o), false)
        .changes
        .is_empty());
    assert_eq!(
        o.attrs["arn"],
        "arn:aws:ecr:us-east-1:123456789012:repository/rtech-app"
    );
    assert_eq!(
        o.attrs["url"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/rtech-app"
    );
    assert_eq!(o.attrs["name"], "rtech-app");
    assert_eq!(o.attrs["image_count"], "3");
    assert_eq!(o.physical_id, "rtech-app");
}

fn only_field(p: &Plan) -> &FieldDiff {
    assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
    let f = &p.changes[0].fields;
    assert_eq!(f.len(), 1, "{f:?}");
    &f[0]
}

#[test]
fn scan_on_push_turned_off_is_exactly_one_field() {
    let (desired, o) = prod_observed(false, Some(PROD_POLICY_REORDERED), 0);
    let p = diff_of("dev", &desired, &[o], false);
    let f = only_field(&p);
    assert_eq!(f.path, "scan_on_push");
    assert_eq!(f.before, Some(Value::Bool(false)));
    assert_eq!(f.after, Some(Value::Bool(true)));
    assert!(!f.forces_replacement);
}

#[test]
fn a_changed_or_missing_lifecycle_policy_is_drift() {
    let changed = PROD_POLICY_REORDERED.replace("\"countNumber\" : 30", "\"countNumber\" : 5");
    let (desired, o) = prod_observed(true, Some(&changed), 0);
    let p = diff_of("dev", &desired, &[o], false);
    assert_eq!(only_field(&p).path, "lifecycle_policy.rules");

    let (desired, o) = prod_observed(true, None, 0);
    let p = diff_of("dev", &desired, &[o], false);
    let f = only_field(&p);
    assert_eq!(f.path, "lifecycle_policy.rules");
    assert_eq!(f.before, None);
}

#[test]
fn encryption_and_name_force_a_replacement() {
    let (desired, mut o) = prod_observed(true, Some(PROD_POLICY_REORDERED), 0);
    o.props.insert("encryption".into(), Value::str("KMS"));
    let p = diff_of("dev", &desired, &[o], false);
    assert_eq!(p.changes[0].action, Action::Replace);
    assert!(only_field(&p).forces_replacement);
}

#[test]
fn ownership_and_duplicate_claims() {
    let desired = expand(&env_spec("dev"));
    let tags = tags_of(&desired[0].props);
    assert_eq!(claimed_repo(&tags, "rtech", "dev"), Some(repo_id()));
    assert_eq!(claimed_repo(&tags, "rtech", "prod"), None);
    assert_eq!(claimed_repo(&tags, "other", "dev"), None);
    let mut not_a_repo = tags.clone();
    not_a_repo.insert(TAG_ID.into(), "log_group/app".into());
    assert_eq!(claimed_repo(&not_a_repo, "rtech", "dev"), None);

    // The repository named as the spec wants keeps the id; an old one (a renamed repository)
    // gets its own and is deleted as not in the spec.
    let ids = assign_ids(
        vec![
            (
                repo_id(),
                live_repo("a-old-name", true, "MUTABLE"),
                tags.clone(),
            ),
            (
                repo_id(),
                live_repo("rtech-dev-app", true, "MUTABLE"),
                tags.clone(),
            ),
        ],
        Some("rtech-dev-app"),
    );
    let got: Vec<(String, &str)> = ids
        .iter()
        .map(|(id, r, _)| (id.to_string(), r.repository_name().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("ecr_repository/app".to_string(), "rtech-dev-app"),
            ("ecr_repository/app~a-old-name".to_string(), "a-old-name")
        ]
    );
    // Destroy (no spec): by name.
    let ids = assign_ids(
        vec![
            (repo_id(), live_repo("b", true, "MUTABLE"), tags.clone()),
            (repo_id(), live_repo("a", true, "MUTABLE"), tags),
        ],
        None,
    );
    assert_eq!(ids[0].1.repository_name(), Some("a"));
    assert_eq!(ids[1].0.name, "app~b");
}

fn change(action: Action, prior: Observed, desired: Option<Resource>) -> Change {
    Change {
        id: prior.id.clone(),
        action,
        reason: None,
        name: prior.physical_id.clone(),
        fields: vec![],
        desired,
        prior: Some(prior),
        create_first: false,
    }
}

fn with_force_tag(mut o: Observed, v: &str) -> Observed {
    let mut tags = tags_of(&o.props);
    tags.insert(TAG_FORCE_DELETE.into(), v.into());
    o.props.insert("tags".into(), Value::string_map(&tags));
    o
}

#[test]
fn guard_refuses_to_delete_images_without_force_delete() {
    let (_, o) = prod_observed(true, Some(PROD_POLICY_REORDERED), 2);
    let msg = guard(&change(Action::Delete, o.clone(), None)).expect("refused");
    assert!(msg.starts_with("refused: "), "{msg}");
    assert!(msg.contains("ecr_repository/app"), "{msg}");
    assert!(msg.contains("rtech-app"), "{msg}");
    assert!(msg.contains("holds 2 image(s)"), "{msg}");
    assert!(msg.contains("ecr.force_delete = true"), "{msg}");
    assert!(!force_delete(&o));

    // Marked force-deletable: allowed, and deleted with force.
    let forced = with_force_tag(o.clone(), "true");
    assert_eq!(guard(&change(Action::Delete, forced.clone(), None)), None);
    assert!(force_delete(&forced));

    // Empty: nothing to lose.
    let (_, empty) = prod_observed(true, Some(PROD_POLICY_REORDERED), 0);
    assert_eq!(guard(&change(Action::Delete, empty, None)), None);

    // Updates are never refused.
    assert_eq!(guard(&change(Action::Update, o.clone(), None)), None);

    // A replace needs the live tag and the spec to agree.
    let (desired, _) = prod_observed(true, None, 0);
    let msg = guard(&change(
        Action::Replace,
        forced.clone(),
        Some(desired[0].clone()),
    ))
    .expect("the spec says false");
    assert!(
        msg.starts_with("refused: ") && msg.contains("replac"),
        "{msg}"
    );
    let dev = expand(&env_spec("dev"));
    assert_eq!(
        guard(&change(Action::Replace, forced, Some(dev[0].clone()))),
        None
    );
    assert!(guard(&change(Action::Replace, o, Some(dev[0].clone()))).is_some());

    // Through the reconciler (what the plan calls).
    let (_, o) = prod_observed(true, Some(PROD_POLICY_REORDERED), 1);
    assert!(repository::RepositoryKind
        .guard(&change(Action::Delete, o, None))
        .is_some());
}

#[test]
fn destroy_plans_a_delete_that_the_guard_refuses() {
    let (_, o) = prod_observed(true, Some(PROD_POLICY_REORDERED), 4);
    let p = diff_of("dev", &[], &[o], true);
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Delete);
    assert_eq!(p.changes[0].name, "rtech-app");
    assert!(guard(&p.changes[0]).is_some());
}
