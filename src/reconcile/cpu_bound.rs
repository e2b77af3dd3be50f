//! What a plan costs in CPU, apart from the network: reading and validating prod's spec,
//! expanding it, diffing it and rendering the plan as text and JSON. Measured as this thread's
//! CPU time, so tests running beside it do not count, in the unoptimised test build (a release
//! build is several times faster).

use std::time::Duration;

use crate::model::{Observed, Ref, Resource};
use crate::plan::render;
use crate::testutil::try_diff;

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Each desired resource as if it were live and ours: its props with every reference resolved
/// to a stand-in value, which the referenced resource then carries as that attribute.
fn all_live(desired: &[Resource]) -> Vec<Observed> {
    let value = |r: &Ref| format!("{}#{}", r.resource, r.attr);
    let mut refs = vec![];
    for r in desired {
        r.props.values().for_each(|v| v.refs(&mut refs));
    }
    desired
        .iter()
        .map(|r| {
            let props = r
                .props
                .iter()
                .map(|(k, v)| (k.clone(), v.resolve(&|x| Some(value(x)))))
                .collect();
            let mut o = Observed::new(r.id.clone(), format!("phys-{}", r.id)).with_props(props);
            for x in refs.iter().filter(|x| x.resource == r.id) {
                o = o.attr(&x.attr, value(x));
            }
            o
        })
        .collect()
}

/// Read, validate and expand prod, diff it against `live` (built from the expansion) and
/// render the plan as text and JSON; the changes planned.
fn plan_prod(live: &dyn Fn(&[Resource]) -> Vec<Observed>) -> usize {
    let path = format!("{}/envs/prod.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("envs/prod.toml");
    let spec = crate::spec::parse("envs/prod.toml", &text, "prod").expect("prod validates");
    let desired = super::expand(&spec);
    let observed = live(&desired);
    let plan = try_diff("prod", &desired, &observed, false).expect("plan");
    let shown = render::text(&plan, render::Style { color: false }, "envs/prod.toml");
    let json = serde_json::to_string(&render::json(&plan)).expect("json");
    assert!(!shown.is_empty() && !json.is_empty());
    plan.changes.len()
}

/// The least CPU of five runs of `f` (a preempted run does not decide), after one to warm what
/// runs once per process.
fn best_of_five(f: impl Fn() -> usize) -> (Duration, usize) {
    let changes = f();
    let best = (0..5)
        .map(|_| {
            let start = thread_cpu();
            f();
            thread_cpu() - start
        })
        .min()
        .expect("five runs");
    (best, changes)
}

#[test]
fn a_no_op_plan_of_prod_takes_under_50_ms_of_cpu_and_one_from_empty_under_100() {
    // The everyday plan: everything live. The stand-ins match every field but the few whose
    // live form they cannot imitate (the validation records, the service's task definition,
    // the image tag, desired count and rule weights that live values decide), so it compares
    // every resource and changes a handful.
    let (no_op, changes) = best_of_five(|| plan_prod(&all_live));
    assert!(
        changes < 10,
        "prod with every resource live plans {changes} changes"
    );
    println!("prod, no-op: validate, expand, diff, render text and JSON in {no_op:?} of CPU");
    assert!(
        no_op < Duration::from_millis(50),
        "a no-op plan of prod took {no_op:?} of CPU (at most 50 ms)"
    );

    // From empty, every resource and field is rendered (a 250 KB JSON document, most of the
    // time in an unoptimised build).
    let (from_empty, creates) = best_of_five(|| plan_prod(&|_| vec![]));
    assert!(creates >= 90, "prod plans {creates} creates from empty");
    println!("prod, from empty: {from_empty:?} of CPU");
    assert!(
        from_empty < Duration::from_millis(100),
        "a plan of prod from empty took {from_empty:?} of CPU (at most 100 ms)"
    );
}
