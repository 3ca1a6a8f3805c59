//! The `Cookie` header parser (`sesame::cookie::parse_cookie_header`) and the
//! session cookie lookup (`find_session_cookie`).
//!
//! Input: the first byte picks the cookie name looked for; the rest is split
//! at `\n` into several `Cookie` header values (HTTP/2 sends one per cookie).
//!
//! Properties, beyond "never panics":
//! - every pair borrows from its header; its name is not empty, holds no `;`
//!   or `=` and has no whitespace at either end; its value holds no `;`;
//! - the pairs are those of RFC 6265 §5.4 as the module documents it,
//!   computed here independently (split, trim, unquote);
//! - rendered canonically (`name="value"; ...`) the pairs parse back to
//!   themselves;
//! - `find_session_cookie` answers none / the one value / `Ambiguous` with
//!   the right count / `InvalidToken` for a value that is not UTF-8, exactly
//!   as the pairs with that name say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame::cookie::{CookieError, CookiePair, find_session_cookie, parse_cookie_header};

const NAMES: [&str; 3] = ["__Host-sesame", "sid", "a"];

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// RFC 6265 §5.4 as `header.rs` documents it.
fn model(header: &[u8]) -> Vec<CookiePair<'_>> {
    header
        .split(|&b| b == b';')
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            let name = trim(&pair[..eq]);
            if name.is_empty() {
                return None;
            }
            let value = trim(&pair[eq + 1..]);
            let value = if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
                &value[1..value.len() - 1]
            } else {
                value
            };
            Some(CookiePair { name, value })
        })
        .collect()
}

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    o.start <= i.start && i.end <= o.end
}

fn render(pairs: &[CookiePair<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, pair) in pairs.iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(pair.name);
        out.extend_from_slice(b"=\"");
        out.extend_from_slice(pair.value);
        out.push(b'"');
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let headers: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
    let mut all = Vec::new();
    for &header in &headers {
        let pairs: Vec<CookiePair<'_>> = parse_cookie_header(header).collect();
        for pair in &pairs {
            assert!(within(header, pair.name) && within(header, pair.value));
            assert!(!pair.name.is_empty());
            assert!(!pair.name.iter().any(|&b| b == b';' || b == b'='));
            assert!(!is_ows(pair.name[0]) && !is_ows(pair.name[pair.name.len() - 1]));
            assert!(!pair.value.contains(&b';'));
        }
        assert_eq!(pairs, model(header));
        all.extend(pairs);
    }

    let rendered = render(&all);
    assert_eq!(parse_cookie_header(&rendered).collect::<Vec<_>>(), all);

    // Half the time look for a name the input holds, so matches are common.
    let name: &str = match all.first().map(|p| std::str::from_utf8(p.name)) {
        Some(Ok(first)) if pick & 0x80 != 0 => first,
        _ => NAMES[usize::from(pick) % NAMES.len()],
    };
    let values: Vec<&[u8]> = all
        .iter()
        .filter(|p| p.name == name.as_bytes())
        .map(|p| p.value)
        .collect();
    match (
        find_session_cookie(headers.iter().copied(), name),
        values.as_slice(),
    ) {
        (Ok(None), []) => {}
        (Ok(Some(found)), [only]) => assert_eq!(found.as_bytes(), *only),
        (Err(CookieError::InvalidToken), [only]) => assert!(std::str::from_utf8(only).is_err()),
        (Err(CookieError::Ambiguous { count }), many) if many.len() > 1 => {
            assert_eq!(count, many.len());
        }
        (other, values) => panic!("{other:?} for {} cookies named {name:?}", values.len()),
    }
});
