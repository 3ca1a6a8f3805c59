//! The loader as a whole: precedence, errors naming settings, the example
//! file.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn precedence_is_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1\"\nstore = \"memory://\"\n[policy]\nidle_timeout = \"5m\"\nmax_sessions_per_user = 3\n",
    )
    .unwrap();
    let env = env_of(&[
        ("SESAME_LISTEN", "127.0.0.1:2"),
        ("SESAME_POLICY_MAX_SESSIONS_PER_USER", "4"),
    ]);
    let c = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
    assert_eq!(c.listen, "127.0.0.1:2");
    assert_eq!(c.policy.idle_timeout.0, Duration::from_secs(300));
    assert_eq!(c.policy.max_sessions_per_user, 4);
    let flags = Overrides {
        listen: Some("127.0.0.1:3".into()),
        ..Default::default()
    };
    let c = Config::load(Some(&file), &env, &flags).unwrap();
    assert_eq!(c.listen, "127.0.0.1:3");
}

#[test]
fn errors_name_the_setting() {
    let none = env_of(&[]);
    let err = |pairs: &[(&str, &str)]| {
        Config::load(None, &env_of(pairs), &Overrides::default()).unwrap_err()
    };
    assert_eq!(err(&[("SESAME_LISTEN", "nowhere")]).setting, "listen");
    assert_eq!(
        err(&[("SESAME_LIMITS_WORKERS", "100000")]).setting,
        "limits.workers"
    );
    assert_eq!(
        err(&[("SESAME_POLICY_IDLE_TIMEOUT", "5 parsecs")]).setting,
        "policy.idle_timeout"
    );
    assert_eq!(
        err(&[("SESAME_POLICY_MAX_SESSIONS_PER_USER", "many")]).setting,
        "SESAME_POLICY_MAX_SESSIONS_PER_USER"
    );
    assert_eq!(
        err(&[("SESAME_POLICY_ABSOLUTE_LIFETIME", "1s")]).setting,
        "policy.absolute_lifetime"
    );
    assert_eq!(
        err(&[("SESAME_POLICY_ON_LIMIT", "shrug")]).setting,
        "policy.on_limit"
    );
    assert_eq!(err(&[("SESAME_STORE", "ftp://x")]).setting, "store");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, "[policy]\nidle_timeot = \"5m\"\n").unwrap();
    let e = Config::load(Some(&file), &none, &Overrides::default()).unwrap_err();
    assert_eq!(e.setting, "policy.idle_timeot");
    assert!(e.message.contains("idle_timeot"), "{e}");
    std::fs::write(
        &file,
        "[[api_keys]]\nname = \"a\"\nhash = \"md5:00\"\nscopes = [\"admin\"]\n",
    )
    .unwrap();
    let e = Config::load(Some(&file), &none, &Overrides::default()).unwrap_err();
    assert_eq!(e.setting, "api_keys[0].hash");
}

#[test]
fn the_example_file_is_valid_and_matches_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sesame.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed: Config = toml::from_str(&text).unwrap();
    let defaults = Config::default();
    assert_eq!(parsed.listen, defaults.listen);
    assert_eq!(parsed.policy.idle_timeout.0, defaults.policy.idle_timeout.0);
    assert_eq!(
        parsed.policy.to_policy().unwrap(),
        defaults.policy.to_policy().unwrap()
    );
    assert_eq!(parsed.cleanup.interval.0, defaults.cleanup.interval.0);
    assert_eq!(parsed.limits.max_body_bytes, defaults.limits.max_body_bytes);
    assert_eq!(parsed.guard.max_invalid, defaults.guard.max_invalid);
    assert_eq!(parsed.guard.window.0, defaults.guard.window.0);
    assert_eq!(parsed.guard.block.0, defaults.guard.block.0);
    assert_eq!(parsed.guard.max_tracked, defaults.guard.max_tracked);
    assert_eq!(
        parsed.cookie.policy().unwrap(),
        defaults.cookie.policy().unwrap()
    );
    // Every setting the environment can set is in the file, commented or not.
    for entry in environment::settings() {
        let leaf = entry.setting.rsplit('.').next().unwrap();
        assert!(
            text.contains(leaf),
            "sesame.example.toml lacks {}",
            entry.setting
        );
    }
}

/// Every setting with a value it refuses, as TOML. The environment round
/// sets the variable to the same text (a string's contents, a list joined
/// with commas).
const INVALID: &[(&str, &str)] = &[
    ("listen", "\"nowhere\""),
    ("behind_tls_proxy", "\"maybe\""),
    ("store", "\"ftp://x\""),
    ("data_dir", "\"\""),
    ("log.format", "\"xml\""),
    ("log.level", "\"sesame=loud\""),
    ("limits.max_body_bytes", "0"),
    ("limits.max_header_bytes", "100"),
    ("limits.request_timeout", "\"0s\""),
    ("limits.header_read_timeout", "\"0s\""),
    ("limits.body_timeout", "\"0s\""),
    ("limits.shutdown_timeout", "\"soon\""),
    ("limits.max_concurrency", "0"),
    ("limits.queue_timeout", "\"soon\""),
    ("limits.max_connections", "0"),
    ("limits.workers", "100000"),
    ("cleanup.interval", "\"soon\""),
    ("guard.max_invalid", "-1"),
    ("guard.window", "\"0s\""),
    ("guard.block", "\"0s\""),
    ("guard.max_tracked", "-1"),
    ("policy.idle_timeout", "\"0s\""),
    ("policy.absolute_lifetime", "\"1s\""),
    ("policy.touch_interval", "\"1h\""),
    ("policy.renewal_interval", "\"soon\""),
    ("policy.renewal_grace", "\"1h\""),
    ("policy.rotation_grace", "\"soon\""),
    ("policy.max_sessions_per_user", "-1"),
    ("policy.on_limit", "\"shrug\""),
    ("policy.bind_user_agent", "\"maybe\""),
    ("policy.bind_ip", "\"sometimes\""),
    ("policy.bind_ip_prefix_v4", "33"),
    ("policy.bind_ip_prefix_v6", "129"),
    ("policy.bind_hints", "[\"a b\"]"),
    ("policy.on_device_mismatch", "\"shrug\""),
    ("policy.max_data_size", "1"),
    ("policy.tombstone_ttl", "\"soon\""),
    ("policy.token_reuse", "\"shrug\""),
    ("cookie.keys", "[\"nope\"]"),
    ("cookie.name", "\"a;b\""),
    ("cookie.secure", "false"),
    ("cookie.http_only", "\"maybe\""),
    ("cookie.same_site", "\"loose\""),
    ("cookie.path", "\"/app\""),
    ("cookie.domain", "\"example.com\""),
    ("cookie.development", "\"maybe\""),
    ("webhook.url", "\"ftp://example.com\""),
    ("webhook.secret", "\"short\""),
    ("webhook.max_attempts", "0"),
    ("webhook.initial_backoff", "\"soon\""),
    ("webhook.timeout", "\"0s\""),
    ("webhook.queue_size", "-1"),
];

fn toml_value(text: &str) -> Value {
    let mut t: Table = format!("v = {text}").parse().unwrap();
    t.remove("v").unwrap()
}

fn env_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(env_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A valid configuration using every table, the webhook included.
fn base() -> Table {
    "[webhook]\nurl = \"https://example.com/hook\"\nsecret = \"0123456789abcdef\"\n"
        .parse()
        .unwrap()
}

/// Whether `error` names `setting` (or an element of it, `cookie.keys[0]`).
fn names(error: &ConfigError, setting: &str) -> bool {
    error.setting == setting || error.setting.starts_with(&format!("{setting}["))
}

#[test]
fn every_setting_refuses_an_invalid_value_by_name() {
    Config::from_table(base()).expect("the base configuration is valid");
    let settings = environment::settings();
    for entry in &settings {
        let setting = entry.setting.as_str();
        let Some((_, text)) = INVALID.iter().find(|(s, _)| *s == setting) else {
            panic!("{setting}: add an invalid value for it to INVALID");
        };
        let value = toml_value(text);

        let mut table = base();
        environment::set_path(&mut table, setting, value.clone());
        let err = Config::from_table(table).expect_err(setting);
        assert!(names(&err, setting), "file: {setting} = {text}: {err}");

        let var = entry.var();
        let env = env_of(&[(var.as_str(), env_text(&value).as_str())]);
        let mut table = base();
        environment::apply(&mut table, &env)
            .and_then(|()| Config::from_table(table).map(drop))
            .map_or_else(
                |err| {
                    assert!(
                        names(&err, setting) || err.setting == var,
                        "env: {var}={}: {err}",
                        env_text(&value)
                    )
                },
                |()| panic!("env: {var}={} was accepted", env_text(&value)),
            );
    }
    for (setting, _) in INVALID {
        assert!(
            settings.iter().any(|e| e.setting == *setting),
            "INVALID names {setting}, which is not a setting"
        );
    }
}

#[test]
fn api_key_entries_refuse_invalid_fields_by_name() {
    let entry = |field: &str, text: &str| {
        let mut key: Table =
            "name = \"a\"\nhash = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nscopes = [\"admin\"]\n"
                .parse()
                .unwrap();
        if !field.is_empty() {
            key.insert(field.into(), toml_value(text));
        }
        let mut table = Table::new();
        table.insert("api_keys".into(), Value::Array(vec![Value::Table(key)]));
        Config::from_table(table)
    };
    entry("", "").expect("the base entry is valid");
    for (field, text) in [
        ("name", "5"),
        ("hash", "\"md5:00\""),
        ("hash", "\"sha256:00\""),
        ("scopes", "[]"),
        ("scopes", "[\"root\"]"),
    ] {
        let err = entry(field, text).expect_err(field);
        assert_eq!(err.setting, format!("api_keys[0].{field}"), "{text}: {err}");
    }
}

#[test]
fn policy_errors_name_the_config_key_not_the_engine_field() {
    let err = |pairs: &[(&str, &str)]| {
        Config::load(None, &env_of(pairs), &Overrides::default()).unwrap_err()
    };
    // The grace is what exceeds the interval.
    let e = err(&[
        ("SESAME_POLICY_RENEWAL_INTERVAL", "1m"),
        ("SESAME_POLICY_RENEWAL_GRACE", "2m"),
    ]);
    assert_eq!(e.setting, "policy.renewal_grace");
    let e = err(&[
        ("SESAME_POLICY_BIND_IP", "prefix"),
        ("SESAME_POLICY_BIND_IP_PREFIX_V4", "40"),
    ]);
    assert_eq!(e.setting, "policy.bind_ip_prefix_v4");
}

#[test]
fn webhooks_need_https_unless_the_host_is_loopback() {
    let with_url = |url: &str| {
        let mut table = base();
        environment::set_path(&mut table, "webhook.url", Value::String(url.into()));
        Config::from_table(table)
    };
    for ok in [
        "https://hooks.example.com/sesame",
        "http://127.0.0.1:9000/hook",
        "http://127.1.2.3/hook",
        "http://localhost:8080/hook",
        "http://[::1]:8080/hook",
    ] {
        assert!(with_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://hooks.example.com/sesame",
        "http://10.0.0.5/hook",
        "http://[2001:db8::1]/hook",
        "ftp://example.com",
        "https://",
        "not a url",
    ] {
        let err = with_url(bad).expect_err(bad);
        assert_eq!(err.setting, "webhook.url", "{bad}: {err}");
    }
    let err = with_url("http://hooks.example.com/").unwrap_err();
    assert!(err.message.contains("https://"), "{err}");
}

#[test]
fn debug_output_redacts_keys_and_secrets() {
    let mut table = base();
    environment::set_path(
        &mut table,
        "store",
        Value::String("postgres://sesame:db-password@db/x?sslpassword=tls-pass".into()),
    );
    let mut config = Config::from_table(table).unwrap();
    let cookie_key = "a-cookie-key-that-must-not-show";
    config.cookie.keys = vec![cookie_key.into()];
    let text = format!("{config:?} {config:#?}");
    for secret in [cookie_key, "0123456789abcdef", "db-password", "tls-pass"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // What is not secret is still there to debug with.
    assert!(
        text.contains("postgres://sesame:***@db/x?sslpassword=***"),
        "{text}"
    );
    assert!(text.contains("https://example.com/hook"), "{text}");
    assert!(text.contains("[1 redacted]"), "{text}");
}
