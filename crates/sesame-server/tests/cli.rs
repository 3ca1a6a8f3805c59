//! The `sesame` binary as a user runs it: help, key generation, config
//! errors (exit code 2 naming the setting), the first start out of the box,
//! the store commands, and token guessing (429, one warn line).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sesame");

/// A command in `dir` with no SESAME_* variables from the outside.
fn sesame(dir: &Path) -> Command {
    in_dir(Command::new(BIN), dir)
}

/// `c` run in `dir`, with no `SESAME_*` variable (nor `RUST_LOG`) from the outside.
fn in_dir(mut c: Command, dir: &Path) -> Command {
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SESAME_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("sesame runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["keygen"],
        &["apikey"],
        &["migrate"],
        &["inspect"],
        &["cookie"],
        &["cookie", "inspect"],
        &["sessions"],
        &["sessions", "list"],
        &["sessions", "revoke"],
        &["cleanup"],
    ];
    for args in commands {
        let o = run(sesame(dir.path()).args(*args).arg("--help"));
        assert!(o.status.success(), "{args:?} --help: {}", stderr(&o));
        assert!(stdout(&o).contains("Usage: sesame"), "{args:?}");
    }
    // A usage error exits 2.
    let o = run(sesame(dir.path()).arg("frobnicate"));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn keygen_and_apikey() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(sesame(dir.path()).arg("keygen"));
    assert!(o.status.success());
    let key = stdout(&o).trim().to_owned();
    assert_eq!(key.len(), 44);
    assert!(sesame::cookie::FernetKey::parse(&key).is_ok());
    let o =
        run(sesame(dir.path()).args(["apikey", "--name", "web", "--scopes", "validate,sessions"]));
    assert!(o.status.success());
    let api_key = stdout(&o).trim().to_owned();
    let err = stderr(&o);
    assert!(
        err.contains(&sesame_server::auth::hash_line(&api_key)),
        "{err}"
    );
    assert!(
        err.contains("scopes = [\"validate\", \"sessions\"]"),
        "{err}"
    );
    let o = run(sesame(dir.path()).args(["keygen", "--api-key"]));
    assert!(o.status.success() && stdout(&o).starts_with("sk_"));
    let o = run(sesame(dir.path()).args(["apikey", "--scopes", "root"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--scopes"));
}

#[test]
fn invalid_config_exits_2_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(sesame(dir.path())
        .arg("serve")
        .env("SESAME_LISTEN", "nowhere"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("listen"), "{}", stderr(&o));
    let o = run(sesame(dir.path()).args(["serve", "--store", "ftp://x"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("store"), "{}", stderr(&o));
    std::fs::write(
        dir.path().join("sesame.toml"),
        "[policy]\nidle_timeout = \"forever\"\n",
    )
    .unwrap();
    let o = run(sesame(dir.path()).arg("serve"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("policy.idle_timeout"), "{}", stderr(&o));
    std::fs::remove_file(dir.path().join("sesame.toml")).unwrap();
    let o = run(sesame(dir.path())
        .arg("cleanup")
        .env("SESAME_POLICY_ON_DEVICE_MISMATCH", "panic"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("policy.on_device_mismatch"),
        "{}",
        stderr(&o)
    );
    let o = run(sesame(dir.path()).args(["serve", "--config", "missing.toml"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    let o = run(sesame(dir.path())
        .arg("serve")
        .env("SESAME_COOKIE_KEYS", "not-a-key"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cookie.keys[0]"), "{}", stderr(&o));
}

struct Serving {
    child: Child,
    base: String,
    lines: Vec<String>,
}

impl Serving {
    /// The admin API key a first start printed in its banner.
    fn admin_key(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with("sk_"))
            .expect("the admin key is printed")
            .to_owned()
    }
}

/// Starts `sesame serve` and reads its banner up to the API description line.
fn serve(dir: &Path, extra: &[&str]) -> Serving {
    serve_logging(dir, extra, Stdio::null())
}

/// Spawns `command` with its stdout piped and reads the first line of the
/// banner (`sesame listening on http://...`).
fn spawn_with_banner(
    command: &mut Command,
    stderr: Stdio,
) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("sesame listening"), "{first:?}");
    (child, reader, first.trim_end().to_owned())
}

fn serve_logging(dir: &Path, extra: &[&str], stderr: Stdio) -> Serving {
    let (child, mut reader, first) = spawn_with_banner(
        sesame(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra),
        stderr,
    );
    let mut lines = vec![first];
    while !lines.last().unwrap().contains("API description") {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "banner ended: {lines:?}"
        );
        lines.push(line.trim_end().to_owned());
    }
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{lines:?}");
    Serving { child, base, lines }
}

fn terminate(mut s: Serving) {
    let status = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            assert!(code.success(), "exit {code:?}");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn http(method: &str, url: &str, key: &str, body: Option<&str>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client
            .request(method.parse().unwrap(), url)
            .bearer_auth(key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

/// Token guessing against the binary: `[guard]` from the config file, 429
/// with Retry-After past the threshold, and exactly one warn line naming the
/// caller (API key and end-user address) and never a token.
#[test]
fn guessing_is_blocked_and_logged_once_without_the_tokens() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sesame.toml"),
        "[guard]\nmax_invalid = 3\nwindow = \"1m\"\nblock = \"7s\"\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("log.jsonl")).unwrap();
    let s = serve_logging(dir.path(), &["--log-format", "json"], Stdio::from(log));
    let key = s.admin_key();
    let tokens: Vec<String> = (0..6)
        .map(|_| {
            sesame::SessionToken::generate()
                .unwrap()
                .expose()
                .to_owned()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answers: Vec<(u16, Option<String>)> = rt.block_on(async {
        let c = reqwest::Client::new();
        let mut answers = Vec::new();
        for t in &tokens {
            let r = c
                .post(format!("{}/v1/session/validate", s.base))
                .bearer_auth(&key)
                .header("sesame-token", t)
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            answers.push((r.status().as_u16(), retry));
        }
        answers
    });
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
    assert_eq!(answers[4].1.as_deref(), Some("7"));
    terminate(s);
    let text = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
    let warnings: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    // No end-user address was sent: the caller is the API key alone.
    assert_eq!(
        warnings[0]["fields"]["api_key"], "first-start-admin",
        "{text}"
    );
    assert_eq!(warnings[0]["fields"]["client"], "-", "{text}");
    assert_eq!(warnings[0]["fields"]["invalid"], 4, "{text}");
    for t in &tokens {
        assert!(!text.contains(t.as_str()));
    }
}

/// Issue 16 item 7: the data folder is 0700 and the database (with its WAL
/// files) and key files 0600, whatever the umask (0022 here, as usual).
#[cfg(unix)]
#[test]
fn the_data_dir_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A umask that would leave everything readable by others.
    let (mut child, out, _) = spawn_with_banner(
        in_dir(Command::new("sh"), dir.path())
            .arg("-c")
            .arg(format!(
                "umask 022 && exec {BIN} serve --listen 127.0.0.1:0 --data-dir ./data/nested"
            )),
        Stdio::null(),
    );
    std::thread::spawn(move || for _ in out.lines() {});
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("data"), 0o700);
    assert_eq!(mode("data/nested"), 0o700);
    for file in [
        "sesame.db",
        "sesame.db-wal",
        "sesame.db-shm",
        "cookie.key",
        "admin-key.sha256",
    ] {
        assert_eq!(mode(&format!("data/nested/{file}")), 0o600, "{file}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn first_start_out_of_the_box_is_safe_and_says_how_to_call_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let text = s.lines.join("\n");
    assert!(text.contains("first start"), "{text}");
    assert!(text.contains("curl"), "{text}");
    let key = s.admin_key();
    assert!(dir.path().join("data").join("admin-key.sha256").exists());
    assert!(dir.path().join("data").join("cookie.key").exists());
    let hash = std::fs::read_to_string(dir.path().join("data/admin-key.sha256")).unwrap();
    assert!(!hash.contains(&key));
    // The key works; a missing key is refused.
    let (st, body) = http(
        "POST",
        &format!("{}/v1/sessions", s.base),
        &key,
        Some(r#"{"user":"alice"}"#),
    );
    assert_eq!(st, 201, "{body}");
    assert!(body["cookie"].is_string());
    let (st, _) = http(
        "POST",
        &format!("{}/v1/sessions", s.base),
        "sk_wrong",
        Some("{}"),
    );
    assert_eq!(st, 401);
    terminate(s);
    // A second start keeps the key and does not print it again.
    let s = serve(dir.path(), &[]);
    let text = s.lines.join("\n");
    assert!(!text.contains(&key));
    assert!(!text.contains("made an admin API key"), "{text}");
    let (st, _) = http("POST", &format!("{}/v1/sessions", s.base), &key, Some("{}"));
    assert_eq!(st, 201);
    terminate(s);
}

#[test]
fn cookie_inspect_reports_valid_or_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let key = sesame_server::cookies::generate_key().unwrap().to_string();
    let ring = sesame::cookie::KeyRing::parse_list(&key).unwrap();
    let token = sesame::SessionToken::generate().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let value = sesame::cookie::seal_session_token(&ring, token.expose(), now - 60).unwrap();
    let o = run(sesame(dir.path())
        .args(["cookie", "inspect", &value])
        .env("SESAME_COOKIE_KEYS", &key));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["session_id"], token.id().to_hex());
    assert!(report["age_secs"].as_i64().unwrap() >= 60);
    assert!(report["time_left_secs"].as_i64().unwrap() > 40_000);
    assert!(!stdout(&o).contains(token.expose()));
    // From stdin, tampered.
    let mut tampered = value.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let mut child = sesame(dir.path())
        .args(["cookie", "inspect", "-"])
        .env("SESAME_COOKIE_KEYS", &key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&tampered).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["reason"], "bad_signature");
    // No keys at all: a config error naming the setting.
    let o = run(sesame(dir.path()).args(["cookie", "inspect", &value]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cookie.keys"));
}

#[test]
fn json_logs_name_requests_but_never_a_token_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("log.jsonl")).unwrap();
    let s = serve_logging(
        dir.path(),
        &["--log-format", "json", "--log-level", "debug"],
        Stdio::from(log),
    );
    let key = s.admin_key();
    let (st, body) = http(
        "POST",
        &format!("{}/v1/sessions", s.base),
        &key,
        Some(r#"{"user":"zoe"}"#),
    );
    assert_eq!(st, 201);
    let token = body["token"].as_str().unwrap().to_owned();
    let cookie = body["cookie"].as_str().unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        for (h, v) in [("sesame-token", &token), ("sesame-cookie", &cookie)] {
            let r = c
                .post(format!("{}/v1/session/validate", s.base))
                .bearer_auth(&key)
                .header(h, v)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = c
            .delete(format!("{}/v1/session", s.base))
            .bearer_auth(&key)
            .header("sesame-token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    terminate(s);
    let text = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["route"] == "/v1/session/validate"),
        "{text}"
    );
    let short = sesame::SessionId::of_token(&token).short();
    assert!(
        text.contains(&short),
        "the session appears by its hash prefix: {text}"
    );
    assert!(!text.contains(&token));
    assert!(!text.contains(&cookie));
    assert!(!text.contains(&key));
}

#[test]
fn store_commands_work_on_the_configured_store() {
    let dir = tempfile::tempdir().unwrap();
    // Before any start: no database, and the CLI does not create an empty one.
    let o = run(sesame(dir.path()).args(["sessions", "list", "--user", "alice"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("sesame migrate"), "{}", stderr(&o));
    let o = run(sesame(dir.path()).arg("migrate"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sqlite"), "{}", stdout(&o));
    assert!(dir.path().join("data/sesame.db").exists());

    let s = serve(dir.path(), &[]);
    assert!(
        s.lines.iter().any(|l| l.contains("store: sqlite://")),
        "{:?}",
        s.lines
    );
    let key = s.admin_key();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let (st, body) = http(
            "POST",
            &format!("{}/v1/sessions", s.base),
            &key,
            Some(r#"{"user":"alice","data":{"plan":"pro"}}"#),
        );
        assert_eq!(st, 201);
        tokens.push((
            body["token"].as_str().unwrap().to_owned(),
            body["session"]["id"].as_str().unwrap().to_owned(),
        ));
    }
    terminate(s);

    let o = run(sesame(dir.path()).args(["sessions", "list", "--user", "alice"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let listed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 3);
    assert_eq!(listed["sessions"][0]["data"]["plan"], "pro");

    let mut child = sesame(dir.path())
        .args(["inspect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{}", tokens[0].0).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let inspected: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(inspected["live"], true);
    assert_eq!(inspected["id"], tokens[0].1.as_str());
    assert!(inspected["idle_seconds_left"].as_u64().unwrap() > 1700);

    let keep = &tokens[0].1;
    let o = run(sesame(dir.path()).args([
        "sessions",
        "revoke",
        "--user",
        "alice",
        "--except-id",
        keep,
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let revoked: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 2);
    let o = run(sesame(dir.path()).arg("cleanup"));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(report["scanned"].is_u64());

    // The running service sees what the CLI did.
    let s = serve(dir.path(), &[]);
    let validate = |token: &str| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{}/v1/session/validate", s.base))
                .bearer_auth(&key)
                .header("sesame-token", token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        })
    };
    assert_eq!(validate(&tokens[0].0).0, 200);
    let (st, body) = validate(&tokens[1].0);
    assert_eq!((st, body["code"].as_str()), (401, Some("revoked")));
    terminate(s);
}

/// A SIGTERM sent the moment the server says it listens drains and exits 0:
/// the signal handlers are registered before the banner, not when first polled.
#[test]
fn sigterm_right_after_the_banner_starts_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let (mut child, mut reader, _) = spawn_with_banner(
            sesame(dir.path()).args(["serve", "--listen", "127.0.0.1:0", "--store", "memory://"]),
            Stdio::null(),
        );
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Keep reading the rest of the banner so the child never meets a closed pipe.
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        let code = child.wait().unwrap();
        assert!(code.success(), "exit {code:?}");
    }
}
