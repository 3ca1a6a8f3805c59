//! The conformance suite against the memory store.

sesame::store_conformance_tests!(|| async { Some(sesame::MemoryStore::new()) });
sesame::store_history_tests!(|| async { Some(sesame::MemoryStore::new()) });
sesame::store_dbsc_conformance_tests!(|| async { Some(sesame::MemoryStore::new()) });
