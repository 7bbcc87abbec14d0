//! Security built in (the original OpenDCRE left it to an nginx in front):
//! [`tls`] terminates TLS on the API's listeners, [`auth`] decides per request
//! who the caller is and whether their role allows what the route needs.

pub mod auth;
pub mod tls;
