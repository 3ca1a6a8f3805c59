//! A tour of the engine on the memory store: login, use, concurrent
//! increments, "log out other devices", expiry, logout.
//!
//! `cargo run -p sesame --example quickstart`

use std::sync::Arc;
use std::time::Duration;

use sesame::{DeviceInfo, EndReason, Manager, ManualClock, MemoryStore, Patch, Policy};

#[tokio::main]
async fn main() -> Result<(), sesame::Error> {
    let clock = ManualClock::starting_now();
    let manager = Manager::with_clock(
        Arc::new(MemoryStore::new()),
        Policy::default(),
        Arc::new(clock.clone()),
    )?;
    let laptop = DeviceInfo::default().with_user_agent("Firefox on a laptop");
    let phone = DeviceInfo::default().with_user_agent("Safari on a phone");

    // An anonymous visitor fills a cart, then logs in: new token, same data.
    let visit = manager
        .create(None, Default::default(), laptop.clone())
        .await?;
    let cart = Patch::new().set("cart", ["book", "pen"])?;
    manager.update(visit.token.expose(), &cart, None).await?;
    let login = manager.login(visit.token.expose(), "alice").await?;
    println!(
        "logged in: session {} (old token now refused)",
        login.session.id
    );
    let old = manager.load(visit.token.expose(), &laptop).await;
    println!("  pre-login token -> {}", old.unwrap_err());

    // 100 concurrent increments: none lost.
    let token = login.token.expose().to_owned();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (m, t) = (manager.clone(), token.clone());
            tokio::spawn(async move { m.increment(&t, "page_views", 1).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task")?;
    }
    let session = manager.load(&token, &laptop).await?.session;
    println!(
        "page_views after 100 concurrent increments: {}",
        session.data["page_views"]
    );

    // A second device; then "log out other devices" from the laptop.
    let on_phone = manager
        .create(Some("alice"), Default::default(), phone.clone())
        .await?;
    println!(
        "alice has {} sessions",
        manager.list_user("alice").await?.len()
    );
    manager
        .revoke_user("alice", Some(&login.session.id))
        .await?;
    let refused = manager
        .load(on_phone.token.expose(), &phone)
        .await
        .unwrap_err();
    println!("phone after 'log out other devices': {refused}");

    // A stolen cookie replayed from another browser ends the session.
    let thief = DeviceInfo::default().with_user_agent("curl/8.0");
    println!(
        "replay from curl: {}",
        manager.load(&token, &thief).await.unwrap_err()
    );

    // Idle timeout, reported by the cleanup sweep.
    let idle = manager
        .create(Some("bob"), Default::default(), laptop.clone())
        .await?;
    clock.advance(Duration::from_secs(31 * 60));
    let report = manager.cleanup().await?;
    println!(
        "cleanup: scanned {}, expired {}, deleted {}",
        report.scanned,
        report.expired.len(),
        report.deleted
    );
    println!(
        "bob's token now: {}",
        manager
            .load(idle.token.expose(), &laptop)
            .await
            .unwrap_err()
    );
    manager
        .destroy(idle.token.expose(), EndReason::LoggedOut)
        .await?;
    Ok(())
}
