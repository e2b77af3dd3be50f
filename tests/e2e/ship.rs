//! Shipping the app (docs/usage.md, "Deploying an image"): `rtech image push` with a fake container
//! engine on PATH (a script that records its arguments and stdin, and pushes through the
//! emulator's ECR PutImage), and the first-deploy order (a task definition whose image is not
//! in the env's repository is blocked, with the command that pushes it).

use std::path::{Path, PathBuf};

use crate::emulator::{root, Emulator};
use crate::support::*;

const REPO: &str = "rtech-e2e-ship";

fn sections(immutable: bool) -> String {
    format!(
        r#"
[ecr]
repository = "{REPO}"
immutable_tags = {immutable}
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
stable_timeout_seconds = 120
"#
    )
}

/// A fake `docker`: a Python script (the emulator's venv, which has boto3) that appends its
/// argv as JSON to `argv.log`, its stdin to `stdin.log`, answers `image inspect` from
/// `repo_digests`, and for `push` puts a manifest (from $FAKE_DOCKER_CONTENT) into the
/// emulator's repository with PutImage, then records the image's registry digest as docker does.
fn fake_docker(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let python = root().join(".venv/bin/python");
    let script = format!(
        r#"#!{python}
import json, os, sys
state = {state:?}
args = sys.argv[1:]
with open(os.path.join(state, "argv.log"), "a") as f:
    f.write(json.dumps(args) + "\n")
if args[:1] == ["login"]:
    with open(os.path.join(state, "stdin.log"), "a") as f:
        f.write(sys.stdin.read())
elif args[:2] == ["image", "inspect"]:
    p = os.path.join(state, "repo_digests")
    if os.path.exists(p):
        print(open(p).read())
elif args[:1] == ["push"]:
    import boto3
    ref = args[1]
    uri, tag = ref.rsplit(":", 1)
    name = uri.split("/", 1)[1]
    ecr = boto3.client("ecr", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    manifest = json.dumps({{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {{"digest": os.environ.get("FAKE_DOCKER_CONTENT", "one")}}, "layers": []}})
    img = ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag=tag)["image"]
    with open(os.path.join(state, "repo_digests"), "w") as f:
        f.write(uri + "@" + img["imageId"]["imageDigest"] + "\n")
"#,
        python = python.display(),
        state = dir.display().to_string(),
    );
    let f = bin.join("docker");
    std::fs::write(&f, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn with_path(mut c: assert_cmd::Command, bin: &Path) -> assert_cmd::Command {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.env("PATH", path);
    c
}

fn push(emu: &Emulator, dir: &Path, bin: &Path, tag: &str) -> Run {
    let mut c = with_path(rtech_in(emu, dir), bin);
    c.args(["image", "push", "--env", "dev", "--tag", tag, "--context"])
        .arg(dir);
    run(&mut c)
}

#[test]
fn image_push_logs_in_on_stdin_and_an_immutable_tag_is_never_overwritten() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections(true));
    let state = tempfile::tempdir().unwrap();
    let bin = fake_docker(state.path());

    // No repository yet: the error says how to make it.
    let r = push(&emu, dir.path(), &bin, "v1");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("run rtech apply --env dev first"),
        "{}",
        r.stderr
    );

    // The repository alone, and no image pushed by the harness: this test pushes its own.
    apply_with(
        rtech_in(&emu, dir.path()),
        "dev",
        &["--target", "ecr_repository/app"],
    );
    let r = push(&emu, dir.path(), &bin, "v1");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("Pushed ") && r.stdout.contains(&format!("/{REPO}:v1 (sha256:")),
        "{}",
        r.stdout
    );
    let argv = std::fs::read_to_string(state.path().join("argv.log")).unwrap();
    let password = std::fs::read_to_string(state.path().join("stdin.log")).unwrap();
    assert!(!password.trim().is_empty());
    assert!(
        !argv.contains(password.trim()),
        "the password is on a command line: {argv}"
    );
    let calls: Vec<Vec<String>> = argv
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verbs: Vec<&str> = calls.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(verbs, ["build", "login", "push"], "{argv}");
    assert!(calls[1].contains(&"--password-stdin".to_string()), "{argv}");
    assert_eq!(
        calls[1][calls[1].len() - 1],
        "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );

    // The same image again: a no-op (no login, no push).
    std::fs::remove_file(state.path().join("argv.log")).unwrap();
    let r = push(&emu, dir.path(), &bin, "v1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nothing to push"), "{}", r.stdout);
    let argv = std::fs::read_to_string(state.path().join("argv.log")).unwrap();
    assert!(
        !argv.contains("\"push\"") && !argv.contains("\"login\""),
        "{argv}"
    );

    // Another image under the same tag in an immutable repository: an error that says so.
    std::fs::remove_file(state.path().join("repo_digests")).unwrap();
    let r = push(&emu, dir.path(), &bin, "v1");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("already in the immutable repository"),
        "{}",
        r.stderr
    );

    // No container engine: one line naming what was looked for.
    let empty = tempfile::tempdir().unwrap();
    let mut c = rtech_in(&emu, dir.path());
    c.env("PATH", empty.path())
        .args(["image", "push", "--env", "dev", "--tag", "v2"]);
    let r = run(&mut c);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("looked for docker and podman on PATH"),
        "{}",
        r.stderr
    );
    destroy_in(&emu, dir.path(), "dev");
}

#[test]
fn the_first_deploy_waits_for_the_image_then_deploys_it() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections(false));
    let state = tempfile::tempdir().unwrap();
    let bin = fake_docker(state.path());

    let plan = plan_json_in(&emu, dir.path(), "dev", &[]);
    let blocked: Vec<(&str, &str)> = plan["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["id"].as_str().unwrap(), b["message"].as_str().unwrap()))
        .collect();
    let wanted = format!("image {REPO}:v1 is not in the repository: push it with rtech image push --env dev --tag v1");
    assert!(
        blocked.contains(&("ecs_task_definition/app", wanted.as_str())),
        "{blocked:?}"
    );
    assert!(
        blocked.contains(&("ecs_service/app", "waits for ecs_task_definition/app")),
        "{blocked:?}"
    );
    assert!(change_of(&plan, "ecr_repository/app").is_some());
    assert!(change_of(&plan, "ecs_service/app").is_none());

    // Apply makes everything else and exits 1 naming the step.
    let mut c = rtech_in(&emu, dir.path());
    c.args(["apply", "--env", "dev", "--auto-approve"]);
    let r = run(&mut c);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains(&format!("ecs_task_definition/app: {wanted}")),
        "{}",
        r.stderr
    );

    let r = push(&emu, dir.path(), &bin, "v1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    apply_in(&emu, dir.path(), "dev", &[]);
    let plan = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan);
    assert!(plan.get("blocked").is_none(), "{plan:#}");
    destroy_in(&emu, dir.path(), "dev");
}
