//! The call counter: every API operation the clients start, per service, with its timings
//! (the chain of calls that waited on each other and each service's span, for `-v`), as an
//! SDK interceptor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_types::config_bag::ConfigBag;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
