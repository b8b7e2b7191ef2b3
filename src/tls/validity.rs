//! A certificate's validity period (notBefore, notAfter), read from its DER encoding, and
//! the check that a moment falls inside it.
//!
//! webpki checks validity only while it builds a chain, so a certificate trusted as
//! itself (see `verifier`) has its period checked here. The reader walks just the start
//! of `TBSCertificate` (RFC 5280, section 4.1):
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
//!     version [0] EXPLICIT INTEGER OPTIONAL, serialNumber INTEGER,
//!     signature AlgorithmIdentifier, issuer Name,
//!     validity SEQUENCE { notBefore Time, notAfter Time }, ... }, ... }
//! Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
//! ```
//!
//! Only certificates the user gave (and webpki has already parsed) come here, but the
//! reader still refuses anything malformed rather than guessing.

use rustls::pki_types::UnixTime;
use rustls::CertificateError;

use super::utc::UtcTime;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// When a certificate may be used: from `not_before` to `not_after`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Validity {
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
}

impl Validity {
    /// The validity period of the DER-encoded `certificate`; `None` if it cannot be read.
    pub(crate) fn of(certificate: &[u8]) -> Option<Validity> {
        let (tag, certificate) = Der(certificate).read()?;
        if tag != SEQUENCE {
            return None;
        }
        let mut tbs = Der(Der(certificate).expect(SEQUENCE)?);
        let (tag, _) = tbs.read()?;
        if tag == VERSION {
            tbs.expect(INTEGER)?;
        } else if tag != INTEGER {
            return None;
        }
        tbs.expect(SEQUENCE)?; // signature algorithm
        tbs.expect(SEQUENCE)?; // issuer
        let mut validity = Der(tbs.expect(SEQUENCE)?);
        let not_before = time(validity.read()?)?;
        let not_after = time(validity.read()?)?;
        if !validity.0.is_empty() {
            return None;
        }
        Some(Validity {
            not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_before)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_after)),
        })
    }

    /// Whether `now` is inside the period: the error is the one webpki would give
    /// (through rustls) for a certificate in a chain.
    pub(crate) fn check(&self, now: UnixTime) -> Result<(), CertificateError> {
        if now < self.not_before {
            Err(CertificateError::NotValidYetContext {
                time: now,
                not_before: self.not_before,
            })
        } else if now > self.not_after {
            Err(CertificateError::ExpiredContext {
                time: now,
                not_after: self.not_after,
            })
        } else {
            Ok(())
        }
    }
}

/// DER elements one after another in a slice.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and contents (single-byte tags, definite lengths only).
    fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, rest) = rest.split_at(count);
            let length = bytes
                .iter()
                .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
            (length, rest)
        };
        if rest.len() < length {
            return None;
        }
        let (contents, rest) = rest.split_at(length);
        self.0 = rest;
        Some((tag, contents))
    }

    /// The next element's contents, if it has tag `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.read()? {
            (found, contents) if found == tag => Some(contents),
            _ => None,
        }
    }
}

/// A `Time` as seconds since 1970: `YYMMDDHHMMSSZ` (UTCTime; years 50-99 are 19xx) or
/// `YYYYMMDDHHMMSSZ` (GeneralizedTime), as RFC 5280 requires them.
fn time((tag, text): (u8, &[u8])) -> Option<u64> {
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 13 => {
            let short = i64::from(digits(&text[..2])?);
            (
                if short < 50 {
                    2000 + short
                } else {
                    1900 + short
                },
                &text[2..],
            )
        }
        GENERALIZED_TIME if text.len() == 15 => (i64::from(digits(&text[..4])?), &text[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    UtcTime {
        year,
        month: digits(&rest[0..2])?,
        day: digits(&rest[2..4])?,
        hour: digits(&rest[4..6])?,
        minute: digits(&rest[6..8])?,
        second: digits(&rest[8..10])?,
    }
    .to_unix()
}

/// A run of ASCII digits as a number.
fn digits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

// The tests make certificates (rcgen): they need the `test-certificates` feature.
#[cfg(all(test, feature = "test-certificates"))]
mod tests {
    use std::time::Duration;

    use rcgen::{CertificateParams, KeyPair};

    use super::*;

    fn unix(seconds: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(seconds))
    }

    fn certificate(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_the_period_rcgen_wrote_in_utc_time_and_generalized_time() {
        // rcgen writes UTCTime up to 2049 and GeneralizedTime from 2050, as RFC 5280 asks.
        let der = certificate((2000, 1, 1), (2051, 1, 1));
        assert_eq!(
            Validity::of(&der),
            Some(Validity {
                not_before: unix(946_684_800),
                not_after: unix(2_556_144_000),
            })
        );
    }

    #[test]
    fn check_refuses_before_and_after_and_accepts_the_bounds() {
        let validity = Validity {
            not_before: unix(100),
            not_after: unix(200),
        };
        assert_eq!(validity.check(unix(100)), Ok(()));
        assert_eq!(validity.check(unix(200)), Ok(()));
        assert!(matches!(
            validity.check(unix(99)),
            Err(CertificateError::NotValidYetContext { not_before, .. }) if not_before == unix(100)
        ));
        assert!(matches!(
            validity.check(unix(201)),
            Err(CertificateError::ExpiredContext { not_after, .. }) if not_after == unix(200)
        ));
    }

    #[test]
    fn times_in_both_encodings() {
        assert_eq!(time((UTC_TIME, b"010101000000Z")), Some(978_307_200));
        assert_eq!(time((UTC_TIME, b"700101000000Z")), Some(0));
        assert_eq!(
            time((GENERALIZED_TIME, b"20010101000000Z")),
            Some(978_307_200)
        );
        for bad in [
            (UTC_TIME, &b"0101010000Z"[..]),
            (UTC_TIME, b"010101000000+"),
            (UTC_TIME, b"01013100000aZ"),
            (UTC_TIME, b"011301000000Z"),
            (GENERALIZED_TIME, b"010101000000Z"),
            (INTEGER, b"010101000000Z"),
        ] {
            assert_eq!(time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn anything_cut_short_or_not_a_certificate_is_refused() {
        let der = certificate((2020, 1, 1), (2030, 1, 1));
        assert!(Validity::of(&der).is_some());
        for length in 0..200.min(der.len()) {
            assert_eq!(Validity::of(&der[..length]), None, "cut at {length}");
        }
        assert_eq!(Validity::of(b"not DER at all"), None);
        assert_eq!(Validity::of(&[SEQUENCE, 0x85, 0, 0, 0, 0, 0]), None);
    }
}
