//! A private moto server per test: started on a free port, waited for, killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Emulator {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    site_zone: std::sync::Once,
    lock_buckets: std::sync::Once,
}

/// The hosted zone the repo's staging and prod specs expect to exist (`hosted_zone =
/// "existing"`): the platform team's zone for the site, made once per emulator.
pub const SITE_ZONE: &str = "rtech.example.com";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A free port no other emulator of this test process was given. The OS may hand a port just
/// released to the next `bind(0)`: two tests starting at once could then both pick it, the
/// second moto fail to bind, and its test talk to the first one's emulator.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind a free port")
            .local_addr()
            .expect("local addr")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// One HTTP request on loopback; returns the status code.
pub fn http(url: &str, method: &str, path: &str) -> Option<u16> {
    request(url, method, path, "")
}

/// One HTTP request with a body on loopback; returns the status code.
pub fn request(url: &str, method: &str, path: &str, body: &str) -> Option<u16> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(5)).ok()?;
    // moto loads a service's backend on its first request (seconds on a loaded machine), and
    // `/moto-api/reset` of a whole prod stack was measured at 23 s with the machine loaded.
    s.set_read_timeout(Some(Duration::from_secs(180))).ok()?;
    // moto routes a request by the service named in its signature (S3 without one).
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0";
    let auth = if path.starts_with("/2013-04-01/") {
        format!("Authorization: {auth}\r\n")
    } else {
        String::new()
    };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// An emulator whose moto process gets these extra environment variables (e.g.
    /// `MOTO_ACM_VALIDATION_WAIT` to keep certificates pending).
    pub fn start_with(env: &[(&str, &str)]) -> Emulator {
        let python = root().join(".venv/bin/python");
        let launcher = root().join("scripts/moto_server.py");
        assert!(
            python.exists(),
            "the local AWS emulator is not installed ({} is missing): run scripts/install-emulator.sh (scripts/test.sh runs it for you)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("moto.log");
        let port = free_port();
        let child = Command::new(&python)
            .arg(&launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::fs::File::create(dir.path().join("moto.err")).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the emulator ({}): {e}; run scripts/install-emulator.sh",
                    python.display()
                )
            });
        let mut emu = Emulator {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
            site_zone: std::sync::Once::new(),
            lock_buckets: std::sync::Once::new(),
        };
        // Poll until it answers (bounded), failing loudly if it died.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http(&emu.url, "GET", "/moto-api/") == Some(200) {
                return emu;
            }
            if let Ok(Some(status)) = emu.child.try_wait() {
                let err =
                    std::fs::read_to_string(emu.log.with_file_name("moto.err")).unwrap_or_default();
                panic!("the emulator exited ({status}) before answering: {err}\nrun scripts/install-emulator.sh");
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not answer on {} within 60 s",
                emu.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Emulator {
    /// Create [`SITE_ZONE`] (once), as the account that runs the repo's envs has it: through
    /// Route 53's REST API directly, so that synchronous helpers can call it.
    pub fn ensure_site_zone(&self) {
        self.site_zone.call_once(|| {
            let body = format!(
                "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Name>{SITE_ZONE}</Name><CallerReference>e2e-site-zone</CallerReference></CreateHostedZoneRequest>"
            );
            let status = request(&self.url, "POST", "/2013-04-01/hostedzone", &body);
            assert_eq!(
                status,
                Some(201),
                "creating the hosted zone {SITE_ZONE} in the emulator"
            );
        });
    }
}

/// The regions the e2e specs of project `rtech` use: each has its lock bucket.
pub const LOCK_REGIONS: &[&str] = &["us-east-1", "eu-west-1"];

/// rtech's default lock bucket of project `rtech` in the emulator's account.
pub fn lock_bucket(region: &str) -> String {
    format!("rtech-rtech-{ACCOUNT}-{region}")
}

/// The emulator's account (moto's default).
pub const ACCOUNT: &str = "123456789012";

impl Emulator {
    /// Create the lock buckets of project `rtech` (once), as `rtech bootstrap` would have: an
    /// apply refuses without its env's lock bucket. Plain buckets through S3's REST API (two
    /// requests, no rtech run), so that every apply test keeps its speed; the lock tests use
    /// their own project and bootstrap it with rtech.
    pub fn ensure_lock_buckets(&self) {
        self.lock_buckets.call_once(|| self.create_lock_buckets());
    }

    /// Create the lock buckets of project `rtech` (again, after a reset of the emulator).
    pub fn create_lock_buckets(&self) {
        {
            for region in LOCK_REGIONS {
                let body = if *region == "us-east-1" {
                    String::new()
                } else {
                    format!("<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>")
                };
                let status = request(
                    &self.url,
                    "PUT",
                    &format!("/{}", lock_bucket(region)),
                    &body,
                );
                assert_eq!(
                    status,
                    Some(200),
                    "creating the lock bucket {} in the emulator",
                    lock_bucket(region)
                );
            }
        }
    }

    /// How many requests the emulator has answered so far (its request log).
    pub fn requests(&self) -> usize {
        [self.log.clone(), self.log.with_file_name("moto.err")]
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(" HTTP/1.1"))
                    .count()
            })
            .sum()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
