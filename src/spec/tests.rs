//! Spec parsing and validation: every error is located (file, line, column, key path).

use std::path::Path;

use super::network::{FlowLogs, NatLayout};
use super::*;

const FILE: &str = "envs/dev.toml";

/// A minimal valid spec; the `[network]` table is the last one, so callers can append keys to it.
const BASE: &str = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n";

fn ok(text: &str) -> Spec {
    match parse(FILE, text, "dev") {
        Ok(s) => s,
        Err(errs) => panic!("expected a valid spec, got:\n{}", render(&errs)),
    }
}

fn errs(text: &str) -> Vec<SpecError> {
    match parse(FILE, text, "dev") {
        Ok(s) => panic!("expected errors, got a valid spec: {s:?}"),
        Err(e) => {
            assert!(!e.is_empty(), "an Err must carry at least one error");
            e
        }
    }
}

/// Exactly one error; return it.
fn one_err(text: &str) -> SpecError {
    let e = errs(text);
    assert_eq!(
        e.len(),
        1,
        "expected exactly one error, got:\n{}",
        render(&e)
    );
    e.into_iter().next().unwrap()
}

fn render(e: &[SpecError]) -> String {
    e.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// BASE with extra lines appended to `[network]`.
fn with_network(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

/// Exactly one error, at `line:col` on `path`, whose message says each of `says`; return it.
fn located(text: &str, (line, col, path): (usize, usize, &str), says: &[&str]) -> SpecError {
    let e = one_err(text);
    assert_at(&e, line, col, path);
    for s in says {
        assert!(e.message.contains(s), "{e}");
    }
    e
}

fn assert_at(e: &SpecError, line: usize, col: usize, path: &str) {
    assert_eq!(
        (e.file.as_str(), e.line, e.col, e.path.as_str()),
        (FILE, line, col, path),
        "{e}"
    );
}

// --- display ---------------------------------------------------------------------------------

#[test]
fn error_display_is_file_line_col_path_message() {
    let e = SpecError {
        file: "envs/dev.toml".into(),
        line: 3,
        col: 7,
        path: "network.cidr".into(),
        message: "bad".into(),
    };
    assert_eq!(e.to_string(), "envs/dev.toml:3:7: network.cidr: bad");
    let no_path = SpecError {
        path: String::new(),
        ..e
    };
    assert_eq!(no_path.to_string(), "envs/dev.toml:3:7: bad");
}

#[test]
fn line_col_counts_lines_and_characters() {
    let src = Source {
        file: FILE,
        text: "ab\ncdé\nf",
    };
    assert_eq!(src.line_col(0), (1, 1));
    assert_eq!(src.line_col(3), (2, 1));
    // 'é' is two bytes but one column.
    assert_eq!(src.line_col(7), (2, 4));
    assert_eq!(src.line_col(8), (3, 1));
    // Offsets past the end clamp to the end.
    assert_eq!(src.line_col(1000), (3, 2));
}

// --- syntax and schema (serde) errors ----------------------------------------------------------

#[test]
fn toml_syntax_error_is_located() {
    let e = located(
        "project = \"rtech\nenv = \"dev\"\n",
        (1, 17, ""),
        &["invalid basic string"],
    );
    assert!(e.to_string().starts_with("envs/dev.toml:1:17: "), "{e}");
}

#[test]
fn unknown_top_level_key_is_located_at_the_key() {
    let text = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\ncolour = \"red\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n";
    located(
        text,
        (4, 1, "colour"),
        &["unknown field `colour`", "expected one of `project`"],
    );
}

#[test]
fn unknown_network_key_is_located_at_the_key() {
    located(
        &with_network("subnets = 3"),
        (7, 1, "network.subnets"),
        &["unknown field `subnets`", "`az_count`"],
    );
}

#[test]
fn key_paths_do_not_leak_serde_internals() {
    for text in [
        with_network("subnets = 3"),
        with_network("az_count = \"two\""),
        with_network("nat = \"double\""),
        with_network("public_subnets = [\"10.0.1.0/24\", 5]"),
    ] {
        let e = one_err(&text);
        assert!(!e.path.contains("serde"), "{e}");
        assert!(!e.to_string().contains('$'), "{e}");
    }
}

#[test]
fn wrong_type_is_located_at_the_value() {
    let e = located(
        &with_network("az_count = \"two\""),
        (7, 12, "network.az_count"),
        &["invalid type: string \"two\", expected i64"],
    );
    assert_eq!(
        e.to_string(),
        "envs/dev.toml:7:12: network.az_count: invalid type: string \"two\", expected i64"
    );
}

#[test]
fn wrong_type_inside_a_list_names_the_index() {
    located(
        &with_network("public_subnets = [\"10.0.1.0/24\", 5]"),
        (7, 34, "network.public_subnets[1]"),
        &["expected a string"],
    );
}

#[test]
fn bad_nat_variant_lists_the_valid_ones() {
    located(
        &with_network("nat = \"double\""),
        (7, 7, "network.nat"),
        &["unknown variant `double`", "`none`, `single`, `one_per_az`"],
    );
}

#[test]
fn missing_network_table_is_reported() {
    let e = one_err("project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n");
    assert_eq!((e.line, e.col, e.path.as_str()), (1, 1, ""));
    assert!(e.message.contains("missing field `network`"), "{e}");
}

// --- network validation ------------------------------------------------------------------------

fn with_cidr(cidr: &str) -> String {
    BASE.replace("10.0.0.0/16", cidr)
}

#[test]
fn invalid_cidr_is_located_at_the_value() {
    let e = located(
        &with_cidr("10.0.0.0/33"),
        (6, 8, "network.cidr"),
        &["is not a valid IPv4 CIDR"],
    );
    assert_eq!(
        e.to_string(),
        "envs/dev.toml:6:8: network.cidr: \"10.0.0.0/33\" is not a valid IPv4 CIDR"
    );
}

#[test]
fn cidr_with_host_bits_suggests_the_network() {
    located(
        &with_cidr("10.0.0.1/16"),
        (6, 8, "network.cidr"),
        &["has host bits set", "did you mean \"10.0.0.0/16\"?"],
    );
}

#[test]
fn vpc_prefix_must_be_16_to_28() {
    located(
        &with_cidr("10.0.0.0/12"),
        (6, 8, "network.cidr"),
        &["a VPC's prefix must be between /16 and /28"],
    );

    // /29 is too small, and too small for the default subnets as well: all reported.
    let e = errs(&with_cidr("10.0.0.0/29"));
    assert!(
        e.iter()
            .any(|e| e.path == "network.cidr" && e.message.contains("between /16 and /28")),
        "{}",
        render(&e)
    );
    assert!(
        e.iter()
            .any(|e| e.path == "network.public_subnets" && e.message.contains("too small")),
        "{}",
        render(&e)
    );
    assert!(
        e.iter().all(|e| (e.line, e.col) == (6, 8)),
        "{}",
        render(&e)
    );

    // The bounds themselves are fine (a /28 is too small for default subnets, so list them).
    ok(&with_cidr("10.0.0.0/16"));
    ok(&format!(
        "{}public_subnets = [\"10.0.0.0/28\"]\nprivate_subnets = [\"10.0.0.16/28\"]\naz_count = 1\n",
        with_cidr("10.0.0.0/27")
    ));
}

#[test]
fn overlapping_subnets_are_reported_on_the_second() {
    located(&with_network(
        "public_subnets = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\nprivate_subnets = [\"10.0.2.128/25\", \"10.0.3.0/24\"]",
    ), (8, 20, "network.private_subnets[0]"), &["\"10.0.2.128/25\" overlaps network.public_subnets[1] (\"10.0.2.0/24\")"]);
}

#[test]
fn subnet_outside_the_vpc_is_reported() {
    located(
        &with_network("public_subnets = [\"10.0.1.0/24\", \"10.1.2.0/24\"]"),
        (7, 34, "network.public_subnets[1]"),
        &["\"10.1.2.0/24\" is not inside the VPC's \"10.0.0.0/16\""],
    );
}

#[test]
fn subnet_count_must_match_the_azs() {
    located(
        &with_network("public_subnets = [\"10.0.1.0/24\", \"10.0.2.0/24\", \"10.0.3.0/24\"]"),
        (7, 18, "network.public_subnets"),
        &["lists 3 subnets for 2 AZs: give one per AZ"],
    );

    located(
        &with_network("az_count = 3\nprivate_subnets = [\"10.0.101.0/24\"]"),
        (8, 19, "network.private_subnets"),
        &["lists 1 subnets for 3 AZs"],
    );
}

#[test]
fn az_count_must_be_1_to_6() {
    for (n, col) in [("0", 12), ("7", 12), ("-1", 12)] {
        let e = one_err(&with_network(&format!("az_count = {n}")));
        assert_at(&e, 7, col, "network.az_count");
        assert_eq!(e.message, format!("{n} is out of range: 1 to 6 AZs"));
    }
    for n in 1..=6 {
        let s = ok(&with_network(&format!("az_count = {n}")));
        assert_eq!(s.network.azs.len(), n);
        assert_eq!(s.network.public_subnets.len(), n);
        assert_eq!(s.network.private_subnets.len(), n);
    }
}

#[test]
fn explicit_azs_are_checked_against_the_region_and_the_count() {
    let e = errs(&with_network(
        "azs = [\"us-east-1a\", \"us-west-2b\", \"us-east-1a\"]\naz_count = 2",
    ));
    let text = render(&e);
    assert!(
        e.iter()
            .any(|e| e.path == "network.azs[1]" && e.message.contains("is not an AZ of us-east-1")),
        "{text}"
    );
    assert!(
        e.iter()
            .any(|e| e.path == "network.azs[2]" && e.message.contains("is listed twice")),
        "{text}"
    );
    assert!(
        e.iter().any(|e| e.path == "network.azs"
            && e.message.contains("lists 3 AZs but network.az_count is 2")),
        "{text}"
    );

    let s = ok(&with_network("azs = [\"us-east-1c\", \"us-east-1d\"]"));
    assert_eq!(s.network.azs, ["us-east-1c", "us-east-1d"]);
}

#[test]
fn app_port_must_be_a_tcp_port() {
    located(
        &with_network("app_port = 70000"),
        (7, 12, "network.app_port"),
        &["70000 is not a TCP port"],
    );
    assert_eq!(ok(&with_network("app_port = 8080")).network.app_port, 8080);
}

#[test]
fn alb_ingress_cidrs_are_validated() {
    let e = located(
        &with_network("alb_ingress_cidrs = [\"203.0.113.0/24\", \"nope\"]"),
        (7, 40, "network.alb_ingress_cidrs[1]"),
        &[],
    );
    assert!(
        e.message.contains("\"nope\" is not a valid IPv4 CIDR"),
        "{e}"
    );
}

// --- top-level validation ----------------------------------------------------------------------

#[test]
fn env_must_match_the_file_name() {
    let errs = parse("envs/staging.toml", BASE, "staging").unwrap_err();
    assert_eq!(errs.len(), 1, "{}", render(&errs));
    let e = &errs[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.col, e.path.as_str()),
        ("envs/staging.toml", 2, 7, "env")
    );
    assert_eq!(
        e.message,
        "\"dev\" does not match the file name (expected \"staging\")"
    );
}

#[test]
fn reserved_tag_keys_are_refused() {
    let text = BASE.replace(
        "[network]",
        "[tags]\n\"rtech:x\" = \"y\"\n\"aws:z\" = \"w\"\nTeam = \"core\"\n\n[network]",
    );
    let e = errs(&text);
    assert_eq!(e.len(), 2, "{}", render(&e));
    // Errors come in file order: rtech:x (line 6) then aws:z (line 7).
    assert_at(&e[0], 6, 13, "tags.rtech:x");
    assert_at(&e[1], 7, 11, "tags.aws:z");
    for e in &e {
        assert_eq!(
            e.message,
            "tag keys starting with aws: or rtech: are reserved"
        );
    }
}

#[test]
fn project_name_must_be_lowercase_and_short() {
    let e = located(
        &BASE.replace("\"rtech\"", "\"RTech\""),
        (1, 11, "project"),
        &[],
    );
    assert!(
        e.message.contains("must start with a lowercase letter"),
        "{e}"
    );

    let long = "a".repeat(21);
    let e = located(
        &BASE.replace("\"rtech\"", &format!("\"{long}\"")),
        (1, 11, "project"),
        &[],
    );
    assert_eq!(e.message, format!("{long:?} must be 1 to 20 characters"));

    for bad in ["", "-rtech", "rtech-", "9lives", "r_tech"] {
        let e = one_err(&BASE.replace("\"rtech\"", &format!("{bad:?}")));
        assert_eq!(e.path, "project", "{bad:?}: {e}");
    }
    let s = ok(&BASE.replace("\"rtech\"", &format!("\"{}\"", "a".repeat(20))));
    assert_eq!(s.project.len(), 20);
    ok(&BASE.replace("\"rtech\"", "\"my-app2\""));
}

#[test]
fn region_must_look_like_a_region() {
    located(
        &BASE.replace("us-east-1", "useast"),
        (3, 10, "region"),
        &["is not an AWS region name"],
    );
}

#[test]
fn all_errors_are_reported_at_once_in_file_order() {
    let text = "project = \"RTech\"\nenv = \"dev\"\nregion = \"nowhere\"\n\n[network]\ncidr = \"10.0.0.0/33\"\naz_count = 7\n";
    let e = errs(text);
    let got: Vec<(usize, usize, &str)> =
        e.iter().map(|e| (e.line, e.col, e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, 11, "project"),
            (3, 10, "region"),
            (6, 8, "network.cidr"),
            (7, 12, "network.az_count")
        ],
        "{}",
        render(&e)
    );
}

// --- defaults ----------------------------------------------------------------------------------

#[test]
fn defaults_fill_in_a_minimal_spec() {
    let s = ok(BASE);
    assert_eq!(s.project, "rtech");
    assert_eq!(s.env, "dev");
    assert_eq!(s.region, "us-east-1");
    assert_eq!(s.file, FILE);
    assert!(s.tags.is_empty());
    assert_eq!(s.name("vpc"), "rtech-dev-vpc");
    let n = &s.network;
    assert_eq!(n.cidr.to_string(), "10.0.0.0/16");
    assert_eq!(n.azs, ["us-east-1a", "us-east-1b"]);
    assert_eq!(n.nat, NatLayout::Single);
    let strs = |v: &[ipnet::Ipv4Net]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(strs(&n.public_subnets), ["10.0.1.0/24", "10.0.2.0/24"]);
    assert_eq!(strs(&n.private_subnets), ["10.0.11.0/24", "10.0.12.0/24"]);
    assert_eq!(n.app_port, 3000);
    assert_eq!(strs(&n.alb_ingress_cidrs), ["0.0.0.0/0"]);
}

#[test]
fn default_subnets_scale_with_the_vpc() {
    let s = ok(&format!("{}az_count = 3\n", with_cidr("10.20.0.0/20")));
    let strs = |v: &[ipnet::Ipv4Net]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        strs(&s.network.public_subnets),
        ["10.20.0.16/28", "10.20.0.32/28", "10.20.0.48/28"]
    );
    assert_eq!(
        strs(&s.network.private_subnets),
        ["10.20.0.176/28", "10.20.0.192/28", "10.20.0.208/28"]
    );
    assert_eq!(s.network.azs, ["us-east-1a", "us-east-1b", "us-east-1c"]);
}

#[test]
fn explicit_values_override_defaults() {
    let s = ok(&with_network(
        "nat = \"one_per_az\"\npublic_subnets = [\"10.0.100.0/24\", \"10.0.101.0/24\"]\nprivate_subnets = [\"10.0.128.0/20\", \"10.0.144.0/20\"]\napp_port = 8080",
    ));
    assert_eq!(s.network.nat, NatLayout::OnePerAz);
    assert_eq!(s.network.public_subnets[1].to_string(), "10.0.101.0/24");
    assert_eq!(s.network.private_subnets[0].to_string(), "10.0.128.0/20");
    assert_eq!(s.network.app_port, 8080);
    assert_eq!(
        ok(&with_network("nat = \"none\"")).network.nat,
        NatLayout::None
    );
}

#[test]
fn az_suffix_is_the_last_letter() {
    assert_eq!(network::Network::az_suffix("us-east-1a"), "a");
    assert_eq!(network::Network::az_suffix("eu-west-3c"), "c");
}

// --- load --------------------------------------------------------------------------------------

#[test]
fn load_missing_env_names_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.toml"), "").unwrap();
    std::fs::write(dir.path().join("dev.toml"), "").unwrap();
    std::fs::write(dir.path().join("notes.md"), "").unwrap();
    let err = load(dir.path(), "qa").unwrap_err();
    match &err {
        LoadError::Missing {
            file,
            dir: d,
            known,
        } => {
            assert_eq!(file, &dir.path().join("qa.toml").display().to_string());
            assert_eq!(d, &dir.path().display().to_string());
            assert_eq!(known, "dev, prod");
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("qa.toml: no such env file"), "{msg}");
    assert!(msg.ends_with(": dev, prod)"), "{msg}");
}

#[test]
fn load_missing_env_in_an_empty_dir_says_none() {
    let dir = tempfile::tempdir().unwrap();
    match load(dir.path(), "dev").unwrap_err() {
        LoadError::Missing { known, .. } => assert_eq!(known, "none"),
        other => panic!("expected Missing, got {other:?}"),
    }
}

#[test]
fn load_invalid_file_reports_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dev.toml"), with_cidr("10.0.0.0/33")).unwrap();
    let err = load(dir.path(), "dev").unwrap_err();
    let file = dir.path().join("dev.toml").display().to_string();
    match &err {
        LoadError::Invalid(errs) => {
            assert_eq!(errs.len(), 1);
            assert_eq!(errs[0].file, file);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("{file}:6:8: network.cidr: \"10.0.0.0/33\" is not a valid IPv4 CIDR")
    );
}

#[test]
fn repo_envs_all_load() {
    let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("envs");
    for env in ["dev", "staging", "prod"] {
        let s = load(&envs, env).unwrap_or_else(|e| panic!("envs/{env}.toml: {e}"));
        assert_eq!(s.env, env);
        assert_eq!(s.project, "rtech");
        assert_eq!(s.network.public_subnets.len(), s.network.azs.len(), "{env}");
        assert_eq!(
            s.network.private_subnets.len(),
            s.network.azs.len(),
            "{env}"
        );
    }
    let prod = load(&envs, "prod").unwrap();
    assert_eq!(prod.network.azs.len(), 3);
    assert_eq!(prod.network.nat, NatLayout::OnePerAz);
    let dev = load(&envs, "dev").unwrap();
    assert_eq!(dev.network.cidr.to_string(), "10.10.0.0/20");
    assert_eq!(dev.network.nat, NatLayout::Single);
}

#[test]
fn a_name_tag_is_refused_because_rtech_sets_it() {
    let text = BASE.replace("[network]", "[tags]\nName = \"x\"\n\n[network]");
    located(&text, (6, 8, "tags.Name"), &["set by rtech"]);
}

#[test]
fn a_cidr_listed_twice_in_alb_ingress_is_refused_where_it_is() {
    located(
        &with_network("alb_ingress_cidrs = [\"10.1.0.0/16\", \"10.1.0.0/16\"]"),
        (7, 37, "network.alb_ingress_cidrs[1]"),
        &["listed twice"],
    );
}

#[test]
fn errors_are_reported_in_file_order() {
    let text = "project = \"Bad\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/33\"\naz_count = 9\n";
    let e = errs(text);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "{}", render(&e));
}

// ---------------------------------------------------------------------------------------------
// [ecr] and [app]

/// BASE + `[ecr]` (line 7) + `[app]` (line 8) + `app` lines from line 9.
fn with_app(app: &str) -> String {
    format!("{BASE}[ecr]\n[app]\n{app}\n")
}

#[test]
fn app_defaults_follow_the_production_plan() {
    let s = ok(&with_app(""));
    let e = s.ecr.expect("ecr");
    assert_eq!(e.repository, "rtech-app");
    assert!(e.scan_on_push && !e.immutable_tags && !e.force_delete);
    let a = s.app.expect("app");
    assert_eq!((a.cpu, a.memory, a.port), (256, 512, 3000));
    assert_eq!(a.image_tag, "latest");
    assert_eq!(a.target_group.health_check_path, "/api/health");
    assert_eq!(a.log_retention_days, 30);
    assert_eq!(a.scaling, None);
    assert_eq!(s.image_tag, None);
}

#[test]
fn every_env_file_has_the_container_platform() {
    for env in ["dev", "staging", "prod"] {
        let path = format!("{}/envs/{env}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let s = parse(&path, &text, env).unwrap();
        let a = s.app.expect("app");
        assert!(s.ecr.is_some(), "{env}");
        assert_eq!(a.port, 3000, "{env}");
        assert!(a.environment.contains_key("NODE_ENV"), "{env}");
    }
    let text =
        std::fs::read_to_string(format!("{}/envs/prod.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let prod = parse("envs/prod.toml", &text, "prod").unwrap();
    let (e, a) = (prod.ecr.unwrap(), prod.app.unwrap());
    assert!(e.immutable_tags, "prod tags are immutable");
    let sc = a.scaling.expect("prod scales");
    assert_eq!(
        (sc.min, sc.max, sc.cpu_target, sc.memory_target),
        (2, 10, 70, 80)
    );
    assert_eq!(a.log_retention_days, 30);
}

#[test]
fn a_cpu_memory_pair_fargate_rejects_is_located_at_memory() {
    let e = located(
        &with_app("cpu = 256\nmemory = 4096"),
        (10, 10, "app.memory"),
        &[],
    );
    assert!(
        e.message.contains("cpu = 256") && e.message.contains("512 MiB to 2 GiB"),
        "{e}"
    );
    located(
        &with_app("cpu = 300"),
        (9, 7, "app.cpu"),
        &["not a Fargate CPU size"],
    );
    ok(&with_app("cpu = 1024\nmemory = 8192"));
    ok(&with_app("cpu = 8192\nmemory = 20480"));
    located(
        &with_app("cpu = 8192\nmemory = 18432"),
        (10, 10, "app.memory"),
        &[],
    );
}

#[test]
fn fargate_memory_table() {
    use super::app::fargate_memory;
    assert_eq!(fargate_memory(256), Some(vec![512, 1024, 2048]));
    assert_eq!(fargate_memory(512).unwrap(), vec![1024, 2048, 3072, 4096]);
    assert_eq!(fargate_memory(4096).unwrap().last(), Some(&30720));
    assert_eq!(fargate_memory(16384).unwrap().first(), Some(&32768));
    assert_eq!(fargate_memory(100), None);
}

#[test]
fn port_out_of_range_is_located() {
    for (v, col) in [("0", 8), ("65536", 8), ("-1", 8)] {
        let e = one_err(&with_app(&format!("port = {v}")));
        assert_at(&e, 9, col, "app.port");
        assert!(e.message.contains("out of range: 1 to 65535"), "{e}");
    }
}

#[test]
fn scaling_min_above_max_is_located() {
    let text = format!("{BASE}[ecr]\n[app]\n[app.scaling]\nmin = 5\nmax = 3\n");
    located(
        &text,
        (10, 7, "app.scaling.min"),
        &["min (5) is greater than max (3)"],
    );
}

#[test]
fn desired_count_outside_the_scaling_range_is_an_error_and_defaults_to_min() {
    let text =
        format!("{BASE}[ecr]\n[app]\ndesired_count = 20\n[app.scaling]\nmin = 2\nmax = 10\n");
    located(&text, (9, 17, "app.desired_count"), &[]);
    let s = ok(&format!(
        "{BASE}[ecr]\n[app]\n[app.scaling]\nmin = 3\nmax = 10\n"
    ));
    assert_eq!(s.app.unwrap().desired_count, 3);
}

#[test]
fn invalid_image_tags_are_rejected_with_their_location() {
    for bad in ["-lead", ".dot", "has space", "sha:abc", "é"] {
        let e = one_err(&with_app(&format!("image_tag = {bad:?}")));
        assert_at(&e, 9, 13, "app.image_tag");
        assert!(e.message.contains("not a valid image tag"), "{e}");
    }
    assert!(super::app::valid_image_tag("3f9c2ab"));
    assert!(super::app::valid_image_tag("v1.2.3-rc_1"));
    assert!(!super::app::valid_image_tag(&"a".repeat(129)));
}

#[test]
fn app_without_ecr_is_an_error() {
    let e = one_err(&format!("{BASE}[app]\ncpu = 256\n"));
    assert_eq!((e.line, e.path.as_str()), (7, "app"));
    assert!(e.message.contains("[ecr]"), "{e}");
}

#[test]
fn reserved_and_malformed_environment_names_are_rejected() {
    let text =
        format!("{BASE}[ecr]\n[app]\n[app.environment]\nMONGODB_URI = \"x\"\n\"1BAD\" = \"y\"\n");
    let e = errs(&text);
    assert_eq!(e.len(), 2, "{}", render(&e));
    assert_eq!(e[0].path, "app.environment.MONGODB_URI");
    assert!(e[0].message.contains("set by rtech"), "{}", e[0]);
    assert_eq!(e[1].path, "app.environment.1BAD");
}

#[test]
fn root_user_and_bad_retention_and_bad_statement_are_rejected() {
    located(&with_app("user = \"root\""), (9, 8, "app.user"), &[]);
    located(
        &with_app("log_retention_days = 31"),
        (9, 22, "app.log_retention_days"),
        &[],
    );
    let text = format!(
        "{BASE}[ecr]\n[app]\n[[app.task_role_statements]]\nactions = [\"s3 GetObject\"]\nresources = [\"bucket\"]\n"
    );
    let e = errs(&text);
    assert_eq!(e.len(), 2, "{}", render(&e));
    assert_eq!(e[0].path, "app.task_role_statements[0].actions");
    assert_eq!(e[1].path, "app.task_role_statements[0].resources");
}

#[test]
fn ecr_repository_names_and_target_group_matchers_are_checked() {
    located(
        &format!("{BASE}[ecr]\nrepository = \"Bad_Name\"\n"),
        (8, 14, "ecr.repository"),
        &[],
    );
    located(
        &format!("{BASE}[ecr]\n[app]\n[app.target_group]\nmatcher = \"600\"\n"),
        (10, 11, "app.target_group.matcher"),
        &[],
    );
    let e = one_err(&format!(
        "{BASE}[ecr]\n[app]\n[app.target_group]\nhealth_check_path = \"api\"\n"
    ));
    assert_eq!(e.path, "app.target_group.health_check_path");
    ok(&format!(
        "{BASE}[ecr]\n[app]\n[app.target_group]\nmatcher = \"200-299\"\n"
    ));
}

#[test]
fn app_port_follows_network_app_port() {
    let s = ok(&format!("{BASE}app_port = 8080\n[ecr]\n[app]\n"));
    assert_eq!(s.app.unwrap().port, 8080);
    let e = one_err(&format!(
        "{BASE}app_port = 8080\n[ecr]\n[app]\nport = 3000\n"
    ));
    assert_eq!((e.line, e.col, e.path.as_str()), (10, 8, "app.port"));
    assert!(e.message.contains("network.app_port (8080)"), "{e}");
}

// --- [edge] ------------------------------------------------------------------------------------

/// BASE with `[ecr]`, `[app]` and `[edge]`; `edge` starts on line 10.
fn with_edge(edge: &str) -> String {
    format!("{BASE}[ecr]\n[app]\n[edge]\n{edge}\n")
}

#[test]
fn edge_defaults_follow_the_production_plan() {
    use super::edge::{RecordStyle, Ttl, ZoneMode};
    let s = ok(&with_edge("[edge.cloudfront]"));
    let e = s.edge.expect("edge");
    assert_eq!(e.domain, "rtech.example.com");
    assert_eq!(e.zone, "rtech.example.com");
    assert_eq!(e.hosted_zone, ZoneMode::Existing);
    assert_eq!((e.www, e.api), (RecordStyle::Cname, RecordStyle::Cname));
    assert_eq!(e.ssl_policy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
    assert_eq!(e.weights, BTreeMap::from([("blue".to_string(), 100)]));
    assert_eq!(e.alb.idle_timeout_seconds, 60);
    assert!(e.alb.http2 && e.alb.drop_invalid_header_fields);
    assert!(!e.alb.deletion_protection && !e.alb.access_logs);
    let cf = e.cloudfront.expect("cloudfront");
    assert_eq!(cf.price_class, "PriceClass_100");
    assert!(cf.invalidate_on_deploy.is_empty());
    assert!(!cf.logging);
    assert_eq!(
        cf.default_behavior,
        Ttl {
            min: 0,
            default: 3600,
            max: 86400
        }
    );
    assert_eq!(
        cf.api_behavior,
        Ttl {
            min: 0,
            default: 0,
            max: 0
        }
    );
    assert_eq!(ok(&with_edge("")).edge.unwrap().cloudfront, None);
    assert_eq!(ok(BASE).edge, None);
}

#[test]
fn edge_explicit_values_are_kept() {
    use super::edge::{RecordStyle, ZoneMode};
    let s = ok(&with_edge(
        "domain = \"shop.example.org\"\nzone = \"example.org\"\nhosted_zone = \"create\"\nwww = \"alias\"\napi = \"none\"\nssl_policy = \"ELBSecurityPolicy-TLS-1-2-2017-01\"\n[edge.alb]\nidle_timeout_seconds = 120\nhttp2 = false\ndeletion_protection = true\naccess_logs = true\n[edge.cloudfront]\nprice_class = \"PriceClass_All\"\nlogging = true\n[edge.cloudfront.api_behavior]\nmax_ttl = 10\n",
    ));
    let e = s.edge.unwrap();
    assert_eq!(
        (e.domain.as_str(), e.zone.as_str()),
        ("shop.example.org", "example.org")
    );
    assert_eq!(e.hosted_zone, ZoneMode::Create);
    assert_eq!((e.www, e.api), (RecordStyle::Alias, RecordStyle::None));
    assert_eq!(e.ssl_policy, "ELBSecurityPolicy-TLS-1-2-2017-01");
    assert_eq!(e.alb.idle_timeout_seconds, 120);
    assert!(!e.alb.http2 && e.alb.deletion_protection && e.alb.access_logs);
    let cf = e.cloudfront.unwrap();
    assert_eq!(cf.price_class, "PriceClass_All");
    assert!(cf.logging);
    assert_eq!(
        (
            cf.api_behavior.min,
            cf.api_behavior.default,
            cf.api_behavior.max
        ),
        (0, 0, 10)
    );
}

#[test]
fn edge_invalid_domain_name_is_located() {
    located(
        &with_edge("domain = \"rtech..example.com\""),
        (10, 10, "edge.domain"),
        &["empty label"],
    );
    located(
        &with_edge("domain = \"rtech_app.example.com\""),
        (10, 10, "edge.domain"),
        &[],
    );
    let e = located(
        &with_edge("domain = \"localhost\""),
        (10, 10, "edge.domain"),
        &[],
    );
    assert_eq!(
        e.to_string(),
        "envs/dev.toml:10:10: edge.domain: \"localhost\" is not a domain name: it needs at least two labels (e.g. rtech.example.com)"
    );
}

#[test]
fn edge_zone_must_hold_the_domain() {
    located(
        &with_edge("domain = \"rtech.example.com\"\nzone = \"example.org\""),
        (11, 8, "edge.zone"),
        &["does not hold the domain"],
    );
    // A suffix that is not a parent label is no parent either.
    located(
        &with_edge("domain = \"rtech.example.com\"\nzone = \"ample.com\""),
        (11, 8, "edge.zone"),
        &[],
    );
}

#[test]
fn edge_ttls_out_of_order_are_located() {
    located(&with_edge(
        "[edge.cloudfront]\n[edge.cloudfront.default_behavior]\nmin_ttl = 0\ndefault_ttl = 90000\nmax_ttl = 86400",
    ), (13, 15, "edge.cloudfront.default_behavior.default_ttl"), &["default_ttl (90000) is greater than max_ttl (86400)"]);
    // Only max given, below the default default (3600): located at max_ttl.
    located(
        &with_edge("[edge.cloudfront]\n[edge.cloudfront.default_behavior]\nmax_ttl = 60"),
        (12, 11, "edge.cloudfront.default_behavior.max_ttl"),
        &[],
    );
    // The /api/* behaviour: min above default.
    let e = located(
        &with_edge("[edge.cloudfront]\n[edge.cloudfront.api_behavior]\nmin_ttl = 5"),
        (12, 11, "edge.cloudfront.api_behavior.min_ttl"),
        &[],
    );
    assert!(
        e.message.contains("min_ttl <= default_ttl <= max_ttl"),
        "{e}"
    );
    located(
        &with_edge("[edge.cloudfront]\n[edge.cloudfront.api_behavior]\nmax_ttl = -1"),
        (12, 11, "edge.cloudfront.api_behavior.max_ttl"),
        &["out of range"],
    );
}

#[test]
fn edge_unknown_or_too_old_ssl_policy_is_located() {
    located(
        &with_edge("ssl_policy = \"ELBSecurityPolicy-TLS13-9-9\""),
        (10, 14, "edge.ssl_policy"),
        &["is not an ELB security policy"],
    );
    let e = located(
        &with_edge("ssl_policy = \"ELBSecurityPolicy-2016-08\""),
        (10, 14, "edge.ssl_policy"),
        &["accepts TLS 1.0"],
    );
    assert!(
        e.message.contains("ELBSecurityPolicy-TLS-1-2-2017-01"),
        "{e}"
    );
    let e = one_err(&with_edge(
        "ssl_policy = \"ELBSecurityPolicy-TLS-1-1-2017-01\"",
    ));
    assert!(e.message.contains("accepts TLS 1.1"), "{e}");
}

#[test]
fn edge_weights_must_sum_to_100() {
    located(
        &with_edge("[edge.weights]\nblue = 90"),
        (10, 1, "edge.weights"),
        &["the weights sum to 90 (blue = 90), not 100"],
    );
    located(
        &with_edge("[edge.weights]\nblue = 100\ngreen = 0"),
        (12, 9, "edge.weights.green"),
        &["exists only with [app.deploy] strategy = \"canary\" or \"blue_green\""],
    );
    located(
        &with_edge("[edge.weights]\nblue = 100\nred = 0"),
        (12, 7, "edge.weights.red"),
        &["not a target group colour"],
    );
    located(
        &with_edge("[edge.weights]\nblue = 101"),
        (11, 8, "edge.weights.blue"),
        &[],
    );
    assert!(ok(&with_edge("[edge.weights]\nblue = 100")).edge.is_some());
}

#[test]
fn edge_bad_enums_and_ranges_and_missing_app() {
    located(
        &with_edge("hosted_zone = \"import\""),
        (10, 15, "edge.hosted_zone"),
        &["`existing` or `create`"],
    );
    let e = one_err(&with_edge("www = \"a\""));
    assert!(e.message.contains("`cname`, `alias`, `none`"), "{e}");
    located(
        &with_edge("[edge.alb]\nidle_timeout_seconds = 0"),
        (11, 24, "edge.alb.idle_timeout_seconds"),
        &[],
    );
    located(
        &with_edge("[edge.cloudfront]\nprice_class = \"PriceClass_50\""),
        (11, 15, "edge.cloudfront.price_class"),
        &[],
    );
    located(
        &with_edge("[edge.cloudfront]\ninvalidate_on_deploy = [\"/*\", \"index.html\"]"),
        (11, 31, "edge.cloudfront.invalidate_on_deploy"),
        &["must start with /"],
    );
    located(
        &with_edge("[edge.alb]\nhttp3 = true"),
        (11, 1, "edge.alb.http3"),
        &[],
    );
    let e = one_err(&format!("{BASE}[edge]\n"));
    assert_eq!((e.line, e.path.as_str()), (7, "edge"), "{e}");
    assert!(e.message.contains("needs an [app] section"), "{e}");
}

#[test]
fn edge_log_buckets_force_delete_defaults_to_off() {
    let e = ok(&with_edge("")).edge.unwrap();
    assert!(!e.log_buckets_force_delete);
    let e = ok(&with_edge("log_buckets_force_delete = true"))
        .edge
        .unwrap();
    assert!(e.log_buckets_force_delete);
    let e = ok(&with_edge("log_buckets_force_delete = false"))
        .edge
        .unwrap();
    assert!(!e.log_buckets_force_delete);
}

#[test]
fn edge_log_buckets_force_delete_must_be_a_bool_and_sits_in_edge() {
    let e = one_err(&with_edge("log_buckets_force_delete = \"yes\""));
    assert_eq!(
        (e.line, e.path.as_str()),
        (10, "edge.log_buckets_force_delete"),
        "{e}"
    );
    // Not a key of [edge.alb]: located at the key.
    located(
        &with_edge("[edge.alb]\nlog_buckets_force_delete = true"),
        (11, 1, "edge.alb.log_buckets_force_delete"),
        &[],
    );
}

#[test]
fn a_sub_table_without_its_parent_header_says_which_header_to_write() {
    let e = one_err(&with_edge("[edge.cloudfront.api_behavior]\nmin_ttl = 0\n")).to_string();
    assert!(
        e.contains("edge.cloudfront.api_behavior: the table [edge.cloudfront] has no header of its own: write `[edge.cloudfront]` above `[edge.cloudfront.api_behavior]`"),
        "{e}"
    );
}

// --- [monitoring] ------------------------------------------------------------------------------

fn with_monitoring(m: &str) -> String {
    format!("{BASE}[monitoring]\n{m}\n")
}

#[test]
fn monitoring_defaults_have_every_alarm_and_the_dashboard() {
    let s = ok(BASE);
    let m = &s.monitoring;
    assert!(m.dashboard);
    assert!(m.emails.is_empty() && m.https_endpoints.is_empty());
    assert_eq!(m.alarms.len(), super::monitoring::ALARMS.len());
    let e = &m.alarms["error-rate"];
    assert_eq!(
        (
            e.threshold,
            e.period_seconds,
            e.evaluation_periods,
            e.datapoints_to_alarm
        ),
        (5.0, 300, 2, 2)
    );
    assert_eq!(e.treat_missing_data, "notBreaching");
    assert_eq!(m.alarms["ecs-cpu"].threshold, 80.0);
    assert_eq!(m.alarms["ecs-memory"].threshold, 90.0);
    assert_eq!(m.alarms["alb-latency-p95"].statistic, "p95");
    assert_eq!(
        m.alarms["docdb-freeable-memory"].comparison,
        "LessThanThreshold"
    );
    assert_eq!(
        (m.docdb_log_retention_days, m.redis_log_retention_days),
        (14, 7)
    );
    assert_eq!(m.flow_log_retention_days, 30);
}

#[test]
fn flow_logs_default_off_and_take_the_three_values() {
    assert_eq!(ok(BASE).network.flow_logs, FlowLogs::Off);
    for (text, want, traffic) in [
        ("off", FlowLogs::Off, None),
        ("reject", FlowLogs::Reject, Some("REJECT")),
        ("all", FlowLogs::All, Some("ALL")),
    ] {
        let s = ok(&with_network(&format!("flow_logs = \"{text}\"")));
        assert_eq!(s.network.flow_logs, want);
        assert_eq!(s.network.flow_logs.traffic_type(), traffic);
    }
}

#[test]
fn a_flow_logs_value_out_of_the_three_is_located() {
    located(
        &with_network("flow_logs = \"some\""),
        (7, 13, "network.flow_logs"),
        &["unknown variant `some`", "`off`, `reject`, `all`"],
    );
    located(
        &with_network("flow_logs = true"),
        (7, 13, "network.flow_logs"),
        &["wanted string"],
    );
}

#[test]
fn the_flow_log_retention_is_a_cloudwatch_logs_value() {
    let s = ok(&with_monitoring("flow_log_retention_days = 90\n"));
    assert_eq!(s.monitoring.flow_log_retention_days, 90);
    let e = one_err(&with_monitoring("flow_log_retention_days = 31\n"));
    assert_eq!(e.path, "monitoring.flow_log_retention_days");
    assert!(
        e.message
            .contains("is not a retention CloudWatch Logs accepts"),
        "{e}"
    );
}

#[test]
fn the_shipped_envs_record_rejects_in_staging_and_prod_only() {
    let flow = |env: &str| crate::testutil::env_spec(env).network.flow_logs;
    assert_eq!(flow("dev"), FlowLogs::Off);
    assert_eq!(flow("staging"), FlowLogs::Reject);
    assert_eq!(flow("prod"), FlowLogs::Reject);
}

#[test]
fn monitoring_overrides_and_switches() {
    let s = ok(&with_monitoring(
        "alarms_enabled = false\ndashboard = false\nemails = [\"ops@rtech.example.com\", \"ops@rtech.example.com\"]\nhttps_endpoints = [\"https://hooks.example.com/x\"]\ntreat_missing_data = \"missing\"\n[monitoring.alarms.ecs-cpu]\nenabled = true\nthreshold = 75\nperiod_seconds = 60\nevaluation_periods = 3\ndatapoints_to_alarm = 2\n",
    ));
    let m = &s.monitoring;
    assert!(!m.dashboard);
    assert_eq!(m.emails, ["ops@rtech.example.com"]);
    assert_eq!(m.https_endpoints, ["https://hooks.example.com/x"]);
    assert_eq!(m.alarms.keys().collect::<Vec<_>>(), ["ecs-cpu"]);
    let a = &m.alarms["ecs-cpu"];
    assert_eq!(
        (
            a.threshold,
            a.period_seconds,
            a.evaluation_periods,
            a.datapoints_to_alarm
        ),
        (75.0, 60, 3, 2)
    );
    assert_eq!(a.treat_missing_data, "missing");
}

#[test]
fn monitoring_bad_values_are_located() {
    located(
        &with_monitoring("[monitoring.alarms.ecs-cpu]\nthreshold = \"high\"\n"),
        (9, 13, "monitoring.alarms.ecs-cpu.threshold"),
        &["is not a number"],
    );
    located(
        &with_monitoring("[monitoring.alarms.ecs-cpu]\nperiod_seconds = 90\n"),
        (9, 18, "monitoring.alarms.ecs-cpu.period_seconds"),
        &["multiple of 60"],
    );
    located(
        &with_monitoring("[monitoring.alarms.ecs-cpu]\nstatistic = \"Median\"\n"),
        (9, 13, "monitoring.alarms.ecs-cpu.statistic"),
        &["not a statistic"],
    );
    located(
        &with_monitoring("[monitoring.alarms.ecs-cpu]\ncomparison = \"Above\"\n"),
        (9, 14, "monitoring.alarms.ecs-cpu.comparison"),
        &["GreaterThanThreshold"],
    );
    let e = one_err(&with_monitoring("[monitoring.alarms.cpu]\nthreshold = 1\n"));
    assert_eq!(e.path, "monitoring.alarms.cpu");
    assert!(e.message.contains("no such alarm"), "{e}");
    let e = one_err(&with_monitoring("emails = [\"ops\"]\n"));
    assert_eq!(e.path, "monitoring.emails[0]");
    let e = one_err(&with_monitoring("period_seconds = 0\n"));
    assert_eq!(e.path, "monitoring.period_seconds");
    let e = one_err(&with_monitoring("docdb_log_retention_days = 10\n"));
    assert_eq!(e.path, "monitoring.docdb_log_retention_days");
    let e = one_err(&with_monitoring(
        "[monitoring.alarms.ecs-cpu]\nevaluation_periods = 2\ndatapoints_to_alarm = 3\n",
    ));
    assert_eq!(e.path, "monitoring.alarms.ecs-cpu.datapoints_to_alarm");
    assert!(e.message.contains("more than evaluation_periods"), "{e}");
}

#[test]
fn alerts_key_is_optional_and_its_deletion_window_defaults_to_30_days() {
    assert_eq!(ok(BASE).monitoring.alerts_key, None);
    let s = ok(&with_monitoring("[monitoring.alerts_key]\n"));
    assert_eq!(
        s.monitoring.alerts_key,
        Some(super::monitoring::AlertsKey {
            deletion_window_days: 30
        })
    );
    let s = ok(&with_monitoring(
        "[monitoring.alerts_key]\ndeletion_window_days = 7\n",
    ));
    assert_eq!(s.monitoring.alerts_key.unwrap().deletion_window_days, 7);
}

#[test]
fn alerts_key_deletion_window_outside_7_to_30_days_is_located() {
    for bad in ["6", "31", "0"] {
        located(
            &with_monitoring(&format!(
                "[monitoring.alerts_key]\ndeletion_window_days = {bad}\n"
            )),
            (9, 24, "monitoring.alerts_key.deletion_window_days"),
            &["out of range: 7 to 30"],
        );
    }
    let e = one_err(&with_monitoring("[monitoring.alerts_key]\nwindow = 7\n"));
    assert!(e.message.contains("unknown field"), "{e}");
}

#[test]
fn a_bad_webhook_url_is_located_but_never_echoed() {
    let text = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[monitoring]\nhttps_endpoints = [\"http://hooks.example.com/KEY123\"]\nemails = [\"not-an-email\"]\n";
    let err = crate::spec::parse("envs/dev.toml", text, "dev")
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        err.contains("envs/dev.toml:9:20: monitoring.https_endpoints[0]: not an https:// URL"),
        "{err}"
    );
    assert!(!err.contains("KEY123"), "{err}");
    assert!(
        err.contains("\"not-an-email\" is not an email address"),
        "{err}"
    );
}

// --- [loadtest] -------------------------------------------------------------------------------

/// BASE with a `[loadtest]` section holding `body` (its first key on line 9).
fn with_loadtest(body: &str) -> String {
    format!("{BASE}\n[loadtest]\n{body}")
}

#[test]
fn loadtest_defaults_are_the_platforms_thresholds() {
    let d = ok(BASE).loadtest;
    assert_eq!(d.paths, ["/api/health"]);
    assert_eq!((d.p95_ms, d.max_error_percent), (200, 0.1));
    assert_eq!((d.think_time_ms, d.timeout_ms), (1000, 10_000));
    let s = ok(&with_loadtest(
        "paths = [\"/api/health\", \"/api/items?page=1\"]\np95_ms = 300\nmax_error_percent = 1\nthink_time_ms = 100\ntimeout_ms = 2000\n",
    ))
    .loadtest;
    assert_eq!(s.paths, ["/api/health", "/api/items?page=1"]);
    assert_eq!((s.p95_ms, s.max_error_percent), (300, 1.0));
    assert_eq!((s.think_time_ms, s.timeout_ms), (100, 2000));
    assert_eq!(
        ok(&with_loadtest("max_error_percent = 0.5\n"))
            .loadtest
            .max_error_percent,
        0.5
    );
}

#[test]
fn loadtest_errors_are_located() {
    located(
        &with_loadtest("paths = [\"/ok\", \"api/health\"]\n"),
        (9, 17, "loadtest.paths[1]"),
        &["\"api/health\" is not a request path"],
    );
    located(
        &with_loadtest("paths = [\"/a\", \"/a\"]\n"),
        (9, 16, "loadtest.paths[1]"),
        &["listed twice"],
    );
    located(
        &with_loadtest("paths = []\n"),
        (9, 9, "loadtest.paths"),
        &["lists no path"],
    );
    located(
        &with_loadtest("p95_ms = 0\n"),
        (9, 10, "loadtest.p95_ms"),
        &["out of range: 1 to 60000"],
    );
    located(
        &with_loadtest("max_error_percent = 120\n"),
        (9, 21, "loadtest.max_error_percent"),
        &["not a percentage from 0 to 100"],
    );
    located(
        &with_loadtest("max_error_percent = \"0.1\"\n"),
        (9, 21, "loadtest.max_error_percent"),
        &["not a percentage"],
    );
    located(
        &with_loadtest("think_time_ms = 1\n"),
        (9, 17, "loadtest.think_time_ms"),
        &["out of range"],
    );
    let e = one_err(&with_loadtest("p99_ms = 10\n"));
    assert_eq!((e.line, e.path.as_str()), (9, "loadtest.p99_ms"), "{e}");
    assert!(e.message.contains("unknown field `p99_ms`"), "{e}");
}

// --- [dr] -------------------------------------------------------------------------------------

/// BASE with a `[dr]` section holding `body` (its first key on line 9).
fn with_dr(body: &str) -> String {
    format!("{BASE}\n[dr]\n{body}")
}

#[test]
fn dr_defaults_are_the_platforms_targets_and_the_keys_override_them() {
    let d = ok(BASE).dr;
    assert_eq!((d.rto_minutes, d.rpo_minutes), (60, 15));
    let s = ok(&with_dr("rto_minutes = 120\nrpo_minutes = 1440\n")).dr;
    assert_eq!((s.rto_minutes, s.rpo_minutes), (120, 1440));
    let s = ok(&with_dr("rpo_minutes = 5\n")).dr;
    assert_eq!((s.rto_minutes, s.rpo_minutes), (60, 5));
}

#[test]
fn dr_errors_are_located() {
    located(
        &with_dr("rto_minutes = 0\n"),
        (9, 15, "dr.rto_minutes"),
        &["out of range: 1 to 10080"],
    );
    located(
        &with_dr("rto_minutes = 60\nrpo_minutes = 60000\n"),
        (10, 15, "dr.rpo_minutes"),
        &["out of range: 1 to 50400"],
    );
    let e = one_err(&with_dr("rto = 10\n"));
    assert_eq!((e.line, e.path.as_str()), (9, "dr.rto"), "{e}");
    let e = one_err(&with_dr("rto_minutes = \"1h\"\n"));
    assert_eq!((e.line, e.path.as_str()), (9, "dr.rto_minutes"), "{e}");
}

#[test]
fn the_shipped_envs_set_their_recovery_targets() {
    let dr = |env: &str| crate::testutil::env_spec(env).dr;
    assert_eq!((dr("prod").rto_minutes, dr("prod").rpo_minutes), (60, 15));
    assert_eq!(
        (dr("staging").rto_minutes, dr("staging").rpo_minutes),
        (120, 1440)
    );
    assert_eq!((dr("dev").rto_minutes, dr("dev").rpo_minutes), (240, 1440));
}

// --- [app.deploy] ------------------------------------------------------------------------------

/// `[app.deploy]` holding `deploy` (line 10 on), with `[edge]` after it when `edge`.
fn with_deploy(deploy: &str, edge: bool) -> String {
    let edge = if edge { "[edge]\n" } else { "" };
    format!("{BASE}[ecr]\n[app]\n[app.deploy]\n{deploy}\n{edge}")
}

#[test]
fn deploy_defaults_to_rolling_without_alarms() {
    use super::app::Strategy;
    let s = ok(&with_app(""));
    let d = &s.app.expect("app").deploy;
    assert_eq!(d.strategy, Strategy::Rolling);
    assert!(d.rollback_alarms.is_empty());
    assert!(!d.strategy.shifts_traffic());
}

#[test]
fn a_canary_rolls_back_on_the_envs_error_rate_5xx_and_latency_alarms_by_default() {
    use super::app::Strategy;
    let s = ok(&with_deploy("strategy = \"canary\"", true));
    let d = &s.app.expect("app").deploy;
    assert_eq!(d.strategy, Strategy::Canary);
    assert_eq!(d.strategy.ecs(), "CANARY");
    assert_eq!(
        (d.canary_percent, d.canary_bake_minutes, d.bake_minutes),
        (10, 5, 5)
    );
    assert_eq!(
        d.rollback_alarms,
        ["error-rate", "elb-5xx", "alb-latency-p95"]
    );

    let s = ok(&with_deploy(
        "strategy = \"blue_green\"\nbake_minutes = 0\nrollback_alarms = [\"ecs-cpu\", \"error-rate\", \"ecs-cpu\"]",
        true,
    ));
    let d = &s.app.expect("app").deploy;
    assert_eq!(d.strategy.ecs(), "BLUE_GREEN");
    assert_eq!(d.bake_minutes, 0);
    // Listed order, duplicates once.
    assert_eq!(d.rollback_alarms, ["ecs-cpu", "error-rate"]);

    // An alarm turned off is not a default.
    let s = ok(&format!(
        "{}[monitoring]\n[monitoring.alarms.elb-5xx]\nenabled = false\n",
        with_deploy("strategy = \"canary\"", true)
    ));
    assert_eq!(
        s.app.expect("app").deploy.rollback_alarms,
        ["error-rate", "alb-latency-p95"]
    );
}

#[test]
fn deploy_values_out_of_range_or_unknown_are_located() {
    located(
        &with_deploy("strategy = \"linear\"", true),
        (10, 12, "app.deploy.strategy"),
        &["\"linear\" is not a strategy: rolling, canary or blue_green"],
    );
    located(
        &with_deploy("strategy = \"canary\"\ncanary_percent = 0", true),
        (11, 18, "app.deploy.canary_percent"),
        &["0 is out of range: 1 to 99"],
    );
    located(
        &with_deploy("strategy = \"canary\"\ncanary_percent = 100", true),
        (11, 18, "app.deploy.canary_percent"),
        &["1 to 99"],
    );
    located(
        &with_deploy("strategy = \"canary\"\ncanary_bake_minutes = 1441", true),
        (11, 23, "app.deploy.canary_bake_minutes"),
        &["0 to 1440"],
    );
    located(
        &with_deploy("strategy = \"blue_green\"\nbake_minutes = -1", true),
        (11, 16, "app.deploy.bake_minutes"),
        &["0 to 1440"],
    );
}

#[test]
fn deploy_settings_of_another_strategy_are_refused() {
    located(
        &with_deploy("strategy = \"blue_green\"\ncanary_percent = 20", true),
        (11, 18, "app.deploy.canary_percent"),
        &["applies to strategy = \"canary\" only"],
    );
    located(
        &with_deploy("bake_minutes = 3", true),
        (10, 16, "app.deploy.bake_minutes"),
        &["applies to strategy = \"canary\" or \"blue_green\" only"],
    );
}

#[test]
fn a_canary_needs_the_edge_and_alarms_the_env_has() {
    located(
        &with_deploy("strategy = \"canary\"", false),
        (10, 12, "app.deploy.strategy"),
        &["need an [edge] section"],
    );
    let e = located(
        &with_deploy(
            "strategy = \"canary\"\nrollback_alarms = [\"error-rate\", \"nope\"]",
            true,
        ),
        (11, 34, "app.deploy.rollback_alarms[1]"),
        &["\"nope\" is not an alarm of this env"],
    );
    assert!(e.message.contains("error-rate"), "{e}");
    // DocumentDB's alarms exist only with [docdb].
    located(
        &with_deploy(
            "strategy = \"canary\"\nrollback_alarms = [\"docdb-cpu\"]",
            true,
        ),
        (11, 20, "app.deploy.rollback_alarms[0]"),
        &["not an alarm of this env"],
    );
}

#[test]
fn alb_ingress_cidrs_are_refused_with_cloudfront() {
    let edge = "\n[ecr]\n[app]\n[edge]\n[edge.cloudfront]\n";
    let text = format!(
        "{}{edge}",
        with_network("alb_ingress_cidrs = [\"203.0.113.0/24\"]")
    );
    let e = one_err(&text);
    assert_eq!(e.path, "network.alb_ingress_cidrs", "{e}");
    assert!(e.message.contains("origin-facing"), "{e}");
    // Without the list, or without CloudFront, the spec is valid.
    ok(&format!("{}{edge}", with_network("")));
    ok(&format!(
        "{}\n[ecr]\n[app]\n[edge]\n",
        with_network("alb_ingress_cidrs = [\"203.0.113.0/24\"]")
    ));
}
