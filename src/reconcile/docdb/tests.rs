//! DocumentDB: expansion, the normalisers that turn AWS's answers into properties, the diffs
//! they produce (pending modifications, replace reasons), the guard, and the spec section.

use std::collections::BTreeMap;

use std::time::Duration;

use aws_sdk_docdb::types::{
    ApplyMethod, AvailabilityZone, DbCluster, DbClusterParameterGroup, DbInstance, DbSubnetGroup,
    EventSubscription, Parameter, PendingModifiedValues, Subnet, Tag, VpcSecurityGroupMembership,
};

use super::cluster::{
    cluster_attrs, final_snapshot_id, guard, ClusterProps, ENGINE_DOWNGRADE, TAG_APPLY_IMMEDIATELY,
    TAG_FINAL_SNAPSHOT, TAG_PASSWORD_ID, TAG_PASSWORD_SECRET, TAG_PENDING_ENGINE,
};
use super::event_sub::{
    create_request, modify_request, source_changes, EventSubProps, CLUSTER_CATEGORIES,
    INSTANCE_CATEGORIES,
};
use super::instance::InstanceProps;
use super::param_group::{parameters, ParamGroupProps};
use super::subnet_group::SubnetGroupProps;
use super::*;
use crate::model::{Props, Ref, Value};
use crate::plan::{Action, Change, Plan};
use crate::reconcile::kit::to_props;
use crate::reconcile::Registry;
use crate::testutil::{dev_store, diff_of, env_spec, get, parse_as, try_diff, DEV_2AZ};

const PROD: &str = r#"project = "rtech"
env = "prod"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"
az_count = 3
nat = "one_per_az"

[docdb]
instance_class = "db.r6g.large"
instances = 2
backup_retention_days = 7
backup_window = "03:00-04:00"
maintenance_window = "sun:04:00-sun:05:00"
deletion_protection = true
"#;

fn dev_text() -> String {
    let settings = [
        r#"instance_class = "db.t3.medium""#,
        "instances = 1",
        "backup_retention_days = 1",
    ];
    format!("{DEV_2AZ}{}", dev_store("docdb", &settings))
}

fn dev() -> Spec {
    parse_as("dev", &dev_text())
}

fn prod() -> Spec {
    parse_as("prod", PROD)
}

fn reference(v: &Value) -> String {
    match v {
        Value::Ref(r) => format!("{}.{}", r.resource, r.attr),
        other => panic!("not a reference: {other:?}"),
    }
}

fn id(s: &str) -> ResourceId {
    s.parse().unwrap()
}

// Generic readers of a resolved resource's props, to build what AWS would answer.
fn s<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.get_str(key).unwrap_or_default()
}

fn int(r: &Resource, key: &str) -> i32 {
    r.props.get(key).and_then(Value::as_int).unwrap_or_default() as i32
}

fn flag(r: &Resource, key: &str) -> bool {
    r.props.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(Value::Map(m)) => m
            .values()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_map()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

// The normalisers as the plan sees them (tags set apart where a test adds its own).
fn subnet_group_props(g: &DbSubnetGroup) -> Props {
    to_props(&SubnetGroupProps::observed(g, BTreeMap::new()))
}

fn param_group_props(g: &DbClusterParameterGroup, params: &[Parameter]) -> Props {
    to_props(&ParamGroupProps::observed(g, params, BTreeMap::new()))
}

fn cluster_props(c: &DbCluster, tags: &BTreeMap<String, String>, wanted: Option<&str>) -> Props {
    to_props(&ClusterProps::observed(c, tags, wanted))
}

fn instance_props(i: &DbInstance) -> Props {
    to_props(&InstanceProps::observed(i, BTreeMap::new()))
}

fn tags_prop(t: &BTreeMap<String, String>) -> Value {
    Value::string_map(t)
}

// --- expand ------------------------------------------------------------------------------------

#[test]
fn no_docdb_section_means_no_docdb_resources() {
    assert!(expand(&parse_as("dev", DEV_2AZ)).is_empty());
}

#[test]
fn dev_expands_to_groups_cluster_and_one_instance() {
    let rs = expand(&dev());
    let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "docdb_subnet_group/main",
            "docdb_param_group/main",
            "docdb_cluster/main",
            "docdb_instance/1",
            "docdb_event_sub/cluster",
            "docdb_event_sub/instance"
        ]
    );
    for r in &rs {
        assert!(crate::reconcile::schema(&r.id.kind).is_some(), "{}", r.id);
    }

    let sg = get(&rs, "docdb_subnet_group/main");
    assert_eq!(sg.name, "rtech-dev-docdb");
    assert_eq!(sg.get_str("name"), Some("rtech-dev-docdb"));
    let subnets = sg.props["subnet_ids"].as_map().unwrap();
    assert_eq!(
        subnets
            .iter()
            .map(|(k, v)| (k.as_str(), reference(v)))
            .collect::<Vec<_>>(),
        [
            ("us-east-1a", "subnet/private-a.id".to_string()),
            ("us-east-1b", "subnet/private-b.id".to_string())
        ]
    );
    assert!(sg.deps.contains(&id("subnet/private-a")));

    let pg = get(&rs, "docdb_param_group/main");
    assert_eq!(pg.get_str("name"), Some("rtech-dev-docdb5"));
    assert_eq!(pg.get_str("family"), Some("docdb5.0"));
    let params = pg.props["parameters"].as_map().unwrap();
    assert_eq!(params["tls"], Value::str("enabled"));
    assert_eq!(params["audit_logs"], Value::str("enabled"));
    assert_eq!(params["profiler"], Value::str("enabled"));

    let c = get(&rs, "docdb_cluster/main");
    assert_eq!(c.get_str("identifier"), Some("rtech-dev-docdb"));
    assert_eq!(c.get_str("engine"), Some("docdb"));
    assert_eq!(c.get_str("engine_version"), Some("5.0.0"));
    assert_eq!(c.get_str("master_username"), Some("rtechadmin"));
    assert_eq!(c.props["storage_encrypted"], Value::Bool(true));
    assert_eq!(c.props["port"], Value::Int(27017));
    assert_eq!(c.props["backup_retention_period"], Value::Int(1));
    assert_eq!(c.get_str("preferred_backup_window"), Some("03:00-04:00"));
    assert_eq!(
        c.get_str("preferred_maintenance_window"),
        Some("sun:04:00-sun:05:00")
    );
    assert_eq!(
        c.props["enabled_cloudwatch_logs_exports"],
        Value::List(vec![Value::str("audit"), Value::str("profiler")])
    );
    assert_eq!(c.props["deletion_protection"], Value::Bool(false));
    assert_eq!(c.props[ENGINE_DOWNGRADE], Value::Null);
    assert_eq!(
        reference(&c.props["db_subnet_group_name"]),
        "docdb_subnet_group/main.id"
    );
    assert_eq!(
        reference(&c.props["db_cluster_parameter_group_name"]),
        "docdb_param_group/main.id"
    );
    assert_eq!(
        c.props["vpc_security_group_ids"],
        Value::List(vec![Value::reference(&id("sg/docdb"), "id")])
    );
    assert_eq!(
        reference(&c.props["master_password_secret"]),
        "secret/docdb.arn"
    );
    assert_eq!(
        reference(&c.props["password_id"]),
        "secret/docdb.generated_id"
    );
    for d in [
        "secret/docdb",
        "sg/docdb",
        "docdb_subnet_group/main",
        "docdb_param_group/main",
    ] {
        assert!(c.deps.contains(&id(d)), "the cluster depends on {d}");
    }
    // The password itself is in no property: only where to find it, and which one it is.
    let password_props: Vec<&String> = c.props.keys().filter(|k| k.contains("password")).collect();
    assert_eq!(password_props, ["master_password_secret", "password_id"]);
    assert!(password_props.iter().all(|k| c.props[*k].is_unknown()));

    let i = get(&rs, "docdb_instance/1");
    assert_eq!(i.get_str("identifier"), Some("rtech-dev-docdb-1"));
    assert_eq!(i.get_str("instance_class"), Some("db.t3.medium"));
    assert_eq!(i.get_str("availability_zone"), Some("us-east-1a"));
    assert_eq!(
        reference(&i.props["cluster_identifier"]),
        "docdb_cluster/main.id"
    );
    assert!(i.deps.contains(&id("docdb_cluster/main")));
}

#[test]
fn every_resource_is_tagged_and_the_cluster_carries_its_deletion_policy() {
    let rs = expand(&dev());
    for r in &rs {
        let t = r.props["tags"].as_map().unwrap();
        let get = |k: &str| t.get(k).and_then(Value::as_str);
        assert_eq!(get("rtech:project"), Some("rtech"), "{}", r.id);
        assert_eq!(get("rtech:env"), Some("dev"), "{}", r.id);
        assert_eq!(get("rtech:id"), Some(r.id.to_string().as_str()));
        assert_eq!(get("Name"), Some(r.name.as_str()));
        assert_eq!(get("Environment"), Some("development"));
        assert!(get(TAG_PASSWORD_ID).is_none() && get(TAG_PASSWORD_SECRET).is_none());
    }
    let c = get(&rs, "docdb_cluster/main").props["tags"]
        .as_map()
        .unwrap();
    assert_eq!(c[TAG_FINAL_SNAPSHOT], Value::str("skip"));
    assert_eq!(c[TAG_APPLY_IMMEDIATELY], Value::str("true"));
    let i = get(&rs, "docdb_instance/1").props["tags"].as_map().unwrap();
    assert_eq!(i[TAG_APPLY_IMMEDIATELY], Value::str("true"));
    assert!(!i.contains_key(TAG_FINAL_SNAPSHOT));

    let p = expand(&prod());
    let c = get(&p, "docdb_cluster/main").props["tags"]
        .as_map()
        .unwrap();
    assert_eq!(
        c[TAG_FINAL_SNAPSHOT],
        Value::str("take"),
        "the default keeps a snapshot"
    );
    assert_eq!(c[TAG_APPLY_IMMEDIATELY], Value::str("false"));
}

#[test]
fn prod_has_protected_cluster_and_instances_spread_over_the_azs() {
    let rs = expand(&prod());
    let c = get(&rs, "docdb_cluster/main");
    assert_eq!(c.get_str("identifier"), Some("rtech-prod-docdb"));
    assert_eq!(c.props["deletion_protection"], Value::Bool(true));
    assert_eq!(c.props["backup_retention_period"], Value::Int(7));
    let azs: Vec<(&str, &str, &str)> = rs
        .iter()
        .filter(|r| r.id.kind == INSTANCE)
        .map(|r| {
            (
                r.get_str("identifier").unwrap(),
                r.get_str("instance_class").unwrap(),
                r.get_str("availability_zone").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        azs,
        [
            ("rtech-prod-docdb-1", "db.r6g.large", "us-east-1a"),
            ("rtech-prod-docdb-2", "db.r6g.large", "us-east-1b")
        ]
    );
    // Three private subnets in the subnet group.
    let sg = get(&rs, "docdb_subnet_group/main");
    assert_eq!(sg.props["subnet_ids"].as_map().unwrap().len(), 3);
}

#[test]
fn more_instances_than_azs_wrap_round_robin() {
    let rs = expand(&parse_as(
        "prod",
        &PROD.replace("instances = 2", "instances = 5"),
    ));
    let azs: Vec<&str> = rs
        .iter()
        .filter(|r| r.id.kind == INSTANCE)
        .map(|r| r.get_str("availability_zone").unwrap())
        .collect();
    assert_eq!(
        azs,
        [
            "us-east-1a",
            "us-east-1b",
            "us-east-1c",
            "us-east-1a",
            "us-east-1b"
        ]
    );
}

#[test]
fn spec_switches_shape_parameters_logs_and_the_4_0_family() {
    let text = format!(
        "{DEV_2AZ}\n[docdb]\nengine_version = \"4.0.0\"\ntls = false\naudit_logs = false\nmaster_username = \"appadmin\"\n"
    );
    let rs = expand(&parse_as("dev", &text));
    let pg = get(&rs, "docdb_param_group/main");
    assert_eq!(pg.get_str("family"), Some("docdb4.0"));
    assert_eq!(pg.get_str("name"), Some("rtech-dev-docdb4"));
    let params = pg.props["parameters"].as_map().unwrap();
    assert_eq!(params["tls"], Value::str("disabled"));
    assert_eq!(params["audit_logs"], Value::str("disabled"));
    assert_eq!(params["profiler"], Value::str("enabled"));
    let c = get(&rs, "docdb_cluster/main");
    assert_eq!(
        c.props["enabled_cloudwatch_logs_exports"],
        Value::List(vec![Value::str("profiler")])
    );
    assert_eq!(c.get_str("master_username"), Some("appadmin"));
    assert_eq!(c.get_str("engine_version"), Some("4.0.0"));
}

#[test]
fn whole_env_expansion_orders_secret_network_cluster_instances() {
    let rs = crate::reconcile::expand(&dev());
    let plan = try_diff("dev", &rs, &[], false).expect("every dependency is in the expansion");
    let pos = |x: &str| {
        plan.changes
            .iter()
            .position(|c| c.id.to_string() == x)
            .unwrap()
    };
    assert!(pos("secret/docdb") < pos("docdb_cluster/main"));
    assert!(pos("sg/docdb") < pos("docdb_cluster/main"));
    assert!(pos("subnet/private-b") < pos("docdb_subnet_group/main"));
    assert!(pos("docdb_subnet_group/main") < pos("docdb_cluster/main"));
    assert!(pos("docdb_param_group/main") < pos("docdb_cluster/main"));
    assert!(pos("docdb_cluster/main") < pos("docdb_instance/1"));
    assert!(pos("docdb_cluster/main") < pos("secret_connection/docdb"));
    assert_eq!(expand(&dev()), expand(&dev()), "deterministic");
}

// --- a live world built from the SDK's own types -------------------------------------------

const ENDPOINT: &str = "c.cluster-x.docdb.amazonaws.com";
const READER_ENDPOINT: &str = "c.cluster-ro-x.docdb.amazonaws.com";

/// Attribute values for resources outside DocumentDB (they only need to be consistent).
fn fake(r: &ResourceId, attr: &str) -> String {
    format!("{r}:{attr}")
}

fn resolve(r: &Resource, rs: &[Resource]) -> Resource {
    let lookup = |x: &Ref| -> Option<String> {
        if x.resource.kind.starts_with("docdb_") && x.attr == "id" {
            let target = rs.iter().find(|t| t.id == x.resource)?;
            let key = if target.props.contains_key("identifier") {
                "identifier"
            } else {
                "name"
            };
            return target.get_str(key).map(String::from);
        }
        if x.resource.kind == CLUSTER {
            return Some(
                match x.attr.as_str() {
                    "endpoint" => ENDPOINT,
                    "reader_endpoint" => READER_ENDPOINT,
                    "port" => "27017",
                    a => panic!("no cluster attribute {a}"),
                }
                .to_string(),
            );
        }
        Some(fake(&x.resource, &x.attr))
    };
    crate::testutil::resolved_with(r, &lookup)
}

fn tags_of(r: &Resource) -> BTreeMap<String, String> {
    r.props["tags"]
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    strings(Some(v))
}

/// What DocumentDB would answer for a resource created exactly as desired.
fn live(r: &Resource, rs: &[Resource]) -> Observed {
    let r = resolve(r, rs);
    if !r.id.kind.starts_with("docdb_") {
        // Another service's resource, exactly as desired.
        let mut o = Observed::new(r.id.clone(), fake(&r.id, "id"));
        o.props = r.props.clone();
        for a in ["arn", "generated_id", "allocation_id"] {
            o.attrs.insert(a.into(), fake(&r.id, a));
        }
        return o;
    }
    let t = tags_of(&r);
    let mut o = match r.id.kind.as_str() {
        SUBNET_GROUP => {
            let mut g = DbSubnetGroup::builder()
                .db_subnet_group_name(s(&r, "name"))
                .db_subnet_group_description(s(&r, "description"));
            for (az, sid) in r.props["subnet_ids"].as_map().unwrap() {
                g = g.subnets(
                    Subnet::builder()
                        .subnet_identifier(sid.as_str().unwrap())
                        .subnet_availability_zone(AvailabilityZone::builder().name(az).build())
                        .build(),
                );
            }
            let mut o = Observed::new(r.id.clone(), s(&r, "name"));
            o.props = subnet_group_props(&g.build());
            o
        }
        PARAM_GROUP => {
            let g = DbClusterParameterGroup::builder()
                .db_cluster_parameter_group_name(s(&r, "name"))
                .db_parameter_group_family(s(&r, "family"))
                .description(s(&r, "description"))
                .build();
            let params = parameters(&str_map(&r.props["parameters"]), None);
            let mut o = Observed::new(r.id.clone(), s(&r, "name"));
            o.props = param_group_props(&g, &params);
            o
        }
        CLUSTER => {
            let mut c = DbCluster::builder()
                .db_cluster_identifier(s(&r, "identifier"))
                .engine(s(&r, "engine"))
                .engine_version(s(&r, "engine_version"))
                .master_username(s(&r, "master_username"))
                .storage_encrypted(flag(&r, "storage_encrypted"))
                .db_subnet_group(s(&r, "db_subnet_group_name"))
                .port(int(&r, "port"))
                .backup_retention_period(int(&r, "backup_retention_period"))
                .preferred_backup_window(s(&r, "preferred_backup_window"))
                // AWS may answer in another case: normalised.
                .preferred_maintenance_window(s(&r, "preferred_maintenance_window").to_uppercase())
                .deletion_protection(flag(&r, "deletion_protection"))
                .copy_tags_to_snapshot(flag(&r, "copy_tags_to_snapshot"))
                .db_cluster_parameter_group(s(&r, "db_cluster_parameter_group_name"))
                .db_cluster_arn(format!(
                    "arn:aws:rds:us-east-1:1:cluster:{}",
                    s(&r, "identifier")
                ))
                .endpoint(ENDPOINT)
                .reader_endpoint(READER_ENDPOINT)
                .status("available");
            // AWS's own order, not the spec's.
            for l in strs(&r.props["enabled_cloudwatch_logs_exports"])
                .into_iter()
                .rev()
            {
                c = c.enabled_cloudwatch_logs_exports(l);
            }
            for g in strs(&r.props["vpc_security_group_ids"]) {
                c = c.vpc_security_groups(
                    VpcSecurityGroupMembership::builder()
                        .vpc_security_group_id(g)
                        .status("active")
                        .build(),
                );
            }
            let mut t = t.clone();
            t.insert(TAG_PASSWORD_ID.into(), s(&r, "password_id").into());
            t.insert(
                TAG_PASSWORD_SECRET.into(),
                s(&r, "master_password_secret").into(),
            );
            let c = c.build();
            let mut o = Observed::new(r.id.clone(), s(&r, "identifier"));
            o.props = cluster_props(&c, &t, Some(s(&r, "engine_version")));
            o.attrs = cluster_attrs(&c);
            return o;
        }
        EVENT_SUB => {
            let e = event_sub(&r, flag(&r, "enabled"), None);
            let mut o = Observed::new(r.id.clone(), s(&r, "name"));
            o.props = to_props(&EventSubProps::observed(&e, t.clone()));
            return o;
        }
        INSTANCE => {
            let i = instance(&r, s(&r, "instance_class"), None);
            let mut o = Observed::new(r.id.clone(), s(&r, "identifier"));
            o.props = instance_props(&i);
            o
        }
        k => panic!("no live form for {k}"),
    };
    o.props.insert("tags".into(), tags_prop(&t));
    o
}

/// A subscription as DocumentDB describes it: categories as given (else the desired ones, in
/// AWS's own order and case), source ids in reverse.
fn event_sub(r: &Resource, enabled: bool, categories: Option<&[&str]>) -> EventSubscription {
    let mut b = EventSubscription::builder()
        .cust_subscription_id(s(r, "name"))
        .event_subscription_arn(format!("arn:aws:rds:us-east-1:1:es:{}", s(r, "name")))
        .sns_topic_arn(s(r, "sns_topic_arn"))
        .source_type(s(r, "source_type"))
        .status("active")
        .enabled(enabled);
    for i in strs(&r.props["source_ids"]).into_iter().rev() {
        b = b.source_ids_list(i);
    }
    let cats: Vec<String> = match categories {
        Some(c) => c.iter().map(|c| c.to_string()).collect(),
        None => strs(&r.props["event_categories"])
            .into_iter()
            .rev()
            .map(|c| c.to_uppercase())
            .collect(),
    };
    for c in cats {
        b = b.event_categories_list(c);
    }
    b.build()
}

fn instance(r: &Resource, class: &str, pending: Option<&str>) -> DbInstance {
    let mut b = DbInstance::builder()
        .db_instance_identifier(s(r, "identifier"))
        .db_cluster_identifier(s(r, "cluster_identifier"))
        .db_instance_class(class)
        .availability_zone(s(r, "availability_zone"))
        .engine("docdb")
        .db_instance_status("available");
    if let Some(p) = pending {
        b = b.pending_modified_values(
            PendingModifiedValues::builder()
                .db_instance_class(p)
                .build(),
        );
    }
    b.build()
}

/// The whole env (network, secrets, DocumentDB) as desired, and live exactly so.
fn world(spec: &Spec) -> (Vec<Resource>, Vec<Observed>) {
    let rs = crate::reconcile::expand(spec);
    let obs = rs.iter().map(|r| live(r, &rs)).collect();
    (rs, obs)
}

fn plan_of(desired: &[Resource], observed: &[Observed], destroy: bool) -> Plan {
    let mut p = diff_of("dev", desired, observed, destroy);
    for c in &p.changes {
        if let Some(m) = guard(c) {
            p.conflicts.push(crate::plan::Conflict {
                id: c.id.clone(),
                physical_id: c.physical_id().unwrap_or_default().into(),
                message: m,
            });
        }
    }
    p
}

fn only_change<'a>(p: &'a Plan, id: &str) -> &'a Change {
    assert_eq!(
        p.changes
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>(),
        [id],
        "{:#?}",
        p.changes
    );
    &p.changes[0]
}

fn paths(c: &Change) -> Vec<&str> {
    c.fields.iter().map(|f| f.path.as_str()).collect()
}

fn with(obs: &mut [Observed], id: &str, f: impl FnOnce(&mut Observed)) {
    f(obs.iter_mut().find(|o| o.id.to_string() == id).unwrap())
}

// --- diff ----------------------------------------------------------------------------------

#[test]
fn what_aws_answers_for_the_desired_state_diffs_empty() {
    for s in [dev(), prod()] {
        let (rs, obs) = world(&s);
        let p = plan_of(&rs, &obs, false);
        assert!(p.changes.is_empty(), "{}: {:#?}", s.env, p.changes);
        assert!(p.conflicts.is_empty());
    }
}

#[test]
fn a_pending_class_change_counts_as_done() {
    let (rs, mut obs) = world(&prod());
    let desired = resolve(get(&rs, "docdb_instance/1"), &rs);
    // Live: still the old class, the new one held for the maintenance window.
    with(&mut obs, "docdb_instance/1", |o| {
        let tags = o.props["tags"].clone();
        o.props = instance_props(&instance(&desired, "db.r5.large", Some("db.r6g.large")));
        o.props.insert("tags".into(), tags);
    });
    assert!(plan_of(&rs, &obs, false).changes.is_empty());

    // Without the pending value it is a change of exactly that field, in place.
    with(&mut obs, "docdb_instance/1", |o| {
        let tags = o.props["tags"].clone();
        o.props = instance_props(&instance(&desired, "db.r5.large", None));
        o.props.insert("tags".into(), tags);
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_instance/1");
    assert_eq!(c.action, Action::Update);
    assert_eq!(paths(c), ["instance_class"]);
}

#[test]
fn drifted_settings_are_in_place_updates_of_exactly_those_fields() {
    let (rs, mut obs) = world(&prod());
    with(&mut obs, "docdb_cluster/main", |o| {
        o.props
            .insert("backup_retention_period".into(), Value::Int(3));
        o.props
            .insert("deletion_protection".into(), Value::Bool(false));
        o.props.insert(
            "enabled_cloudwatch_logs_exports".into(),
            Value::List(vec![Value::str("audit")]),
        );
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_cluster/main");
    assert_eq!(c.action, Action::Update);
    assert_eq!(
        paths(c),
        [
            "backup_retention_period",
            "deletion_protection",
            "enabled_cloudwatch_logs_exports"
        ]
    );
    assert!(
        p.conflicts.is_empty(),
        "an update of a protected cluster is fine"
    );
}

#[test]
fn a_new_password_is_an_update_that_never_shows_the_password() {
    let (rs, mut obs) = world(&dev());
    with(&mut obs, "docdb_cluster/main", |o| {
        o.props
            .insert("password_id".into(), Value::str("old-generation"));
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_cluster/main");
    assert_eq!(c.action, Action::Update);
    assert_eq!(paths(c), ["password_id"]);

    // The secret being created again: the id is unknown until then, still an update.
    let (rs, mut obs) = world(&dev());
    obs.retain(|o| o.id.to_string() != "secret/docdb");
    let p = plan_of(&rs, &obs, false);
    let cluster = p.changes.iter().find(|c| c.id.kind == CLUSTER).unwrap();
    assert_eq!(cluster.action, Action::Update);
    assert_eq!(paths(cluster), ["master_password_secret", "password_id"]);
}

#[test]
fn engine_downgrade_encryption_subnet_group_and_username_force_a_replace() {
    type Drift = Box<dyn Fn(&mut Observed)>;
    let cases: [(&str, Drift, &str); 4] = [
        (
            "engine",
            Box::new(|o| {
                o.props.insert("engine_version".into(), Value::str("6.0.0"));
                o.props.insert(
                    ENGINE_DOWNGRADE.into(),
                    Value::str("6.0.0 to 5.0.0: DocumentDB cannot downgrade in place"),
                );
            }),
            "engine_version_downgrade cannot change in place",
        ),
        (
            "encryption",
            Box::new(|o| {
                o.props
                    .insert("storage_encrypted".into(), Value::Bool(false));
            }),
            "storage_encrypted cannot change in place",
        ),
        (
            "subnet group",
            Box::new(|o| {
                o.props
                    .insert("db_subnet_group_name".into(), Value::str("default"));
            }),
            "db_subnet_group_name cannot change in place",
        ),
        (
            "username",
            Box::new(|o| {
                o.props
                    .insert("master_username".into(), Value::str("other"));
            }),
            "master_username cannot change in place",
        ),
    ];
    for (what, change, reason) in cases {
        let (rs, mut obs) = world(&dev());
        with(&mut obs, "docdb_cluster/main", change);
        let p = plan_of(&rs, &obs, false);
        let c = p.changes.iter().find(|c| c.id.kind == CLUSTER).unwrap();
        assert_eq!(c.action, Action::Replace, "{what}");
        assert_eq!(c.reason.as_deref(), Some(reason), "{what}");
        // The instances go and come back with their cluster (their cluster id is unknown).
        let i = p.changes.iter().find(|c| c.id.kind == INSTANCE).unwrap();
        assert_eq!(i.action, Action::Replace, "{what}");
        assert!(p.conflicts.is_empty(), "dev is not protected: {what}");
    }
}

#[test]
fn observe_flags_a_downgrade_but_not_an_upgrade() {
    let c = DbCluster::builder().engine_version("5.0.0").build();
    let t = BTreeMap::new();
    assert_eq!(
        cluster_props(&c, &t, Some("4.0.0"))[ENGINE_DOWNGRADE],
        Value::str("5.0.0 to 4.0.0: DocumentDB cannot downgrade in place")
    );
    assert_eq!(
        cluster_props(&c, &t, Some("5.0.0"))[ENGINE_DOWNGRADE],
        Value::Null
    );
    let old = DbCluster::builder().engine_version("4.0.0").build();
    assert_eq!(
        cluster_props(&old, &t, Some("5.0.0"))[ENGINE_DOWNGRADE],
        Value::Null
    );
    assert_eq!(
        cluster_props(&c, &t, None)[ENGINE_DOWNGRADE],
        Value::Null,
        "destroy"
    );
    assert_eq!(
        cluster_props(
            &DbCluster::builder().engine_version("10.0.0").build(),
            &t,
            Some("5.0.0")
        )[ENGINE_DOWNGRADE]
            .as_str()
            .map(|s| s.starts_with("10.0.0 to 5.0.0")),
        Some(true),
        "versions compare as numbers"
    );
}

#[test]
fn an_engine_upgrade_is_in_place_with_a_new_parameter_group() {
    let text4 = format!("{}engine_version = \"4.0.0\"\n", dev_text());
    let (_, obs) = world(&parse_as("dev", &text4));
    let (rs, _) = world(&dev());
    let p = plan_of(&rs, &obs, false);
    let action = |x: &str| {
        p.changes
            .iter()
            .find(|c| c.id.to_string() == x)
            .map(|c| c.action)
    };
    assert_eq!(action("docdb_param_group/main"), Some(Action::Replace));
    assert_eq!(action("docdb_cluster/main"), Some(Action::Update));
    assert_eq!(action("docdb_instance/1"), None);
    let c = p.changes.iter().find(|c| c.id.kind == CLUSTER).unwrap();
    assert_eq!(
        paths(c),
        ["db_cluster_parameter_group_name", "engine_version"]
    );
}

#[test]
fn instance_count_changes_add_and_remove_instances() {
    let (_, obs) = world(&prod());
    let three = parse_as("prod", &PROD.replace("instances = 2", "instances = 3"));
    let (rs3, _) = world(&three);
    let mut p = plan_of(&rs3, &obs, false);
    // The instance subscription takes the new id (its own test).
    p.changes.retain(|c| c.id.kind != EVENT_SUB);
    let c = only_change(&p, "docdb_instance/3");
    assert_eq!(c.action, Action::Create);
    assert_eq!(
        c.desired.as_ref().unwrap().get_str("availability_zone"),
        Some("us-east-1c")
    );

    let one = parse_as("prod", &PROD.replace("instances = 2", "instances = 1"));
    let (rs1, _) = world(&one);
    let mut p = plan_of(&rs1, &obs, false);
    p.changes.retain(|c| c.id.kind != EVENT_SUB);
    let c = only_change(&p, "docdb_instance/2");
    assert_eq!(c.action, Action::Delete);
}

// --- guard ---------------------------------------------------------------------------------

fn observed_cluster(protected: bool) -> Observed {
    Observed::new(id("docdb_cluster/main"), "rtech-prod-docdb")
        .prop("deletion_protection", Value::Bool(protected))
}

fn change(action: Action, prior: Observed) -> Change {
    Change {
        id: prior.id.clone(),
        action,
        reason: None,
        name: String::new(),
        fields: vec![],
        desired: None,
        prior: Some(prior),
        create_first: false,
    }
}

#[test]
fn guard_refuses_deleting_or_replacing_a_protected_cluster() {
    let msg = "refused: docdb_cluster/main (rtech-prod-docdb) has deletion protection on; set docdb.deletion_protection = false in the spec and apply, then destroy";
    assert_eq!(
        guard(&change(Action::Delete, observed_cluster(true))).as_deref(),
        Some(msg)
    );
    assert_eq!(
        guard(&change(Action::Replace, observed_cluster(true))).as_deref(),
        Some(msg)
    );
    assert_eq!(guard(&change(Action::Update, observed_cluster(true))), None);
    assert_eq!(
        guard(&change(Action::Delete, observed_cluster(false))),
        None
    );
    let instance = Observed::new(id("docdb_instance/1"), "rtech-prod-docdb-1")
        .prop("deletion_protection", Value::Bool(true));
    assert_eq!(guard(&change(Action::Delete, instance)), None);
    // Through the trait, as the plan calls it.
    assert_eq!(
        Registry::all()
            .kind("docdb_cluster")
            .unwrap()
            .guard(&change(Action::Delete, observed_cluster(true)))
            .as_deref(),
        Some(msg)
    );
}

#[test]
fn destroying_a_protected_env_is_refused_and_an_unprotected_one_deletes_in_order() {
    let (_, obs) = world(&prod());
    let p = plan_of(&[], &obs, true);
    assert_eq!(p.conflicts.len(), 1, "{:#?}", p.conflicts);
    assert_eq!(p.conflicts[0].id, id("docdb_cluster/main"));

    let (_, mut obs) = world(&dev());
    // Observed dependencies, as observe records them.
    with(&mut obs, "docdb_instance/1", |o| {
        o.deps.insert(id("docdb_cluster/main"));
    });
    with(&mut obs, "docdb_cluster/main", |o| {
        for d in [
            "docdb_subnet_group/main",
            "docdb_param_group/main",
            "sg/docdb",
        ] {
            o.deps.insert(id(d));
        }
    });
    with(&mut obs, "docdb_subnet_group/main", |o| {
        o.deps.insert(id("subnet/private-a"));
    });
    let p = plan_of(&[], &obs, true);
    assert!(p.conflicts.is_empty());
    let pos = |x: &str| {
        p.changes
            .iter()
            .position(|c| c.id.to_string() == x)
            .unwrap()
    };
    assert!(pos("docdb_instance/1") < pos("docdb_cluster/main"));
    assert!(pos("docdb_cluster/main") < pos("docdb_subnet_group/main"));
    assert!(pos("docdb_cluster/main") < pos("docdb_param_group/main"));
    assert!(pos("docdb_cluster/main") < pos("sg/docdb"));
    assert!(pos("docdb_subnet_group/main") < pos("subnet/private-a"));
    // And the executor's steps follow those edges.
    let steps = crate::plan::steps::steps(&p.changes).unwrap();
    let step_of = |x: &str| {
        steps
            .iter()
            .position(|s| p.changes[s.change].id.to_string() == x)
            .unwrap()
    };
    assert!(steps[step_of("docdb_cluster/main")]
        .after
        .contains(&step_of("docdb_instance/1")));
}

// --- normalisers -----------------------------------------------------------------------------

#[test]
fn password_tags_are_properties_not_tags() {
    let t: BTreeMap<String, String> = [
        ("Name", "x"),
        (TAG_PASSWORD_ID, "gen"),
        (TAG_PASSWORD_SECRET, "arn:secret"),
        (TAG_FINAL_SNAPSHOT, "skip"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let props = cluster_props(&DbCluster::builder().build(), &t, None);
    let tags = props["tags"].as_map().unwrap();
    assert_eq!(
        tags.keys().collect::<Vec<_>>(),
        ["Name", TAG_FINAL_SNAPSHOT]
    );
    assert_eq!(props["password_id"], Value::str("gen"));
    assert_eq!(props["master_password_secret"], Value::str("arn:secret"));
    // Without the tags (removed out of band): unknown, so the next apply resets the password.
    let bare = cluster_props(&DbCluster::builder().build(), &BTreeMap::new(), None);
    assert_eq!(bare["password_id"], Value::Null);
}

#[test]
fn aws_tags_are_dropped_and_attrs_carry_what_dependants_need() {
    let t = tag_map(&[
        Tag::builder()
            .key("aws:cloudformation:stack")
            .value("x")
            .build(),
        Tag::builder().key("Name").value("n").build(),
    ]);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["Name"]);
    let c = DbCluster::builder()
        .db_cluster_identifier("rtech-dev-docdb")
        .db_cluster_arn("arn:aws:rds:us-east-1:1:cluster:rtech-dev-docdb")
        .endpoint("w.example")
        .reader_endpoint("r.example")
        .port(27017)
        .build();
    let a = cluster_attrs(&c);
    assert_eq!(a["id"], "rtech-dev-docdb");
    assert_eq!(a["arn"], "arn:aws:rds:us-east-1:1:cluster:rtech-dev-docdb");
    assert_eq!(a["endpoint"], "w.example");
    assert_eq!(a["reader_endpoint"], "r.example");
    assert_eq!(a["port"], "27017");
}

#[test]
fn missing_parameters_read_as_engine_defaults() {
    let g = DbClusterParameterGroup::builder()
        .db_cluster_parameter_group_name("rtech-dev-docdb5")
        .db_parameter_group_family("docdb5.0")
        .build();
    let props = param_group_props(&g, &[]);
    let p = props["parameters"].as_map().unwrap();
    assert_eq!(p["tls"], Value::str("enabled"));
    assert_eq!(p["audit_logs"], Value::str("disabled"));
    assert_eq!(p["profiler"], Value::str("disabled"));
    // Parameters rtech does not manage are ignored.
    let other = Parameter::builder()
        .parameter_name("ttl_monitor")
        .parameter_value("disabled")
        .build();
    assert_eq!(
        param_group_props(&g, &[other])["parameters"]
            .as_map()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn only_changed_parameters_are_sent_with_their_apply_method() {
    let after: BTreeMap<String, String> = [
        ("audit_logs", "enabled"),
        ("profiler", "enabled"),
        ("tls", "disabled"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut before = after.clone();
    before.insert("tls".into(), "enabled".to_string());
    let sent = parameters(&after, Some(&before));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].parameter_name(), Some("tls"));
    assert_eq!(sent[0].apply_method(), Some(&ApplyMethod::PendingReboot));
    let all = parameters(&after, None);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].apply_method(), Some(&ApplyMethod::Immediate));
}

#[test]
fn two_subnets_in_one_az_both_show() {
    let sub = |id: &str, az: &str| {
        Subnet::builder()
            .subnet_identifier(id)
            .subnet_availability_zone(AvailabilityZone::builder().name(az).build())
            .build()
    };
    let g = DbSubnetGroup::builder()
        .subnets(sub("subnet-1", "us-east-1a"))
        .subnets(sub("subnet-2", "us-east-1a"))
        .build();
    let m = subnet_group_props(&g)["subnet_ids"]
        .as_map()
        .unwrap()
        .clone();
    assert_eq!(
        m.keys().collect::<Vec<_>>(),
        ["us-east-1a", "us-east-1a#subnet-2"]
    );
}

#[test]
fn final_snapshot_names_carry_the_utc_time() {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    assert_eq!(
        final_snapshot_id("rtech-prod-docdb", t),
        "rtech-prod-docdb-final-20261118110640"
    );
}

// --- the [docdb] spec section ------------------------------------------------------------------

fn spec_errors(docdb: &str) -> Vec<crate::spec::SpecError> {
    let text = format!("{DEV_2AZ}\n[docdb]\n{docdb}");
    crate::spec::parse("envs/dev.toml", &text, "dev").expect_err("invalid")
}

/// The one error, and the 1-based line of `needle` in the spec text.
fn located(docdb: &str, needle: &str) -> (crate::spec::SpecError, usize) {
    let errs = spec_errors(docdb);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let text = format!("{DEV_2AZ}\n[docdb]\n{docdb}");
    let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    (errs[0].clone(), line)
}

#[test]
fn bad_instance_class_is_located() {
    let (e, line) = located("instance_class = \"db.m9.huge\"\n", "db.m9.huge");
    assert_eq!(
        (e.line, e.col, e.path.as_str()),
        (line, 18, "docdb.instance_class")
    );
    assert!(e.message.contains("db.<family>.<size>"), "{}", e.message);
    assert!(e
        .to_string()
        .starts_with(&format!("envs/dev.toml:{line}:18: docdb.instance_class:")));
}

#[test]
fn retention_outside_1_to_35_is_located() {
    for bad in ["0", "36"] {
        let (e, line) = located(
            &format!("backup_retention_days = {bad}\n"),
            "backup_retention_days",
        );
        assert_eq!(
            (e.line, e.path.as_str()),
            (line, "docdb.backup_retention_days")
        );
        assert!(e.message.contains("out of range: 1 to 35"), "{}", e.message);
    }
}

#[test]
fn malformed_windows_are_located() {
    let (e, line) = located("backup_window = \"3am-4am\"\n", "3am");
    assert_eq!(
        (e.line, e.col, e.path.as_str()),
        (line, 17, "docdb.backup_window")
    );
    assert!(e.message.contains("hh:mm-hh:mm"), "{}", e.message);
    let (e, line) = located(
        "maintenance_window = \"sunday:04:00-sun:05:00\"\n",
        "sunday",
    );
    assert_eq!(
        (e.line, e.path.as_str()),
        (line, "docdb.maintenance_window")
    );
    assert!(e.message.contains("ddd:hh:mm-ddd:hh:mm"), "{}", e.message);
}

#[test]
fn overlapping_backup_and_maintenance_windows_are_located() {
    let (e, line) = located(
        "backup_window = \"03:00-04:00\"\nmaintenance_window = \"tue:03:30-tue:04:30\"\n",
        "maintenance_window",
    );
    assert_eq!(
        (e.line, e.path.as_str()),
        (line, "docdb.maintenance_window")
    );
    assert!(
        e.message.contains("overlaps the backup window"),
        "{}",
        e.message
    );
}

#[test]
fn the_repo_envs_docdb_sections_are_valid() {
    for env in ["dev", "staging", "prod"] {
        let s = env_spec(env);
        if let Some(d) = &s.docdb {
            let rs = expand(&s);
            assert_eq!(
                rs.iter().filter(|r| r.id.kind == INSTANCE).count(),
                d.instances as usize
            );
        }
    }
}

#[test]
fn an_upgrade_deferred_to_the_maintenance_window_counts_as_done() {
    let live = DbCluster::builder().engine_version("4.0.0").build();
    let mut t = BTreeMap::new();
    t.insert(TAG_PENDING_ENGINE.to_string(), "5.0.0".to_string());
    let props = cluster_props(&live, &t, Some("5.0.0"));
    assert_eq!(
        props["engine_version"],
        Value::str("5.0.0"),
        "pending counts as done"
    );
    assert_eq!(props[ENGINE_DOWNGRADE], Value::Null);
    assert!(
        !crate::model::Value::as_map(&props["tags"])
            .is_some_and(|m| m.contains_key(TAG_PENDING_ENGINE)),
        "bookkeeping, not a tag"
    );
    // Once AWS has upgraded, the live version speaks for itself.
    let upgraded = DbCluster::builder().engine_version("5.0.0").build();
    assert_eq!(
        cluster_props(&upgraded, &t, Some("5.0.0"))["engine_version"],
        Value::str("5.0.0")
    );
    // Without the record, the live version is what it is.
    assert_eq!(
        cluster_props(&live, &BTreeMap::new(), Some("5.0.0"))["engine_version"],
        Value::str("4.0.0")
    );
}

// --- copy_tags_to_snapshot -----------------------------------------------------------------

#[test]
fn copy_tags_to_snapshot_is_on_unless_the_spec_turns_it_off_and_drift_shows() {
    let on = |s: &Spec| s.docdb.as_ref().unwrap().copy_tags_to_snapshot;
    assert!(on(&dev()), "default: snapshots carry the cluster's tags");
    assert!(on(&prod()));
    let off = parse_as(
        "dev",
        &format!("{}copy_tags_to_snapshot = false\n", dev_text()),
    );
    assert!(!on(&off));
    let c = get(&crate::reconcile::expand(&off), "docdb_cluster/main").clone();
    assert_eq!(c.props["copy_tags_to_snapshot"], Value::Bool(false));

    // Turned off out of band: an in-place update of exactly that field.
    let (rs, mut obs) = world(&prod());
    with(&mut obs, "docdb_cluster/main", |o| {
        o.props
            .insert("copy_tags_to_snapshot".into(), Value::Bool(false));
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_cluster/main");
    assert_eq!(c.action, Action::Update);
    assert_eq!(paths(c), ["copy_tags_to_snapshot"]);
}

#[test]
fn copy_tags_to_snapshot_of_the_wrong_type_is_located() {
    let errs = spec_errors("copy_tags_to_snapshot = \"yes\"\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    let text = format!("{DEV_2AZ}\n[docdb]\ncopy_tags_to_snapshot = \"yes\"\n");
    let line = text
        .lines()
        .position(|l| l.contains("copy_tags_to_snapshot"))
        .unwrap()
        + 1;
    assert_eq!(errs[0].line, line, "{}", errs[0]);
    assert!(
        errs[0].to_string().starts_with("envs/dev.toml:"),
        "{}",
        errs[0]
    );
}

// --- event subscriptions -------------------------------------------------------------------

fn sub_props(rs: &[Resource], id: &str) -> EventSubProps {
    crate::reconcile::kit::from_props(&resolve(get(rs, id), rs).props).unwrap()
}

#[test]
fn event_subscriptions_send_cluster_and_instance_events_to_the_alerts_topic() {
    let rs = crate::reconcile::expand(&prod());
    let c = sub_props(&rs, "docdb_event_sub/cluster");
    assert_eq!(c.name, "rtech-prod-docdb-cluster-events");
    assert_eq!(c.source_type, "db-cluster");
    assert_eq!(c.source_ids, ["rtech-prod-docdb"]);
    assert_eq!(c.event_categories, CLUSTER_CATEGORIES);
    assert!(c.enabled);
    assert_eq!(
        c.sns_topic_arn.require("sns_topic_arn").unwrap(),
        "sns_topic/alerts:arn"
    );
    let i = sub_props(&rs, "docdb_event_sub/instance");
    assert_eq!(i.source_type, "db-instance");
    assert_eq!(i.source_ids, ["rtech-prod-docdb-1", "rtech-prod-docdb-2"]);
    assert_eq!(i.event_categories, INSTANCE_CATEGORIES);
    assert!(i.event_categories.contains(&"failure".to_string()));
    assert!(c.event_categories.contains(&"failover".to_string()));
    // Created after what they name and the topic they publish to.
    let deps = |id: &str| get(&rs, id).deps.clone();
    assert!(deps("docdb_event_sub/cluster").contains(&id("docdb_cluster/main")));
    assert!(deps("docdb_event_sub/cluster").contains(&id("sns_topic/alerts")));
    assert!(deps("docdb_event_sub/instance").contains(&id("docdb_instance/2")));
    assert_eq!(
        tags_of(get(&rs, "docdb_event_sub/cluster"))["rtech:id"],
        "docdb_event_sub/cluster"
    );
}

#[test]
fn without_the_alerts_topic_there_are_no_event_subscriptions() {
    let quiet = parse_as(
        "dev",
        &format!("{}\n[monitoring]\nalarms_enabled = false\n", dev_text()),
    );
    assert!(!crate::reconcile::sns::wanted(&quiet));
    assert!(!crate::reconcile::expand(&quiet)
        .iter()
        .any(|r| r.id.kind == EVENT_SUB));
}

#[test]
fn a_disabled_subscription_or_changed_categories_are_exactly_that_drift() {
    let (rs, mut obs) = world(&prod());
    let desired = resolve(get(&rs, "docdb_event_sub/instance"), &rs);
    with(&mut obs, "docdb_event_sub/instance", |o| {
        let tags = o.props["tags"].clone();
        o.props = to_props(&EventSubProps::observed(
            &event_sub(&desired, false, None),
            BTreeMap::new(),
        ));
        o.props.insert("tags".into(), tags);
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_event_sub/instance");
    assert_eq!((c.action, paths(c)), (Action::Update, vec!["enabled"]));

    let (rs, mut obs) = world(&prod());
    with(&mut obs, "docdb_event_sub/cluster", |o| {
        let tags = o.props["tags"].clone();
        let desired = resolve(get(&rs, "docdb_event_sub/cluster"), &rs);
        o.props = to_props(&EventSubProps::observed(
            &event_sub(&desired, true, Some(&["FAILOVER"])),
            BTreeMap::new(),
        ));
        o.props.insert("tags".into(), tags);
    });
    let p = plan_of(&rs, &obs, false);
    let c = only_change(&p, "docdb_event_sub/cluster");
    assert_eq!(
        (c.action, paths(c)),
        (Action::Update, vec!["event_categories"])
    );

    // Another source type can only be replaced.
    let (rs, mut obs) = world(&prod());
    with(&mut obs, "docdb_event_sub/cluster", |o| {
        o.props
            .insert("source_type".into(), Value::str("db-instance"));
    });
    let p = plan_of(&rs, &obs, false);
    assert_eq!(
        only_change(&p, "docdb_event_sub/cluster").action,
        Action::Replace
    );
}

#[test]
fn an_extra_instance_adds_its_id_to_the_instance_subscription() {
    let (_, obs) = world(&prod());
    let three = parse_as("prod", &PROD.replace("instances = 2", "instances = 3"));
    let rs = crate::reconcile::expand(&three);
    let p = plan_of(&rs, &obs, false);
    let c = p
        .changes
        .iter()
        .find(|c| c.id == id("docdb_event_sub/instance"))
        .expect("the subscription changes");
    assert_eq!((c.action, paths(c)), (Action::Update, vec!["source_ids"]));
    let (add, remove) = source_changes(
        &["a".to_string(), "b".to_string()],
        &["b".to_string(), "c".to_string()],
    );
    assert_eq!(
        (add, remove),
        (vec!["c".to_string()], vec!["a".to_string()])
    );
}

fn docdb_client() -> aws_sdk_docdb::Client {
    crate::offline_client!(aws_sdk_docdb)
}

#[test]
fn subscription_requests_carry_the_spec_and_only_what_changed() {
    let rs = crate::reconcile::expand(&prod());
    let p = sub_props(&rs, "docdb_event_sub/instance");
    let c = docdb_client();
    let req = create_request(&c, &p).unwrap();
    assert_eq!(
        req.get_subscription_name().as_deref(),
        Some("rtech-prod-docdb-instance-events")
    );
    assert_eq!(
        req.get_sns_topic_arn().as_deref(),
        Some("sns_topic/alerts:arn")
    );
    assert_eq!(req.get_source_type().as_deref(), Some("db-instance"));
    assert_eq!(req.get_source_ids().clone().unwrap(), p.source_ids);
    assert_eq!(
        req.get_event_categories().clone().unwrap(),
        p.event_categories
    );
    assert_eq!(req.get_enabled(), &Some(true));
    assert!(req
        .get_tags()
        .iter()
        .flatten()
        .any(|t| t.key() == Some("rtech:id") && t.value() == Some("docdb_event_sub/instance")));

    let changed = |k: &[&str]| k.iter().map(|s| s.to_string()).collect();
    assert!(modify_request(&c, &p, &changed(&["tags"]))
        .unwrap()
        .is_none());
    assert!(modify_request(&c, &p, &changed(&["source_ids"]))
        .unwrap()
        .is_none());
    let m = modify_request(&c, &p, &changed(&["enabled"]))
        .unwrap()
        .unwrap();
    assert_eq!(m.get_enabled(), &Some(true));
    assert!(m.get_event_categories().is_none() && m.get_sns_topic_arn().is_none());
    let m = modify_request(&c, &p, &changed(&["event_categories"]))
        .unwrap()
        .unwrap();
    assert_eq!(
        m.get_event_categories().clone().unwrap(),
        p.event_categories
    );
    assert_eq!(m.get_enabled(), &None);

    // An unresolved topic is an error, not an empty ARN.
    let unresolved: EventSubProps =
        crate::reconcile::kit::from_props(&get(&rs, "docdb_event_sub/cluster").props).unwrap();
    assert!(create_request(&c, &unresolved).is_err());
}

#[test]
fn a_live_subscription_reads_back_sorted_and_lower_case() {
    let rs = crate::reconcile::expand(&prod());
    let r = resolve(get(&rs, "docdb_event_sub/instance"), &rs);
    let e = event_sub(&r, true, Some(&["Failure", "AVAILABILITY", "recovery"]));
    let p = EventSubProps::observed(&e, BTreeMap::new());
    assert_eq!(p.event_categories, ["availability", "failure", "recovery"]);
    assert_eq!(p.source_ids, ["rtech-prod-docdb-1", "rtech-prod-docdb-2"]);
    assert_eq!(
        super::event_sub::sub_attrs(&e)["arn"],
        "arn:aws:rds:us-east-1:1:es:rtech-prod-docdb-instance-events"
    );
}

#[test]
fn our_instances_stand_for_the_subnet_groups_describe_only_when_they_hold_every_one() {
    use super::observe::subnet_groups_from_instances;
    use crate::reconcile::kit::tag_index::TagIndex;
    use aws_sdk_docdb::types::{DbInstance, DbSubnetGroup, Subnet};
    let tags = |env: &str, id: &str| -> BTreeMap<String, String> {
        [
            ("rtech:project".to_string(), "rtech".to_string()),
            ("rtech:env".to_string(), env.to_string()),
            ("rtech:id".to_string(), id.to_string()),
        ]
        .into()
    };
    let arn = "arn:aws:rds:us-east-1:1:subgrp:rtech-prod-docdb";
    let index = TagIndex::from_pairs([
        (arn.to_string(), tags("prod", "docdb_subnet_group/main")),
        (
            "arn:aws:rds:us-east-1:1:cluster:rtech-prod-docdb".to_string(),
            tags("prod", "docdb_cluster/main"),
        ),
    ]);
    let instance = |group: &str| {
        DbInstance::builder()
            .db_instance_identifier("rtech-prod-docdb-1")
            .db_subnet_group(
                DbSubnetGroup::builder()
                    .db_subnet_group_name(group)
                    .db_subnet_group_description("d")
                    .subnets(Subnet::builder().subnet_identifier("subnet-1").build())
                    .build(),
            )
            .build()
    };
    let scope = ("rtech", "prod", "us-east-1");
    let ours = instance("rtech-prod-docdb");
    let wanted = vec!["rtech-prod-docdb".to_string()];
    let got = subnet_groups_from_instances(&index, scope, &[&ours], &wanted).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].db_subnet_group_arn(), Some(arn));
    assert_eq!(got[0].subnets().len(), 1);
    // No instance (or one in another group): the Describe decides.
    assert!(subnet_groups_from_instances(&index, scope, &[], &wanted).is_none());
    let other = instance("someone-else");
    assert!(subnet_groups_from_instances(&index, scope, &[&other], &wanted).is_none());
    // A wanted group the index does not list (to create, or tagged too recently).
    let more = vec![
        "rtech-prod-docdb".to_string(),
        "rtech-prod-docdb-2".to_string(),
    ];
    assert!(subnet_groups_from_instances(&index, scope, &[&ours], &more).is_none());
    // An index that lists none (a destroy of an env it does not show yet): the Describe finds
    // what is left.
    let dev = ("rtech", "dev", "us-east-1");
    assert!(subnet_groups_from_instances(&index, dev, &[&ours], &[]).is_none());
}
