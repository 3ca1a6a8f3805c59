//! Fernet throughput for a session-token payload (43 bytes): seal, open, open with the right key
//! last in a 3-key ring, the full session-cookie path, and a rejected forgery.
//!
//! `cargo bench -p sesame --bench fernet`; results go in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_main};
use sesame::cookie::{
    FernetKey, KeyRing, find_session_cookie, open_session_cookie, seal_session_token,
};

const NOW: u64 = 1_700_000_000;
const TOKEN: &str = "q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA";

fn fernet(c: &mut Criterion) {
    let key = FernetKey::generate().expect("rng");
    let ring = KeyRing::new(key.clone());
    let value = seal_session_token(&ring, TOKEN, NOW).expect("seal");
    let ttl = Some(Duration::from_secs(3600));

    let mut g = c.benchmark_group("fernet");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal_43B", |b| {
        b.iter(|| key.seal(black_box(TOKEN.as_bytes()), NOW).expect("seal"))
    });
    g.bench_function("seal_43B_fixed_iv", |b| {
        b.iter(|| key.seal_with_iv(black_box(TOKEN.as_bytes()), NOW, &[7u8; 16]))
    });
    g.bench_function("open_43B", |b| {
        b.iter(|| key.open(black_box(&value), ttl, NOW).expect("open"))
    });

    let ring3 = KeyRing::from_keys(vec![
        FernetKey::generate().expect("rng"),
        FernetKey::generate().expect("rng"),
        key.clone(),
    ])
    .expect("ring");
    g.bench_function("open_43B_third_key_of_3", |b| {
        b.iter(|| ring3.open(black_box(&value), ttl, NOW).expect("open"))
    });

    let mut forged = value.clone().into_bytes();
    forged[60] = if forged[60] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    g.bench_function("reject_forged_43B", |b| {
        b.iter(|| ring.open(black_box(&forged), ttl, NOW).is_err())
    });

    let header = format!("theme=dark; lang=en; __Host-sesame={value}; _ga=GA1.2.3");
    g.bench_function("session_cookie_from_header", |b| {
        b.iter(|| {
            let found =
                find_session_cookie([black_box(header.as_str())], "__Host-sesame").expect("unique");
            open_session_cookie(&ring, found, Duration::from_secs(3600), NOW).expect("open")
        })
    });
    g.finish();
}

mod group {
    // A private module: the function the macro generates is not public API.
    criterion::criterion_group!(benches, super::fernet);
}
criterion_main!(group::benches);
