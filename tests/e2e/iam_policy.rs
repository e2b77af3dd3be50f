//! `rtech iam-policy` against what rtech really calls: a dev apply, plan and destroy with `-vv`
//! (which lists every AWS operation the command called) must call nothing the generated
//! policy leaves out, and the plan nothing outside the plan policy.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::emulator::Emulator;
use crate::support::{push_app_image, rtech, run_ok};

/// The operations `-vv` listed on stderr (`  ec2:DescribeVpcs 3`).
fn called(stderr: &str) -> BTreeSet<String> {
    let list = stderr
        .split("API calls by operation")
        .nth(1)
        .unwrap_or_else(|| panic!("no call list in:\n{stderr}"));
    list.lines()
        .skip(1)
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// `iam-policy --json` for `role`: its documents (each checked as IAM reads a policy) and the
/// operations they cover.
fn policy(emu: &Emulator, role: &str) -> BTreeSet<String> {
    let r = run_ok(
        rtech(emu).args(["iam-policy", "--env", "dev", "--for", role, "--json"]),
        0,
    );
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    // No --account-id: asked of AWS (the emulator's account).
    assert_eq!(v["account_id"], "123456789012");
    let docs = v["documents"].as_array().expect("documents");
    assert!(!docs.is_empty());
    for d in docs {
        let p = &d["policy"];
        assert_eq!(p["Version"], "2012-10-17");
        let chars = serde_json::to_string(p).unwrap().chars().count();
        assert!(chars <= 6144, "{chars} characters");
        for st in p["Statement"].as_array().expect("statements") {
            assert_eq!(st["Effect"], "Allow");
            assert!(st["Sid"].as_str().is_some_and(|s| !s.is_empty()));
            for key in ["Action", "Resource"] {
                assert!(
                    st[key].as_str().is_some() || st[key].as_array().is_some_and(|a| !a.is_empty()),
                    "{key} in {st}"
                );
            }
        }
    }
    v["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect()
}

fn assert_covered(what: &str, called: &BTreeSet<String>, granted: &BTreeSet<String>) {
    // Asking who we are needs no permission.
    let missing: Vec<_> = called
        .iter()
        .filter(|o| *o != "sts:GetCallerIdentity" && !granted.contains(*o))
        .collect();
    assert!(
        missing.is_empty(),
        "{what} called {missing:?}, which the policy leaves out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_apply_plan_and_destroy_call_only_what_the_generated_policies_grant() {
    let emu = Emulator::start();
    let apply = policy(&emu, "apply");
    let plan = policy(&emu, "plan");
    assert!(plan.is_subset(&apply));

    push_app_image(&emu, None, "dev", &[]);
    let r = run_ok(
        rtech(&emu).args(["-vv", "apply", "--env", "dev", "--auto-approve"]),
        0,
    );
    let applied = called(&r.stderr);
    assert!(applied.contains("ec2:CreateVpc"), "{applied:?}");
    assert_covered("apply", &applied, &apply);

    let r = run_ok(rtech(&emu).args(["-vv", "plan", "--env", "dev"]), 0);
    let planned = called(&r.stderr);
    assert!(planned.contains("ec2:DescribeVpcs"), "{planned:?}");
    assert_covered("plan", &planned, &plan);

    let r = run_ok(rtech(&emu).args(["-vv", "output", "--env", "dev"]), 0);
    assert_covered("output", &called(&r.stderr), &plan);

    let r = run_ok(
        rtech(&emu).args(["-vv", "destroy", "--env", "dev", "--auto-approve"]),
        0,
    );
    let destroyed = called(&r.stderr);
    assert!(destroyed.contains("ec2:DeleteVpc"), "{destroyed:?}");
    assert_covered("destroy", &destroyed, &apply);
}
