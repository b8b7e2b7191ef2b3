//! How a torsade client checks the server's certificate: a chain to the CAs it trusts
//! (rustls's webpki verifier), or a certificate it trusts as itself.
//!
//! `openssl req -x509` (and most "make a self-signed certificate" recipes) marks the
//! certificate `CA:TRUE`. Given to a client as its CA, webpki refuses it as the server's
//! own certificate (`CaUsedAsEndEntity`: a CA is not an end entity), where OpenSSL,
//! Python's `ssl` and Twisted accept it. [`ServerCertificateCheck`] accepts it when, and
//! only when, the server presents exactly a certificate the client was given (byte for
//! byte): the user trusts that very certificate, and the handshake proves the server holds
//! its key. Its name and validity period are still checked; a chain that merely ends at
//! such a certificate is still refused. Every other case goes through webpki unchanged.
//!
//! A pinning check ([`ServerCertificateCheck::pinned`]) trusts only the given
//! certificates, as themselves, with no CA at all.
//!
//! A certificate trusted as itself is not checked for an extended key usage or other
//! constraints: the user chose that certificate, not a CA's policy.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error as TlsError, OtherError,
    RootCertStore, SignatureScheme,
};

use super::validity::Validity;

/// The server-certificate check of torsade's client configurations.
#[derive(Debug)]
pub(crate) struct ServerCertificateCheck {
    /// The chain check over the trusted CAs; `None` when only `trusted_as_themselves`
    /// counts (pinning, or no CA given).
    chains: Option<Arc<WebPkiServerVerifier>>,
    /// Certificates the server may present as its own, byte for byte.
    trusted_as_themselves: Vec<CertificateDer<'static>>,
    /// Whether this is a pinning check: what a refusal says when nothing matched.
    pinning: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertificateCheck {
    /// Trusts chains to `roots` (checked by webpki with `provider`'s algorithms), and
    /// each root as the server's own certificate. With no roots it trusts no server, as
    /// rustls's own verifier would.
    ///
    /// # Errors
    ///
    /// rustls's, if a root is not a usable trust anchor.
    pub(crate) fn trusting(
        roots: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<ServerCertificateCheck, TlsError> {
        let mut store = RootCertStore::empty();
        for root in &roots {
            store.add(root.clone())?;
        }
        Self::trusting_store(store, roots, provider)
    }

    /// [`trusting`](Self::trusting) the anchors of `store`, made from `roots`.
    pub(crate) fn trusting_store(
        store: RootCertStore,
        roots: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<ServerCertificateCheck, TlsError> {
        let algorithms = provider.signature_verification_algorithms;
        let chains = if store.is_empty() {
            None
        } else {
            // Fails only for an empty store (NoRootAnchors), or a bad revocation list (none
            // given here).
            let built = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|error| TlsError::General(error.to_string()))?;
            Some(built)
        };
        Ok(ServerCertificateCheck {
            chains,
            trusted_as_themselves: roots,
            pinning: false,
            algorithms,
        })
    }

    /// Trusts exactly `certificates`, each as the server's own certificate, and nothing
    /// else.
    pub(crate) fn pinned(
        certificates: Vec<CertificateDer<'static>>,
        provider: &CryptoProvider,
    ) -> ServerCertificateCheck {
        ServerCertificateCheck {
            chains: None,
            trusted_as_themselves: certificates,
            pinning: true,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    fn is_trusted_as_itself(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.trusted_as_themselves
            .iter()
            .any(|trusted| trusted.as_ref() == end_entity.as_ref())
    }

    /// The checks a chain would have made of a certificate trusted as itself: its
    /// validity period at `now`, then its names against `server_name`.
    fn verify_as_itself(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        Validity::of(end_entity)
            .ok_or(CertificateError::BadEncoding)?
            .check(now)?;
        verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for ServerCertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(chains) = &self.chains else {
            if self.is_trusted_as_itself(end_entity) {
                return Self::verify_as_itself(end_entity, server_name, now);
            }
            let refusal = if self.pinning {
                CertificateError::Other(OtherError(Arc::new(NotPinned)))
            } else {
                CertificateError::UnknownIssuer
            };
            return Err(refusal.into());
        };
        match chains.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(error)
                if is_ca_used_as_end_entity(&error) && self.is_trusted_as_itself(end_entity) =>
            {
                Self::verify_as_itself(end_entity, server_name, now)
            }
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.chains.as_ref()?.root_hint_subjects()
    }
}

/// Whether webpki refused the server's certificate for being a CA's (`CA:TRUE`).
pub(crate) fn is_ca_used_as_end_entity(error: &TlsError) -> bool {
    matches!(webpki_error(error), Some(webpki::Error::CaUsedAsEndEntity))
}

/// The webpki error rustls passed on as "other", if that is what `error` is.
pub(crate) fn webpki_error(error: &TlsError) -> Option<&webpki::Error> {
    match error {
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
            other.downcast_ref::<webpki::Error>()
        }
        _ => None,
    }
}

/// The server presented a certificate other than the pinned ones.
#[derive(Debug)]
pub(crate) struct NotPinned;

impl fmt::Display for NotPinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the certificate is not one of the pinned certificates")
    }
}

impl std::error::Error for NotPinned {}

// The tests make certificates (rcgen): they need the `test-certificates` feature.
#[cfg(all(test, feature = "test-certificates"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    use super::*;
    use crate::tls::crypto_provider;

    /// A self-signed certificate as `openssl req -x509 -subj /CN=localhost -addext
    /// subjectAltName=DNS:localhost` makes it: `CA:TRUE`, valid 2020 to 2030.
    fn openssl_like(names: &[&str]) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        params.self_signed(&key).unwrap().der().clone()
    }

    /// A CA of its own name, and a certificate it signed for `names` (a CA's own if
    /// `is_ca`).
    fn ca_and_leaf(
        names: &[&str],
        is_ca: bool,
    ) -> (CertificateDer<'static>, CertificateDer<'static>) {
        static CAS: AtomicUsize = AtomicUsize::new(0);
        let serial = CAS.fetch_add(1, Ordering::Relaxed);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("test CA {serial}"));
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        if is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let leaf = params
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap();
        (ca.der().clone(), leaf.der().clone())
    }

    /// 2025-01-01, inside every test certificate's period.
    fn in_2025() -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(1_735_689_600))
    }

    fn at_year(year: i32) -> UnixTime {
        let seconds = (i64::from(year) - 1970) * 31_557_600;
        UnixTime::since_unix_epoch(Duration::from_secs(seconds as u64))
    }

    fn trusting(roots: &[&CertificateDer<'static>]) -> ServerCertificateCheck {
        let roots = roots.iter().map(|root| (*root).clone()).collect();
        ServerCertificateCheck::trusting(roots, crypto_provider()).unwrap()
    }

    fn pinned(certificates: &[&CertificateDer<'static>]) -> ServerCertificateCheck {
        let certificates = certificates.iter().map(|each| (*each).clone()).collect();
        ServerCertificateCheck::pinned(certificates, &crypto_provider())
    }

    fn verify(
        check: &ServerCertificateCheck,
        presented: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &str,
        now: UnixTime,
    ) -> Result<(), TlsError> {
        let name = ServerName::try_from(name).unwrap();
        check
            .verify_server_cert(presented, intermediates, &name, &[], now)
            .map(|_| ())
    }

    fn certificate_error(outcome: Result<(), TlsError>) -> CertificateError {
        match outcome {
            Err(TlsError::InvalidCertificate(problem)) => problem,
            other => panic!("expected an invalid certificate, got {other:?}"),
        }
    }

    #[test]
    fn webpki_alone_refuses_a_self_signed_ca_as_the_servers_own_certificate() {
        // The case this module exists for, so it notices if webpki ever changes.
        let certificate = openssl_like(&["localhost"]);
        let mut store = RootCertStore::empty();
        store.add(certificate.clone()).unwrap();
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), crypto_provider())
                .build()
                .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let refused = webpki
            .verify_server_cert(&certificate, &[], &name, &[], in_2025())
            .unwrap_err();
        assert!(is_ca_used_as_end_entity(&refused), "{refused:?}");
    }

    #[test]
    fn a_trusted_self_signed_ca_is_accepted_as_the_servers_own_certificate() {
        let certificate = openssl_like(&["localhost"]);
        let check = trusting(&[&certificate]);
        assert_eq!(
            verify(&check, &certificate, &[], "localhost", in_2025()),
            Ok(())
        );
    }

    #[test]
    fn a_trusted_self_signed_ca_still_has_its_name_and_period_checked() {
        let certificate = openssl_like(&["localhost"]);
        let check = trusting(&[&certificate]);
        let wrong = verify(&check, &certificate, &[], "example.org", in_2025());
        assert!(matches!(
            certificate_error(wrong),
            CertificateError::NotValidForNameContext { .. }
        ));
        let late = verify(&check, &certificate, &[], "localhost", at_year(2031));
        assert!(matches!(
            certificate_error(late),
            CertificateError::ExpiredContext { .. }
        ));
        let early = verify(&check, &certificate, &[], "localhost", at_year(2019));
        assert!(matches!(
            certificate_error(early),
            CertificateError::NotValidYetContext { .. }
        ));
    }

    #[test]
    fn another_certificate_with_the_same_name_is_refused() {
        // Same subject, issuer and names, another key: not the trusted certificate, so
        // webpki's refusal of a CA as the server's own stands.
        let trusted = openssl_like(&["localhost"]);
        let impostor = openssl_like(&["localhost"]);
        let refused = verify(
            &trusting(&[&trusted]),
            &impostor,
            &[],
            "localhost",
            in_2025(),
        );
        assert!(is_ca_used_as_end_entity(&refused.unwrap_err()));
        let refused = verify(&pinned(&[&trusted]), &impostor, &[], "localhost", in_2025());
        assert!(matches!(
            certificate_error(refused),
            CertificateError::Other(OtherError(other)) if other.is::<NotPinned>()
        ));
    }

    #[test]
    fn a_ca_certificate_signed_by_a_trusted_ca_is_still_refused() {
        // Trusted as a CA, not as itself: the CA it chains to does not make it a server's.
        let (ca, leaf_that_is_a_ca) = ca_and_leaf(&["localhost"], true);
        let check = trusting(&[&ca]);
        let refused = verify(&check, &leaf_that_is_a_ca, &[], "localhost", in_2025());
        assert!(is_ca_used_as_end_entity(&refused.unwrap_err()));
    }

    #[test]
    fn a_chain_to_a_trusted_ca_is_checked_by_webpki_as_before() {
        let (ca, leaf) = ca_and_leaf(&["localhost"], false);
        let check = trusting(&[&ca]);
        assert_eq!(verify(&check, &leaf, &[], "localhost", in_2025()), Ok(()));
        let wrong = verify(&check, &leaf, &[], "example.org", in_2025());
        assert!(matches!(
            certificate_error(wrong),
            CertificateError::NotValidForNameContext { .. }
        ));
        let (stranger, _) = ca_and_leaf(&["localhost"], false);
        let untrusted = verify(&trusting(&[&stranger]), &leaf, &[], "localhost", in_2025());
        assert_eq!(
            certificate_error(untrusted),
            CertificateError::UnknownIssuer
        );
    }

    #[test]
    fn no_roots_trust_no_server() {
        let certificate = openssl_like(&["localhost"]);
        let refused = verify(&trusting(&[]), &certificate, &[], "localhost", in_2025());
        assert_eq!(certificate_error(refused), CertificateError::UnknownIssuer);
    }

    #[test]
    fn pinning_accepts_exactly_the_pinned_certificates_with_their_names_and_periods() {
        let self_signed = openssl_like(&["localhost"]);
        let (ca, leaf) = ca_and_leaf(&["localhost"], false);
        let check = pinned(&[&self_signed, &leaf]);
        for certificate in [&self_signed, &leaf] {
            assert_eq!(
                verify(&check, certificate, &[], "localhost", in_2025()),
                Ok(())
            );
            let wrong = verify(&check, certificate, &[], "example.org", in_2025());
            assert!(matches!(
                certificate_error(wrong),
                CertificateError::NotValidForNameContext { .. }
            ));
        }
        let late = verify(&check, &self_signed, &[], "localhost", at_year(2031));
        assert!(matches!(
            certificate_error(late),
            CertificateError::ExpiredContext { .. }
        ));
        // Pinning a CA pins that certificate, not what it signs.
        let (_, other_leaf) = ca_and_leaf(&["localhost"], false);
        let ca_pinned = pinned(&[&ca]);
        for presented in [&leaf, &other_leaf] {
            let refused = certificate_error(verify(
                &ca_pinned,
                presented,
                std::slice::from_ref(&ca),
                "localhost",
                in_2025(),
            ));
            assert!(
                matches!(&refused, CertificateError::Other(OtherError(other)) if other.is::<NotPinned>()),
                "{refused:?}"
            );
        }
    }
}
