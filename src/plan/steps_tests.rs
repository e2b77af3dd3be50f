//! The step graph: what waits for what.

use std::collections::BTreeSet;

use super::*;
use crate::model::{Observed, Resource, Value};
use crate::plan::{diff, DiffInput};
use crate::testutil::actions;

fn rid(s: &str) -> ResourceId {
    s.parse().unwrap()
}

/// A change by hand: `desired_deps` for what it needs (create/update/replace), `prior_deps` for
/// what the live resource needed (update/replace/delete).
fn change(id: &str, action: Action, desired_deps: &[&str], prior_deps: &[&str]) -> Change {
    let id = rid(id);
    let desired = (action != Action::Delete).then(|| {
        desired_deps
            .iter()
            .fold(Resource::new(id.clone(), ""), |r, d| r.dep(&rid(d)))
    });
    let prior = (action != Action::Create).then(|| {
        prior_deps.iter().fold(
            Observed::new(id.clone(), format!("phys-{}", id.name)),
            |o, d| o.dep(&rid(d)),
        )
    });
    Change {
        id,
        action,
        reason: None,
        name: String::new(),
        fields: vec![],
        desired,
        prior,
        create_first: false,
    }
}

fn after(s: &[usize]) -> BTreeSet<usize> {
    s.iter().copied().collect()
}

/// Steps as (change index, phase, after) for compact assertions.
fn shape(steps: &[Step]) -> Vec<(usize, Phase, Vec<usize>)> {
    steps
        .iter()
        .map(|s| (s.change, s.phase, s.after.iter().copied().collect()))
        .collect()
}

/// The step index of a change's phase.
fn step_of(steps: &[Step], change: usize, phase: Phase) -> usize {
    steps
        .iter()
        .position(|s| s.change == change && s.phase == phase)
        .expect("step exists")
}

/// Every step's prerequisites come earlier in a valid order (no cycles).
fn assert_acyclic(steps: &[Step]) {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    while done.len() < steps.len() {
        let ready: Vec<usize> = (0..steps.len())
            .filter(|s| !done.contains(s) && steps[*s].after.iter().all(|a| done.contains(a)))
            .collect();
        assert!(
            !ready.is_empty(),
            "the step graph has a cycle: {:?}",
            shape(steps)
        );
        done.extend(ready);
    }
}

#[test]
fn no_changes_no_steps() {
    assert!(steps(&[]).unwrap().is_empty());
}

#[test]
fn creates_wait_for_the_creates_they_depend_on() {
    let changes = [
        change("vpc/main", Action::Create, &[], &[]),
        change("subnet/a", Action::Create, &["vpc/main"], &[]),
        change("subnet/b", Action::Create, &["vpc/main"], &[]),
        change(
            "rta/a",
            Action::Create,
            &["subnet/a", "route_table/public"],
            &[],
        ),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [
            (0, Phase::Create, vec![]),
            (1, Phase::Create, vec![0]),
            (2, Phase::Create, vec![0]),
            // route_table/public is not changing: nothing to wait for.
            (3, Phase::Create, vec![1]),
        ]
    );
}

#[test]
fn updates_wait_for_creates_and_updates_they_depend_on() {
    let changes = [
        change("nat/b", Action::Create, &[], &[]),
        change(
            "route/private-b-default",
            Action::Update,
            &["nat/b", "route_table/private-b"],
            &["nat/a"],
        ),
        change("sg_rule/x", Action::Update, &["sg/app"], &["sg/app"]),
        change("sg/app", Action::Update, &[], &[]),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [
            (0, Phase::Create, vec![]),
            (1, Phase::Update, vec![0]),
            (2, Phase::Update, vec![3]),
            (3, Phase::Update, vec![])
        ]
    );
}

#[test]
fn a_replace_is_a_delete_step_then_a_create_step() {
    let changes = [change("vpc/main", Action::Replace, &[], &[])];
    let s = steps(&changes).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0],
        Step {
            change: 0,
            phase: Phase::Delete,
            after: after(&[])
        }
    );
    assert_eq!(
        s[1],
        Step {
            change: 0,
            phase: Phase::Create,
            after: after(&[0])
        }
    );
}

#[test]
fn replacing_a_parent_and_child_deletes_child_first_and_creates_parent_first() {
    let changes = [
        change("vpc/main", Action::Replace, &[], &[]),
        change("subnet/a", Action::Replace, &["vpc/main"], &["vpc/main"]),
    ];
    let s = steps(&changes).unwrap();
    let (vd, vc) = (step_of(&s, 0, Phase::Delete), step_of(&s, 0, Phase::Create));
    let (sd, sc) = (step_of(&s, 1, Phase::Delete), step_of(&s, 1, Phase::Create));
    assert_eq!(s[vd].after, after(&[sd]), "the VPC goes after its subnet");
    assert_eq!(s[vc].after, after(&[vd]));
    assert_eq!(s[sd].after, after(&[]));
    assert_eq!(
        s[sc].after,
        after(&[vc, sd]),
        "the new subnet needs the new VPC and the old subnet gone"
    );
    assert_acyclic(&s);
}

#[test]
fn deletes_of_a_parent_wait_for_the_deletes_of_its_children() {
    // In plan order: dependants first.
    let changes = [
        change("rta/a", Action::Delete, &[], &["subnet/a"]),
        change("subnet/a", Action::Delete, &[], &["vpc/main"]),
        change("subnet/b", Action::Delete, &[], &["vpc/main"]),
        change("vpc/main", Action::Delete, &[], &[]),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [
            (0, Phase::Delete, vec![]),
            (1, Phase::Delete, vec![0]),
            (2, Phase::Delete, vec![]),
            (3, Phase::Delete, vec![1, 2]),
        ]
    );
    // The order of the changes does not matter to the graph.
    let reversed: Vec<Change> = changes.iter().rev().cloned().collect();
    let s = steps(&reversed).unwrap();
    assert_eq!(
        s[step_of(&s, 0, Phase::Delete)].after,
        after(&[step_of(&s, 1, Phase::Delete), step_of(&s, 2, Phase::Delete)])
    );
}

#[test]
fn a_plain_delete_waits_for_an_update_that_moves_a_dependant_away() {
    // nat/b goes away; the route that used it is pointed at nat/a first.
    let changes = [
        change(
            "route/private-b-default",
            Action::Update,
            &["nat/a"],
            &["nat/b"],
        ),
        change("nat/b", Action::Delete, &[], &[]),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [(0, Phase::Update, vec![]), (1, Phase::Delete, vec![0])]
    );
}

#[test]
fn a_replace_does_not_wait_for_updates_of_its_dependants() {
    // The route follows the new NAT gateway, so it is updated after the NAT's create; the old
    // NAT's delete must not wait for that update (it would be a cycle).
    let changes = [
        change("nat/a", Action::Replace, &[], &[]),
        change(
            "route/private-a-default",
            Action::Update,
            &["nat/a"],
            &["nat/a"],
        ),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [
            (0, Phase::Delete, vec![]),
            (0, Phase::Create, vec![0]),
            (1, Phase::Update, vec![1])
        ]
    );
    assert_acyclic(&s);
}

#[test]
fn a_delete_does_not_wait_for_itself_or_unrelated_changes() {
    let changes = [
        change("sg/app", Action::Create, &[], &[]),
        change("subnet/a", Action::Delete, &[], &["subnet/a", "vpc/main"]),
    ];
    let s = steps(&changes).unwrap();
    assert_eq!(
        shape(&s),
        [(0, Phase::Create, vec![]), (1, Phase::Delete, vec![])]
    );
}

fn tags(name: &str) -> Value {
    Value::Map(
        [("Name".to_string(), Value::str(name))]
            .into_iter()
            .collect(),
    )
}

#[test]
fn steps_from_a_real_diff_are_acyclic_and_ordered() {
    // The VPC's CIDR changes (replace cascades to the subnet); an old subnet goes; a new one comes.
    let vpc = rid("vpc/main");
    let desired = [
        Resource::new(vpc.clone(), "v")
            .prop("cidr_block", Value::str("10.1.0.0/16"))
            .prop("tags", tags("v")),
        Resource::new(rid("subnet/a"), "a")
            .prop("vpc_id", Value::reference(&vpc, "id"))
            .prop("cidr_block", Value::str("10.1.1.0/24")),
        Resource::new(rid("subnet/c"), "c")
            .prop("vpc_id", Value::reference(&vpc, "id"))
            .prop("cidr_block", Value::str("10.1.3.0/24")),
    ];
    let observed = [
        Observed::new(vpc.clone(), "vpc-1")
            .prop("cidr_block", Value::str("10.0.0.0/16"))
            .prop("tags", tags("v")),
        Observed::new(rid("subnet/a"), "subnet-1")
            .prop("vpc_id", Value::str("vpc-1"))
            .prop("cidr_block", Value::str("10.0.1.0/24"))
            .dep(&vpc),
        Observed::new(rid("subnet/b"), "subnet-2")
            .prop("vpc_id", Value::str("vpc-1"))
            .prop("cidr_block", Value::str("10.0.2.0/24"))
            .dep(&vpc),
    ];
    let plan = diff(&DiffInput {
        project: "rtech",
        env: "dev",
        region: "us-east-1",
        desired: &desired,
        observed: &observed,
        schema: &crate::reconcile::schema,
        importable: &crate::reconcile::importable,
        targets: &[],
        replace: &[],
        destroy: false,
    })
    .unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("vpc/main".into(), Action::Replace),
            ("subnet/a".into(), Action::Replace),
            ("subnet/c".into(), Action::Create),
            ("subnet/b".into(), Action::Delete),
        ]
    );
    let s = steps(&plan.changes).unwrap();
    assert_acyclic(&s);
    let vpc_del = step_of(&s, 0, Phase::Delete);
    let vpc_new = step_of(&s, 0, Phase::Create);
    let a_del = step_of(&s, 1, Phase::Delete);
    let a_new = step_of(&s, 1, Phase::Create);
    let c_new = step_of(&s, 2, Phase::Create);
    let b_del = step_of(&s, 3, Phase::Delete);
    assert_eq!(
        s[vpc_del].after,
        after(&[a_del, b_del]),
        "the old VPC goes after both its subnets"
    );
    assert_eq!(s[vpc_new].after, after(&[vpc_del]));
    assert_eq!(s[a_new].after, after(&[vpc_new, a_del]));
    assert_eq!(s[c_new].after, after(&[vpc_new]));
    assert_eq!(s[b_del].after, after(&[]));
}

#[test]
fn a_replace_that_creates_first_deletes_the_old_one_after_every_user_has_moved() {
    // The certificate's names changed: its validation is replaced (virtual), the listener and
    // the distribution are updated to the new ARN, through the validation.
    let mut cert = change("certificate/main", Action::Replace, &[], &[]);
    cert.create_first = true;
    let changes = [
        cert,
        change(
            "certificate_validation/main",
            Action::Replace,
            &["certificate/main"],
            &["certificate/main"],
        ),
        change(
            "listener/https",
            Action::Update,
            &["certificate_validation/main"],
            &["certificate_validation/main"],
        ),
        change(
            "distribution/main",
            Action::Update,
            &["certificate_validation/main"],
            &["certificate_validation/main"],
        ),
    ];
    let s = steps(&changes).unwrap();
    assert_acyclic(&s);
    let create = step_of(&s, 0, Phase::Create);
    let delete = step_of(&s, 0, Phase::Delete);
    assert!(
        s[create].after.is_empty(),
        "the new one first: {:?}",
        shape(&s)
    );
    assert_eq!(
        s[delete].after,
        after(&[
            create,
            step_of(&s, 1, Phase::Delete),
            step_of(&s, 1, Phase::Create),
            step_of(&s, 2, Phase::Update),
            step_of(&s, 3, Phase::Update),
        ]),
        "{:?}",
        shape(&s)
    );
    // The validation waits for the new certificate, not for the old one's delete.
    assert!(s[step_of(&s, 1, Phase::Create)].after.contains(&create));
    assert!(!s[step_of(&s, 1, Phase::Create)].after.contains(&delete));

    // The same replace deleting first: the old one goes before the new one is made.
    let mut first = changes.clone();
    first[0].create_first = false;
    let s = steps(&first).unwrap();
    assert_acyclic(&s);
    assert!(s[step_of(&s, 0, Phase::Create)]
        .after
        .contains(&step_of(&s, 0, Phase::Delete)));
}

#[test]
fn the_plan_falls_back_to_deleting_first_when_creating_first_would_close_a_cycle() {
    // The zone is replaced deleting first, and the certificate (creating first) depends on it:
    // zone delete → (its dependant) certificate delete → certificate create → zone create →
    // zone delete would be a cycle.
    let mut cert = change(
        "certificate/main",
        Action::Replace,
        &["hosted_zone/main"],
        &["hosted_zone/main"],
    );
    cert.create_first = true;
    let mut changes = [change("hosted_zone/main", Action::Replace, &[], &[]), cert];
    assert!(
        matches!(steps(&changes), Err(PlanError::Unorderable(_))),
        "the executor refuses an order it cannot honour"
    );
    decide_replace_order(&mut changes);
    assert!(!changes[1].create_first, "the plan says it deletes first");
    let s = steps(&changes).unwrap();
    assert_acyclic(&s);
    assert!(s[step_of(&s, 1, Phase::Create)]
        .after
        .contains(&step_of(&s, 1, Phase::Delete)));
}

#[test]
fn a_leftover_duplicate_is_deleted_after_every_update() {
    // After an interrupted replace: the kept certificate is the new one; the listener still
    // serves the old (`certificate/main~old`) and is updated through the unchanged validation.
    let changes = [
        change("certificate/main~old", Action::Delete, &[], &[]),
        change(
            "listener/https",
            Action::Update,
            &["certificate_validation/main"],
            &["certificate_validation/main"],
        ),
    ];
    let s = steps(&changes).unwrap();
    assert_acyclic(&s);
    assert!(s[step_of(&s, 0, Phase::Delete)]
        .after
        .contains(&step_of(&s, 1, Phase::Update)));
}
