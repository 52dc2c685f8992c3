//! Certificates and keys: a throw-away CA, the kube-apiserver's serving certificate, the admin
//! client certificate and the service-account signing key. The CA and leaf helpers are shared
//! with [`LoopbackTls`](crate::LoopbackTls).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::error::Error;
use crate::process::{make_private_dir, write_private};

/// A fresh self-signed CA (ECDSA P-256) that can issue certificates.
pub(crate) struct Ca {
    /// PEM of the CA certificate.
    pub(crate) pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A CA named `CN=common_name` with `key_usages`, unconstrained path length.
    pub(crate) fn generate(
        common_name: &str,
        key_usages: Vec<KeyUsagePurpose>,
    ) -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = key_usages;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Signs `params` for a fresh key pair; returns `(certificate PEM, PKCS#8 key PEM)`.
    pub(crate) fn issue(
        &self,
        params: &CertificateParams,
    ) -> Result<(String, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// Parameters of an end-entity certificate: `CN=common_name`, the subject alternative names
/// `dns_names` then `ips`, key usages digital signature and key encipherment, and `usage`.
pub(crate) fn leaf_params(
    common_name: &str,
    dns_names: &[&str],
    ips: &[Ipv4Addr],
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams, rcgen::Error> {
    let mut params =
        CertificateParams::new(dns_names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>())?;
    for &ip in ips {
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(ip)));
    }
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    Ok(params)
}

/// The PEM texts a control plane needs (written to `pki/` in its directory).
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) serving_cert_pem: String,
    pub(crate) serving_key_pem: String,
    pub(crate) admin_cert_pem: String,
    pub(crate) admin_key_pem: String,
    pub(crate) sa_public_pem: String,
    pub(crate) sa_private_pem: String,
}

impl Pki {
    pub(crate) fn generate() -> Result<Pki, Error> {
        let ca = Ca::generate(
            "testenv-ca",
            vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ],
        )?;

        let mut serving = leaf_params(
            "kube-apiserver",
            &[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            // 10.0.0.1: the `kubernetes` Service's IP in --service-cluster-ip-range.
            &[Ipv4Addr::LOCALHOST, Ipv4Addr::new(10, 0, 0, 1)],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        serving.use_authority_key_identifier_extension = true;
        let (serving_cert_pem, serving_key_pem) = ca.issue(&serving)?;

        let mut admin = leaf_params(
            "testenv-admin",
            &[],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.use_authority_key_identifier_extension = true;
        let (admin_cert_pem, admin_key_pem) = ca.issue(&admin)?;

        let sa_key = KeyPair::generate()?;
        Ok(Pki {
            ca_pem: ca.pem,
            serving_cert_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
            sa_public_pem: sa_key.public_key_pem(),
            sa_private_pem: sa_key.serialize_pem(),
        })
    }

    /// Creates the private folder `pki_dir` and writes the files kube-apiserver is started
    /// with: `ca.crt`, `apiserver.{crt,key}`, `admin.{crt,key}`, `sa.{pub,key}`.
    pub(crate) fn write_to(&self, pki_dir: &Path) -> Result<(), Error> {
        make_private_dir(pki_dir)?;
        for (name, content) in [
            ("ca.crt", &self.ca_pem),
            ("apiserver.crt", &self.serving_cert_pem),
            ("apiserver.key", &self.serving_key_pem),
            ("admin.crt", &self.admin_cert_pem),
            ("admin.key", &self.admin_key_pem),
            ("sa.pub", &self.sa_public_pem),
            ("sa.key", &self.sa_private_pem),
        ] {
            write_private(&pki_dir.join(name), content)?;
        }
        Ok(())
    }
}
