//! `rtech image push`: build the app image with the container engine on PATH (docker, else
//! podman) and push it to the env's ECR repository.
//!
//! The repository is read from live AWS (DescribeRepositories: its URI and tag mutability; it
//! must carry the env's tags). The engine builds `<uri>:<tag>`; when the tag is already in the
//! repository (DescribeImages), the built image's registry digests (`image inspect`, which
//! knows them for an image pushed or pulled before) decide: the same digest is a no-op, and
//! in an immutable repository anything else is an error that says so. Otherwise the engine
//! logs in with GetAuthorizationToken's credentials, the password on the engine's stdin
//! (`login --password-stdin`), never on a command line, and pushes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use super::session::{Session, Target};
use super::{load, need_section, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, ImageArgs, ImageCommand, ImagePushArgs};
use crate::reconcile;
use crate::reconcile::ecr::images;

/// The engines looked for, in order.
pub const ENGINES: &[&str] = &["docker", "podman"];

pub(super) async fn image_cmd(
    cli: &Cli,
    a: &ImageArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    match &a.command {
        ImageCommand::Push(p) => push(cli, p, opts, ui).await,
    }
}

/// The first of `names` that is an executable file in one of `path`'s directories.
pub fn find_engine(path: Option<&std::ffi::OsStr>, names: &[&str]) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = path.map(|p| std::env::split_paths(p).collect())?;
    names.iter().find_map(|n| {
        dirs.iter().map(|d| d.join(n)).find(|f| {
            use std::os::unix::fs::PermissionsExt;
            f.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The error when no engine is on PATH: one line naming what was looked for.
pub fn no_engine_message() -> String {
    format!(
        "no container engine found: looked for {} on PATH; install Docker (https://docs.docker.com/get-docker/) or Podman (https://podman.io/docs/installation)",
        ENGINES.join(" and ")
    )
}

/// The current git commit's short SHA in `dir`.
fn git_short_sha(dir: &Path) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .context("running git to find the commit (pass --tag to name the image's tag)")?;
    if !out.status.success() {
        bail!(
            "no git commit in {} to tag the image with: pass --tag ({})",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

struct Engine {
    path: PathBuf,
    name: String,
}

impl Engine {
    /// Run the engine with `args` (never a secret), `stdin` fed to it; its output goes to our
    /// stderr (the build's and push's progress), unless `capture`.
    fn run(&self, args: &[&str], stdin: Option<&str>, capture: bool) -> Result<String> {
        let mut c = Command::new(&self.path);
        c.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            // Progress to stderr: stdout stays the command's result.
            .stdout(if capture {
                Stdio::piped()
            } else {
                Stdio::from(std::io::stderr())
            });
        let what = format!(
            "{} {}",
            self.name,
            args.first().copied().unwrap_or_default()
        );
        let mut child = c.spawn().with_context(|| format!("starting {what}"))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            pipe.write_all(input.as_bytes())
                .with_context(|| format!("writing to {what}"))?;
        }
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for {what}"))?;
        if !out.status.success() {
            bail!("{what} failed ({})", out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

async fn push(cli: &Cli, a: &ImagePushArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let then = ", so no repository to push to";
    need_section(&spec, spec.ecr.is_some(), "ecr", then)?;
    let tag = match &a.tag {
        Some(t) => t.clone(),
        None => crate::cli::image_tag(&git_short_sha(&a.context)?).map_err(|e| anyhow!(e))?,
    };
    let path = find_engine(std::env::var_os("PATH").as_deref(), ENGINES)
        .ok_or_else(|| anyhow!(no_engine_message()))?;
    let engine = Engine {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path,
    };
    let desired = reconcile::expand(&spec);
    let repo_name = desired
        .iter()
        .find(|r| r.id.kind == reconcile::ecr::REPOSITORY)
        .map(|r| r.name.clone())
        .expect("an [ecr] section expands to its repository");
    let s = Session::open(&Target::of_spec(&spec), opts, &desired, false, ui).await?;
    let ctx = &s.ctx;
    let repo = images::repository(ctx, &repo_name)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| {
            anyhow!(
                "env {} has no ECR repository {repo_name} yet: run rtech apply --env {} first (it creates the repository)",
                spec.env,
                spec.env
            )
        })?;
    if !repo.ours {
        bail!(
            "the ECR repository {repo_name} does not carry env {}'s rtech tags: rtech pushes only to the env's own repository",
            spec.env
        );
    }
    let image = format!("{}:{tag}", repo.uri);
    let dockerfile = a
        .dockerfile
        .clone()
        .unwrap_or_else(|| a.context.join("Dockerfile"));
    ui.info(&format!("Building {image} with {}", engine.name));
    engine.run(
        &[
            "build",
            "--tag",
            &image,
            "--file",
            &dockerfile.to_string_lossy(),
            &a.context.to_string_lossy(),
        ],
        None,
        false,
    )?;
    let remote = images::tag_digest(ctx, &repo.name, &tag)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(remote) = &remote {
        let local = engine.run(
            &[
                "image",
                "inspect",
                "--format",
                "{{range .RepoDigests}}{{println .}}{{end}}",
                &image,
            ],
            None,
            true,
        )?;
        let mine: Vec<&str> = local
            .lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{}@", repo.uri)))
            .collect();
        if mine.contains(&remote.as_str()) {
            report(a.json, &image, remote, false);
            return Ok(ExitCode::from(EXIT_OK));
        }
        if repo.immutable {
            let built = match mine.first() {
                Some(d) => format!("the image built here is {d}"),
                None => {
                    "the image built here is not that one (it has no digest from this repository)"
                        .into()
                }
            };
            bail!(
                "tag {tag} is already in the immutable repository {} with digest {remote}, and {built}: an immutable tag cannot be overwritten; push under a new tag (--tag)",
                repo.name
            );
        }
    }
    let login = images::login(ctx).await.map_err(|e| anyhow!("{e}"))?;
    engine.run(
        &[
            "login",
            "--username",
            &login.username,
            "--password-stdin",
            &login.registry,
        ],
        Some(&login.password),
        false,
    )?;
    ui.info(&format!("Pushing {image}"));
    engine.run(&["push", &image], None, false)?;
    let digest = images::tag_digest(ctx, &repo.name, &tag)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| {
            anyhow!(
                "{} push reported success, but {image} is not in the repository",
                engine.name
            )
        })?;
    report(a.json, &image, &digest, true);
    Ok(ExitCode::from(EXIT_OK))
}

fn report(json: bool, image: &str, digest: &str, pushed: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"image": image, "digest": digest, "pushed": pushed})
        );
    } else if pushed {
        println!("Pushed {image} ({digest}).");
    } else {
        println!("{image} is already in the repository with the same digest ({digest}): nothing to push.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_is_the_first_executable_on_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let exe = |d: &Path, n: &str, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let f = d.join(n);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        exe(a.path(), "docker", 0o644); // not executable: skipped
        exe(b.path(), "podman", 0o755);
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        assert_eq!(
            find_engine(Some(&path), ENGINES),
            Some(b.path().join("podman"))
        );
        exe(b.path(), "docker", 0o755);
        assert_eq!(
            find_engine(Some(&path), ENGINES),
            Some(b.path().join("docker"))
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(find_engine(Some(empty.path().as_os_str()), ENGINES), None);
        assert_eq!(find_engine(None, ENGINES), None);
        let m = no_engine_message();
        assert!(
            !m.contains('\n') && m.contains("docker") && m.contains("podman"),
            "{m}"
        );
    }

    #[test]
    fn the_registry_token_is_user_colon_password() {
        assert_eq!(
            images::decode_token("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu"),
            Some(("AWS".into(), "123456789012-auth-token".into()))
        );
        assert_eq!(images::decode_token("not base64!"), None);
    }
}
