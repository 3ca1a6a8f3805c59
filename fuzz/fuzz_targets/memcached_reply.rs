//! The Memcached reply parser of `sesame-memcached`'s client: the bytes a
//! server (or anything that answers on its port) sends back.
//!
//! Input: the first byte's low bit says whether the reply answers a `gets`
//! (items up to `END`) or a one-line command; the rest is the reply.
//!
//! Properties, beyond "never panics" (and never allocates more than libFuzzer
//! allows: a length field is a claim, not a size to allocate):
//! - items read back from a canonical rendering (`VALUE key 0 len cas`,
//!   the data, `END`) are the same items: keys, bytes and CAS tokens;
//! - a line is what the server sent before `\r\n`, never an error line
//!   (`ERROR`, `SERVER_ERROR ...`, `CLIENT_ERROR ...`), which is `Refused`;
//!   rendered again it reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_memcached::client::{ClientError, Item};
use sesame_memcached::fuzzing::{Parsed, parse_reply};

fn render(items: &[(String, Item)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, item) in items {
        out.extend_from_slice(
            format!("VALUE {key} 0 {} {}\r\n", item.data.len(), item.cas).as_bytes(),
        );
        out.extend_from_slice(&item.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"END\r\n");
    out
}

fn is_error_line(line: &str) -> bool {
    line == "ERROR" || line.starts_with("SERVER_ERROR") || line.starts_with("CLIENT_ERROR")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, reply)) = data.split_first() else {
        return;
    };
    let values = mode & 1 == 1;
    match parse_reply(reply, values) {
        Ok(Parsed::Values(items)) => {
            assert!(values, "items for a one-line command");
            for (key, _) in &items {
                assert!(!key.contains(' ') && !key.contains('\n'), "{key:?}");
            }
            let again = parse_reply(&render(&items), true).expect("a canonical rendering reads");
            assert_eq!(again, Parsed::Values(items));
        }
        Ok(Parsed::Line(line)) => {
            assert!(!values, "a line for a gets");
            assert!(!line.contains('\n') && !is_error_line(&line), "{line:?}");
            let rendered = format!("{line}\r\n");
            assert_eq!(
                parse_reply(rendered.as_bytes(), false).ok(),
                Some(Parsed::Line(line))
            );
        }
        Err(ClientError::Refused { line, .. }) => assert!(is_error_line(&line), "{line:?}"),
        Err(ClientError::Protocol { .. } | ClientError::Io { .. }) => {}
        Err(other) => panic!("{other:?}"),
    }
});
