//! `GET /opendcre/2/events`: the telemetry cache as server-sent events, the
//! dashboard's live feed.
//!
//! Each event is the whole `/opendcre/2/readings` document on one line
//! (`event: readings`), sent when the cache changed, at most one per
//! [`EventOptions::min_gap`] (the poller writes reading by reading; one
//! event carries a burst of them), and a comment line every
//! [`EventOptions::keepalive`] so proxies and the client see a live stream.
//!
//! A stream is long-lived, which the connection rules must allow without
//! letting it hog anything:
//! - it holds its connection's busy mark for its whole life, so the
//!   admission table never evicts a healthy stream as idle; in exchange at
//!   most a quarter of the connection slots may carry streams (503 beyond);
//! - buffering is bounded: one event waits in the channel, hyper's own
//!   write buffer holds the rest. A client that stops reading stops hyper
//!   polling the body, the channel stays full, and after
//!   [`EventOptions::stall`] the stream ends; a write that makes no progress
//!   is cut by the connection's write deadline as for any answer;
//! - it ends after [`EventOptions::lifetime`] (`[server]
//!   event_stream_max_secs`) or after `max_events`, and the client
//!   reconnects: credentials are checked again, so a revoked token or an
//!   expired JWT does not keep a stream for ever; and it ends when the
//!   server shuts down.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The timings of one stream.
#[derive(Debug, Clone, Copy)]
pub struct EventOptions {
    /// The stream ends after this long; the client reconnects.
    pub lifetime: Duration,
    /// A comment line after this much silence.
    pub keepalive: Duration,
    /// Least time between two events.
    pub min_gap: Duration,
    /// The stream ends when its client has taken nothing for this long.
    pub stall: Duration,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            lifetime: Duration::from_secs(300),
            keepalive: Duration::from_secs(15),
            min_gap: Duration::from_millis(250),
            stall: Duration::from_secs(30),
        }
    }
}

/// The body of a stream: what the producer task sends, plus whatever must
/// live as long as the stream (the busy mark, the stream slot).
pub(crate) struct EventBody {
    rx: mpsc::Receiver<Bytes>,
    _hold: Box<dyn Send + Sync>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|next| next.map(|b| Ok(Frame::data(b))))
    }
}

/// Starts a stream: `snapshot` renders the document for an event (called
/// with no lock held by us), `changes` wakes it. `hold` is dropped when the
/// stream ends.
pub(crate) fn start(
    snapshot: impl Fn() -> Vec<u8> + Send + 'static,
    changes: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    max_events: Option<u64>,
    opts: EventOptions,
    hold: Box<dyn Send + Sync>,
) -> EventBody {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(produce(tx, snapshot, changes, shutdown, max_events, opts));
    EventBody { rx, _hold: hold }
}

async fn produce(
    tx: mpsc::Sender<Bytes>,
    snapshot: impl Fn() -> Vec<u8>,
    mut changes: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    max_events: Option<u64>,
    opts: EventOptions,
) {
    let end = Instant::now() + opts.lifetime;
    let mut sent = 0u64;
    loop {
        // Wait for room first, then render: the event always carries the
        // cache as it is when the client can take it, never a backlog.
        let permit = tokio::select! {
            p = tokio::time::timeout(opts.stall, tx.reserve()) => match p {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return, // the connection is gone
                Err(_) => {
                    tracing::debug!("event stream closed: the client read nothing for {:?}", opts.stall);
                    return;
                }
            },
            () = tokio::time::sleep_until(end) => return,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        changes.borrow_and_update();
        sent += 1;
        permit.send(event(sent, &snapshot()));
        if max_events.is_some_and(|m| sent >= m) {
            return;
        }
        // Coalesce a burst of writes into the next event.
        tokio::select! {
            () = tokio::time::sleep(opts.min_gap) => {}
            () = tokio::time::sleep_until(end) => return,
        }
        loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() {
                        return; // the cache is gone: the service is stopping
                    }
                    break;
                }
                () = tokio::time::sleep(opts.keepalive) => {
                    // Full: an event is waiting already, which keeps the
                    // stream alive just as well.
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        tx.try_send(Bytes::from_static(b": keepalive\n\n"))
                    {
                        return;
                    }
                }
                () = tokio::time::sleep_until(end) => return,
                () = tx.closed() => return,
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

/// Starts a Redfish SSE stream (`…/EventService/SSE`, DSP0266
/// "Server-sent events"): each event as `id:` and one-line JSON `data:`,
/// a comment line after [`EventOptions::keepalive`] of silence. It ends as
/// the telemetry stream does (lifetime, a client that takes nothing for
/// [`EventOptions::stall`], shutdown) and when its subscription is deleted;
/// dropping `sse` removes the subscription.
pub(crate) fn start_redfish(
    sse: opendcre_redfish::SseStream,
    shutdown: watch::Receiver<bool>,
    opts: EventOptions,
    hold: Box<dyn Send + Sync>,
) -> EventBody {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(produce_redfish(tx, sse, shutdown, opts));
    EventBody { rx, _hold: hold }
}

async fn produce_redfish(
    tx: mpsc::Sender<Bytes>,
    mut sse: opendcre_redfish::SseStream,
    mut shutdown: watch::Receiver<bool>,
    opts: EventOptions,
) {
    use opendcre_redfish::SseNext;
    let end = Instant::now() + opts.lifetime;
    loop {
        // `SseStream::next` waits on a broadcast receiver: dropping it for
        // a keepalive loses no event.
        let next = tokio::select! {
            n = sse.next() => n,
            () = tokio::time::sleep(opts.keepalive) => {
                if let Err(mpsc::error::TrySendError::Closed(_)) =
                    tx.try_send(Bytes::from_static(b": keepalive\n\n"))
                {
                    return;
                }
                continue;
            }
            () = tokio::time::sleep_until(end) => return,
            () = tx.closed() => return,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let frame = match next {
            SseNext::Event(id, data) => Bytes::from(format!("id: {id}\ndata: {data}\n\n")),
            SseNext::Missed(n) => {
                tracing::debug!(missed = n, "Redfish SSE client too slow; events dropped");
                Bytes::from(format!(
                    ": {n} events dropped: this client reads too slowly\n\n"
                ))
            }
            SseNext::Lost(n) => Bytes::from(format!(
                ": {n} events since Last-Event-ID are no longer kept\n\n"
            )),
            SseNext::Ended => return,
        };
        match tokio::time::timeout(opts.stall, tx.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!(
                    "Redfish SSE stream closed: the client read nothing for {:?}",
                    opts.stall
                );
                return;
            }
        }
    }
}

/// One `readings` event; `data` holds no newline (one-line JSON).
fn event(id: u64, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 40);
    out.extend_from_slice(format!("event: readings\nid: {id}\ndata: ").as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn opts() -> EventOptions {
        EventOptions {
            lifetime: Duration::from_secs(3600),
            keepalive: Duration::from_secs(15),
            min_gap: Duration::from_millis(250),
            stall: Duration::from_secs(30),
        }
    }

    /// A stream over a counter that each snapshot reads.
    fn stream(
        o: EventOptions,
        max: Option<u64>,
    ) -> (
        EventBody,
        watch::Sender<u64>,
        watch::Sender<bool>,
        Arc<AtomicU64>,
    ) {
        let (ctx, crx) = watch::channel(0);
        let (stx, srx) = watch::channel(false);
        let n = Arc::new(AtomicU64::new(0));
        let n2 = n.clone();
        let body = start(
            move || n2.fetch_add(1, Ordering::SeqCst).to_string().into_bytes(),
            crx,
            srx,
            max,
            o,
            Box::new(()),
        );
        (body, ctx, stx, n)
    }

    async fn next(b: &mut EventBody) -> Option<String> {
        let f = b.frame().await?.unwrap();
        Some(String::from_utf8(f.into_data().unwrap().to_vec()).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn first_event_at_once_then_one_per_change_burst_and_keepalives() {
        let (mut b, changes, _stop, _) = stream(opts(), None);
        assert_eq!(
            next(&mut b).await.unwrap(),
            "event: readings\nid: 1\ndata: 0\n\n"
        );
        for _ in 0..5 {
            changes.send_modify(|v| *v += 1);
        }
        assert_eq!(
            next(&mut b).await.unwrap(),
            "event: readings\nid: 2\ndata: 1\n\n"
        );
        let before = Instant::now();
        assert_eq!(next(&mut b).await.unwrap(), ": keepalive\n\n");
        assert!(before.elapsed() >= Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_ends_the_stream() {
        let (b, changes, _stop, n) = stream(opts(), None);
        // Never polled: the first event fills the channel.
        tokio::time::sleep(Duration::from_secs(1)).await;
        changes.send_modify(|v| *v += 1);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(n.load(Ordering::SeqCst), 1, "only one event was rendered");
        let mut b = b;
        assert!(next(&mut b).await.is_some(), "the queued event");
        assert!(
            next(&mut b).await.is_none(),
            "then the end: the producer gave up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn max_events_lifetime_and_shutdown_end_the_stream() {
        let (mut b, changes, _stop, _) = stream(opts(), Some(2));
        next(&mut b).await.unwrap();
        changes.send_modify(|v| *v += 1);
        next(&mut b).await.unwrap();
        assert!(next(&mut b).await.is_none());

        let short = EventOptions {
            lifetime: Duration::from_secs(20),
            ..opts()
        };
        let (mut b, _changes, _stop, _) = stream(short, None);
        next(&mut b).await.unwrap();
        assert_eq!(next(&mut b).await.unwrap(), ": keepalive\n\n");
        assert!(next(&mut b).await.is_none(), "ends after its lifetime");

        let (mut b, _changes, stop, _) = stream(opts(), None);
        next(&mut b).await.unwrap();
        stop.send_replace(true);
        assert!(next(&mut b).await.is_none(), "ends on shutdown");
    }
}
