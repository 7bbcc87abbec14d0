//! One UDP socket to one BMC, and the request/reply loop with per-attempt
//! timeouts and bounded retransmission that every IPMI exchange goes through.
//!
//! The socket is `connect`ed, so the kernel drops datagrams from other hosts and
//! ports. Everything that does arrive is judged by the caller's [`Exchange`]:
//! stale, corrupted or foreign datagrams are ignored (remembered for the error
//! message) and waiting continues until the attempt's deadline, so garbage can
//! neither be accepted nor stretch the total time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::error::IpmiError;

/// Largest datagram we accept; IPMI LAN packets are far smaller.
const MAX_DATAGRAM: usize = 2048;

/// The caller's verdict on one received datagram.
pub(crate) enum Verdict<T> {
    /// The reply we were waiting for.
    Accept(T),
    /// Not (a valid) reply to this request; the text says why. Keep waiting.
    Ignore(String),
}

/// One request/reply exchange.
pub(crate) trait Exchange {
    type Output;
    /// The datagram for attempt number `attempt` (0-based). Called again for each
    /// retransmission, so session sequence numbers can advance.
    fn packet(&mut self, attempt: u32) -> Vec<u8>;
    /// Judges a received datagram.
    fn accept(&mut self, datagram: &[u8]) -> Verdict<Self::Output>;
    /// Explanation appended to a timeout error (e.g. "BMCs drop wrong auth codes").
    fn timeout_hint(&self) -> Option<&'static str> {
        None
    }
}

pub(crate) struct Transport {
    socket: UdpSocket,
    /// `host:port`, for messages.
    pub(crate) bmc: String,
    timeout: Duration,
    attempts: u32,
    buf: Vec<u8>,
}

impl Transport {
    /// Resolves `host` (bounded by `timeout`) and connects a fresh UDP socket to it.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        bmc: String,
        timeout: Duration,
        retries: u32,
    ) -> Result<Self, IpmiError> {
        let addr = resolve(host, port, &bmc, timeout).await?;
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let io = |source| IpmiError::Io {
            bmc: bmc.clone(),
            step: "open UDP socket".into(),
            source,
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(addr).await.map_err(io)?;
        Ok(Transport {
            socket,
            bmc,
            timeout,
            attempts: retries + 1,
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// Runs one exchange: send, wait up to `timeout` for an accepted reply, resend
    /// up to `retries` times. Total time is bounded by `timeout * (retries + 1)`.
    pub(crate) async fn exchange<E: Exchange>(
        &mut self,
        step: &str,
        ex: &mut E,
    ) -> Result<E::Output, IpmiError> {
        let mut last_invalid: Option<String> = None;
        for attempt in 0..self.attempts {
            let packet = ex.packet(attempt);
            tracing::trace!(bmc = %self.bmc, step, attempt, len = packet.len(), "IPMI send");
            if let Err(e) = self.socket.send(&packet).await {
                return Err(self.io_error(step, e));
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                let received = match tokio::time::timeout_at(
                    deadline,
                    self.socket.recv(&mut self.buf),
                )
                .await
                {
                    Err(_elapsed) => break,
                    Ok(r) => r,
                };
                let n = match received {
                    Ok(n) => n,
                    Err(e) => return Err(self.io_error(step, e)),
                };
                match ex.accept(&self.buf[..n]) {
                    Verdict::Accept(out) => return Ok(out),
                    Verdict::Ignore(why) => {
                        tracing::debug!(bmc = %self.bmc, step, %why, "IPMI reply ignored");
                        last_invalid = Some(why);
                    }
                }
            }
        }
        Err(match last_invalid {
            Some(detail) => IpmiError::Protocol {
                bmc: self.bmc.clone(),
                step: step.to_string(),
                detail: format!(
                    "no acceptable reply in {} attempt(s) of {} ms; last datagram rejected because: {detail}",
                    self.attempts,
                    self.timeout.as_millis()
                ),
            },
            None => IpmiError::Timeout {
                bmc: self.bmc.clone(),
                step: step.to_string(),
                attempts: self.attempts,
                per_attempt: self.timeout,
                hint: ex.timeout_hint().map(|h| format!("; {h}")).unwrap_or_default(),
            },
        })
    }

    /// Sends a datagram that expects no reply (aborting a handshake).
    pub(crate) async fn send_only(&mut self, packet: &[u8]) -> std::io::Result<()> {
        self.socket.send(packet).await.map(|_| ())
    }

    fn io_error(&self, step: &str, source: std::io::Error) -> IpmiError {
        if source.kind() == std::io::ErrorKind::ConnectionRefused {
            // ICMP port unreachable on a connected UDP socket: nothing listens there.
            return IpmiError::Io {
                bmc: self.bmc.clone(),
                step: step.to_string(),
                source: std::io::Error::new(
                    source.kind(),
                    "ICMP port unreachable: nothing listens on this UDP port (wrong port, or IPMI-over-LAN disabled)",
                ),
            };
        }
        IpmiError::Io {
            bmc: self.bmc.clone(),
            step: step.to_string(),
            source,
        }
    }
}

async fn resolve(
    host: &str,
    port: u16,
    bmc: &str,
    timeout: Duration,
) -> Result<SocketAddr, IpmiError> {
    // IP literals skip the resolver entirely.
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let err = |detail: String| IpmiError::Resolve {
        bmc: bmc.to_string(),
        detail,
    };
    let mut addrs = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            err(format!(
                "no answer from the resolver within {} ms",
                timeout.as_millis()
            ))
        })?
        .map_err(|e| err(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| err(format!("{host} has no addresses")))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo {
        sent: u32,
    }

    impl Exchange for Echo {
        type Output = Vec<u8>;
        fn packet(&mut self, attempt: u32) -> Vec<u8> {
            self.sent += 1;
            vec![attempt as u8]
        }
        fn accept(&mut self, d: &[u8]) -> Verdict<Vec<u8>> {
            if d == b"ok" {
                Verdict::Accept(d.to_vec())
            } else {
                Verdict::Ignore(format!("got {d:?}"))
            }
        }
        fn timeout_hint(&self) -> Option<&'static str> {
            Some("hint")
        }
    }

    #[tokio::test]
    async fn silent_peer_times_out_after_all_attempts() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = peer.local_addr().unwrap().port();
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            format!("127.0.0.1:{port}"),
            Duration::from_millis(50),
            2,
        )
        .await
        .unwrap();
        let mut ex = Echo { sent: 0 };
        let start = std::time::Instant::now();
        let e = t.exchange("Test Step", &mut ex).await.unwrap_err();
        assert_eq!(ex.sent, 3);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(
            e.to_string(),
            format!("IPMI BMC 127.0.0.1:{port}: Test Step: no reply after 3 attempt(s) of 50 ms each; hint")
        );
        // All three attempts reached the peer.
        let mut buf = [0u8; 8];
        for i in 0..3u8 {
            let (n, _) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i]);
        }
    }

    #[tokio::test]
    async fn garbage_then_valid_reply_is_accepted_and_garbage_only_is_reported() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = peer.local_addr().unwrap().port();
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            "bmc".into(),
            Duration::from_millis(200),
            0,
        )
        .await
        .unwrap();
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let (_, from) = peer.recv_from(&mut buf).await.unwrap();
            peer.send_to(b"junk", from).await.unwrap();
            peer.send_to(b"ok", from).await.unwrap();
            let (_, from) = peer.recv_from(&mut buf).await.unwrap();
            peer.send_to(b"junk2", from).await.unwrap();
        });
        assert_eq!(t.exchange("S", &mut Echo { sent: 0 }).await.unwrap(), b"ok");
        let e = t.exchange("S", &mut Echo { sent: 0 }).await.unwrap_err();
        assert!(matches!(e, IpmiError::Protocol { .. }));
        assert!(
            e.to_string().contains("got [106, 117, 110, 107, 50]"),
            "{e}"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn closed_port_is_reported_as_such() {
        // Bind then drop to find a port with (very likely) nothing on it.
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let mut t = Transport::connect(
            "127.0.0.1",
            port,
            "bmc".into(),
            Duration::from_millis(200),
            1,
        )
        .await
        .unwrap();
        let e = t.exchange("S", &mut Echo { sent: 0 }).await.unwrap_err();
        assert!(e.to_string().contains("nothing listens"), "{e}");
    }

    #[tokio::test]
    async fn host_names_are_resolved() {
        // "localhost" resolves from /etc/hosts; no DNS traffic leaves the machine.
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = peer.local_addr().unwrap().port();
        let addr = resolve("localhost", port, "localhost", Duration::from_secs(2))
            .await
            .unwrap();
        assert!(addr.ip().is_loopback());
        assert_eq!(addr.port(), port);
    }
}
