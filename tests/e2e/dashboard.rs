//! The CloudWatch dashboard against the emulator, on a temporary spec with `[ecr]`,
//! `[app]` and `[edge]`; applies and plans are scoped with `--target dashboard/main`. Every check
//! on the live dashboard goes through CloudWatch's own API (the SDK).

use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const ID: &str = "dashboard/main";
const NAME: &str = "rtech-dev";

const SECTIONS: &str = r#"
[ecr]
repository = "rtech-e2e-dashboard"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "dash.example.net"
hosted_zone = "create"
"#;

async fn body(cw: &aws_sdk_cloudwatch::Client) -> Option<J> {
    match cw.get_dashboard().dashboard_name(NAME).send().await {
        Ok(o) => Some(serde_json::from_str(o.dashboard_body().unwrap()).unwrap()),
        Err(e) => {
            let code = aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&e)
                .unwrap_or_default()
                .to_string();
            assert!(code.contains("NotFound"), "GetDashboard: {e:?}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_apply_drift_repair_delete_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", SECTIONS);
    let d = dir.path();
    let cw = cloudwatch(&emu).await;
    let target = ["--target", ID];

    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // The body names the real cluster and service.
    let live = body(&cw).await.expect("the dashboard exists");
    let text = live.to_string();
    let ecs = aws_sdk_ecs::Client::new(&sdk_conf(&emu).await);
    let clusters = ecs.list_clusters().send().await.unwrap();
    let cluster_arn = clusters.cluster_arns().first().expect("a cluster").clone();
    let cluster = cluster_arn.rsplit('/').next().unwrap().to_string();
    let services = ecs
        .list_services()
        .cluster(&cluster_arn)
        .send()
        .await
        .unwrap();
    let service = services.service_arns()[0]
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(text.contains(&format!("\"{cluster}\"")), "{text}");
    assert!(text.contains(&format!("\"{service}\"")), "{text}");
    assert!(text.contains("AWS/ApplicationELB"), "{text}");
    assert!(text.contains("SOURCE '/ecs/rtech-dev-app'"), "{text}");
    assert!(text.contains("Managed by rtech"), "{text}");

    // One widget less, out of band: exactly that drift, repaired.
    let mut less = live.clone();
    let removed = less["widgets"].as_array_mut().unwrap().pop().unwrap();
    cw.put_dashboard()
        .dashboard_name(NAME)
        .dashboard_body(less.to_string())
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    let ch = changes_of_kinds(&plan, &["dashboard"]);
    assert_eq!(ch.len(), 1, "{plan:#}");
    assert_eq!((ch[0].0.as_str(), ch[0].1.as_str()), (ID, "update"));
    assert_eq!(ch[0].2.len(), 1, "{:?}", ch[0].2);
    assert!(ch[0].2[0].starts_with("body"), "{:?}", ch[0].2);
    assert_eq!(changes(&plan).len(), 1, "{plan:#}");
    // The plan text shows the missing widget alone, added back line by line, and the others
    // as a count (not the whole body twice on one line).
    let text = run_ok(
        rtech_in(&emu, d)
            .args(["plan", "--env", "dev", "--no-color"])
            .args(target),
        0,
    )
    .stdout;
    let added: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("+ "))
        .collect();
    assert!(!added.is_empty(), "{text}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("- ")),
        "{text}"
    );
    let kept = live["widgets"].as_array().unwrap().len() - 1;
    assert!(text.contains(&format!("… {kept} unchanged")), "{text}");
    // The change's lines stay short (the policy's lines after the summary name a rule's
    // evidence, and may be longer).
    let diff = text.split("\nPlan: ").next().unwrap_or_default();
    assert!(diff.lines().all(|l| l.chars().count() < 200), "{text}");
    apply_in(&emu, d, "dev", &target);
    let repaired = body(&cw).await.unwrap();
    assert!(repaired["widgets"].as_array().unwrap().contains(&removed));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Deleted out of band: a create.
    cw.delete_dashboards()
        .dashboard_names(NAME)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        changes(&plan),
        vec![(ID.to_string(), "create".to_string())],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert!(body(&cw).await.is_some());

    destroy_in(&emu, d, "dev");
    assert!(body(&cw).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_dashboard_without_our_marker_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", "");
    let d = dir.path();
    let cw = cloudwatch(&emu).await;
    let foreign = r#"{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":2,"properties":{"markdown":"someone else's"}}]}"#;
    cw.put_dashboard()
        .dashboard_name(NAME)
        .dashboard_body(foreign)
        .send()
        .await
        .unwrap();
    // Blocked plan, refused apply, destroy leaves it.
    assert_conflicts_left_alone_in(&emu, d, "dev", &[ID], &["--target", ID]);
    let left = body(&cw).await.expect("still there");
    assert_eq!(left, serde_json::from_str::<J>(foreign).unwrap());
}
