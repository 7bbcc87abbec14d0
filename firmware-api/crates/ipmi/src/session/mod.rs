//! An authenticated IPMI session with one BMC: opened, used for a few commands,
//! closed. v1.5 (`lan`) and v2.0 RMCP+ (`lanplus`) sessions share this
//! interface, so the bridge code is the same for both.

mod v15;
mod v20;

use super::commands::{CMD_CLOSE_SESSION, CMD_GET_CHANNEL_AUTH_CAPABILITIES, NETFN_APP};
use super::config::{BmcConfig, Interface, Privilege};
use super::error::{completion_code_meaning, IpmiError};
use super::transport::{Transport, Verdict};
use super::wire::{message, preview, v15 as wire15};

pub(crate) use v15::V15Session;
pub(crate) use v20::V20Session;

/// An open session.
pub(crate) enum Session {
    V15(V15Session),
    V20(V20Session),
}

impl Session {
    /// Connects and runs the session-establishment handshake for `cfg.interface`.
    pub(crate) async fn open(cfg: &BmcConfig) -> Result<Session, IpmiError> {
        let t =
            Transport::connect(&cfg.ip, cfg.port, cfg.address(), cfg.timeout, cfg.retries).await?;
        Ok(match cfg.interface {
            Interface::Lan => Session::V15(V15Session::open(t, cfg).await?),
            Interface::LanPlus => Session::V20(V20Session::open(t, cfg).await?),
        })
    }

    /// Sends a request inside the session and returns the full response, whatever
    /// its completion code.
    pub(crate) async fn call_raw(
        &mut self,
        step: &str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<message::Response, IpmiError> {
        match self {
            Session::V15(s) => s.call(step, netfn, cmd, data).await,
            Session::V20(s) => s.call(step, netfn, cmd, data).await,
        }
    }

    /// Sends a request and returns its response data; a non-zero completion code
    /// is an error.
    pub(crate) async fn call(
        &mut self,
        step: &str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Vec<u8>, IpmiError> {
        let r = self.call_raw(step, netfn, cmd, data).await?;
        if r.completion_code != 0 {
            return Err(cc_error(self.bmc(), step, r.completion_code, None));
        }
        Ok(r.data)
    }

    pub(crate) fn bmc(&self) -> &str {
        match self {
            Session::V15(s) => &s.t.bmc,
            Session::V20(s) => &s.t.bmc,
        }
    }

    /// Closes the session. A failure is logged, not returned: the operation itself
    /// is done, and the BMC drops idle sessions on its own after its timeout.
    pub(crate) async fn close(mut self) {
        let id = match &self {
            Session::V15(s) => s.close_id(),
            Session::V20(s) => s.close_id(),
        };
        let result = self
            .call(
                "Close Session",
                NETFN_APP,
                CMD_CLOSE_SESSION,
                &id.to_le_bytes(),
            )
            .await;
        if let Err(e) = result {
            let bmc = self.bmc();
            tracing::warn!(%bmc, error = %e, "IPMI Close Session failed; the BMC will time the session out");
        }
    }
}

/// Builds the error for a non-zero completion code; `specific` explains
/// command-specific codes (0x80–0xBE).
pub(crate) fn cc_error(bmc: &str, step: &str, code: u8, specific: Option<&str>) -> IpmiError {
    IpmiError::CompletionCode {
        bmc: bmc.to_string(),
        step: step.to_string(),
        code,
        meaning: specific
            .unwrap_or_else(|| completion_code_meaning(code))
            .to_string(),
    }
}

/// 6-bit request sequence numbers; a fresh one per request lets a late reply to an
/// earlier request be told apart from the reply we are waiting for.
pub(crate) struct RqSeq(u8);

impl RqSeq {
    pub(crate) fn new() -> Self {
        RqSeq(super::wire::crypto::random_bytes::<1>()[0] & 0x3F)
    }

    pub(crate) fn next(&mut self) -> u8 {
        self.0 = (self.0 + 1) & 0x3F;
        self.0
    }
}

/// Accepts a session sequence number if it moved forward from the last accepted
/// one (with wrap-around), which rejects replays and duplicated replies.
pub(crate) fn seq_advances(last: Option<u32>, seq: u32) -> Result<(), String> {
    match last {
        Some(last) if seq.wrapping_sub(last) == 0 || seq.wrapping_sub(last) > 0x8000_0000 => Err(format!(
            "session sequence number {seq} does not advance past {last} (replayed or duplicated reply)"
        )),
        _ => Ok(()),
    }
}

/// What Get Channel Authentication Capabilities tells us (IPMI v2.0 §22.13).
#[derive(Debug, Clone)]
pub(crate) struct ChannelAuthCaps {
    /// Bit mask of supported v1.5 auth types (bit n = auth type n).
    pub(crate) auth_types: u8,
    pub(crate) per_message_auth_disabled: bool,
    pub(crate) v20_supported: bool,
}

/// Runs Get Channel Authentication Capabilities outside any session (v1.5 packet
/// format, which every BMC understands). `v20` sets bit 7 of the channel byte to
/// ask for the IPMI v2.0 extended data.
pub(crate) async fn get_channel_auth_caps(
    t: &mut Transport,
    rq: &mut RqSeq,
    privilege: Privilege,
    v20: bool,
) -> Result<ChannelAuthCaps, IpmiError> {
    const STEP: &str = "Get Channel Authentication Capabilities";
    let channel = if v20 { 0x8E } else { 0x0E };
    let mut ex = Sessionless {
        netfn: NETFN_APP,
        cmd: CMD_GET_CHANNEL_AUTH_CAPABILITIES,
        data: vec![channel, privilege.code()],
        rq_seq: rq.next(),
    };
    let r = t.exchange(STEP, &mut ex).await?;
    if r.completion_code != 0 {
        if v20 && r.completion_code == 0xCC {
            return Err(IpmiError::Unsupported {
                bmc: t.bmc.clone(),
                detail: "BMC rejects the IPMI v2.0 capabilities query (completion code 0xcc): it does not support RMCP+; use interface = \"lan\"".into(),
            });
        }
        return Err(cc_error(&t.bmc, STEP, r.completion_code, None));
    }
    if r.data.len() < 8 {
        return Err(IpmiError::Protocol {
            bmc: t.bmc.clone(),
            step: STEP.into(),
            detail: format!("reply has {} data bytes, expected 8", r.data.len()),
        });
    }
    Ok(ChannelAuthCaps {
        auth_types: r.data[1] & 0x3F,
        per_message_auth_disabled: r.data[2] & 0x10 != 0,
        v20_supported: r.data[1] & 0x80 != 0 && r.data[3] & 0x02 != 0,
    })
}

/// A request outside any session: v1.5 format, auth type none, session id 0.
pub(crate) struct Sessionless {
    pub(crate) netfn: u8,
    pub(crate) cmd: u8,
    pub(crate) data: Vec<u8>,
    pub(crate) rq_seq: u8,
}

impl super::transport::Exchange for Sessionless {
    type Output = message::Response;

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        let msg = message::encode_request(self.netfn, self.cmd, self.rq_seq, &self.data);
        wire15::encode(wire15::AUTH_NONE, 0, 0, &[0; 16], &msg)
    }

    fn accept(&mut self, d: &[u8]) -> Verdict<message::Response> {
        let p = match wire15::decode(d) {
            Ok(p) => p,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        if p.session_id != 0 {
            return Verdict::Ignore(format!(
                "reply for session 0x{:08x}, expected none",
                p.session_id
            ));
        }
        match message::decode_response(p.message) {
            Err(e) => Verdict::Ignore(format!("{e} ({})", preview(d))),
            Ok(r) => match r.answers(self.netfn, self.cmd, self.rq_seq) {
                Err(why) => Verdict::Ignore(why),
                Ok(()) => Verdict::Accept(r),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_must_advance() {
        assert!(seq_advances(None, 0).is_ok());
        assert!(seq_advances(Some(5), 6).is_ok());
        assert!(seq_advances(Some(5), 9).is_ok());
        assert!(seq_advances(Some(5), 5).is_err());
        assert!(seq_advances(Some(5), 4).is_err());
        assert!(seq_advances(Some(u32::MAX), 1).is_ok(), "wrap-around");
    }

    #[test]
    fn rq_seq_wraps_at_six_bits() {
        let mut r = RqSeq(62);
        assert_eq!(r.next(), 63);
        assert_eq!(r.next(), 0);
    }
}
