//! The policy gate through the binary against the emulator, under mandatory enforcement: a
//! plan that breaks a rule (a VPC without flow logs: EC2.6) shows the violation beside its
//! change and exits 1, and apply refuses it with exit 1 having created nothing; a waiver lets
//! the same apply through, and the plan after it is empty; once the waiver has expired, the
//! live VPC is the violation, and apply refuses to repair an out-of-band drift (it changes
//! nothing); `rtech policy --json` reports every rule with its evidence, from the live state
//! and from the plan's changes.

use std::path::Path;

use aws_sdk_ec2::types::Tag;

use crate::emulator::Emulator;
use crate::support::*;

/// The test env's spec (network only, and the alerts topic under its own key: SNS.1 asks for a
/// customer managed key) under the mandatory policy, with `extra` appended.
fn write_spec(dir: &Path, network: &str, extra: &str) {
    let head = spec_head("dev")
        .replace("enforcement = \"advisory\"", "enforcement = \"mandatory\"")
        .replace("nat = \"none\"\n", &format!("nat = \"none\"\n{network}"));
    let key = "\n[monitoring]\n[monitoring.alerts_key]\ndeletion_window_days = 7\n";
    std::fs::write(dir.join("dev.toml"), format!("{head}{key}{extra}")).expect("write spec");
}

fn waiver(expires: &str) -> String {
    format!(
        "\n[[policy.waivers]]\nrule = \"EC2.6\"\nresource = \"vpc/main\"\nreason = \"a test VPC nobody investigates\"\nexpires = \"{expires}\"\n"
    )
}

async fn our_vpcs(ec2: &aws_sdk_ec2::Client) -> usize {
    let all = ec2.describe_vpcs().send().await.unwrap();
    all.vpcs()
        .iter()
        .filter(|v| is_ours(&tags(v.tags()), "dev"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_blocked_by_a_violation_changes_nothing_and_exits_1() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec2 = ec2(&emu).await;
    write_spec(d, "", "");

    // The plan shows the violation under the change that causes it, and exits 1.
    let plan = run(rtech_in(&emu, d).args(["plan", "--env", "dev"]));
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    let vpc_at = plan.stdout.find("+ vpc/main").expect("the VPC's create");
    let ec2_6 = plan.stdout.find("✗ policy EC2.6").expect("the violation");
    assert!(ec2_6 > vpc_at, "{}", plan.stdout);
    assert!(
        plan.stdout[ec2_6..].starts_with(
            "✗ policy EC2.6 (VPC flow logs are on (rejected or all traffic)): vpc/main flow_logs = (none)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .trim_end()
            .ends_with("Policy: 32 rules, 1 violation, 0 waived"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("breaks 1 policy rule(s)"),
        "{}",
        plan.stderr
    );
    let j = run(rtech_in(&emu, d).args(["plan", "--env", "dev", "--json"]));
    assert_eq!(j.code, 1);
    let j: serde_json::Value = serde_json::from_str(&j.stdout).expect("plan JSON");
    assert_eq!(j["policy"]["violations"][0]["rule"], "EC2.6");
    assert_eq!(j["policy"]["violations"][0]["resource"], "vpc/main");
    assert_eq!(j["policy"]["violations"][0]["source"], "change");

    // Apply refuses before any change: exit 1, nothing created.
    let r = run(rtech_in(&emu, d).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("refusing to apply: 1 policy violation(s), nothing was changed"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_eq!(our_vpcs(&ec2).await, 0, "a refused apply created a VPC");

    // A waiver lets it through; the plan after is empty, the waiver shown as the live state's.
    write_spec(d, "", &waiver("2099-12-31"));
    apply_in(&emu, d, "dev", &[]);
    assert_eq!(our_vpcs(&ec2).await, 1);
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_no_changes(&p);
    assert_eq!(p["policy"]["violations"], serde_json::json!([]));
    assert_eq!(p["policy"]["waived"][0]["rule"], "EC2.6");
    assert_eq!(p["policy"]["waived"][0]["source"], "live");
    assert_eq!(
        p["policy"]["waived"][0]["note"],
        "a test VPC nobody investigates"
    );

    // The waiver expired: the live VPC is the violation. An out-of-band tag change is not
    // repaired: apply refuses and changes nothing.
    let vpc = vpc_id(&ec2, "dev").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(Tag::builder().key("Name").value("hand-edited").build())
        .send()
        .await
        .unwrap();
    write_spec(d, "", &waiver("2020-01-31"));
    let plan = run(rtech_in(&emu, d).args(["plan", "--env", "dev"]));
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("its waiver expired on 2020-01-31: a test VPC nobody investigates"),
        "{}",
        plan.stdout
    );
    let r = run(rtech_in(&emu, d).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    let name = ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .map(str::to_string);
    assert_eq!(
        name.as_deref(),
        Some("hand-edited"),
        "the refused apply changed a tag"
    );

    // Destroy is not judged by the policy: it leaves nothing of ours.
    destroy_in(&emu, d, "dev");
    assert_eq!(our_vpcs(&ec2).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_json_reports_every_rule_with_its_evidence() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec2 = ec2(&emu).await;
    write_spec(d, "flow_logs = \"reject\"\n", "");
    apply_in(&emu, d, "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    let policy = |args: &[&str]| {
        let r = run(rtech_in(&emu, d)
            .args(["policy", "--env", "dev"])
            .args(args));
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.stdout
    };
    let j: serde_json::Value = serde_json::from_str(&policy(&["--json"])).expect("policy JSON");
    assert_eq!(j["env"], "dev");
    assert_eq!(j["enforcement"], "mandatory");
    assert_eq!(j["rules"], 32);
    assert_eq!(j["violations"], 0);
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 32);
    let rule = |id: &str| results.iter().find(|r| r["rule"] == id).unwrap().clone();
    let ec2_6 = rule("EC2.6");
    assert_eq!(ec2_6["status"], "pass");
    assert_eq!(
        ec2_6["evidence"],
        serde_json::json!([{
            "resource": "vpc/main", "field": "flow_logs", "value": "flow_log/main (REJECT)",
            "status": "pass", "source": "live", "note": null
        }])
    );
    // Nothing of the kinds these rules read: not applicable.
    for id in [
        "ECR.1",
        "DocumentDB.5",
        "ELB.6",
        "CloudFront.15",
        "rtech.backups",
        "rtech.waf",
        "rtech.alb_via_cloudfront",
    ] {
        assert_eq!(rule(id)["status"], "not_applicable", "{id}");
    }
    let text = policy(&[]);
    assert!(
        text.contains("      pass   vpc/main flow_logs = flow_log/main (REJECT) (live)"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("Policy: 32 rules, 0 violations, 0 waived"),
        "{text}"
    );

    // The flow log deleted out of band: the plan creates it again, and the VPC's evidence
    // names the flow log the plan makes: the rule still passes.
    let id = ec2.describe_flow_logs().send().await.unwrap().flow_logs()[0]
        .flow_log_id()
        .unwrap()
        .to_string();
    ec2.delete_flow_logs()
        .flow_log_ids(&id)
        .send()
        .await
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&policy(&["--json"])).expect("policy JSON");
    let ec2_6 = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "EC2.6")
        .unwrap()
        .clone();
    assert_eq!(ec2_6["status"], "pass");
    assert_eq!(ec2_6["evidence"][0]["value"], "flow_log/main (REJECT)");
    assert_eq!(
        ec2_6["evidence"][0]["source"], "live",
        "the VPC itself is unchanged"
    );
    destroy_in(&emu, d, "dev");
}
