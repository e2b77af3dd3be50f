//! `rtech bootstrap --github-repo`: GitHub Actions' OIDC provider and the env's plan and apply
//! roles against the emulator, in a project of its own (`boot`), whose lock bucket only
//! bootstrap makes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::emulator::{Emulator, ACCOUNT};
use crate::support::*;

const PROJECT: &str = "boot";
const REPO: &str = "acme/platform";
const PLAN_ROLE: &str = "boot-rtech-dev-plan";
const APPLY_ROLE: &str = "boot-rtech-dev-apply";
const PROVIDER: &str =
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

fn spec() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let head = spec_head("dev").replace("project = \"rtech\"", &format!("project = \"{PROJECT}\""));
    std::fs::write(dir.path().join("dev.toml"), head).expect("write spec");
    dir
}

fn bootstrap(emu: &Emulator, dir: &tempfile::TempDir, code: i32) -> Run {
    run_ok(
        rtech_in(emu, dir.path()).args([
            "bootstrap",
            "--env",
            "dev",
            "--github-repo",
            REPO,
            "--auto-approve",
        ]),
        code,
    )
}

/// A policy document IAM returned (URL-encoded) as JSON.
fn decoded(text: &str) -> Value {
    let text = urlencoding_decode(text);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn urlencoding_decode(s: &str) -> String {
    if !s.trim_start().starts_with('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A document's statements by Sid, each `Action` and `Resource` a sorted list (the order of
/// statements and of those lists does not matter to IAM).
fn by_sid(doc: &Value) -> BTreeMap<String, Value> {
    doc["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| {
            let mut s = s.clone();
            for k in ["Action", "Resource"] {
                let mut v: Vec<String> = match &s[k] {
                    Value::String(one) => vec![one.clone()],
                    Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                    other => panic!("{k}: {other}"),
                };
                v.sort();
                s[k] = json!(v);
            }
            (s["Sid"].as_str().unwrap().to_string(), s)
        })
        .collect()
}

async fn trust(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let r = iam.get_role().role_name(role).send().await.unwrap();
    decoded(r.role().unwrap().assume_role_policy_document().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_makes_the_provider_and_roles_once_repairs_drift_and_outputs_their_arns() {
    let emu = Emulator::start();
    let dir = spec();
    let first = bootstrap(&emu, &dir, 0);
    for line in [
        "+ lock_bucket/main",
        "+ oidc_provider/github",
        "+ iam_role/ci-dev-plan (boot-rtech-dev-plan)",
        "+ iam_role/ci-dev-apply (boot-rtech-dev-apply)",
        "+ managed_policy/ci-dev-plan-1",
        "+ managed_policy/ci-dev-apply-1",
        "Bootstrap complete",
    ] {
        assert!(first.stdout.contains(line), "{line}:\n{}", first.stdout);
    }
    let second = bootstrap(&emu, &dir, 0);
    assert!(second.stdout.contains("No changes."), "{}", second.stdout);

    // Through IAM itself: the provider, the trust policies, the attached documents.
    let iam = iam(&emu).await;
    let p = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER)
        .send()
        .await
        .unwrap();
    assert_eq!(p.client_id_list(), ["sts.amazonaws.com"]);
    let tags: BTreeMap<&str, &str> = p.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags.get("rtech:env"), Some(&"all"));
    assert_eq!(tags.get("rtech:id"), Some(&"oidc_provider/github"));

    let plan_trust = trust(&iam, PLAN_ROLE).await;
    let st = &plan_trust["Statement"][0];
    assert_eq!(st["Action"], json!(["sts:AssumeRoleWithWebIdentity"]));
    assert_eq!(st["Principal"]["Federated"], json!([PROVIDER]));
    assert_eq!(
        st["Condition"]["StringEquals"],
        json!({
            "token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"],
            "token.actions.githubusercontent.com:sub": ["repo:acme/platform:pull_request"],
        })
    );
    let apply_trust = trust(&iam, APPLY_ROLE).await;
    assert_eq!(
        apply_trust["Statement"][0]["Condition"]["StringEquals"]
            ["token.actions.githubusercontent.com:sub"],
        json!([
            "repo:acme/platform:environment:production",
            "repo:acme/platform:ref:refs/heads/main",
        ])
    );

    for (role, name) in [("plan", PLAN_ROLE), ("apply", APPLY_ROLE)] {
        let r = run_ok(
            rtech_in(&emu, dir.path()).args([
                "iam-policy",
                "--env",
                "dev",
                "--for",
                role,
                "--json",
            ]),
            0,
        );
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let docs = v["documents"].as_array().unwrap();
        let attached = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap();
        let mut arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|a| a.policy_arn())
            .collect();
        arns.sort();
        assert_eq!(arns.len(), docs.len(), "{role}: {arns:?}");
        for (i, arn) in arns.iter().enumerate() {
            assert_eq!(
                *arn,
                format!("arn:aws:iam::{ACCOUNT}:policy/rtech/{name}-{}", i + 1)
            );
            let pol = iam.get_policy().policy_arn(*arn).send().await.unwrap();
            let version = pol
                .policy()
                .unwrap()
                .default_version_id()
                .unwrap()
                .to_string();
            let doc = iam
                .get_policy_version()
                .policy_arn(*arn)
                .version_id(version)
                .send()
                .await
                .unwrap();
            let doc = decoded(doc.policy_version().unwrap().document().unwrap());
            assert_eq!(
                by_sid(&doc),
                by_sid(&docs[i]["policy"]),
                "{role} part {}",
                i + 1
            );
        }
    }

    let out = run_ok(
        rtech_in(&emu, dir.path()).args(["output", "--env", "dev", "--json"]),
        0,
    );
    let out: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        out["plan_role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/{PLAN_ROLE}")
    );
    assert_eq!(
        out["apply_role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/{APPLY_ROLE}")
    );
    assert_eq!(
        out["lock_bucket"],
        format!("boot-rtech-{ACCOUNT}-us-east-1")
    );

    // Someone widens the plan role's trust: exactly that is planned, and repaired.
    let mut widened = plan_trust.clone();
    widened["Statement"][0]["Condition"]["StringEquals"]
        ["token.actions.githubusercontent.com:sub"] = json!("repo:evil/fork:pull_request");
    iam.update_assume_role_policy()
        .role_name(PLAN_ROLE)
        .policy_document(widened.to_string())
        .send()
        .await
        .unwrap();
    let repaired = bootstrap(&emu, &dir, 0);
    assert!(
        repaired.stdout.contains("~ iam_role/ci-dev-plan"),
        "{}",
        repaired.stdout
    );
    assert!(
        repaired.stdout.contains(
            "~ assume_role_policy.Statement.GithubPullRequests.Condition.StringEquals.token.actions.githubusercontent.com:sub = [\"repo:evil/fork:pull_request\"] → [\"repo:acme/platform:pull_request\"]\n\nPlan: 0 to add, 1 to change, 0 to replace, 0 to destroy."
        ),
        "{}",
        repaired.stdout
    );
    assert_eq!(trust(&iam, PLAN_ROLE).await, plan_trust);
    let again = bootstrap(&emu, &dir, 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Without --github-repo, only the bucket is planned: the roles stay.
    let bucket_only = run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev"]),
        0,
    );
    assert!(
        bucket_only.stdout.contains("No changes."),
        "{}",
        bucket_only.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_role_without_our_tags_is_never_modified() {
    let emu = Emulator::start();
    let dir = spec();
    let iam = iam(&emu).await;
    let theirs = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    });
    iam.create_role()
        .role_name(APPLY_ROLE)
        .assume_role_policy_document(theirs.to_string())
        .send()
        .await
        .unwrap();
    let r = bootstrap(&emu, &dir, 1);
    assert!(r.stdout.contains("iam_role/ci-dev-apply"), "{}", r.stdout);
    assert!(r.stderr.contains("refusing to bootstrap"), "{}", r.stderr);
    // Nothing was changed: their role as it was, no policy attached, no provider, no bucket.
    assert_eq!(trust(&iam, APPLY_ROLE).await, theirs);
    let attached = iam
        .list_attached_role_policies()
        .role_name(APPLY_ROLE)
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty());
    assert!(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(PROVIDER)
        .send()
        .await
        .is_err());
    assert!(iam.get_role().role_name(PLAN_ROLE).send().await.is_err());
}
