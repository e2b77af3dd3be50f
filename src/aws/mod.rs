//! AWS plumbing: SdkConfig (region, profile, endpoint), the client bundle with an API-call
//! counter, and one error type that keeps the operation and the AWS error code.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::fmt;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;

use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod error;
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

/// Counts every API operation the clients start (retries are not counted twice), in total
/// and per service (`-v` prints both).
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    total: Arc<AtomicUsize>,
    /// Attempts sent, retries included: `attempts − total` calls were retried.
    attempts: Arc<AtomicUsize>,
    by_service: Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Per operation, named as the code names it (`ec2:DescribeVpcs`): `-vv` prints them, and
    /// they are what `rtech iam-policy` must grant.
    by_operation: Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Every call's operation, start and end (when it has ended), in start order: `-v` prints
    /// the longest chain of calls that waited on each other (`chain`).
    timings: Arc<std::sync::Mutex<Vec<Timing>>>,
}

/// One call's operation (`ec2:DescribeVpcs`) and when it started and ended.
#[derive(Debug, Clone)]
struct Timing {
    operation: String,
    start: std::time::Instant,
    end: Option<std::time::Instant>,
}

/// Which `Timing` an operation's config bag belongs to (put there when it starts).
#[derive(Debug, Clone, Copy)]
struct TimingIndex(usize);

impl aws_smithy_types::config_bag::Storable for TimingIndex {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// The longest sequence of calls each of which started after the previous one ended, as
/// (name, start, end) in seconds: the calls that waited on each other, whose number is the
/// dependent depth that round trips multiply. It is an upper bound: a call that merely started
/// after another ended counts as waiting for it. Returns their indices in order.
pub fn longest_chain(calls: &[(String, f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by(|a, b| calls[*a].1.total_cmp(&calls[*b].1));
    let mut best = vec![0usize; calls.len()];
    let mut prev: Vec<Option<usize>> = vec![None; calls.len()];
    for (k, &i) in order.iter().enumerate() {
        best[i] = 1;
        for &j in &order[..k] {
            // Of equally long chains, the one whose last call ended latest: the likeliest
            // to be what this call waited for.
            let later = prev[i].is_none_or(|p| calls[j].2 > calls[p].2);
            if calls[j].2 <= calls[i].1
                && (best[j] + 1 > best[i] || (best[j] + 1 == best[i] && later))
            {
                best[i] = best[j] + 1;
                prev[i] = Some(j);
            }
        }
    }
    let Some(mut i) = (0..calls.len()).max_by_key(|i| best[*i]) else {
        return Vec::new();
    };
    let mut chain = vec![i];
    while let Some(j) = prev[i] {
        chain.push(j);
        i = j;
    }
    chain.reverse();
    chain
}

/// Per service (the operation's prefix: `ec2`, `elbv2`, …), how many of `calls` (name, start,
/// end in seconds) it made and how long it was busy: from its first call's start to its last
/// call's end (pure).
pub fn service_spans(
    calls: &[(String, f64, f64)],
) -> std::collections::BTreeMap<String, (usize, f64)> {
    let mut by: std::collections::BTreeMap<String, (usize, f64, f64)> = Default::default();
    for (name, start, end) in calls {
        let service = name.split_once(':').map_or(name.as_str(), |(s, _)| s);
        let e = by
            .entry(service.to_string())
            .or_insert((0, f64::INFINITY, f64::NEG_INFINITY));
        e.0 += 1;
        e.1 = e.1.min(*start);
        e.2 = e.2.max(*end);
    }
    by.into_iter()
        .map(|(s, (n, a, b))| (s, (n, (b - a).max(0.0))))
        .collect()
}

impl CallCounter {
    pub fn get(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Attempts beyond each call's first: the SDK's retries (throttling, 5xx, dropped
    /// connections, timed-out attempts) so far.
    pub fn retries(&self) -> usize {
        self.attempts
            .load(Ordering::Relaxed)
            .saturating_sub(self.get())
    }

    /// Calls so far per service (`ec2`, `ecs`, …).
    pub fn by_service(&self) -> std::collections::BTreeMap<String, usize> {
        self.by_service
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Calls so far per operation (`ec2:DescribeVpcs`, `elbv2:CreateListener`, …).
    pub fn by_operation(&self) -> std::collections::BTreeMap<String, usize> {
        self.by_operation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// The longest chain of calls that waited on each other among the calls that ended (see
    /// `longest_chain`), and how long it took from its first call's start to its last's end.
    pub fn chain(&self) -> (Vec<String>, f64) {
        let timings = self.timings.lock().map(|t| t.clone()).unwrap_or_default();
        let Some(t0) = timings.first().map(|t| t.start) else {
            return (Vec::new(), 0.0);
        };
        let calls: Vec<(String, f64, f64)> = timings
            .iter()
            .filter_map(|t| {
                let end = t.end?;
                let secs = |i: std::time::Instant| i.duration_since(t0).as_secs_f64();
                Some((t.operation.clone(), secs(t.start), secs(end)))
            })
            .collect();
        let chain = longest_chain(&calls);
        let span = match (chain.first(), chain.last()) {
            (Some(a), Some(b)) => calls[*b].2 - calls[*a].1,
            _ => 0.0,
        };
        let names = chain.into_iter().map(|i| calls[i].0.clone()).collect();
        (names, span)
    }

    /// The calls that started at or after `since` and ended, per service: their number and the
    /// time from the first one's start to the last one's end (`service_spans`).
    pub fn service_times(
        &self,
        since: std::time::Instant,
    ) -> std::collections::BTreeMap<String, (usize, f64)> {
        let timings = self.timings.lock().map(|t| t.clone()).unwrap_or_default();
        let calls: Vec<(String, f64, f64)> = timings
            .iter()
            .filter(|t| t.start >= since)
            .filter_map(|t| {
                let secs = |i: std::time::Instant| i.duration_since(since).as_secs_f64();
                Some((t.operation.clone(), secs(t.start), secs(t.end?)))
            })
            .collect();
        service_spans(&calls)
    }

    /// Records a call's start; returns its index for `ended`.
    fn record(&self, service: &str, operation: &str) -> Option<usize> {
        self.total.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}:{operation}", code_prefix(service));
        let index = self.timings.lock().ok().map(|mut t| {
            t.push(Timing {
                operation: name.clone(),
                start: std::time::Instant::now(),
                end: None,
            });
            t.len() - 1
        });
        if let Ok(mut m) = self.by_operation.lock() {
            *m.entry(name).or_default() += 1;
        }
        if let Ok(mut m) = self.by_service.lock() {
            // "Elastic Load Balancing v2" → "elasticloadbalancingv2", as the SDK crates name them.
            let key: String = service
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            *m.entry(key).or_default() += 1;
        }
        index
    }

    /// Records a call's end; returns how long it took.
    fn ended(&self, index: usize) -> Option<Duration> {
        let mut t = self.timings.lock().ok()?;
        let t = t.get_mut(index)?;
        let now = std::time::Instant::now();
        t.end = Some(now);
        Some(now - t.start)
    }
}

/// `service:Operation` of the call a config bag belongs to, as the code and the IAM policy name
/// it (for diagnostics).
fn operation_name(cfg: &ConfigBag) -> String {
    cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
        .map(|m| format!("{}:{}", code_prefix(m.service()), m.name()))
        .unwrap_or_else(|| "other:Unknown".into())
}

/// Which attempt of its call a config bag is on (1 for the first).
fn attempt_number(cfg: &ConfigBag) -> u32 {
    cfg.load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
        .map(|a| a.attempts())
        .unwrap_or(1)
}

/// The code's prefix for an SDK service name as the SDK's operation metadata gives it
/// (`Elastic Load Balancing v2` → `elbv2`), so that the call counter names operations as the
/// code does.
fn code_prefix(sdk_service: &str) -> String {
    match sdk_service {
        "Elastic Load Balancing v2" => "elbv2".into(),
        "CloudWatch Logs" => "logs".into(),
        "Application Auto Scaling" => "application-autoscaling".into(),
        // The Resource Groups Tagging API: IAM's (and the code's) prefix is `tag`.
        "Resource Groups Tagging API" => "tag".into(),
        other => other
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase(),
    }
}

/// `a − b` per service, dropping services with no calls in between.
pub fn calls_since(
    now: &std::collections::BTreeMap<String, usize>,
    before: &std::collections::BTreeMap<String, usize>,
) -> Vec<(String, usize)> {
    now.iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "rtech::CallCounter"
    }
    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // After the operation's own configuration is applied (its Metadata names the service),
        // and once per operation: retries happen after serialization.
        let (service, operation) = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("other".into(), "Unknown".into()));
        if let Some(i) = self.record(&service, &operation) {
            cfg.interceptor_state().store_put(TimingIndex(i));
        }
        Ok(())
    }
    fn read_after_execution(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(TimingIndex(i)) = cfg.load::<TimingIndex>() {
            if let Some(took) = self.ended(*i) {
                tracing::trace!(
                    target: "rtech::aws",
                    "{} took {:.3} s ({} attempt(s))",
                    operation_name(cfg),
                    took.as_secs_f64(),
                    attempt_number(cfg)
                );
            }
        }
        Ok(())
    }
    fn read_before_attempt(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let n = attempt_number(cfg);
        if n > 1 {
            tracing::debug!(target: "rtech::aws", "retrying {} (attempt {n})", operation_name(cfg));
        }
        Ok(())
    }
    fn read_after_attempt(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<
            '_,
        >,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Why a retry follows: the failed attempt's HTTP status, or that no answer came.
        let status = ctx.response().map(|r| r.status().as_u16());
        if status.is_none_or(|s| s >= 400) {
            let what = match status {
                Some(s) => format!("HTTP {s}"),
                None => "no response (connection or timeout)".to_string(),
            };
            tracing::debug!(
                target: "rtech::aws",
                "{} attempt {} failed: {what}",
                operation_name(cfg),
                attempt_number(cfg)
            );
        }
        Ok(())
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
    fn the_longest_chain_follows_calls_that_started_after_another_ended() {
        let c = |n: &str, s: f64, e: f64| (n.to_string(), s, e);
        // sts, then two reads at once, one of which is followed by two more in turn.
        let calls = [
            c("sts:GetCallerIdentity", 0.0, 1.0),
            c("ec2:DescribeVpcs", 1.0, 2.0),
            c("acm:ListCertificates", 1.1, 2.1),
            c("acm:ListTagsForCertificate", 2.1, 3.1),
            c("ec2:DescribeSubnets", 1.2, 2.2),
            c("acm:DescribeCertificate", 3.2, 4.0),
        ];
        let names: Vec<&str> = longest_chain(&calls)
            .into_iter()
            .map(|i| calls[i].0.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "sts:GetCallerIdentity",
                "acm:ListCertificates",
                "acm:ListTagsForCertificate",
                "acm:DescribeCertificate"
            ]
        );
        assert!(longest_chain(&[]).is_empty());
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
    fn each_service_is_busy_from_its_first_call_to_its_last() {
        let calls = [
            ("ec2:DescribeVpcs".to_string(), 0.0, 0.1),
            ("ec2:DescribeSubnets".to_string(), 0.05, 0.3),
            ("elbv2:DescribeRules".to_string(), 0.4, 0.45),
        ];
        let spans = service_spans(&calls);
        assert_eq!(spans.len(), 2);
        let (n, secs) = spans["ec2"];
        assert_eq!(n, 2);
        assert!((secs - 0.3).abs() < 1e-9, "{secs}");
        let (n, secs) = spans["elbv2"];
        assert_eq!(n, 1);
        assert!((secs - 0.05).abs() < 1e-9, "{secs}");
        assert!(service_spans(&[]).is_empty());
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
