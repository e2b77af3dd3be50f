//! Lost responses: a create that happened but whose answer never
//! arrived is retried by the SDK. Two guards, written once:
//!
//! - [`token`]: an idempotency token for APIs that take one (EC2 `ClientToken`, ACM
//!   `IdempotencyToken`, CloudFront/Route 53 `CallerReference`), a hash of project, env,
//!   resource id and the apply's nonce ([`run_nonce`], carried in `Ctx::nonce`). The SDK
//!   resends the same request, token included, so AWS answers a retry with what the first
//!   attempt made; a later apply (after a delete) sends another token and is not refused.
//! - [`adopt_on_exists`]: for kinds with a unique name, an `AlreadyExists` on create reads the
//!   existing resource back and adopts it when it carries this env's tags for this id (our own
//!   first attempt made it); a foreign one (no or other tags) fails, naming the resource.

use std::collections::BTreeMap;
use std::future::Future;

use sha2::{Digest, Sha256};

use super::owner::is_ours;
use super::tags::TagRead;
use crate::aws::{AwsError, ErrorKind};
use crate::model::ResourceId;

/// One random value per rtech process: every apply runs in its own process, so this is the
/// per-apply nonce (`Ctx::nonce`). From the clock, the pid and std's per-process random hash
/// keys; it only has to differ between runs, not be secret.
pub fn run_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(t);
    h.write_u32(std::process::id());
    h.finish()
}

/// An idempotency token of `len` characters (`len` ≤ 64; every API's limit allows 32 and more):
/// hex of SHA-256 over project, env, the resource id and `nonce`. The same inputs always give
/// the same token; a different nonce (another apply) gives another.
pub fn token(project: &str, env: &str, id: &ResourceId, nonce: u64, len: usize) -> String {
    let mut h = Sha256::new();
    h.update(format!("{project}\n{env}\n{id}\n{nonce:016x}").as_bytes());
    let hex = hex::encode(h.finalize());
    hex[..len.min(hex.len())].to_string()
}

/// [`token`] for `id` in `ctx`'s env and apply.
pub fn ctx_token(ctx: &crate::reconcile::Ctx, id: &ResourceId, len: usize) -> String {
    token(&ctx.project, &ctx.env, id, ctx.nonce, len)
}

/// What a read-back answers: what it found, or why it could not read.
pub type ReadBack<T> = Result<Existing<T>, AwsError>;

/// What a read-back of a uniquely-named resource found after an `AlreadyExists`.
#[derive(Debug)]
pub enum Existing<T> {
    /// It carries this env's tags for this id: our own earlier attempt made it.
    Ours(T),
    /// It carries no tags of ours, or another env's or id's.
    Foreign,
    /// Something untagged (a route, a rule, a record) that is not what we wanted (the reason).
    Differs(String),
    /// Nothing there (deleted in between): the create's error stands.
    Missing,
}

impl<T> Existing<T> {
    /// What a read-back found, from the tags it read (`None`: the resource went away in
    /// between): [`Existing::by_tags`] in `ctx`'s env, or `Missing`.
    pub fn of(
        ctx: &crate::reconcile::Ctx,
        id: &ResourceId,
        tags: Option<BTreeMap<String, String>>,
        value: T,
    ) -> Existing<T> {
        match tags {
            None => Existing::Missing,
            Some(tags) => Existing::by_tags(&tags, &ctx.project, &ctx.env, id, value),
        }
    }

    /// What an `AlreadyExists` on create found at `arn` (None: nothing by that name), from the
    /// tags the service's `tags` reads for it now (None: it went away in between); the
    /// observe-time tag index is older than the resource.
    pub async fn at(
        ctx: &crate::reconcile::Ctx,
        id: &ResourceId,
        arn: Option<&str>,
        value: T,
        tags: &dyn TagRead,
    ) -> Result<Existing<T>, AwsError> {
        Ok(match arn {
            None => Existing::Missing,
            Some(arn) => Existing::of(ctx, id, tags.read(arn).await?, value),
        })
    }

    /// `Ours(value)` when `tags` are this env's tags for `id`, else `Foreign`.
    pub fn by_tags(
        tags: &BTreeMap<String, String>,
        project: &str,
        env: &str,
        id: &ResourceId,
        value: T,
    ) -> Existing<T> {
        if is_ours(tags, project, env, id) {
            Existing::Ours(value)
        } else {
            Existing::Foreign
        }
    }
}

/// Run `create`; when it fails with `AlreadyExists` (the SDK retried a create whose first
/// attempt succeeded, or someone else holds the name), `read_back` decides: ours is adopted
/// (its value returned as the create's), foreign fails naming `what` and the code, missing
/// keeps the create's error; an untagged one that differs fails naming `what` and the reason. Any other outcome of `create` is returned as is.
pub async fn adopt_on_exists<T, C, R, RF>(
    what: &str,
    create: C,
    read_back: R,
) -> Result<T, AwsError>
where
    C: Future<Output = Result<T, AwsError>>,
    R: FnOnce() -> RF,
    RF: Future<Output = Result<Existing<T>, AwsError>>,
{
    match create.await {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match read_back().await? {
            Existing::Ours(t) => Ok(t),
            Existing::Foreign => {
                let msg = format!(
                    "{what} already exists without this env's ownership tags (foreign): rtech will not adopt it{}",
                    if e.message.is_empty() { String::new() } else { format!(" ({})", e.message) }
                );
                Err(e.with_message(msg))
            }
            Existing::Differs(why) => {
                let msg = format!("{what} already exists and is not the desired one: {why}");
                Err(e.with_message(msg))
            }
            Existing::Missing => Err(e),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TAG_ENV, TAG_ID, TAG_PROJECT};

    fn id(s: &str) -> ResourceId {
        s.parse().unwrap()
    }

    fn tags(project: &str, env: &str, rid: &str) -> BTreeMap<String, String> {
        [(TAG_PROJECT, project), (TAG_ENV, env), (TAG_ID, rid)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn exists() -> AwsError {
        AwsError::new(
            "iam:CreateRole",
            "EntityAlreadyExists",
            "Role rtech-prod-task exists",
        )
    }

    #[test]
    fn a_token_is_deterministic_per_env_id_and_nonce() {
        let rt = id("route_table/public");
        let a = token("rtech", "prod", &rt, 7, 32);
        assert_eq!(
            a,
            token("rtech", "prod", &rt, 7, 32),
            "same inputs, same token"
        );
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(
            a,
            token("rtech", "prod", &rt, 8, 32),
            "another apply, another token"
        );
        assert_ne!(a, token("rtech", "dev", &rt, 7, 32), "another env");
        assert_ne!(
            a,
            token("rtech", "prod", &id("route_table/private-a"), 7, 32)
        );
        assert_ne!(a, token("other", "prod", &rt, 7, 32), "another project");
        assert_eq!(token("rtech", "prod", &rt, 7, 64).len(), 64);
        assert_eq!(token("rtech", "prod", &rt, 7, 99).len(), 64);
    }

    #[test]
    fn the_run_nonce_differs_between_calls() {
        assert_ne!(run_nonce(), run_nonce());
    }

    #[tokio::test]
    async fn ours_is_adopted_on_already_exists() {
        let rid = id("role/task");
        let got = adopt_on_exists(
            "role/task",
            async { Err::<String, _>(exists()) },
            || async {
                Ok(Existing::by_tags(
                    &tags("rtech", "prod", "role/task"),
                    "rtech",
                    "prod",
                    &rid,
                    "arn:role".to_string(),
                ))
            },
        )
        .await;
        assert_eq!(got.unwrap(), "arn:role");
    }

    #[tokio::test]
    async fn a_foreign_resource_fails_naming_it() {
        let rid = id("role/task");
        for foreign in [
            BTreeMap::new(),
            tags("rtech", "dev", "role/task"),
            tags("rtech", "prod", "role/execution"),
        ] {
            let e = adopt_on_exists(
                "role/task",
                async { Err::<String, _>(exists()) },
                || async {
                    Ok(Existing::by_tags(
                        &foreign,
                        "rtech",
                        "prod",
                        &rid,
                        "x".to_string(),
                    ))
                },
            )
            .await
            .unwrap_err();
            assert!(e.is("EntityAlreadyExists"), "{e}");
            assert!(
                e.to_string().contains("role/task") && e.to_string().contains("foreign"),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn other_outcomes_pass_through_and_the_read_back_is_only_called_on_exists() {
        let ok = adopt_on_exists("x/y", async { Ok::<_, AwsError>(1) }, || async {
            panic!("read back without AlreadyExists")
        })
        .await;
        assert_eq!(ok.unwrap(), 1);
        let denied = adopt_on_exists(
            "x/y",
            async { Err::<i32, _>(AwsError::new("iam:CreateRole", "AccessDenied", "")) },
            || async { panic!("read back without AlreadyExists") },
        )
        .await;
        assert!(denied.unwrap_err().is("AccessDenied"));
        let missing = adopt_on_exists("x/y", async { Err::<i32, _>(exists()) }, || async {
            Ok(Existing::Missing)
        })
        .await;
        assert!(missing.unwrap_err().is("EntityAlreadyExists"));
    }
}
