//! The image built here without Docker keeps the Dockerfile's runtime contract, so that what
//! runs on the test node is what users build with `docker build`.

use crate::helpers::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The final stage of the Dockerfile: its base image and its USER, ENTRYPOINT and EXPOSE.
struct Contract {
    from: String,
    user: String,
    entrypoint: Vec<String>,
    expose: Vec<String>,
}

fn dockerfile_contract() -> Contract {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    // Continuation lines joined; comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let lines: Vec<&str> = joined.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("FROM "))
        .expect("FROM");
    let from = lines[start].trim().to_string();
    let last_stage = &lines[start + 1..];
    let instr = |name: &str| -> Vec<String> {
        last_stage
            .iter()
            .filter_map(|l| l.trim().strip_prefix(&format!("{name} ")))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let user = instr("USER").pop().expect("USER in the final stage");
    let entrypoint: Vec<String> = serde_json::from_str(
        &instr("ENTRYPOINT")
            .pop()
            .expect("ENTRYPOINT in the final stage"),
    )
    .expect("ENTRYPOINT in exec (JSON) form");
    let expose = instr("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    Contract {
        from,
        user,
        entrypoint,
        expose,
    }
}

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").expect("a sha256 digest"))
}

#[test]
fn image_keeps_the_dockerfile_runtime_contract() {
    let contract = dockerfile_contract();
    // What the image script reproduces of the base: distroless "cc" (glibc, libgcc, CA
    // certificates, no shell), "nonroot" (uid 65532). Another base needs the script changed.
    assert!(
        contract.from.contains("gcr.io/distroless/cc-debian12")
            && contract.from.contains(":nonroot"),
        "the Dockerfile's runtime base changed ({}): update tests/node/operator-image.sh to match",
        contract.from
    );

    let archive = operator_image();
    let layout = Path::new(TMP).join(testenv::unique_namespace("image-layout"));
    std::fs::create_dir_all(&layout).unwrap();
    let ok = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&layout)
        .status()
        .expect("tar");
    assert!(ok.success());
    let read = |p: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(p).expect("blob")).expect("JSON blob")
    };
    let index = read(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1, "one image: {index}");
    assert_eq!(
        manifests[0]["annotations"]["org.opencontainers.image.ref.name"], TAG,
        "{index}"
    );
    let manifest = read(&blob(&layout, manifests[0]["digest"].as_str().unwrap()));
    let config = read(&blob(
        &layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    assert_eq!(config["os"], "linux");
    let c = &config["config"];
    assert_eq!(c["User"], contract.user.as_str(), "USER");
    let entrypoint: Vec<String> = serde_json::from_value(c["Entrypoint"].clone()).unwrap();
    assert_eq!(entrypoint, contract.entrypoint, "ENTRYPOINT");
    assert!(
        c["Cmd"].is_null() || c["Cmd"] == serde_json::json!([]),
        "no CMD: {c}"
    );
    let mut exposed: Vec<String> = c["ExposedPorts"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    exposed.sort();
    let mut expected: Vec<String> = contract
        .expose
        .iter()
        .map(|p| {
            if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            }
        })
        .collect();
    expected.sort();
    assert_eq!(exposed, expected, "EXPOSE");

    // The files: the binary, glibc and libgcc, CA certificates, the nonroot user; no shell.
    let mut files = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let out = Command::new("tar")
            .arg("-tzvf")
            .arg(blob(&layout, layer["digest"].as_str().unwrap()))
            .output()
            .expect("tar -t");
        assert!(out.status.success());
        files.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
    }
    let has = |suffix: &str| files.iter().any(|l| l.ends_with(suffix));
    let entry = contract.entrypoint[0].trim_start_matches('/');
    assert!(
        has(&format!(" {entry}")),
        "the entrypoint {entry} is in the image"
    );
    for needed in [
        "etc/ssl/certs/ca-certificates.crt",
        "libc.so.6",
        "libgcc_s.so.1",
        "etc/passwd",
    ] {
        assert!(has(needed), "{needed} is in the image");
    }
    for shell in [
        "bin/sh",
        "bin/bash",
        "bin/dash",
        "bin/busybox",
        "bin/apt",
        "bin/dpkg",
    ] {
        assert!(
            !files
                .iter()
                .any(|l| l.ends_with(&format!("/{shell}")) || l.ends_with(&format!(" {shell}"))),
            "{shell} is in the image: no shell, no package manager"
        );
    }
    let layer0 = blob(&layout, manifest["layers"][0]["digest"].as_str().unwrap());
    let passwd = Command::new("tar")
        .arg("-xzOf")
        .arg(&layer0)
        .arg("etc/passwd")
        .output()
        .expect("tar -xO");
    let passwd = String::from_utf8_lossy(&passwd.stdout);
    let uid = contract.user.split(':').next().unwrap();
    assert!(
        passwd.lines().any(|l| l.split(':').nth(2) == Some(uid)),
        "the user {uid} is in /etc/passwd: {passwd}"
    );
    let _ = std::fs::remove_dir_all(&layout);
}
