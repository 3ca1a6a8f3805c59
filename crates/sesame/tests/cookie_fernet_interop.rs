//! Interoperability with other Fernet implementations:
//! - tokens made by Python's `cryptography` (committed fixture) open with sesame;
//! - tokens made by sesame verify with an independent, step-by-step implementation of the spec
//!   written here against the primitives;
//! - when Python and `cryptography` are installed, `cryptography` itself opens sesame's tokens
//!   (skipped with a message on stderr otherwise).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sesame::cookie::{FernetKey, KeyRing};
use sha2::Sha256;

fn data_dir() -> String {
    format!("{}/tests/data/fernet", env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(format!("{}/python_tokens.json", data_dir())).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn python_cryptography_tokens_open() {
    let fx = fixture();
    let tokens = fx["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 8);
    for case in tokens {
        let key = FernetKey::parse(case["key"].as_str().unwrap()).unwrap();
        let ts = case["timestamp"].as_u64().unwrap();
        let token = case["token"].as_str().unwrap();
        let want = hex::decode(case["src_hex"].as_str().unwrap()).unwrap();
        let got = key
            .open(token, Some(Duration::from_secs(60)), ts + 5)
            .unwrap();
        assert_eq!(&got[..], &want[..]);
        // And the time window applies to them like to ours.
        assert!(
            key.open(token, Some(Duration::from_secs(60)), ts + 61)
                .is_err()
        );
    }
}

#[test]
fn python_multifernet_rotation_is_matched() {
    let fx = fixture();
    let rot = &fx["rotation"];
    let keys: Vec<&str> = rot["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let ring = KeyRing::parse_list(&keys.join(",")).unwrap();
    let old_only = KeyRing::parse_list(keys[1]).unwrap();
    let new_only = KeyRing::parse_list(keys[0]).unwrap();
    let ts = rot["timestamp"].as_u64().unwrap();
    let src = hex::decode(rot["src_hex"].as_str().unwrap()).unwrap();
    let old = rot["old_token"].as_str().unwrap();

    // Python's rotated token opens with the new key alone, keeping the timestamp.
    let py_rotated = rot["rotated_token"].as_str().unwrap();
    assert_eq!(&new_only.open(py_rotated, None, ts).unwrap()[..], &src[..]);
    assert_eq!(
        sesame::cookie::fernet::unverified_timestamp(py_rotated),
        Some(ts)
    );

    // Our rotation of Python's old token does the same.
    let ours = ring.rotate(old).unwrap();
    assert_eq!(&new_only.open(&ours, None, ts).unwrap()[..], &src[..]);
    assert!(old_only.open(&ours, None, ts).is_err());
    assert_eq!(
        sesame::cookie::fernet::unverified_timestamp(&ours),
        Some(ts)
    );
}

/// The spec's verification algorithm, step by step, independent of sesame's codec.
fn reference_open(key_b64: &str, token: &str, ttl: u64, now: u64) -> Option<Vec<u8>> {
    let key = base64::engine::general_purpose::URL_SAFE
        .decode(key_b64)
        .ok()?;
    let (signing, encryption) = key.split_at(16);
    let data = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .ok()?;
    if data.len() < 57 || data[0] != 0x80 {
        return None;
    }
    let ts = u64::from_be_bytes(data[1..9].try_into().ok()?);
    if ts + ttl < now || ts > now + 60 {
        return None;
    }
    let (signed, tag) = data.split_at(data.len() - 32);
    let mut mac = Hmac::<Sha256>::new_from_slice(signing).ok()?;
    mac.update(signed);
    mac.verify_slice(tag).ok()?;
    let iv: [u8; 16] = data[9..25].try_into().ok()?;
    let mut body = signed[25..].to_vec();
    let dec = cbc::Decryptor::<aes::Aes128>::new(encryption.into(), (&iv).into());
    dec.decrypt_padded_mut::<Pkcs7>(&mut body)
        .ok()
        .map(<[u8]>::to_vec)
}

fn sesame_cases() -> Vec<Value> {
    let key = FernetKey::generate().unwrap();
    let key_b64 = key.expose_base64().to_string();
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"hello".to_vec(),
        b"q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA".to_vec(),
        vec![7u8; 16],
        (0..=255u8).collect(),
        vec![b'x'; 3000],
    ];
    payloads
        .iter()
        .enumerate()
        .map(|(i, src)| {
            let now = 1_700_000_000 + i as u64;
            json!({
                "key": key_b64,
                "token": key.seal(src, now).unwrap(),
                "src_hex": hex::encode(src),
                "now": now + 1,
            })
        })
        .collect()
}

#[test]
fn our_tokens_verify_with_the_spec_algorithm() {
    for case in sesame_cases() {
        let got = reference_open(
            case["key"].as_str().unwrap(),
            case["token"].as_str().unwrap(),
            60,
            case["now"].as_u64().unwrap(),
        )
        .expect("reference implementation opens sesame's token");
        assert_eq!(hex::encode(got), case["src_hex"].as_str().unwrap());
        // Emitted with padding, as the spec's vectors are.
        assert_eq!(case["token"].as_str().unwrap().len() % 4, 0);
    }
}

#[test]
fn python_cryptography_opens_our_tokens_when_installed() {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography.fernet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        sesame::testing::skip("python3 with the `cryptography` package is not installed");
        return;
    }
    let cases = serde_json::to_vec(&sesame_cases()).unwrap();
    let mut child = Command::new("python3")
        .arg(format!("{}/interop.py", data_dir()))
        .arg("verify")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&cases).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "cryptography refused sesame tokens: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified 6 sesame tokens"));
}
