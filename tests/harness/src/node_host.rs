//! What the node tier changes on this machine, and the one script that puts it all back.
//!
//! The script is written before anything is changed, with every value it needs, into the node's
//! folder. It runs from whichever comes first: [`Node::stop`](crate::Node::stop) (or drop), the
//! detached watcher once the test process is gone, or the next node start on this machine when
//! both of those were killed. It is idempotent.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The bridge the pods are attached to (fixed: one node tier per machine, see the lock).
pub(crate) const BRIDGE: &str = "testenv0";
/// The pods' subnet and the bridge's (the host's) address in it.
pub(crate) const POD_SUBNET: &str = "10.244.0.0/24";
pub(crate) const HOST_IP: [u8; 4] = [10, 244, 0, 1];
/// The `kubernetes` Service (first address of the control plane's service range, already in
/// the apiserver's serving certificate); pods reach the apiserver there.
pub(crate) const SERVICE_IP: &str = "10.0.0.1";

/// Kernel settings the kubelet changes at start (its "kernel tunables").
const SYSCTLS: [&str; 6] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];

/// Host folders the kubelet, containerd or the CNI plugins create at fixed places whatever
/// their configuration says; removed again when they were not there before.
const HOST_PATHS: [&str; 10] = [
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/run/netns",
    "/run/kubernetes",
    "/var/lib/containerd",
    "/opt/containerd",
    "/etc/cni",
];

/// The DNAT rule (`iptables -t nat` arguments after the chain) that sends the pods' traffic for
/// the `kubernetes` Service to the apiserver's loopback port.
pub(crate) fn nat_rule(apiserver_port: u16) -> Vec<String> {
    [
        "PREROUTING",
        "-i",
        BRIDGE,
        "-d",
        &format!("{SERVICE_IP}/32"),
        "-p",
        "tcp",
        "--dport",
        "443",
        "-m",
        "comment",
        "--comment",
        "testenv-node",
        "-j",
        "DNAT",
        "--to-destination",
        &format!("127.0.0.1:{apiserver_port}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The cgroup v1 hierarchies (folders of `/sys/fs/cgroup` with a `cgroup.procs`), except the
/// cgroup v2 one of a hybrid layout.
pub(crate) fn hierarchies() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name() != "unified" && p.join("cgroup.procs").is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The cleanup script for the node in `dir`, whose cgroups are named `cgroup` (in every
/// hierarchy) and whose DNAT rule goes to `apiserver_port`. Reads the machine's current state
/// (sysctls, which host folders exist), so it must be written before anything starts.
pub(crate) fn cleanup_script(dir: &Path, cgroup: &str, apiserver_port: u16) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let dir_s = dir.display().to_string();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"#!/bin/sh
# Written by testenv when it started a node tier in this folder: puts back everything that
# node tier changed on this machine. Idempotent; exits non-zero when something is left.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
dir={dir}
cgroup={cgroup}
status=0
left() {{ echo "testenv node cleanup: left behind: $*" >&2; status=1; }}

# 1. Every process of the node tier is in its cgroup: the kubelet, the controller manager,
#    the scheduler, containerd, its shims and every container of every pod.
procs() {{ find "/sys/fs/cgroup/pids/$cgroup" -name cgroup.procs -exec cat {{}} + 2>/dev/null; }}
i=0
while pids=$(procs) && [ -n "$pids" ]; do
  kill -KILL $pids 2>/dev/null
  i=$((i + 1))
  if [ $i -ge 300 ]; then left processes $pids; break; fi
  sleep 0.1
done

# 2. Mounts under the folder, deepest first: pod volumes, container roots, sandbox /dev/shm,
#    network namespaces, the kubelet's bind mount of its root.
for round in 1 2 3 4 5; do
  mounts=$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {{ print $5 }}' /proc/self/mountinfo | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount -l "$m" 2>/dev/null; done
done
[ -n "$mounts" ] && left mounts $mounts

# 3. The cgroups, children first, in every hierarchy.
for h in /sys/fs/cgroup/*; do
  [ -d "$h/$cgroup" ] || continue
  find "$h/$cgroup" -depth -type d -exec rmdir {{}} + 2>/dev/null
  [ -d "$h/$cgroup" ] && left cgroup "$h/$cgroup"
done

# 4. The network: the NAT rule and the bridge (the pods' veths went with their namespaces).
while iptables -w -t nat -D {rule} 2>/dev/null; do :; done
iptables -w -t nat -C {rule} 2>/dev/null && left the NAT rule
if ip link show {bridge} >/dev/null 2>&1; then
  ip link delete {bridge} || left bridge {bridge}
fi
"#,
        dir = q(&dir_s),
        cgroup = q(cgroup),
        rule = nat_rule(apiserver_port)
            .iter()
            .map(|a| q(a))
            .collect::<Vec<_>>()
            .join(" "),
        bridge = BRIDGE,
    );
    // iptables (its nf_tables flavour) creates the `nat` table on first use and never removes
    // it: remove it again if it was not there and holds no rule now.
    let nat_table_existed = std::process::Command::new("nft")
        .args(["list", "table", "ip", "nat"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_or(true, |st| st.success());
    if !nat_table_existed {
        s.push_str(
            "iptables-save -t nat 2>/dev/null | grep -q '^-A' || nft delete table ip nat 2>/dev/null\n",
        );
    }
    s.push_str("\n# 5. The kernel settings the kubelet changed.\n");
    for key in SYSCTLS {
        let path = format!("/proc/sys/{key}");
        if let Ok(value) = fs::read_to_string(&path) {
            let value = value.trim();
            let _ = writeln!(
                s,
                "[ \"$(cat {path})\" = {v} ] || echo {v} > {path} || left sysctl {key}",
                v = q(value)
            );
        }
    }
    s.push_str("\n# 6. Host folders that were not there before.\n");
    for p in HOST_PATHS {
        if fs::symlink_metadata(p).is_err() {
            let _ = writeln!(s, "rm -rf -- {p}; [ -e {p} ] && left {p}", p = q(p));
        }
    }
    s.push_str("\n# 7. The node's folder.\nrm -rf -- \"$dir\"\nexit $status\n");
    s
}
