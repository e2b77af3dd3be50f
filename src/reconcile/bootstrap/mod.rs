//! What `rtech bootstrap --env ENV [--github-repo owner/name]` makes, once per account and
//! region, before the first apply (which never makes them): the lock bucket and, for GitHub
//! Actions, the OIDC provider and the env's two CI roles. Its own registry
//! (`Registry::bootstrap`), run through the same observe → diff → plan text → execute path as
//! apply. Everything carries rtech's tags with `rtech:env = all`: none of it is an env's
//! resource, so no env's plan or destroy ever sees it.
//!
//! - `lock_bucket/main` ([`lock_bucket`]).
//! - `oidc_provider/github` ([`oidc_provider`]): `token.actions.githubusercontent.com`, audience
//!   `sts.amazonaws.com`; one per account.
//! - `iam_role/ci-<env>-plan`, named `<project>-rtech-<env>-plan`: trusted
//!   (`sts:AssumeRoleWithWebIdentity` from that provider, `aud = sts.amazonaws.com`) for the
//!   repository's pull requests only (`sub = repo:owner/name:pull_request`); its permissions
//!   are the documents of `rtech iam-policy --env <env> --for plan`, read-only.
//! - `iam_role/ci-<env>-apply`, named `<project>-rtech-<env>-apply`: trusted only for pushes
//!   to the default branch (`repo:owner/name:ref:refs/heads/main`) and jobs of the
//!   `production` environment (`repo:owner/name:environment:production`); permissions:
//!   `rtech iam-policy --env <env> --for apply`.
//! - `managed_policy/ci-<env>-<plan|apply>-<n>` ([`managed_policy`]): those documents, as
//!   customer managed policies attached to the roles.
//!
//! Per env, not per project: an env's generated policy names that env's resources (ARNs built
//! from `<project>-<env>-…`, `rtech:env` tag conditions), so a role carries exactly one env's
//! rights. One role per project would be rewritten by each env's bootstrap in turn, and would
//! let whatever CI assumes it reach the other env. The names stay outside `<project>-<env>-*`,
//! the roles an env's apply policy may change: the apply role cannot rewrite its own trust or
//! permissions.
//!
//! Without `--github-repo`, bootstrap plans only the lock bucket and leaves the provider and
//! roles as they are. `rtech output` reads the bucket and the two roles' ARNs from here.

mod lock_bucket;
mod managed_policy;
mod oidc_provider;
#[cfg(test)]
mod tests;

pub use lock_bucket::KIND as LOCK_BUCKET;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Value as J};

use crate::aws::{aws, AwsError};
use crate::model::{policy, tags_for, Observed, Ownership, Resource, ResourceId};
use crate::reconcile::iam::document::keyed;
use crate::reconcile::iam::role::RoleProps;
use crate::reconcile::iam::{
    about, list_policies,
    role::{observed_role, RoleKind},
    ROLE,
};
use crate::reconcile::iam_policy::{documents, Grant, Mode, Target};
use crate::reconcile::kit::outputs::{attr, owned, Output};
use crate::reconcile::kit::{is_ours, to_props};
use crate::reconcile::{Ctx, Kind, Service, SERVICES as ENV_SERVICES};
use crate::spec::Spec;

use oidc_provider::{GITHUB_HOST, STS_AUDIENCE};

/// The `rtech:env` tag of what bootstrap makes: it serves every env of the project.
pub const ALL_ENVS: &str = "all";
/// The branch whose pushes the apply role trusts.
pub const DEFAULT_BRANCH: &str = "main";
/// The GitHub environment whose jobs the apply role trusts.
pub const PRODUCTION: &str = "production";

/// The two CI roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiRole {
    Plan,
    Apply,
}

impl CiRole {
    pub const ALL: [CiRole; 2] = [CiRole::Plan, CiRole::Apply];

    pub fn as_str(self) -> &'static str {
        match self {
            CiRole::Plan => "plan",
            CiRole::Apply => "apply",
        }
    }

    fn mode(self) -> Mode {
        match self {
            CiRole::Plan => Mode::Observe,
            CiRole::Apply => Mode::Apply,
        }
    }

    /// `iam_role/ci-<env>-<role>`.
    pub fn id(self, env: &str) -> ResourceId {
        ResourceId::new(ROLE, format!("ci-{env}-{}", self.as_str()))
    }

    /// `<project>-rtech-<env>-<role>`: deterministic, and outside `<project>-<env>-*`.
    pub fn name(self, project: &str, env: &str) -> String {
        format!("{project}-rtech-{env}-{}", self.as_str())
    }

    /// `managed_policy/ci-<env>-<role>-<n>` (n from 1).
    pub fn policy_id(self, env: &str, n: usize) -> ResourceId {
        ResourceId::new(
            managed_policy::KIND,
            format!("ci-{env}-{}-{n}", self.as_str()),
        )
    }

    /// `<project>-rtech-<env>-<role>-<n>`.
    pub fn policy_name(self, project: &str, env: &str, n: usize) -> String {
        format!("{}-{n}", self.name(project, env))
    }

    /// The GitHub OIDC subjects (`sub` claims) the role trusts.
    pub fn subjects(self, repo: &str) -> Vec<String> {
        match self {
            CiRole::Plan => vec![format!("repo:{repo}:pull_request")],
            CiRole::Apply => vec![
                format!("repo:{repo}:ref:refs/heads/{DEFAULT_BRANCH}"),
                format!("repo:{repo}:environment:{PRODUCTION}"),
            ],
        }
    }

    fn description(self, env: &str) -> String {
        match self {
            CiRole::Plan => format!(
                "rtech CI: plans env {env} (read-only); assumed by GitHub Actions for pull requests"
            ),
            CiRole::Apply => format!(
                "rtech CI: applies env {env}; assumed by GitHub Actions for the default branch and the {PRODUCTION} environment"
            ),
        }
    }
}

/// `owner/name` as GitHub spells a repository (what its OIDC `sub` claim names).
pub fn valid_repo(repo: &str) -> Result<(), String> {
    let ok = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || extra.contains(c))
    };
    match repo.split_once('/') {
        Some((owner, name)) if ok(owner, "") && ok(name, "._") && name != "." && name != ".." => {
            Ok(())
        }
        _ => Err(format!(
            "--github-repo {repo:?}: expected owner/name, e.g. acme/platform"
        )),
    }
}

/// A CI role's trust policy: GitHub's OIDC tokens for the audience `sts.amazonaws.com` whose
/// subject is one of the role's (exact match, no wildcard).
pub fn trust_policy(provider_arn: &str, role: CiRole, repo: &str) -> J {
    let subjects = role.subjects(repo);
    let sub = match subjects.as_slice() {
        [one] => J::String(one.clone()),
        many => json!(many),
    };
    let sid = match role {
        CiRole::Plan => "GithubPullRequests",
        CiRole::Apply => "GithubDefaultBranchAndProduction",
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{GITHUB_HOST}:aud"): STS_AUDIENCE,
                format!("{GITHUB_HOST}:sub"): sub,
            }},
        }],
    })
}

/// The GitHub part (pure): the provider, and for each CI role its policy documents (those of
/// `rtech iam-policy --env <env> --for <role>`) and the role.
pub fn github(spec: &Spec, account: &str, region: &str, repo: &str) -> Vec<Resource> {
    let (project, env) = (spec.project.as_str(), spec.env.as_str());
    let provider = oidc_provider::desired(project, region, account);
    let env_desired = crate::reconcile::expand(spec);
    let target = Target {
        spec,
        account,
        region,
        desired: &env_desired,
    };
    let mut out = vec![];
    for role in CiRole::ALL {
        let id = role.id(env);
        let name = role.name(project, env);
        let mut arns = vec![];
        let mut policy_ids = vec![];
        for (i, doc) in documents(ENV_SERVICES, &target, role.mode())
            .iter()
            .enumerate()
        {
            let pid = role.policy_id(env, i + 1);
            let p = managed_policy::desired(
                project,
                region,
                account,
                pid.clone(),
                &role.policy_name(project, env, i + 1),
                doc,
            );
            arns.push(p.name.clone());
            policy_ids.push(pid);
            out.push(p);
        }
        arns.sort();
        let tags = tags_for(project, ALL_ENVS, &id, &name, &BTreeMap::new());
        let trust = trust_policy(&provider.name, role, repo);
        let mut r = Resource::new(id, name.clone()).with_props(to_props(&RoleProps {
            name,
            description: Some(role.description(env)),
            assume_role_policy: Some(keyed(policy::iam(&trust)).to_json()),
            managed_policy_arns: arns,
            inline_policies: BTreeMap::new(),
            tags,
        }));
        r = r.dep(&provider.id);
        for pid in &policy_ids {
            r = r.dep(pid);
        }
        out.push(r);
    }
    out.push(provider);
    out
}

/// Everything bootstrap wants (pure): the lock bucket `bucket`, and with `repo` the GitHub part.
pub fn desired(
    spec: &Spec,
    account: &str,
    region: &str,
    bucket: &str,
    repo: Option<&str>,
) -> Vec<Resource> {
    let mut out = vec![lock_bucket::desired(&spec.project, region, bucket)];
    if let Some(repo) = repo {
        out.extend(github(spec, account, region, repo));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// One of this env's CI policies' ids (`ci-<env>-<plan|apply>-<n>`), not another env's whose
/// name merely starts alike.
fn is_env_policy(env: &str, id: &ResourceId) -> bool {
    CiRole::ALL.iter().any(|r| {
        id.name
            .strip_prefix(&format!("ci-{env}-{}-", r.as_str()))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// What `rtech output` shows of bootstrap's resources, read with the fewest calls (those the
/// plan role's policy grants: the lock bucket's tags, GetRole on the env's CI roles): the
/// bucket if it is ours, and each CI role of ours with its ARN.
pub async fn observe_outputs(ctx: &Ctx, bucket: &str) -> Result<Vec<Observed>, AwsError> {
    let roles = futures::future::try_join_all(CiRole::ALL.iter().map(|r| async move {
        let name = r.name(&ctx.project, &ctx.env);
        let got = crate::reconcile::iam::role::get_role(ctx, &name).await?;
        let id = r.id(&ctx.env);
        Ok::<_, AwsError>(got.and_then(|role| {
            let tags = crate::reconcile::iam::role::role_tags(&role);
            crate::reconcile::kit::is_ours(&tags, &ctx.project, ALL_ENVS, &id)
                .then(|| Observed::new(id, role.arn()).attr("arn", role.arn()))
        }))
    }));
    let lock = async {
        let id = lock_bucket::id();
        Ok(match crate::reconcile::s3::read_tags(ctx, bucket).await? {
            crate::reconcile::s3::Probe::Tags(t)
                if crate::reconcile::kit::is_ours(&t, &ctx.project, ALL_ENVS, &id) =>
            {
                Some(Observed::new(id, bucket).attr("name", bucket))
            }
            _ => None,
        })
    };
    let (lock, roles) = tokio::try_join!(lock, roles)?;
    Ok(lock
        .into_iter()
        .chain(roles.into_iter().flatten())
        .collect())
}

/// One CI role by name (GetRole, then its policies): absent; ours (tagged for `ctx.project`, `env` and `id`) with its
/// policies; or, when `wanted`, foreign.
pub(crate) async fn observe_role(
    ctx: &Ctx,
    id: ResourceId,
    name: String,
    env: &str,
    wanted: bool,
) -> Result<Option<Observed>, AwsError> {
    let iam = &ctx.clients.iam;
    let got = crate::reconcile::iam::role::get_role(ctx, &name)
        .await
        .map_err(about(&id, &name))?;
    let Some(role) = got else {
        return Ok(None);
    };
    if !is_ours(
        &crate::reconcile::iam::role::role_tags(&role),
        &ctx.project,
        env,
        &id,
    ) {
        // Someone else's role under our name: a conflict if the spec wants it, else nothing.
        if !wanted {
            return Ok(None);
        }
        let mut o =
            Observed::new(id, role.arn()).prop("name", crate::model::Value::str(role.role_name()));
        o.ownership = Ownership::Foreign;
        return Ok(Some(o));
    }
    let (attached, names) = list_policies(iam, &name).await.map_err(about(&id, &name))?;
    let inline = futures::future::try_join_all(names.into_iter().map(|p| {
        let req = iam.get_role_policy().role_name(&name).policy_name(&p);
        async move {
            let out = req.send().await.map_err(aws("iam:GetRolePolicy"))?;
            Ok::<_, AwsError>((p, out.policy_document().to_string()))
        }
    }))
    .await
    .map_err(about(&id, &name))?;
    let managed = attached
        .iter()
        .filter_map(|a| a.policy_arn().map(str::to_string))
        .collect();
    Ok(Some(observed_role(id, &role, managed, inline)))
}

const KINDS: &[&dyn Kind] = &[
    &lock_bucket::LockBucket,
    &oidc_provider::OidcProvider,
    &managed_policy::ManagedPolicy,
    &RoleKind,
];

pub struct Bootstrap;

/// Bootstrap's registry: [`Bootstrap`] alone.
pub static SERVICES: &[&dyn Service] = &[&Bootstrap];

#[async_trait]
impl Service for Bootstrap {
    fn name(&self) -> &'static str {
        "bootstrap"
    }

    fn kinds(&self) -> &'static [&'static dyn Kind] {
        KINDS
    }

    /// Nothing from the spec alone: what bootstrap wants depends on the account and on
    /// `--github-repo` ([`desired`]).
    fn expand(&self, _spec: &Spec) -> Vec<Resource> {
        vec![]
    }

    /// Bootstrap runs once per account with an administrator's credentials; no generated
    /// policy covers it (the CI roles never run it).
    fn iam(&self) -> &'static [Grant] {
        &[]
    }

    /// The lock bucket `desired` names, the account's GitHub provider, this env's two CI roles
    /// and their policies (ours by tag; same-named foreign ones as conflicts when wanted).
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let wants = |id: &ResourceId| desired.iter().any(|r| &r.id == id);
        let bucket = desired.iter().find(|r| r.id.kind == lock_bucket::KIND);
        let wanted_policies: BTreeMap<String, ResourceId> = desired
            .iter()
            .filter(|r| r.id.kind == managed_policy::KIND)
            .filter_map(|r| Some((r.get_str("name")?.to_string(), r.id.clone())))
            .collect();
        let prefix = format!("{}-rtech-{}-", ctx.project, ctx.env);
        let roles = futures::future::try_join_all(CiRole::ALL.iter().map(|r| {
            let id = r.id(&ctx.env);
            let wanted = wants(&id);
            observe_role(ctx, id, r.name(&ctx.project, &ctx.env), ALL_ENVS, wanted)
        }));
        let (bucket, provider, policies, roles) = tokio::try_join!(
            async {
                match bucket {
                    Some(b) => lock_bucket::observe(ctx, &b.name).await,
                    None => Ok(None),
                }
            },
            oidc_provider::observe(ctx),
            managed_policy::observe(ctx, &prefix, &wanted_policies),
            roles,
        )?;
        let policies: Vec<Observed> = policies
            .into_iter()
            .filter(|p| is_env_policy(&ctx.env, &p.id))
            .collect();
        // A role depends on our policies attached to it: a policy the plan drops is detached
        // (the role's update) before it is deleted.
        let by_arn: BTreeMap<&str, &ResourceId> = policies
            .iter()
            .filter(|p| p.ownership == Ownership::Owned)
            .map(|p| (p.physical_id.as_str(), &p.id))
            .collect();
        let roles: Vec<Observed> = roles
            .into_iter()
            .flatten()
            .map(|mut o| {
                let attached: Vec<ResourceId> =
                    crate::reconcile::kit::from_props::<RoleProps>(&o.props)
                        .map(|p| p.managed_policy_arns)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|a| by_arn.get(a.as_str()).map(|id| (*id).clone()))
                        .collect();
                for id in &attached {
                    o = o.dep(id);
                }
                o
            })
            .collect();
        let mut out: Vec<Observed> = bucket.into_iter().chain(provider).collect();
        // Someone else's provider matters only when the GitHub part is wanted.
        out.retain(|o| o.ownership == Ownership::Owned || wants(&o.id));
        out.extend(policies);
        out.extend(roles);
        Ok(out)
    }

    fn outputs(&self, observed: &[Observed]) -> Vec<Output> {
        let role_arn = |role: CiRole| -> serde_json::Value {
            owned(observed, ROLE, "ci-")
                .into_iter()
                .find(|o| o.id.name.ends_with(&format!("-{}", role.as_str())))
                .and_then(|o| o.attrs.get("arn").cloned())
                .into()
        };
        vec![
            (
                "lock_bucket",
                attr(observed, lock_bucket::KIND, "main", "name"),
            ),
            ("plan_role_arn", role_arn(CiRole::Plan)),
            ("apply_role_arn", role_arn(CiRole::Apply)),
        ]
    }
}
