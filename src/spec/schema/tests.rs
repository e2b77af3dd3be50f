use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

/// Where the checked-in copy lives, relative to the repository root.
const SCHEMA_FILE: &str = "schema/env.schema.json";

/// The command that regenerates it.
const REGENERATE: &str = "cargo run -- schema > schema/env.schema.json";

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn schema() -> Value {
    serde_json::to_value(env_schema()).unwrap()
}

/// A small draft-07 validator for what the generated schema uses; a keyword it does not know
/// fails the test (so a new kind of schema is never passed unchecked).
fn check(root: &Value, schema: &Value, value: &toml::Value, path: &str, errs: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        assert_eq!(schema, &Value::Bool(true), "{path}: schema {schema}");
        return;
    };
    for key in obj.keys() {
        assert!(
            [
                "$schema",
                "$ref",
                "title",
                "description",
                "definitions",
                "default",
                "format",
                "type",
                "enum",
                "const",
                "properties",
                "required",
                "additionalProperties",
                "items",
                "allOf",
                "anyOf",
                "oneOf",
                "minimum",
                "maximum",
            ]
            .contains(&key.as_str()),
            "{path}: the test's validator does not know the keyword {key:?}"
        );
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("{path}: $ref {r}"));
        check(root, &root["definitions"][name], value, path, errs);
    }
    for s in obj
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(root, s, value, path, errs);
    }
    for key in ["anyOf", "oneOf"] {
        let Some(alts) = obj.get(key).and_then(Value::as_array) else {
            continue;
        };
        let matching = alts
            .iter()
            .filter(|s| {
                let mut e = vec![];
                check(root, s, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if matching == 0 || (key == "oneOf" && matching > 1) {
            errs.push(format!(
                "{path}: {value} matches {matching} of the {key} alternatives"
            ));
        }
    }
    if let Some(t) = obj.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("{path}: type {t}"),
        };
        let ok = types.iter().any(|t| {
            matches!(
                (*t, value),
                ("string", toml::Value::String(_))
                    | ("integer", toml::Value::Integer(_))
                    | ("number", toml::Value::Integer(_) | toml::Value::Float(_))
                    | ("boolean", toml::Value::Boolean(_))
                    | ("array", toml::Value::Array(_))
                    | ("object", toml::Value::Table(_))
            )
        });
        if !ok {
            errs.push(format!("{path}: {value} is not of type {t}"));
            return;
        }
    }
    let as_json = || serde_json::to_value(value).expect("TOML values are JSON values");
    if let Some(allowed) = obj.get("enum").and_then(Value::as_array) {
        if !allowed.contains(&as_json()) {
            errs.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(c) = obj.get("const") {
        if c != &as_json() {
            errs.push(format!("{path}: {value} is not {c}"));
        }
    }
    let n = match value {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    if let (Some(n), Some(min)) = (n, obj.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            errs.push(format!("{path}: {value} is below the minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (n, obj.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            errs.push(format!("{path}: {value} is above the maximum {max}"));
        }
    }
    if let (toml::Value::Array(items), Some(item_schema)) = (value, obj.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(root, item_schema, item, &format!("{path}[{i}]"), errs);
        }
    }
    if let toml::Value::Table(table) = value {
        let props = obj.get("properties").and_then(Value::as_object);
        for req in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !table.contains_key(req) {
                errs.push(format!("{path}: the required key {req:?} is missing"));
            }
        }
        for (k, v) in table {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match (
                props.and_then(|p| p.get(k)),
                obj.get("additionalProperties"),
            ) {
                (Some(s), _) => check(root, s, v, &at, errs),
                (None, Some(Value::Bool(false))) => {
                    errs.push(format!("{at}: the key {k:?} is not allowed"))
                }
                (None, Some(s)) => check(root, s, v, &at, errs),
                (None, None) => {}
            }
        }
    }
}

fn errors_of(text: &str) -> Vec<String> {
    let value: toml::Value = toml::from_str(text).unwrap();
    let root = schema();
    let mut errs = vec![];
    check(&root, &root, &value, "", &mut errs);
    errs
}

#[test]
fn the_checked_in_schema_is_current() {
    let path = repo_file(SCHEMA_FILE);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == env_schema_text(),
        "{SCHEMA_FILE} is stale (it is not what `rtech schema` prints for the spec types): regenerate it with `{REGENERATE}` and commit it"
    );
}

#[test]
fn the_shipped_envs_name_the_schema_and_validate_against_it() {
    for env in ["dev", "staging", "prod"] {
        let file = format!("envs/{env}.toml");
        let text = std::fs::read_to_string(repo_file(&file)).unwrap();
        assert!(
            text.starts_with("#:schema ../schema/env.schema.json\n"),
            "{file} must begin with the `#:schema ../schema/env.schema.json` directive"
        );
        let errs = errors_of(&text);
        assert!(errs.is_empty(), "{file}:\n{}", errs.join("\n"));
        // And rtech accepts it: the schema is no stricter than the spec.
        crate::spec::parse(&file, &text, env).unwrap();
    }
}

/// What rtech refuses as an unknown key or a wrong type, the schema refuses too (so editors
/// flag it as rtech would).
#[test]
fn misspelt_keys_and_wrong_types_fail_like_rtech() {
    let dev = std::fs::read_to_string(repo_file("envs/dev.toml")).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (replace, with, the schema's error)
        (
            "region = ",
            "regoin = ",
            "regoin: the key \"regoin\" is not allowed",
        ),
        (
            "cidr = ",
            "cidrs = ",
            "network.cidrs: the key \"cidrs\" is not allowed",
        ),
        (
            "az_count = 2",
            "az_count = \"two\"",
            "network.az_count: \"two\" is not of type",
        ),
        (
            "nat = \"single\"",
            "nat = \"double\"",
            "network.nat: \"double\" matches 0",
        ),
        (
            "[redis]\n",
            "[redis]\nnode_typ = \"x\"\n",
            "redis.node_typ: the key",
        ),
        (
            "instances = 1",
            "instances = true",
            "docdb.instances: true is not of type",
        ),
        // values from a fixed set, and [monitoring.alarms.<name>] only for alarms rtech has
        (
            "[dr]\n",
            "[monitoring.alarms.ecs-cpuu]\nenabled = true\n\n[dr]\n",
            "monitoring.alarms.ecs-cpuu: the key",
        ),
        (
            "[dr]\n",
            "[monitoring.alarms.ecs-cpu]\ncomparison = \"Bigger\"\n\n[dr]\n",
            "monitoring.alarms.ecs-cpu.comparison: \"Bigger\" is not one of",
        ),
        (
            "[dr]\n",
            "[app.deploy]\nstrategy = \"rollin\"\n\n[dr]\n",
            "app.deploy.strategy: \"rollin\" is not one of",
        ),
        (
            "hosted_zone = \"create\"\n",
            "hosted_zone = \"create\"\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n",
            "edge.ssl_policy: \"ELBSecurityPolicy-2016-08\" is not one of",
        ),
    ];
    for (from, to, want) in cases {
        assert!(dev.contains(from), "envs/dev.toml has no {from:?}");
        let text = dev.replacen(from, to, 1);
        let errs = errors_of(&text);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{to}: expected {want:?}, got {errs:?}"
        );
        assert!(
            crate::spec::parse("envs/dev.toml", &text, "dev").is_err(),
            "{to}: rtech accepts it"
        );
    }
    // The same tables, rightly spelt, pass both.
    let text = dev.replacen(
        "[dr]\n",
        "[monitoring.alarms.ecs-cpu]\nenabled = true\ncomparison = \"GreaterThanOrEqualToThreshold\"\ntreat_missing_data = \"breaching\"\n\n[dr]\n",
        1,
    );
    assert_eq!(errors_of(&text), Vec::<String>::new());
    crate::spec::parse("envs/dev.toml", &text, "dev").unwrap();
    let errs = errors_of(&dev.replacen("project = \"rtech\"\n", "", 1));
    assert!(
        errs.iter().any(|e| e.contains("required key \"project\"")),
        "{errs:?}"
    );
}

/// Every table of the spec rejects unknown keys and every key has a description (the doc
/// comment of its field: what an editor shows on hover and in completion).
#[test]
fn every_table_is_closed_and_every_key_is_described() {
    fn walk(schema: &Value, at: &str, missing: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            assert_eq!(
                obj.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{at}: a table that accepts unknown keys"
            );
            for (k, p) in props {
                let described = p
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.trim().is_empty());
                if !described {
                    missing.push(format!("{at}.{k}"));
                }
            }
        }
        for (k, v) in obj {
            match v {
                Value::Object(_) => walk(v, &format!("{at}/{k}"), missing),
                Value::Array(a) => a
                    .iter()
                    .for_each(|v| walk(v, &format!("{at}/{k}"), missing)),
                _ => {}
            }
        }
    }
    let mut missing = vec![];
    walk(&schema(), "#", &mut missing);
    assert!(
        missing.is_empty(),
        "keys without a doc comment: {missing:#?}"
    );
}
