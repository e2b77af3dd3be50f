use super::*;
use crate::aws::AwsError;
use crate::model::{Ref, Value};

/// A property value as the JSON its typed struct holds.
fn j(v: &Value) -> J {
    crate::reconcile::kit::from_props::<std::collections::BTreeMap<String, J>>(
        &[("body".to_string(), v.clone())].into(),
    )
    .unwrap()
    .remove("body")
    .unwrap()
}
use crate::testutil::{dev_spec, diff_of, env_spec};

fn refs_of(r: &Resource) -> Vec<String> {
    let mut out = vec![];
    r.props["body"].refs(&mut out);
    let mut v: Vec<String> = out
        .iter()
        .map(|r| format!("{}.{}", r.resource, r.attr))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Resolve every Ref to a fake live value.
fn fake(r: &Ref) -> Option<String> {
    Some(match (r.resource.to_string().as_str(), r.attr.as_str()) {
        ("load_balancer/main", "arn_suffix") => "app/rtech-dev/50dc6c495c0c9188".into(),
        ("ecs_cluster/main", "name") => "rtech-dev".into(),
        ("ecs_service/app", "name") => "rtech-dev-app".into(),
        ("docdb_cluster/main", "id") => "rtech-dev-docdb".into(),
        ("redis/main", "id") => "rtech-dev-redis".into(),
        other => panic!("unexpected ref {other:?}"),
    })
}

fn widget_titles(body: &Value) -> Vec<String> {
    let Some(Value::List(ws)) = body.as_map().and_then(|m| m.get("widgets")) else {
        panic!("no widgets")
    };
    ws.iter()
        .filter_map(|w| {
            w.as_map()?
                .get("properties")?
                .as_map()?
                .get("title")?
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn dev_and_prod_have_every_panel_of_their_services() {
    for env in ["dev", "prod"] {
        let spec = env_spec(env);
        let rs = expand(&spec);
        assert_eq!(rs.len(), 1, "{env}");
        let d = &rs[0];
        assert_eq!(d.id.to_string(), "dashboard/main");
        assert_eq!(d.get_str("name"), Some(format!("rtech-{env}").as_str()));
        let mut want = vec![];
        if spec.edge.is_some() {
            want.push("load_balancer/main.arn_suffix");
        }
        // The other panels name their resources by the derived names (a re-created service
        // keeps its name: no update), and the dashboard still comes after them.
        if spec.app.is_some() {
            assert!(d.deps.contains(&crate::reconcile::logs::group_id()));
            assert!(d.deps.contains(&crate::reconcile::ecs::service_id()));
            let text = to_json_text(&j(&d.props["body"].resolve(&fake))).unwrap();
            assert!(text.contains(&format!("\"rtech-{env}-app\"")), "{text}");
        }
        if spec.docdb.is_some() {
            assert!(d.deps.contains(&ResourceId::new("docdb_cluster", "main")));
        }
        if spec.redis.is_some() {
            assert!(d.deps.contains(&ResourceId::new("redis", "main")));
        }
        want.sort();
        assert_eq!(refs_of(d), want, "{env}");
        assert!(is_ours(&j(&d.props["body"]), "rtech", env));
    }
}

#[test]
fn only_the_panels_of_present_services() {
    let d = &expand(&dev_spec("\n[ecr]\n\n[app]\n"))[0];
    assert_eq!(
        widget_titles(&d.props["body"]),
        vec![
            "ECS CPU utilization",
            "ECS memory utilization",
            "Application errors"
        ]
    );
    assert!(refs_of(d).is_empty(), "{:?}", refs_of(d));
    let text = to_json_text(&j(&d.props["body"].resolve(&fake))).unwrap();
    assert!(text.contains("SOURCE '/ecs/rtech-dev-app'"), "{text}");
    assert!(text.contains("\"region\":\"us-east-1\""), "{text}");

    // No app, no edge: only the marker.
    let d = &expand(&dev_spec(""))[0];
    assert!(widget_titles(&d.props["body"]).is_empty());
    assert!(refs_of(d).is_empty());
    assert!(d.deps.is_empty());
}

#[test]
fn dashboard_off_means_none() {
    assert!(expand(&dev_spec("\n[monitoring]\ndashboard = false\n")).is_empty());
}

#[test]
fn body_json_round_trip() {
    let d = &expand(&env_spec("prod"))[0];
    let resolved = d.props["body"].resolve(&fake);
    assert!(!resolved.is_unknown());
    let text = to_json_text(&j(&resolved)).unwrap();
    assert!(text.contains("app/rtech-dev/50dc6c495c0c9188"));
    assert_eq!(parse_body(&text), Some(j(&resolved)));
    // Observed as AWS returns it: no change.
    let o = observed("rtech-prod", &text, "rtech", "prod");
    assert_eq!(o.ownership, Ownership::Owned);
    let mut desired = d.clone();
    desired.props.insert("body".into(), resolved);
    // Refs resolved: the diff alone, without the other services' resources.
    desired.deps.clear();
    let p = diff_of("prod", &[desired], &[o], false);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
}

#[test]
fn unresolved_refs_are_an_error_at_apply() {
    let d = &expand(&env_spec("dev"))[0];
    let e = to_json_text(&j(&d.props["body"])).unwrap_err();
    assert_eq!(e.op, "cloudwatch:PutDashboard");
    assert_eq!(e.code, "UnresolvedReference");
}

#[test]
fn key_order_whitespace_and_number_spelling_do_not_matter() {
    let a = parse_body(
        r#"{"widgets":[{"type":"text","x":0,"properties":{"markdown":"m"}}],"start":"-PT3H"}"#,
    )
    .unwrap();
    let b = parse_body(
        "{\n  \"start\" : \"-PT3H\",\n  \"widgets\" : [ { \"properties\" : { \"markdown\" : \"m\" } , \"x\" : 0.0, \"type\" : \"text\" } ]\n}\n",
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(parse_body("{\"p\": 300}"), parse_body("{\"p\": 3.0e2}"));
    // A fractional number is not an integer.
    assert_ne!(parse_body("{\"p\": 300}"), parse_body("{\"p\": 300.5}"));
    assert_eq!(parse_body("not json"), None);
}

#[test]
fn a_missing_widget_is_exactly_a_body_drift() {
    let d = expand(&dev_spec("\n[ecr]\n\n[app]\n"))[0].clone();
    let resolved = d.props["body"].resolve(&fake);
    let mut live = resolved.to_json();
    live["widgets"].as_array_mut().unwrap().pop();
    let o = observed("rtech-dev", &live.to_string(), "rtech", "dev");
    assert_eq!(o.ownership, Ownership::Owned);
    let mut desired = d;
    desired.props.insert("body".into(), resolved);
    desired.deps.clear();
    let p = diff_of("dev", &[desired], &[o], false);
    assert_eq!(p.changes.len(), 1);
    let f = &p.changes[0].fields;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].path.starts_with("body"), "{}", f[0].path);
}

#[test]
fn ownership_is_the_marker_widget() {
    let d = &expand(&dev_spec(""))[0];
    let text = to_json_text(&j(&d.props["body"])).unwrap();
    assert_eq!(
        observed("rtech-dev", &text, "rtech", "dev").ownership,
        Ownership::Owned
    );
    // Another env's marker, no marker, not JSON: foreign.
    assert_eq!(
        observed("rtech-dev", &text, "rtech", "prod").ownership,
        Ownership::Foreign
    );
    let bare = r#"{"widgets":[{"type":"metric","x":0,"y":0,"width":6,"height":6,"properties":{"metrics":[]}}]}"#;
    let o = observed("rtech-dev", bare, "rtech", "dev");
    assert_eq!(o.ownership, Ownership::Foreign);
    assert!(o.props.is_empty());
    assert_eq!(
        observed("rtech-dev", "", "rtech", "dev").ownership,
        Ownership::Foreign
    );
    // The marker as markdown in a metric widget's title does not count.
    let fake_marker = format!(
        r#"{{"widgets":[{{"type":"metric","properties":{{"markdown":{:?}}}}}]}}"#,
        marker_text("rtech", "dev")
    );
    assert_eq!(
        observed("rtech-dev", &fake_marker, "rtech", "dev").ownership,
        Ownership::Foreign
    );
}

#[test]
fn not_found_codes() {
    assert!(AwsError::is_not_found(&AwsError::new(
        "cloudwatch:GetDashboard",
        "ResourceNotFound",
        "x"
    )));
    assert!(AwsError::is_not_found(&AwsError::new(
        "cloudwatch:DeleteDashboards",
        "DashboardNotFoundError",
        "x"
    )));
    assert!(!AwsError::is_not_found(&AwsError::new(
        "cloudwatch:GetDashboard",
        "AccessDenied",
        "x"
    )));
}
