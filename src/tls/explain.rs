//! What a TLS failure means and what to do about it, in words: the `Display` of
//! [`Error::Tls`](crate::Error::Tls).
//!
//! rustls names a failure for its developers (`InvalidCertificate(NotValidForName)`,
//! `Other(OtherError(CaUsedAsEndEntity))`); a user needs to know what is wrong and what
//! to do. [`Explained`] says both, from the client's side, since a client is what reports
//! a failed handshake as an error (a server's failed handshakes end that connection). The
//! flags named (`--ca FILE`, `--server-name NAME`) are those of torsade's example clients;
//! in code they are [`client_config_with_ca`](super::client_config_with_ca) and the
//! server name given to [`TlsClient::new`](crate::endpoints::TlsClient::new). rustls's
//! own error stays the error's source, for code that matches on it.

use std::fmt;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, Error as TlsError, InconsistentKeys, OtherError};

use super::utc::UtcTime;
use super::verifier::{webpki_error, NotPinned};

/// A rustls error, displayed as what is wrong and what to do.
#[derive(Debug)]
pub(crate) struct Explained<'a>(pub(crate) &'a TlsError);

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TlsError::InvalidCertificate(problem) => certificate(self.0, problem, f),
            TlsError::AlertReceived(alert) => alert_received(*alert, f),
            TlsError::InvalidMessage(_)
            | TlsError::InappropriateMessage { .. }
            | TlsError::InappropriateHandshakeMessage { .. } => write!(
                f,
                "the peer does not speak TLS as expected ({}): is it a plaintext port, or \
                 another protocol?",
                self.0
            ),
            TlsError::PeerIncompatible(why) => write!(
                f,
                "the peer has no TLS version, cipher suite or key exchange in common with \
                 this side ({why:?}): configure one both sides support"
            ),
            TlsError::PeerMisbehaved(why) => {
                write!(f, "the peer broke the TLS protocol ({why:?})")
            }
            TlsError::NoCertificatesPresented => {
                f.write_str("the server presented no certificate: it needs one for TLS")
            }
            TlsError::NoApplicationProtocol => f.write_str(
                "the peer speaks none of the application protocols (ALPN) offered: offer one \
                 it speaks",
            ),
            TlsError::DecryptError => f.write_str(
                "a TLS record did not decrypt: the connection was corrupted or tampered with",
            ),
            TlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => f.write_str(
                "the private key does not belong to the certificate: give the key the \
                 certificate was made for",
            ),
            TlsError::General(text) => f.write_str(text),
            other => write!(f, "{other}"),
        }
    }
}

/// What is wrong with the server's certificate, and what to do.
fn certificate(
    error: &TlsError,
    problem: &CertificateError,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match problem {
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            write!(
                f,
                "the server's certificate is not valid for the name {:?}; ",
                expected.to_str()
            )?;
            if presented.is_empty() {
                f.write_str(
                    "it names no host in a subjectAltName (a name only in its subject's CN \
                     does not count): give the server a certificate with a subjectAltName",
                )
            } else {
                let names: Vec<&str> = presented.iter().map(|name| readable_name(name)).collect();
                write!(
                    f,
                    "it is for {}: connect with a name in the certificate, or give one as \
                     the server name (--server-name NAME)",
                    names.join(", ")
                )
            }
        }
        CertificateError::NotValidForName => f.write_str(
            "the server's certificate is not valid for the name connected to: connect with a \
             name in the certificate, or give one as the server name (--server-name NAME)",
        ),
        CertificateError::UnknownIssuer => f.write_str(
            "the server's certificate is signed by an authority this client does not trust: \
             trust the CA that signed it (--ca FILE), or, if the certificate is self-signed, \
             the certificate itself",
        ),
        CertificateError::ExpiredContext { time, not_after } => write!(
            f,
            "the server's certificate expired on {} (this machine's clock says {}): the \
             server needs a renewed certificate, unless this clock is wrong",
            date(*not_after),
            date(*time)
        ),
        CertificateError::Expired => f.write_str(
            "the server's certificate has expired: the server needs a renewed certificate, \
             unless this machine's clock is wrong",
        ),
        CertificateError::NotValidYetContext { time, not_before } => write!(
            f,
            "the server's certificate is not valid until {} (this machine's clock says {}): \
             check this machine's clock, or give the server a certificate valid now",
            date(*not_before),
            date(*time)
        ),
        CertificateError::NotValidYet => f.write_str(
            "the server's certificate is not valid yet: check this machine's clock, or give \
             the server a certificate valid now",
        ),
        CertificateError::BadSignature => f.write_str(
            "a signature in the server's certificate chain does not verify: a certificate \
             was not signed by the one it names as its issuer (another certificate with the \
             same name as the trusted one?)",
        ),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => f
            .write_str(
                "the server's certificate is not for TLS servers (its extended key usage \
                 lacks serverAuth): the server needs a certificate issued for that",
            ),
        CertificateError::Revoked => f.write_str(
            "the server's certificate was revoked by its CA: the server needs a new one",
        ),
        CertificateError::UnhandledCriticalExtension => f.write_str(
            "the server's certificate has a critical extension this client does not \
             understand, so it cannot be accepted",
        ),
        CertificateError::BadEncoding => {
            f.write_str("a certificate is malformed: it could not be parsed")
        }
        CertificateError::ApplicationVerificationFailure => {
            f.write_str("the application's own check refused the server's certificate")
        }
        CertificateError::Other(OtherError(other)) => {
            if let Some(webpki::Error::CaUsedAsEndEntity) = webpki_error(error) {
                f.write_str(
                    "the server's certificate says CA:TRUE and is not exactly a certificate \
                     this client trusts (only then does a CA's certificate count as a \
                     server's): if it is the one you mean to trust, trust it (--ca FILE, or \
                     pin it); otherwise the server needs a certificate made without CA:TRUE",
                )
            } else if other.downcast_ref::<NotPinned>().is_some() {
                f.write_str(
                    "the server's certificate is not one this client is pinned to: if the \
                     server's certificate changed and you trust the new one, pin it instead",
                )
            } else {
                write!(f, "the server's certificate was refused: {other}")
            }
        }
        other => write!(f, "the server's certificate was refused: {other}"),
    }
}

/// Why the server refused the handshake, from the alert it sent.
fn alert_received(alert: AlertDescription, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let what = match alert {
        AlertDescription::HandshakeFailure => {
            "no TLS version or cipher suite in common, or it wants what this client did not offer"
        }
        AlertDescription::ProtocolVersion => {
            "it speaks none of the TLS versions this client offers"
        }
        AlertDescription::UnrecognisedName => {
            "it has no certificate for the server name this client asked for: check the name"
        }
        AlertDescription::CertificateRequired => "it requires a client certificate: configure one",
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateRevoked
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnknownCA
        | AlertDescription::AccessDenied => "it refused this client's certificate",
        AlertDescription::NoApplicationProtocol => {
            "it speaks none of the application protocols (ALPN) this client offers"
        }
        _ => "see the alert",
    };
    write!(
        f,
        "the server refused the handshake ({alert:?} alert): {what}"
    )
}

/// `DnsName("localhost")` (webpki's form of a presented name) as `localhost`.
fn readable_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(name)
}

/// `time` as a UTC date a person reads.
fn date(time: UnixTime) -> UtcTime {
    UtcTime::from_unix(time.as_secs())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::ServerName;

    use super::*;

    fn explained(error: impl Into<TlsError>) -> String {
        Explained(&error.into()).to_string()
    }

    fn unix(seconds: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(seconds))
    }

    #[test]
    fn a_wrong_name_says_which_names_the_certificate_has_and_what_to_do() {
        let text = explained(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("example.org").unwrap(),
            presented: vec![
                "DnsName(\"localhost\")".to_string(),
                "IpAddress(127.0.0.1)".to_string(),
            ],
        });
        assert_eq!(
            text,
            "the server's certificate is not valid for the name \"example.org\"; it is for \
             localhost, 127.0.0.1: connect with a name in the certificate, or give one as the \
             server name (--server-name NAME)"
        );
        let text = explained(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: Vec::new(),
        });
        assert!(text.contains("subjectAltName"), "{text}");
    }

    #[test]
    fn an_unknown_issuer_says_to_trust_its_ca() {
        let text = explained(CertificateError::UnknownIssuer);
        assert!(
            text.contains("authority this client does not trust"),
            "{text}"
        );
        assert!(text.contains("--ca FILE"), "{text}");
    }

    #[test]
    fn expiry_and_not_yet_valid_give_dates() {
        let text = explained(CertificateError::ExpiredContext {
            time: unix(1_767_225_600),
            not_after: unix(978_307_200),
        });
        assert!(
            text.starts_with(
                "the server's certificate expired on 2001-01-01 00:00:00 UTC (this machine's \
                 clock says 2026-01-01 00:00:00 UTC)"
            ),
            "{text}"
        );
        let text = explained(CertificateError::NotValidYetContext {
            time: unix(0),
            not_before: unix(978_307_200),
        });
        assert!(
            text.starts_with("the server's certificate is not valid until 2001-01-01"),
            "{text}"
        );
    }

    #[test]
    fn a_ca_used_as_the_server_certificate_and_a_pinning_miss_are_explained() {
        let text = explained(CertificateError::Other(OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        ))));
        assert!(text.contains("CA:TRUE"), "{text}");
        let text = explained(CertificateError::Other(OtherError(Arc::new(NotPinned))));
        assert!(text.contains("not one this client is pinned to"), "{text}");
        let text = explained(CertificateError::Other(OtherError(Arc::new(
            webpki::Error::EndEntityUsedAsCa,
        ))));
        assert!(
            text.starts_with("the server's certificate was refused: "),
            "{text}"
        );
    }

    #[test]
    fn alerts_and_protocol_errors_say_what_the_peer_did() {
        let text = explained(TlsError::AlertReceived(AlertDescription::ProtocolVersion));
        assert!(text.starts_with("the server refused the handshake (ProtocolVersion alert)"));
        let text = explained(TlsError::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(text.contains("plaintext port"), "{text}");
    }
}
