//! Secrets expansion and the rendering of the connection uri.

use super::*;
use crate::model::{Value, TAG_ID};
use crate::testutil::{env_spec, get, parse_as};

#[test]
fn uri_is_rendered_from_the_json_fields() {
    let json = parse(Some(
        r#"{"username":"u","password":"p","host":"h","port":"27017"}"#,
    ));
    assert_eq!(
        render("mongodb://{username}:{password}@{host}:{port}/", &json),
        "mongodb://u:p@h:27017/"
    );
}

fn spec(env: &str, extra: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"{env}\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n{extra}"
    );
    parse_as(env, &text)
}

#[test]
fn a_secret_and_its_connection_per_database() {
    let rs = expand(&spec(
        "dev",
        "\n[docdb]\n\n[redis]\n\n[secrets]\nforce_delete = true\n",
    ));
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "secret/docdb",
            "secret_connection/docdb",
            "secret/redis",
            "secret_connection/redis"
        ]
    );
    let s = get(&rs, "secret/docdb");
    assert_eq!(s.get_str("name"), Some("rtech/dev/docdb"));
    assert_eq!(s.get_str("generated_key"), Some("password"));
    let tags = crate::model::Value::as_map(&s.props["tags"]).unwrap();
    assert_eq!(tags[TAG_ON_DELETE], Value::str("force"));
    assert_eq!(tags[TAG_ID], Value::str("secret/docdb"));
    let c = get(&rs, "secret_connection/docdb");
    assert_eq!(
        c.props["secret_arn"],
        Value::reference(&secret_id("docdb"), "arn")
    );
    let f = c.props["fields"].as_map().unwrap();
    assert_eq!(f["username"], Value::str("rtechadmin"));
    assert_eq!(
        f["host"],
        Value::reference(&ResourceId::new("docdb_cluster", "main"), "endpoint")
    );
    assert!(c
        .get_str("uri_format")
        .unwrap()
        .starts_with("mongodb://{username}:{password}@{host}:{port}/?tls=true"));
    assert!(
        c.deps.contains(&secret_id("docdb"))
            && c.deps.contains(&ResourceId::new("docdb_cluster", "main"))
    );
    let r = get(&rs, "secret_connection/redis");
    assert_eq!(
        r.props["fields"].as_map().unwrap()["host"],
        Value::reference(&ResourceId::new("redis", "main"), "primary_endpoint")
    );
    assert_eq!(r.props["uri_format"], Value::Null);
}

#[test]
fn recovery_window_and_token_follow_the_spec() {
    let rs = expand(&spec(
        "prod",
        "\n[redis]\ntransit_encryption = false\n\n[secrets]\nrecovery_window_days = 30\n",
    ));
    let s = get(&rs, "secret/redis");
    assert_eq!(
        s.props["generated_key"],
        Value::Null,
        "no AUTH token without transit encryption"
    );
    let tags = s.props["tags"].as_map().unwrap();
    assert_eq!(tags[TAG_ON_DELETE], Value::str("recovery-window-days=30"));
    assert!(
        expand(&spec("prod", "")).is_empty(),
        "no databases, no secrets"
    );
}

#[test]
fn expand_never_puts_a_generated_value_in_a_property() {
    let spec = env_spec("prod");
    let rs = expand(&spec);
    for r in &rs {
        let keys: Vec<&String> = r.props.keys().collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("password") || k.contains("token")),
            "{}: {keys:?}",
            r.id
        );
        if let Some(f) = r.props.get("fields").and_then(Value::as_map) {
            assert!(
                !f.contains_key("password") && !f.contains_key("token"),
                "{}",
                r.id
            );
        }
    }
}
