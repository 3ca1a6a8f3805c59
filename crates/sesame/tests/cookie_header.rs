//! The `Cookie` request header parser and the session cookie lookup.

use sesame::cookie::{CookieError, CookiePair, find_session_cookie, parse_cookie_header};

fn pairs(h: &[u8]) -> Vec<(String, String)> {
    parse_cookie_header(h)
        .map(|CookiePair { name, value }| {
            (
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            )
        })
        .collect()
}

fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn simple_pairs() {
    assert_eq!(pairs(b"a=1; b=2"), p(&[("a", "1"), ("b", "2")]));
    assert_eq!(pairs(b"a=1;b=2"), p(&[("a", "1"), ("b", "2")]));
    assert_eq!(pairs(b"a="), p(&[("a", "")]));
    assert_eq!(
        pairs(b"a=b=c"),
        p(&[("a", "b=c")]),
        "value runs to the next ;"
    );
}

#[test]
fn whitespace_empty_pairs_and_pairs_without_equals() {
    assert_eq!(
        pairs(b"  a = 1 ;; ;\t b=2\t; novalue ; =orphan; c=3;"),
        p(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    assert!(pairs(b"").is_empty());
    assert!(pairs(b";;;").is_empty());
    assert!(pairs(b"   ").is_empty());
}

#[test]
fn quoted_values_lose_their_quotes() {
    assert_eq!(pairs(b"a=\"1 2\"; b=\""), p(&[("a", "1 2"), ("b", "\"")]));
    assert_eq!(pairs(b"a=\"\""), p(&[("a", "")]));
}

#[test]
fn bytes_that_are_not_utf8_do_not_break_parsing() {
    let h = b"x=\xff\xfe; s=ok; \xc3(=y";
    let got: Vec<CookiePair<'_>> = parse_cookie_header(h).collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].value, b"\xff\xfe");
    assert_eq!(
        got[1],
        CookiePair {
            name: b"s",
            value: b"ok"
        }
    );
    assert_eq!(find_session_cookie([&h[..]], "s").unwrap(), Some("ok"));
    assert_eq!(
        find_session_cookie([&h[..]], "x"),
        Err(CookieError::InvalidToken)
    );
}

#[test]
fn the_session_cookie_is_found_across_several_headers() {
    let headers = ["a=1", "  __Host-sesame=tok ; b=2", "c=3"];
    assert_eq!(
        find_session_cookie(headers, "__Host-sesame").unwrap(),
        Some("tok")
    );
    assert_eq!(
        find_session_cookie(headers, "__host-sesame").unwrap(),
        None,
        "names are case-sensitive"
    );
    assert_eq!(find_session_cookie(headers, "sesame").unwrap(), None);
    let none: [&str; 0] = [];
    assert_eq!(find_session_cookie(none, "a").unwrap(), None);
    // Byte slices and owned strings work as header values too.
    let owned = vec![String::from("a=1; sid=x")];
    assert_eq!(find_session_cookie(&owned, "sid").unwrap(), Some("x"));
    let bytes: [&[u8]; 1] = [b"sid=y"];
    assert_eq!(find_session_cookie(bytes, "sid").unwrap(), Some("y"));
}

#[test]
fn two_session_cookies_are_ambiguous() {
    // Cookie tossing: a sibling domain planted a second cookie with our name.
    assert_eq!(
        find_session_cookie(["sid=a; x=1; sid=b"], "sid"),
        Err(CookieError::Ambiguous { count: 2 })
    );
    assert_eq!(
        find_session_cookie(["sid=a", "sid=a", "sid=c"], "sid"),
        Err(CookieError::Ambiguous { count: 3 }),
        "even identical duplicates"
    );
}
