//! TLS against a private CA: the test makes a CA and a server certificate
//! for 127.0.0.1 (rcgen), starts its own `redis-server` on a TLS-only port,
//! and runs the manager round trip over `rediss://` trusting that CA
//! (`RedisConfig::with_root_certificates`). Without the CA — or with
//! another CA, or under a host name the certificate does not name — the
//! connection is refused at once with `Error::Config`. A second server asks
//! for client certificates (mutual TLS): the round trip works with one
//! (`with_client_certificate`) and connecting without one fails fast. A
//! 3-node TLS cluster (`tls-cluster yes`) runs the round trip over
//! `rediss+cluster://` with the same CA. Runs
//! when `SESAME_TEST_REDIS_URL` is set (Redis, and so `redis-server`, is
//! there). The checks of bad settings (unreadable PEM, certificates with a
//! URL that is not TLS) need no server and always run.

#![cfg(feature = "tls")]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sesame::{Error, Manager, Policy};
use sesame_redis::{RedisConfig, RedisStore};
use support::{free_port, redis_server};

/// A CA, a server certificate for 127.0.0.1 and a client certificate it
/// issued, as PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: &[ExtendedKeyUsagePurpose],
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "sesame test");
    params.extended_key_usages = usage.to_vec();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let ca = ca("sesame test CA");
    // A cluster node also uses its certificate as a client of the others.
    let (server_cert, server_key) = leaf(
        &ca,
        &["127.0.0.1"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    );
    let (client_cert, client_key) = leaf(&ca, &["client"], &[ExtendedKeyUsagePurpose::ClientAuth]);
    Pki {
        ca: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

/// A directory of the server's PEM files, removed when dropped.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `pki`'s server files written to a fresh directory: the directory and
/// the arguments that make `redis-server` use them.
fn tls_files(pki: &Pki) -> (Dir, Vec<String>) {
    let dir = Dir(std::env::temp_dir().join(format!(
        "sesame-redis-tls-{}",
        sesame::testing::unique_suffix()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = |name: &str, pem: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let args = vec![
        "--tls-cert-file".into(),
        file("server.crt", &pki.server_cert),
        "--tls-key-file".into(),
        file("server.key", &pki.server_key),
        "--tls-ca-cert-file".into(),
        file("ca.crt", &pki.ca),
    ];
    (dir, args)
}

/// Starts a TLS-only `redis-server` with `pki`'s server certificate;
/// `auth_clients` is `no` or `yes` (mutual TLS).
async fn tls_server(pki: &Pki, auth_clients: &str) -> (tokio::process::Child, u16, Dir) {
    let (dir, mut args) = tls_files(pki);
    let port = free_port();
    args.extend(
        ["--port", "0", "--tls-port", &port.to_string()]
            .into_iter()
            .chain(["--tls-auth-clients", auth_clients])
            .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = redis_server(port, &args).await;
    (server, port, dir)
}

fn prefix() -> String {
    format!("tls-{}:", sesame::testing::unique_suffix())
}

/// Connects with `config`, expecting a failure within the connect timeout
/// (250 ms) plus slack; returns the error.
/// Connects with `config` under a fresh key prefix and runs the round trip;
/// returns whether the connection is a cluster one.
async fn round_trip_over(config: RedisConfig) -> bool {
    let store = RedisStore::connect_with(config.with_prefix(prefix()))
        .await
        .unwrap();
    let cluster = store.is_cluster();
    support::round_trip(&Manager::new(store, Policy::default()).unwrap()).await;
    cluster
}

async fn refused(config: RedisConfig) -> Error {
    let started = Instant::now();
    let result = RedisStore::connect_with(config).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(750), "took {elapsed:?}");
    match result {
        Ok(_) => panic!("connected"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_round_trip_and_untrusted_certificates() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let pki = pki();
    let (_server, port, _dir) = tls_server(&pki, "no").await;
    let url = format!("rediss://127.0.0.1:{port}");

    round_trip_over(RedisConfig::new(&url).with_root_certificates(pki.ca.clone())).await;

    // The webpki roots do not know the private CA.
    let err = refused(RedisConfig::new(&url)).await;
    let Error::Config(message) = &err else {
        panic!("expected Error::Config, got {err:?}");
    };
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(message.contains("with_root_certificates"), "{message}");

    // The given roots replace the webpki ones: another CA is no help.
    let other = ca("another CA").pem();
    let err = refused(RedisConfig::new(&url).with_root_certificates(other)).await;
    assert!(
        matches!(&err, Error::Config(m) if m.contains("UnknownIssuer")),
        "{err:?}"
    );

    // The host name is still checked: the certificate names 127.0.0.1 only.
    let err = refused(
        RedisConfig::new(format!("rediss://localhost:{port}"))
            .with_root_certificates(pki.ca.clone()),
    )
    .await;
    assert!(
        matches!(&err, Error::Config(m) if m.contains("not valid for name")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_round_trip_and_missing_client_certificate() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let pki = pki();
    let (_server, port, _dir) = tls_server(&pki, "yes").await;
    let url = format!("rediss://127.0.0.1:{port}");

    round_trip_over(
        RedisConfig::new(&url)
            .with_root_certificates(pki.ca.clone())
            .with_client_certificate(pki.client_cert.clone(), pki.client_key.clone()),
    )
    .await;

    // No client certificate: the server ends the handshake.
    let err = refused(RedisConfig::new(&url).with_root_certificates(pki.ca.clone())).await;
    assert!(
        matches!(&err, Error::Config(m) if m.contains("CertificateRequired")
            && m.contains("with_client_certificate")),
        "{err:?}"
    );
    // A client certificate from another CA: refused too.
    let other = ca("another CA");
    let (cert, key) = leaf(&other, &["client"], &[ExtendedKeyUsagePurpose::ClientAuth]);
    let err = refused(
        RedisConfig::new(&url)
            .with_root_certificates(pki.ca.clone())
            .with_client_certificate(cert, key),
    )
    .await;
    assert!(
        matches!(&err, Error::Config(m) if m.contains("UnknownCA")
            && m.contains("refused the client certificate")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cluster_round_trip_with_private_ca() {
    if sesame::testing::service_url("SESAME_TEST_REDIS_URL").is_none() {
        return;
    }
    let pki = pki();
    let (dir, tls_args) = tls_files(&pki);
    let ca_file = dir.0.join("ca.crt").to_str().unwrap().to_owned();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for port in &ports {
        let port = port.to_string();
        let conf = dir.0.join(format!("nodes-{port}.conf"));
        let mut args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
        args.extend(["--port", "0", "--tls-port", &port, "--tls-cluster", "yes"]);
        args.extend(["--tls-auth-clients", "no", "--cluster-enabled", "yes"]);
        args.extend(["--cluster-config-file", conf.to_str().unwrap()]);
        args.extend(["--cluster-node-timeout", "2000"]);
        nodes.push(redis_server(port.parse().unwrap(), &args).await);
    }
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", &ca_file])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addrs.iter().map(String::as_str));
    create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    cli(&create);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ports
        .iter()
        .all(|p| cli(&["-p", &p.to_string(), "cluster", "info"]).contains("cluster_state:ok"))
    {
        assert!(Instant::now() < deadline, "the TLS cluster did not form");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let url = format!("rediss+cluster://{}", addrs.join(","));
    let cluster =
        round_trip_over(RedisConfig::new(&url).with_root_certificates(pki.ca.clone())).await;
    assert!(cluster, "a cluster connection");

    let err = refused(RedisConfig::new(&url)).await;
    assert!(
        matches!(&err, Error::Config(m) if m.contains("UnknownIssuer")),
        "{err:?}"
    );
}

/// Expects `Error::Config` mentioning `needle` from `config`, before any
/// connection is tried (nothing listens on port 1).
async fn config_error(config: RedisConfig, needle: &str) -> String {
    match RedisStore::connect_with(config).await {
        Err(Error::Config(message)) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            message
        }
        Err(e) => panic!("expected Error::Config({needle:?}), got {e:?}"),
        Ok(_) => panic!("connected"),
    }
}

// No server: the settings are checked before connecting.
#[tokio::test]
async fn bad_tls_settings_are_config_errors() {
    let pki = pki();
    let tls = "rediss://127.0.0.1:1";
    let roots = |pem: &str| RedisConfig::new(tls).with_root_certificates(pem);
    config_error(roots(""), "no PEM CERTIFICATE block").await;
    config_error(roots("not a pem file"), "no PEM CERTIFICATE block").await;
    config_error(
        roots("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n"),
        "unreadable PEM",
    )
    .await;
    config_error(
        roots("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "not a usable CA",
    )
    .await;
    // A key is not a certificate.
    config_error(roots(&pki.server_key), "no PEM CERTIFICATE block").await;

    // Certificates with a URL that is not TLS.
    for url in [
        "redis://127.0.0.1:1",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
    ] {
        config_error(
            RedisConfig::new(url).with_root_certificates(pki.ca.clone()),
            "need a rediss://",
        )
        .await;
        config_error(
            RedisConfig::new(url)
                .with_client_certificate(pki.client_cert.clone(), pki.client_key.clone()),
            "need a rediss://",
        )
        .await;
    }

    // Client certificate: an unreadable key, a key that does not fit.
    let client = |cert: &str, key: &str| {
        RedisConfig::new(tls)
            .with_root_certificates(pki.ca.clone())
            .with_client_certificate(cert, key)
    };
    let message = config_error(
        client(&pki.client_cert, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n"),
        "no readable PEM private key",
    )
    .await;
    assert!(!message.contains("c2VjcmV0"), "the key leaks: {message}");
    config_error(
        client(&pki.client_cert, &pki.server_key),
        "client certificate and key",
    )
    .await;
    config_error(
        client("", &pki.client_key),
        "client certificate: no PEM CERTIFICATE",
    )
    .await;

    // A cluster URL gets the same checks.
    config_error(
        RedisConfig::new("rediss+cluster://127.0.0.1:1,127.0.0.1:2").with_root_certificates("x"),
        "no PEM CERTIFICATE block",
    )
    .await;
}
