//! `rtech iam-policy`: the least-privilege IAM policy a role needs to plan or to apply one env,
//! generated from what each service declares it calls (`src/reconcile/<service>/iam.rs`).

use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use super::{load, EXIT_OK};
use crate::aws::{AwsOpts, Clients};
use crate::cli::{Cli, IamPolicyArgs};
use crate::reconcile::iam_policy::{
    documents, operations, policy_chars, Mode, Target, MAX_POLICY_CHARS,
};
use crate::reconcile::{self, SERVICES};

pub(super) async fn iam_policy_cmd(
    cli: &Cli,
    a: &IamPolicyArgs,
    opts: &AwsOpts,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let region = opts.region.clone().unwrap_or_else(|| spec.region.clone());
    // --account-id, else the spec's one pinned account (not the shipped placeholder), else
    // the caller's.
    let account = match a.account_id.as_deref().or(spec.account.single()) {
        Some(id) => id.to_string(),
        None => Clients::new(opts, &region)
            .await
            .account_id()
            .await
            .map_err(|e| anyhow!("{e} (or pass --account-id to generate the policy offline)"))?,
    };
    let mode = if a.role == "plan" {
        Mode::Observe
    } else {
        Mode::Apply
    };
    let desired = reconcile::expand(&spec);
    let target = Target {
        spec: &spec,
        account: &account,
        region: &region,
        desired: &desired,
    };
    let docs = documents(SERVICES, &target, mode);
    let n = docs.len();
    let name = |i: usize| match n {
        1 => format!("{}-{}-{}", spec.project, spec.env, a.role),
        _ => format!("{}-{}-{}-{}", spec.project, spec.env, a.role, i + 1),
    };
    let chosen: Vec<(usize, &serde_json::Value)> = match a.part {
        Some(p) if usize::from(p) > n => {
            bail!("--part {p}: the {} policy has {n} document(s)", a.role)
        }
        Some(p) => vec![(usize::from(p) - 1, &docs[usize::from(p) - 1])],
        None => docs.iter().enumerate().collect(),
    };
    if a.json {
        let list: Vec<_> = chosen
            .iter()
            .map(|(i, d)| json!({"name": name(*i), "chars": policy_chars(d), "policy": d}))
            .collect();
        let out = json!({
            "env": spec.env,
            "for": a.role,
            "account_id": account,
            "region": region,
            "max_policy_chars": MAX_POLICY_CHARS,
            "documents": list,
            "operations": operations(SERVICES, mode),
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    } else {
        if n > 1 && a.part.is_none() {
            eprintln!(
                "note: the {} policy is {n} documents (IAM caps a managed policy at {MAX_POLICY_CHARS} characters): attach all of them; --part N prints one",
                a.role
            );
        }
        for (_, d) in chosen {
            println!("{}", serde_json::to_string_pretty(d).expect("json"));
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
