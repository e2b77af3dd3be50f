//! Helpers: run the binary against an emulator, SDK clients for out-of-band changes, and
//! checks made through AWS's own APIs (never through rtech).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::types::{Filter, Tag};

use crate::emulator::{root, Emulator};

mod edge;
pub use edge::*;

/// `rtech` with the emulator's endpoint and dummy credentials, run from the repo root.
/// The repo's staging and prod use the account's existing zone: it is made first.
pub fn rtech(emu: &Emulator) -> Command {
    Command::from_std(rtech_std(emu))
}

/// The same as a plain std Command (for streaming its output or killing it part-way).
pub fn rtech_std(emu: &Emulator) -> std::process::Command {
    emu.ensure_site_zone();
    rtech_bare(emu)
}

/// rtech against the emulator without any account setup (temporary specs make their own)
/// but the lock buckets of project `rtech` (see `Emulator::ensure_lock_buckets`).
fn rtech_bare(emu: &Emulator) -> std::process::Command {
    emu.ensure_lock_buckets();
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("rtech"));
    c.current_dir(root())
        .env("AWS_ENDPOINT_URL", &emu.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "2")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out: Output = cmd.output().expect("run rtech");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "rtech panicked:\n{}",
        r.stderr
    );
    r
}

/// Run and require an exit code, showing everything on failure.
pub fn run_ok(cmd: &mut Command, code: i32) -> Run {
    let r = run(cmd);
    assert_eq!(
        r.code, code,
        "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
    r
}

/// `rtech --envs-dir <dir>`: rtech on the specs of a temporary envs dir (see `spec_dir`).
/// After a run killed with SIGKILL, which leaves the env's lock: remove it as a user would,
/// with `rtech force-unlock` and the id the next run names (`rtech` in `dir`, or the repo's
/// envs). Whether there was a lock to remove (a run killed after releasing it left none).
pub fn unlock_after_kill(emu: &Emulator, dir: Option<&Path>, env: &str) -> bool {
    let cmd = |args: &[&str]| {
        let mut c = match dir {
            Some(d) => rtech_in(emu, d),
            None => rtech(emu),
        };
        c.args(args);
        c
    };
    let probe = run(&mut cmd(&["plan", "--lock", "--env", env]));
    if probe.code == 0 {
        return false;
    }
    let hint = format!("force-unlock --env {env} ");
    let id = probe
        .stderr
        .split(&hint)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!(
                "plan --lock failed without naming a lock:\n{}",
                probe.stderr
            )
        });
    run_ok(&mut cmd(&["force-unlock", "--env", env, id]), 0);
    true
}

pub fn rtech_in(emu: &Emulator, dir: &Path) -> Command {
    Command::from_std(rtech_std_in(emu, dir))
}

/// The same as a plain std Command (for running it in the background, see `Background`).
pub fn rtech_std_in(emu: &Emulator, dir: &Path) -> std::process::Command {
    let mut c = rtech_bare(emu);
    c.arg("--envs-dir").arg(dir);
    c
}

/// `apply --auto-approve` of the repo's envs/<env>.toml, which must succeed.
pub fn apply(emu: &Emulator, env: &str) -> Run {
    push_app_image(emu, None, env, &[]);
    apply_with(rtech(emu), env, &[])
}

/// `apply --auto-approve` in a temporary envs dir with `extra` arguments (`--target …`,
/// `--image-tag …`), which must succeed.
pub fn apply_in(emu: &Emulator, dir: &Path, env: &str, extra: &[&str]) -> Run {
    push_app_image(emu, Some(dir), env, extra);
    apply_with(rtech_in(emu, dir), env, extra)
}

/// What CI does before it applies or deploys the app: the image the command runs (`--image-tag`
/// in `extra`, else the spec's `app.image_tag`, default `latest`) is pushed to the env's
/// repository. The task definition is registered only once its image is there, and the
/// emulator answers as AWS does, so a test that deploys the app pushes it first. A new env has
/// no repository yet: a targeted apply makes it, as `rtech image push` asks. Nothing for a spec
/// without `[app]`. `dir` is the envs dir (`None`: the repo's envs/).
pub fn push_app_image(emu: &Emulator, dir: Option<&Path>, env: &str, extra: &[&str]) {
    let Some(app) = AppImage::of(dir, env, extra) else {
        return;
    };
    let url = emu.url.clone();
    let pushed = {
        let (repository, tag) = (app.repository.clone(), app.tag.clone());
        let region = app.region.clone();
        move || put_image(&url, &region, &repository, &tag)
    };
    if in_thread(pushed.clone()) == Pushed::NoRepository {
        let c = match dir {
            Some(d) => rtech_in(emu, d),
            None => rtech(emu),
        };
        apply_with(c, env, &["--target", "ecr_repository/app"]);
        let again = in_thread(pushed);
        assert_eq!(again, Pushed::Yes, "pushing {}:{}", app.repository, app.tag);
    }
}

/// The env's app image: its repository, the tag a command with `extra` runs, and whether
/// destroy may delete the repository's images (`ecr.force_delete`).
struct AppImage {
    region: String,
    repository: String,
    tag: String,
    force_delete: bool,
}

impl AppImage {
    /// `None` for a spec without `[app]`. `dir` is the envs dir (`None`: the repo's envs/).
    fn of(dir: Option<&Path>, env: &str, extra: &[&str]) -> Option<AppImage> {
        let path = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root().join("envs"))
            .join(format!("{env}.toml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let spec: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let app = spec.get("app")?;
        let text_of = |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).map(str::to_string);
        let ecr = spec.get("ecr");
        let project = text_of(spec.get("project")).expect("project");
        Some(AppImage {
            region: text_of(spec.get("region")).unwrap_or_else(|| "us-east-1".to_string()),
            repository: text_of(ecr.and_then(|e| e.get("repository")))
                .unwrap_or_else(|| format!("{project}-app")),
            tag: extra
                .windows(2)
                .find(|w| w[0] == "--image-tag")
                .map(|w| w[1].to_string())
                .or_else(|| text_of(app.get("image_tag")))
                .unwrap_or_else(|| "latest".to_string()),
            force_delete: ecr
                .and_then(|e| e.get("force_delete"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// What an operator does before destroying an env whose repository keeps its images
/// (`ecr.force_delete = false`; destroy refuses otherwise): the images are deleted first.
/// Nothing when destroy may delete them itself, or when there is no repository.
pub fn delete_app_images(emu: &Emulator, dir: Option<&Path>, env: &str) {
    let Some(app) = AppImage::of(dir, env, &[]) else {
        return;
    };
    if app.force_delete {
        return;
    }
    let url = emu.url.clone();
    in_thread(move || {
        block_on(async {
            let ecr = ecr_in(&url, &app.region).await;
            let listed = ecr
                .list_images()
                .repository_name(&app.repository)
                .send()
                .await;
            let ids = match listed {
                Ok(out) => out.image_ids().to_vec(),
                Err(e) => match e.as_service_error() {
                    Some(s) if s.is_repository_not_found_exception() => return,
                    _ => panic!("ListImages {}: {e:?}", app.repository),
                },
            };
            if !ids.is_empty() {
                ecr.batch_delete_image()
                    .repository_name(&app.repository)
                    .set_image_ids(Some(ids))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("BatchDeleteImage {}: {e:?}", app.repository));
            }
        })
    });
}

/// An ECR client of the emulator in the spec's region.
async fn ecr_in(url: &str, region: &str) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::from_conf(
        aws_sdk_ecr::config::Builder::from(&sdk_conf_at(url).await)
            .region(aws_sdk_ecr::config::Region::new(region.to_string()))
            .build(),
    )
}

/// Runs a future on a runtime of its own (with `in_thread`, callable inside another runtime).
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[derive(Debug, PartialEq)]
enum Pushed {
    Yes,
    NoRepository,
}

/// Runs an async SDK call on a runtime of its own (the caller may be inside one).
fn in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("SDK thread")
}

/// PutImage of a small manifest made from the tag; an image already there (same manifest, or
/// the tag taken in an immutable repository) counts as pushed.
fn put_image(url: &str, region: &str, repository: &str, tag: &str) -> Pushed {
    block_on(async {
        let ecr = ecr_in(url, region).await;
        // Asked first: the emulator answers PutImage into a missing repository with a 500.
        if let Err(e) = ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
        {
            match e.as_service_error() {
                Some(s) if s.is_repository_not_found_exception() => return Pushed::NoRepository,
                _ => panic!("DescribeRepositories {repository}: {e:?}"),
            }
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": format!("e2e-{tag}")},
            "layers": [],
        });
        let out = ecr
            .put_image()
            .repository_name(repository)
            .image_tag(tag)
            .image_manifest(manifest.to_string())
            .send()
            .await;
        match out {
            Ok(_) => Pushed::Yes,
            Err(e) => match e.as_service_error() {
                Some(s) if s.is_repository_not_found_exception() => Pushed::NoRepository,
                Some(s)
                    if s.is_image_already_exists_exception()
                        || s.is_image_tag_already_exists_exception() =>
                {
                    Pushed::Yes
                }
                _ => panic!("PutImage {repository}:{tag}: {e:?}"),
            },
        }
    })
}

/// `apply --auto-approve` with `extra` arguments by `c` (`rtech` or `rtech_in`), which must
/// succeed.
pub fn apply_with(mut c: Command, env: &str, extra: &[&str]) -> Run {
    run_ok(
        c.args(["apply", "--env", env, "--auto-approve"])
            .args(extra),
        0,
    )
}

/// `destroy --auto-approve` of the repo's envs/<env>.toml, which must succeed.
pub fn destroy(emu: &Emulator, env: &str) -> Run {
    delete_app_images(emu, None, env);
    destroy_with(rtech(emu), env)
}

/// `destroy --auto-approve` in a temporary envs dir, which must succeed.
pub fn destroy_in(emu: &Emulator, dir: &Path, env: &str) -> Run {
    delete_app_images(emu, Some(dir), env);
    destroy_with(rtech_in(emu, dir), env)
}

fn destroy_with(mut c: Command, env: &str) -> Run {
    run_ok(c.args(["destroy", "--env", env, "--auto-approve"]), 0)
}

/// The plan as JSON (exit 0 or 2 with --detailed-exitcode, agreeing with its changes).
pub fn plan_json(emu: &Emulator, env: &str) -> serde_json::Value {
    plan_json_with(rtech(emu), env, &[])
}

/// The plan in a temporary envs dir, with `extra` arguments, as `plan_json`.
pub fn plan_json_in(emu: &Emulator, dir: &Path, env: &str, extra: &[&str]) -> serde_json::Value {
    plan_json_with(rtech_in(emu, dir), env, extra)
}

/// The plan with `extra` arguments by `c` (`rtech` or `rtech_in`), as `plan_json`.
pub fn plan_json_with(mut c: Command, env: &str, extra: &[&str]) -> serde_json::Value {
    let r = run(c
        .args(["plan", "--env", env, "--json", "--detailed-exitcode"])
        .args(extra));
    assert!(
        r.code == 0 || r.code == 2,
        "plan failed ({}):\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    assert_eq!(
        r.code == 2,
        !v["changes"].as_array().unwrap().is_empty(),
        "exit code agrees with the plan"
    );
    v
}

/// `output --json` of the repo's envs/<env>.toml.
pub fn output_json(emu: &Emulator, env: &str) -> serde_json::Value {
    let r = run_ok(rtech(emu).args(["output", "--env", env, "--json"]), 0);
    serde_json::from_str(&r.stdout).expect("output JSON")
}

/// (id, action) of every change in a JSON plan.
pub fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A plan's changes to resources of `kinds`, as (id, action, changed field paths).
pub fn changes_of_kinds(
    plan: &serde_json::Value,
    kinds: &[&str],
) -> Vec<(String, String, Vec<String>)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"].as_str().is_some_and(|k| kinds.contains(&k)))
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The change of `id` in a JSON plan, if any.
pub fn change_of<'a>(plan: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
}

/// A JSON plan with neither changes nor conflicts.
pub fn assert_no_changes(plan: &serde_json::Value) {
    assert!(
        plan["changes"].as_array().unwrap().is_empty()
            && plan["conflicts"].as_array().unwrap().is_empty(),
        "the plan is not empty: {plan:#}"
    );
}

/// The plan of the repo's envs/<env>.toml is empty: exit 0 and "No changes.".
pub fn assert_plan_empty(emu: &Emulator, env: &str) {
    assert_plan_empty_with(rtech(emu), env, &[]);
}

/// The plan in a temporary envs dir, with `extra` arguments, is empty.
pub fn assert_plan_empty_in(emu: &Emulator, dir: &Path, env: &str, extra: &[&str]) {
    assert_plan_empty_with(rtech_in(emu, dir), env, extra);
}

fn assert_plan_empty_with(mut c: Command, env: &str, extra: &[&str]) {
    let r = run(c
        .args(["plan", "--env", env, "--detailed-exitcode"])
        .args(extra));
    assert_eq!(
        r.code, 0,
        "the plan for {env} is not empty:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
}

/// Resources of the spec held by someone else (our names, not our tags), in a temporary envs
/// dir: the plan is blocked and shows each of `ids` as a conflict, apply refuses, and destroy
/// (which must succeed) does not list them. `extra` scopes the plan and the apply (`--target`).
pub fn assert_conflicts_left_alone_in(
    emu: &Emulator,
    dir: &Path,
    env: &str,
    ids: &[&str],
    extra: &[&str],
) {
    let p = run(rtech_in(emu, dir).args(["plan", "--env", env]).args(extra));
    assert_ne!(p.code, 0, "a conflict blocks the plan:\n{}", p.stdout);
    for id in ids {
        assert!(
            p.stdout.contains(&format!("{id}: conflict:")),
            "{id}:\n{}",
            p.stdout
        );
    }
    let a = run(rtech_in(emu, dir)
        .args(["apply", "--env", env, "--auto-approve"])
        .args(extra));
    assert_ne!(a.code, 0, "{}\n{}", a.stdout, a.stderr);
    assert!(a.stderr.contains("refusing to apply"), "{}", a.stderr);
    let d = destroy_in(emu, dir, env);
    for id in ids {
        assert!(!d.stdout.contains(id), "destroy takes {id}:\n{}", d.stdout);
    }
}

/// What `-v` reports of observe: "observed N resources with M API calls in T s (svc n, …)".
#[derive(Debug)]
pub struct ObserveStats {
    pub resources: usize,
    pub calls: usize,
    pub by_service: BTreeMap<String, usize>,
}

/// Parse the "observed …" line of a verbose run's stderr (panics, showing it, when missing).
pub fn observe_stats(stderr: &str) -> ObserveStats {
    let line = stderr
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("observed ") && l.contains(" API calls"))
        .unwrap_or_else(|| panic!("no observe line:\n{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let count = |i: usize| -> usize {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no count at word {i}: {line}"))
    };
    let by_service = line
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no per-service breakdown: {line}"))
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (svc, n) = s
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("{s:?} in {line}"));
            (
                svc.to_string(),
                n.parse().unwrap_or_else(|_| panic!("{s:?} in {line}")),
            )
        })
        .collect();
    ObserveStats {
        resources: count(1),
        calls: count(4),
        by_service,
    }
}

/// A verbose plan in a temporary envs dir (which must succeed), and what its observe reported.
pub fn observe_in(emu: &Emulator, dir: &Path, env: &str, extra: &[&str]) -> ObserveStats {
    let r = run_ok(
        rtech_in(emu, dir)
            .args(["-v", "plan", "--env", env])
            .args(extra),
        0,
    );
    observe_stats(&r.stderr)
}

/// Tags as a map, from any SDK's (key, value) pairs.
pub fn tag_map<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            (
                k.unwrap_or_default().to_string(),
                v.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Tags rtech puts on what it owns in `env`.
pub fn is_ours(t: &BTreeMap<String, String>, env: &str) -> bool {
    t.get("rtech:project").map(String::as_str) == Some("rtech")
        && t.get("rtech:env").map(String::as_str) == Some(env)
}

/// EC2 tags as a map.
pub fn tags(t: &[Tag]) -> BTreeMap<String, String> {
    tag_map(t.iter().map(|t| (t.key(), t.value())))
}

fn ours(t: &[Tag], env: &str) -> bool {
    is_ours(&tags(t), env)
}

pub fn by_name(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Every live network resource tagged for the env, by kind — counted through EC2 itself, and
/// checked client-side (the emulator ignores tag filters on some calls).
pub async fn tagged(ec2: &aws_sdk_ec2::Client, env: &str) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    m.insert(
        "vpc",
        vpcs.vpcs().iter().filter(|v| ours(v.tags(), env)).count(),
    );
    let subnets = ec2.describe_subnets().send().await.unwrap();
    m.insert(
        "subnet",
        subnets
            .subnets()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    m.insert(
        "igw",
        igws.internet_gateways()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let eips = ec2.describe_addresses().send().await.unwrap();
    m.insert(
        "eip",
        eips.addresses()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    m.insert(
        "nat",
        nats.nat_gateways()
            .iter()
            .filter(|v| ours(v.tags(), env) && v.state().is_some_and(|s| s.as_str() != "deleted"))
            .count(),
    );
    let rts = ec2.describe_route_tables().send().await.unwrap();
    m.insert(
        "route_table",
        rts.route_tables()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let sgs = ec2.describe_security_groups().send().await.unwrap();
    m.insert(
        "sg",
        sgs.security_groups()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let fls = ec2.describe_flow_logs().send().await.unwrap();
    m.insert(
        "flow_log",
        fls.flow_logs()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    m
}

pub async fn vpc_id(ec2: &aws_sdk_ec2::Client, env: &str) -> String {
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    vpcs.vpcs()
        .iter()
        .find(|v| ours(v.tags(), env))
        .and_then(|v| v.vpc_id())
        .expect("our VPC")
        .to_string()
}

/// The physical id of a tagged resource by its rtech id.
pub async fn physical(ec2: &aws_sdk_ec2::Client, env: &str, rid: &str) -> String {
    let f = by_name("tag:rtech:id", rid);
    let kind = rid.split('/').next().unwrap();
    let ids: Vec<String> = match kind {
        "subnet" => ec2
            .describe_subnets()
            .filters(f)
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.subnet_id().map(String::from))
            .collect(),
        "sg" => ec2
            .describe_security_groups()
            .filters(f)
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.group_id().map(String::from))
            .collect(),
        "igw" => ec2
            .describe_internet_gateways()
            .filters(f)
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.internet_gateway_id().map(String::from))
            .collect(),
        "vpc" => ec2
            .describe_vpcs()
            .filters(f)
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.vpc_id().map(String::from))
            .collect(),
        k => panic!("no lookup for kind {k}"),
    };
    assert_eq!(ids.len(), 1, "{rid} in {env}: {ids:?}");
    ids[0].clone()
}

/// SDK configuration for out-of-band calls: the emulator, dummy credentials, and one attempt
/// (the emulator's 500s for unimplemented calls fail fast).
pub async fn sdk_conf(emu: &Emulator) -> aws_config::SdkConfig {
    sdk_conf_at(&emu.url).await
}

async fn sdk_conf_at(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// An SDK client of one service for out-of-band changes and checks.
macro_rules! client_fn {
    ($($name:ident => $krate:ident),* $(,)?) => {
        $(
            #[allow(dead_code)] // not every test module uses every service
            pub async fn $name(emu: &Emulator) -> $krate::Client {
                $krate::Client::new(&sdk_conf(emu).await)
            }
        )*
    };
}

client_fn! {
    ec2 => aws_sdk_ec2,
    kms => aws_sdk_kms,
    docdb => aws_sdk_docdb,
    elasticache => aws_sdk_elasticache,
    secretsmanager => aws_sdk_secretsmanager,
    ecr => aws_sdk_ecr,
    iam => aws_sdk_iam,
    logs => aws_sdk_cloudwatchlogs,
    ecs => aws_sdk_ecs,
    elbv2 => aws_sdk_elasticloadbalancingv2,
    autoscaling => aws_sdk_applicationautoscaling,
    acm => aws_sdk_acm,
    route53 => aws_sdk_route53,
    cloudfront => aws_sdk_cloudfront,
    sns => aws_sdk_sns,
    cloudwatch => aws_sdk_cloudwatch,
    backup => aws_sdk_backup,
    wafv2 => aws_sdk_wafv2,
}

/// The load balancer `name` (e.g. `rtech-dev-alb`) as ELBv2 describes it; it must exist.
#[allow(dead_code)]
pub async fn load_balancer_named(
    emu: &Emulator,
    name: &str,
) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
    elbv2(emu)
        .await
        .describe_load_balancers()
        .names(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no load balancer {name}: {e:?}"))
        .load_balancers()[0]
        .clone()
}

/// S3 for out-of-band checks: path-style addressing (the emulator has no bucket DNS).
#[allow(dead_code)]
pub async fn s3(emu: &Emulator) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_conf(emu).await)
            .force_path_style(true)
            .build(),
    )
}

/// The bucket, as S3 has it, is encrypted with SSE-S3 (`AES256`) by default and blocks every
/// kind of public access (all four switches on).
pub async fn assert_bucket_encrypted_and_private(s3: &aws_sdk_s3::Client, bucket: &str) {
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "{bucket}: public access block"
    );
}

/// The head of a temporary env spec: project, env, tags and a small dev-sized network without
/// NAT gateways (fast), and an advisory policy: these envs exercise one service at a time at
/// dev sizes (no flow logs, no deletion protection), so the policy reports what they break
/// without blocking (`policy::` runs the mandatory gate). Tests append the sections they
/// exercise.
pub fn spec_head(env: &str) -> String {
    format!(
        r#"project = "rtech"
env = "{env}"
region = "us-east-1"

[tags]
Environment = "test"

[network]
cidr = "10.10.0.0/20"
az_count = 2
nat = "none"
public_subnets = ["10.10.0.0/24", "10.10.1.0/24"]
private_subnets = ["10.10.8.0/23", "10.10.10.0/23"]

[secrets]
force_delete = true

[policy]
enforcement = "advisory"
"#
    )
}

/// A dev-sized `[redis]` section: one node, no snapshots, deleted without a final snapshot,
/// changes at once.
pub const DEV_REDIS: &str = r#"
[redis]
node_type = "cache.t3.micro"
replicas = 0
snapshot_retention_days = 0
skip_final_snapshot = true
apply_immediately = true
"#;

/// A temporary envs dir holding `<env>.toml` = `spec_head(env)` + `sections`; pass
/// `--envs-dir dir.path()` to rtech.
pub fn spec_dir(env: &str, sections: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(format!("{env}.toml")),
        format!("{}{sections}", spec_head(env)),
    )
    .expect("write spec");
    dir
}

/// The JSON object a secret holds, read through Secrets Manager itself.
pub async fn secret_json(emu: &Emulator, name: &str) -> serde_json::Map<String, serde_json::Value> {
    let v = secretsmanager(emu)
        .await
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("secret {name}: {e:?}"));
    serde_json::from_str::<serde_json::Value>(v.secret_string().unwrap())
        .unwrap()
        .as_object()
        .unwrap_or_else(|| panic!("secret {name} is not a JSON object"))
        .clone()
}

/// A secret's ARN, through Secrets Manager itself.
pub async fn secret_arn(emu: &Emulator, name: &str) -> String {
    secretsmanager(emu)
        .await
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("secret {name}: {e:?}"))
        .arn()
        .unwrap()
        .to_string()
}

/// The container platform in the account, by kind, counted through each service's own API
/// (ECR, CloudWatch Logs, IAM, ELBv2, ECS, Application Auto Scaling). Every test has a private
/// emulator, so everything there is the test's own: a count above the spec's is a duplicate,
/// whatever its name. Log groups and roles are those named for `env`.
pub async fn platform(emu: &Emulator, env: &str) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    let repos = ecr(emu).await.describe_repositories().send().await.unwrap();
    m.insert("ecr_repository", repos.repositories().len());
    let groups = logs(emu)
        .await
        .describe_log_groups()
        .log_group_name_prefix(format!("/ecs/rtech-{env}"))
        .send()
        .await
        .unwrap();
    m.insert("log_group", groups.log_groups().len());
    let roles = iam(emu).await.list_roles().send().await.unwrap();
    let prefix = format!("rtech-{env}-");
    m.insert(
        "iam_role",
        roles
            .roles()
            .iter()
            .filter(|r| r.role_name().starts_with(&prefix))
            .count(),
    );
    let tgs = elbv2(emu)
        .await
        .describe_target_groups()
        .send()
        .await
        .unwrap();
    m.insert("target_group", tgs.target_groups().len());

    let ecs = ecs(emu).await;
    let arns = ecs
        .list_clusters()
        .send()
        .await
        .unwrap()
        .cluster_arns()
        .to_vec();
    let clusters: Vec<String> = if arns.is_empty() {
        vec![]
    } else {
        ecs.describe_clusters()
            .set_clusters(Some(arns))
            .send()
            .await
            .unwrap()
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .filter_map(|c| c.cluster_arn().map(String::from))
            .collect()
    };
    m.insert("ecs_cluster", clusters.len());
    let mut services = 0;
    for c in &clusters {
        let arns = ecs
            .list_services()
            .cluster(c)
            .send()
            .await
            .unwrap()
            .service_arns()
            .to_vec();
        if !arns.is_empty() {
            services += ecs
                .describe_services()
                .cluster(c)
                .set_services(Some(arns))
                .send()
                .await
                .unwrap()
                .services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
                .count();
        }
    }
    m.insert("ecs_service", services);
    let defs = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    m.insert("ecs_task_definition", defs.task_definition_arns().len());
    let targets = autoscaling(emu)
        .await
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    m.insert("scalable_target", targets.scalable_targets().len());
    m
}

/// Certificates of the account (both regions rtech uses are one here) with our tags for `env`.
pub async fn our_certificates(acm: &aws_sdk_acm::Client, env: &str) -> Vec<String> {
    let mut ours = vec![];
    let list = acm.list_certificates().send().await.unwrap();
    for c in list.certificate_summary_list() {
        let arn = c.certificate_arn().unwrap();
        let t = acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, String> = t
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if is_ours(&tags, env) {
            ours.push(arn.to_string());
        }
    }
    ours
}

/// CloudFront-scoped web ACLs of the account with our tags for `env`, as ARNs.
pub async fn our_web_acls(w: &aws_sdk_wafv2::Client, env: &str) -> Vec<String> {
    let list = w
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Cloudfront)
        .limit(100)
        .send()
        .await
        .unwrap();
    let mut ours = vec![];
    for a in list.web_acls() {
        let arn = a.arn().unwrap_or_default();
        let t = w
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        let tags = tag_map(
            t.tag_info_for_resource()
                .map(|i| i.tag_list())
                .unwrap_or_default()
                .iter()
                .map(|t| (Some(t.key()), Some(t.value()))),
        );
        if is_ours(&tags, env) {
            ours.push(arn.to_string());
        }
    }
    ours
}

/// Distributions of the account with our tags for `env`, as (id, aliases).
pub async fn our_distributions(
    cf: &aws_sdk_cloudfront::Client,
    env: &str,
) -> Vec<(String, Vec<String>)> {
    let mut ours = vec![];
    let list = cf.list_distributions().send().await.unwrap();
    let items = list
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default();
    for d in items {
        let t = cf
            .list_tags_for_resource()
            .resource(d.arn())
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, String> = t
            .tags()
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if is_ours(&tags, env) {
            let mut aliases: Vec<String> =
                d.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
            aliases.sort();
            ours.push((d.id().to_string(), aliases));
        }
    }
    ours
}

/// Everything of the env's that the edge, the data tier and monitoring leave in AWS, counted
/// through each service's own API (never through rtech): what `destroy` must leave at zero.
pub async fn leftovers(emu: &Emulator, env: &str) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    m.insert(
        "certificate",
        our_certificates(&acm(emu).await, env).await.len(),
    );
    m.insert(
        "distribution",
        our_distributions(&cloudfront(emu).await, env).await.len(),
    );
    m.insert("web_acl", our_web_acls(&wafv2(emu).await, env).await.len());
    // Route 53: zones tagged ours, and records whose owner TXT names the env.
    let r53 = route53(emu).await;
    let zones = r53.list_hosted_zones().send().await.unwrap();
    let (mut our_zones, mut our_records) = (0, 0);
    for z in zones.hosted_zones() {
        let zid = z.id().trim_start_matches("/hostedzone/").to_string();
        let t = r53
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
            .resource_id(&zid)
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, String> = t
            .resource_tag_set()
            .map(|s| {
                s.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        if is_ours(&tags, env) {
            our_zones += 1;
        }
        let sets = r53
            .list_resource_record_sets()
            .hosted_zone_id(&zid)
            .send()
            .await
            .unwrap();
        our_records += sets
            .resource_record_sets()
            .iter()
            .filter(|r| r.r#type().as_str() == "TXT")
            .flat_map(|r| r.resource_records())
            .filter(|v| v.value().contains(&format!("env={env},")))
            .count();
    }
    m.insert("hosted_zone", our_zones);
    m.insert("record", our_records);
    // S3: buckets carrying our tags.
    let s3 = s3(emu).await;
    let mut buckets = 0;
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        if let Ok(t) = s3
            .get_bucket_tagging()
            .bucket(b.name().unwrap_or_default())
            .send()
            .await
        {
            let tags: BTreeMap<String, String> = t
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if is_ours(&tags, env) {
                buckets += 1;
            }
        }
    }
    m.insert("s3_bucket", buckets);
    // KMS: keys carrying our tags that are not pending deletion (destroy schedules deletion),
    // and aliases naming one.
    let kms = kms(emu).await;
    let (mut keys, mut aliases) = (0, 0);
    let aliased: Vec<String> = kms
        .list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .filter_map(|a| a.target_key_id().map(str::to_string))
        .collect();
    for k in kms.list_keys().send().await.unwrap().keys() {
        let id = k.key_id().unwrap_or_default();
        let Ok(t) = kms.list_resource_tags().key_id(id).send().await else {
            continue;
        };
        let tags: BTreeMap<String, String> = t
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect();
        let meta = kms.describe_key().key_id(id).send().await.unwrap();
        let pending = meta.key_metadata().and_then(|m| m.key_state())
            == Some(&aws_sdk_kms::types::KeyState::PendingDeletion);
        if is_ours(&tags, env) && !pending {
            keys += 1;
        }
        if is_ours(&tags, env) {
            aliases += aliased.iter().filter(|a| *a == id).count();
        }
    }
    m.insert("kms_key", keys);
    m.insert("kms_alias", aliases);
    // Secrets Manager: secrets with our tags.
    let secrets = secretsmanager(emu)
        .await
        .list_secrets()
        .send()
        .await
        .unwrap();
    m.insert(
        "secret",
        secrets
            .secret_list()
            .iter()
            .filter(|s| {
                let t: BTreeMap<String, String> = s
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                is_ours(&t, env)
            })
            .count(),
    );
    // DocumentDB clusters and ElastiCache groups named for the env (their deletes are the
    // slow ones; "deleting" counts as gone).
    let dd = docdb(emu)
        .await
        .describe_db_clusters()
        .send()
        .await
        .unwrap();
    m.insert(
        "docdb_cluster",
        dd.db_clusters()
            .iter()
            .filter(|c| {
                c.db_cluster_identifier()
                    .is_some_and(|i| i.starts_with(&format!("rtech-{env}-")))
            })
            .count(),
    );
    let rg = elasticache(emu)
        .await
        .describe_replication_groups()
        .send()
        .await
        .unwrap();
    m.insert(
        "redis",
        rg.replication_groups()
            .iter()
            .filter(|g| {
                g.replication_group_id()
                    .is_some_and(|i| i.starts_with(&format!("rtech-{env}")))
                    && g.status() != Some("deleting")
            })
            .count(),
    );
    // DocumentDB event subscriptions, and AWS Backup vaults and (not deleted) plans, named for
    // the env.
    let prefix = format!("rtech-{env}-");
    let subs = docdb(emu)
        .await
        .describe_event_subscriptions()
        .send()
        .await
        .unwrap();
    m.insert(
        "event_subscription",
        subs.event_subscriptions_list()
            .iter()
            .filter(|s| {
                s.cust_subscription_id()
                    .is_some_and(|i| i.starts_with(&prefix))
            })
            .count(),
    );
    let bk = backup(emu).await;
    let vaults = bk.list_backup_vaults().send().await.unwrap();
    m.insert(
        "backup_vault",
        vaults
            .backup_vault_list()
            .iter()
            .filter(|v| {
                v.backup_vault_name()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .count(),
    );
    let plans = bk.list_backup_plans().send().await.unwrap();
    m.insert(
        "backup_plan",
        plans
            .backup_plans_list()
            .iter()
            .filter(|p| p.backup_plan_name().is_some_and(|n| n.starts_with(&prefix)))
            .count(),
    );
    // Monitoring: the alerts topic, alarms and the dashboard by their derived names, and every
    // log group with our tags.
    let topics = sns(emu).await.list_topics().send().await.unwrap();
    m.insert(
        "sns_topic",
        topics
            .topics()
            .iter()
            .filter(|t| {
                t.topic_arn()
                    .is_some_and(|a| a.ends_with(&format!(":rtech-{env}-alerts")))
            })
            .count(),
    );
    let cw = cloudwatch(emu).await;
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix(format!("rtech-{env}-"))
        .send()
        .await
        .unwrap();
    m.insert(
        "alarm",
        alarms.metric_alarms().len() + alarms.composite_alarms().len(),
    );
    let dashboards = cw
        .list_dashboards()
        .dashboard_name_prefix(format!("rtech-{env}"))
        .send()
        .await
        .unwrap();
    m.insert("dashboard", dashboards.dashboard_entries().len());
    let lg = logs(emu).await;
    let mut groups = 0;
    for g in lg.describe_log_groups().send().await.unwrap().log_groups() {
        let arn = g.log_group_arn().map(str::to_string).unwrap_or_else(|| {
            g.arn()
                .unwrap_or_default()
                .trim_end_matches(":*")
                .to_string()
        });
        let t = lg
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map(|o| o.tags().cloned().unwrap_or_default())
            .unwrap_or_default();
        if is_ours(&t.into_iter().collect(), env) {
            groups += 1;
        }
    }
    m.insert("log_group", groups);
    m
}

/// An rtech run in the background whose stderr lines arrive as they are printed (for stopping
/// it part-way): waited for with deadlines, never with fixed sleeps.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
    /// Every stderr line seen so far.
    pub seen: Vec<String>,
    pub started: std::time::Instant,
}

impl Background {
    /// Start `cmd` with piped stdout and stderr.
    pub fn spawn(mut cmd: std::process::Command) -> Background {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start rtech");
        let stderr = child.stderr.take().expect("stderr");
        let mut out = child.stdout.take().expect("stdout");
        // Read all along, so that a long plan never fills the pipe.
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
            s
        });
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child,
            lines,
            stdout: Some(stdout),
            seen: vec![],
            started: std::time::Instant::now(),
        }
    }

    /// Read stderr until a line contains `text` (panics, showing what was seen, if the run
    /// ends or `within` passes first).
    pub fn wait_for_line(&mut self, text: &str, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(text);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "no stderr line with {text:?} ({e:?}); stderr so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Send a signal (`libc::SIGTERM`, `libc::SIGINT`, `libc::SIGKILL`).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.child.id());
    }

    /// Whether it has exited, without waiting.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// Wait (up to `within`) for it to exit: its exit code (-1 for a signal), stdout and the
    /// whole stderr.
    pub fn finish(mut self, within: std::time::Duration) -> Run {
        let deadline = std::time::Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "rtech did not exit within {within:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                );
            }
            // Also drains stderr while waiting (the pipe must not fill up).
            if let Ok(line) = self
                .lines
                .recv_timeout(std::time::Duration::from_millis(50))
            {
                self.seen.push(line);
            }
        };
        // The reader thread ends at EOF: collect the rest.
        while let Ok(line) = self.lines.recv_timeout(std::time::Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().expect("stdout reader"))
            .unwrap_or_default();
        let r = Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: self.seen.join("\n"),
        };
        assert!(
            !r.stderr.contains("panicked"),
            "rtech panicked:\n{}",
            r.stderr
        );
        r
    }
}

/// The fault-injecting proxy (`scripts/fault_proxy.py`) between rtech and an emulator: started
/// on a free port with `args` (`--throttle 0.1`, `--seed 7`, …), killed on drop. Its control
/// API (`/__faults/stats`, `/__faults/config`) reads its counters and changes its faults.
pub struct FaultProxy {
    child: std::process::Child,
    pub url: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// One HTTP/1.1 request on loopback: (status, body).
pub fn http_call(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{url}: {e}"));
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .unwrap_or_else(|e| panic!("{method} {url}{path}: {e}"));
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status from {url}{path}: {head}"));
    (status, body.to_string())
}

impl FaultProxy {
    pub fn start(emu: &Emulator, args: &[&str]) -> FaultProxy {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("faults.log");
        let mut child = std::process::Command::new(root().join(".venv/bin/python"))
            .arg(root().join("scripts/fault_proxy.py"))
            .args(["--upstream", &emu.url, "--port", "0", "--log"])
            .arg(&log)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("proxy.err")).expect("log file"))
            .spawn()
            .expect("start scripts/fault_proxy.py (run scripts/install-emulator.sh)");
        // It prints its address once it accepts connections, or exits.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the proxy's address");
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.wait();
            let err = std::fs::read_to_string(dir.path().join("proxy.err")).unwrap_or_default();
            panic!("the fault proxy did not start: {line}{err}");
        };
        FaultProxy {
            url: url.to_string(),
            child,
            log,
            _dir: dir,
        }
    }

    /// The proxy's counters: requests, forwarded, mutating_forwarded, faults by type, …
    pub fn stats(&self) -> serde_json::Value {
        let (status, body) = http_call(&self.url, "GET", "/__faults/stats", "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats JSON")
    }

    /// Change the proxy's faults (`{"throttle": 0.1}`, `{"zero": true}` zeroes the counters).
    pub fn configure(&self, cfg: serde_json::Value) -> serde_json::Value {
        let (status, body) = http_call(&self.url, "POST", "/__faults/config", &cfg.to_string());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats JSON")
    }

    /// Every fault injected so far, one line each (`fault <type> <service> <operation> …`).
    pub fn fault_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// rtech against the emulator through this proxy, with the product's default attempts
    /// (the suite's fail-fast `AWS_MAX_ATTEMPTS=2` would turn injected faults into failures).
    pub fn rtech(&self, emu: &Emulator) -> std::process::Command {
        let mut c = rtech_std(emu);
        c.env_remove("AWS_MAX_ATTEMPTS")
            .args(["--endpoint-url", &self.url]);
        c
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything of the env's in the account, by kind, counted through each service's own API:
/// the network (`ec2/…`), the container platform (`platform/…`), the edge, data tier and
/// monitoring (`leftovers/…`), and load balancers and DocumentDB instances. Equal to a clean
/// apply's census means nothing was duplicated and nothing lost.
pub async fn census(emu: &Emulator, env: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (k, n) in tagged(&ec2(emu).await, env).await {
        m.insert(format!("ec2/{k}"), n);
    }
    for (k, n) in platform(emu, env).await {
        m.insert(format!("platform/{k}"), n);
    }
    for (k, n) in leftovers(emu, env).await {
        m.insert(format!("leftovers/{k}"), n);
    }
    let lbs = elbv2(emu)
        .await
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    m.insert("elbv2/load_balancer".into(), lbs.load_balancers().len());
    let instances = docdb(emu)
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    m.insert(
        "docdb/instance".into(),
        instances
            .db_instances()
            .iter()
            .filter(|i| {
                i.db_instance_identifier()
                    .is_some_and(|n| n.starts_with(&format!("rtech-{env}-")))
            })
            .count(),
    );
    m
}

/// The kinds whose count differs between two censuses: kind → (wanted, found).
pub fn census_diff(
    want: &BTreeMap<String, usize>,
    got: &BTreeMap<String, usize>,
) -> BTreeMap<String, (usize, usize)> {
    want.keys()
        .chain(got.keys())
        .filter_map(|k| {
            let (a, b) = (
                want.get(k).copied().unwrap_or(0),
                got.get(k).copied().unwrap_or(0),
            );
            (a != b).then(|| (k.clone(), (a, b)))
        })
        .collect()
}

/// The `N retried` of a verbose run's stderr (its last report), 0 when absent.
pub fn retried(stderr: &str) -> usize {
    stderr
        .lines()
        .rev()
        .filter_map(|l| l.split_once(" retried").map(|(head, _)| head))
        .find_map(|head| head.rsplit([' ', '(']).next()?.parse().ok())
        .unwrap_or(0)
}

/// A DocumentDB resource's tags, by ARN.
pub async fn docdb_tags(dd: &aws_sdk_docdb::Client, arn: &str) -> BTreeMap<String, String> {
    let out = dd
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap();
    tag_map(out.tag_list().iter().map(|t| (t.key(), t.value())))
}

/// The log group `name`'s retention: None when there is no such group, Some(None) when it
/// keeps its events forever.
pub async fn retention(logs: &aws_sdk_cloudwatchlogs::Client, name: &str) -> Option<Option<i32>> {
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap();
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| g.retention_in_days())
}
