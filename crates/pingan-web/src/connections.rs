//! The server's connections, accepted under caps so that a flood of slow or idle ones cannot take
//! the server down (each holds a file descriptor: 20,000 half-sent requests once exhausted them,
//! and nothing else was answered).
//!
//! - At most [`ConnectionLimits::max`] connections are open, and [`ConnectionLimits::per_address`]
//!   from one address (reverse proxies the server trusts are exempt: every client comes through
//!   them).
//! - A connection is idle while no request of its is being answered: before its first request's
//!   head is complete (a slow sender's), and between requests (kept alive). One idle for
//!   [`ConnectionLimits::idle`] is closed.
//! - At a cap, the newcomer takes the place of the connection idle the longest (of its address, at
//!   the address's cap); only when every connection is busy answering is it refused with 503.
//!   So whoever sends a whole request is answered (`/healthz`, signing in) while slow senders
//!   hold every place.
//! - A request body that stalls for [`ConnectionLimits::idle`] fails (400): its connection would
//!   otherwise stay busy, out of reach of eviction, for as long as the sender cares to wait (a
//!   chunk announced as 2^64-1 bytes and never sent did so).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// How many connections a server keeps open, and for how long an idle one.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// The most connections open at once.
    pub max: usize,
    /// The most connections open at once from one address.
    pub per_address: usize,
    /// How long a connection may wait without a whole request head before it is closed, and a
    /// request body for its next bytes.
    pub idle: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits { max: 4096, per_address: 256, idle: Duration::from_secs(30) }
    }
}

impl ConnectionLimits {
    /// These limits within a process allowed `open_files` descriptors: the database, the logs
    /// and outgoing webhooks need some of them too.
    pub fn within(self, open_files: u64) -> ConnectionLimits {
        let room = usize::try_from(open_files.saturating_sub(256)).unwrap_or(usize::MAX).max(16);
        ConnectionLimits { max: self.max.min(room), per_address: self.per_address.min(room), ..self }
    }
}

/// The connections open now.
struct Registry {
    limits: ConnectionLimits,
    /// Addresses without a cap of their own (trusted reverse proxies).
    exempt: Arc<Vec<IpAddr>>,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    connections: HashMap<u64, Connection>,
    per_address: HashMap<IpAddr, usize>,
}

struct Connection {
    address: IpAddr,
    /// Requests being answered (their response bodies not yet sent).
    busy: u32,
    /// Since when nothing has been answered (meaningful while `busy` is 0).
    idle_since: Instant,
    close: Arc<Notify>,
}

impl Open {
    /// The connection idle the longest among those `which` selects.
    fn idlest(&self, which: impl Fn(&Connection) -> bool) -> Option<u64> {
        self.connections
            .iter()
            .filter(|(_, c)| c.busy == 0 && which(c))
            .min_by_key(|(_, c)| c.idle_since)
            .map(|(&id, _)| id)
    }

    /// Forgets connection `id` and tells its task to close it.
    fn close(&mut self, id: u64) {
        if let Some(connection) = self.connections.remove(&id) {
            if let Some(count) = self.per_address.get_mut(&connection.address) {
                *count -= 1;
                if *count == 0 {
                    self.per_address.remove(&connection.address);
                }
            }
            connection.close.notify_one();
        }
    }
}

/// A place taken by one connection, given back when its task ends.
struct Admitted {
    registry: Arc<Registry>,
    id: u64,
    close: Arc<Notify>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.lock().close(self.id);
    }
}

/// One request being answered on a connection; the connection is idle again when it is dropped
/// (with the response's body, once sent).
struct Busy {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(connection) = self.registry.lock().connections.get_mut(&self.id) {
            connection.busy -= 1;
            connection.idle_since = Instant::now();
        }
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for a connection from `address`, if one is free or can be freed.
    fn admit(self: &Arc<Registry>, address: IpAddr) -> Option<Admitted> {
        let mut open = self.lock();
        if !self.exempt.contains(&address)
            && open.per_address.get(&address).copied().unwrap_or(0) >= self.limits.per_address
        {
            let idlest = open.idlest(|c| c.address == address)?;
            open.close(idlest);
        }
        if open.connections.len() >= self.limits.max {
            let idlest = open.idlest(|_| true)?;
            open.close(idlest);
        }
        open.next_id += 1;
        let id = open.next_id;
        let close = Arc::new(Notify::new());
        open.connections.insert(id, Connection { address, busy: 0, idle_since: Instant::now(), close: close.clone() });
        *open.per_address.entry(address).or_default() += 1;
        Some(Admitted { registry: self.clone(), id, close })
    }

    fn busy(self: &Arc<Registry>, id: u64) -> Busy {
        if let Some(connection) = self.lock().connections.get_mut(&id) {
            connection.busy += 1;
        }
        Busy { registry: self.clone(), id }
    }

    /// Frees a place when the process is out of descriptors.
    fn close_idlest(&self) {
        let mut open = self.lock();
        if let Some(id) = open.idlest(|_| true) {
            open.close(id);
        }
    }

    /// Closes the connections idle for longer than the limit.
    fn close_idle(&self) {
        let mut open = self.lock();
        let now = Instant::now();
        let stale: Vec<u64> = open
            .connections
            .iter()
            .filter(|(_, c)| c.busy == 0 && now.duration_since(c.idle_since) >= self.limits.idle)
            .map(|(&id, _)| id)
            .collect();
        for id in stale {
            open.close(id);
        }
    }

    fn count(&self) -> usize {
        self.lock().connections.len()
    }
}

/// Closes idle connections as they pass the limit, for as long as the registry lives.
async fn keep_closing_idle(registry: Weak<Registry>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match registry.upgrade() {
            Some(registry) => registry.close_idle(),
            None => return,
        }
    }
}

/// Answers a connection for which there is no place, without reading it.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests being
/// answered finish (for at most a few seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    exempt: Arc<Vec<IpAddr>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let registry = Arc::new(Registry { limits, exempt, open: Mutex::default() });
    let sweep = (limits.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    tokio::spawn(keep_closing_idle(Arc::downgrade(&registry), sweep));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, most likely: make room, and give the process a moment.
                tracing::warn!(%error, "a connection could not be accepted");
                registry.close_idlest();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        match registry.admit(peer.ip()) {
            Some(admitted) => {
                let _ = stream.set_nodelay(true);
                let (router, stopping) = (router.clone(), stopping.clone());
                match tls.clone() {
                    None => {
                        tokio::spawn(serve_connection(stream, peer, router, admitted, limits, stopping));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // A client that does not finish its handshake in time is dropped.
                            let handshake = tokio::time::timeout(limits.idle, acceptor.accept(stream)).await;
                            if let Ok(Ok(stream)) = handshake {
                                serve_connection(stream, peer, router, admitted, limits, stopping).await;
                            }
                        });
                    }
                }
            }
            None => refuse(stream),
        }
    }
    let _ = stop.send(true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while registry.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    admitted: Admitted,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (registry, id) = (admitted.registry.clone(), admitted.id);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = registry.busy(id);
        let mut request = request.map(|body| Body::new(StallLimited::new(body, limits.idle)));
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // Busy until the body is sent (or dropped): a stream of events stays busy.
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Dropping the connection closes it.
        () = admitted.close.notified() => {}
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// A request body that fails when its next bytes take longer than `stall` to come.
struct StallLimited {
    body: Incoming,
    stall: Duration,
    /// Set while the body waits for bytes.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallLimited {
    fn new(body: Incoming, stall: Duration) -> StallLimited {
        StallLimited { body, stall, deadline: None }
    }
}

impl hyper::body::Body for StallLimited {
    type Data = hyper::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(context) {
            Poll::Ready(frame) => {
                this.deadline = None;
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let stall = this.stall;
                let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                match deadline.as_mut().poll(context) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(format!("no bytes of the body for {stall:?}").into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
