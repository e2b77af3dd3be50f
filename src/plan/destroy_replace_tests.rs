//! Terraform's destroy and replace habits: `destroy --target` deletes the
//! targets and what depends on them, `--replace` forces a replace, and a saved destroy plan
//! survives its file.

use super::render::{self, Style};
use super::saved;
use super::tests::{rid, subnet, subnet_live, tags, vpc, vpc_live};
use super::*;
use crate::model::{Observed, Resource, ResourceId, Value};
use crate::testutil::actions;

fn input<'a>(
    desired: &'a [Resource],
    observed: &'a [Observed],
    targets: &'a [ResourceId],
    replace: &'a [ResourceId],
    destroy: bool,
) -> DiffInput<'a> {
    DiffInput {
        replace,
        ..crate::testutil::diff_input("dev", desired, observed, targets, destroy)
    }
}

/// A small live env: a VPC, two subnets in it, a route table association on one, and an
/// internet gateway in the VPC.
fn live() -> Vec<Observed> {
    vec![
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
        subnet_live("public-b", "subnet-2", "10.0.2.0/24"),
        Observed::new(rid("rta/public-a"), "rtbassoc-1").dep(&rid("subnet/public-a")),
        Observed::new(rid("igw/main"), "igw-1")
            .prop("tags", tags(&[("Name", "rtech-dev-igw")]))
            .dep(&rid("vpc/main")),
    ]
}

fn destroy_of(targets: &[&str]) -> Result<Plan, PlanError> {
    let targets: Vec<ResourceId> = targets.iter().map(|t| rid(t)).collect();
    diff(&input(&[], &live(), &targets, &[], true))
}

// --- destroy --target ----------------------------------------------------------------------------

#[test]
fn destroying_a_leaf_deletes_only_it() {
    let p = destroy_of(&["rta/public-a"]).unwrap();
    assert!(p.destroy);
    assert_eq!(actions(&p), [("rta/public-a".into(), Action::Delete)]);
}

#[test]
fn destroying_a_target_deletes_what_depends_on_it_dependants_first() {
    let p = destroy_of(&["subnet/public-a"]).unwrap();
    assert_eq!(
        actions(&p),
        [
            ("rta/public-a".into(), Action::Delete),
            ("subnet/public-a".into(), Action::Delete),
        ]
    );
    // The VPC's closure is everything that stands in it, directly or not.
    let p = destroy_of(&["vpc/main"]).unwrap();
    assert_eq!(p.changes.len(), 5);
    assert_eq!(p.changes.last().unwrap().id, rid("vpc/main"));
    let at = |id: &str| p.changes.iter().position(|c| c.id == rid(id)).unwrap();
    assert!(at("rta/public-a") < at("subnet/public-a"));
    // Several targets: the union of their closures, each once.
    let p = destroy_of(&["subnet/public-b", "igw/main", "subnet/public-b"]).unwrap();
    let mut ids: Vec<String> = p.changes.iter().map(|c| c.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["igw/main", "subnet/public-b"]);
}

#[test]
fn the_closure_follows_live_dependencies_only() {
    let all = live();
    let keep = destroy_closure(&[rid("subnet/public-a")], all.iter());
    assert_eq!(
        keep,
        BTreeSet::from([rid("subnet/public-a"), rid("rta/public-a")])
    );
    assert_eq!(
        destroy_closure(&[rid("rta/public-a")], all.iter()),
        BTreeSet::from([rid("rta/public-a")])
    );
}

#[test]
fn a_foreign_resource_is_never_in_a_destroy() {
    let mut all = live();
    all.push(Observed {
        ownership: crate::model::Ownership::Foreign,
        ..Observed::new(rid("subnet/theirs"), "subnet-9").dep(&rid("vpc/main"))
    });
    let p = diff(&input(&[], &all, &[rid("vpc/main")], &[], true)).unwrap();
    assert!(p.changes.iter().all(|c| c.id != rid("subnet/theirs")));
    assert_eq!(p.changes.len(), 5);
}

#[test]
fn an_unknown_destroy_target_names_the_close_ids() {
    let err = destroy_of(&["subnet/public-c"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--target subnet/public-c: no such resource of rtech's in AWS; did you mean: subnet/public-a, subnet/public-b?"
    );
    // Nothing close by spelling: the ids of its kind.
    let err = destroy_of(&["subnet/x"]).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("did you mean: subnet/public-a, subnet/public-b?"),
        "{err}"
    );
    // Nothing alike at all: no hint.
    let err = destroy_of(&["widget/zzzzzzzzzzzzzzzz"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--target widget/zzzzzzzzzzzzzzzz: no such resource of rtech's in AWS"
    );
}

#[test]
fn close_ids_rank_by_edit_distance() {
    let known = [
        rid("vpc/main"),
        rid("subnet/public-a"),
        rid("subnet/private-a"),
    ];
    assert_eq!(
        close_ids(&rid("subnet/pubic-a"), known.iter()),
        [rid("subnet/public-a")]
    );
    assert_eq!(close_ids(&rid("vpc/mian"), known.iter()), [rid("vpc/main")]);
    // Nearest first.
    let known = [rid("subnet/public-a"), rid("subnet/public-b")];
    assert_eq!(
        close_ids(&rid("subnet/publi-b"), known.iter()),
        [rid("subnet/public-b"), rid("subnet/public-a")]
    );
}

// --- --replace -----------------------------------------------------------------------------------

fn desired() -> Vec<Resource> {
    vec![
        vpc("10.0.0.0/16"),
        subnet("public-a", "10.0.1.0/24"),
        subnet("public-b", "10.0.2.0/24"),
    ]
}

fn matching() -> Vec<Observed> {
    vec![
        vpc_live("10.0.0.0/16"),
        subnet_live("public-a", "subnet-1", "10.0.1.0/24"),
        subnet_live("public-b", "subnet-2", "10.0.2.0/24"),
    ]
}

fn with_replace(replace: &[&str], targets: &[&str]) -> Result<Plan, PlanError> {
    let replace: Vec<ResourceId> = replace.iter().map(|t| rid(t)).collect();
    let targets: Vec<ResourceId> = targets.iter().map(|t| rid(t)).collect();
    diff(&input(&desired(), &matching(), &targets, &replace, false))
}

#[test]
fn replace_forces_a_replace_of_an_unchanged_resource() {
    assert!(!with_replace(&[], &[]).unwrap().has_changes());
    let p = with_replace(&["subnet/public-b"], &[]).unwrap();
    assert_eq!(actions(&p), [("subnet/public-b".into(), Action::Replace)]);
    let c = &p.changes[0];
    assert_eq!(
        c.reason.as_deref(),
        Some("replacement requested with --replace")
    );
    assert!(c.fields.is_empty());
    assert_eq!(c.physical_id(), Some("subnet-2"));
    assert!(c.desired.is_some());
    assert_eq!(p.unchanged, 2);
}

#[test]
fn replacing_a_parent_brings_its_dependants_along_as_a_replace_does() {
    // The subnets reference the VPC's id in a field that cannot change in place.
    let p = with_replace(&["vpc/main"], &[]).unwrap();
    assert_eq!(
        actions(&p),
        [
            ("vpc/main".into(), Action::Replace),
            ("subnet/public-a".into(), Action::Replace),
            ("subnet/public-b".into(), Action::Replace),
        ]
    );
    assert_eq!(
        p.changes[1].reason.as_deref(),
        Some("vpc_id cannot change in place")
    );
}

#[test]
fn replacing_something_that_does_not_exist_creates_it() {
    let live = [vpc_live("10.0.0.0/16")];
    let d = desired();
    let replace = [rid("subnet/public-a")];
    let p = diff(&input(&d, &live, &[], &replace, false)).unwrap();
    let c = p
        .changes
        .iter()
        .find(|c| c.id == rid("subnet/public-a"))
        .unwrap();
    assert_eq!(c.action, Action::Create);
    assert_eq!(
        c.reason.as_deref(),
        Some("--replace: does not exist yet, so it is created")
    );
}

#[test]
fn an_unknown_replace_is_an_error() {
    let err = with_replace(&["subnet/public-q"], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--replace subnet/public-q: no such resource in the spec or in AWS; did you mean: subnet/public-a, subnet/public-b?"
    );
}

#[test]
fn replace_with_target_is_one_more_target() {
    let p = with_replace(&["subnet/public-b"], &["subnet/public-a"]).unwrap();
    assert_eq!(actions(&p), [("subnet/public-b".into(), Action::Replace)]);
    let p = with_replace(&["subnet/public-b"], &["subnet/public-b"]).unwrap();
    assert_eq!(actions(&p), [("subnet/public-b".into(), Action::Replace)]);
}

static CERT: KindSchema = KindSchema {
    kind: "certificate",
    force_new: &["domain_name"],
    new_attrs_on_update: false,
    create_before_destroy: true,
};

fn replaced_certificate() -> Plan {
    let cert = rid("certificate/main");
    let desired = [
        Resource::new(cert.clone(), "rtech-dev-main").prop("domain_name", Value::str("x.example")),
        Resource::new(rid("listener/https"), "rtech-dev-https")
            .prop("certificate_arn", Value::reference(&cert, "id")),
    ];
    let live = [
        Observed::new(cert.clone(), "arn:cert-1").prop("domain_name", Value::str("x.example")),
        Observed::new(rid("listener/https"), "arn:listener-1")
            .prop("certificate_arn", Value::str("arn:cert-1"))
            .dep(&cert),
    ];
    let schema = |k: &str| (k == "certificate").then_some(&CERT);
    let replace = [cert];
    diff(&DiffInput {
        schema: &schema,
        importable: &|_| false,
        ..input(&desired, &live, &[], &replace, false)
    })
    .unwrap()
}

#[test]
fn a_replace_of_a_create_first_kind_creates_first_and_moves_its_users() {
    let p = replaced_certificate();
    assert_eq!(
        actions(&p),
        [
            ("certificate/main".into(), Action::Replace),
            ("listener/https".into(), Action::Update),
        ]
    );
    assert!(p.changes[0].create_first);
    assert_eq!(p.changes[0].symbol(), "+/-");
}

#[test]
fn text_of_a_requested_replace() {
    let mut p = replaced_certificate();
    let d = desired();
    let live = matching();
    let replace = [rid("vpc/main")];
    let vpc_replace = diff(&input(&d, &live, &[], &replace, false)).unwrap();
    p.changes.extend(vpc_replace.changes);
    let text = render::text(&p, Style { color: false }, "envs/dev.toml");
    insta::assert_snapshot!("text_requested_replace", text);
}

// --- destroy plans, as text and saved ------------------------------------------------------------

fn targeted_destroy() -> Plan {
    let mut p = destroy_of(&["subnet/public-a"]).unwrap();
    p.origin = Some(Origin {
        account: "123456789012".into(),
        caller: "arn:aws:sts::123456789012:assumed-role/ci/run-1".into(),
        lock_bucket: "rtech-rtech-123456789012-us-east-1".into(),
    });
    p.zone = Some("rtech.example.com".into());
    p
}

#[test]
fn text_of_a_targeted_destroy() {
    let text = render::text(&targeted_destroy(), Style { color: false }, "envs/dev.toml");
    assert!(text.contains("This is a destroy plan"), "{text}");
    insta::assert_snapshot!("text_targeted_destroy", text);
}

#[test]
fn a_destroy_plan_lists_the_kept_drill_clusters_in_text_and_json() {
    let mut p = targeted_destroy();
    p.drills = vec!["rtech-dev-docdb-drill-1".into()];
    let text = render::text(&p, Style { color: false }, "envs/dev.toml");
    assert!(
        text.contains("Also deleted first: DocumentDB cluster rtech-dev-docdb-drill-1"),
        "{text}"
    );
    let j = render::json(&p);
    assert_eq!(j["destroy"], true);
    assert_eq!(j["drill_clusters"][0], "rtech-dev-docdb-drill-1");
    assert!(render::json(&targeted_destroy())
        .get("drill_clusters")
        .is_none());
}

#[test]
fn a_saved_destroy_plan_round_trips_and_stays_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("destroy.plan");
    let mut p = targeted_destroy();
    p.drills = vec!["rtech-dev-docdb-drill-1".into()];
    saved::write(&path, &p).unwrap();
    let back = saved::read(&path).unwrap();
    assert_eq!(back, p);
    assert!(back.destroy);
    assert_eq!(back.zone.as_deref(), Some("rtech.example.com"));
    assert!(back.desired.is_empty());
    saved::check_fresh(&back, &live()).unwrap();
    // Live state moved since: refused, naming what moved.
    let mut moved = live();
    moved.retain(|o| o.id != rid("rta/public-a"));
    match saved::check_fresh(&back, &moved) {
        Err(saved::SavedError::Stale(id)) => assert_eq!(id, rid("rta/public-a")),
        other => panic!("{other:?}"),
    }
    // A plan without a zone or drills writes neither field (older readers are unaffected).
    let plain = destroy_of(&["rta/public-a"]).unwrap();
    saved::write(&path, &plain).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(raw["plan"].get("zone").is_none() && raw["plan"].get("drills").is_none());
    assert_eq!(raw["plan"]["destroy"], true);
}
