//! The store conformance suite against memcached (`SESAME_TEST_MEMCACHED_URL`).

sesame::store_conformance_tests!(|| async {
    let url = sesame::testing::service_url("SESAME_TEST_MEMCACHED_URL")?;
    let prefix = format!("sesame-test-{}:", sesame::testing::unique_suffix());
    let config = sesame_memcached::MemcachedConfig::from_url(&url)
        .expect("SESAME_TEST_MEMCACHED_URL")
        .with_prefix(prefix)
        .expect("prefix");
    Some(sesame_memcached::MemcachedStore::new(config))
});
