//! `SESAME_*` environment variables, derived from the settings themselves.
//!
//! Nothing here lists a setting. [`settings`] serializes a complete
//! [`Config`] (every optional table filled in) to TOML and walks it: each
//! leaf is a setting, its dotted path is its name (`policy.idle_timeout`),
//! `SESAME_` + that name in upper case with `_` for `.` is its variable
//! (`SESAME_POLICY_IDLE_TIMEOUT`), and the type of its value says how the
//! variable's text is read ([`Kind`]). A field added to a section therefore
//! has its variable at once. Arrays of tables (`[[api_keys]]`) cannot be
//! written in one variable and have none.

use toml::{Table, Value};

use super::{Config, ConfigError};

/// How a setting is written in an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, as is (durations, URLs, choices).
    Str,
    /// A whole number.
    Int,
    /// A float.
    Float,
    /// `true`/`1`/`yes` or `false`/`0`/`no`.
    Bool,
    /// Comma-separated text.
    List,
}

/// One setting that an environment variable can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSetting {
    /// The dotted name (`policy.idle_timeout`).
    pub setting: String,
    /// How its variable is read.
    pub kind: Kind,
}

impl EnvSetting {
    /// The variable: `SESAME_POLICY_IDLE_TIMEOUT`.
    pub fn var(&self) -> String {
        env_name(&self.setting)
    }
}

/// The environment variable of a dotted setting name.
pub fn env_name(setting: &str) -> String {
    format!("SESAME_{}", setting.replace('.', "_").to_uppercase())
}

/// Every setting an environment variable can set, in the order of the
/// config's fields.
pub fn settings() -> Vec<EnvSetting> {
    let mut out = Vec::new();
    // A Config serializes unless a field's Serialize fails, which none of
    // ours does; an empty list would fail every test that reads a variable.
    if let Ok(Value::Table(table)) = Value::try_from(Config::schema()) {
        leaves("", &table, &mut out);
    }
    out
}

fn leaves(prefix: &str, table: &Table, out: &mut Vec<EnvSetting>) {
    for (key, value) in table {
        let setting = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let kind = match value {
            Value::Table(inner) => {
                leaves(&setting, inner, out);
                continue;
            }
            Value::Array(items) if items.iter().any(Value::is_table) => continue,
            Value::Array(_) => Kind::List,
            Value::String(_) | Value::Datetime(_) => Kind::Str,
            Value::Integer(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Boolean(_) => Kind::Bool,
        };
        out.push(EnvSetting { setting, kind });
    }
}

/// Sets, in `table`, every setting whose variable `env` knows.
///
/// # Errors
/// [`ConfigError`] naming the variable whose text is not of its kind.
pub fn apply(table: &mut Table, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    for entry in settings() {
        let var = entry.var();
        let Some(raw) = env(&var) else { continue };
        let value = parse(&var, entry.kind, raw)?;
        set_path(table, &entry.setting, value);
    }
    Ok(())
}

fn parse(var: &str, kind: Kind, raw: String) -> Result<Value, ConfigError> {
    Ok(match kind {
        Kind::Str => Value::String(raw),
        Kind::Int => Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| ConfigError::new(var, format!("{raw:?} is not an integer")))?,
        ),
        Kind::Float => Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| ConfigError::new(var, format!("{raw:?} is not a number")))?,
        ),
        Kind::Bool => Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(ConfigError::new(var, format!("{raw:?} is not true/false"))),
        }),
        Kind::List => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
    })
}

/// Sets the dotted `path` in `table`, making the tables on the way.
pub fn set_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut cur = table;
    for part in parts {
        let entry = cur
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        cur = match entry {
            Value::Table(t) => t,
            _ => return,
        };
    }
    cur.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_setting_has_one_variable_of_the_right_kind() {
        let all = settings();
        let find = |name: &str| all.iter().find(|s| s.setting == name).map(|s| s.kind);
        assert_eq!(find("listen"), Some(Kind::Str));
        assert_eq!(find("policy.idle_timeout"), Some(Kind::Str));
        assert_eq!(find("policy.max_sessions_per_user"), Some(Kind::Int));
        assert_eq!(find("policy.bind_user_agent"), Some(Kind::Bool));
        assert_eq!(find("policy.bind_hints"), Some(Kind::List));
        assert_eq!(find("cookie.keys"), Some(Kind::List));
        assert_eq!(find("webhook.url"), Some(Kind::Str));
        assert_eq!(find("store"), Some(Kind::Str));
        assert_eq!(find("api_keys"), None, "arrays of tables have no variable");
        let vars: HashSet<String> = all.iter().map(EnvSetting::var).collect();
        assert_eq!(vars.len(), all.len(), "two settings share a variable");
        assert!(vars.contains("SESAME_POLICY_IDLE_TIMEOUT"));
    }
}
