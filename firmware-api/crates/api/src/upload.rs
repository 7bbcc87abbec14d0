//! `POST /redfish/v1/UpdateService/upload` (the UpdateService's
//! `HttpPushUri`): a RAUC bundle of ~100 MiB, far beyond the 64 KiB every
//! other body may have. This one route streams its body into a file in
//! `[update] upload_dir` with its own bounds: `max_bundle_bytes` (413) and
//! a progress timeout (`body_timeout` without a byte: 408) instead of a
//! total time, one upload or install at a time (409). The file is removed
//! on every failure (a guard, so also when the client goes away); once the
//! body is complete, `opendcre_redfish::Updater::start_install` takes it.
//! Authentication, the `Operate` permission and the cross-site write
//! policy ran before, in the server, as for every write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use opendcre_redfish::{Answer, BaseMessage, Caller, RedfishError, Updater};
use tokio::io::AsyncWriteExt;

use super::admission::Activity;
use super::redfish::response;
use super::server::{Body, ServerOptions};
use super::state::AppState;

/// Removes the upload's file unless the install took it over.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if let Err(e) = std::fs::remove_file(&p) {
                tracing::warn!(file = %p.display(), "partial upload not removed: {e}");
            }
        }
    }
}

pub(crate) async fn run(
    state: &Arc<AppState>,
    opts: &ServerOptions,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
    caller: &Caller,
) -> Response<Body> {
    let updater = state.redfish.update.clone();
    match receive(&updater, opts, activity, req, caller).await {
        Ok(answer) => response(answer.allow("POST")),
        Err(e) => {
            if e.status.is_server_error() && e.status != StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(status = e.status.as_u16(), detail = ?e.detail, "bundle upload failed");
            }
            let mut r = response(e.answer().allow("POST"));
            // The rest of the body is not read: the connection cannot carry
            // another request.
            r.headers_mut()
                .insert(CONNECTION, hyper::header::HeaderValue::from_static("close"));
            r
        }
    }
}

fn refuse(status: StatusCode, message: BaseMessage, args: &[&str], detail: String) -> RedfishError {
    let mut e = RedfishError::new(status, message, args);
    e.detail = Some(detail);
    e
}

async fn receive(
    updater: &Arc<Updater>,
    opts: &ServerOptions,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
    caller: &Caller,
) -> Result<Answer, RedfishError> {
    let settings = updater.settings();
    if !settings.enabled {
        return Err(Updater::disabled_error());
    }
    let media = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !media.eq_ignore_ascii_case("application/octet-stream") {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BaseMessage::HeaderInvalid,
            &["Content-Type"],
            "send the bundle's bytes as Content-Type: application/octet-stream".into(),
        ));
    }
    let max = settings.max_bundle_bytes;
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            BaseMessage::PayloadTooLarge,
            &[],
            format!("a bundle may have at most {max} bytes ([update] max_bundle_bytes)"),
        )
    };
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let slot = updater.try_begin().ok_or_else(Updater::busy_error)?;
    // An upload is work in progress: the connection is not closed for a
    // newcomer while its bytes arrive.
    let _work = activity.begin_work();
    let path = settings
        .upload_dir
        .join(format!("upload-{}.raucb", unique()));
    let mut file = create(&path).await.map_err(|e| {
        RedfishError::from_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "the upload directory {} cannot be written: {e}",
                settings.upload_dir.display()
            ),
            None,
        )
    })?;
    let mut partial = Partial(Some(path.clone()));
    let mut body = req.into_body();
    let mut total: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(opts.body_timeout, body.frame()).await {
            Err(_) => {
                return Err(RedfishError::from_status(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "no bytes of the bundle for {:?} after {total} bytes",
                        opts.body_timeout
                    ),
                    None,
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(RedfishError::from_status(
                    StatusCode::BAD_REQUEST,
                    &format!("the upload broke off after {total} bytes: {e}"),
                    None,
                ))
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > max {
            return Err(too_large());
        }
        if let Err(e) = file.write_all(&data).await {
            return Err(RedfishError::from_status(
                StatusCode::INSUFFICIENT_STORAGE,
                &format!("writing the bundle failed after {total} bytes: {e}"),
                None,
            ));
        }
    }
    if let Err(e) = file.flush().await {
        return Err(RedfishError::from_status(
            StatusCode::INSUFFICIENT_STORAGE,
            &format!("writing the bundle failed: {e}"),
            None,
        ));
    }
    drop(file);
    if total == 0 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            BaseMessage::GeneralError,
            &[],
            "the request has no body: send the bundle's bytes".into(),
        ));
    }
    partial.0 = None;
    Ok(updater.start_install(slot, path, total, &caller.user()))
}

/// A new file only the service user can read (`O_EXCL`: never another's).
async fn create(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
}

/// The process id and a counter: a name no earlier upload of this process
/// used, and one a crashed process's leftover cannot collide with for long.
fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
