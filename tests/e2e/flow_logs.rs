//! The VPC flow log end to end against the emulator (`[network] flow_logs`): apply from empty
//! makes the flow log (REJECT, to its group, with its role), the group (with the retention) and
//! the role, and the plan is then empty; tags changed out of band are exactly that drift and
//! repaired; a flow log deleted out of band is a create; a changed traffic type is a replace; a
//! foreign (untagged) flow log on our VPC is never touched; destroy leaves nothing of ours; a
//! bad value is a located error that changes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ec2::types::{FlowLog, FlowLogsResourceType, LogDestinationType, Tag, TrafficType};

use crate::emulator::Emulator;
use crate::support::*;

const GROUP: &str = "/vpc/rtech-dev/flow-logs";
const ROLE: &str = "rtech-dev-vpc-flow-logs";

/// The test env's spec with `flow_logs = <value>` in `[network]` and the group's retention.
fn write_spec(dir: &Path, value: &str) {
    let text = spec_head("dev").replace(
        "nat = \"none\"\n",
        &format!("nat = \"none\"\nflow_logs = {value}\n"),
    );
    let text = format!("{text}\n[monitoring]\nflow_log_retention_days = 60\n");
    std::fs::write(dir.join("dev.toml"), text).expect("write spec");
}

/// Every flow log on `vpc`, ours or not.
async fn flow_logs_on(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Vec<FlowLog> {
    ec2.describe_flow_logs()
        .filter(by_name("resource-id", vpc))
        .send()
        .await
        .unwrap()
        .flow_logs()
        .to_vec()
}

fn ours(f: &FlowLog) -> bool {
    is_ours(&tags(f.tags()), "dev")
}

async fn our_flow_logs(ec2: &aws_sdk_ec2::Client) -> Vec<FlowLog> {
    let all = ec2.describe_flow_logs().send().await.unwrap();
    all.flow_logs()
        .iter()
        .filter(|f| ours(f))
        .cloned()
        .collect()
}

/// `%XX` escapes decoded (IAM's policy documents are URL-encoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fields(plan: &serde_json::Value, id: &str) -> Vec<String> {
    change_of(plan, id).unwrap()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn flow_log_apply_drift_recreate_replace_foreign_destroy() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_spec(d, "\"reject\"");
    let (ec2, logs, iam) = (ec2(&emu).await, logs(&emu).await, iam(&emu).await);

    // From empty: the flow log, its group with the retention, its role.
    apply_in(&emu, d, "dev", &[]);
    let vpc = vpc_id(&ec2, "dev").await;
    let mine = our_flow_logs(&ec2).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    let fl = &mine[0];
    assert_eq!(fl.resource_id(), Some(vpc.as_str()));
    assert_eq!(fl.traffic_type(), Some(&TrafficType::Reject));
    assert_eq!(
        fl.log_destination_type(),
        Some(&LogDestinationType::CloudWatchLogs)
    );
    assert_eq!(fl.log_group_name(), Some(GROUP));
    assert_eq!(fl.max_aggregation_interval(), Some(600));
    assert_eq!(tags(fl.tags())["rtech:id"], "flow_log/main");
    let role = iam.get_role().role_name(ROLE).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(fl.deliver_logs_permission_arn(), Some(role.arn()));
    let trust = role.assume_role_policy_document().unwrap_or_default();
    assert!(trust.contains("vpc-flow-logs.amazonaws.com"), "{trust}");
    let policy = iam
        .get_role_policy()
        .role_name(ROLE)
        .policy_name("rtech-flow-logs")
        .send()
        .await
        .unwrap();
    // IAM returns the document URL-encoded.
    let doc = percent_decode(policy.policy_document());
    for want in [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
        &format!("log-group:{GROUP}:*"),
    ] {
        assert!(doc.contains(want), "{want} not in {doc}");
    }
    assert_eq!(retention(&logs, GROUP).await, Some(Some(60)));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    // Tags changed out of band: exactly that drift, repaired.
    let fid = fl.flow_log_id().unwrap().to_string();
    ec2.create_tags()
        .resources(&fid)
        .tags(Tag::builder().key("Name").value("hand-edited").build())
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&plan),
        [("flow_log/main".to_string(), "update".to_string())]
    );
    assert_eq!(fields(&plan, "flow_log/main"), ["tags.Name"]);
    apply_in(&emu, d, "dev", &[]);
    assert_eq!(
        tags(our_flow_logs(&ec2).await[0].tags())["Name"],
        "rtech-dev-vpc-flow-log"
    );
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    // Deleted out of band: a create, and apply repairs it.
    ec2.delete_flow_logs()
        .flow_log_ids(&fid)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&plan),
        [("flow_log/main".to_string(), "create".to_string())]
    );
    apply_in(&emu, d, "dev", &[]);
    let mine = our_flow_logs(&ec2).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_ne!(mine[0].flow_log_id(), Some(fid.as_str()));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    // A foreign flow log on our VPC (no tags of ours, its own group): never touched.
    logs.create_log_group()
        .log_group_name("/someone/else")
        .send()
        .await
        .unwrap();
    let foreign = ec2
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(TrafficType::All)
        .log_destination_type(LogDestinationType::CloudWatchLogs)
        .log_group_name("/someone/else")
        .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/someone-else")
        .send()
        .await
        .unwrap()
        .flow_log_ids()[0]
        .clone();
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));

    // The traffic type changed in the spec: a replace of that field, deleting first.
    write_spec(d, "\"all\"");
    let plan = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&plan),
        [("flow_log/main".to_string(), "replace".to_string())]
    );
    assert_eq!(fields(&plan, "flow_log/main"), ["traffic_type"]);
    apply_in(&emu, d, "dev", &[]);
    let mine = our_flow_logs(&ec2).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].traffic_type(), Some(&TrafficType::All));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &[]));
    let on_vpc = flow_logs_on(&ec2, &vpc).await;
    assert!(
        on_vpc
            .iter()
            .any(|f| f.flow_log_id() == Some(foreign.as_str())),
        "the foreign flow log survived apply: {on_vpc:?}"
    );

    // Destroy: nothing of ours left; the foreign flow log is not in its plan and rtech never
    // deletes it (the emulator keeps a deleted VPC's flow logs, so it is still there).
    let r = destroy_in(&emu, d, "dev");
    assert!(!r.stdout.contains(&foreign), "{}", r.stdout);
    assert!(our_flow_logs(&ec2).await.is_empty());
    assert_eq!(retention(&logs, GROUP).await, None, "{GROUP} left behind");
    assert!(iam.get_role().role_name(ROLE).send().await.is_err());
    let left = ec2
        .describe_flow_logs()
        .flow_log_ids(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.flow_logs().len(),
        1,
        "the foreign flow log was deleted"
    );
    assert_eq!(retention(&logs, "/someone/else").await, Some(None));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_logs_value_out_of_the_three_is_located_and_changes_nothing() {
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "\"some\"");
    for cmd in ["plan", "apply"] {
        let mut c = rtech_in(&emu, dir.path());
        c.args([cmd, "--env", "dev"]);
        if cmd == "apply" {
            c.arg("--auto-approve");
        }
        let r = run(&mut c);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("dev.toml:12:13: network.flow_logs: unknown variant `some`")
                && r.stderr.contains("`off`, `reject`, `all`"),
            "{}",
            r.stderr
        );
    }
    let ec2 = ec2(&emu).await;
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let tagged: Vec<BTreeMap<String, String>> =
        vpcs.vpcs().iter().map(|v| tags(v.tags())).collect();
    assert!(
        !tagged.iter().any(|t| is_ours(t, "dev")),
        "a bad spec changed nothing: {tagged:?}"
    );
    assert!(our_flow_logs(&ec2).await.is_empty());
}
