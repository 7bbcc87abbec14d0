//! The HTTP/1.1 server: accept loops, connection admission, header, body,
//! write and request timeouts, header and body limits, the browser policy,
//! panic isolation, access log, graceful shutdown.
//!
//! Every wait on a client is bounded: the TLS handshake, the first request
//! head (`first_request_timeout`), each later head and the keep-alive idle
//! time (`header_timeout`), the body (`body_timeout`), and every write of
//! an answer (`write_timeout`, [`WriteDeadline`]). Slots are handed out by
//! [`Admission`]: per client address, and idle connections give way to new
//! ones when the pool is full.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER, SERVER,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::admission::{Activity, Admission, Busy, Limits, Refusal, Ticket};
use super::browser::BrowserPolicy;
use super::dashboard;
use super::error::ApiError;
use super::events::{self, EventOptions};
use super::path::{self, PathError};
use super::router::{self, Route};
use super::state::AppState;
use super::v11;
use super::v2;
use super::write_deadline::WriteDeadline;
use opendcre_eventlog::Event;
use opendcre_security::auth::{AuthMethod, AuthRejection, Permission, Principal, Role, Security};
use opendcre_security::tls::{ClientIdentity, TlsSetup};

/// Limits and switches of the HTTP layer (`[server]` in opendcre.toml).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Connections open at once, both listeners together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// Time a new connection has to send its first request head.
    pub first_request_timeout: Duration,
    /// Time for each later request head, and the keep-alive idle time.
    pub header_timeout: Duration,
    /// Time to receive a whole request body.
    pub body_timeout: Duration,
    /// Time a write of an answer may make no progress (a client that does
    /// not read).
    pub write_timeout: Duration,
    pub max_body_bytes: usize,
    pub access_log: bool,
    /// CORS and cross-site write policy (`cors_allowed_origins`).
    pub browser: BrowserPolicy,
    /// How long in-flight requests may finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// The timings of an event stream (`GET /opendcre/2/events`); its
    /// lifetime is `[server] event_stream_max_secs`.
    pub events: EventOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 512,
            max_connections_per_address: 32,
            first_request_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            access_log: true,
            browser: BrowserPolicy::default(),
            shutdown_grace: Duration::from_secs(10),
            events: EventOptions::default(),
        }
    }
}

/// The request head as a whole (request line and every header), like
/// nginx's `large_client_header_buffers 4 8k`: beyond it hyper answers 431.
pub const MAX_HEADER_BLOCK_BYTES: usize = 16 * 1024;
/// One header line (name and value) or the request target; beyond it the
/// answer is 431 (a header) or 414 (the URI).
pub const MAX_HEADER_LINE_BYTES: usize = 8 * 1024;

/// Every answer's body: whole (`full`), or a stream of events.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A listening socket; a TLS one completes a handshake before HTTP.
pub enum Listener {
    Plain(TcpListener),
    /// The setup is consulted per connection, so a reload (SIGHUP) applies
    /// to the next handshake without touching the socket.
    Tls(TcpListener, Arc<TlsSetup>),
}

type Accepted = (TcpStream, SocketAddr, Ticket, Option<Arc<TlsSetup>>);

/// Serves until `shutdown` completes, then lets open requests finish.
/// With `security`, every request except a CORS preflight from a configured
/// origin is authenticated and authorized before routing; `None` leaves the
/// API open.
pub async fn run_secure(
    listeners: Vec<Listener>,
    state: Arc<AppState>,
    opts: ServerOptions,
    security: Option<Arc<Security>>,
    shutdown: impl Future<Output = ()>,
) {
    let admission = Admission::new(Limits {
        total: opts.max_connections,
        per_address: opts.max_connections_per_address,
    });
    let lingering = Arc::new(Semaphore::new(REFUSALS_LINGERING));
    // Streams never count as idle (see `events`), so they may take only a
    // part of the pool: the rest stays for requests.
    let streams = Arc::new(Semaphore::new((opts.max_connections / 4).max(1)));
    let (stopping_tx, stopping) = watch::channel(false);
    let (conn_tx, mut conn_rx) = mpsc::channel::<Accepted>(16);
    let mut acceptors = Vec::new();
    for listener in listeners {
        let (listener, tls) = match listener {
            Listener::Plain(l) => (l, None),
            Listener::Tls(l, t) => (l, Some(t)),
        };
        let tx = conn_tx.clone();
        let admission = admission.clone();
        let lingering = lingering.clone();
        acceptors.push(tokio::spawn(async move {
            loop {
                // Accept first, then decide: a connection never waits in the
                // backlog behind slots that idle or slow clients hold.
                match listener.accept().await {
                    Ok((stream, peer)) => match admission.admit(peer.ip()) {
                        Ok(ticket) => {
                            if tx.send((stream, peer, ticket, tls.clone())).await.is_err() {
                                return;
                            }
                        }
                        Err(why) => refuse(stream, peer, why, tls.is_none(), &lingering),
                    },
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
                let Some((stream, peer, ticket, tls)) = next else { break };
                let _ = stream.set_nodelay(true);
                let conn = Connection {
                    peer,
                    tls: tls.is_some(),
                    client: None,
                    activity: ticket.activity.clone(),
                    state: state.clone(),
                    opts: opts.clone(),
                    security: security.clone(),
                    streams: streams.clone(),
                    stopping: stopping.clone(),
                };
                let watcher = graceful.watcher();
                let write_timeout = opts.write_timeout;
                tokio::spawn(async move {
                    let activity = ticket.activity.clone();
                    let served = async move {
                        match tls {
                            None => conn.serve(TokioIo::new(WriteDeadline::new(stream, write_timeout)), watcher).await,
                            // The handshake runs in the connection's task, bounded by
                            // the TLS handshake timeout, and holds the connection's slot.
                            Some(tls) => match tls.accept(stream).await {
                                Ok(accepted) => {
                                    let conn = Connection { client: accepted.client.map(Arc::new), ..conn };
                                    let io = WriteDeadline::new(accepted.stream, write_timeout);
                                    conn.serve(TokioIo::new(io), watcher).await
                                }
                                Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            },
                        }
                    };
                    // Dropping the connection closes it: taken back by the
                    // table while idle, it has no request to cut short.
                    tokio::select! {
                        () = served => {}
                        () = activity.evicted() => tracing::debug!(%peer, "idle connection closed to admit a new one"),
                    }
                    drop(ticket);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    for a in acceptors {
        a.abort();
    }
    tracing::info!("shutting down: no new connections, waiting for requests in flight");
    // Event streams end now instead of holding the grace period.
    stopping_tx.send_replace(true);
    if tokio::time::timeout(opts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period were cut off");
    }
}

/// Closes a connection that was not admitted. On the plain listener the
/// client first gets a 503 it can read; on the TLS listener there is no
/// session to answer in. The refusal is written without waiting, then the
/// request (if any) is read and dropped for a moment, because closing a
/// socket with unread input sends a reset that can destroy the 503 before
/// the client reads it. At most [`REFUSALS_LINGERING`] do so at once; beyond
/// that the connection is simply closed.
fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    why: Refusal,
    plain: bool,
    lingering: &Arc<Semaphore>,
) {
    let reason = match why {
        Refusal::PerAddress => "too many connections from this address",
        Refusal::Full => "the server is busy: every connection is serving a request",
    };
    tracing::debug!(%peer, reason, "connection refused");
    if !plain {
        return;
    }
    let body = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason)
        .body()
        .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\n{CONNECTION}: close\r\n{RETRY_AFTER}: 1\r\n{CONTENT_TYPE}: application/json\r\ncontent-length: {}\r\n\r\n{body}\n",
        body.len() + 1
    );
    if stream.try_write(answer.as_bytes()).is_err() {
        return;
    }
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = stream;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
        drop(permit);
    });
}

/// Refused connections that may linger for their 503 at once.
const REFUSALS_LINGERING: usize = 64;

/// One accepted connection: who is on the other end and what serves it.
struct Connection {
    peer: SocketAddr,
    /// Whether the connection came in on the TLS listener.
    tls: bool,
    /// The verified client certificate of a mutual-TLS connection.
    client: Option<Arc<ClientIdentity>>,
    /// What the admission table knows about this connection.
    activity: Arc<Activity>,
    state: Arc<AppState>,
    opts: ServerOptions,
    security: Option<Arc<Security>>,
    /// Slots for event streams, shared by all connections.
    streams: Arc<Semaphore>,
    /// Turns `true` when the server begins to shut down.
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn serve<IO>(self, io: IO, watcher: hyper_util::server::graceful::Watcher)
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let header_timeout = self.opts.header_timeout;
        let first_request_timeout = self.opts.first_request_timeout;
        let activity = self.activity.clone();
        let me = Arc::new(self);
        let svc = service_fn(move |req| {
            let me = me.clone();
            async move {
                me.activity.request_seen();
                Ok::<_, Infallible>(serve_request(&me, req).await)
            }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_header_size(MAX_HEADER_BLOCK_BYTES)
            .serve_connection(io, svc);
        // hyper's header timeout is one value for every head; a new
        // connection gets a shorter one for its first, so connections that
        // never say anything do not sit on slots for the full keep-alive time.
        let silent = async {
            tokio::time::sleep(first_request_timeout).await;
            if activity.has_sent_a_request() {
                std::future::pending::<()>().await
            }
        };
        tokio::select! {
            r = watcher.watch(conn) => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            () = silent => tracing::debug!(%peer, "no request within the first-request timeout"),
        }
    }

    /// Runs before routing answers anything, so an unauthenticated client
    /// learns nothing about which paths exist. The route says what it needs
    /// ([`Route::permission`]).
    async fn authorize(
        &self,
        req: &Request<Incoming>,
        route: Option<&Route>,
    ) -> Result<Option<Principal>, AuthRejection> {
        let Some(security) = &self.security else {
            return Ok(None);
        };
        if self.opts.browser.is_allowed_preflight(req) || route.is_some_and(Route::is_public) {
            return Ok(None);
        }
        // Redfish's service root, `$metadata` and OData document are
        // readable without credentials, and the session login checks the
        // credentials of its body itself (DSP0266); the rest of /redfish is
        // checked like every other route.
        if matches!(route, Some(Route::Redfish(r)) if r.is_public_for(req.method())) {
            return Ok(None);
        }
        let needed = route.map_or(Permission::Read, |r| r.permission_for(req.method()));
        let client = self.client.as_deref();
        // A Prometheus server scrapes without credentials from its own
        // network, when listed; only /metrics, and only a request that
        // presents no credential (one that does is checked as usual).
        if matches!(route, Some(Route::Metrics { .. }))
            && client.is_none()
            && !req.headers().contains_key(hyper::header::AUTHORIZATION)
            && self
                .state
                .metrics_anonymous
                .iter()
                .any(|n| n.contains(self.peer.ip()))
        {
            return Ok(Some(Principal {
                name: "anonymous".to_string(),
                role: Role::Reader,
                method: AuthMethod::Anonymous,
                password_change_required: false,
            }));
        }
        // A Redfish session's `X-Auth-Token` counts only under /redfish: a
        // session is a Redfish login, and the rest of the API keeps one set
        // of credentials (a token left in a Redfish tool's config cannot
        // reach the v1.1 API's writes or the dashboard).
        if matches!(route, Some(Route::Redfish(_))) {
            return security
                .check_redfish(
                    req.method(),
                    req.uri().path(),
                    req.headers(),
                    self.peer,
                    client,
                    needed,
                )
                .await
                .map(Some);
        }
        security
            .check_with(
                req.method(),
                req.uri().path(),
                req.headers(),
                self.peer,
                client,
                needed,
            )
            .await
            .map(Some)
    }
}

async fn serve_request(conn: &Connection, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let uri_path = req.uri().path().to_string();
    let mut route_name = "not_found";
    let response = dispatch(conn, req, &mut route_name).await;
    if let Some(t) = &conn.state.telemetry {
        t.http.record(
            route_name,
            method_name(&method),
            response.status().as_u16(),
            started.elapsed(),
        );
    }
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

/// A method as a fixed label value: a client cannot make a series per
/// invented method.
fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Routes and answers one request; `route_name` is set for the HTTP
/// metrics once the route is known (`not_found` until then).
async fn dispatch(
    conn: &Connection,
    req: Request<Incoming>,
    route_name: &mut &'static str,
) -> Response<Body> {
    if let Err(too_long) = check_line_lengths(&req) {
        return error_response(&too_long);
    }
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
    let mut route = router::route(&segments);
    if let Some(Route::Metrics { needs }) = route.as_mut() {
        *needs = conn.state.metrics_permission;
    }
    if let Some(r) = &route {
        *route_name = r.name();
    }
    let redfish = matches!(route, Some(Route::Redfish(_)));
    // Redfish clients get every refusal in Redfish's error format.
    let refusal = |status: StatusCode, message: &str, retry: Option<u64>| {
        if redfish {
            super::redfish::error(status, message, retry)
        } else {
            error_response(&ApiError::new(status, message))
        }
    };
    let principal = match conn.authorize(&req, route.as_ref()).await {
        Ok(p) => p,
        Err(rejection) => {
            if rejection.is_failed_attempt() {
                // The reason is the one the security log line gives: never
                // the credential.
                conn.state.redfish.events.record(Event::auth_failure(
                    &conn.peer.ip().to_string(),
                    &format!(
                        "{} {}: {}",
                        req.method(),
                        req.uri().path(),
                        rejection.message()
                    ),
                ));
            }
            if let AuthRejection::PasswordChangeRequired { name } = &rejection {
                return password_change_refusal(redfish, name);
            }
            let headers = rejection.headers();
            let retry = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let mut r = refusal(rejection.status(), &rejection.message(), retry);
            // A script's request (`fetch`: `Sec-Fetch-Dest: empty`) gets no
            // Basic challenge: the browser would answer it with its own
            // login prompt and then keep the password as an ambient
            // credential. The dashboard asks for it itself.
            let from_script = req
                .headers()
                .get("sec-fetch-dest")
                .is_some_and(|v| v.as_bytes() == b"empty");
            for (k, v) in headers.iter() {
                if from_script
                    && k == hyper::header::WWW_AUTHENTICATE
                    && v.as_bytes().starts_with(b"Basic")
                {
                    continue;
                }
                r.headers_mut().append(k.clone(), v.clone());
            }
            return r;
        }
    };
    let Some(route) = route else {
        return error_response(&ApiError::not_found(req.uri().path()));
    };
    if let Some(p) = principal.as_ref().filter(|p| p.password_change_required) {
        if let Err(r) = before_password_change(&route, &req, p) {
            return *r;
        }
    }
    if route.permission_for(req.method()) != Permission::Read {
        if let Err(refused) = conn.opts.browser.check_write(&req, conn.tls) {
            tracing::warn!(peer = %conn.peer, path = ?req.uri().path(), "{}", refused.0);
            return refusal(StatusCode::FORBIDDEN, &refused.0, None);
        }
    }
    let cors = conn.opts.browser.cors_headers(&req, route.allow_header());
    let mut response = route_request(conn, principal.as_ref(), req, route).await;
    response.headers_mut().extend(cors);
    if let Some(p) = principal {
        response.extensions_mut().insert(p);
    }
    response
}

/// An account that must change its password first (Redfish
/// `PasswordChangeRequired`) reaches its own Redfish account only; anything
/// else, the v1.1 API and the dashboard included, is a 403 saying where to
/// change it.
fn before_password_change<B>(
    route: &Route,
    req: &Request<B>,
    p: &Principal,
) -> Result<(), Box<Response<Body>>> {
    if matches!(route, Route::Redfish(r) if r.allowed_before_password_change(req.method(), &p.name))
    {
        return Ok(());
    }
    tracing::warn!(user = ?p.name, method = %req.method(), path = ?req.uri().path(), "request refused: the account must change its password first");
    Err(Box::new(password_change_refusal(
        matches!(route, Route::Redfish(_)),
        &p.name,
    )))
}

/// The 403 of an account that must change its password first: Redfish's
/// `PasswordChangeRequired` under /redfish, elsewhere an error naming the
/// account's URI.
fn password_change_refusal(redfish: bool, user: &str) -> Response<Body> {
    if redfish {
        let refused = opendcre_redfish::RedfishError::password_change_required(user);
        return super::redfish::response(refused.answer());
    }
    error_response(&ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "the password of account {user:?} must be changed first: PATCH Password at {}",
            opendcre_redfish::account_uri(user)
        ),
    ))
}

/// hyper bounds the head as a whole ([`MAX_HEADER_BLOCK_BYTES`]); one line
/// within it is bounded here, as nginx bounds each of its header buffers.
fn check_line_lengths<B>(req: &Request<B>) -> Result<(), ApiError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_HEADER_LINE_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("request target longer than {MAX_HEADER_LINE_BYTES} bytes"),
        ));
    }
    if let Some((name, _)) = req
        .headers()
        .iter()
        .find(|(k, v)| k.as_str().len() + 2 + v.len() > MAX_HEADER_LINE_BYTES)
    {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("header {name} longer than {MAX_HEADER_LINE_BYTES} bytes"),
        ));
    }
    Ok(())
}

async fn route_request(
    conn: &Connection,
    principal: Option<&Principal>,
    req: Request<Incoming>,
    route: Route,
) -> Response<Body> {
    let (state, opts, activity) = (conn.state.clone(), &conn.opts, &conn.activity);
    let method = req.method().clone();
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query = req.uri().query().map(str::to_string);
    let uri_path = req.uri().path().to_string();
    if let Route::Redfish(resource) = route {
        let caller = opendcre_redfish::Caller {
            principal: principal.cloned(),
            security: conn.security.clone(),
            peer: conn.peer,
        };
        if resource == opendcre_redfish::Resource::EventSse && method == Method::GET {
            let work = activity.begin_work();
            return redfish_event_stream(conn, &caller.user(), &req, query.as_deref(), work);
        }
        return super::redfish::run(state, opts, activity, req, resource, caller).await;
    }
    // The dashboard's files are answered from the request's headers (their
    // validator), taken here, before a POST's body is read below.
    let dashboard = match route {
        Route::Dashboard(asset) if matches!(method, Method::GET | Method::HEAD) => {
            Some(dashboard::response(&req, asset).map(BodyExt::boxed_unsync))
        }
        _ => None,
    };
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
        let mut r = with_common_headers(Response::new(full(Bytes::new())));
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(route.allow_header()));
        return r;
    }
    if method == Method::POST {
        // The POST endpoints ignore their body, but it must still be
        // bounded in size and in time: a body trickling in a byte at a time
        // would otherwise hold its connection forever.
        if let Err(e) = read_body(req, opts).await {
            return e.response(error_response);
        }
    }
    // From here the request is complete and its handler works (on the bus,
    // on a BMC): the connection is not evicted until the answer exists.
    let work = activity.begin_work();
    if let Some(r) = dashboard {
        return with_common_headers(r);
    }
    match route {
        Route::WhoAmI => return json_response(StatusCode::OK, &whoami(principal)),
        Route::Events => return event_stream(conn, query.as_deref(), work),
        _ => {}
    }
    if matches!(route, Route::OpenApi) {
        let mut r = Response::new(full(Bytes::from_static(
            super::openapi::DOCUMENT.as_bytes(),
        )));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return with_common_headers(r);
    }
    let telemetry_route = matches!(
        route,
        Route::Metrics { .. } | Route::Readings | Route::History { .. } | Route::ScanRefresh
    );
    if telemetry_route {
        return run_telemetry(state, route, query, accept, &uri_path).await;
    }
    let user = principal.map_or_else(|| "anonymous".to_string(), |p| p.name.clone());
    match run_handler(state, route, user).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(status = e.status.as_u16(), "{}", e.message);
            }
            error_response(&e)
        }
    }
}

/// Why a request body could not be read: too large (413) or too slow
/// (408, and the connection is closed).
pub(crate) struct BodyError(ApiError);

impl BodyError {
    pub(crate) fn response(&self, shape: impl Fn(&ApiError) -> Response<Body>) -> Response<Body> {
        let mut r = shape(&self.0);
        if self.0.status == StatusCode::REQUEST_TIMEOUT {
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}

/// The whole body, bounded in size (`max_body_bytes`) and time
/// (`body_timeout`).
pub(crate) async fn read_body(
    req: Request<Incoming>,
    opts: &ServerOptions,
) -> Result<Bytes, BodyError> {
    let body = Limited::new(req.into_body(), opts.max_body_bytes).collect();
    match tokio::time::timeout(opts.body_timeout, body).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(_)) => Err(BodyError(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {} bytes", opts.max_body_bytes),
        ))),
        Err(_) => Err(BodyError(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {:?}", opts.body_timeout),
        ))),
    }
}

/// `GET /opendcre/2/whoami`: who the server took the caller for. Without
/// `[auth]` the API is open, and every caller may do everything.
fn whoami(principal: Option<&Principal>) -> serde_json::Value {
    let (name, role, method) = match principal {
        Some(p) => (p.name.as_str(), p.role, p.method.to_string()),
        None => ("anonymous", Role::Operator, "none".to_string()),
    };
    let permissions: Vec<String> = [
        Permission::Read,
        Permission::Operate,
        Permission::Administer,
    ]
    .into_iter()
    .filter(|p| role.grants(*p))
    .map(|p| p.to_string())
    .collect();
    serde_json::json!({
        "name": name,
        "role": role.as_str(),
        "method": method,
        "permissions": permissions,
    })
}

/// `GET /opendcre/2/events` ([`events`]): the stream holds the
/// connection's busy mark (`work`) and one of the stream slots for its
/// whole life.
fn event_stream(conn: &Connection, query: Option<&str>, work: Busy) -> Response<Body> {
    let Some(telemetry) = conn.state.telemetry.clone() else {
        return error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            "/opendcre/2/events: telemetry is off ([telemetry] enabled = false)",
        ));
    };
    let max_events = match v2::max_events(query) {
        Ok(m) => m,
        Err(e) => return error_response(&e),
    };
    let Ok(slot): Result<OwnedSemaphorePermit, _> = conn.streams.clone().try_acquire_owned() else {
        let mut r = error_response(&ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event streams are open; retry later",
        ));
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    let changes = telemetry.cache.subscribe();
    let snapshot = move || {
        telemetry
            .cache
            .readings_line(&telemetry.rack, opendcre_telemetry::now_ms())
    };
    let body = events::start(
        snapshot,
        changes,
        conn.stopping.clone(),
        max_events,
        conn.opts.events,
        Box::new((work, slot)),
    );
    stream_response(body)
}

/// The answer carrying an event stream: not stored, and a reverse proxy
/// must pass events on as they come.
fn stream_response(body: events::EventBody) -> Response<Body> {
    let mut r = Response::new(body.boxed_unsync());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    with_common_headers(r)
}

/// `GET /redfish/v1/EventService/SSE`: an SSE subscription of `user` for
/// the connection's life, under the same stream slots, busy mark and
/// lifetime as `/opendcre/2/events`. Refusals are Redfish errors.
fn redfish_event_stream(
    conn: &Connection,
    user: &str,
    req: &Request<Incoming>,
    query: Option<&str>,
    work: Busy,
) -> Response<Body> {
    let refuse =
        |e: opendcre_redfish::RedfishError| super::redfish::response(e.answer().allow("GET"));
    // DSP0266: a client that does not accept `text/event-stream` gets an
    // error, not a stream it cannot read.
    let accepts = req
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect::<Vec<_>>();
    if !accepts.is_empty()
        && !accepts
            .iter()
            .any(|m| m == "text/event-stream" || m == "text/*" || m == "*/*")
    {
        return refuse(opendcre_redfish::RedfishError::new(
            StatusCode::BAD_REQUEST,
            opendcre_redfish::BaseMessage::HeaderInvalid,
            &["Accept"],
        ));
    }
    let Ok(slot): Result<OwnedSemaphorePermit, _> = conn.streams.clone().try_acquire_owned() else {
        return super::redfish::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event streams are open; retry later",
            Some(5),
        );
    };
    // A reconnecting client (EventSource does it by itself) names the last
    // event it got; the stream starts after it.
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok());
    let sse = match conn
        .state
        .redfish
        .event_service
        .open_sse(user, query, last_event_id)
    {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    let body = events::start_redfish(
        sse,
        conn.stopping.clone(),
        conn.opts.events,
        Box::new((work, slot)),
    );
    let mut r = stream_response(body);
    r.headers_mut().insert(
        opendcre_redfish::ODATA_VERSION,
        HeaderValue::from_static("4.0"),
    );
    r
}

/// Runs the handler in its own task: a panic becomes a 500 for this request
/// only, and a client hanging up does not cut a bus transaction in half.
async fn run_handler(
    state: Arc<AppState>,
    route: Route,
    user: String,
) -> Result<serde_json::Value, ApiError> {
    let deadline = Instant::now() + state.request_timeout;
    let task = tokio::spawn(async move { v11::handle(&state, &route, &user, deadline).await });
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

/// The telemetry routes, in their own task like the v1.1 handlers; 404
/// when `[telemetry]` is off.
async fn run_telemetry(
    state: Arc<AppState>,
    route: Route,
    query: Option<String>,
    accept: Option<String>,
    uri_path: &str,
) -> Response<Body> {
    if state.telemetry.is_none() {
        return error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{uri_path}: telemetry is off ([telemetry] enabled = false)"),
        ));
    }
    let deadline = Instant::now() + state.request_timeout;
    let task = tokio::spawn(async move {
        let t = state.telemetry.as_ref().expect("checked above");
        v2::handle(&state, t, &route, query.as_deref(), accept.as_deref()).await
    });
    let result = match tokio::time::timeout_at(deadline + Duration::from_millis(100), task).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "telemetry handler panicked");
            Err(ApiError::failure(
                "internal error while handling the request",
            ))
        }
        Err(_) => Err(ApiError::failure("request timed out")),
    };
    match result {
        Ok(v2::Answer::Json(v)) => json_response(StatusCode::OK, &v),
        Ok(v2::Answer::JsonBody(body)) => {
            let mut r = Response::new(full(body));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            with_common_headers(r)
        }
        Ok(v2::Answer::Text(text, format)) => {
            with_common_headers(v2::text_response(text, format).map(BodyExt::boxed_unsync))
        }
        Err(e) => error_response(&e),
    }
}

pub(crate) fn with_common_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
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
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    with_common_headers(r)
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.status, &e.body())
}
