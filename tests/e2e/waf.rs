//! The WAFv2 web ACL in front of CloudFront end to end, on temporary env specs with `[edge]`,
//! `[edge.cloudfront]` and `[edge.waf]`, scoped with `--target distribution/main --target
//! web_acl/main` (which brings the log group along). Every check goes through WAFv2's, CloudFront's
//! and CloudWatch Logs' own APIs (the SDK), never through rtech.

use aws_sdk_wafv2::types::{
    AllowAction, DefaultAction, Rule, Scope, Statement, VisibilityConfig, WebAcl,
};

use crate::emulator::Emulator;
use crate::support::*;

const ACL: &str = "web_acl/main";
const DIST: &str = "distribution/main";
const NAME: &str = "rtech-dev-edge";
const DOMAIN: &str = "waf-e2e.example.net";

fn spec(waf: &str) -> String {
    edge_spec(
        "waf",
        DOMAIN,
        &format!("\n[edge.cloudfront]\n\n[edge.waf]\n{waf}"),
    )
}

/// The CloudFront-scoped web ACLs named `name`: (summary id, ARN, tags).
async fn named(
    w: &aws_sdk_wafv2::Client,
    name: &str,
) -> Vec<(String, String, std::collections::BTreeMap<String, String>)> {
    let list = w
        .list_web_acls()
        .scope(Scope::Cloudfront)
        .limit(100)
        .send()
        .await
        .unwrap();
    let mut out = vec![];
    for s in list.web_acls() {
        if s.name() != Some(name) {
            continue;
        }
        let arn = s.arn().unwrap().to_string();
        let t = w
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        let tags = tag_map(
            t.tag_info_for_resource()
                .map(|i| i.tag_list())
                .unwrap_or_default()
                .iter()
                .map(|t| (Some(t.key()), Some(t.value()))),
        );
        out.push((s.id().unwrap().to_string(), arn, tags));
    }
    out
}

/// Ours: (id, ARN, the ACL, its LockToken).
async fn the_one(w: &aws_sdk_wafv2::Client) -> (String, String, WebAcl, String) {
    let ours: Vec<_> = named(w, NAME)
        .await
        .into_iter()
        .filter(|(_, _, t)| is_ours(t, "dev"))
        .collect();
    assert_eq!(ours.len(), 1, "one web ACL of ours");
    let (id, arn, _) = ours.into_iter().next().unwrap();
    let g = w
        .get_web_acl()
        .name(NAME)
        .scope(Scope::Cloudfront)
        .id(&id)
        .send()
        .await
        .unwrap();
    (
        id,
        arn,
        g.web_acl().unwrap().clone(),
        g.lock_token().unwrap().to_string(),
    )
}

fn rate_limit(acl: &WebAcl) -> i64 {
    acl.rules()
        .iter()
        .find(|r| r.name() == "rate-limit")
        .and_then(|r| r.statement())
        .and_then(Statement::rate_based_statement)
        .map(|s| s.limit())
        .expect("the rate-based rule")
}

async fn distribution_acl(cf: &aws_sdk_cloudfront::Client) -> String {
    let ds = our_distributions(cf, "dev").await;
    assert_eq!(ds.len(), 1, "{ds:?}");
    let c = cf
        .get_distribution_config()
        .id(&ds[0].0)
        .send()
        .await
        .unwrap();
    c.distribution_config()
        .unwrap()
        .web_acl_id()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn web_acl_apply_drift_delete_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec("rate_limit_per_5min = 1000"));
    let d = dir.path();
    let w = wafv2(&emu).await;
    let cf = cloudfront(&emu).await;
    // The ACL too: a target's unchanged dependencies' drift is not in a targeted plan.
    let target = ["--target", DIST, "--target", ACL];

    let r = apply_in(&emu, d, "dev", &target);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As WAF has it: four rules with metrics and sampled requests, the rate limit, the logs.
    let (id, arn, acl, _) = the_one(&w).await;
    assert!(acl.default_action().unwrap().allow().is_some());
    let mut names: Vec<&str> = acl.rules().iter().map(Rule::name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "aws-common",
            "aws-ip-reputation",
            "aws-known-bad-inputs",
            "rate-limit"
        ]
    );
    for r in acl.rules() {
        let v = r.visibility_config().unwrap();
        assert!(v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled());
    }
    assert_eq!(rate_limit(&acl), 1000);
    let l = w
        .get_logging_configuration()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let dest = l.logging_configuration().unwrap().log_destination_configs();
    assert_eq!(dest.len(), 1);
    assert!(
        dest[0].ends_with(":log-group:aws-waf-logs-rtech-dev"),
        "{dest:?}"
    );
    assert_eq!(
        retention(&logs(&emu).await, "aws-waf-logs-rtech-dev").await,
        Some(Some(30))
    );
    // The distribution carries the ACL (WAFv2: its ARN).
    assert_eq!(distribution_acl(&cf).await, arn);

    // Drift: the rate limit changed out of band is that one field, and apply puts it back.
    let (_, _, acl, token) = the_one(&w).await;
    let rules: Vec<Rule> = acl
        .rules()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.name == "rate-limit" {
                if let Some(st) = r.statement.as_mut() {
                    if let Some(rb) = st.rate_based_statement.as_mut() {
                        rb.limit = 5000;
                    }
                }
            }
            r
        })
        .collect();
    w.update_web_acl()
        .name(NAME)
        .scope(Scope::Cloudfront)
        .id(&id)
        .lock_token(token)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(acl.visibility_config().unwrap().clone())
        .set_rules(Some(rules))
        .send()
        .await
        .unwrap();
    assert_eq!(
        rate_limit(&the_one(&w).await.2),
        5000,
        "changed out of band"
    );
    let p = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        changes_of_kinds(&p, &["web_acl", "distribution", "log_group"]),
        [(
            ACL.to_string(),
            "update".to_string(),
            vec!["rules.rate-limit.limit".to_string()]
        )],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_eq!(rate_limit(&the_one(&w).await.2), 1000);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Deleted out of band (AWS refuses while the distribution names it, so it is detached
    // first): the plan creates it and points the distribution at it again.
    let ds = our_distributions(&cf, "dev").await;
    let c = cf
        .get_distribution_config()
        .id(&ds[0].0)
        .send()
        .await
        .unwrap();
    let mut config = c.distribution_config().unwrap().clone();
    config.web_acl_id = Some(String::new());
    cf.update_distribution()
        .id(&ds[0].0)
        .if_match(c.e_tag().unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    w.delete_logging_configuration()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let (_, _, _, token) = the_one(&w).await;
    w.delete_web_acl()
        .name(NAME)
        .scope(Scope::Cloudfront)
        .id(&id)
        .lock_token(token)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &target);
    let got = changes_of_kinds(&p, &["web_acl", "distribution"]);
    assert_eq!(
        got,
        [
            (ACL.to_string(), "create".to_string(), got[0].2.clone()),
            (
                DIST.to_string(),
                "update".to_string(),
                vec!["web_acl_id".to_string()]
            ),
        ],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &target);
    let (new_id, new_arn, _, _) = the_one(&w).await;
    assert_ne!(new_id, id);
    assert_eq!(distribution_acl(&cf).await, new_arn);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Destroy: the distribution lets go first, then the ACL and its log group go.
    destroy_in(&emu, d, "dev");
    assert!(named(&w, NAME).await.is_empty());
    let left = leftovers(&emu, "dev").await;
    assert_eq!(left.values().sum::<usize>(), 0, "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_web_acl_with_our_name_is_left_alone() {
    let emu = Emulator::start();
    let w = wafv2(&emu).await;
    let vis = VisibilityConfig::builder()
        .metric_name("theirs")
        .cloud_watch_metrics_enabled(false)
        .sampled_requests_enabled(false)
        .build()
        .unwrap();
    let s = w
        .create_web_acl()
        .name(NAME)
        .scope(Scope::Cloudfront)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(vis)
        .send()
        .await
        .unwrap();
    let theirs = s.summary().unwrap().id().unwrap().to_string();
    let token = s.summary().unwrap().lock_token().unwrap().to_string();

    let dir = spec_dir("dev", &spec(""));
    assert_conflicts_left_alone_in(&emu, dir.path(), "dev", &[ACL], &["--target", DIST]);

    // Still there, unchanged (the same LockToken: never updated), without our tags.
    let all = named(&w, NAME).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, theirs);
    assert!(!is_ours(&all[0].2, "dev"));
    let g = w
        .get_web_acl()
        .name(NAME)
        .scope(Scope::Cloudfront)
        .id(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(g.lock_token(), Some(token.as_str()));
    assert!(g.web_acl().unwrap().rules().is_empty());
}
