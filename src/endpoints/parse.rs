//! Twisted's endpoint strings, split into their parts: [`Description`].
//!
//! `kind:positional:key=value:...`; a `\` escapes the next character (so `\:` is a colon
//! inside a value, as in an IPv6 address). Every error names the whole string, the field,
//! and what was expected.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, Result};

/// An endpoint string taken apart.
#[derive(Debug)]
pub(crate) struct Description<'a> {
    source: &'a str,
    pub(crate) kind: String,
    positional: Vec<String>,
    named: Vec<(String, String)>,
}

impl<'a> Description<'a> {
    /// Splits `source`: the kind, then positional and `key=value` arguments.
    pub(crate) fn parse(source: &'a str) -> Result<Description<'a>> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => current.push(escaped),
                    None => return Err(invalid(source, "(end)", "a character after the final \\")),
                },
                ':' => parts.push(std::mem::take(&mut current)),
                other => current.push(other),
            }
        }
        parts.push(current);
        let mut parts = parts.into_iter();
        let kind = parts.next().unwrap_or_default();
        if kind.is_empty() {
            return Err(invalid(
                source,
                "type",
                "an endpoint type such as tcp, tls, unix",
            ));
        }
        let mut description = Description {
            source,
            kind: kind.to_ascii_lowercase(),
            positional: Vec::new(),
            named: Vec::new(),
        };
        for part in parts {
            match part.split_once('=') {
                Some((key, value)) => description.named.push((key.to_string(), value.to_string())),
                None => description.positional.push(part),
            }
        }
        Ok(description)
    }

    /// The error for `field` of this string, which should have been `expected`.
    pub(crate) fn invalid(&self, field: &str, expected: &str) -> Error {
        invalid(self.source, field, expected)
    }

    /// The value of `key`, or else the `index`th positional argument.
    pub(crate) fn get(&self, key: &str, index: Option<usize>) -> Option<&str> {
        self.named
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .or_else(|| index.and_then(|index| self.positional.get(index).map(String::as_str)))
    }

    /// The value of `key` (or positional `index`), which must be there.
    pub(crate) fn required(&self, key: &str, index: Option<usize>, expected: &str) -> Result<&str> {
        self.get(key, index)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| self.invalid(key, expected))
    }

    /// The value of `key` (or positional `index`) parsed as a `T`, if there.
    pub(crate) fn parsed<T: FromStr>(
        &self,
        key: &str,
        index: Option<usize>,
        expected: &str,
    ) -> Result<Option<T>> {
        match self.get(key, index) {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(key, expected)),
        }
    }

    /// A duration in seconds (fractions allowed), if there.
    pub(crate) fn seconds(&self, key: &str) -> Result<Option<Duration>> {
        match self.parsed::<f64>(key, None, "a number of seconds")? {
            None => Ok(None),
            Some(seconds) => Duration::try_from_secs_f64(seconds)
                .map(Some)
                .map_err(|_| self.invalid(key, "a number of seconds, zero or more")),
        }
    }

    /// Where a port binds: `port` (or the first positional argument) on `interface`,
    /// every IPv4 interface (`0.0.0.0`) unless given. The TCP and UDP forms share it.
    pub(crate) fn bind_address(&self) -> Result<SocketAddr> {
        let port = self
            .parsed::<u16>("port", Some(0), "a port number (0 to 65535)")?
            .ok_or_else(|| self.invalid("port", "a port number (0 to 65535)"))?;
        let interface = self
            .parsed::<IpAddr>(
                "interface",
                None,
                "an IP address (escape IPv6's colons as \\:)",
            )?
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(SocketAddr::new(interface, port))
    }

    /// A path, if there.
    pub(crate) fn path(&self, key: &str, index: Option<usize>) -> Option<PathBuf> {
        self.get(key, index)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    }

    /// Refuses arguments this kind does not take: positional ones past `positional`, and
    /// keys not in `keys`.
    pub(crate) fn only(&self, positional: usize, keys: &[&str]) -> Result<()> {
        if let Some(extra) = self.positional.get(positional) {
            return Err(self.invalid(
                extra,
                &format!(
                    "at most {positional} positional argument(s) for {}",
                    self.kind
                ),
            ));
        }
        if let Some((key, _)) = self
            .named
            .iter()
            .find(|(key, _)| !keys.contains(&key.as_str()))
        {
            return Err(self.invalid(key, &format!("one of: {}", keys.join(", "))));
        }
        Ok(())
    }
}

fn invalid(source: &str, field: &str, expected: &str) -> Error {
    Error::InvalidEndpoint {
        endpoint: source.to_string(),
        field: field.to_string(),
        expected: expected.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_positional_and_named_arguments_and_escapes() {
        let parsed = Description::parse(r"TCP:8000:interface=\:\:1:backlog=50").unwrap();
        assert_eq!(parsed.kind, "tcp");
        assert_eq!(parsed.get("port", Some(0)), Some("8000"));
        assert_eq!(parsed.get("interface", None), Some("::1"));
        assert_eq!(
            parsed.parsed::<u32>("backlog", None, "n").unwrap(),
            Some(50)
        );
        assert!(parsed.only(1, &["port", "interface", "backlog"]).is_ok());
    }

    #[test]
    fn errors_name_the_string_the_field_and_what_was_expected() {
        let parsed = Description::parse("tcp:80:backlog=lots").unwrap();
        let error = parsed
            .parsed::<u32>("backlog", None, "a number of connections")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid endpoint \"tcp:80:backlog=lots\": backlog: expected a number of connections"
        );
        let error = parsed.only(1, &["port", "interface"]).unwrap_err();
        assert!(error
            .to_string()
            .contains("backlog: expected one of: port, interface"));
        assert!(Description::parse("").is_err());
        assert!(Description::parse(r"tcp:80\").is_err());
    }
}
