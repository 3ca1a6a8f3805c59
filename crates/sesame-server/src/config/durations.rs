//! Durations as people write them: `"250ms"`, `"30s"`, `"15m"`, `"12h"`,
//! `"7d"`, or a bare number of seconds.
//!
//! [`Dur`] also serializes back to that form (the largest unit that divides
//! it), which is how [`super::environment`] learns that a duration setting is
//! written as text.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written as `"30s"`, `"15m"`, `"12h"`, `"7d"`, `"250ms"` or a
/// number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("not a duration (e.g. \"30s\", \"15m\", \"12h\")")
        })? {
            Raw::Secs(s) => Ok(Dur(Duration::from_secs(s))),
            Raw::Text(t) => parse_duration(&t)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

/// Units from the largest down, with their length in milliseconds.
const UNITS: [(&str, u128); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses `"30s"`, `"15m"`, `"12h"`, `"7d"`, `"250ms"` or plain seconds.
///
/// # Errors
/// A message saying what is wrong: not a number, an unknown unit, or a
/// duration too long to represent.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. \"30s\", \"15m\", \"12h\")"))?;
    let unit = match unit.trim() {
        "" => "s",
        other => other,
    };
    let Some((_, mult)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!(
            "unknown duration unit {unit:?} (use ms, s, m, h or d)"
        ));
    };
    u64::try_from(*mult)
        .ok()
        .and_then(|m| n.checked_mul(m))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// The shortest exact text for `d` in the largest unit that divides it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let (name, len) = UNITS
        .iter()
        .find(|(_, len)| ms.is_multiple_of(*len))
        .copied()
        .unwrap_or(("ms", 1));
    format!("{}{name}", ms / len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("999999999999999999d").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["0s", "250ms", "1500ms", "30s", "90s", "15m", "12h", "7d"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
