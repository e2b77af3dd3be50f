//! AWS plumbing: SdkConfig (region, profile, endpoint), the client bundle with an API-call
//! counter, and one error type that keeps the operation and the AWS error code.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::fmt;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod calls;
mod error;
pub use calls::{calls_since, CallCounter};
pub use error::{aws, AwsError, Call, ErrorKind, Required};

/// Maps an SDK waiter's failure to an `AwsError` naming what was waited for. A failed poll
/// keeps AWS's own code and class (a resource deleted meanwhile stays a NotFound, which a
/// delete treats as done); running out of time is `WaitTimeout`, saying how long rtech waited.
pub fn waited<O: fmt::Debug, E>(
    op: impl Into<String>,
    what: impl Into<String>,
) -> impl FnOnce(WaiterError<O, E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (op, what) = (op.into(), what.into());
    move |e| match e {
        WaiterError::OperationFailed(f) => {
            let inner = AwsError::from_sdk(&op, f.into_error());
            let msg = format!("waiting for {what}: {}", inner.message);
            inner.with_message(msg)
        }
        WaiterError::ExceededMaxWait(m) => AwsError::new(
            op,
            "WaitTimeout",
            format!(
                "waiting for {what}: not done after {} s; run the command again to keep waiting",
                m.elapsed().as_secs()
            ),
        ),
        other => AwsError::new(op, "WaiterFailed", format!("waiting for {what}: {other}")),
    }
}

/// Every page of a paginated Describe/List call, collected, with the error named after `$op`.
macro_rules! all_pages {
    ($req:expr, $op:literal) => {
        $req.into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err($crate::aws::aws($op))
    };
}
pub(crate) use all_pages;

/// Where and as whom to talk to AWS (flags; the standard chain fills the rest).
#[derive(Debug, Clone, Default)]
pub struct AwsOpts {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub retry: RetryOpts,
    /// The call counter every client of the run shares (the command prints it with `-vv`).
    pub calls: CallCounter,
}

/// How hard each AWS call tries: the SDK's own retries (throttling, 5xx, dropped connections,
/// with exponential backoff and jitter) and timeouts. rtech adds no retry of its own for what
/// the SDK classifies as retryable.
#[derive(Debug, Clone)]
pub struct RetryOpts {
    /// Attempts per call, the first included (`--max-attempts`, `AWS_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Client-side rate limiting on every service (`--retry-mode adaptive`).
    pub adaptive: bool,
    /// How long one attempt may take (`--attempt-timeout`).
    pub attempt_timeout: Duration,
}

impl Default for RetryOpts {
    fn default() -> Self {
        RetryOpts {
            max_attempts: 8,
            adaptive: false,
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

/// Establishing a connection: AWS's endpoints answer in milliseconds; longer is a network fault.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

impl RetryOpts {
    /// The retry configuration of one service's client: adaptive (client-side rate limiting)
    /// where AWS's limits are low (`low_limits`: Route 53's five requests a second, CloudFront)
    /// or when asked for, else standard.
    pub fn retry_config(&self, low_limits: bool) -> RetryConfig {
        let base = if self.adaptive || low_limits {
            RetryConfig::adaptive()
        } else {
            RetryConfig::standard()
        };
        base.with_max_attempts(self.max_attempts)
    }

    /// Connect and per-attempt timeouts, and a whole-call timeout that leaves room for every
    /// attempt and the backoff between them (at most 20 s each).
    pub fn timeout_config(&self) -> TimeoutConfig {
        let attempts = self.max_attempts.max(1);
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout((self.attempt_timeout + Duration::from_secs(20)) * attempts)
            .build()
    }
}

/// The SDK clients rtech uses, all sharing one call counter.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub sts: aws_sdk_sts::Client,
    pub docdb: aws_sdk_docdb::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// ACM in the env's region (the ALB's certificate).
    pub acm: aws_sdk_acm::Client,
    /// ACM in us-east-1, the only region CloudFront takes certificates from.
    pub acm_us_east_1: aws_sdk_acm::Client,
    pub route53: aws_sdk_route53::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// WAFv2 in us-east-1, where CloudFront-scoped web ACLs live.
    pub wafv2_us_east_1: aws_sdk_wafv2::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    /// AWS Backup (the DocumentDB cluster's vault, plan and selection).
    pub backup: aws_sdk_backup::Client,
    /// KMS (the alerts topic's customer managed key).
    pub kms: aws_sdk_kms::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The Resource Groups Tagging API: every tagged resource of the env in one paginated
    /// read (`reconcile::kit::tag_index`).
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub calls: CallCounter,
    pub endpoint: Option<String>,
    pub region: String,
}

/// The account and the ARN the credentials act as (sts:GetCallerIdentity).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// The region the shared config file gives the profile (`AWS_PROFILE`/`--profile`, else
/// `default`), if any.
async fn profile_region(profile: Option<&str>) -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    let mut b = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        b = b.profile_name(p);
    }
    b.build().region().await.map(|r| r.to_string())
}

/// The warning when the environment (`AWS_REGION`, else `AWS_DEFAULT_REGION`) or the profile
/// names a region other than the spec's, which rtech uses (only `--region` overrides it): a
/// Terraform user expects the environment to win, so saying nothing would mislead.
fn ignored_region(
    env: impl Fn(&str) -> Option<String>,
    profile_region: Option<String>,
    spec_region: &str,
) -> Option<String> {
    let (source, region) = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
        .or_else(|| profile_region.map(|r| ("the profile's region".to_string(), r)))?;
    (region != spec_region).then(|| {
        format!(
            "{source} is {region}, but the env's spec says region = \"{spec_region}\": rtech uses the spec's region (--region overrides it)"
        )
    })
}

/// CloudFront takes ACM certificates from this region only.
pub const CLOUDFRONT_CERT_REGION: &str = "us-east-1";

impl Clients {
    pub async fn new(opts: &AwsOpts, spec_region: &str) -> Clients {
        if opts.region.is_none() {
            let profile_region = profile_region(opts.profile.as_deref()).await;
            let env = |k: &str| std::env::var(k).ok();
            if let Some(w) = ignored_region(env, profile_region, spec_region) {
                tracing::warn!(target: "rtech", "{w}");
            }
        }
        let region = opts
            .region
            .clone()
            .unwrap_or_else(|| spec_region.to_string());
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.clone()));
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        loader = loader
            .retry_config(opts.retry.retry_config(false))
            .timeout_config(opts.retry.timeout_config());
        let conf = loader.load().await;
        let endpoint = conf.endpoint_url().map(str::to_string);
        let calls = opts.calls.clone();
        // One client per service, all counting calls through the same interceptor.
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(&conf)
                        .interceptor(calls.clone())
                        .build(),
                )
            };
        }
        let ec2 = client!(aws_sdk_ec2);
        let sts = client!(aws_sdk_sts);
        let docdb = client!(aws_sdk_docdb);
        let elasticache = client!(aws_sdk_elasticache);
        let secrets = client!(aws_sdk_secretsmanager);
        let ecr = client!(aws_sdk_ecr);
        let iam = client!(aws_sdk_iam);
        let logs = client!(aws_sdk_cloudwatchlogs);
        let ecs = client!(aws_sdk_ecs);
        let elbv2 = client!(aws_sdk_elasticloadbalancingv2);
        let autoscaling = client!(aws_sdk_applicationautoscaling);
        let acm = client!(aws_sdk_acm);
        let acm_us_east_1 = aws_sdk_acm::Client::from_conf(
            aws_sdk_acm::config::Builder::from(&conf)
                .region(Region::new(CLOUDFRONT_CERT_REGION))
                .interceptor(calls.clone())
                .build(),
        );
        let wafv2_us_east_1 = aws_sdk_wafv2::Client::from_conf(
            aws_sdk_wafv2::config::Builder::from(&conf)
                .region(Region::new(CLOUDFRONT_CERT_REGION))
                .interceptor(calls.clone())
                .build(),
        );
        // Route 53 (five requests a second per account) and CloudFront: client-side rate limiting.
        let route53 = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&conf)
                .retry_config(opts.retry.retry_config(true))
                .interceptor(calls.clone())
                .build(),
        );
        let sns = client!(aws_sdk_sns);
        let backup = client!(aws_sdk_backup);
        let kms = client!(aws_sdk_kms);
        let cloudwatch = client!(aws_sdk_cloudwatch);
        let tagging = client!(aws_sdk_resourcegroupstagging);
        let cloudfront = aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::config::Builder::from(&conf)
                .retry_config(opts.retry.retry_config(true))
                .interceptor(calls.clone())
                .build(),
        );
        // Path-style addressing against an endpoint override (an S3-compatible store, a local
        // endpoint): such a host has no per-bucket DNS names.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(endpoint.is_some())
                .interceptor(calls.clone())
                .build(),
        );
        Clients {
            ec2,
            sts,
            docdb,
            elasticache,
            secrets,
            ecr,
            iam,
            logs,
            ecs,
            elbv2,
            autoscaling,
            acm,
            acm_us_east_1,
            route53,
            cloudfront,
            wafv2_us_east_1,
            s3,
            sns,
            backup,
            kms,
            cloudwatch,
            tagging,
            calls,
            endpoint,
            region,
        }
    }

    /// One cheap call that proves the endpoint answers and the credentials are good.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        Ok(self.caller().await?.account)
    }

    /// Who the credentials are: sts:GetCallerIdentity.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        caller(self.sts.clone(), self.endpoint.clone()).await
    }

    /// sts:GetCallerIdentity, started now (on the runtime) and shared: whoever needs the
    /// account awaits the one answer, and the calls that do not need it go on meanwhile.
    pub fn identity(&self) -> Identity {
        let shared = caller(self.sts.clone(), self.endpoint.clone())
            .boxed()
            .shared();
        tokio::spawn(shared.clone());
        shared
    }
}

/// The caller, asked once and shared ([`Clients::identity`]).
pub type Identity = Shared<BoxFuture<'static, Result<Caller, AwsError>>>;

/// An identity already known (the executor's tests).
#[cfg(test)]
pub fn known_identity(c: Caller) -> Identity {
    futures::future::ready(Ok(c)).boxed().shared()
}

async fn caller(sts: aws_sdk_sts::Client, endpoint: Option<String>) -> Result<Caller, AwsError> {
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        AwsError::from_sdk("sts:GetCallerIdentity", e).with_endpoint(endpoint.as_deref())
    })?;
    Ok(Caller {
        account: out.account.unwrap_or_default(),
        arn: out.arn.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::retry::RetryMode;

    #[test]
    fn a_region_from_the_environment_or_profile_that_is_not_the_specs_is_warned_about() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let w = ignored_region(vars(&[("AWS_REGION", "eu-west-1")]), None, "us-east-1").unwrap();
        assert_eq!(
            w,
            "AWS_REGION is eu-west-1, but the env's spec says region = \"us-east-1\": rtech uses the spec's region (--region overrides it)"
        );
        // AWS_REGION first, as the SDK reads them; an empty one is not set.
        let w = ignored_region(
            vars(&[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "eu-west-2")]),
            Some("us-east-1".into()),
            "us-east-1",
        );
        assert!(w.unwrap().starts_with("AWS_DEFAULT_REGION is eu-west-2"));
        // The environment agreeing wins over a profile that does not.
        assert_eq!(
            ignored_region(
                vars(&[("AWS_REGION", "us-east-1")]),
                Some("eu-west-1".into()),
                "us-east-1"
            ),
            None
        );
        let w = ignored_region(vars(&[]), Some("ap-south-1".into()), "us-east-1").unwrap();
        assert!(w.starts_with("the profile's region is ap-south-1"), "{w}");
        assert_eq!(ignored_region(vars(&[]), None, "us-east-1"), None);
    }

    #[test]
    fn retries_are_standard_with_eight_attempts_and_adaptive_where_limits_are_low() {
        let o = RetryOpts::default();
        let std = o.retry_config(false);
        assert_eq!(std.mode(), RetryMode::Standard);
        assert_eq!(std.max_attempts(), 8);
        assert_eq!(o.retry_config(true).mode(), RetryMode::Adaptive);
        let asked = RetryOpts {
            max_attempts: 2,
            adaptive: true,
            ..RetryOpts::default()
        };
        assert_eq!(asked.retry_config(false).mode(), RetryMode::Adaptive);
        assert_eq!(asked.retry_config(false).max_attempts(), 2);
    }

    #[test]
    fn a_hung_attempt_costs_the_attempt_timeout_and_a_call_is_bounded() {
        let o = RetryOpts {
            max_attempts: 3,
            adaptive: false,
            attempt_timeout: Duration::from_secs(10),
        };
        let t = o.timeout_config();
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(90)));
    }
}
