//! A throwaway CA and a server certificate for 127.0.0.1 and localhost, for tests of TLS
//! servers on loopback (e.g. the authentik simulator behind HTTPS).

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use std::net::Ipv4Addr;

use crate::pki::{Ca, leaf_params};

/// PEM texts of a fresh CA and a loopback server certificate it signed.
#[derive(Clone, Debug)]
pub struct LoopbackTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl LoopbackTls {
    pub fn generate(ca_name: &str) -> Result<LoopbackTls, rcgen::Error> {
        let ca = Ca::generate(
            ca_name,
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
        )?;
        let params = leaf_params(
            "localhost",
            &["localhost"],
            &[Ipv4Addr::LOCALHOST],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (cert_pem, key_pem) = ca.issue(&params)?;
        Ok(LoopbackTls {
            ca_pem: ca.pem,
            cert_pem,
            key_pem,
        })
    }
}
