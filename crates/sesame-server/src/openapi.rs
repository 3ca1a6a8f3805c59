//! The OpenAPI 3.1 document, served at `/openapi.json`.
//!
//! Hand-maintained (`openapi.json` in this crate) rather than derived: the
//! API's types mix engine types (`DeviceInfo`, session data) that carry no
//! schema derive, and a reviewed document is what a fuzzer and client
//! generators should see. Tests keep it true: every route in
//! [`crate::api::ROUTES`] is in it and nothing else, and the end-to-end tests
//! check every response they receive against the schema the document gives
//! for that route and status. `scripts/api-fuzz.sh` (schemathesis) fuzzes
//! the server against it, so it must also state every constraint a request
//! has to meet.

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");
