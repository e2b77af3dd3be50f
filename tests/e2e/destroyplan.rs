//! Terraform's destroy and replace habits on a small env (the network, its
//! security groups and the alerts topic and dashboard: 29 resources, no NAT): a saved destroy
//! plan applied with `apply FILE`, refused once stale; `destroy --target` of a leaf and of
//! something with dependants; `apply --replace`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::emulator::Emulator;
use crate::support::*;

/// The ids of a JSON plan's changes.
fn ids(plan: &serde_json::Value) -> BTreeSet<String> {
    changes(plan).into_iter().map(|(id, _)| id).collect()
}

/// `plan --destroy --json` with `extra` (exit 0 or 2).
fn destroy_plan_json(emu: &Emulator, d: &Path, extra: &[&str]) -> serde_json::Value {
    let p = plan_json_in(emu, d, "dev", &[&["--destroy"], extra].concat());
    assert_eq!(p["destroy"], true, "{p}");
    assert!(changes(&p).iter().all(|(_, a)| a == "delete"), "{p}");
    p
}

/// Everything of ours left in the env, as rtech's own destroy plan sees it.
fn owned(emu: &Emulator, d: &Path) -> BTreeSet<String> {
    ids(&destroy_plan_json(emu, d, &[]))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_destroy_plan_applies_exactly_and_is_refused_once_stale() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", "");
    let d = dir.path();
    apply_in(&emu, d, "dev", &[]);
    let all = owned(&emu, d);
    assert_eq!(all.len(), 29, "{all:?}");

    // Saved: says it is a destroy plan, in text and in `show --json`; nothing deleted yet.
    let file = d.join("destroy.plan");
    let file_s = file.to_str().unwrap();
    let r = run_ok(
        rtech_in(&emu, d).args(["plan", "--env", "dev", "--destroy", "--out", file_s]),
        0,
    );
    assert!(r.stdout.contains("This is a destroy plan"), "{}", r.stdout);
    assert!(r.stdout.contains("29 to destroy"), "{}", r.stdout);
    assert!(r.stderr.contains("Saved the destroy plan"), "{}", r.stderr);
    let shown: serde_json::Value =
        serde_json::from_str(&run_ok(rtech_in(&emu, d).args(["show", "--json", file_s]), 0).stdout)
            .unwrap();
    assert_eq!(shown["destroy"], true);
    assert_eq!(ids(&shown), all);
    assert_eq!(owned(&emu, d), all, "planning deleted nothing");

    // Stale: something it read moved since (a targeted destroy deleted a leaf).
    let stale = d.join("stale.plan");
    run_ok(
        rtech_in(&emu, d).args([
            "plan",
            "--env",
            "dev",
            "--destroy",
            "--out",
            stale.to_str().unwrap(),
        ]),
        0,
    );
    run_ok(
        rtech_in(&emu, d).args([
            "destroy",
            "--env",
            "dev",
            "--target",
            "rta/public-b",
            "--auto-approve",
        ]),
        0,
    );
    let r = run_ok(
        rtech_in(&emu, d).args(["apply", "--env", "dev", stale.to_str().unwrap()]),
        1,
    );
    assert!(
        r.stderr
            .contains("plan is stale: rta/public-b changed since the plan was made"),
        "{}",
        r.stderr
    );
    assert_eq!(owned(&emu, d).len(), 28, "the stale plan deleted nothing");

    // A fresh one, applied exactly: nothing of ours left; a saved plan does not combine with
    // --target or --replace.
    run_ok(
        rtech_in(&emu, d).args(["plan", "--env", "dev", "--destroy", "--out", file_s]),
        0,
    );
    // Edited by hand to point a delete at another AWS id, or to create: refused, nothing done.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["plan"]["changes"][0]["prior"]["physical_id"] = "sg-0123456789abcdef0".into();
    let edited = d.join("edited.plan");
    std::fs::write(&edited, v.to_string()).unwrap();
    let r = run_ok(
        rtech_in(&emu, d).args(["apply", "--env", "dev", edited.to_str().unwrap()]),
        1,
    );
    assert!(
        r.stderr.contains("not a valid destroy plan")
            && r.stderr.contains("is not a resource of env dev in AWS"),
        "{}",
        r.stderr
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["plan"]["changes"][0]["action"] = "create".into();
    std::fs::write(&edited, v.to_string()).unwrap();
    let r = run_ok(
        rtech_in(&emu, d).args(["apply", "--env", "dev", edited.to_str().unwrap()]),
        1,
    );
    assert!(
        r.stderr.contains("a destroy plan only deletes"),
        "{}",
        r.stderr
    );
    assert_eq!(owned(&emu, d).len(), 28, "the edited plans deleted nothing");
    for extra in [["--target", "vpc/main"], ["--replace", "vpc/main"]] {
        run_ok(
            rtech_in(&emu, d)
                .args(["apply", "--env", "dev", file_s])
                .args(extra),
            1,
        );
    }
    let r = run_ok(rtech_in(&emu, d).args(["apply", "--env", "dev", file_s]), 0);
    assert!(
        r.stdout
            .contains("Destroy complete: 0 added, 0 changed, 0 replaced, 28 destroyed."),
        "{}",
        r.stdout
    );
    assert!(owned(&emu, d).is_empty());
    let left = leftovers(&emu, "dev").await;
    assert_eq!(left.values().sum::<usize>(), 0, "{left:?}");
    // Applying it again: everything it read is gone, so it is stale.
    run_ok(rtech_in(&emu, d).args(["apply", "--env", "dev", file_s]), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_target_deletes_exactly_the_target_and_its_dependants() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", "");
    let d = dir.path();
    apply_in(&emu, d, "dev", &[]);
    let all = owned(&emu, d);

    // A leaf: only itself; the next plan creates exactly it.
    let leaf = "sg_rule/redis-out-all-0.0.0.0_0";
    let p = destroy_plan_json(&emu, d, &["--target", leaf]);
    assert_eq!(changes(&p), [(leaf.to_string(), "delete".to_string())]);
    let r = run_ok(
        rtech_in(&emu, d).args([
            "destroy",
            "--env",
            "dev",
            "--target",
            leaf,
            "--auto-approve",
        ]),
        0,
    );
    assert!(r.stdout.contains("1 destroyed"), "{}", r.stdout);
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(changes(&p), [(leaf.to_string(), "create".to_string())]);
    apply_in(&emu, d, "dev", &[]);

    // Something with dependants: the rules that use the group and the subnet's association
    // go with them, dependants first, and nothing else.
    let targets = ["--target", "sg/app", "--target", "subnet/public-a"];
    let p = destroy_plan_json(&emu, d, &targets);
    let closure: BTreeSet<String> = [
        "sg/app",
        "sg_rule/app-in-tcp-3000-alb",
        "sg_rule/app-out-all-0.0.0.0_0",
        "sg_rule/docdb-in-tcp-27017-app",
        "sg_rule/redis-in-tcp-6379-app",
        "subnet/public-a",
        "rta/public-a",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(ids(&p), closure);
    let order: Vec<String> = changes(&p).into_iter().map(|(id, _)| id).collect();
    let at = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(at("rta/public-a") < at("subnet/public-a"), "{order:?}");
    assert!(
        at("sg_rule/redis-in-tcp-6379-app") < at("sg/app"),
        "{order:?}"
    );

    let mut c = rtech_in(&emu, d);
    c.args(["destroy", "--env", "dev", "--auto-approve"])
        .args(targets);
    let r = run_ok(&mut c, 0);
    assert!(r.stdout.contains("7 destroyed"), "{}", r.stdout);
    let left = owned(&emu, d);
    assert_eq!(
        left,
        all.difference(&closure).cloned().collect::<BTreeSet<_>>()
    );
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(ids(&p), closure);
    assert!(changes(&p).iter().all(|(_, a)| a == "create"), "{p}");

    // An unknown id: a clear error naming the close ones, and nothing deleted.
    let r = run_ok(
        rtech_in(&emu, d).args([
            "destroy",
            "--env",
            "dev",
            "--target",
            "sg/apx",
            "--auto-approve",
        ]),
        1,
    );
    assert!(
        r.stderr.contains("--target sg/apx: no such resource")
            && r.stderr.contains("did you mean: sg/alb"),
        "{}",
        r.stderr
    );
    assert_eq!(owned(&emu, d), left);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_replace_replaces_and_the_next_plan_is_empty() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", "");
    let d = dir.path();
    apply_in(&emu, d, "dev", &[]);
    let ec2 = ec2(&emu).await;
    let before = physical(&ec2, "dev", "subnet/public-a").await;

    // The plan shows it, and its association following it (its subnet_id cannot change in
    // place), as a replace does.
    let p = plan_json_in(&emu, d, "dev", &["--replace", "subnet/public-a"]);
    assert_eq!(
        changes(&p),
        [
            ("subnet/public-a".to_string(), "replace".to_string()),
            ("rta/public-a".to_string(), "replace".to_string()),
        ]
    );
    assert_eq!(
        change_of(&p, "subnet/public-a").unwrap()["reason"],
        "replacement requested with --replace"
    );
    let r = run_ok(
        rtech_in(&emu, d).args(["plan", "--env", "dev", "--replace", "subnet/public-a"]),
        0,
    );
    assert!(r.stdout.contains("-/+ subnet/public-a"), "{}", r.stdout);

    let r = apply_in(&emu, d, "dev", &["--replace", "subnet/public-a"]);
    assert!(r.stdout.contains("2 replaced"), "{}", r.stdout);
    let after = physical(&ec2, "dev", "subnet/public-a").await;
    assert_ne!(before, after, "a new subnet");
    assert_plan_empty_in(&emu, d, "dev", &[]);

    // With --target it is one more target; an unknown id is refused.
    let p = plan_json_in(
        &emu,
        d,
        "dev",
        &[
            "--target",
            "sg/alb",
            "--replace",
            "sg_rule/alb-out-all-0.0.0.0_0",
        ],
    );
    assert_eq!(
        changes(&p),
        [(
            "sg_rule/alb-out-all-0.0.0.0_0".to_string(),
            "replace".to_string()
        )]
    );
    let r = run_ok(
        rtech_in(&emu, d).args(["plan", "--env", "dev", "--replace", "subnet/publc-a"]),
        1,
    );
    assert!(
        r.stderr
            .contains("--replace subnet/publc-a: no such resource")
            && r.stderr.contains("did you mean: subnet/public-a"),
        "{}",
        r.stderr
    );

    // Something that does not exist yet is just created.
    run_ok(
        rtech_in(&emu, d).args([
            "destroy",
            "--env",
            "dev",
            "--target",
            "rta/public-b",
            "--auto-approve",
        ]),
        0,
    );
    let p = plan_json_in(&emu, d, "dev", &["--replace", "rta/public-b"]);
    assert_eq!(
        changes(&p),
        [("rta/public-b".to_string(), "create".to_string())]
    );
}
