//! Check 1 (docs/spec.md#verification): a well-formed chain. At most [`MAX_CHAIN_LEN`]
//! certificates, each at most [`MAX_CERT_LEN`] bytes of strict DER without trailing bytes,
//! and every extension allowed by the profile's table ([`profile::extensions`]) with strict
//! DER inside the ones the profile reads.

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{err, Code, VerifyError, MAX_CHAIN_LEN};
use crate::profile::{self, oids, MAX_CERT_LEN};

/// The chain's length: at least the leaf, at most [`MAX_CHAIN_LEN`] certificates.
pub(super) fn check_chain_len(chain: &[CertificateDer<'_>]) -> Result<(), VerifyError> {
    if chain.is_empty() {
        return Err(err(
            Code::Malformed,
            0,
            "the chain is empty: give the leaf first, then its issuing CA",
        ));
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(err(
            Code::Malformed,
            MAX_CHAIN_LEN,
            format!(
                "the chain holds {} certificates, more than the {MAX_CHAIN_LEN} allowed",
                chain.len()
            ),
        ));
    }
    Ok(())
}

/// The certificates of a PEM chain (`CERTIFICATE` blocks only, leaf first), or of one DER
/// certificate. Anything else is [`Code::Malformed`].
pub fn chain_from_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, VerifyError> {
    let malformed = |m: String| VerifyError::new(Code::Malformed, 0, m);
    let text = match crate::profile::input_form(bytes) {
        crate::profile::InputForm::Der => return Ok(vec![CertificateDer::from(bytes.to_vec())]),
        crate::profile::InputForm::Pem(text) => text,
        _ => std::str::from_utf8(bytes).map_err(|_| {
            malformed("not a certificate chain: neither PEM text nor a DER certificate".into())
        })?,
    };
    let blocks = pem::parse_many(text)
        .map_err(|e| malformed(format!("not a certificate chain: invalid PEM ({e})")))?;
    if blocks.is_empty() {
        return Err(malformed(
            "not a certificate chain: no PEM CERTIFICATE block found".into(),
        ));
    }
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            if b.tag() == "CERTIFICATE" {
                Ok(CertificateDer::from(b.into_contents()))
            } else {
                Err(VerifyError::new(
                    Code::Malformed,
                    i,
                    format!(
                        "PEM block {i} is a \"{}\", but a chain holds only CERTIFICATE blocks (leaf first)",
                        b.tag()
                    ),
                ))
            }
        })
        .collect()
}

pub(super) fn not_before(c: &X509Certificate<'_>) -> OffsetDateTime {
    c.validity().not_before.to_datetime()
}

pub(super) fn not_after(c: &X509Certificate<'_>) -> OffsetDateTime {
    c.validity().not_after.to_datetime()
}

/// Check 1 for one certificate: size, strict DER without trailing bytes, every extension
/// allowed by the profile's table and strict DER inside.
pub(super) fn parse_cert<'a>(
    i: usize,
    der: &'a CertificateDer<'_>,
) -> Result<X509Certificate<'a>, VerifyError> {
    match read_cert(i, der) {
        (Some(cert), None) => Ok(cert),
        (_, Some(e)) => Err(e),
        (None, None) => Err(err(Code::Malformed, i, "unreadable certificate")),
    }
}

/// [`parse_cert`], keeping the parsed certificate (when it parses at all) next to why it
/// fails check 1: a candidate issuer that fails is still followed by name when explaining
/// why no path was found.
pub(super) fn read_cert<'a>(
    i: usize,
    der: &'a CertificateDer<'_>,
) -> (Option<X509Certificate<'a>>, Option<VerifyError>) {
    if der.len() > MAX_CERT_LEN {
        let e = err(
            Code::Malformed,
            i,
            format!(
                "certificate {i} is {} bytes, more than the {MAX_CERT_LEN} allowed",
                der.len()
            ),
        );
        return (None, Some(e));
    }
    let (rest, cert) = match X509Certificate::from_der(der) {
        Ok(ok) => ok,
        Err(e) => {
            let e = err(
                Code::Malformed,
                i,
                format!("certificate {i} is not a well-formed DER X.509 certificate: {e}"),
            );
            return (None, Some(e));
        }
    };
    if !rest.is_empty() {
        let e = err(
            Code::Malformed,
            i,
            format!(
                "certificate {i} has {} trailing bytes after its DER",
                rest.len()
            ),
        );
        return (Some(cert), Some(e));
    }
    let e = check_extensions(&cert, i).err();
    (Some(cert), e)
}

/// The presented certificates, parsed (index = position in the chain; `None` when not
/// parsed or unreadable), and those left out of path building with the reason.
#[derive(Default)]
pub(super) struct Bundle<'a> {
    pub(super) parsed: Vec<Option<X509Certificate<'a>>>,
    /// (chain index, why it is not a candidate issuer).
    pub(super) excluded: Vec<(usize, VerifyError)>,
}

impl<'a> Bundle<'a> {
    pub(super) fn leaf(&self) -> &X509Certificate<'a> {
        self.parsed[0]
            .as_ref()
            .expect("the leaf is parsed before anything else")
    }

    pub(super) fn get(&self, i: usize) -> Option<&X509Certificate<'a>> {
        self.parsed.get(i).and_then(Option::as_ref)
    }

    pub(super) fn why_excluded(&self, i: usize) -> Option<&VerifyError> {
        self.excluded.iter().find(|(j, _)| *j == i).map(|(_, e)| e)
    }

    /// The DER of the candidate issuers, for webpki.
    pub(super) fn candidates<'c>(
        &self,
        chain: &'c [CertificateDer<'_>],
    ) -> Vec<CertificateDer<'c>> {
        (1..chain.len())
            .filter(|&i| self.why_excluded(i).is_none())
            .map(|i| CertificateDer::from(chain[i].as_ref()))
            .collect()
    }

    /// The validity of the leaf and of every parsed candidate.
    pub(super) fn candidate_spans(&self) -> Vec<(OffsetDateTime, OffsetDateTime)> {
        self.parsed
            .iter()
            .enumerate()
            .filter(|(i, _)| self.why_excluded(*i).is_none())
            .filter_map(|(_, c)| c.as_ref().map(|c| (not_before(c), not_after(c))))
            .collect()
    }
}

/// The profile's table of processed extensions ([`profile::extensions`]), shared with the
/// lint: criticality, and strict DER inside every extension the profile reads.
pub(super) fn check_extensions(c: &X509Certificate<'_>, depth: usize) -> Result<(), VerifyError> {
    use profile::extensions::ExtensionError;
    match profile::extensions::check_extensions(c) {
        Ok(()) => Ok(()),
        Err(e @ ExtensionError::NotDer { .. }) => Err(err(
            Code::Malformed,
            depth,
            format!("the certificate at depth {depth}: {e}"),
        )),
        Err(ExtensionError::UnknownCritical { dotted }) => Err(err(
            Code::UnknownCriticalExtension,
            depth,
            format!(
                "the certificate at depth {depth} has a critical extension {dotted}{} that this verifier does not process",
                oids::name(&dotted).map(|n| format!(" ({n})")).unwrap_or_default()
            ),
        )),
        Err(e) => Err(err(
            Code::UnknownCriticalExtension,
            depth,
            format!("the certificate at depth {depth}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::testing::{der, leaf_params, now};

    #[test]
    fn a_chain_holds_one_to_max_chain_len_certificates() {
        let e = check_chain_len(&[]).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 0));
        let one = CertificateDer::from(vec![0x30]);
        assert!(check_chain_len(&vec![one.clone(); MAX_CHAIN_LEN]).is_ok());
        let e = check_chain_len(&vec![one; MAX_CHAIN_LEN + 1]).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, MAX_CHAIN_LEN));
    }

    #[test]
    fn strict_der_within_the_size_limit() {
        let good = der(&leaf_params(now()));
        assert!(parse_cert(0, &CertificateDer::from(good.as_slice())).is_ok());

        let mut trailing = good.clone();
        trailing.push(0);
        let e = parse_cert(1, &CertificateDer::from(trailing)).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 1));
        assert!(e.message().contains("1 trailing bytes"), "{e}");

        let e = parse_cert(0, &CertificateDer::from(good[..good.len() - 1].to_vec())).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 0));

        let e = parse_cert(2, &CertificateDer::from(vec![0x30; MAX_CERT_LEN + 1])).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 2));
        assert!(e.message().contains("more than the 16384 allowed"), "{e}");
        // An oversized certificate is not even parsed.
        let big = CertificateDer::from(vec![0x30; MAX_CERT_LEN + 1]);
        let (cert, e) = read_cert(2, &big);
        assert!(cert.is_none() && e.is_some());
    }

    #[test]
    fn an_unknown_critical_extension_is_refused() {
        let mut p = leaf_params(now());
        let mut ext = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
        let der = der(&p);
        let e = parse_cert(0, &CertificateDer::from(der.as_slice())).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::UnknownCriticalExtension, 0));
        assert!(e.message().contains("critical extension 1.2.3.4"), "{e}");
        // The certificate is kept, for explanations, next to why it fails.
        let der = CertificateDer::from(der.as_slice());
        let (cert, e) = read_cert(0, &der);
        assert!(cert.is_some() && e.is_some());
    }

    #[test]
    fn pem_chains_hold_certificate_blocks_only() {
        let good = der(&leaf_params(now()));
        assert_eq!(
            chain_from_pem(&good).unwrap(),
            [CertificateDer::from(good.clone())]
        );
        let block = |tag: &str| pem::encode(&pem::Pem::new(tag, good.clone()));
        let text = block("CERTIFICATE") + &block("CERTIFICATE");
        assert_eq!(chain_from_pem(text.as_bytes()).unwrap().len(), 2);
        let text = block("CERTIFICATE") + &block("PRIVATE KEY");
        let e = chain_from_pem(text.as_bytes()).unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 1));
        let e = chain_from_pem(b"no PEM here").unwrap_err();
        assert_eq!((e.code(), e.depth()), (Code::Malformed, 0));
        assert!(chain_from_pem(&[0xff, 0xfe]).is_err());
    }
}
