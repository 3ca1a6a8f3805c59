//! The conformance suite on PostgreSQL (`SESAME_TEST_POSTGRES_URL`), each case
//! in a schema of its own that is dropped afterwards.

mod common;

sesame::store_conformance_tests!(|| common::postgres());
