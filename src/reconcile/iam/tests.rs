//! IAM: expansion for dev and prod, the execution policy's exact secret references, policy
//! documents as IAM returns them (URL-encoded, reordered, single strings), the round trip of a
//! desired document through IAM, and drift through the real diff.

use std::collections::BTreeSet;

use aws_sdk_iam::types::Role;

use super::*;
use crate::model::{policy, tags_of, Ref, Value, TAG_ENV, TAG_ID, TAG_PROJECT};
use crate::plan::{diff, Action, Plan};
use crate::testutil::{env_spec, get, parse_as, refs, DEV_2AZ};
use serde_json::{json, Value as J};

const APP: &str = "\n[ecr]\n\n[app]\n";

fn spec(sections: &str) -> Spec {
    parse_as("dev", &format!("{DEV_2AZ}{sections}"))
}

fn inline(r: &Resource) -> &BTreeMap<String, Value> {
    r.props["inline_policies"].as_map().unwrap()
}

/// Every statement of a keyed document.
fn statements(doc: &Value) -> Vec<&BTreeMap<String, Value>> {
    doc.as_map().unwrap()["Statement"]
        .as_map()
        .unwrap()
        .values()
        .map(|s| s.as_map().unwrap())
        .collect()
}

/// IAM's URL encoding of a document (everything but unreserved characters).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const DOCDB_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rtech/dev/docdb-AbC123";
const REDIS_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rtech/dev/redis-XyZ789";

fn resolve(v: &Value, docdb: &str, redis: &str) -> Value {
    let (docdb, redis) = (docdb.to_string(), redis.to_string());
    v.resolve(&move |r: &Ref| match r.resource.to_string().as_str() {
        "secret/docdb" => Some(docdb.clone()),
        "secret/redis" => Some(redis.clone()),
        _ => None,
    })
}

#[test]
fn no_app_section_means_no_roles() {
    assert!(expand(&spec("")).is_empty());
    assert!(
        expand(&spec("\n[ecr]\n")).is_empty(),
        "[ecr] alone needs no role"
    );
}

#[test]
fn dev_roles_read_exactly_the_docdb_and_redis_secrets() {
    let rs = expand(&env_spec("dev"));
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["iam_role/execution", "iam_role/task"]);

    let ex = get(&rs, "iam_role/execution");
    assert_eq!(ex.name, "rtech-dev-ecs-execution");
    assert_eq!(ex.get_str("name"), Some("rtech-dev-ecs-execution"));
    assert_eq!(
        ex.props["managed_policy_arns"],
        Value::List(vec![Value::str(
            "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
        )])
    );
    let pols = inline(ex);
    assert_eq!(pols.keys().collect::<Vec<_>>(), [SECRETS_POLICY]);
    let doc = &pols[SECRETS_POLICY];
    // Exactly the two secret ARNs, through references, and nothing else anywhere.
    assert_eq!(refs(doc), ["secret/docdb.arn", "secret/redis.arn"]);
    let sts = statements(doc);
    assert_eq!(sts.len(), 2);
    for s in &sts {
        assert_eq!(s["Effect"], Value::str("Allow"));
        assert_eq!(
            s["Action"],
            Value::List(vec![Value::str("secretsmanager:GetSecretValue")])
        );
        let Value::List(res) = &s["Resource"] else {
            panic!("Resource is a list")
        };
        assert_eq!(res.len(), 1);
        assert!(matches!(res[0], Value::Ref(_)), "never a wildcard: {res:?}");
        assert!(!s.contains_key("Condition") && !s.contains_key("NotResource"));
    }
    assert_eq!(doc.as_map().unwrap()["Version"], Value::str("2012-10-17"));
    let deps: Vec<String> = ex.deps.iter().map(|d| d.to_string()).collect();
    assert_eq!(deps, ["secret/docdb", "secret/redis"]);

    let trust = &ex.props["assume_role_policy"];
    let sts = statements(trust);
    assert_eq!(sts.len(), 1);
    assert_eq!(
        sts[0]["Action"],
        Value::List(vec![Value::str("sts:AssumeRole")])
    );
    assert_eq!(
        sts[0]["Principal"],
        Value::Map(BTreeMap::from([(
            "Service".to_string(),
            Value::List(vec![Value::str(ECS_TASKS)])
        )]))
    );

    let task = get(&rs, "iam_role/task");
    assert_eq!(task.get_str("name"), Some("rtech-dev-ecs-task"));
    assert_eq!(task.props["managed_policy_arns"], Value::List(vec![]));
    assert!(inline(task).is_empty(), "no permissions by default");
    assert!(task.deps.is_empty());
    assert_eq!(task.props["assume_role_policy"], *trust);

    for r in &rs {
        let t = r.props["tags"].as_map().unwrap();
        assert_eq!(t[TAG_PROJECT], Value::str("rtech"));
        assert_eq!(t[TAG_ENV], Value::str("dev"));
        assert_eq!(t[TAG_ID], Value::str(r.id.to_string()));
        assert_eq!(t["Name"], Value::str(&r.name));
        assert_eq!(t["Environment"], Value::str("development"));
        // IAM descriptions accept a restricted character set: plain ASCII only.
        assert!(r.get_str("description").unwrap().is_ascii());
    }
}

#[test]
fn prod_roles_are_named_for_prod() {
    let rs = expand(&env_spec("prod"));
    let ex = get(&rs, "iam_role/execution");
    assert_eq!(ex.get_str("name"), Some("rtech-prod-ecs-execution"));
    assert_eq!(
        refs(&inline(ex)[SECRETS_POLICY]),
        ["secret/docdb.arn", "secret/redis.arn"]
    );
    assert_eq!(
        get(&rs, "iam_role/task").get_str("name"),
        Some("rtech-prod-ecs-task")
    );
    let t = ex.props["tags"].as_map().unwrap();
    assert_eq!(t["Environment"], Value::str("production"));
}

#[test]
fn the_secrets_policy_follows_the_data_tier() {
    let only_redis = expand(&spec(&format!("\n[redis]\n{APP}")));
    let ex = get(&only_redis, "iam_role/execution");
    assert_eq!(refs(&inline(ex)[SECRETS_POLICY]), ["secret/redis.arn"]);
    assert_eq!(
        statements(&inline(ex)[SECRETS_POLICY]).len(),
        1,
        "no statement for a database the env does not have"
    );

    let neither = expand(&spec(APP));
    let ex = get(&neither, "iam_role/execution");
    assert!(inline(ex).is_empty(), "no inline policy without secrets");
    assert!(ex.deps.is_empty());
    assert_eq!(
        ex.props["managed_policy_arns"].to_string(),
        "[\"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\"]"
    );
}

#[test]
fn managed_policy_arns_name_the_partition() {
    assert_eq!(partition("us-east-1"), "aws");
    assert_eq!(partition("cn-north-1"), "aws-cn");
    assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    assert_eq!(
        execution_managed_policy("cn-northwest-1"),
        "arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    );
}

#[test]
fn task_role_statements_become_its_inline_policy() {
    let rs = expand(&spec(&format!(
        r#"{APP}
[[app.task_role_statements]]
sid = "ReadUploads"
actions = ["s3:GetObject", "s3:ListBucket"]
resources = ["arn:aws:s3:::uploads/*", "arn:aws:s3:::uploads"]

[[app.task_role_statements]]
actions = ["sqs:SendMessage"]
resources = ["arn:aws:sqs:us-east-1:123456789012:jobs"]
"#
    )));
    let task = get(&rs, "iam_role/task");
    let doc = &inline(task)[TASK_POLICY];
    let keys: Vec<&String> = doc.as_map().unwrap()["Statement"]
        .as_map()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&&"ReadUploads".to_string()));
    assert!(keys.iter().any(|k| k.starts_with('#')), "{keys:?}");

    // The same policy as IAM would return it: URL-encoded, statements and lists reordered,
    // single strings, whitespace.
    let returned = r#"{
      "Statement": [
        {"Resource": "arn:aws:sqs:us-east-1:123456789012:jobs", "Action": "sqs:SendMessage", "Effect": "Allow"},
        {"Sid": "ReadUploads", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::uploads", "arn:aws:s3:::uploads/*"]}
      ],
      "Version": "2012-10-17"
    }"#;
    assert_eq!(document_value(&url_encode(returned)), *doc);
    assert_eq!(document_value(returned), *doc);
    // A wider action is a difference.
    let wider = returned.replace(
        "\"sqs:SendMessage\"",
        "[\"sqs:SendMessage\", \"sqs:DeleteMessage\"]",
    );
    assert_ne!(document_value(&url_encode(&wider)), *doc);
}

#[test]
fn the_trust_policy_as_iam_returns_it_is_equal() {
    let returned = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%7B%22Action%22%3A%20%5B%22sts%3AAssumeRole%22%5D%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%5B%22ecs-tasks.amazonaws.com%22%5D%7D%2C%20%22Effect%22%3A%20%22Allow%22%2C%20%22Sid%22%3A%20%22EcsTasksAssumeRole%22%7D%7D";
    assert_eq!(document_value(returned), trust_policy());
    // What apply sends reads back the same.
    assert_eq!(
        document_value(&document_json(&trust_policy())),
        trust_policy()
    );
    assert_eq!(
        document_value(&url_encode(&document_json(&trust_policy()))),
        trust_policy()
    );
    // A different principal is a difference.
    let other = document_json(&trust_policy()).replace(ECS_TASKS, "ec2.amazonaws.com");
    assert_ne!(document_value(&other), trust_policy());
}

#[test]
fn the_execution_document_round_trips_whatever_order_the_arns_sort_in() {
    let rs = expand(&env_spec("dev"));
    let doc = &inline(get(&rs, "iam_role/execution"))[SECRETS_POLICY];
    // As resolved by the plan (docdb's ARN sorting first, then last).
    for (d, r) in [
        (DOCDB_ARN, REDIS_ARN),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:zzz-docdb",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:aaa-redis",
        ),
    ] {
        let resolved = resolve(doc, d, r);
        assert!(!resolved.is_unknown());
        let sent = document_json(&resolved);
        let j: J = serde_json::from_str(&sent).unwrap();
        assert_eq!(j["Statement"].as_array().unwrap().len(), 2, "{sent}");
        assert_eq!(document_value(&url_encode(&sent)), resolved, "{sent}");
        // ... and as someone would write it by hand: statements reversed, single strings.
        let by_hand = format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Sid":"ReadRedisSecret","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"{r}"}},
              {{"Resource":["{d}"],"Action":["secretsmanager:GetSecretValue"],"Effect":"Allow","Sid":"ReadDocdbSecret"}}]}}"#
        );
        assert_eq!(document_value(&url_encode(&by_hand)), resolved);
    }
}

#[test]
fn keyed_statements_are_by_sid_or_content() {
    let doc = policy::iam(&json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
        {"Sid": "B", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
    ]}));
    let k = keyed(doc.clone());
    let keys: Vec<&String> = k.as_map().unwrap()["Statement"]
        .as_map()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(keys.contains(&&"A".to_string()));
    assert_eq!(keys.iter().filter(|x| x.starts_with("B#")).count(), 2);
    assert_eq!(keys.iter().filter(|x| x.starts_with('#')).count(), 1);
    assert_eq!(keyed(k.clone()), k, "keying is idempotent");
    // Back to IAM's JSON and in again: the same.
    assert_eq!(document_value(&document_json(&k)), k);
    // Not a document at all: kept (decoded) as text.
    assert_eq!(document_value("%7Bnope"), Value::str("{nope"));
}

fn live_role(r: &Resource, arn: &str, trust: &str) -> Role {
    let mut b = Role::builder()
        .role_name(r.get_str("name").unwrap())
        .arn(arn)
        .path("/")
        .role_id("AROAEXAMPLE")
        .create_date(aws_smithy_types::DateTime::from_secs(0))
        .assume_role_policy_document(trust)
        .description(r.get_str("description").unwrap());
    for (k, v) in tags_of(&r.props) {
        b = b.tags(Tag::builder().key(k).value(v).build().unwrap());
    }
    b.build().unwrap()
}

/// A live secret exactly as the spec wants it (so only the roles can differ).
fn secret(name: &str, arn: &str) -> Observed {
    let want = crate::reconcile::secrets::expand(&env_spec("dev"))
        .into_iter()
        .find(|r| r.id == ResourceId::new("secret", name))
        .unwrap();
    let mut o = Observed::new(want.id.clone(), arn);
    o.props = want.props;
    o.attrs.insert("arn".into(), arn.into());
    o
}

fn plan(desired: &[Resource], observed: &[Observed]) -> Plan {
    let roles = [role_id(EXECUTION), role_id(TASK)];
    diff(&crate::testutil::diff_input(
        "dev", desired, observed, &roles, false,
    ))
    .unwrap()
}

/// The dev roles as IAM would hold them after apply, with an edit to the execution role's
/// inline policy text.
fn live(rs: &[Resource], edit: impl Fn(String) -> String) -> Vec<Observed> {
    let ex = get(rs, "iam_role/execution");
    let task = get(rs, "iam_role/task");
    let trust = url_encode(&document_json(&trust_policy()));
    let secrets_doc = resolve(&inline(ex)[SECRETS_POLICY], DOCDB_ARN, REDIS_ARN);
    vec![
        secret("docdb", DOCDB_ARN),
        secret("redis", REDIS_ARN),
        observed_role(
            ex.id.clone(),
            &live_role(
                ex,
                "arn:aws:iam::123456789012:role/rtech-dev-ecs-execution",
                &trust,
            ),
            vec![execution_managed_policy("us-east-1")],
            vec![(
                SECRETS_POLICY.to_string(),
                url_encode(&edit(document_json(&secrets_doc))),
            )],
        ),
        observed_role(
            task.id.clone(),
            &live_role(
                task,
                "arn:aws:iam::123456789012:role/rtech-dev-ecs-task",
                &trust,
            ),
            vec![],
            vec![],
        ),
    ]
}

/// The roles, and the secrets they reference (live and unchanged, in `live`).
fn roles(spec: &Spec) -> Vec<Resource> {
    let secrets = crate::reconcile::secrets::expand(spec)
        .into_iter()
        .filter(|r| r.id.kind == "secret");
    expand(spec).into_iter().chain(secrets).collect()
}

/// A role as GetAccountAuthorizationDetails returns it (no description), from a GetRole one.
fn detail_of(role: &Role, managed: &[String], inline: &[(String, String)]) -> RoleDetail {
    let mut b = RoleDetail::builder()
        .role_name(role.role_name())
        .arn(role.arn())
        .path("/")
        .assume_role_policy_document(role.assume_role_policy_document().unwrap());
    for t in role.tags() {
        b = b.tags(t.clone());
    }
    for arn in managed {
        b = b.attached_managed_policies(AttachedPolicy::builder().policy_arn(arn).build());
    }
    for (n, doc) in inline {
        b = b.role_policy_list(
            aws_sdk_iam::types::PolicyDetail::builder()
                .policy_name(n)
                .policy_document(doc)
                .build(),
        );
    }
    b.build()
}

#[test]
fn a_role_read_from_the_account_details_is_the_role_read_by_name() {
    let rs = roles(&env_spec("dev"));
    let ex = get(&rs, "iam_role/execution");
    let trust = url_encode(&document_json(&trust_policy()));
    let role = live_role(
        ex,
        "arn:aws:iam::123456789012:role/rtech-dev-ecs-execution",
        &trust,
    );
    let managed = vec![execution_managed_policy("us-east-1")];
    let secrets_doc = resolve(&inline(ex)[SECRETS_POLICY], DOCDB_ARN, REDIS_ARN);
    let inline = vec![(
        SECRETS_POLICY.to_string(),
        url_encode(&document_json(&secrets_doc)),
    )];
    let by_name = observed_role(ex.id.clone(), &role, managed.clone(), inline.clone());
    let d = detail_of(&role, &managed, &inline);
    let from_details = role::observed_live(
        ex.id.clone(),
        role::LiveRole::from_detail(&d, role.description()),
    );
    assert_eq!(from_details.props, by_name.props);
    assert_eq!(from_details.attrs, by_name.attrs);
    assert_eq!(from_details.physical_id, by_name.physical_id);
    // Without ListRoles's description the role would show a description drift.
    let bare = role::observed_live(ex.id.clone(), role::LiveRole::from_detail(&d, None));
    assert_ne!(bare.props, by_name.props);
}

#[test]
fn live_roles_as_applied_are_no_change() {
    let rs = roles(&env_spec("dev"));
    let p = plan(&rs, &live(&rs, |s| s));
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    assert!(p.conflicts.is_empty());
}

#[test]
fn an_extra_statement_is_exactly_that_drift() {
    let rs = roles(&env_spec("dev"));
    let extra = |s: String| {
        let mut j: J = serde_json::from_str(&s).unwrap();
        j["Statement"].as_array_mut().unwrap().insert(
            0,
            json!({"Sid": "Wider", "Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}),
        );
        j.to_string()
    };
    let p = plan(&rs, &live(&rs, extra));
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let c = &p.changes[0];
    assert_eq!(
        (c.id.to_string(), c.action),
        ("iam_role/execution".into(), Action::Update)
    );
    assert!(!c.fields.is_empty());
    for f in &c.fields {
        assert!(
            f.path
                .starts_with("inline_policies.rtech-secrets.Statement.Wider."),
            "{}",
            f.path
        );
        assert!(f.after.is_none(), "{f:?}");
    }
    assert_eq!(
        c.changed_props(),
        BTreeSet::from(["inline_policies".to_string()])
    );
}

#[test]
fn a_detached_managed_policy_and_a_foreign_role() {
    let rs = roles(&env_spec("dev"));
    let mut obs = live(&rs, |s| s);
    // Execution role: managed policy detached out of band.
    let ex = obs.iter_mut().find(|o| o.id == role_id(EXECUTION)).unwrap();
    ex.props
        .insert("managed_policy_arns".into(), Value::List(vec![]));
    // Task role: someone else's, same name.
    let task = obs.iter_mut().find(|o| o.id == role_id(TASK)).unwrap();
    task.ownership = Ownership::Foreign;
    let p = plan(&rs, &obs);
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].path, "managed_policy_arns");
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].id, role_id(TASK));
}

#[test]
fn ownership_needs_project_env_and_id() {
    let id = role_id(EXECUTION);
    let mut t: BTreeMap<String, String> = BTreeMap::from([
        (TAG_PROJECT.into(), "rtech".into()),
        (TAG_ENV.into(), "dev".into()),
        (TAG_ID.into(), "iam_role/execution".into()),
    ]);
    assert!(is_ours(&t, "rtech", "dev", &id));
    assert!(!is_ours(&t, "rtech", "prod", &id));
    assert!(!is_ours(&t, "rtech", "dev", &role_id(TASK)));
    t.remove(TAG_ID);
    assert!(!is_ours(&t, "rtech", "dev", &id));
}

fn with_flow_logs(value: &str) -> Spec {
    parse_as(
        "dev",
        &DEV_2AZ.replace(
            "nat = \"single\"",
            &format!("nat = \"single\"\nflow_logs = \"{value}\""),
        ),
    )
}

#[test]
fn the_flow_log_role_exists_only_with_flow_logs_on_and_app_or_not() {
    assert!(expand(&with_flow_logs("off")).is_empty());
    let rs = expand(&with_flow_logs("reject"));
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["iam_role/vpc-flow-logs"]);
    let r = &rs[0];
    assert_eq!(r.name, "rtech-dev-vpc-flow-logs");
    assert_eq!(tags_of(&r.props)[TAG_ID], "iam_role/vpc-flow-logs");
    assert_eq!(r.props["managed_policy_arns"], Value::List(vec![]));
    // With [app] too: the ECS roles beside it.
    let mut both = with_flow_logs("all");
    both.app = spec(APP).app;
    let ids: Vec<String> = expand(&both).iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "iam_role/execution",
            "iam_role/task",
            "iam_role/vpc-flow-logs"
        ]
    );
}

#[test]
fn the_flow_log_role_is_trusted_by_vpc_flow_logs_and_writes_only_to_its_group() {
    let rs = expand(&with_flow_logs("reject"));
    let r = &rs[0];
    let st = statements(&r.props["assume_role_policy"]);
    assert_eq!(st.len(), 1);
    assert_eq!(
        st[0]["Principal"].to_json(),
        json!({"Service": ["vpc-flow-logs.amazonaws.com"]})
    );
    let docs = inline(r);
    assert_eq!(docs.keys().collect::<Vec<_>>(), ["rtech-flow-logs"]);
    let st = statements(&docs["rtech-flow-logs"]);
    assert_eq!(st.len(), 1);
    assert_eq!(
        st[0]["Action"].to_json(),
        json!([
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents"
        ])
    );
    // The group's ARN and its streams, both references to the group.
    let group: ResourceId = "log_group/vpc-flow-logs".parse().unwrap();
    let Value::List(resources) = &st[0]["Resource"] else {
        panic!("a list: {:?}", st[0]["Resource"]);
    };
    let attrs: Vec<(ResourceId, String)> = resources
        .iter()
        .map(|v| match v {
            Value::Ref(r) => (r.resource.clone(), r.attr.clone()),
            other => panic!("not a reference: {other:?}"),
        })
        .collect();
    assert_eq!(
        attrs,
        [
            (group.clone(), "arn".to_string()),
            (group.clone(), "streams_arn".to_string())
        ]
    );
    assert!(r.deps.contains(&group), "{:?}", r.deps);

    // Resolved and read back as IAM returns it (URL-encoded, reordered): equal.
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/rtech-dev/flow-logs";
    let streams = format!("{arn}:*");
    let resolved = docs["rtech-flow-logs"].resolve(&|r: &Ref| match r.attr.as_str() {
        "arn" => Some(arn.to_string()),
        "streams_arn" => Some(streams.clone()),
        _ => None,
    });
    let returned = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DeliverToTheFlowLogGroup",
            "Effect": "Allow",
            "Resource": [streams, arn],
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams"],
        }],
    });
    assert_eq!(
        document::document_value(&url_encode(&returned.to_string())),
        resolved
    );
}
