//! The conformance suite on MySQL/MariaDB (`SESAME_TEST_MYSQL_URL`), each
//! case in a database of its own that is dropped afterwards.

mod common;

sesame::store_conformance_tests!(|| common::mysql());
