//! Kubeconfig texts and kubectl invocations pointed at one.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::launch::arg;
use crate::pki::Pki;

/// `kubectl --kubeconfig <kubeconfig> --cache-dir <dir>/kubectl-cache`; add the arguments.
pub(crate) fn kubectl_command(bin_dir: &Path, kubeconfig: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin_dir.join("kubectl"));
    cmd.arg(arg("--kubeconfig=", kubeconfig))
        .arg(arg("--cache-dir=", &dir.join("kubectl-cache")));
    cmd
}

/// The kubeconfig text, with one user `user` whose `user:` entries are `user_fields` (YAML
/// lines indented by four spaces; empty for a user without credentials).
pub(crate) fn kubeconfig_yaml(
    server_url: &str,
    ca_pem: &str,
    user: &str,
    user_fields: &str,
) -> String {
    let user_fields = if user_fields.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{user_fields}")
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {server_url}\n    \
         certificate-authority-data: {ca}\ncontexts:\n- name: testenv\n  context:\n    cluster: testenv\n    \
         user: {user}\n    namespace: default\ncurrent-context: testenv\nusers:\n- name: {user}\n  user:{user_fields}",
        ca = b64(ca_pem),
    )
}

/// The `user:` entries of the admin (client certificate and key, embedded).
pub(crate) fn admin_user_fields(pki: &Pki) -> String {
    format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pki.admin_cert_pem),
        b64(&pki.admin_key_pem)
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_without_credentials() {
        let y = kubeconfig_yaml("https://127.0.0.1:1", "CA", "none", "");
        assert!(y.ends_with("users:\n- name: none\n  user: {}\n"), "{y}");
    }
}
