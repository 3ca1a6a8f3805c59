//! Bytes per session the memory store costs beyond the session's data,
//! measured from the process's resident memory with 1,000,000 sessions.
//! `cargo bench -p sesame --bench memory_overhead`.

use std::sync::Arc;

use sesame::{DeviceInfo, Manager, MemoryStore, Policy};

const SESSIONS: usize = 1_000_000;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn measure(label: &str, user: impl Fn(usize) -> Option<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let manager =
        Manager::with_clock(store, Policy::default(), Arc::new(sesame::SystemClock)).unwrap();
    // The manager hands back tokens we drop at once; what remains is the store.
    let before = resident_bytes();
    rt.block_on(async {
        for i in 0..SESSIONS {
            let created = manager
                .create(
                    user(i).as_deref(),
                    Default::default(),
                    DeviceInfo::default(),
                )
                .await
                .unwrap();
            drop(created);
        }
    });
    let after = resident_bytes();
    println!(
        "{label}: {} sessions, {:.0} bytes per session (resident {} MiB -> {} MiB)",
        SESSIONS,
        (after - before) as f64 / SESSIONS as f64,
        before >> 20,
        after >> 20
    );
}

fn main() {
    // Each case runs in a fresh process, so that memory freed by one case
    // cannot flatter the next.
    match std::env::args().nth(1).as_deref() {
        Some("--list") => {}
        Some("anonymous") => measure("anonymous, empty data", |_| None),
        Some("users") => measure("one user per 5 sessions, empty data", |i| {
            Some(format!("user-{}", i / 5))
        }),
        _ => {
            let me = std::env::current_exe().expect("own path");
            for case in ["anonymous", "users"] {
                let status = std::process::Command::new(&me).arg(case).status();
                assert!(
                    status.map(|s| s.success()).unwrap_or(false),
                    "{case} failed"
                );
            }
        }
    }
}
