//! The HTTP server: a hyper accept loop (so that faults can drop connections, and a restart
//! all of them), the per-request pipeline (down mode, latency, faults, lost answers, request
//! log) and [`Simulator`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::control::{Control, RecordedRequest};
use crate::control_http;
use crate::errors::Reply;
use crate::profile::Profile;
use crate::routes::{self, Route};

/// Request bodies larger than this are refused.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How a simulator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// The API token (`Authorization: Bearer <token>`).
    pub token: String,
    pub profile: Profile,
    /// Start with a fresh install's default objects.
    pub seed: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            token: "sim-token".into(),
            profile: Profile::Current,
            seed: false,
        }
    }
}

/// A running simulator, serving in a background task until [`Simulator::shutdown`] or drop.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    https: bool,
    control: Control,
    stop: watch::Sender<bool>,
    restarts: mpsc::UnboundedSender<Restart>,
    task: JoinHandle<()>,
}

/// A restart asked of the accept loop: how long to stay away, and where to say it is back.
type Restart = (Duration, oneshot::Sender<std::io::Result<()>>);

impl Simulator {
    /// Bind `127.0.0.1:0` and serve in a background tokio task. The server runs on the
    /// calling tokio runtime and stops with it (or on [`Simulator::shutdown`] or drop).
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        Simulator::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Bind `addr` and serve in a background tokio task.
    pub async fn start_on(addr: SocketAddr, cfg: SimConfig) -> std::io::Result<Simulator> {
        Simulator::serve_on(addr, cfg, None).await
    }

    /// Like [`Simulator::start`], but serving HTTPS with the given certificate chain and
    /// private key (PEM), as authentik behind TLS does.
    pub async fn start_tls(
        cfg: SimConfig,
        cert_chain_pem: &str,
        key_pem: &str,
    ) -> std::io::Result<Simulator> {
        let acceptor = tls_acceptor(cert_chain_pem, key_pem)?;
        Simulator::serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg, Some(acceptor)).await
    }

    async fn serve_on(
        addr: SocketAddr,
        cfg: SimConfig,
        tls: Option<TlsAcceptor>,
    ) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let control = Control::new(cfg.token, cfg.profile, cfg.seed);
        let (stop, stop_rx) = watch::channel(false);
        let (restarts, restarts_rx) = mpsc::unbounded_channel();
        let https = tls.is_some();
        let task = tokio::spawn(serve(listener, control.clone(), stop_rx, restarts_rx, tls));
        Ok(Simulator {
            addr,
            https,
            control,
            stop,
            restarts,
            task,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS; no trailing slash, no `/api/v3`).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process access to the control interface.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// A restart that keeps the data, as authentik's server restarted on its database: every
    /// open connection is dropped (a request in flight gets no answer; one already carried
    /// out stays done), the port refuses connections for `down_for`, then the simulator
    /// serves again on the same address with the same state, event log and control settings.
    /// Returns once it accepts again.
    pub async fn restart(&self, down_for: Duration) -> std::io::Result<()> {
        let (done, back) = oneshot::channel();
        let gone = || std::io::Error::other("the simulator has stopped");
        self.restarts.send((down_for, done)).map_err(|_| gone())?;
        back.await.map_err(|_| gone())?
    }

    /// Stop accepting, let in-flight requests finish (up to 2 s), then return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the simulator")
    }
}

impl std::error::Error for DropConnection {}

fn tls_acceptor(cert_chain_pem: &str, key_pem: &str) -> std::io::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let certs = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| invalid(format!("key PEM: {e}")))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// What ended a wait of the accept loop.
enum Next {
    Accepted(std::io::Result<(tokio::net::TcpStream, SocketAddr)>),
    Restart(Restart),
    Stop,
}

async fn serve(
    listener: TcpListener,
    control: Control,
    mut stop: watch::Receiver<bool>,
    mut restarts: mpsc::UnboundedReceiver<Restart>,
    tls: Option<TlsAcceptor>,
) {
    let router = control_http::router(control.clone());
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    // Bumped by a restart: every connection task sees it and drops its connection.
    let (cut, _) = watch::channel(0u64);
    let addr = listener.local_addr();
    let mut listener = Some(listener);
    while let Some(open) = listener.as_ref() {
        let next = tokio::select! {
            accepted = open.accept() => Next::Accepted(accepted),
            Some(restart) = restarts.recv() => Next::Restart(restart),
            // A send or a dropped Simulator both stop the loop.
            _ = stop.changed() => Next::Stop,
        };
        match next {
            Next::Accepted(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                let (control, router) = (control.clone(), router.clone());
                let svc = service_fn(move |req| pipeline(control.clone(), router.clone(), req));
                let mut cut = cut.subscribe();
                match &tls {
                    None => {
                        let conn = graceful.watch(
                            builder
                                .serve_connection(TokioIo::new(stream), svc)
                                .into_owned(),
                        );
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = conn => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                    Some(acceptor) => {
                        let (acceptor, builder) = (acceptor.clone(), builder.clone());
                        // The handshake runs in the connection's task, so a slow or failing
                        // client never holds up the accept loop.
                        tokio::spawn(async move {
                            let serve = async {
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    let _ =
                                        builder.serve_connection(TokioIo::new(stream), svc).await;
                                }
                            };
                            tokio::select! {
                                _ = serve => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                }
            }
            Next::Accepted(Err(e)) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Next::Restart((down_for, done)) => {
                cut.send_modify(|n| *n += 1);
                // Closed for the whole pause: connecting is refused, as to a server that is
                // not running.
                listener = None;
                tokio::time::sleep(down_for).await;
                let back = match &addr {
                    Ok(addr) => rebind(*addr).await,
                    Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                };
                match back {
                    Ok(l) => {
                        listener = Some(l);
                        let _ = done.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                    }
                }
            }
            Next::Stop => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
    }
}

/// Binds `addr` again, retrying for a while (another process may hold it for a moment).
async fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if tries >= 100 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One request: `/_sim/` goes to the control routes; everything else through down mode,
/// latency, faults and the API, and into the log.
async fn pipeline(
    control: Control,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let path = req.uri().path().to_string();
    if path == "/_sim" || path.starts_with("/_sim/") {
        let resp: Result<Response<Body>, Infallible> = router.oneshot(req.map(Body::new)).await;
        return Ok(resp.unwrap_or_else(|e| match e {}));
    }
    if control.is_down() {
        return Err(DropConnection);
    }
    let method = req.method().as_str().to_string();
    let head_only = method == "HEAD";
    let query = req.uri().query().map(str::to_string);
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Ok(Reply::detail(413, "Request body too large.").into_response(head_only)),
    };
    if let Some(d) = control.latency_now() {
        tokio::time::sleep(d).await;
    }
    let Some(api_path) = path.strip_prefix("/api/v3/") else {
        return Ok(Reply::unrouted(&method).into_response(head_only));
    };
    let route = Route::parse(api_path);
    let template = route
        .as_ref()
        .map_or_else(|| api_path.to_string(), Route::template);
    control.count(format!("{method} {template}"));
    let record = |status: u16| {
        control.record(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: serde_json::from_slice(&bytes).ok(),
            status,
            route: template.clone(),
        })
    };
    if let Some(fault) = control.fire_fault(api_path, &method) {
        return match fault.reply() {
            Some(reply) => {
                record(reply.status);
                Ok(reply.into_response(head_only))
            }
            None => {
                record(0);
                Err(DropConnection)
            }
        };
    }
    // Decided before the request runs, carried out after: its changes are made either way.
    let lose_answer = control.fire_lost_answer(api_path, &method);
    // Capacity mode: wait for a worker, and hold it for the request's service time.
    let workers = control.workers();
    let _worker = match &workers {
        Some(w) => w.free.acquire().await.ok(),
        None => None,
    };
    let reply = routes::handle(
        &control,
        &method,
        api_path,
        route.as_ref(),
        query.as_deref(),
        &parts.headers,
        &bytes,
    );
    if let Some(w) = &workers {
        tokio::time::sleep(w.capacity.service_time(&method, &template, &reply)).await;
    }
    if lose_answer {
        record(0);
        return Err(DropConnection);
    }
    record(reply.status);
    Ok(reply.into_response(head_only))
}
