//! Waiting, the one way: [`until`] polls a resource's state from `pending` to `target` with
//! backoff and a timeout (terraform-provider-aws's `StateChangeConf`); [`with_ticker`] runs an
//! SDK waiter (use one wherever the SDK has it) beside a progress line; [`retry_while`]
//! (by error kind or code) and [`retry_if`] (by any test of the error) retry a call while AWS
//! says the resource is not ready for it (DependencyViolation while ENIs drain, a new IAM role
//! not yet assumable, a certificate still attached…). Each gives up after its timeout with an error naming what it waited for.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{AwsError, ErrorKind};
use crate::progress::Task;

/// The first poll's delay; each next one doubles, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// What to wait for.
pub struct Poll<'a> {
    /// The call that reads the state (`elbv2:DescribeLoadBalancers`), for errors.
    pub op: &'a str,
    /// What is waited for, in words (`load balancer x to become active`).
    pub what: &'a str,
    /// States that mean "not yet": anything else outside `target` is an error at once.
    pub pending: &'a [&'a str],
    pub target: &'a [&'a str],
    pub timeout: Duration,
}

/// Poll `refresh` (which returns the state and what was read) until the state is in
/// `target`; return what the last read returned. Between polls the change's slot is free for
/// others (`crate::slots::idle`).
pub async fn until<T, F, Fut>(poll: Poll<'_>, task: &Task, mut refresh: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(String, T), AwsError>>,
{
    let start = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut last = String::new();
    let mut reads = 0;
    loop {
        let (state, value) = refresh().await?;
        reads += 1;
        if poll.target.contains(&state.as_str()) {
            tracing::debug!(
                "waited {:.1} s for {} ({state}; {reads} reads)",
                start.elapsed().as_secs_f64(),
                poll.what
            );
            return Ok(value);
        }
        if !poll.pending.contains(&state.as_str()) {
            return Err(AwsError::new(
                poll.op,
                "UnexpectedState",
                format!(
                    "waiting for {}: it is {state}, expected one of {}",
                    poll.what,
                    poll.target.join(", ")
                ),
            ));
        }
        if start.elapsed() + delay > poll.timeout {
            return Err(AwsError::new(
                poll.op,
                "WaitTimeout",
                format!(
                    "waiting for {}: still {state} after {} s",
                    poll.what,
                    start.elapsed().as_secs()
                ),
            ));
        }
        if state != last {
            task.status(&format!("waiting for {} (now {state})", poll.what));
            last = state;
        }
        crate::slots::idle(tokio::time::sleep(delay)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// How often [`with_ticker`] says it is still waiting.
pub const TICK: Duration = Duration::from_secs(30);

/// Run `fut` (an SDK waiter, usually) while the progress line says what is waited for and,
/// every [`TICK`], for how long.
/// The change's slot is free for others meanwhile (the waiter's polls are a few reads a minute).
pub async fn with_ticker<T>(task: &Task, what: &str, fut: impl Future<Output = T>) -> T {
    let start = Instant::now();
    task.status(&format!("waiting for {what}"));
    let mut fut = std::pin::pin!(fut);
    let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
    crate::slots::idle(async {
        loop {
            tokio::select! {
                out = &mut fut => {
                    tracing::debug!("waited {:.1} s for {what}", start.elapsed().as_secs_f64());
                    return out;
                }
                _ = tick.tick() => task.status(&format!(
                    "waiting for {what} ({} s so far)",
                    start.elapsed().as_secs()
                )),
            }
        }
    })
    .await
}

/// Retry `f` while it fails with an error of one of `kinds` or one of `codes` (the resource is
/// not ready for the call yet): [`retry_if`] with that test and no progress line.
pub async fn retry_while<T, F, Fut>(
    kinds: &[ErrorKind],
    codes: &[&str],
    timeout: Duration,
    f: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let retryable = |e: &AwsError| kinds.contains(&e.kind()) || codes.contains(&e.code.as_str());
    retry_if(retryable, timeout, |_, _| {}, f).await
}

/// Retry `f` while its error satisfies `retryable` (a resource state AWS reports in a way
/// kinds and codes cannot tell apart, such as a generic code whose message names the cause),
/// backing off from [`FIRST_DELAY`] to [`MAX_DELAY`], until `timeout`; `on_retry` hears each
/// error retried and the delay before the next try (for the progress line). When time is up,
/// the last error, saying how long rtech retried.
pub async fn retry_if<T, F, Fut>(
    retryable: impl Fn(&AwsError) -> bool,
    timeout: Duration,
    on_retry: impl Fn(&AwsError, Duration),
    mut f: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        match f().await {
            Err(e) if retryable(&e) => {
                if start.elapsed() + delay >= timeout {
                    let msg = format!(
                        "{} (retried for {} s)",
                        e.message,
                        start.elapsed().as_secs()
                    );
                    return Err(e.with_message(msg));
                }
                on_retry(&e, delay);
                crate::slots::idle(tokio::time::sleep(delay)).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;

    fn task() -> Task {
        Progress::new(true, false).start("x/y", "waiting")
    }

    #[tokio::test(start_paused = true)]
    async fn until_returns_at_the_target_and_fails_on_an_unexpected_state() {
        let (_guard, seen) = crate::diag::capture(1);
        let mut states = vec!["creating", "creating", "available"].into_iter();
        let v = until(
            Poll {
                op: "svc:Describe",
                what: "x",
                pending: &["creating"],
                target: &["available"],
                timeout: Duration::from_secs(60),
            },
            &task(),
            || {
                let s = states.next().unwrap().to_string();
                async move { Ok((s, 7)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 7);
        // -v says how long the wait took: two pauses of 1 s and 2 s.
        let seen = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
        assert_eq!(seen, "waited 3.0 s for x (available; 3 reads)\n");

        let e = stuck_in("failed", Duration::from_secs(60)).await;
        assert_eq!(e.code, "UnexpectedState");
        assert!(e.message.contains("it is failed"), "{e}");
    }

    /// `until` waiting for "available" on a resource that always reports `state`.
    async fn stuck_in(state: &'static str, timeout: Duration) -> AwsError {
        until(
            Poll {
                op: "svc:Describe",
                what: "x to become available",
                pending: &["creating"],
                target: &["available"],
                timeout,
            },
            &task(),
            || async { Ok((state.to_string(), ())) },
        )
        .await
        .unwrap_err()
    }

    #[tokio::test(start_paused = true)]
    async fn until_times_out_naming_the_state() {
        let e = stuck_in("creating", Duration::from_secs(20)).await;
        assert_eq!(e.code, "WaitTimeout");
        assert!(e.message.contains("still creating"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_while_retries_listed_kinds_only_and_gives_up_at_the_timeout() {
        let mut n = 0;
        let r: Result<(), AwsError> =
            retry_while(&[ErrorKind::InUse], &[], Duration::from_secs(60), || {
                n += 1;
                let k = n;
                async move {
                    if k < 3 {
                        Err(AwsError::new(
                            "ec2:DeleteSubnet",
                            "DependencyViolation",
                            "busy",
                        ))
                    } else {
                        Err(AwsError::new("ec2:DeleteSubnet", "Other", "no"))
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap_err().code, "Other");
        assert_eq!(n, 3);

        let r: Result<(), AwsError> =
            retry_while(&[], &["Busy"], Duration::from_secs(10), || async {
                Err(AwsError::new("x:Y", "Busy", "still"))
            })
            .await;
        let e = r.unwrap_err();
        assert!(e.message.contains("retried for"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_if_reports_each_retry_and_says_how_long_it_retried() {
        let heard = std::sync::Mutex::new(vec![]);
        let start = Instant::now();
        let r: Result<(), AwsError> = retry_if(
            |e| e.message.contains("not yet"),
            Duration::from_secs(20),
            |e, d| heard.lock().unwrap().push((e.code.clone(), d.as_secs())),
            || async { Err(AwsError::new("x:Y", "Generic", "not yet")) },
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.code, "Generic");
        assert!(e.message.contains("(retried for 15 s)"), "{e}");
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        let heard = heard.into_inner().unwrap();
        let delays: Vec<u64> = heard.iter().map(|(_, d)| *d).collect();
        assert_eq!(delays, vec![1, 2, 4, 8]);
        assert!(heard.iter().all(|(c, _)| c == "Generic"));

        let r: Result<u8, AwsError> = retry_if(
            |_| true,
            Duration::from_secs(20),
            |_, _| panic!("nothing to retry"),
            || async { Ok(4) },
        )
        .await;
        assert_eq!(r.unwrap(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn with_ticker_returns_the_futures_output() {
        let v = with_ticker(&task(), "x", async {
            tokio::time::sleep(Duration::from_secs(65)).await;
            5
        })
        .await;
        assert_eq!(v, 5);
    }
}
