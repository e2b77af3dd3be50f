//! Diagnostics through `tracing`: `-v` shows rtech's own events, `-vv` adds the
//! SDK's, `RUST_LOG` overrides both, `--log-format json` writes one object per event; retries
//! are visible; a region from the environment or the profile that the spec overrides is
//! warned about once. The plan on stdout is the same whatever the diagnostics.

use std::io::Write;

use crate::emulator::Emulator;
use crate::support::*;

/// `rtech <args> plan --env dev` (exit 2: dev is empty, so the plan has changes).
fn plan_with(mut c: assert_cmd::Command, args: &[&str]) -> Run {
    c.args(args)
        .args(["plan", "--env", "dev", "--detailed-exitcode"]);
    run_ok(&mut c, 2)
}

#[test]
fn verbosity_and_rust_log_choose_whose_events_are_shown_and_stdout_never_changes() {
    let emu = Emulator::start();
    let quiet = plan_with(rtech(&emu), &[]);
    assert!(
        !quiet.stderr.contains("observed "),
        "no diagnostics by default: {}",
        quiet.stderr
    );

    // -v: rtech's events, written as lines for people; none of the SDK's.
    let v = plan_with(rtech(&emu), &["-v"]);
    assert!(
        v.stderr.contains("observed 0 resources with "),
        "{}",
        v.stderr
    );
    assert!(v.stderr.contains("longest chain of calls"), "{}", v.stderr);
    // and each service's calls and time, e.g. `ec2 11 in 0.12 s`.
    let times = v
        .stderr
        .lines()
        .find(|l| l.starts_with("observe time per service: "))
        .unwrap_or_else(|| panic!("-v times each service: {}", v.stderr));
    assert!(times.contains("ec2 ") && times.contains(" s, "), "{times}");
    assert!(!v.stderr.contains("aws_smithy_runtime"), "{}", v.stderr);
    assert_eq!(v.stdout, quiet.stdout, "diagnostics never go to stdout");

    // -vv: every operation and each call's time, and the SDK's own events.
    let vv = plan_with(rtech(&emu), &["-vv"]);
    assert!(
        vv.stderr.contains("API calls by operation ("),
        "{}",
        vv.stderr
    );
    assert!(
        vv.stderr
            .lines()
            .any(|l| l.starts_with("ec2:") && l.ends_with(" s (1 attempt(s))")),
        "{}",
        vv.stderr
    );
    assert!(
        vv.stderr.contains("DEBUG aws_smithy_runtime"),
        "{}",
        vv.stderr
    );
    assert_eq!(vv.stdout, quiet.stdout);

    // RUST_LOG wins over the flags: the SDK's events alone, none of rtech's.
    let mut c = rtech(&emu);
    c.env("RUST_LOG", "aws_smithy_runtime=debug");
    let r = plan_with(c, &["-v"]);
    assert!(
        r.stderr.contains("DEBUG aws_smithy_runtime"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("observed "), "{}", r.stderr);

    // A RUST_LOG that does not parse: one warning, then the flags' filter.
    let mut c = rtech(&emu);
    c.env("RUST_LOG", "rtech=loud");
    let r = plan_with(c, &["-v"]);
    assert!(
        r.stderr
            .contains("warning: RUST_LOG=\"rtech=loud\" is not a filter"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("observed 0 resources"), "{}", r.stderr);
}

#[test]
fn json_diagnostics_are_one_object_per_line_beside_the_unchanged_plan() {
    let emu = Emulator::start();
    let text = plan_with(rtech(&emu), &[]);
    let r = plan_with(rtech(&emu), &["-v", "--log-format", "json"]);
    assert_eq!(r.stdout, text.stdout);
    let events: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let observed = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("observed 0 resources"))
        })
        .unwrap_or_else(|| panic!("no observe event in:\n{}", r.stderr));
    assert_eq!(observed["level"], "DEBUG");
    assert_eq!(observed["target"], "rtech");
    assert!(observed["timestamp"].is_string(), "{observed}");
    // Nothing else of rtech's diagnostics is left as plain text.
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("observed ")),
        "{}",
        r.stderr
    );
}

#[test]
fn throttled_calls_are_retried_visibly_at_v() {
    let emu = Emulator::start();
    let proxy = FaultProxy::start(&emu, &["--seed", "7", "--throttle", "0.3"]);
    let r = plan_with(assert_cmd::Command::from_std(proxy.rtech(&emu)), &["-v"]);
    let throttled = proxy.stats()["faults"]["throttle"].as_u64().unwrap();
    assert!(throttled > 0, "no fault injected");
    // Each throttled attempt is named with its answer (as is any other error answer, a
    // not-found one included), and its retry with the attempt number.
    let failed = r
        .stderr
        .lines()
        .filter(|l| l.contains(" attempt ") && l.contains(" failed: HTTP "))
        .count();
    let retrying = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("retrying ") && l.contains("(attempt "))
        .count();
    assert!(failed as u64 >= throttled, "{}", r.stderr);
    assert_eq!(retrying as u64, throttled, "{}", r.stderr);
}

#[test]
fn a_region_from_the_environment_or_the_profile_that_the_spec_overrides_is_one_warning() {
    let emu = Emulator::start();
    let warning = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.starts_with("warning: ") && l.contains("rtech uses the spec's region"))
            .map(String::from)
            .collect()
    };
    // The suite's AWS_REGION is the spec's: nothing to say.
    let r = plan_with(rtech(&emu), &[]);
    assert_eq!(warning(&r.stderr), Vec::<String>::new());

    let mut c = rtech(&emu);
    c.env("AWS_REGION", "eu-west-1");
    let r = plan_with(c, &[]);
    assert_eq!(
        warning(&r.stderr),
        ["warning: AWS_REGION is eu-west-1, but the env's spec says region = \"us-east-1\": rtech uses the spec's region (--region overrides it)"]
    );

    // A profile's region, with no region in the environment.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let mut f = std::fs::File::create(&config).unwrap();
    writeln!(f, "[profile e2e]\nregion = ap-south-1").unwrap();
    let mut c = rtech(&emu);
    c.env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "e2e");
    let r = plan_with(c, &[]);
    let w = warning(&r.stderr);
    assert_eq!(w.len(), 1, "{}", r.stderr);
    assert!(
        w[0].starts_with("warning: the profile's region is ap-south-1"),
        "{w:?}"
    );

    // --region is explicit: no warning, whatever the environment says.
    let mut c = rtech(&emu);
    c.env("AWS_REGION", "eu-west-1");
    let r = plan_with(c, &["--region", "us-east-1"]);
    assert_eq!(warning(&r.stderr), Vec::<String>::new());
}
