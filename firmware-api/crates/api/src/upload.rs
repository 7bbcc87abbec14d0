//! `POST /redfish/v1/UpdateService/upload` (the UpdateService's
//! `HttpPushUri`: the bundle's bytes as they are) and
//! `POST …/UpdateService/update-multipart` (`MultipartHttpPushUri`, what
//! current clients use: `multipart/form-data` with an `UpdateParameters`
//! JSON part and an `UpdateFile` part): a RAUC bundle of ~100 MiB, far
//! beyond the 64 KiB every other body may have. These routes stream the
//! bundle into a file in `[update] upload_dir` with their own bounds:
//! `max_bundle_bytes` (413) and a progress timeout (`body_timeout` without
//! a byte: 408) instead of a total time, one upload or install at a time
//! (409). The file is removed on every failure (a guard, so also when the
//! client goes away); once the body is complete and its parameters check,
//! `opendcre_redfish::Updater::start_install` takes it. Authentication,
//! the `Operate` permission and the cross-site write policy ran before, in
//! the server, as for every write.

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
use super::multipart::{self, Piece};
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

/// How a push carries the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `application/octet-stream`: the body is the bundle.
    Bundle,
    /// `multipart/form-data`: `UpdateParameters` and `UpdateFile`.
    Multipart,
}

/// Most bytes of the `UpdateParameters` and `OemParameters` parts.
const MAX_PARAMETERS: usize = 64 * 1024;

pub(crate) async fn run(
    state: &Arc<AppState>,
    opts: &ServerOptions,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
    caller: &Caller,
    form: Form,
) -> Response<Body> {
    let updater = state.redfish.update.clone();
    match receive(&updater, opts, activity, req, caller, form).await {
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

/// Which part of a multipart push the bytes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Parameters,
    File,
    Oem,
}

fn bad_form(detail: String) -> RedfishError {
    refuse(
        StatusCode::BAD_REQUEST,
        BaseMessage::GeneralError,
        &[],
        detail,
    )
}

/// `413`: a bundle above `[update] max_bundle_bytes`.
fn too_large(max: u64) -> RedfishError {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        BaseMessage::PayloadTooLarge,
        &[],
        format!("a bundle may have at most {max} bytes ([update] max_bundle_bytes)"),
    )
}

/// The file a push's bundle goes to, and how much of it came.
struct BundleFile {
    file: tokio::fs::File,
    total: u64,
    max: u64,
}

impl BundleFile {
    /// Appends `bytes`; past `max` bytes in all, a 413.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), RedfishError> {
        self.total += bytes.len() as u64;
        if self.total > self.max {
            return Err(too_large(self.max));
        }
        self.file.write_all(bytes).await.map_err(|e| {
            RedfishError::from_status(
                StatusCode::INSUFFICIENT_STORAGE,
                &format!("writing the bundle failed after {} bytes: {e}", self.total),
                None,
            )
        })
    }
}

/// A multipart push's parts as they come: the part being read, the
/// parameters, which parts were seen.
#[derive(Default)]
struct Fields {
    part: Option<Part>,
    parameters: Vec<u8>,
    oem: usize,
    seen: Vec<Part>,
}

impl Fields {
    /// Takes one piece of the form; the bytes that belong to the bundle
    /// file come back to be written.
    fn take(&mut self, piece: Piece) -> Result<Option<Vec<u8>>, RedfishError> {
        let bytes = match piece {
            Piece::Start { name, .. } => {
                let p = match name.as_str() {
                    "UpdateParameters" => Part::Parameters,
                    "UpdateFile" => Part::File,
                    "OemParameters" => Part::Oem,
                    other => {
                        return Err(bad_form(format!(
                            "unknown part {:?}: the parts are UpdateParameters, UpdateFile and OemParameters",
                            other.chars().take(64).collect::<String>()
                        )))
                    }
                };
                if self.seen.contains(&p) {
                    return Err(bad_form(format!("the part {name} came twice")));
                }
                self.seen.push(p);
                self.part = Some(p);
                return Ok(None);
            }
            Piece::End => {
                self.part = None;
                return Ok(None);
            }
            Piece::Data(d) => d,
        };
        match self.part {
            Some(Part::File) => return Ok(Some(bytes)),
            Some(Part::Parameters) => {
                self.parameters.extend_from_slice(&bytes);
                if self.parameters.len() > MAX_PARAMETERS {
                    return Err(bad_form(format!(
                        "UpdateParameters has more than {MAX_PARAMETERS} bytes"
                    )));
                }
            }
            Some(Part::Oem) => {
                self.oem += bytes.len();
                if self.oem > MAX_PARAMETERS {
                    return Err(bad_form(format!(
                        "OemParameters has more than {MAX_PARAMETERS} bytes"
                    )));
                }
            }
            None => {}
        }
        Ok(None)
    }
}

async fn receive(
    updater: &Arc<Updater>,
    opts: &ServerOptions,
    activity: &Arc<Activity>,
    req: Request<Incoming>,
    caller: &Caller,
    form: Form,
) -> Result<Answer, RedfishError> {
    let settings = updater.settings();
    if !settings.enabled {
        return Err(Updater::disabled_error());
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let mut reader = match form {
        Form::Bundle if media.eq_ignore_ascii_case("application/octet-stream") => None,
        Form::Bundle => {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BaseMessage::HeaderInvalid,
                &["Content-Type"],
                "send the bundle's bytes as Content-Type: application/octet-stream".into(),
            ))
        }
        Form::Multipart => match multipart::boundary(content_type) {
            Some(b) => Some(multipart::Reader::new(&b)),
            None => {
                return Err(refuse(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    BaseMessage::HeaderInvalid,
                    &["Content-Type"],
                    "send multipart/form-data with a boundary: an UpdateParameters part (JSON) and an UpdateFile part (the bundle)".into(),
                ))
            }
        },
    };
    let max = settings.max_bundle_bytes;
    // A multipart body also carries its parameters and boundaries.
    let allowance = if reader.is_some() {
        2 * MAX_PARAMETERS as u64 + 64 * 1024
    } else {
        0
    };
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max.saturating_add(allowance)) {
        return Err(too_large(max));
    }
    let slot = updater.try_begin().ok_or_else(Updater::busy_error)?;
    // An upload is work in progress: the connection is not closed for a
    // newcomer while its bytes arrive.
    let _work = activity.begin_work();
    let path = settings
        .upload_dir
        .join(format!("upload-{}.raucb", unique()));
    let file = create(&path).await.map_err(|e| {
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
    let mut bundle = BundleFile {
        file,
        total: 0,
        max,
    };
    let mut received: u64 = 0;
    let mut fields = Fields::default();
    loop {
        let frame = match tokio::time::timeout(opts.body_timeout, body.frame()).await {
            Err(_) => {
                return Err(RedfishError::from_status(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "no bytes of the bundle for {:?} after {received} bytes",
                        opts.body_timeout
                    ),
                    None,
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(RedfishError::from_status(
                    StatusCode::BAD_REQUEST,
                    &format!("the upload broke off after {received} bytes: {e}"),
                    None,
                ))
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > max.saturating_add(allowance) {
            return Err(too_large(max));
        }
        match &mut reader {
            // The body is the bundle: written as it comes.
            None => bundle.write(&data).await?,
            Some(r) => {
                for piece in r.feed(&data).map_err(bad_form)? {
                    if let Some(bytes) = fields.take(piece)? {
                        bundle.write(&bytes).await?;
                    }
                }
            }
        }
    }
    let BundleFile {
        mut file, total, ..
    } = bundle;
    if let Err(e) = file.flush().await {
        return Err(RedfishError::from_status(
            StatusCode::INSUFFICIENT_STORAGE,
            &format!("writing the bundle failed: {e}"),
            None,
        ));
    }
    drop(file);
    if let Some(r) = &reader {
        if !r.done() {
            return Err(bad_form(
                "the multipart body ends before its closing boundary".into(),
            ));
        }
        if !fields.seen.contains(&Part::Parameters) || !fields.seen.contains(&Part::File) {
            return Err(bad_form(
                "a multipart push needs an UpdateParameters part and an UpdateFile part".into(),
            ));
        }
        Updater::check_parameters(&fields.parameters)?;
    }
    if total == 0 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            BaseMessage::GeneralError,
            &[],
            "the request has no bundle: send the bundle's bytes".into(),
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
