//! Helpers for the edge's modules (edge, cdn, waf, origin, canary): the spec sections they
//! share, and the HTTPS listener, its production rule and what our edge leaves behind, as ELBv2
//! and EC2 have them (never through rtech).

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener, Rule};
use aws_sdk_elasticloadbalancingv2::Client as Elb;

use super::{by_name, change_of, is_ours, tag_map, tags};

/// The production rule's priority on the HTTPS listener.
pub const PRODUCTION_PRIORITY: &str = "10";
/// The header CloudFront sends the load balancer, which the production rule requires.
pub const ORIGIN_HEADER: &str = "X-Origin-Verify";
/// AWS's managed prefix list of CloudFront's origin-facing addresses.
pub const ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// The sections an edge module's spec starts with: `[ecr]` (repository `rtech-e2e-{name}`,
/// force-deleted), `[app]` with one task, and `[edge]` on `domain` in a zone rtech creates for
/// the env; then `rest` (more `[edge]` keys, or the sections that follow it).
pub fn edge_spec(name: &str, domain: &str, rest: &str) -> String {
    format!(
        r#"
[ecr]
repository = "rtech-e2e-{name}"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "{domain}"
hosted_zone = "create"
{rest}
"#
    )
}

/// The listeners of the load balancer `lb_arn`.
pub async fn listeners_of(elb: &Elb, lb_arn: &str) -> Vec<Listener> {
    elb.describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap()
        .listeners()
        .to_vec()
}

/// The rules of the listener `listener_arn`, its default rule included.
pub async fn rules_of(elb: &Elb, listener_arn: &str) -> Vec<Rule> {
    elb.describe_rules()
        .listener_arn(listener_arn)
        .send()
        .await
        .unwrap()
        .rules()
        .to_vec()
}

/// The HTTPS (443) listener of the load balancer `lb_name`, which must exist.
pub async fn https_listener(elb: &Elb, lb_name: &str) -> Listener {
    let lb = elb
        .describe_load_balancers()
        .names(lb_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no load balancer {lb_name}: {e:?}"));
    let arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
    listeners_of(elb, arn)
        .await
        .into_iter()
        .find(|l| l.port() == Some(443))
        .unwrap_or_else(|| panic!("{lb_name} has no HTTPS listener"))
}

/// The listener `listener_arn`'s default action turned into a forward to `tg_arn`, out of band.
pub async fn forward_by_default(elb: &Elb, listener_arn: &str, tg_arn: &str) {
    elb.modify_listener()
        .listener_arn(listener_arn)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The HTTPS listener of `lb_name` and its production rule (priority 10), which must exist.
pub async fn production_rule(elb: &Elb, lb_name: &str) -> (Listener, Rule) {
    let https = https_listener(elb, lb_name).await;
    let rules = rules_of(elb, https.listener_arn().unwrap()).await;
    let prod = rules
        .iter()
        .find(|r| r.priority() == Some(PRODUCTION_PRIORITY))
        .unwrap_or_else(|| panic!("{lb_name}: no production rule in {rules:#?}"))
        .clone();
    (https, prod)
}

/// The values a rule requires in CloudFront's origin header, sorted (none without the
/// condition).
pub fn origin_header_values(rule: &Rule) -> Vec<String> {
    let mut values: Vec<String> = rule
        .conditions()
        .iter()
        .filter(|c| c.field() == Some("http-header"))
        .filter_map(|c| c.http_header_config())
        .filter(|h| h.http_header_name() == Some(ORIGIN_HEADER))
        .flat_map(|h| h.values().to_vec())
        .collect();
    values.sort();
    values
}

/// Listener rules of every load balancer in the account with our tags for `env` (ARNs).
pub async fn our_listener_rules(elb: &Elb, env: &str) -> Vec<String> {
    let mut ours = vec![];
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    for lb in lbs.load_balancers() {
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        for l in listeners.listeners() {
            let rules = elb
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap())
                .send()
                .await
                .unwrap();
            for r in rules
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
            {
                let arn = r.rule_arn().unwrap();
                let t = elb.describe_tags().resource_arns(arn).send().await.unwrap();
                let t: BTreeMap<String, String> = tag_map(
                    t.tag_descriptions()
                        .iter()
                        .flat_map(|d| d.tags())
                        .map(|t| (t.key(), t.value())),
                );
                if is_ours(&t, env) {
                    ours.push(arn.to_string());
                }
            }
        }
    }
    ours
}

/// The id (`pl-…`) of CloudFront's origin-facing prefix list, looked up by name.
pub async fn origin_facing_prefix_list(ec2: &aws_sdk_ec2::Client) -> String {
    let pl = ec2
        .describe_managed_prefix_lists()
        .filters(by_name("prefix-list-name", ORIGIN_FACING))
        .send()
        .await
        .unwrap();
    pl.prefix_lists()[0].prefix_list_id().unwrap().to_string()
}

/// The field paths of `id`'s change in a JSON plan (which must have one).
pub fn fields_of(plan: &serde_json::Value, id: &str) -> Vec<String> {
    change_of(plan, id).unwrap_or_else(|| panic!("no change of {id} in {plan:#}"))["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

/// Security groups with our tags for `env` (ids), and every ingress rule in the account (any
/// group's) from CloudFront's origin-facing prefix list (rule ids).
pub async fn origin_lock_network(
    ec2: &aws_sdk_ec2::Client,
    env: &str,
) -> (Vec<String>, Vec<String>) {
    let groups = ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .filter(|g| is_ours(&tags(g.tags()), env))
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    let pl_id = origin_facing_prefix_list(ec2).await;
    let rules = ec2
        .describe_security_group_rules()
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false) && r.prefix_list_id() == Some(pl_id.as_str()))
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    (groups, rules)
}
