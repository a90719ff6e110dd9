//! The original request's target as a proxy reports it, checked before any route sees it: a
//! path that a server could normalize into another one (dot segments, `%2F`, `%2E`, `//`, `\`)
//! is refused, never matched, so a route can only grant what its pattern spells.

use crate::error::{Code, Error, Result};

/// An original request target split into its parts; the path percent-decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The decoded path, `/`-separated, every segment valid UTF-8.
    pub path: String,
    /// The raw query string (without `?`), empty when there is none.
    pub query: String,
}

fn malformed(message: impl Into<String>) -> Error {
    Error::new(Code::MalformedUri, message)
}

impl Target {
    /// Splits `uri` (`/path?query`, as `X-Forwarded-Uri`, `X-Original-URI` or a request line
    /// carries it) and checks the path. A `#` is refused: no request target holds one, and
    /// an app could read what follows it as more path.
    pub fn parse(uri: &str) -> Result<Target> {
        if uri.contains('#') {
            return Err(malformed(
                "the original URI holds a `#`, which no request target has",
            ));
        }
        let (raw, query) = uri.split_once('?').unwrap_or((uri, ""));
        Ok(Target {
            path: decode_path(raw)?,
            query: query.to_string(),
        })
    }

    /// Every value of query parameter `name` (form-decoded), in order.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

/// Checks an original host (`Host`, `X-Forwarded-Host`, `X-Original-Host`) and spells it one
/// way: lower case, one trailing dot dropped (`Admin.Example.COM.` is the host a proxy routed
/// as `admin.example.com`), the port kept. A list (`a, b`), a bad port or a character no
/// host name has is refused, so it can never slip past a route's `host` to a later route.
pub fn normalize_host(host: &str) -> Result<String> {
    let bad = || malformed("the original host is not one host name, address or `host:port`");
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return Err(bad());
        }
        (
            format!("[{addr}]"),
            after
                .strip_prefix(':')
                .map(str::to_string)
                .or_else(|| after.is_empty().then(String::new))
                .ok_or_else(bad)?,
        )
    } else {
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) => (n, p.to_string()),
            None => (host, String::new()),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            return Err(bad());
        }
        (name.to_ascii_lowercase(), port)
    };
    if port.is_empty() {
        if host.ends_with(':') {
            return Err(bad());
        }
        return Ok(name);
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(format!("{name}:{port}"))
}

/// Checks a raw path and decodes its percent-escapes.
pub fn decode_path(raw: &str) -> Result<String> {
    if !raw.starts_with('/') {
        return Err(malformed(format!(
            "the original path must start with `/` (got {} bytes that do not)",
            raw.len()
        )));
    }
    if raw.contains("//") {
        return Err(malformed("the original path holds `//`"));
    }
    if raw.contains('\\') {
        return Err(malformed("the original path holds `\\`"));
    }
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|b| *b == b'%') {
        let at = i + at;
        let hex = bytes.get(at + 1..at + 3).unwrap_or_default();
        if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(malformed(
                "the original path holds a `%` not followed by two hex digits",
            ));
        }
        // An escaped separator or dot would match one route here and mean another path to a
        // server that decodes before it routes.
        if matches!(
            hex,
            [b'2', b'f' | b'F'] | [b'2', b'e' | b'E'] | [b'5', b'c' | b'C'] | [b'0', b'0']
        ) {
            return Err(malformed(format!(
                "the original path holds `%{}`, an escaped `/`, `.`, `\\` or NUL",
                String::from_utf8_lossy(hex)
            )));
        }
        i = at + 3;
    }
    for seg in raw.split('/') {
        if seg == "." || seg == ".." {
            return Err(malformed("the original path holds a dot segment"));
        }
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| malformed("the original path's percent-escapes do not decode to UTF-8"))?;
    if decoded.chars().any(char::is_control) {
        return Err(malformed("the original path holds a control character"));
    }
    Ok(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_a_server_could_normalize_are_refused() {
        for bad in [
            "/api/orgs/acme/../other",
            "/api/orgs/./acme",
            "/api/orgs/acme/..",
            "/api//orgs",
            "/api\\orgs",
            "/api/orgs%2Facme",
            "/api/orgs%2facme",
            "/api/%2E%2E/x",
            "/api/%2e/x",
            "/api/%5c",
            "/api/%00",
            "/api/%ff",
            "/api/%zz",
            "/api/%4",
            "api/orgs",
            "",
            "/api/%0a",
            "/api/orgs/acme#/../../orgs/beta",
            "/api/orgs/acme#",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.code(), Code::MalformedUri, "{bad}");
        }
    }

    #[test]
    fn hosts_are_spelled_one_way_and_lists_refused() {
        for (given, want) in [
            ("admin.example.com", "admin.example.com"),
            ("ADMIN.Example.com.", "admin.example.com"),
            ("admin.example.com.:8080", "admin.example.com:8080"),
            ("127.0.0.1:80", "127.0.0.1:80"),
            ("[::1]:8080", "[::1]:8080"),
            ("[::1]", "[::1]"),
        ] {
            assert_eq!(normalize_host(given).unwrap(), want, "{given}");
        }
        for bad in [
            "admin.example.com, x",
            "admin.example.com:abc",
            "admin.example.com:",
            "admin.example.com..",
            "",
            ".",
            "a b",
            "[::1",
            "[zz]",
            "x:123456",
            "évil.com",
        ] {
            assert_eq!(
                normalize_host(bad).unwrap_err().code(),
                Code::MalformedUri,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_clean_path_is_decoded_and_its_query_kept() {
        let t = Target::parse("/api/orgs/ac%20me/projects?role=admin&x=%C3%A9&x=2").unwrap();
        assert_eq!(t.path, "/api/orgs/ac me/projects");
        assert_eq!(t.query, "role=admin&x=%C3%A9&x=2");
        assert_eq!(t.query_values("x"), ["é", "2"]);
        assert_eq!(t.query_values("role"), ["admin"]);
        assert!(t.query_values("nope").is_empty());
        assert_eq!(Target::parse("/").unwrap().path, "/");
        assert_eq!(Target::parse("/a.b/..c/d..").unwrap().path, "/a.b/..c/d..");
    }
}
