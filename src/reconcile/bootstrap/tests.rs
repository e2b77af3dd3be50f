use std::collections::BTreeMap;

use aws_sdk_iam::types::{Role, Tag};
use serde_json::json;

use super::lock_bucket::{self, Live};
use super::managed_policy::{self, ManagedPolicyProps};
use super::oidc_provider::{self, GITHUB_HOST};
use super::*;
use crate::model::{tags_for, Observed, Ownership};
use crate::plan::{diff, Action, DiffInput, Plan};
use crate::reconcile::iam::document::{compact_text, document_text};
use crate::reconcile::iam::role::observed_role;
use crate::reconcile::kit::from_props;
use crate::reconcile::s3::config::public_access_block;
use crate::reconcile::Registry;
use crate::testutil::{actions, env_spec, only_update};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const B: &str = "rtech-rtech-123456789012-us-east-1";
const REPO: &str = "acme/platform";
const PROVIDER: &str =
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

fn want(repo: Option<&str>) -> Vec<Resource> {
    desired(&env_spec("prod"), ACCOUNT, REGION, B, repo)
}

fn plan_of(desired: &[Resource], observed: &[Observed]) -> Plan {
    let reg = Registry::bootstrap();
    let mut p = diff(&DiffInput {
        project: "rtech",
        env: "prod",
        region: REGION,
        desired,
        observed,
        schema: &|k| reg.kind(k).map(|k| k.schema()),
        importable: &|k| reg.kind(k).is_some_and(|k| k.import().is_some()),
        targets: &[],
        replace: &[],
        destroy: false,
    })
    .unwrap();
    crate::plan::steps::steps(&p.changes).expect("orderable");
    p.conflicts.sort_by(|a, b| a.id.cmp(&b.id));
    p
}

fn live_bucket() -> Live {
    Live {
        tags: tags_for("rtech", ALL_ENVS, &lock_bucket::id(), B, &BTreeMap::new()),
        versioning: Some("Enabled".into()),
        encryption: Some("AES256".into()),
        public_access_block: public_access_block(true),
        policy: Some(lock_bucket::tls_only_policy(REGION, B).to_string()),
    }
}

fn iam_tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
        .collect()
}

/// What IAM would return for a role made as `r` wants it (its trust policy URL-encoded).
fn live_role(r: &Resource) -> Observed {
    let p: RoleProps = from_props(&r.props).unwrap();
    let trust = document_text(p.assume_role_policy.as_ref().unwrap());
    let role = Role::builder()
        .role_name(&p.name)
        .arn(format!("arn:aws:iam::{ACCOUNT}:role/{}", p.name))
        .path("/")
        .role_id("AROAEXAMPLE")
        .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
        .assume_role_policy_document(urlencoding(&trust))
        .description(p.description.clone().unwrap())
        .set_tags(Some(iam_tags(&p.tags)))
        .build()
        .unwrap();
    observed_role(r.id.clone(), &role, p.managed_policy_arns.clone(), vec![])
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Everything live exactly as wanted, through each kind's normaliser.
fn live_as_wanted(desired: &[Resource]) -> Vec<Observed> {
    desired
        .iter()
        .map(|r| match r.id.kind.as_str() {
            lock_bucket::KIND => lock_bucket::observed("rtech", REGION, B, &live_bucket()),
            oidc_provider::KIND => oidc_provider::observed(
                "rtech",
                &r.name,
                &format!("https://{GITHUB_HOST}"),
                &["sts.amazonaws.com".to_string()],
                &oidc_provider::GITHUB_THUMBPRINTS
                    .iter()
                    .map(|t| t.to_uppercase())
                    .collect::<Vec<_>>(),
                crate::model::tags_of(&r.props),
            ),
            managed_policy::KIND => {
                let p: ManagedPolicyProps = from_props(&r.props).unwrap();
                managed_policy::observed(
                    r.id.clone(),
                    &r.name,
                    &p.name,
                    &p.path,
                    &urlencoding(&compact_text(&p.document)),
                    p.tags,
                )
            }
            _ => live_role(r),
        })
        .collect()
}

#[test]
fn the_names_are_per_env_and_outside_the_envs_own_role_pattern() {
    assert_eq!(CiRole::Plan.name("rtech", "prod"), "rtech-rtech-prod-plan");
    assert_eq!(
        CiRole::Apply.name("rtech", "prod"),
        "rtech-rtech-prod-apply"
    );
    assert_eq!(CiRole::Plan.id("prod").to_string(), "iam_role/ci-prod-plan");
    assert_eq!(
        CiRole::Apply.policy_name("rtech", "prod", 2),
        "rtech-rtech-prod-apply-2"
    );
    assert_eq!(
        CiRole::Apply.policy_id("prod", 2).to_string(),
        "managed_policy/ci-prod-apply-2"
    );
    // The env's apply policy may change roles `<project>-<env>-*`: never the CI roles.
    for env in ["dev", "staging", "prod"] {
        for r in CiRole::ALL {
            assert!(!r.name("rtech", env).starts_with(&format!("rtech-{env}-")));
        }
    }
    assert!(is_env_policy("prod", &CiRole::Plan.policy_id("prod", 3)));
    assert!(!is_env_policy(
        "prod",
        &CiRole::Plan.policy_id("prod-eu", 1)
    ));
    assert!(!is_env_policy(
        "prod",
        &ResourceId::new("managed_policy", "ci-prod-plan-")
    ));
}

#[test]
fn the_plan_role_trusts_the_repositorys_pull_requests_only() {
    assert_eq!(
        trust_policy(PROVIDER, CiRole::Plan, REPO),
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "GithubPullRequests",
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": "repo:acme/platform:pull_request",
                }},
            }],
        })
    );
}

#[test]
fn the_apply_role_trusts_the_default_branch_and_production_only() {
    assert_eq!(
        trust_policy(PROVIDER, CiRole::Apply, REPO),
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "GithubDefaultBranchAndProduction",
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": [
                        "repo:acme/platform:ref:refs/heads/main",
                        "repo:acme/platform:environment:production",
                    ],
                }},
            }],
        })
    );
}

#[test]
fn repositories_are_owner_slash_name() {
    assert!(valid_repo("acme/platform").is_ok());
    assert!(valid_repo("a-b/c.d_e").is_ok());
    for bad in ["acme", "acme/", "/x", "a/b/c", "a b/c", "acme/*", "acme/.."] {
        assert!(valid_repo(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_desired_resource_round_trips_through_its_kinds_struct() {
    let reg = Registry::bootstrap();
    for r in want(Some(REPO)) {
        let k = reg.kind(&r.id.kind).expect("a bootstrap kind");
        assert_eq!(k.round_trip(&r.props).unwrap(), r.props, "{}", r.id);
    }
    for o in live_as_wanted(&want(Some(REPO))) {
        let k = reg.kind(&o.id.kind).unwrap();
        assert_eq!(k.round_trip(&o.props).unwrap(), o.props, "{}", o.id);
    }
}

#[test]
fn the_policies_are_iam_policys_documents_attached_to_their_roles() {
    let spec = env_spec("prod");
    let env_desired = crate::reconcile::expand(&spec);
    let t = crate::reconcile::iam_policy::Target {
        spec: &spec,
        account: ACCOUNT,
        region: REGION,
        desired: &env_desired,
    };
    let d = want(Some(REPO));
    for role in CiRole::ALL {
        let docs = documents(ENV_SERVICES, &t, role.mode());
        let r = d.iter().find(|r| r.id == role.id("prod")).unwrap();
        let p: RoleProps = from_props(&r.props).unwrap();
        assert_eq!(p.managed_policy_arns.len(), docs.len());
        assert!(p.inline_policies.is_empty());
        for (i, doc) in docs.iter().enumerate() {
            let pid = role.policy_id("prod", i + 1);
            let pr = d.iter().find(|r| r.id == pid).unwrap();
            assert!(r.deps.contains(&pid));
            assert!(p.managed_policy_arns.contains(&pr.name));
            assert_eq!(
                pr.name,
                format!(
                    "arn:aws:iam::{ACCOUNT}:policy/rtech/rtech-rtech-prod-{}-{}",
                    role.as_str(),
                    i + 1
                )
            );
            // What IAM is sent is the generator's document, as short (IAM counts it).
            let mp: ManagedPolicyProps = from_props(&pr.props).unwrap();
            let sent: serde_json::Value =
                serde_json::from_str(&compact_text(&mp.document)).unwrap();
            assert_eq!(policy::iam(&sent), policy::iam(doc));
            assert_eq!(
                crate::reconcile::iam_policy::policy_chars(&sent),
                crate::reconcile::iam_policy::policy_chars(doc)
            );
        }
    }
}

#[test]
fn from_nothing_everything_is_created_in_order_and_as_wanted_nothing_changes() {
    let d = want(Some(REPO));
    let p = plan_of(&d, &[]);
    assert!(p.changes.iter().all(|c| c.action == Action::Create));
    let ids: Vec<String> = p.changes.iter().map(|c| c.id.to_string()).collect();
    for id in [
        "lock_bucket/main",
        "oidc_provider/github",
        "iam_role/ci-prod-plan",
        "iam_role/ci-prod-apply",
        "managed_policy/ci-prod-plan-1",
        "managed_policy/ci-prod-apply-1",
    ] {
        assert!(ids.contains(&id.to_string()), "{id}: {ids:?}");
    }
    let pos = |id: &str| ids.iter().position(|x| x == id).unwrap();
    assert!(pos("oidc_provider/github") < pos("iam_role/ci-prod-plan"));
    assert!(pos("managed_policy/ci-prod-apply-1") < pos("iam_role/ci-prod-apply"));

    let p = plan_of(&d, &live_as_wanted(&d));
    assert!(
        !p.has_changes() && p.conflicts.is_empty(),
        "{:#?}",
        p.changes
    );
}

#[test]
fn an_edited_trust_policy_is_an_update_of_exactly_that() {
    let d = want(Some(REPO));
    let mut live = live_as_wanted(&d);
    let other = want(Some("evil/fork"));
    let i = live
        .iter()
        .position(|o| o.id == CiRole::Plan.id("prod"))
        .unwrap();
    let forked = live_role(
        other
            .iter()
            .find(|r| r.id == CiRole::Plan.id("prod"))
            .unwrap(),
    );
    live[i] = forked;
    let p = plan_of(&d, &live);
    assert_eq!(only_update(&p), ["assume_role_policy"]);
    assert_eq!(p.changes[0].id, CiRole::Plan.id("prod"));
}

#[test]
fn a_policy_no_longer_generated_is_detached_then_deleted() {
    let d = want(Some(REPO));
    let mut live = live_as_wanted(&d);
    // A third plan document from an earlier, larger policy, attached to the plan role.
    let extra_id = CiRole::Plan.policy_id("prod", 9);
    let extra_arn = format!("arn:aws:iam::{ACCOUNT}:policy/rtech/rtech-rtech-prod-plan-9");
    live.push(managed_policy::observed(
        extra_id.clone(),
        &extra_arn,
        "rtech-rtech-prod-plan-9",
        "/rtech/",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        tags_for("rtech", ALL_ENVS, &extra_id, "x", &BTreeMap::new()),
    ));
    let i = live
        .iter()
        .position(|o| o.id == CiRole::Plan.id("prod"))
        .unwrap();
    let mut props: RoleProps = from_props(&live[i].props).unwrap();
    props.managed_policy_arns.push(extra_arn);
    props.managed_policy_arns.sort();
    live[i].props = crate::reconcile::kit::to_props(&props);
    live[i].deps.insert(extra_id.clone());
    let p = plan_of(&d, &live);
    let got = actions(&p);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&(extra_id.to_string(), Action::Delete)));
    assert!(got.contains(&("iam_role/ci-prod-plan".into(), Action::Update)));
    let steps = crate::plan::steps::steps(&p.changes).unwrap();
    let del = steps
        .iter()
        .find(|s| p.changes[s.change].action == Action::Delete)
        .unwrap();
    assert_eq!(del.after.len(), 1, "the delete waits for the detach");
}

#[test]
fn someone_elses_role_or_provider_is_a_conflict() {
    let d = want(Some(REPO));
    let mut live = live_as_wanted(&d);
    for o in live.iter_mut() {
        if o.id.kind == oidc_provider::KIND || o.id == CiRole::Apply.id("prod") {
            o.ownership = Ownership::Foreign;
        }
    }
    let p = plan_of(&d, &live);
    assert!(!p.has_changes());
    let ids: Vec<String> = p.conflicts.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["iam_role/ci-prod-apply", "oidc_provider/github"]);
}

#[test]
fn without_a_repository_only_the_bucket_is_wanted() {
    let d = want(None);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].id, lock_bucket::id());
}

// ---- the lock bucket ------------------------------------------------------------------------

fn bucket_plan(live: Option<Observed>) -> Plan {
    let d = want(None);
    let observed: Vec<Observed> = live.into_iter().collect();
    plan_of(&d, &observed)
}

#[test]
fn no_bucket_plans_one_create_with_every_setting() {
    let p = bucket_plan(None);
    assert_eq!(p.changes.len(), 1);
    let c = &p.changes[0];
    assert_eq!(
        (c.id.to_string(), c.action),
        ("lock_bucket/main".into(), Action::Create)
    );
    let props = c.changed_props();
    for k in [
        "name",
        "versioning",
        "encryption",
        "public_access_block",
        "policy",
        "tags",
    ] {
        assert!(props.contains(k), "{k}: {props:?}");
    }
}

#[test]
fn a_bucket_as_wanted_plans_nothing() {
    let p = bucket_plan(Some(lock_bucket::observed(
        "rtech",
        REGION,
        B,
        &live_bucket(),
    )));
    assert!(!p.has_changes() && p.conflicts.is_empty(), "{p:?}");
}

#[test]
fn bucket_drift_is_an_update_of_exactly_that_setting() {
    let mut live = live_bucket();
    live.versioning = Some("Suspended".into());
    live.policy = None;
    let p = bucket_plan(Some(lock_bucket::observed("rtech", REGION, B, &live)));
    assert_eq!(only_update(&p), ["policy", "versioning"]);
}

#[test]
fn a_bucket_without_our_tags_is_a_conflict() {
    let mut live = live_bucket();
    live.tags.clear();
    let p = bucket_plan(Some(lock_bucket::observed("rtech", REGION, B, &live)));
    assert!(!p.has_changes());
    assert_eq!(p.conflicts.len(), 1);
}

#[test]
fn the_bucket_policy_denies_everything_but_tls() {
    let p = lock_bucket::tls_only_policy(REGION, B);
    let s = &p["Statement"][0];
    assert_eq!(s["Effect"], "Deny");
    assert_eq!(s["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(s["Resource"][1], format!("arn:aws:s3:::{B}/*"));
}

#[test]
fn outputs_are_the_bucket_and_the_two_role_arns() {
    let d = want(Some(REPO));
    let mut live = live_as_wanted(&d);
    for o in live.iter_mut() {
        if o.id.kind == lock_bucket::KIND {
            o.attrs.insert("name".into(), B.into());
        }
    }
    let out: BTreeMap<&str, serde_json::Value> = Bootstrap.outputs(&live).into_iter().collect();
    assert_eq!(out["lock_bucket"], B);
    assert_eq!(
        out["plan_role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/rtech-rtech-prod-plan")
    );
    assert_eq!(
        out["apply_role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/rtech-rtech-prod-apply")
    );
    let none: BTreeMap<&str, serde_json::Value> = Bootstrap.outputs(&[]).into_iter().collect();
    assert!(none["plan_role_arn"].is_null() && none["lock_bucket"].is_null());
}
