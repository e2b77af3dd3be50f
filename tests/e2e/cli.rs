//! The CLI's edges: spec errors with their location (and no AWS call), validation of the
//! real envs, unreachable endpoints and missing credentials as one clear line.

use std::path::Path;

use assert_cmd::Command;

use crate::support::{run, Run};

/// rtech pointed at an endpoint nothing listens on: any AWS call would fail differently.
fn offline(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("rtech").unwrap();
    c.current_dir(dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("NO_COLOR", "1");
    c
}

const GOOD: &str = r#"project = "rtech"
env = "qa"
region = "us-east-1"

[network]
cidr = "10.0.0.0/16"
"#;

fn bad_spec(text: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("envs")).unwrap();
    std::fs::write(dir.path().join("envs/qa.toml"), text).unwrap();
    let r = run(offline(dir.path()).args(["plan", "--env", "qa"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stderr.contains("cannot reach"),
        "no AWS call was attempted: {}",
        r.stderr
    );
    r
}

#[test]
fn bad_specs_fail_with_file_line_column_and_key_path() {
    let cases: &[(&str, &str)] = &[
        // syntax
        ("project = \"rtech\"\nenv = \"qa\nregion = \"us-east-1\"\n", "envs/qa.toml:2:"),
        // unknown key
        (&GOOD.replace("[network]\n", "[network]\ncidrs = \"x\"\n"), "envs/qa.toml:6:1: network.cidrs: unknown field `cidrs`, expected one of `cidr`"),
        // wrong type
        (&format!("{GOOD}az_count = \"two\"\n"), "envs/qa.toml:7:12: network.az_count: invalid type: string \"two\", expected i64"),
        // bad CIDR
        (&GOOD.replace("10.0.0.0/16", "10.0.0.0/33"), "envs/qa.toml:6:8: network.cidr: \"10.0.0.0/33\" is not a valid IPv4 CIDR"),
        // overlapping subnets
        (
            &format!("{GOOD}public_subnets = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\nprivate_subnets = [\"10.0.1.0/25\", \"10.0.3.0/24\"]\n"),
            "envs/qa.toml:8:20: network.private_subnets[0]: \"10.0.1.0/25\" overlaps network.public_subnets[0] (\"10.0.1.0/24\")",
        ),
        // the container platform: a cpu/memory pair Fargate rejects, min > max, a bad port and tag
        (
            &format!("{GOOD}\n[ecr]\n[app]\ncpu = 256\nmemory = 4096\n"),
            "envs/qa.toml:11:10: app.memory: 4096 MiB is not a memory size Fargate accepts with cpu = 256",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[app.scaling]\nmin = 4\nmax = 2\n"),
            "envs/qa.toml:11:7: app.scaling.min: min (4) is greater than max (2)",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\nport = 70000\n"),
            "envs/qa.toml:10:8: app.port: 70000 is out of range: 1 to 65535",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\nimage_tag = \"v1 beta\"\n"),
            "envs/qa.toml:10:13: app.image_tag: \"v1 beta\" is not a valid image tag",
        ),
        // the edge: a bad domain, an unknown and a too-old SSL policy, weights, TTL order
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[edge]\ndomain = \"Rtech.example.com\"\n"),
            "envs/qa.toml:11:10: edge.domain: \"Rtech.example.com\" must be lowercase (\"rtech.example.com\")",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[edge]\nssl_policy = \"TLS-best\"\n"),
            "envs/qa.toml:11:14: edge.ssl_policy: \"TLS-best\" is not an ELB security policy",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[edge]\nssl_policy = \"ELBSecurityPolicy-2016-08\"\n"),
            "envs/qa.toml:11:14: edge.ssl_policy: \"ELBSecurityPolicy-2016-08\" accepts TLS 1.0",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[edge]\n[edge.weights]\nblue = 90\n"),
            "envs/qa.toml:11:1: edge.weights: the weights sum to 90 (blue = 90), not 100",
        ),
        (
            &format!("{GOOD}\n[ecr]\n[app]\n[edge]\n[edge.cloudfront]\n[edge.cloudfront.api_behavior]\nmin_ttl = 10\ndefault_ttl = 5\nmax_ttl = 100\n"),
            "envs/qa.toml:13:11: edge.cloudfront.api_behavior.min_ttl: min_ttl (10) is greater than default_ttl (5)",
        ),
        // monitoring: a threshold that is not a number, a period CloudWatch does not take, an
        // unknown statistic and comparison
        (
            &format!("{GOOD}\n[monitoring]\n[monitoring.alarms.ecs-cpu]\nthreshold = \"high\"\n"),
            "envs/qa.toml:10:13: monitoring.alarms.ecs-cpu.threshold: \"high\" is not a number",
        ),
        (
            &format!("{GOOD}\n[monitoring]\nperiod_seconds = 90\n"),
            "envs/qa.toml:9:18: monitoring.period_seconds: 90 is not a period CloudWatch alarms take: a multiple of 60 seconds",
        ),
        (
            &format!("{GOOD}\n[monitoring]\n[monitoring.alarms.alb-latency-p95]\nperiod_seconds = 45\nstatistic = \"Median\"\n"),
            "envs/qa.toml:11:13: monitoring.alarms.alb-latency-p95.statistic: \"Median\" is not a statistic",
        ),
        // … and every error in one run: the same text also reports the alarm's period.
        (
            &format!("{GOOD}\n[monitoring]\n[monitoring.alarms.alb-latency-p95]\nperiod_seconds = 45\nstatistic = \"Median\"\n"),
            "envs/qa.toml:10:18: monitoring.alarms.alb-latency-p95.period_seconds: 45 is not a period",
        ),
        (
            &format!("{GOOD}\n[monitoring]\n[monitoring.alarms.redis-cpu]\ncomparison = \"Bigger\"\n"),
            "envs/qa.toml:10:14: monitoring.alarms.redis-cpu.comparison: \"Bigger\" is not one of GreaterThan",
        ),
    ];
    for (text, want) in cases {
        let r = bad_spec(text);
        assert!(r.stderr.contains(want), "wanted {want:?} in:\n{}", r.stderr);
    }
}

#[test]
fn a_missing_env_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("envs")).unwrap();
    std::fs::write(dir.path().join("envs/dev.toml"), GOOD.replace("qa", "dev")).unwrap();
    let r = run(offline(dir.path()).args(["plan", "--env", "prdo"]));
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("envs/prdo.toml: no such env file") && r.stderr.contains("dev"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_three_envs_validate_without_aws() {
    for env in ["dev", "staging", "prod"] {
        let mut c = Command::cargo_bin("rtech").unwrap();
        c.current_dir(crate::emulator::root())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .args(["validate", "--env", env]);
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{env}: {}", r.stderr);
        assert!(
            r.stdout.contains(&format!("envs/{env}.toml: valid")),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn an_unreachable_endpoint_is_one_clear_line() {
    let r = run(offline(crate::emulator::root()).args(["plan", "--env", "dev"]));
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot reach the AWS endpoint http://127.0.0.1:9"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_credentials_are_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::cargo_bin("rtech").unwrap();
    c.current_dir(crate::emulator::root())
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(["plan", "--env", "dev"]);
    let r = run(&mut c);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("credentials"),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_errors_exit_1_not_the_changes_code() {
    let r = run(offline(crate::emulator::root()).args(["plan", "--env", "dev", "--bogus"]));
    assert_eq!(
        r.code, 1,
        "2 is reserved for --detailed-exitcode's 'changes': {}",
        r.stderr
    );
    assert!(r.stderr.contains("--bogus"), "{}", r.stderr);
}

#[test]
fn a_bad_image_tag_flag_is_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("envs")).unwrap();
    std::fs::write(dir.path().join("envs/qa.toml"), GOOD).unwrap();
    for cmd in ["plan", "apply"] {
        let r = run(offline(dir.path()).args([cmd, "--env", "qa", "--image-tag", "bad:tag"]));
        assert_eq!(r.code, 1, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("\"bad:tag\" is not a valid image tag")
                && !r.stderr.contains("cannot reach"),
            "{cmd}: {}",
            r.stderr
        );
    }
}

/// `rtech completions SHELL` and `rtech man`: generated from the CLI's definitions, offline,
/// naming the commands and flags `--help` names.
#[test]
fn completions_for_each_shell_and_the_man_page_name_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _rtech"),
        ("zsh", "#compdef rtech"),
        ("fish", "complete -c rtech"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[rtech]"),
    ] {
        let r = run(offline(dir.path()).args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{shell}: {}", r.stdout);
        for word in [
            "plan",
            "apply",
            "destroy",
            "deploy",
            // fish names long flags without their dashes (`-l auto-approve`).
            "env",
            "auto-approve",
        ] {
            assert!(r.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let r = run(offline(dir.path()).args(["completions", "tcsh"]));
    assert_eq!(r.code, 1, "an unknown shell is a usage error");

    // A reader that stops early (`| head`) ends the output quietly, without a panic.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rtech"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");

    let r = run(offline(dir.path()).arg("man"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH rtech"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    for word in [
        "plan",
        "apply",
        "destroy",
        "completions",
        "\\-\\-envs\\-dir",
    ] {
        assert!(r.stdout.contains(word), "the man page lacks {word}");
    }
}

/// `rtech schema`: the env file's JSON Schema, offline, exactly the checked-in
/// `schema/env.schema.json` the env files name in their `#:schema` line.
#[test]
fn schema_prints_the_checked_in_json_schema_of_the_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(offline(dir.path()).arg("schema"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "{}",
        r.stdout
    );
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["required"],
        serde_json::json!(["env", "network", "project", "region"])
    );
    for key in ["network", "docdb", "app", "edge", "monitoring", "policy"] {
        assert!(
            schema["properties"][key]["description"].is_string(),
            "{key}: {}",
            schema["properties"][key]
        );
    }
    let checked_in = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/env.schema.json"),
    )
    .unwrap();
    assert!(
        r.stdout == checked_in,
        "schema/env.schema.json is stale: cargo run -- schema > schema/env.schema.json"
    );
    for env in ["dev", "staging", "prod"] {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("envs/{env}.toml")),
        )
        .unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ../schema/env.schema.json"),
            "envs/{env}.toml"
        );
    }
}

/// `rtech output NAME`: a name it does not know is a usage error listing the names, before any
/// AWS call; `--raw` needs a name.
#[test]
fn output_names_are_checked_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(offline(dir.path()).args(["output", "--env", "dev", "vpc"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no output is named \"vpc\"; the outputs are: vpc_id, vpc_cidr"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("cannot reach"), "{}", r.stderr);
    let r = run(offline(dir.path()).args(["output", "--env", "dev", "--raw"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
}
