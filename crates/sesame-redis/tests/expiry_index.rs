//! Writes refile a session's deadline in its bucket's expiry index only when
//! it moved by a touch interval or more (`fx` in `lua/lib.lua`): the filed
//! deadline may lag the real one by less than that, never lead it, the key's
//! TTL covers the lag, and the sweep refiles an entry it finds early instead
//! of ending a live session.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use sesame::{Manager, ManualClock, Policy};
use sesame_redis::{RedisConfig, RedisStore};

/// The margin of `lua/lib.lua` (`MARGIN`): physical TTLs outlive deadlines by it.
const MARGIN_MS: i64 = 3_600_000;

#[tokio::test]
async fn frequent_writes_keep_the_index_and_the_ttl_ahead_of_expiry() {
    let Some(url) = sesame::testing::service_url("SESAME_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("sesame-test:{}:", sesame::testing::unique_suffix());
    let store = RedisStore::connect_with(
        RedisConfig::new(url.clone())
            .with_prefix(prefix.clone())
            .with_command_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let clock = ManualClock::starting_now();
    let policy = Policy::default().with_renewal(None);
    let (touch, tomb) = (policy.touch_interval(), policy.tombstone_ttl());
    let manager = Manager::with_clock(Arc::new(store), policy, Arc::new(clock.clone())).unwrap();
    let device = sesame::DeviceInfo::default();
    let token = manager
        .create(None, Default::default(), device.clone())
        .await
        .unwrap()
        .token;
    let sid = token.id().to_hex();
    let key = format!("{prefix}{{b{}}}s:{sid}", &sid[..2]);
    let bucket = format!("{prefix}{{b{}}}exp", &sid[..2]);
    let mut raw = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let touch_ms = touch.as_millis() as i64;
    let mut refiled = 0;
    let mut last_score = 0;
    for n in 1..=12 {
        clock.advance(touch / 3);
        let write = sesame::store::Write::Increment { key: "n", delta: 1 };
        let step = manager.load_and_write(token.expose(), &device, write).await;
        assert_eq!(
            step.unwrap().written.unwrap(),
            sesame::store::Written::Incremented(n)
        );
        let ie: i64 = raw.hget(&key, "ie").await.unwrap();
        let score: f64 = raw.zscore(&bucket, &sid).await.unwrap();
        let score = score as i64;
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .unwrap();
        let now = manager.now().as_millis() as i64;
        assert!(score <= ie, "the filed deadline never leads the real one");
        assert!(
            ie - score < touch_ms,
            "it lags by less than a touch interval"
        );
        let needed = ie - now + tomb.as_millis() as i64 + MARGIN_MS;
        assert!(pttl >= needed - 5_000, "TTL {pttl} ms covers {needed} ms");
        if score != last_score {
            refiled += 1;
            last_score = score;
        }
    }
    assert!(
        (3..12).contains(&refiled),
        "12 writes a third of a touch interval apart refile about every third one, not each ({refiled})"
    );

    // The sweep finds the entry before the real deadline: it refiles it and
    // ends nothing. (First a write that leaves the filed deadline behind.)
    let mut ie: i64 = raw.hget(&key, "ie").await.unwrap();
    while last_score == ie {
        clock.advance(touch / 3);
        manager.increment(token.expose(), "n", 1).await.unwrap();
        ie = raw.hget(&key, "ie").await.unwrap();
        last_score = raw.zscore::<_, _, f64>(&bucket, &sid).await.unwrap() as i64;
    }
    let now = manager.now().as_millis() as i64;
    clock.advance(Duration::from_millis((last_score - now + 1) as u64));
    assert!((manager.now().as_millis() as i64) < ie);
    let report = manager.cleanup().await.unwrap();
    assert!(report.expired.is_empty(), "a live session is not ended");
    let score: f64 = raw.zscore(&bucket, &sid).await.unwrap();
    assert_eq!(score as i64, ie, "the sweep refiled the real deadline");
    assert!(manager.load(token.expose(), &device).await.is_ok());
}
