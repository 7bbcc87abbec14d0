//! The Redfish service's seam to the HTTP server: a `/redfish` request,
//! authenticated and admitted like every other, has its body read within
//! the same limits and is answered by `opendcre_redfish::handle` in its own
//! task; every refusal on a Redfish URI is shaped as a Redfish error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::time::Instant;

use super::admission::Activity;
use super::server::{full, read_body, with_common_headers, Body, ServerOptions};
use super::state::AppState;

/// A Redfish request after authentication: its body read within the same
/// bounds as every other, then the Redfish handler in its own task (a
/// panic is a 500 for this request only; the deadline bounds bus work).
pub(crate) async fn run(
    state: Arc<AppState>,
    opts: &ServerOptions,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
    resource: opendcre_redfish::Resource,
    caller: opendcre_redfish::Caller,
) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let push = match resource {
        opendcre_redfish::Resource::UpdateUpload => Some(super::upload::Form::Bundle),
        opendcre_redfish::Resource::UpdateMultipart => Some(super::upload::Form::Multipart),
        _ => None,
    };
    if let (Some(form), true) = (push, method == Method::POST) {
        return super::upload::run(&state, opts, activity, req, &caller, form).await;
    }
    let headers = req.headers().clone();
    let body = if method == Method::POST || method == Method::PATCH {
        match read_body(req, opts).await {
            Ok(b) => b,
            Err(e) => return e.response(|e| error(e.status, &e.message, None)),
        }
    } else {
        Bytes::new()
    };
    let _work = activity.begin_work();
    let deadline = Instant::now() + state.request_timeout;
    let task = tokio::spawn(async move {
        let head = opendcre_redfish::RequestHead {
            method: &method,
            path: &path,
            query: query.as_deref(),
            headers: &headers,
        };
        opendcre_redfish::handle(&state.redfish, &resource, &head, &body, deadline, &caller).await
    });
    let answer = match tokio::time::timeout_at(deadline + Duration::from_millis(100), task).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => {
            tracing::error!(error = %join, "redfish handler panicked");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while handling the request",
                None,
            );
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "request timed out", None),
    };
    response(answer)
}

pub(crate) fn response(answer: opendcre_redfish::Answer) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(answer.body)));
    *r.status_mut() = answer.status;
    *r.headers_mut() = answer.headers;
    with_common_headers(r)
}

/// An error the HTTP layer raises on a Redfish route, in Redfish's format.
pub(crate) fn error(status: StatusCode, message: &str, retry_secs: Option<u64>) -> Response<Body> {
    response(opendcre_redfish::RedfishError::from_status(status, message, retry_secs).answer())
}
