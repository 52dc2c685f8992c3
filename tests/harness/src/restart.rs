//! Faults a control plane can be put through while it runs: a kube-apiserver restarted on the
//! same port, certificates and etcd (the data stays), and etcd compacted (the history a watch
//! resumes from is gone).

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::control_plane::ControlPlane;
use crate::error::Error;
use crate::launch::start_apiserver;

/// How a running kube-apiserver is stopped before it is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: a crash; open connections are reset.
    Kill,
    /// SIGTERM, as on a rolling restart: it closes its watches and drains its requests.
    /// Killed after 60 s if it has not exited.
    Term,
}

impl ControlPlane {
    /// Stops kube-apiserver and starts it again on the same port, with the same certificates
    /// and the same etcd (every object and resourceVersion stays); returns once `/readyz` is
    /// ok, with how long the apiserver was gone. Clients with the kubeconfig reconnect as to
    /// any restarted server; their watches start again, from a watch cache that begins at
    /// etcd's current revision.
    pub fn restart_apiserver(&self, stop: Stop) -> Result<Duration, Error> {
        let began = Instant::now();
        let mut res = self.resources();
        if let Some(i) = res.procs.iter().position(|p| p.name == "kube-apiserver") {
            let mut p = res.procs.remove(i);
            if stop == Stop::Term {
                // SAFETY: signalling a child we have not reaped yet.
                unsafe { libc::kill(p.child.id() as libc::pid_t, libc::SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(60);
                while p.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        let deadline = Instant::now() + self.start_timeout;
        let result = start_apiserver(
            &mut res,
            self.dir(),
            self.bin_dir(),
            &self.ports,
            &self.options,
            deadline,
        );
        self.set_pids(res.procs.iter().map(|p| (p.name, p.child.id())).collect());
        result.map(|()| began.elapsed())
    }

    /// Compacts etcd's history up to its current revision (physically), as the apiserver's
    /// own compactor does every five minutes: a watch or list that asks for an older
    /// resourceVersion from etcd is then answered 410 Gone ("too old resource version").
    /// Returns the revision compacted to.
    pub fn compact_etcd(&self) -> Result<i64, Error> {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.ports.etcd_client);
        // Any read answers with the current revision in its header; "AA==" is the key "\0".
        let range = etcd_call(addr, "/v3/kv/range", r#"{"key":"AA==","limit":1}"#)?;
        let revision = range["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse::<i64>().ok())
            .ok_or_else(|| etcd_error(format!("no revision in {range}")))?;
        let body = format!(r#"{{"revision":"{revision}","physical":true}}"#);
        etcd_call(addr, "/v3/kv/compaction", &body)?;
        Ok(revision)
    }
}

fn etcd_error(message: String) -> Error {
    Error::Io {
        context: "compacting etcd".into(),
        source: std::io::Error::other(message),
    }
}

/// A POST to etcd's JSON gateway; the answer's body, parsed.
fn etcd_call(addr: SocketAddr, path: &str, body: &str) -> Result<serde_json::Value, Error> {
    let io = |e: std::io::Error| etcd_error(format!("{path}: {e}"));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(io)?;
    // HTTP/1.0: the answer ends with the connection, never chunked.
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut response = String::new();
    s.read_to_string(&mut response).map_err(io)?;
    let (head, text) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        != Some("200")
    {
        return Err(etcd_error(format!("{path}: {response}")));
    }
    serde_json::from_str(text).map_err(|e| etcd_error(format!("{path}: {e}: {text}")))
}
