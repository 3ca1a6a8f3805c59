//! Reading script replies (nested arrays of strings and integers).

use redis::Value;
use sesame::{Error, Result};

fn bad(what: &str) -> Error {
    Error::Internal(format!("unexpected redis reply: {what}"))
}

/// The elements of an array reply (nil reads as empty).
pub fn array(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        _ => Err(bad("expected an array")),
    }
}

/// A string reply.
pub fn text(v: &Value) -> Result<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).map_err(|_| bad("not UTF-8")),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Okay => Ok("OK".into()),
        _ => Err(bad("expected a string")),
    }
}

/// A string reply, taking its bytes (no copy).
fn into_text(v: Value) -> Result<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).map_err(|_| bad("not UTF-8")),
        Value::SimpleString(s) => Ok(s),
        other => text(&other),
    }
}

/// An integer reply (or a string holding one).
pub fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => text(other)?.parse().map_err(|_| bad("expected an integer")),
    }
}

/// The field/value pairs of a flat `HGETALL`-style array (or a map reply).
pub fn pairs(v: Value) -> Result<Vec<(String, String)>> {
    if let Value::Map(m) = v {
        return m
            .into_iter()
            .map(|(k, v)| Ok((into_text(k)?, into_text(v)?)))
            .collect();
    }
    let flat = array(v)?;
    if flat.len() % 2 != 0 {
        return Err(bad("odd number of hash fields"));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut values = flat.into_iter();
    while let (Some(k), Some(v)) = (values.next(), values.next()) {
        out.push((into_text(k)?, into_text(v)?));
    }
    Ok(out)
}

/// A list of strings.
pub fn texts(v: Value) -> Result<Vec<String>> {
    array(v)?.iter().map(text).collect()
}

/// A script's status word and the rest of its reply.
pub fn status(v: Value) -> Result<(String, Vec<Value>)> {
    let mut a = array(v)?;
    if a.is_empty() {
        return Err(bad("empty script reply"));
    }
    let rest = a.split_off(1);
    Ok((text(&a[0])?, rest))
}

/// Takes element `i` of a reply, or nil.
pub fn take(rest: &mut [Value], i: usize) -> Value {
    rest.get_mut(i).map(std::mem::take).unwrap_or(Value::Nil)
}
