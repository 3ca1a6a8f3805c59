//! Helpers shared by this crate's tests.
#![allow(dead_code)]

use std::time::Duration;

use sesame_memcached::MemcachedConfig;

/// The shared test server's URL, or `None` (skipped).
pub fn url() -> Option<String> {
    sesame::testing::service_url("SESAME_TEST_MEMCACHED_URL")
}

/// A config on `url` with a prefix of its own.
pub fn config(url: &str) -> MemcachedConfig {
    MemcachedConfig::from_url(url)
        .unwrap()
        .with_prefix(format!("sesame-test-{}:", sesame::testing::unique_suffix()))
        .unwrap()
}

/// A memcached process of the test's own, on a free loopback port.
pub struct OwnMemcached {
    pub port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnMemcached {
    /// Starts one (the binary is `memcached`, or `SESAME_MEMCACHED_BIN`).
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut own = Self { port, child: None };
        own.restart().await;
        own
    }

    /// Starts it (again) on the same port and waits until it answers.
    pub async fn restart(&mut self) {
        let bin = std::env::var("SESAME_MEMCACHED_BIN").unwrap_or_else(|_| "memcached".into());
        let mut cmd = tokio::process::Command::new(bin);
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "0",
            "-m",
            "64",
        ]);
        if nix_is_root() {
            cmd.args(["-u", "root"]);
        }
        cmd.kill_on_drop(true);
        self.child = Some(
            cmd.spawn()
                .expect("memcached binary (install memcached or set SESAME_MEMCACHED_BIN)"),
        );
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("memcached on port {} did not start", self.port);
    }

    /// Kills it and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("memcache://127.0.0.1:{}", self.port)
    }
}

fn nix_is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
}
