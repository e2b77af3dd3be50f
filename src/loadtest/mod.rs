//! `rtech loadtest`'s engine: virtual users on fixed schedules ([`scenario`]) sending GET
//! requests through hyper's pooled client (plain HTTP, or HTTPS over the rustls stack the AWS
//! SDK already uses), each latency measured from when the request was due and recorded in
//! HDR histograms ([`report`]).

pub mod report;
pub mod scenario;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::http::uri::Uri;
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use report::{Outcome, Recorder};
use scenario::{Scenario, UserPlan};

#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    #[error("{url:?} is not an http:// or https:// URL with a host: {why}")]
    BadUrl { url: String, why: String },
    #[error("cannot set up TLS for {url}: {why}")]
    Tls { url: String, why: String },
}

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The base URL, checked: scheme http or https, a host, no query; a trailing `/` dropped.
pub fn base_url(url: &str) -> Result<String, LoadtestError> {
    let bad = |why: &str| LoadtestError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let uri: Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("no query string (list paths in [loadtest] paths)"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The pooled client. HTTPS verifies against the system's root certificates (the SDK's
/// rustls stack and crypto provider); a plain http:// URL works without any.
pub fn client(url: &str, users: u32) -> Result<HttpClient, LoadtestError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(b) => b,
        Err(e) if url.starts_with("https://") => {
            return Err(LoadtestError::Tls {
                url: url.to_string(),
                why: e.to_string(),
            })
        }
        // Plain HTTP needs no roots.
        Err(_) => {
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| LoadtestError::Tls {
                    url: url.to_string(),
                    why: e.to_string(),
                })?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls)
        }
    };
    let https = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(users.max(1) as usize)
        .build(https))
}

/// What the users share while the run goes on: the recorder and how many are active.
#[derive(Default)]
pub struct Shared {
    pub recorder: Mutex<Recorder>,
    pub active: AtomicU32,
}

impl Shared {
    fn record(&self, path: &str, outcome: Outcome, latency: Duration, message: Option<String>) {
        self.recorder
            .lock()
            .expect("recorder lock")
            .record(path, outcome, latency, message);
    }
}

/// One run: where, what, how.
pub struct Run {
    /// The base URL (from [`base_url`]).
    pub base: String,
    pub paths: Vec<String>,
    pub scenario: Scenario,
    pub think: Duration,
    pub timeout: Duration,
}

impl Run {
    /// Every user's requests, to the end of the scenario from `start`. Returns when the last
    /// request is answered or timed out.
    pub async fn go(&self, client: &HttpClient, shared: &Arc<Shared>, start: Instant) {
        let targets: Arc<Vec<(String, Uri)>> = Arc::new(
            self.paths
                .iter()
                .map(|p| {
                    let uri = format!("{}{p}", self.base)
                        .parse()
                        .expect("a checked base and path form a URI");
                    (p.clone(), uri)
                })
                .collect(),
        );
        let end = start + self.scenario.duration();
        let mut users = tokio::task::JoinSet::new();
        for plan in self.scenario.schedules(self.think) {
            users.spawn(user(
                client.clone(),
                targets.clone(),
                plan,
                (self.think, self.timeout),
                (start, end),
                shared.clone(),
            ));
        }
        while users.join_next().await.is_some() {}
    }
}

/// One virtual user: request `n` goes to path `(user + n) % paths` when it is due (at once
/// when already late), and its latency counts from the due time.
async fn user(
    client: HttpClient,
    targets: Arc<Vec<(String, Uri)>>,
    plan: UserPlan,
    (think, timeout): (Duration, Duration),
    (start, end): (Instant, Instant),
    shared: Arc<Shared>,
) {
    let mut joined = false;
    for n in 0u32.. {
        let due = start + plan.due(n, think);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        if !joined {
            shared.active.fetch_add(1, Ordering::Relaxed);
            joined = true;
        }
        let (path, uri) = &targets[(plan.user as usize + n as usize) % targets.len()];
        let (outcome, message) = send(&client, uri, due + timeout).await;
        let message = message.or_else(|| {
            (outcome == Outcome::Timeout)
                .then(|| format!("no response within {} ms", timeout.as_millis()))
        });
        shared.record(path, outcome, due.elapsed(), message);
    }
    if joined {
        shared.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One GET, its body read to the end (so the connection is reused), before `deadline`.
async fn send(client: &HttpClient, uri: &Uri, deadline: Instant) -> (Outcome, Option<String>) {
    let req = Request::get(uri.clone())
        .header(hyper::header::USER_AGENT, "rtech-loadtest")
        .body(Empty::<Bytes>::new())
        .expect("a GET with a valid URI");
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            msg
        })?;
        let status = resp.status().as_u16();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response: {e}"))?;
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Ok(Ok(status)) => (Outcome::Status(status), None),
        Ok(Err(msg)) => (Outcome::Failed, Some(msg)),
        Err(_) => (Outcome::Timeout, None),
    }
}

/// Let the process open a connection per virtual user: raise the soft limit on open files to
/// the hard limit (1,024 is a common soft default; the stress scenario keeps 1,000 open).
pub fn raise_open_files_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_http_or_https_with_a_host() {
        assert_eq!(
            base_url("https://rtech.example.com/").unwrap(),
            "https://rtech.example.com"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in ["ftp://x", "rtech.example.com", "http://x/?a=1", ""] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }
}
