//! Secrets kept out of what sesame prints: a URL's password and secret
//! query parameters, for the start-up banner and the configuration's
//! `Debug` output.

/// Query parameters whose value is hidden: any name containing one of these
/// (case-insensitive) — `password`, `pass`, `pwd`, `secret`, `token`,
/// `key` (`api_key`, `access_key`; also a TLS key's path, which is harmless
/// to hide), `auth`, `credential`, `signature`/`sig`.
const SECRET_PARAMS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "sig",
];

/// The URL with its password and the values of secret-looking query
/// parameters replaced by `***`.
///
/// # Examples
///
/// ```
/// use sesame_server::redact::url;
///
/// assert_eq!(url("postgres://u:pw@db/x?password=pw&sslmode=require"),
///            "postgres://u:***@db/x?password=***&sslmode=require");
/// ```
pub fn url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query.split('&').map(param).collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// `scheme://user:***@host/...` for a URL with a password.
fn userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `name=***` when the name looks secret, else the parameter as it was.
fn param(param: &str) -> String {
    match param.split_once('=') {
        Some((name, _)) if is_secret(name) => format!("{name}=***"),
        _ => param.to_owned(),
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_redacted() {
        assert_eq!(
            url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            url("postgres://db/x?user=u&password=secret&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            url("mysql://db/x?PASSWORD=s&ssl-key=/k.pem&authToken=t&sig=1"),
            "mysql://db/x?PASSWORD=***&ssl-key=***&authToken=***&sig=***"
        );
        assert_eq!(
            url("rediss://:pw@h:6379/0?prefix=app:&connections=2"),
            "rediss://:***@h:6379/0?prefix=app:&connections=2"
        );
        assert_eq!(url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(url("memory://"), "memory://");
        assert_eq!(
            url("sqlite://./data/sesame.db"),
            "sqlite://./data/sesame.db"
        );
        // A parameter without a value, or an empty query, is kept.
        assert_eq!(url("x://h/?password&a=1"), "x://h/?password&a=1");
        assert_eq!(url("x://h/?"), "x://h/?");
    }
}
