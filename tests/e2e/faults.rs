//! The SDK's retries and timeouts as rtech configures them, against a local endpoint that
//! answers every request with 503 (counting them) or accepts connections and never answers.
//! No emulator: what is tested is the client side.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::emulator::root;

/// A local endpoint: its URL and how many sts:GetCallerIdentity requests reached it (a plan of
/// an env without an account pin sends its first round of reads beside that call, and those
/// fail the same way).
fn endpoint(answer: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                // Headers and body may come in separate reads: read until the query's action
                // (every service here speaks JSON or the query protocol) or the read ends.
                let mut seen = Vec::new();
                let mut buf = [0u8; 65536];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(7).any(|w| w == b"Action=") || seen.len() > 1 << 20 {
                        break;
                    }
                }
                if seen.is_empty() {
                    return;
                }
                if String::from_utf8_lossy(&seen).contains("Action=GetCallerIdentity") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                if answer {
                    let body = "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try again later</Message></Error><RequestId>req-1</RequestId></ErrorResponse>";
                    let _ = write!(
                        s,
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                } else {
                    // A hung connection: accepted, read, never answered.
                    std::thread::sleep(Duration::from_secs(120));
                }
            });
        }
    });
    (url, seen)
}

fn rtech(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("rtech"));
    c.current_dir(root())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .env_remove("AWS_PROFILE")
        .args(["--endpoint-url", url]);
    c
}

#[test]
fn a_5xx_is_retried_max_attempts_times_then_named_with_its_call_and_code() {
    let (url, seen) = endpoint(true);
    let out = rtech(&url)
        .args(["--max-attempts", "4", "plan", "--env", "dev"])
        .output()
        .expect("run rtech");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Four, not the SDK's default of three: the flag reaches every client.
    assert_eq!(seen.load(Ordering::SeqCst), 4, "four attempts: {stderr}");
    assert!(stderr.contains("sts:GetCallerIdentity"), "{stderr}");
    assert!(stderr.contains("ServiceUnavailable"), "{stderr}");

    // AWS_MAX_ATTEMPTS is honoured the same way.
    let (url, seen) = endpoint(true);
    let out = rtech(&url)
        .env("AWS_MAX_ATTEMPTS", "2")
        .args(["plan", "--env", "dev"])
        .output()
        .expect("run rtech");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[test]
fn a_hung_connection_costs_the_attempt_timeout_not_the_whole_run() {
    let (url, seen) = endpoint(false);
    let t = Instant::now();
    let out = rtech(&url)
        .args([
            "--max-attempts",
            "2",
            "--attempt-timeout",
            "1",
            "plan",
            "--env",
            "dev",
        ])
        .output()
        .expect("run rtech");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "gave up after {:?}: {stderr}",
        t.elapsed()
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "each attempt timed out: {stderr}"
    );
    assert!(stderr.contains("sts:GetCallerIdentity"), "{stderr}");
}
