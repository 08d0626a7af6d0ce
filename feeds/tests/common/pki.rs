//! A throwaway PKI for TLS tests: a CA made here and a server certificate it signed
//! for `localhost` and 127.0.0.1. Shared by the feeds and engine test binaries.

/// The PEM texts of a test PKI.
pub struct TestPki {
    /// The CA's certificate: what a client must trust.
    pub ca: String,
    /// The server's certificate, signed by the CA.
    pub cert: String,
    /// The server's private key.
    pub key: String,
}

/// A fresh CA and server certificate.
pub fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "engine test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    TestPki { ca: ca_cert.pem(), cert: cert.pem(), key: key.serialize_pem() }
}
