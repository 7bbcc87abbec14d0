//! The telemetry routes (docs/metrics.md): `/metrics` and `/opendcre/2/…`.
//! They read the poller's cache and never wait on the bus, except the scan
//! refresh, which asks the poller and waits for its scan.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, VARY};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::error::ApiError;
use super::router::Route;
use super::state::AppState;
use super::v11::{parse_board, parse_device};
use opendcre_telemetry::{now_ms, parse_rfc3339, Filter, Format, Kind, Telemetry};

pub(crate) enum Answer {
    Json(Value),
    /// JSON already serialized.
    JsonBody(Vec<u8>),
    Text(String, Format),
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// `key=value` pairs of a query string, percent-decoded (`+` stays `+`:
/// RFC 3339 offsets use it, and these clients are scripts, not forms).
fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            super::path::segments(&format!("/{s}"))
                .ok()
                .map(|mut v| v.pop().unwrap_or_default())
                .filter(|d| !d.contains('/'))
                .ok_or_else(|| bad_request(format!("malformed query parameter {pair:?}")))
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

/// The query of `GET /opendcre/2/events`: `max_events=N` (1 to 10^6)
/// ends the stream after N events; nothing else is allowed.
pub(crate) fn max_events(query: Option<&str>) -> Result<Option<u64>, ApiError> {
    let mut max = None;
    for (k, v) in query_pairs(query)? {
        match k.as_str() {
            "max_events" => {
                max = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or_else(|| {
                            bad_request(format!(
                                "max_events={v:?}: a whole number from 1 to 1000000"
                            ))
                        })?,
                )
            }
            other => {
                return Err(bad_request(format!(
                    "unknown query parameter {other:?}: use max_events"
                )))
            }
        }
    }
    Ok(max)
}

pub(crate) async fn handle(
    state: &AppState,
    telemetry: &Telemetry,
    route: &Route,
    query: Option<&str>,
    accept: Option<&str>,
) -> Result<Answer, ApiError> {
    match route {
        Route::Metrics { .. } => {
            let format = Format::negotiate(accept);
            Ok(Answer::Text(telemetry.render(format), format))
        }
        Route::Readings => {
            let mut filter = Filter::default();
            for (k, v) in query_pairs(query)? {
                match k.as_str() {
                    "board" => filter.boards.push(parse_board(&v).map_err(|e| bad_request(e.message))?),
                    "kind" => filter.kinds.push(Kind::from_name(&v).ok_or_else(|| {
                        bad_request(format!(
                            "unknown kind {v:?}: one of thermistor, temperature, humidity, pressure, current, fan_speed, power, led"
                        ))
                    })?),
                    other => return Err(bad_request(format!("unknown query parameter {other:?}: use board and kind"))),
                }
            }
            Ok(Answer::JsonBody(telemetry.cache.readings_body(
                &telemetry.rack,
                &filter,
                now_ms(),
            )))
        }
        Route::History { board, device } => {
            let key = (parse_board(board)?, parse_device(device)?);
            let (mut since, mut until) = (0, u64::MAX);
            for (k, v) in query_pairs(query)? {
                let t = || {
                    parse_rfc3339(&v).ok_or_else(|| {
                        bad_request(format!(
                            "{k}={v:?} is not an RFC 3339 time (2026-01-31T12:00:00Z)"
                        ))
                    })
                };
                match k.as_str() {
                    "since" => since = t()?,
                    "until" => until = t()?,
                    other => {
                        return Err(bad_request(format!(
                            "unknown query parameter {other:?}: use since and until"
                        )))
                    }
                }
            }
            telemetry
                .cache
                .history_json(key, since, until)
                .map(Answer::Json)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        format!(
                            "board {board} device {device} is not a polled device of the last scan"
                        ),
                    )
                })
        }
        Route::ScanRefresh => {
            let wait = state
                .request_timeout
                .saturating_sub(Duration::from_millis(200));
            if telemetry.refresh_scan(wait).await {
                let scan = telemetry.cache.scan_info();
                Ok(Answer::Json(json!({
                    "boards": scan.boards,
                    "devices": scan.devices,
                    "error": scan.error,
                })))
            } else {
                Err(ApiError::failure(
                    "the scan did not finish within the request timeout; it goes on in the background",
                ))
            }
        }
        _ => Err(ApiError::failure("not a telemetry route")),
    }
}

pub(crate) fn text_response(text: String, format: Format) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    r.headers_mut()
        .insert(VARY, HeaderValue::from_static("accept"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_and_keep_plus() {
        let q = query_pairs(Some("board=00000001&kind=led&since=2026-01-01T00:00:00%2B01:00&until=2026-01-01T00:00:00+01:00")).unwrap();
        assert_eq!(q[0], ("board".into(), "00000001".into()));
        assert_eq!(q[2].1, "2026-01-01T00:00:00+01:00");
        assert_eq!(q[3].1, "2026-01-01T00:00:00+01:00");
        assert!(query_pairs(Some("a=%zz")).is_err());
        assert!(query_pairs(None).unwrap().is_empty());
    }
}
