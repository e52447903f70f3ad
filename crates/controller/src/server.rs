//! Serving HTTP connections (the API and the metrics server) with bounded resources.
//!
//! `axum::serve` runs hyper without a timer, so a client that sends half a request header is
//! never disconnected, and it accepts any number of connections. This server:
//!
//! - speaks HTTP/1.1 only (like upstream's Go `net/http` server without TLS; the API server's
//!   service proxy and Prometheus use HTTP/1.1);
//! - closes a connection whose request header is not complete within `--header-read-timeout`;
//!   hyper starts that clock when it starts waiting for a header, so it also bounds how long an
//!   idle keep-alive connection (or a connection that never sends a byte) is kept;
//! - closes a connection whose peer stops reading our response for `--write-timeout`;
//! - answers `Connection: close` after [`MAX_REQUESTS_PER_CONNECTION`] requests on one
//!   connection;
//! - serves at most `--max-connections` connections at once: when all slots are taken it stops
//!   calling `accept`, so further connections wait in the kernel's listen queue (and are served
//!   as soon as a slot frees) instead of being refused;
//! - on shutdown stops accepting, lets in-flight requests finish, closes idle connections, and
//!   waits at most [`SHUTDOWN_GRACE`] for the rest.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

use crate::config::Flags;

/// After this many requests on one connection the response says `Connection: close`.
pub const MAX_REQUESTS_PER_CONNECTION: u64 = 1000;

/// How long shutdown waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Most request header fields accepted (hyper's default is 100).
const MAX_HEADERS: usize = 64;

/// Largest read buffer per connection, which bounds a request head (hyper's default ~400 KiB).
const MAX_BUF: usize = 64 * 1024;

/// Upper bound for `--max-connections` (tokio's semaphore limit is far above).
const MAX_CONNECTIONS_CAP: usize = 1 << 20;

/// How the connections of one server are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// A request header must be complete this long after the server starts waiting for it.
    pub header_read_timeout: Duration,
    /// A write that makes no progress for this long closes the connection (zero: no limit).
    pub write_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl ServeOptions {
    /// From `--header-read-timeout`, `--write-timeout` and `--max-connections`.
    pub fn from_flags(flags: &Flags) -> Self {
        Self {
            header_read_timeout: flags.header_read_timeout,
            write_timeout: flags.write_timeout,
            max_connections: flags.max_connections,
        }
    }
}

/// Serves `app` on `listener` until `stop` becomes true (or its sender is dropped), then shuts
/// down gracefully. Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    stop: watch::Receiver<bool>,
) {
    serve_with(listener, app, opts, stop, None).await;
}

/// Like [`serve`], over TLS (the admission webhook): the handshake must end within
/// `--header-read-timeout` (10 s when that is zero).
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    stop: watch::Receiver<bool>,
    tls: tokio_rustls::TlsAcceptor,
) {
    serve_with(listener, app, opts, stop, Some(tls)).await;
}

async fn serve_with(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let max = opts.max_connections.clamp(1, MAX_CONNECTIONS_CAP);
    let slots = Arc::new(Semaphore::new(max));
    let (close_tx, close_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_BUF);
    if !opts.header_read_timeout.is_zero() {
        builder.header_read_timeout(opts.header_read_timeout);
    }
    loop {
        // A free slot first: while every slot is taken, new connections wait in the listen
        // queue.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    if !is_per_connection_error(&e) {
                        // E.g. out of file descriptors: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let stream = WriteTimeout::new(stream, opts.write_timeout);
        let svc = ConnService {
            router: app.clone(),
            peer,
            served: AtomicU64::new(0),
        };
        let close = close_rx.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let handshake = if opts.header_read_timeout.is_zero() {
            Duration::from_secs(10)
        } else {
            opts.header_read_timeout
        };
        tokio::spawn(async move {
            let _slot = permit;
            match tls {
                None => drive(&builder, TokioIo::new(stream), svc, close, peer).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => drive(&builder, TokioIo::new(s), svc, close, peer).await,
                        Ok(Err(e)) => debug!(peer = %peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    // Every open connection holds a slot: all slots back means all connections are done.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
}

/// Serves one connection until it ends, or until `close` says true (then gracefully).
async fn drive<I>(
    builder: &http1::Builder,
    io: I,
    svc: ConnService,
    mut close: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(io, svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                debug!(peer = %peer, error = %e, "connection closed");
            }
        }
        () = stopped(&mut close) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once `rx` says true or its sender is gone (the borrow is not held).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Accept errors that concern one connection only (retry at once).
fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection's service: the router, with the peer address and the keep-alive cap.
struct ConnService {
    router: Router,
    peer: SocketAddr,
    served: AtomicU64,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let n = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        let mut router = self.router.clone();
        Box::pin(async move {
            // A Router is always ready; its error type is Infallible.
            let mut resp = tower_service::Service::call(&mut router, req).await?;
            if n >= MAX_REQUESTS_PER_CONNECTION {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp)
        })
    }
}

/// A TCP stream whose writes fail with `TimedOut` when the peer has not taken any byte for
/// `timeout` (a client that stops reading our response cannot hold the connection forever).
struct WriteTimeout {
    inner: TcpStream,
    timeout: Duration,
    /// Armed while a write or flush is pending.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(inner: TcpStream, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// Called when the inner write is pending: arms the timer, or reports its expiry.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if self.timeout.is_zero() {
            return Poll::Pending;
        }
        let timeout = self.timeout;
        let sleep = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write timed out",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(&mut self, p: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match p {
            Poll::Ready(r) => {
                self.deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.pending(cx),
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(p, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(p, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(p, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(p, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(app: Router, opts: ServeOptions) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(serve(listener, app, opts, rx));
        (addr, tx)
    }

    fn opts() -> ServeOptions {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 2,
        }
    }

    async fn get(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    fn app() -> Router {
        Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("peer {}", peer.ip())
            }),
        )
    }

    #[tokio::test]
    async fn serves_with_peer_address_and_stops() {
        let (addr, stop) = start(app(), opts()).await;
        let r = get(addr).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.ends_with("peer 127.0.0.1"), "{r}");
        stop.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }

    #[tokio::test]
    async fn half_header_is_cut_after_the_timeout() {
        let o = ServeOptions {
            header_read_timeout: Duration::from_millis(300),
            ..opts()
        };
        let (addr, _stop) = start(app(), o).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut buf = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "connection not closed");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait() {
        let (addr, _stop) = start(app(), opts()).await;
        let idle1 = TcpStream::connect(addr).await.unwrap();
        let _idle2 = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let waiting = tokio::spawn(get(addr));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "served beyond the cap");
        drop(idle1);
        let r = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
}
