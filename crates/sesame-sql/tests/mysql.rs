//! The conformance suite on MySQL/MariaDB (`SESAME_TEST_MYSQL_URL`), each
//! case in a database of its own that is dropped afterwards.

mod common;

sesame::store_conformance_tests!(|| common::mysql());
sesame::store_history_tests!(|| common::mysql());

mod specific {
    use super::common;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_json_is_an_error_for_that_session_only() {
        let Some(t) = common::mysql().await else {
            return;
        };
        common::corrupt_json_is_an_error_for_that_session_only(t).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_cases_never_deadlock() {
        let Some(t) = common::mysql().await else {
            return;
        };
        common::concurrent_cases_never_deadlock(t).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cleanup_goes_in_batches() {
        let Some(t) = common::mysql().await else {
            return;
        };
        common::cleanup_goes_in_batches(t).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cleanup_prunes_user_lock_rows() {
        let Some(t) = common::mysql().await else {
            return;
        };
        common::cleanup_prunes_user_lock_rows(t).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pruning_races_capped_creates() {
        let Some(t) = common::mysql().await else {
            return;
        };
        common::pruning_races_capped_creates(t).await;
    }
}
