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
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// One HTTP request on loopback; returns the status code.
pub fn http(url: &str, method: &str, path: &str) -> Option<u16> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
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

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
