//! The HTTP/1.1 server: accept loops, connection limit, header and request
//! timeouts, body limit, panic isolation, access log, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::ApiError;
use super::path::{self, PathError};
use super::router::{self, Route};
use super::state::AppState;
use super::v11;
use opendcre_security::auth::{Permission, Principal, Security};
use opendcre_security::tls::{ClientIdentity, TlsSetup};

/// Limits and switches of the HTTP layer (`[server]` in opendcre.toml).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub max_body_bytes: usize,
    pub access_log: bool,
    /// How long in-flight requests may finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            access_log: true,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

type Body = Full<Bytes>;

/// A listening socket; a TLS one completes a handshake before HTTP.
pub enum Listener {
    Plain(TcpListener),
    /// The setup is consulted per connection, so a reload (SIGHUP) applies
    /// to the next handshake without touching the socket.
    Tls(TcpListener, Arc<TlsSetup>),
}

type Accepted = (
    TcpStream,
    SocketAddr,
    OwnedSemaphorePermit,
    Option<Arc<TlsSetup>>,
);

/// Serves until `shutdown` completes, then lets open requests finish.
/// With `security`, every request except CORS preflights (`OPTIONS`) is
/// authenticated and authorized before routing; `None` leaves the API open.
pub async fn run_secure(
    listeners: Vec<Listener>,
    state: Arc<AppState>,
    opts: ServerOptions,
    security: Option<Arc<Security>>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let (conn_tx, mut conn_rx) = mpsc::channel::<Accepted>(16);
    let mut acceptors = Vec::new();
    for listener in listeners {
        let (listener, tls) = match listener {
            Listener::Plain(l) => (l, None),
            Listener::Tls(l, t) => (l, Some(t)),
        };
        let tx = conn_tx.clone();
        let permits = permits.clone();
        acceptors.push(tokio::spawn(async move {
            loop {
                // Excess connections wait in the kernel backlog, not in our memory.
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if tx.send((stream, peer, permit, tls.clone())).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    drop(conn_tx);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = conn_rx.recv() => {
                let Some((stream, peer, permit, tls)) = next else { break };
                let _ = stream.set_nodelay(true);
                let conn = Connection { peer, client: None, state: state.clone(), opts: opts.clone(), security: security.clone() };
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tls {
                        None => conn.serve(TokioIo::new(stream), watcher).await,
                        // The handshake runs in the connection's task, bounded by
                        // the TLS handshake timeout, and holds the connection permit.
                        Some(tls) => match tls.accept(stream).await {
                            Ok(accepted) => {
                                let conn = Connection { client: accepted.client.map(Arc::new), ..conn };
                                conn.serve(TokioIo::new(accepted.stream), watcher).await
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        },
                    }
                    drop(permit);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    for a in acceptors {
        a.abort();
    }
    tracing::info!("shutting down: no new connections, waiting for requests in flight");
    if tokio::time::timeout(opts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period were cut off");
    }
}

/// One accepted connection: who is on the other end and what serves it.
struct Connection {
    peer: SocketAddr,
    /// The verified client certificate of a mutual-TLS connection.
    client: Option<Arc<ClientIdentity>>,
    state: Arc<AppState>,
    opts: ServerOptions,
    security: Option<Arc<Security>>,
}

impl Connection {
    async fn serve<IO>(self, io: IO, watcher: hyper_util::server::graceful::Watcher)
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let header_timeout = self.opts.header_timeout;
        let me = Arc::new(self);
        let svc = service_fn(move |req| {
            let me = me.clone();
            async move { Ok::<_, Infallible>(serve_request(&me, req).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(io, svc);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }

    /// Runs before routing answers anything, so an unauthenticated client
    /// learns nothing about which paths exist. The route says what it needs
    /// ([`Route::permission`]).
    async fn authorize(
        &self,
        req: &Request<Incoming>,
        route: Option<&Route>,
    ) -> Result<Option<Principal>, Response<Body>> {
        let Some(security) = &self.security else {
            return Ok(None);
        };
        if req.method() == Method::OPTIONS {
            return Ok(None);
        }
        let needed = route.map_or(Permission::Read, Route::permission);
        let client = self.client.as_deref();
        match security
            .check_with(
                req.method(),
                req.uri().path(),
                req.headers(),
                self.peer,
                client,
                needed,
            )
            .await
        {
            Ok(p) => Ok(Some(p)),
            Err(rejection) => {
                let mut r = error_response(&ApiError::new(rejection.status(), rejection.message()));
                for (k, v) in rejection.headers().iter() {
                    r.headers_mut().append(k.clone(), v.clone());
                }
                Err(r)
            }
        }
    }
}

async fn serve_request(conn: &Connection, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let uri_path = req.uri().path().to_string();
    let response = dispatch(conn, req).await;
    if conn.opts.access_log {
        let user = response
            .extensions()
            .get::<Principal>()
            .map_or("-", |p| p.name.as_str());
        tracing::info!(
            target: "opendcre::access",
            peer = %conn.peer,
            user,
            method = %method,
            path = %uri_path,
            status = response.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "{method} {uri_path} {}",
            response.status().as_u16()
        );
    }
    response
}

async fn dispatch(conn: &Connection, req: Request<Incoming>) -> Response<Body> {
    let segments = match path::segments(req.uri().path()) {
        Ok(s) => s,
        Err(PathError::BadEscape) => {
            return error_response(&ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed percent-escape in the URL",
            ))
        }
        Err(PathError::AboveRoot) => {
            return error_response(&ApiError::new(
                StatusCode::BAD_REQUEST,
                "URL path leaves the root",
            ))
        }
    };
    let route = router::route(&segments);
    let principal = match conn.authorize(&req, route.as_ref()).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let Some(route) = route else {
        return error_response(&ApiError::not_found(req.uri().path()));
    };
    let mut response = route_request(conn.state.clone(), &conn.opts, req, route).await;
    if let Some(p) = principal {
        response.extensions_mut().insert(p);
    }
    response
}

async fn route_request(
    state: Arc<AppState>,
    opts: &ServerOptions,
    req: Request<Incoming>,
    route: Route,
) -> Response<Body> {
    let method = req.method().clone();
    if !route.allows(&method) {
        let mut r = error_response(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "method {method} is not allowed here; allowed: {}",
                route.allow_header()
            ),
        ));
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(route.allow_header()));
        return r;
    }
    if method == Method::OPTIONS {
        let mut r = with_common_headers(Response::new(Body::default()));
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(route.allow_header()));
        return r;
    }
    if method == Method::POST {
        // The only POST endpoint ignores its body, but it must still be bounded.
        if Limited::new(req.into_body(), opts.max_body_bytes)
            .collect()
            .await
            .is_err()
        {
            return error_response(&ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {} bytes", opts.max_body_bytes),
            ));
        }
    }
    match run_handler(state, route).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(status = e.status.as_u16(), "{}", e.message);
            }
            error_response(&e)
        }
    }
}

/// Runs the handler in its own task: a panic becomes a 500 for this request
/// only, and a client hanging up does not cut a bus transaction in half.
async fn run_handler(state: Arc<AppState>, route: Route) -> Result<serde_json::Value, ApiError> {
    let deadline = Instant::now() + state.request_timeout;
    let task = tokio::spawn(async move { v11::handle(&state, &route, deadline).await });
    match tokio::time::timeout_at(deadline + Duration::from_millis(100), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "request handler panicked");
            Err(ApiError::failure(
                "internal error while handling the request",
            ))
        }
        Err(_) => Err(ApiError::failure("request timed out")),
    }
}

fn with_common_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        SERVER,
        HeaderValue::from_static(concat!("opendcre/", env!("CARGO_PKG_VERSION"))),
    );
    r
}

/// Pretty JSON with sorted keys, like Flask's `jsonify`.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    let mut r = Response::new(Body::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    with_common_headers(r)
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.status, &e.body())
}
