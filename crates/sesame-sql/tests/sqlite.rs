//! The conformance suite and SQLite-specific behaviour on a temporary file.

mod common;

sesame::store_conformance_tests!(|| common::sqlite());
