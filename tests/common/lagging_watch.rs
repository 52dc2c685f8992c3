//! A Kubernetes client whose watches of one resource lag: each watch event reaches the
//! operator `delay` after the one before it, as when the informer falls behind under load.
//! Its own writes then come back through the watch long after the reconcile that made
//! them, so the next reconcile runs on a version older than the one it wrote: the stale
//! cache that a busy operator meets by chance, made to happen every time.

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use kube::client::{Body, ClientBuilder};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Layer, Service};

/// A client of `config` whose watches of `plural` (e.g. "passwordstages") lag by `delay`
/// per event, and how many times it has read one object of `plural` (what the operator does
/// when it finds its view of a resource stale).
pub fn client(
    config: kube::Config,
    plural: &'static str,
    delay: Duration,
) -> (kube::Client, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let layer = Lagging {
        plural,
        delay,
        list_delay: Duration::ZERO,
        metadata_too: true,
        reads: reads.clone(),
    };
    let client = ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&layer)
        .build();
    (client, reads)
}

/// Like [`client`], but only watches of whole objects lag (what the informer caches are
/// filled from); watches of their metadata (what wakes the resources that refer to them)
/// do not: a referrer is woken before the cache it reads the referenced pk from has caught up.
pub fn cache_only(config: kube::Config, plural: &'static str, delay: Duration) -> kube::Client {
    let layer = Lagging {
        plural,
        delay,
        list_delay: Duration::ZERO,
        metadata_too: false,
        reads: Arc::default(),
    };
    ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&layer)
        .build()
}

/// A client of `config` whose lists of `plural` are answered `delay` late (watches are
/// not): the informer cache of that kind gets its first list long after the others, as one
/// of many caches of a replica that has just become leader.
pub fn slow_lists(config: kube::Config, plural: &'static str, delay: Duration) -> kube::Client {
    let layer = Lagging {
        plural,
        delay: Duration::ZERO,
        list_delay: delay,
        metadata_too: true,
        reads: Arc::default(),
    };
    ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&layer)
        .build()
}

#[derive(Clone)]
struct Lagging {
    plural: &'static str,
    delay: Duration,
    list_delay: Duration,
    /// Whether watches of metadata only (`as=PartialObjectMetadata`) lag too.
    metadata_too: bool,
    reads: Arc<AtomicUsize>,
}

impl<S> Layer<S> for Lagging {
    type Service = LaggingService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        LaggingService {
            inner,
            cfg: self.clone(),
        }
    }
}

struct LaggingService<S> {
    inner: S,
    cfg: Lagging,
}

type LagBody = UnsyncBoxBody<Bytes, BoxError>;

impl<S, B> Service<Request<Body>> for LaggingService<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<LagBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let uri = req.uri();
        let of_plural = uri.path().ends_with(&format!("/{}", self.cfg.plural));
        let watch = uri.query().is_some_and(|q| q.contains("watch=true"));
        let metadata = req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("PartialObjectMetadata"));
        let lag = of_plural && watch && (self.cfg.metadata_too || !metadata);
        let list_delay = match of_plural && !watch && req.method() == http::Method::GET {
            true => self.cfg.list_delay,
            false => Duration::ZERO,
        };
        if req.method() == http::Method::GET
            && uri.path().contains(&format!("/{}/", self.cfg.plural))
        {
            self.cfg.reads.fetch_add(1, Ordering::SeqCst);
        }
        let delay = self.cfg.delay;
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            tokio::time::sleep(list_delay).await;
            if !lag {
                return Ok(response.map(|b| b.map_err(Into::into).boxed_unsync()));
            }
            let (parts, body) = response.into_parts();
            Ok(Response::from_parts(parts, delayed(body, delay)))
        })
    }
}

/// Re-sends `body` one line (one watch event) at a time, each `delay` after the previous.
fn delayed<B>(mut body: B, delay: Duration) -> LagBody
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Frame<Bytes>, BoxError>>();
    tokio::spawn(async move {
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let frame: Option<Result<Frame<Bytes>, BoxError>> =
                body.frame().await.map(|f| f.map_err(Into::into));
            let Some(frame) = frame else { break };
            let data = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                Err(e) => {
                    let _ = tx.unbounded_send(Err(e));
                    return;
                }
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                tokio::time::sleep(delay).await;
                if tx
                    .unbounded_send(Ok(Frame::data(Bytes::from(line))))
                    .is_err()
                {
                    return; // the watch was dropped
                }
            }
        }
    });
    StreamBody::new(rx).boxed_unsync()
}
