//! The operator's watches of the API server, each with kube's default backoff (client-go's:
//! 0.8 s doubling to 30 s, so a struggling API server is not hammered), except that an
//! expired watch (410 Gone: etcd compacted the history it would resume from) is no failure
//! to back off from. The watcher has already gone back to a fresh list, which is what must
//! come next, at once, as client-go's reflector does. Counted as a failure, it added another
//! backoff step, up to 30 s, to the one an API server restart had already built up, and
//! new resources went unseen for a minute (found by the chaos soak, tests/soak.rs).

use futures::{Stream, StreamExt, future};
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// `api`'s objects as a watch stream, backed off as above.
pub fn watch<K>(
    api: Api<K>,
    wc: watcher::Config,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    without_expiry(watcher(api, wc)).default_backoff()
}

/// `stream` without its 410 Gone reports (the watcher relists on its own).
fn without_expiry<T: Send>(
    stream: impl Stream<Item = Result<T, watcher::Error>> + Send,
) -> impl Stream<Item = Result<T, watcher::Error>> + Send {
    stream.filter(|item| {
        let expired = matches!(item, Err(watcher::Error::WatchError(e)) if e.code == 410);
        if expired {
            tracing::debug!("watch expired (410 Gone); listing afresh");
        }
        future::ready(!expired)
    })
}

#[cfg(test)]
mod tests {
    use super::without_expiry;
    use futures::{StreamExt, stream};
    use kube::core::Status;
    use kube::runtime::WatchStreamExt;
    use kube::runtime::watcher::Error;
    use std::time::Duration;

    fn gone(code: u16) -> Error {
        Error::WatchError(Box::new(Status {
            code,
            ..Status::default()
        }))
    }

    /// How long (virtual time) the backed-off stream takes to yield everything after `first`.
    async fn after(first: Error) -> Duration {
        let items = vec![Err(first), Ok(1u8)];
        let start = tokio::time::Instant::now();
        let got: Vec<_> = without_expiry(stream::iter(items))
            .default_backoff()
            .collect()
            .await;
        assert!(got.last().is_some_and(|r| matches!(r, Ok(1))));
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_watch_relists_at_once_other_failures_back_off() {
        assert_eq!(after(gone(410)).await, Duration::ZERO);
        assert!(after(gone(500)).await >= Duration::from_millis(400));
    }
}
