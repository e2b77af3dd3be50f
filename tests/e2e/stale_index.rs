//! AWS's tag index (`tag:GetResources`) lags a delete by seconds to minutes. Observe reads
//! CloudFront's distribution, the WAF's web ACL and AWS Backup's plan by the ids the index
//! lists; when an indexed one is gone, it falls back to the service's own list. Here the fault
//! proxy answers the index as it stood before the deletes (`stale_index`), so those fallbacks
//! run: each deleted resource still shows as a create, and apply makes it again.

use assert_cmd::Command;
use aws_sdk_wafv2::types::Scope;
use serde_json::json;

use crate::emulator::Emulator;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_deleted_since_the_index_was_read_still_show_as_creates() {
    let emu = Emulator::start();
    apply(&emu, "prod");
    let proxy = FaultProxy::start(&emu, &[]);
    let plan = |extra: &[&str]| {
        let r = run(Command::from_std(proxy.rtech(&emu))
            .args(["plan", "--env", "prod", "--json", "--detailed-exitcode"])
            .args(extra));
        assert!(r.code == 0 || r.code == 2, "{}\n{}", r.stdout, r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout).expect("plan JSON")
    };
    // The index as it stands with everything in place.
    assert_no_changes(&plan(&[]));
    proxy.configure(json!({"stale_index": true}));

    // Out of band: the distribution, then its web ACL, then the backup plan (its selection
    // first, as AWS requires).
    let cf = cloudfront(&emu).await;
    let dists = cf.list_distributions().send().await.unwrap();
    let items = dists
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "prod's distribution");
    let id = items[0].id().to_string();
    let acl_arn = items[0].web_acl_id().to_string();
    let etag = cf
        .get_distribution_config()
        .id(&id)
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    cf.delete_distribution()
        .id(&id)
        .if_match(etag)
        .send()
        .await
        .unwrap();
    let w = wafv2(&emu).await;
    let acls = w
        .list_web_acls()
        .scope(Scope::Cloudfront)
        .send()
        .await
        .unwrap();
    let acl = acls
        .web_acls()
        .iter()
        .find(|a| a.arn() == Some(acl_arn.as_str()))
        .expect("the distribution's web ACL");
    let _ = w
        .delete_logging_configuration()
        .resource_arn(&acl_arn)
        .send()
        .await;
    w.delete_web_acl()
        .name(acl.name().unwrap())
        .scope(Scope::Cloudfront)
        .id(acl.id().unwrap())
        .lock_token(acl.lock_token().unwrap())
        .send()
        .await
        .unwrap();
    let bk = backup(&emu).await;
    let plans = bk.list_backup_plans().send().await.unwrap();
    assert_eq!(plans.backup_plans_list().len(), 1, "prod's backup plan");
    let plan_id = plans.backup_plans_list()[0].backup_plan_id().unwrap();
    for s in bk
        .list_backup_selections()
        .backup_plan_id(plan_id)
        .send()
        .await
        .unwrap()
        .backup_selections_list()
    {
        bk.delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(s.selection_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    bk.delete_backup_plan()
        .backup_plan_id(plan_id)
        .send()
        .await
        .unwrap();

    // The index still lists all three: each is read by its indexed id, found gone, and looked
    // for in its service's list.
    let p = plan(&[]);
    let stats = proxy.stats();
    assert!(
        stats["stale_index_answers"].as_u64().unwrap_or(0) > 0,
        "the index answered as before the deletes: {stats}"
    );
    let mut got: Vec<(String, String)> = changes_of_kinds(
        &p,
        &["distribution", "web_acl", "backup_plan", "backup_selection"],
    )
    .into_iter()
    .map(|(id, action, _)| (id, action))
    .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        "backup_plan/docdb",
        "backup_selection/docdb",
        "distribution/main",
        "web_acl/main",
    ]
    .iter()
    .map(|id| (id.to_string(), "create".to_string()))
    .collect();
    assert_eq!(got, want, "{p:#}");

    // Applied (the index still stale): made again, once each; then nothing to do.
    let r = run(Command::from_std(proxy.rtech(&emu)).args([
        "apply",
        "--env",
        "prod",
        "--auto-approve",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    proxy.configure(json!({"stale_index": false}));
    assert_no_changes(&plan_json(&emu, "prod"));
    let dists = cf.list_distributions().send().await.unwrap();
    assert_eq!(
        dists.distribution_list().map(|l| l.items().len()),
        Some(1),
        "one distribution"
    );
}
