//! The pure diff, ordering, rendering and saved plans.

use std::collections::{BTreeMap, BTreeSet};

use super::render::{self, Style};
use super::saved::{self, SavedError};
use super::*;
use crate::model::{Observed, Ownership, Resource, ResourceId, Value};
use crate::testutil::actions;

// --- fixtures ----------------------------------------------------------------------------------

pub(super) fn rid(s: &str) -> ResourceId {
    s.parse().unwrap()
}

pub(super) fn tags(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect(),
    )
}

pub(super) fn vpc(cidr: &str) -> Resource {
    Resource::new(rid("vpc/main"), "rtech-dev-vpc")
        .prop("cidr_block", Value::str(cidr))
        .prop(
            "tags",
            tags(&[("Name", "rtech-dev-vpc"), ("rtech:id", "vpc/main")]),
        )
}

pub(super) fn vpc_live(cidr: &str) -> Observed {
    Observed::new(rid("vpc/main"), "vpc-1")
        .prop("cidr_block", Value::str(cidr))
        .prop(
            "tags",
            tags(&[("Name", "rtech-dev-vpc"), ("rtech:id", "vpc/main")]),
        )
}

pub(super) fn subnet(name: &str, cidr: &str) -> Resource {
    Resource::new(rid(&format!("subnet/{name}")), format!("rtech-dev-{name}"))
        .prop("vpc_id", Value::reference(&rid("vpc/main"), "id"))
        .prop("cidr_block", Value::str(cidr))
        .prop("map_public_ip_on_launch", Value::Bool(true))
}

pub(super) fn subnet_live(name: &str, physical: &str, cidr: &str) -> Observed {
    Observed::new(rid(&format!("subnet/{name}")), physical)
        .prop("vpc_id", Value::str("vpc-1"))
        .prop("cidr_block", Value::str(cidr))
        .prop("map_public_ip_on_launch", Value::Bool(true))
        .prop("tags", tags(&[("Name", &format!("rtech-dev-{name}"))]))
        .dep(&rid("vpc/main"))
}

fn input<'a>(
    desired: &'a [Resource],
    observed: &'a [Observed],
    targets: &'a [ResourceId],
    destroy: bool,
) -> DiffInput<'a> {
    crate::testutil::diff_input("dev", desired, observed, targets, destroy)
}

pub(super) fn plan(desired: &[Resource], observed: &[Observed]) -> Plan {
    diff(&input(desired, observed, &[], false)).expect("diff succeeds")
}

fn ids(p: &Plan) -> Vec<String> {
    p.changes.iter().map(|c| c.id.to_string()).collect()
}

fn change<'a>(p: &'a Plan, id: &str) -> &'a Change {
    p.changes
        .iter()
        .find(|c| c.id.to_string() == id)
        .unwrap_or_else(|| panic!("no change for {id}: {:?}", ids(p)))
}

fn field<'a>(c: &'a Change, path: &str) -> &'a FieldDiff {
    c.fields.iter().find(|f| f.path == path).unwrap_or_else(|| {
        panic!(
            "{}: no field {path}: {:?}",
            c.id,
            c.fields.iter().map(|f| &f.path).collect::<Vec<_>>()
        )
    })
}

fn paths(c: &Change) -> Vec<&str> {
    c.fields.iter().map(|f| f.path.as_str()).collect()
}

// --- diff: create / no-op / update -------------------------------------------------------------

#[test]
fn absent_resources_are_created_in_dependency_order() {
    let desired = [subnet("public-a", "10.0.1.0/24"), vpc("10.0.0.0/16")];
    let p = plan(&desired, &[]);
    assert_eq!(
        actions(&p),
        [
            ("vpc/main".into(), Action::Create),
            ("subnet/public-a".into(), Action::Create)
        ]
    );
    assert_eq!(p.unchanged, 0);

    let v = change(&p, "vpc/main");
    assert_eq!(v.reason, None);
    assert_eq!(v.name, "rtech-dev-vpc");
    assert!(v.prior.is_none());
    assert_eq!(v.desired.as_ref().unwrap(), &desired[1]);
    assert_eq!(paths(v), ["cidr_block", "tags.Name", "tags.rtech:id"]);
    let cidr = field(v, "cidr_block");
    assert_eq!(cidr.before, None);
    assert_eq!(cidr.after, Some(Value::str("10.0.0.0/16")));
    assert!(!cidr.forces_replacement, "creates never force replacement");

    // The subnet's vpc_id references a VPC that does not exist yet: unknown until apply.
    let s = change(&p, "subnet/public-a");
    assert_eq!(
        paths(s),
        ["cidr_block", "map_public_ip_on_launch", "vpc_id"]
    );
    let vpc_id = field(s, "vpc_id");
    assert!(vpc_id.after.as_ref().unwrap().is_unknown(), "{vpc_id:?}");
    assert_eq!(
        vpc_id.after.as_ref().unwrap().to_string(),
        "(known after apply)"
    );

    assert_eq!(
        p.summary(),
        Summary {
            add: 2,
            ..Summary::default()
        }
    );
    assert!(p.has_changes());
    assert_eq!(p.desired.len(), 2);
}

#[test]
fn references_to_existing_resources_resolve_to_their_attributes() {
    let p = plan(
        &[vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")],
        &[vpc_live("10.0.0.0/16")],
    );
    assert_eq!(actions(&p), [("subnet/public-a".into(), Action::Create)]);
    assert_eq!(
        field(&p.changes[0], "vpc_id").after,
        Some(Value::str("vpc-1"))
    );
    assert_eq!(p.unchanged, 1);
}

#[test]
fn equal_resources_are_unchanged() {
    let desired = [vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")];
    let mut s = subnet_live("public-a", "subnet-1", "10.0.1.0/24");
    // Live-only properties the spec does not manage are ignored; a Null desired matches absent.
    s.props.insert("tags".into(), Value::Map(BTreeMap::new()));
    let desired = [
        desired[0].clone(),
        desired[1].clone().prop("ipv6_cidr_block", Value::Null),
    ];
    let p = plan(&desired, &[vpc_live("10.0.0.0/16"), s]);
    assert!(p.changes.is_empty(), "{:?}", actions(&p));
    assert!(!p.has_changes());
    assert_eq!(p.unchanged, 2);
    assert_eq!(
        p.summary(),
        Summary {
            unchanged: 2,
            ..Summary::default()
        }
    );
}

#[test]
fn a_changed_updatable_field_is_an_update_with_a_field_diff() {
    let desired = [
        vpc("10.0.0.0/16"),
        subnet("public-a", "10.0.1.0/24").prop("map_public_ip_on_launch", Value::Bool(false)),
    ];
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = plan(&desired, &live);
    assert_eq!(actions(&p), [("subnet/public-a".into(), Action::Update)]);
    let c = &p.changes[0];
    assert_eq!(c.reason, None);
    assert_eq!(c.physical_id(), Some("subnet-1"));
    assert_eq!(c.prior.as_ref().unwrap(), &live[1]);
    assert_eq!(
        c.fields,
        [FieldDiff {
            path: "map_public_ip_on_launch".into(),
            before: Some(Value::Bool(true)),
            after: Some(Value::Bool(false)),
            sensitive: false,
            forces_replacement: false,
        }]
    );
    assert_eq!(
        c.changed_props(),
        BTreeSet::from(["map_public_ip_on_launch".to_string()])
    );
    assert_eq!(p.unchanged, 1);
    assert_eq!(p.summary().change, 1);
}

#[test]
fn tag_maps_diff_per_key() {
    let desired = [vpc("10.0.0.0/16").prop(
        "tags",
        tags(&[("Name", "renamed"), ("New", "n"), ("Same", "s")]),
    )];
    let live = [vpc_live("10.0.0.0/16").prop(
        "tags",
        tags(&[("Name", "rtech-dev-vpc"), ("Old", "o"), ("Same", "s")]),
    )];
    let p = plan(&desired, &live);
    assert_eq!(actions(&p), [("vpc/main".into(), Action::Update)]);
    let c = &p.changes[0];
    assert_eq!(paths(c), ["tags.Name", "tags.New", "tags.Old"]);
    assert_eq!(
        field(c, "tags.Name").before,
        Some(Value::str("rtech-dev-vpc"))
    );
    assert_eq!(field(c, "tags.Name").after, Some(Value::str("renamed")));
    assert_eq!(
        (
            field(c, "tags.New").before.clone(),
            field(c, "tags.New").after.clone()
        ),
        (None, Some(Value::str("n")))
    );
    assert_eq!(
        (
            field(c, "tags.Old").before.clone(),
            field(c, "tags.Old").after.clone()
        ),
        (Some(Value::str("o")), None)
    );
    assert_eq!(field(c, "tags.Name").prop(), "tags");
    assert_eq!(c.changed_props(), BTreeSet::from(["tags".to_string()]));
}

#[test]
fn a_live_resource_without_tags_gets_every_tag_added() {
    let mut live = vpc_live("10.0.0.0/16");
    live.props.remove("tags");
    let p = plan(&[vpc("10.0.0.0/16")], &[live]);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(paths(c), ["tags.Name", "tags.rtech:id"]);
    assert!(c
        .fields
        .iter()
        .all(|f| f.before.is_none() && f.after.is_some()));
}

// --- diff: replace -----------------------------------------------------------------------------

#[test]
fn a_changed_force_new_field_is_a_replace_with_the_reason() {
    let p = plan(&[vpc("10.1.0.0/16")], &[vpc_live("10.0.0.0/16")]);
    assert_eq!(actions(&p), [("vpc/main".into(), Action::Replace)]);
    let c = &p.changes[0];
    assert_eq!(
        c.reason.as_deref(),
        Some("cidr_block cannot change in place")
    );
    let f = field(c, "cidr_block");
    assert!(f.forces_replacement);
    assert_eq!(
        (f.before.clone(), f.after.clone()),
        (
            Some(Value::str("10.0.0.0/16")),
            Some(Value::str("10.1.0.0/16"))
        )
    );
    assert_eq!(
        p.summary(),
        Summary {
            replace: 1,
            ..Summary::default()
        }
    );
}

#[test]
fn replacing_a_parent_replaces_children_that_reference_it_in_a_force_new_field() {
    let desired = [
        vpc("10.1.0.0/16"),
        subnet("public-a", "10.1.1.0/24"),
        subnet("public-b", "10.0.2.0/24"),
    ];
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
        subnet_live("public-b", "subnet-2", "10.0.2.0/24"),
    ];
    let p = plan(&desired, &live);
    assert_eq!(
        actions(&p),
        [
            ("vpc/main".into(), Action::Replace),
            ("subnet/public-a".into(), Action::Replace),
            ("subnet/public-b".into(), Action::Replace),
        ]
    );
    // public-b's own fields are unchanged: only the VPC id it references becomes unknown.
    let b = change(&p, "subnet/public-b");
    assert_eq!(paths(b), ["vpc_id"]);
    let f = field(b, "vpc_id");
    assert_eq!(f.before, Some(Value::str("vpc-1")));
    assert!(f.after.as_ref().unwrap().is_unknown());
    assert!(f.forces_replacement);
    assert_eq!(b.reason.as_deref(), Some("vpc_id cannot change in place"));
    // Several forcing fields are all named, once each, in order.
    let a = change(&p, "subnet/public-a");
    assert_eq!(
        a.reason.as_deref(),
        Some("cidr_block, vpc_id cannot change in place")
    );
}

#[test]
fn updating_a_parent_in_place_leaves_children_alone() {
    let desired = [
        vpc("10.0.0.0/16").prop("enable_dns_support", Value::Bool(true)),
        subnet("public-a", "10.0.1.0/24"),
    ];
    let live = [
        vpc_live("10.0.0.0/16").prop("enable_dns_support", Value::Bool(false)),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = plan(&desired, &live);
    assert_eq!(actions(&p), [("vpc/main".into(), Action::Update)]);
    assert_eq!(p.unchanged, 1);
}

#[test]
fn a_reference_in_an_updatable_field_to_a_replaced_resource_is_an_update() {
    // A route's nat_gateway_id can change in place (ReplaceRoute).
    let nat = rid("nat/a");
    let desired = [
        Resource::new(nat.clone(), "rtech-dev-nat-a").prop("subnet_id", Value::str("subnet-new")),
        Resource::new(rid("route/private-a-default"), "")
            .prop("nat_gateway_id", Value::reference(&nat, "id")),
    ];
    let live = [
        Observed::new(nat.clone(), "nat-1").prop("subnet_id", Value::str("subnet-old")),
        Observed::new(rid("route/private-a-default"), "rtb-1_0.0.0.0/0")
            .prop("nat_gateway_id", Value::str("nat-1"))
            .dep(&nat),
    ];
    let p = plan(&desired, &live);
    assert_eq!(
        actions(&p),
        [
            ("nat/a".into(), Action::Replace),
            ("route/private-a-default".into(), Action::Update)
        ]
    );
    let f = field(change(&p, "route/private-a-default"), "nat_gateway_id");
    assert!(!f.forces_replacement);
    assert!(f.after.as_ref().unwrap().is_unknown());
}

// --- diff: delete ------------------------------------------------------------------------------

#[test]
fn owned_resources_not_in_the_spec_are_deleted_dependants_first() {
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
        Observed::new(rid("rta/public-a"), "rtbassoc-1").dep(&rid("subnet/public-a")),
    ];
    let p = plan(&[], &live);
    assert_eq!(
        actions(&p),
        [
            ("rta/public-a".into(), Action::Delete),
            ("subnet/public-a".into(), Action::Delete),
            ("vpc/main".into(), Action::Delete),
        ]
    );
    let s = change(&p, "subnet/public-a");
    assert_eq!(s.reason.as_deref(), Some("not in the spec"));
    assert_eq!(
        s.name, "rtech-dev-public-a",
        "the name comes from the Name tag"
    );
    assert_eq!(s.physical_id(), Some("subnet-1"));
    assert!(s.fields.is_empty());
    assert!(s.desired.is_none());
    assert_eq!(change(&p, "rta/public-a").name, "");
    assert_eq!(
        p.summary(),
        Summary {
            destroy: 3,
            ..Summary::default()
        }
    );
}

#[test]
fn deletes_come_after_creates_and_updates() {
    let desired = [
        vpc("10.0.0.0/16").prop("enable_dns_support", Value::Bool(true)),
        subnet("public-b", "10.0.2.0/24"),
    ];
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = plan(&desired, &live);
    assert_eq!(
        actions(&p),
        [
            ("vpc/main".into(), Action::Update),
            ("subnet/public-b".into(), Action::Create),
            ("subnet/public-a".into(), Action::Delete),
        ]
    );
}

#[test]
fn destroy_deletes_have_no_reason() {
    let p = diff(&input(&[], &[vpc_live("10.0.0.0/16")], &[], true)).unwrap();
    assert!(p.destroy);
    assert_eq!(actions(&p), [("vpc/main".into(), Action::Delete)]);
    assert_eq!(p.changes[0].reason, None);
}

// --- diff: ownership ---------------------------------------------------------------------------

fn foreign(o: Observed) -> Observed {
    Observed {
        ownership: Ownership::Foreign,
        ..o
    }
}

#[test]
fn a_foreign_resource_with_a_wanted_id_is_a_conflict_not_a_change() {
    let sg = rid("sg/app");
    let desired =
        [Resource::new(sg.clone(), "rtech-dev-app")
            .prop("group_name", Value::str("rtech-dev-app"))];
    let live = [foreign(
        Observed::new(sg.clone(), "sg-0f00").prop("group_name", Value::str("rtech-dev-app")),
    )];
    let p = plan(&desired, &live);
    assert!(p.changes.is_empty(), "{:?}", actions(&p));
    assert_eq!(p.unchanged, 0);
    assert_eq!(p.conflicts.len(), 1);
    let c = &p.conflicts[0];
    assert_eq!(c.id, sg);
    assert_eq!(c.physical_id, "sg-0f00");
    assert!(
        c.message
            .starts_with("conflict: rtech-dev-app (sg-0f00) already exists without rtech's tags"),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("will not modify or delete it"),
        "{}",
        c.message
    );
    assert!(
        c.message
            .contains("rtech:project=rtech rtech:env=dev rtech:id=sg/app"),
        "{}",
        c.message
    );
    assert_eq!(p.summary().conflict, 1);
    // What the plan read is fingerprinted, foreign or not.
    assert_eq!(p.fingerprints[&sg], live[0].fingerprint());
}

#[test]
fn a_conflict_of_a_kind_rtech_import_adopts_names_its_command() {
    let vpc = rid("vpc/main");
    let desired =
        [Resource::new(vpc.clone(), "rtech-dev").prop("cidr_block", Value::str("10.0.0.0/16"))];
    let live = [foreign(vpc_live("10.0.0.0/16"))];
    let p = plan(&desired, &live);
    assert_eq!(p.conflicts.len(), 1);
    let c = &p.conflicts[0];
    assert!(
        c.message.ends_with(&format!(
            "(delete or rename it, or adopt it with `rtech import --env dev vpc/main {}`)",
            c.physical_id
        )),
        "{}",
        c.message
    );
    assert!(!c.message.contains("rtech:id="), "{}", c.message);
}

#[test]
fn foreign_resources_are_never_deleted() {
    let p = plan(&[], &[foreign(vpc_live("10.0.0.0/16"))]);
    assert!(p.changes.is_empty());
    assert!(p.conflicts.is_empty());
}

#[test]
fn dependants_of_a_conflicting_resource_see_it_as_unknown() {
    let sg = rid("sg/app");
    let desired = [
        Resource::new(sg.clone(), "rtech-dev-app"),
        Resource::new(rid("sg_rule/app-out-all-0.0.0.0_0"), "")
            .prop("group_id", Value::reference(&sg, "id")),
    ];
    let p = plan(&desired, &[foreign(Observed::new(sg.clone(), "sg-0f00"))]);
    assert_eq!(
        actions(&p),
        [("sg_rule/app-out-all-0.0.0.0_0".into(), Action::Create)]
    );
    assert!(field(&p.changes[0], "group_id")
        .after
        .as_ref()
        .unwrap()
        .is_unknown());
}

// --- diff: targets and errors ------------------------------------------------------------------

#[test]
fn target_keeps_the_target_and_the_changes_it_depends_on() {
    let desired = [
        vpc("10.0.0.0/16"),
        subnet("public-a", "10.0.1.0/24"),
        subnet("public-b", "10.0.2.0/24"),
        Resource::new(rid("rta/public-a"), "")
            .prop("subnet_id", Value::reference(&rid("subnet/public-a"), "id")),
    ];
    let live = [Observed::new(rid("igw/old"), "igw-1")];
    let p = diff(&input(&desired, &live, &[rid("rta/public-a")], false)).unwrap();
    assert_eq!(ids(&p), ["vpc/main", "subnet/public-a", "rta/public-a"]);

    // Unchanged dependencies are not changes; a delete can be targeted on its own.
    let live = [
        vpc_live("10.0.0.0/16"),
        Observed::new(rid("igw/old"), "igw-1"),
    ];
    let p = diff(&input(&desired, &live, &[rid("subnet/public-b")], false)).unwrap();
    assert_eq!(ids(&p), ["subnet/public-b"]);
    let p = diff(&input(&desired, &live, &[rid("igw/old")], false)).unwrap();
    assert_eq!(actions(&p), [("igw/old".into(), Action::Delete)]);
    // Without targets everything is planned.
    let p = diff(&input(&desired, &live, &[], false)).unwrap();
    assert_eq!(p.changes.len(), 4);
}

#[test]
fn target_keeps_the_changes_of_what_an_unchanged_target_depends_on() {
    // The subnet matches; the VPC it depends on has drifted (its Name tag): targeting the
    // subnet still plans the VPC's repair, as targeting the VPC does.
    let desired = [vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")];
    let live = [
        Observed::new(rid("vpc/main"), "vpc-1")
            .prop("cidr_block", Value::str("10.0.0.0/16"))
            .prop(
                "tags",
                tags(&[("Name", "renamed"), ("rtech:id", "vpc/main")]),
            ),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = diff(&input(&desired, &live, &[], false)).unwrap();
    assert_eq!(ids(&p), ["vpc/main"]);
    let p = diff(&input(&desired, &live, &[rid("subnet/public-a")], false)).unwrap();
    assert_eq!(actions(&p), [("vpc/main".into(), Action::Update)]);
}

#[test]
fn an_unknown_target_is_an_error() {
    let err = diff(&input(
        &[vpc("10.0.0.0/16")],
        &[],
        &[rid("subnet/nope")],
        false,
    ))
    .unwrap_err();
    assert!(
        matches!(&err, PlanError::UnknownId { flag: "--target", id, .. } if *id == rid("subnet/nope")),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "--target subnet/nope: no such resource in the spec or in AWS"
    );
}

#[test]
fn a_missing_dependency_is_an_error() {
    let err = diff(&input(
        &[subnet("public-a", "10.0.1.0/24")],
        &[],
        &[],
        false,
    ))
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::MissingDep(rid("subnet/public-a"), rid("vpc/main"))
    );
    assert_eq!(
        err.to_string(),
        "subnet/public-a: depends on vpc/main, which is neither in the spec nor in AWS"
    );
}

#[test]
fn a_duplicate_id_is_an_error() {
    let err = diff(&input(
        &[vpc("10.0.0.0/16"), vpc("10.1.0.0/16")],
        &[],
        &[],
        false,
    ))
    .unwrap_err();
    assert_eq!(err, PlanError::Duplicate(rid("vpc/main")));
}

#[test]
fn topo_order_puts_dependencies_first_with_ties_by_id() {
    let (a, b, c, d) = (rid("x/a"), rid("x/b"), rid("x/c"), rid("x/d"));
    let none = BTreeSet::new();
    let on_c = BTreeSet::from([c.clone()]);
    let on_a_and_outside = BTreeSet::from([a.clone(), rid("y/outside")]);
    let items = [
        (&a, &on_c),
        (&d, &none),
        (&b, &on_a_and_outside),
        (&c, &none),
    ];
    let order: Vec<String> = topo_order(&items)
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(order, ["x/c", "x/d", "x/a", "x/b"]);
}

#[test]
fn topo_order_reports_a_cycle() {
    let (a, b, c) = (rid("x/a"), rid("x/b"), rid("x/c"));
    let on_a = BTreeSet::from([a.clone()]);
    let on_b = BTreeSet::from([b.clone()]);
    let none = BTreeSet::new();
    let err = topo_order(&[(&a, &on_b), (&b, &on_a), (&c, &none)]).unwrap_err();
    assert_eq!(err, PlanError::Cycle(a.clone()));
    assert_eq!(err.to_string(), "dependency cycle through x/a");

    // And through diff.
    let desired = [
        Resource::new(a.clone(), "").prop("p", Value::reference(&b, "id")),
        Resource::new(b.clone(), "").prop("p", Value::reference(&a, "id")),
    ];
    assert!(matches!(
        diff(&input(&desired, &[], &[], false)),
        Err(PlanError::Cycle(_))
    ));
}

#[test]
fn fingerprints_cover_everything_read_including_absent_ids() {
    let desired = [vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")];
    let live = [
        vpc_live("10.0.0.0/16"),
        Observed::new(rid("igw/old"), "igw-1"),
    ];
    let p = plan(&desired, &live);
    let expected: BTreeMap<ResourceId, String> = [
        (rid("igw/old"), live[1].fingerprint()),
        (rid("subnet/public-a"), ABSENT.to_string()),
        (rid("vpc/main"), live[0].fingerprint()),
    ]
    .into_iter()
    .collect();
    assert_eq!(p.fingerprints, expected);
    assert_eq!(ABSENT, "absent");
}

// --- render ------------------------------------------------------------------------------------

const SECRET_OLD: &str = "old-hunter2-SECRET";
const SECRET_NEW: &str = "new-hunter2-SECRET";

/// A plan with every kind of change, a conflict, an unknown value and sensitive fields.
fn mixed_plan() -> Plan {
    let sg = rid("sg/app");
    let mut secret_create = Resource::new(rid("secret/db"), "rtech-dev-db")
        .prop("password", Value::str(SECRET_NEW))
        .prop("username", Value::str("admin"));
    secret_create.sensitive.insert("password".into());
    let mut secret_update =
        Resource::new(rid("secret/api"), "rtech-dev-api").prop("token", Value::str(SECRET_NEW));
    secret_update.sensitive.insert("token".into());
    let desired = [
        vpc("10.0.0.0/16").prop(
            "tags",
            tags(&[
                ("Environment", "development"),
                ("Name", "rtech-dev-vpc"),
                ("rtech:id", "vpc/main"),
            ]),
        ),
        subnet("public-a", "10.0.100.0/24"),
        subnet("public-b", "10.0.2.0/24"),
        Resource::new(rid("rta/public-b"), "")
            .prop("subnet_id", Value::reference(&rid("subnet/public-b"), "id")),
        Resource::new(sg.clone(), "rtech-dev-app").prop("group_name", Value::str("rtech-dev-app")),
        secret_create,
        secret_update,
    ];
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
        Observed::new(rid("igw/old"), "igw-9").prop("tags", tags(&[("Name", "rtech-dev-igw")])),
        foreign(Observed::new(sg, "sg-0f00")),
        Observed::new(rid("secret/api"), "arn:secret:api").prop("token", Value::str(SECRET_OLD)),
    ];
    let mut p = plan(&desired, &live);
    // As the session sets it: the plan header names the account, region and caller.
    p.origin = Some(crate::plan::Origin {
        account: "123456789012".into(),
        caller: "arn:aws:sts::123456789012:assumed-role/ci/run-1".into(),
        lock_bucket: "rtech-rtech-123456789012-us-east-1".into(),
    });
    p
}

fn no_changes_plan() -> Plan {
    let p = plan(&[vpc("10.0.0.0/16")], &[vpc_live("10.0.0.0/16")]);
    assert!(!p.has_changes());
    p
}

#[test]
fn mixed_plan_has_every_action() {
    let p = mixed_plan();
    assert_eq!(
        p.summary(),
        Summary {
            add: 3,
            change: 2,
            replace: 1,
            destroy: 1,
            conflict: 1,
            unchanged: 0
        }
    );
}

#[test]
fn text_of_a_plan_with_changes() {
    let text = render::text(&mixed_plan(), Style { color: false }, "envs/dev.toml");
    insta::assert_snapshot!("text_changes", text);
}

#[test]
fn text_of_a_plan_without_changes() {
    let text = render::text(&no_changes_plan(), Style { color: false }, "envs/dev.toml");
    insta::assert_snapshot!("text_no_changes", text);
}

#[test]
fn text_of_an_empty_destroy() {
    let p = diff(&input(&[], &[], &[], true)).unwrap();
    let text = render::text(&p, Style { color: false }, "envs/dev.toml");
    assert_eq!(
        text,
        "No changes. rtech owns nothing in env dev (us-east-1).\n"
    );
}

#[test]
fn json_of_a_plan_with_changes() {
    insta::assert_json_snapshot!("json_changes", render::json(&mixed_plan()));
}

#[test]
fn json_of_a_plan_without_changes() {
    let j = render::json(&no_changes_plan());
    assert_eq!(j["format_version"], render::FORMAT_VERSION);
    assert_eq!(j["changes"], serde_json::json!([]));
    assert_eq!(j["summary"]["unchanged"], 1);
    assert_eq!(j["summary"]["add"], 0);
}

#[test]
fn sensitive_values_never_appear_in_text_or_json() {
    let p = mixed_plan();
    let text = render::text(&p, Style { color: false }, "envs/dev.toml");
    let colored = render::text(&p, Style { color: true }, "envs/dev.toml");
    let json = render::json(&p);
    let json_text = serde_json::to_string(&json).unwrap();
    for out in [&text, &colored, &json_text] {
        assert!(!out.contains("hunter2"), "a secret leaked:\n{out}");
        assert!(!out.contains(SECRET_OLD) && !out.contains(SECRET_NEW));
    }
    assert!(text.contains("+ password = (sensitive)"), "{text}");
    assert!(
        text.contains("~ token = (sensitive) → (sensitive)"),
        "{text}"
    );
    // Non-sensitive fields of the same resource still show.
    assert!(text.contains("+ username = \"admin\""), "{text}");

    let fields = |id: &str| {
        json["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["fields"]
            .as_array()
            .unwrap()
            .clone()
    };
    let pw = fields("secret/db")
        .into_iter()
        .find(|f| f["path"] == "password")
        .unwrap();
    assert_eq!(pw["sensitive"], true);
    assert!(pw["before"].is_null() && pw["after"].is_null(), "{pw}");
    let token = fields("secret/api")
        .into_iter()
        .find(|f| f["path"] == "token")
        .unwrap();
    assert!(
        token["before"].is_null() && token["after"].is_null(),
        "{token}"
    );
}

#[test]
fn color_is_ansi_only_when_asked_for() {
    let p = mixed_plan();
    let plain = render::text(&p, Style { color: false }, "envs/dev.toml");
    let colored = render::text(&p, Style { color: true }, "envs/dev.toml");
    assert!(!plain.contains('\x1b'));
    assert!(colored.contains("\x1b[32m"), "creates are green");
    assert!(
        colored.contains("\x1b[31m"),
        "deletes and conflicts are red"
    );
    // Stripping the escapes gives the plain text back.
    let mut stripped = String::new();
    let mut chars = colored.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, plain);
}

#[test]
fn summary_line_counts_actions() {
    assert_eq!(
        render::summary_line(&mixed_plan()),
        "Plan: 3 to add, 2 to change, 1 to replace, 1 to destroy."
    );
}

// --- saved plans -------------------------------------------------------------------------------

#[test]
fn saved_plans_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let p = mixed_plan();
    saved::write(&path, &p).unwrap();
    let back = saved::read(&path).unwrap();
    // Everything but sensitive values survives (those are never written).
    let summary = |p: &Plan| -> Vec<(ResourceId, Action, Option<String>, Vec<String>)> {
        p.changes
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.action,
                    c.reason.clone(),
                    c.fields.iter().map(|f| f.path.clone()).collect(),
                )
            })
            .collect()
    };
    assert_eq!(summary(&back), summary(&p));
    assert_eq!(back.fingerprints, p.fingerprints);
    assert_eq!(back.conflicts, p.conflicts);
    for (b, o) in back.changes.iter().zip(&p.changes) {
        for (fb, fo) in b.fields.iter().zip(&o.fields) {
            if !fo.sensitive {
                assert_eq!(fb, fo);
            }
        }
    }
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(raw["format"], "rtech-saved-plan");
    assert_eq!(raw["version"], 1);
}

#[test]
fn reading_something_else_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    assert!(matches!(saved::read(&path), Err(SavedError::Format(..))));

    // A well-formed file of another format or version is refused too.
    saved::write(&path, &no_changes_plan()).unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"version\": 1", "\"version\": 99");
    std::fs::write(&path, text).unwrap();
    match saved::read(&path) {
        Err(SavedError::Format(file, why)) => {
            assert_eq!(file, path.display().to_string());
            assert_eq!(why, "format rtech-saved-plan version 99");
        }
        other => panic!("expected a format error, got {other:?}"),
    }

    let missing = dir.path().join("nope.json");
    assert!(matches!(saved::read(&missing), Err(SavedError::Read(..))));
}

fn stale_id(r: Result<(), SavedError>) -> ResourceId {
    match r {
        Err(SavedError::Stale(id)) => id,
        other => panic!("expected Stale, got {other:?}"),
    }
}

#[test]
fn a_saved_plan_is_fresh_if_nothing_changed() {
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = plan(
        &[
            vpc("10.0.0.0/16"),
            subnet("public-a", "10.0.2.0/24"),
            subnet("public-b", "10.0.3.0/24"),
        ],
        &live,
    );
    saved::check_fresh(&p, &live).unwrap();
    // Observing again yields equal (not identical) values, possibly in another order.
    let again = [live[1].clone(), live[0].clone()];
    saved::check_fresh(&p, &again).unwrap();
}

#[test]
fn a_saved_plan_is_stale_if_a_fingerprint_changed() {
    let live = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    let p = plan(
        &[vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")],
        &live,
    );
    let now = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24")
            .prop("map_public_ip_on_launch", Value::Bool(false)),
    ];
    let err = saved::check_fresh(&p, &now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan is stale: subnet/public-a changed since the plan was made; run rtech plan again"
    );
    assert_eq!(stale_id(Err(err)), rid("subnet/public-a"));

    // Deleted out of band since the plan.
    assert_eq!(
        stale_id(saved::check_fresh(&p, &now[..1])),
        rid("subnet/public-a")
    );
}

#[test]
fn a_saved_plan_is_stale_if_an_absent_resource_now_exists() {
    let p = plan(
        &[vpc("10.0.0.0/16"), subnet("public-a", "10.0.1.0/24")],
        &[vpc_live("10.0.0.0/16")],
    );
    assert_eq!(p.fingerprints[&rid("subnet/public-a")], ABSENT);
    let now = [
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
    ];
    assert_eq!(
        stale_id(saved::check_fresh(&p, &now)),
        rid("subnet/public-a")
    );
}

#[test]
fn a_saved_plan_is_stale_if_an_unknown_resource_appeared() {
    let p = plan(&[vpc("10.0.0.0/16")], &[vpc_live("10.0.0.0/16")]);
    let now = [
        vpc_live("10.0.0.0/16"),
        Observed::new(rid("igw/main"), "igw-1"),
    ];
    let err = saved::check_fresh(&p, &now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan is stale: igw/main changed since the plan was made; run rtech plan again"
    );
}

#[test]
fn a_saved_plan_survives_the_round_trip_and_stays_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let live = [vpc_live("10.0.0.0/16")];
    let p = plan(&[vpc("10.1.0.0/16")], &live);
    saved::write(&path, &p).unwrap();
    let back = saved::read(&path).unwrap();
    saved::check_fresh(&back, &live).unwrap();
    assert_eq!(
        stale_id(saved::check_fresh(&back, &[vpc_live("10.2.0.0/16")])),
        rid("vpc/main")
    );
}

#[test]
fn a_saved_plan_never_holds_a_sensitive_value() {
    let mut r = vpc("10.0.0.0/16").prop("password", Value::str("canary-s3cr3t-value"));
    r.sensitive.insert("password".into());
    let p = plan(&[r], &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    saved::write(&path, &p).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("canary-s3cr3t-value"), "{text}");
    let back = saved::read(&path).unwrap();
    assert_eq!(back.changes.len(), 1);
    assert_eq!(
        back.changes[0].desired.as_ref().unwrap().props["password"],
        Value::Unknown
    );
}

// --- late initialisation and new attributes on update -------------------------------------------

fn taskdef(late_tag: Option<&str>) -> Resource {
    let r = Resource::new(rid("taskdef/app"), "rtech-dev-app").prop("cpu", Value::Int(256));
    match late_tag {
        Some(t) => r.late("image_tag", Value::str(t)),
        None => r.prop("image_tag", Value::str("cli-tag")),
    }
}

fn taskdef_live(tag: &str) -> Observed {
    let mut o = Observed::new(rid("taskdef/app"), "arn:td:7")
        .prop("cpu", Value::Int(256))
        .prop("image_tag", Value::str(tag));
    o.attrs.insert("arn".into(), "arn:td:7".into());
    o
}

#[test]
fn a_late_property_takes_the_live_value_and_its_default_only_on_create() {
    // Exists: the deployed tag stays, nothing to do.
    let p = plan(&[taskdef(Some("latest"))], &[taskdef_live("abc123")]);
    assert!(p.changes.is_empty(), "{:?}", ids(&p));
    let filled = p
        .desired
        .iter()
        .find(|r| r.id == rid("taskdef/app"))
        .unwrap();
    assert_eq!(filled.props.get("image_tag"), Some(&Value::str("abc123")));
    assert!(
        filled.late_init.is_empty(),
        "filled in, so a saved plan holds the value"
    );
    // Absent: created with the default.
    let p = plan(&[taskdef(Some("latest"))], &[]);
    let c = change(&p, "taskdef/app");
    assert_eq!(c.action, Action::Create);
    assert_eq!(field(c, "image_tag").after, Some(Value::str("latest")));
    // An explicit value (--image-tag) is an ordinary property: a difference is an update.
    let p = plan(&[taskdef(None)], &[taskdef_live("abc123")]);
    assert_eq!(
        field(change(&p, "taskdef/app"), "image_tag").after,
        Some(Value::str("cli-tag"))
    );
}

#[test]
fn a_clamped_late_integer_is_drift_only_outside_its_range() {
    let svc = |live: Option<i64>| {
        let desired =
            Resource::new(rid("svc/app"), "rtech-dev-app").late_clamped("desired_count", 2, 2, 10);
        let observed: Vec<Observed> = live
            .map(|n| Observed::new(rid("svc/app"), "svc").prop("desired_count", Value::Int(n)))
            .into_iter()
            .collect();
        plan(&[desired], &observed)
    };
    assert!(
        svc(Some(7)).changes.is_empty(),
        "inside [2, 10]: the scaler's business"
    );
    assert!(svc(Some(2)).changes.is_empty());
    let p = svc(Some(15));
    let f = field(change(&p, "svc/app"), "desired_count");
    assert_eq!(
        (f.before.clone(), f.after.clone()),
        (Some(Value::Int(15)), Some(Value::Int(10)))
    );
    let p = svc(Some(0));
    assert_eq!(
        field(change(&p, "svc/app"), "desired_count").after,
        Some(Value::Int(2))
    );
    let p = svc(None);
    assert_eq!(
        field(change(&p, "svc/app"), "desired_count").after,
        Some(Value::Int(2))
    );
}

static TASKDEF_SCHEMA: KindSchema = KindSchema {
    kind: "taskdef",
    force_new: &[],
    new_attrs_on_update: true,
    create_before_destroy: false,
};

fn schema_with_taskdef(kind: &str) -> Option<&'static KindSchema> {
    (kind == "taskdef").then_some(&TASKDEF_SCHEMA)
}

#[test]
fn an_update_that_yields_new_attributes_leaves_references_unknown() {
    let service = Resource::new(rid("svc/app"), "rtech-dev-app").prop(
        "task_definition",
        Value::reference(&rid("taskdef/app"), "arn"),
    );
    let mut service_live = Observed::new(rid("svc/app"), "svc")
        .prop("task_definition", Value::str("arn:td:7"))
        .dep(&rid("taskdef/app"));
    service_live.attrs.insert("arn".into(), "svc".into());
    let desired = [taskdef(None), service];
    let observed = [taskdef_live("abc123"), service_live];
    let mut i = input(&desired, &observed, &[], false);
    i.schema = &schema_with_taskdef;
    let p = diff(&i).unwrap();
    assert_eq!(change(&p, "taskdef/app").action, Action::Update);
    let f = field(change(&p, "svc/app"), "task_definition");
    assert_eq!(
        f.after,
        Some(Value::Unknown),
        "the new revision's ARN is known after apply"
    );
    // Without the flag the old ARN would look current and the service would not follow.
    let p = plan(&desired, &observed);
    assert!(p.changes.iter().all(|c| c.id != rid("svc/app")));
}

// ---------------------------------------------------------------------------------------------
// long values (a dashboard body): one entry per line, updates as a line diff

fn widget(title: &str, metric: &str, y: i64) -> Value {
    Value::Map(BTreeMap::from([
        ("type".to_string(), Value::str("metric")),
        ("x".to_string(), Value::Int(0)),
        ("y".to_string(), Value::Int(y)),
        ("width".to_string(), Value::Int(12)),
        ("height".to_string(), Value::Int(6)),
        (
            "properties".to_string(),
            Value::Map(BTreeMap::from([
                ("title".to_string(), Value::str(title)),
                ("region".to_string(), Value::str("us-east-1")),
                (
                    "metrics".to_string(),
                    Value::List(vec![Value::List(vec![
                        Value::str("AWS/ApplicationELB"),
                        Value::str(metric),
                        Value::str("LoadBalancer"),
                        Value::str("app/rtech-dev-alb/0123456789abcdef"),
                    ])]),
                ),
            ])),
        ),
    ]))
}

fn dashboard(widgets: Vec<Value>) -> Value {
    Value::Map(BTreeMap::from([(
        "widgets".to_string(),
        Value::List(widgets),
    )]))
}

fn three_widgets() -> Vec<Value> {
    vec![
        widget("ALB target response time", "TargetResponseTime", 0),
        widget("ALB requests", "RequestCount", 6),
        widget("ALB 5xx", "HTTPCode_ELB_5XX_Count", 12),
    ]
}

#[test]
fn long_values_render_one_entry_per_line_and_short_ones_stay_inline() {
    let lines = render::block_lines(&dashboard(three_widgets()));
    assert_eq!(lines.first().map(String::as_str), Some("{"));
    assert_eq!(lines.last().map(String::as_str), Some("}"));
    assert!(lines.iter().all(|l| l.len() <= 80), "{lines:#?}");
    // Entries short enough stay on one line.
    assert!(
        lines.contains(&"        region = \"us-east-1\"".to_string()),
        "{lines:#?}"
    );
    assert_eq!(
        render::block_lines(&Value::List(vec![Value::str("a"), Value::str("b")])),
        ["[\"a\", \"b\"]"]
    );
}

#[test]
fn a_widget_removed_out_of_band_is_a_short_line_diff_in_the_plan_text() {
    let id = rid("dashboard/main");
    let desired = [Resource::new(id.clone(), "rtech-dev").prop("body", dashboard(three_widgets()))];
    let mut live_widgets = three_widgets();
    live_widgets.remove(1);
    let live = [Observed::new(id, "rtech-dev").prop("body", dashboard(live_widgets))];
    let p = plan(&desired, &live);
    let text = render::text(&p, Style { color: false }, "envs/dev.toml");
    // The removed widget's lines are added back; the unchanged ones are mostly cut.
    let sign_of = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim_start().chars().next().unwrap())
    };
    assert_eq!(sign_of("title = \"ALB requests\""), Some('+'), "{text}");
    assert_eq!(sign_of("title = \"ALB 5xx\""), None, "{text}");
    assert!(
        !text.contains("ALB target response time"),
        "context is cut to a few lines: {text}"
    );
    // The JSON keeps the whole values under the field's path.
    let json = render::json(&p);
    assert_eq!(json["changes"][0]["fields"][0]["path"], "body.widgets");
    insta::assert_snapshot!("text_long_value_update", text);
}

#[test]
fn a_widget_changed_in_place_shows_only_its_changed_lines() {
    let id = rid("dashboard/main");
    let desired = [Resource::new(id.clone(), "rtech-dev").prop("body", dashboard(three_widgets()))];
    let mut live_widgets = three_widgets();
    live_widgets[2] = widget("ALB 5xx (edited)", "HTTPCode_ELB_5XX_Count", 12);
    let live = [Observed::new(id, "rtech-dev").prop("body", dashboard(live_widgets))];
    let text = render::text(
        &plan(&desired, &live),
        Style { color: false },
        "envs/dev.toml",
    );
    let signed: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l.starts_with("- ") || l.starts_with("+ "))
        .collect();
    assert_eq!(
        signed,
        ["- title = \"ALB 5xx (edited)\"", "+ title = \"ALB 5xx\""],
        "{text}"
    );
    assert!(text.contains("… 2 unchanged"), "{text}");
}
