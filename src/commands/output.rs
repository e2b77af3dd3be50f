//! `rtech output`: the env's outputs, read from live AWS (never from the spec).

use std::process::ExitCode;

use anyhow::Result;

use super::session::Session;
use super::{load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, OutputArgs};
use std::collections::BTreeMap;

use crate::model::Observed;
use crate::reconcile::{self, bootstrap, Registry};

pub(super) async fn output_cmd(
    cli: &Cli,
    a: &OutputArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let (desired, s) = Session::of_spec(&spec, opts, false, ui).await?;
    // The account's bootstrap resources too: the lock bucket and this env's CI roles.
    let (mut observed, boot) = tokio::try_join!(s.observe(&desired, ui), async {
        bootstrap::observe_outputs(&s.ctx, &s.who(ui).await?.lock.bucket)
            .await
            .map_err(|e| anyhow::anyhow!("observing bootstrap's resources: {e}"))
    })?;
    observed.extend(boot);
    let outputs = outputs(&observed);
    if let Some(name) = &a.name {
        let value = &outputs[name.as_str()];
        if value.is_null() {
            anyhow::bail!(
                "output {name} has no value in env {}: what it names does not exist (yet)",
                spec.env
            );
        }
        print!("{}", one(value, a.raw)?);
        return Ok(ExitCode::from(EXIT_OK));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outputs).expect("json"));
    } else {
        for (k, v) in outputs.as_object().expect("object") {
            match v {
                serde_json::Value::String(s) => println!("{k} = {s}"),
                other => println!("{k} = {other}"),
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// One output's text: its JSON (a string quoted), or with `raw` the bare value — a string as
/// is, a number or boolean as written, a list one item per line; a map has no raw form.
fn one(value: &serde_json::Value, raw: bool) -> Result<String> {
    use serde_json::Value;
    if !raw {
        return Ok(format!("{}\n", serde_json::to_string_pretty(value)?));
    }
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    let lines: Option<Vec<String>> = match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        v => scalar(v).map(|s| vec![s]),
    };
    let lines = lines
        .ok_or_else(|| anyhow::anyhow!("this output is a map: it has no --raw form; use --json"))?;
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// Every output key, in the order `rtech output` prints them (and docs/outputs.md documents them, one row each).
pub const ORDER: &[&str] = &[
    "vpc_id",
    "vpc_cidr",
    "public_subnet_ids",
    "private_subnet_ids",
    "nat_gateway_ids",
    "nat_public_ips",
    "security_group_ids",
    "docdb_endpoint",
    "docdb_reader_endpoint",
    "redis_primary_endpoint",
    "docdb_secret_arn",
    "redis_secret_arn",
    "ecr_repository_url",
    "ecs_cluster_name",
    "ecs_service_name",
    "task_definition_arn",
    "task_definition_revision",
    "target_group_arns",
    "app_log_group",
    "alb_arn",
    "alb_dns_name",
    "alb_zone_id",
    "cloudfront_distribution_id",
    "cloudfront_domain_name",
    "certificates",
    "hosted_zone_id",
    "public_urls",
    "alerts_topic_arn",
    "pending_subscriptions",
    "dashboard_name",
    "lock_bucket",
    "plan_role_arn",
    "apply_role_arn",
];

/// Every service that declares outputs: the env's and bootstrap's.
fn services() -> impl Iterator<Item = &'static &'static dyn reconcile::Service> {
    Registry::all()
        .services()
        .iter()
        .chain(Registry::bootstrap().services())
}

/// The env's outputs, from what is live (never from the spec): each service's, in [`ORDER`].
pub fn outputs(observed: &[Observed]) -> serde_json::Value {
    let mut all: BTreeMap<&str, serde_json::Value> =
        services().flat_map(|s| s.outputs(observed)).collect();
    let out: serde_json::Map<String, serde_json::Value> = ORDER
        .iter()
        .map(|k| {
            (
                k.to_string(),
                all.remove(k).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    debug_assert!(
        all.is_empty(),
        "outputs missing from ORDER: {:?}",
        all.keys()
    );
    serde_json::Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_output_prints_as_json_or_bare() {
        use serde_json::json;
        assert_eq!(one(&json!("vpc-1"), false).unwrap(), "\"vpc-1\"\n");
        assert_eq!(one(&json!("vpc-1"), true).unwrap(), "vpc-1\n");
        assert_eq!(one(&json!(7), true).unwrap(), "7\n");
        assert_eq!(
            one(&json!(["subnet-a", "subnet-b"]), true).unwrap(),
            "subnet-a\nsubnet-b\n"
        );
        assert_eq!(
            one(&json!({"app": "sg-1"}), false).unwrap(),
            "{\n  \"app\": \"sg-1\"\n}\n"
        );
        let e = one(&json!({"app": "sg-1"}), true).unwrap_err().to_string();
        assert!(e.contains("use --json"), "{e}");
        assert!(one(&json!([{"a": 1}]), true).is_err());
    }
    use crate::model::{Ownership, ResourceId};

    fn live(kind: &str, name: &str, physical: &str, attrs: &[(&str, &str)]) -> Observed {
        let mut o = Observed::new(ResourceId::new(kind, name), physical);
        for (k, v) in attrs {
            o.attrs.insert(k.to_string(), v.to_string());
        }
        o
    }

    #[test]
    fn outputs_have_every_key_in_a_fixed_order_and_one_row_each_in_outputs_md() {
        let out = outputs(&[]);
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ORDER, "every output, in ORDER's order");
        // docs/outputs.md's table: one row per output, in the same order, and no other row.
        let doc = crate::doc_coverage::page("outputs.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once("` |").map(|(cell, _)| cell))
            .collect();
        assert_eq!(
            rows, ORDER,
            "docs/outputs.md: one row per output, in ORDER's order"
        );
        // Every key in ORDER comes from some service (none is null for ever).
        let produced: Vec<&str> = services()
            .flat_map(|s| s.outputs(&[]))
            .map(|(k, _)| k)
            .collect();
        for k in ORDER {
            assert!(produced.contains(k), "no service declares output {k}");
        }
        // Nothing live: every single-resource output is null.
        assert!(out["docdb_endpoint"].is_null() && out["dashboard_name"].is_null());
    }

    #[test]
    fn outputs_name_the_container_platform_and_never_foreign_resources() {
        let mut foreign = live(
            "target_group",
            "green",
            "arn:tg/other",
            &[("arn", "arn:tg/other")],
        );
        foreign.ownership = Ownership::Foreign;
        let observed = vec![
            live(
                "ecr_repository",
                "app",
                "rtech-app",
                &[("url", "123.dkr.ecr/rtech-app")],
            ),
            live(
                "ecs_cluster",
                "main",
                "arn:cluster",
                &[("name", "rtech-prod")],
            ),
            live(
                "ecs_service",
                "app",
                "arn:svc",
                &[("name", "rtech-prod-app")],
            ),
            live(
                "ecs_task_definition",
                "app",
                "arn:td:4",
                &[("arn", "arn:td:4"), ("revision", "4")],
            ),
            live(
                "target_group",
                "blue",
                "arn:tg/blue",
                &[("arn", "arn:tg/blue")],
            ),
            foreign,
            live(
                "load_balancer",
                "main",
                "arn:lb",
                &[
                    ("arn", "arn:lb"),
                    ("dns_name", "rtech-prod-alb-1.us-east-1.elb.amazonaws.com"),
                    ("zone_id", "Z35SXDOTRQ7X7K"),
                ],
            ),
        ];
        let o = outputs(&observed);
        assert_eq!(
            o["alb_dns_name"],
            "rtech-prod-alb-1.us-east-1.elb.amazonaws.com"
        );
        assert_eq!(o["alb_zone_id"], "Z35SXDOTRQ7X7K");
        assert_eq!(o["alb_arn"], "arn:lb");
        assert_eq!(o["ecr_repository_url"], "123.dkr.ecr/rtech-app");
        assert_eq!(o["ecs_cluster_name"], "rtech-prod");
        assert_eq!(o["ecs_service_name"], "rtech-prod-app");
        assert_eq!(o["task_definition_revision"], "4");
        assert_eq!(
            o["target_group_arns"],
            serde_json::json!({"blue": "arn:tg/blue"})
        );
        assert_eq!(o["docdb_endpoint"], serde_json::Value::Null);
    }

    #[test]
    fn outputs_name_the_edge_certificates_zone_and_public_urls() {
        let observed = vec![
            live(
                "distribution",
                "main",
                "E123",
                &[("id", "E123"), ("domain_name", "d111.cloudfront.net")],
            ),
            live(
                "certificate",
                "main",
                "arn:acm/1",
                &[("arn", "arn:acm/1"), ("status", "ISSUED")],
            ),
            live(
                "record",
                "apex-a",
                "rtech.example.com A",
                &[("fqdn", "rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "apex-aaaa",
                "rtech.example.com AAAA",
                &[("fqdn", "rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "www-cname",
                "www",
                &[("fqdn", "www.rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "validation-www",
                "_x.www",
                &[("fqdn", "_x.www.rtech.example.com"), ("zone_id", "Z1")],
            ),
        ];
        let o = outputs(&observed);
        assert_eq!(o["cloudfront_distribution_id"], "E123");
        assert_eq!(o["cloudfront_domain_name"], "d111.cloudfront.net");
        assert_eq!(
            o["certificates"],
            serde_json::json!({"main": {"arn": "arn:acm/1", "status": "ISSUED"}})
        );
        assert_eq!(o["hosted_zone_id"], "Z1");
        assert_eq!(o["pending_subscriptions"], serde_json::json!([]));
        assert_eq!(o["alerts_topic_arn"], serde_json::Value::Null);
        assert_eq!(
            o["public_urls"],
            serde_json::json!(["https://rtech.example.com", "https://www.rtech.example.com"])
        );
    }
}
