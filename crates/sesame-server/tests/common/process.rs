//! `sesame serve` as a child process: the real binary on a TOML config, so a
//! test can SIGKILL it, watch it exit, or read its log. It listens on
//! 127.0.0.1:0 (the banner's first line gives the address) and logs JSON to
//! a file, never to the test's terminal.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN_KEY, SESSIONS_KEY, VALIDATE_KEY};

/// A config file body: `store`, `data_dir`, the three test API keys, a fresh
/// cookie key, JSON logs at `info`, then `extra` (more TOML tables).
pub fn config_toml(store: &str, data_dir: &Path, extra: &str) -> String {
    let cookie = sesame_server::cookies::generate_key().unwrap().to_string();
    let key = |name: &str, key: &str, scopes: &str| {
        format!(
            "[[api_keys]]\nname = \"{name}\"\nhash = \"{}\"\nscopes = [{scopes}]\n",
            sesame_server::auth::hash_line(key)
        )
    };
    format!(
        "store = \"{store}\"\ndata_dir = \"{data}\"\n[log]\nformat = \"json\"\nlevel = \"info\"\n[cookie]\nkeys = [\"{cookie}\"]\n[policy]\nrenewal_interval = 0\nmax_sessions_per_user = 0\n{extra}\n{}{}{}",
        key("app", VALIDATE_KEY, "\"validate\""),
        key("backend", SESSIONS_KEY, "\"sessions\", \"validate\""),
        key("ops", ADMIN_KEY, "\"admin\""),
        data = data_dir.display(),
    )
}

/// `<dir>/sesame.toml` for the store at `store` with its data folder
/// `<dir>/data` (see [`config_toml`]); returns its path.
pub fn config_in(dir: &Path, store: &str, extra: &str) -> PathBuf {
    write_config(dir, &config_toml(store, &dir.join("data"), extra))
}

/// The store URL of the SQLite file `db`.
pub fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

/// Writes `toml` to `<dir>/sesame.toml`; returns its path.
pub fn write_config(dir: &Path, toml: &str) -> PathBuf {
    let path = dir.join("sesame.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// The `sesame` binary with no `SESAME_*` variable from the outside.
pub fn sesame() -> Command {
    without_sesame_env(Command::new(env!("CARGO_BIN_EXE_sesame")))
}

/// `command` with no `SESAME_*` variable (nor `RUST_LOG`) from the outside.
fn without_sesame_env(mut c: Command) -> Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("SESAME_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

/// A running `sesame serve`; killed when dropped.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its stderr (the JSON log).
    pub log: PathBuf,
}

impl Serve {
    /// Starts `sesame serve --config <config>`, logging to `<config dir>/<log_name>`,
    /// and waits for its banner.
    pub fn start(config: &Path, log_name: &str) -> Serve {
        Self::start_command(sesame(), config, log_name)
    }

    /// [`Serve::start`] through a wrapper command that runs its last
    /// argument (e.g. `["prlimit", "--nofile=256:512", "--"]`).
    pub fn start_via(wrapper: &[&str], config: &Path, log_name: &str) -> Serve {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(env!("CARGO_BIN_EXE_sesame"));
        Self::start_command(without_sesame_env(command), config, log_name)
    }

    fn start_command(mut command: Command, config: &Path, log_name: &str) -> Serve {
        let log = config.parent().unwrap().join(log_name);
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sesame runs");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let base = first
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        if !base.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sesame serve did not start: {first:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        // Keep reading the banner so that the child never blocks on stdout.
        std::thread::spawn(move || for _ in out.lines() {});
        Serve { child, base, log }
    }

    /// A client for it (every answer checked against the OpenAPI document).
    pub fn client(&self) -> super::TestServer {
        super::TestServer::at(self.base.clone())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (at most 15 s) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sesame serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the process runs and has not panicked.
    pub fn assert_healthy(&mut self) {
        assert!(self.alive(), "sesame serve died:\n{}", self.log_text());
        let log = self.log_text();
        assert!(!log.contains("panicked"), "sesame serve panicked:\n{log}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sesame serve` on `config` expecting it to refuse to start; returns
/// its output once it exits (failing the test if it is still up after 15 s).
pub fn serve_expecting_exit(config: &Path) -> Output {
    let mut child = sesame()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sesame runs");
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "sesame serve is still up: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
