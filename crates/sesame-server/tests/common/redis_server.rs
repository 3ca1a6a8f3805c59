//! A private `redis-server` on a port of the test's choosing, so that a test
//! can kill it and start it again without touching the shared Redis.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when `redis-server` can run; otherwise [`super::missing`] (a failure
/// under `SESAME_REQUIRE_SERVICES=1`).
pub fn available() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        super::missing("the redis-server binary");
    }
    ok
}

/// A running `redis-server`; killed when dropped.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working folder (AOF files, when persistence is on).
    pub dir: PathBuf,
    args: Vec<String>,
}

impl RedisServer {
    /// A server without persistence.
    pub fn ephemeral(port: u16, dir: &Path) -> Self {
        Self::start(port, dir, &["--save", "", "--appendonly", "no"])
    }

    /// A server that keeps every acknowledged write across a SIGKILL: an
    /// append-only file fsynced before each reply (`appendfsync always`).
    pub fn durable(port: u16, dir: &Path) -> Self {
        Self::start(
            port,
            dir,
            &[
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        )
    }

    fn start(port: u16, dir: &Path, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let child = spawn(port, dir, &args);
        let server = Self {
            child,
            port,
            dir: dir.to_owned(),
            args,
        };
        server.wait_ready();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts it again on the same port, folder and settings (after
    /// [`Self::kill9`]); returns once it answers PING (its data loaded).
    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.dir, &self.args);
        self.wait_ready();
    }

    /// Waits (at most 10 s) until the server answers `PING` with `PONG`
    /// (not `LOADING`).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pong(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(port: u16, dir: &Path, args: &[String]) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn redis-server")
}

fn pong(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}
