//! IPMI v2.0 RMCP+ session (IPMI v2.0 §13.14–13.33): Get Channel Authentication
//! Capabilities → Open Session → RAKP 1/2 → RAKP 3/4 → Set Session Privilege
//! Level → commands (integrity/confidentiality per cipher suite) → Close Session.

use super::{get_channel_auth_caps, seq_advances, v15::privilege_reply, RqSeq};
use crate::commands::*;
use crate::config::{BmcConfig, Privilege};
use crate::error::IpmiError;
use crate::transport::{Exchange, Transport, Verdict};
use crate::wire::rakp::{self, CipherSuite};
use crate::wire::v20::{self as wire, SessionCrypto};
use crate::wire::{crypto, message, preview};

pub(crate) struct V20Session {
    pub(super) t: Transport,
    st: State,
}

struct State {
    rq: RqSeq,
    keys: SessionCrypto,
    /// Our session id (the BMC puts it in its packets).
    sid_m: u32,
    /// The BMC's session id (we put it in ours).
    sid_c: u32,
    out_seq: u32,
    last_in_seq: Option<u32>,
}

/// One pre-session handshake message (Open Session, RAKP 1, RAKP 3): sent
/// unprotected with session id 0; `check` decodes and validates the reply payload.
struct Handshake<F> {
    payload_type: u8,
    payload: Vec<u8>,
    reply_type: u8,
    check: F,
}

impl<T, F: FnMut(&[u8]) -> Verdict<T>> Exchange for Handshake<F> {
    type Output = T;

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        wire::encode(self.payload_type, 0, 0, &self.payload, &SessionCrypto::NONE)
    }

    fn accept(&mut self, d: &[u8]) -> Verdict<T> {
        let p = match wire::decode(d, &SessionCrypto::NONE) {
            Ok(p) => p,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        if p.payload_type != self.reply_type {
            return Verdict::Ignore(format!(
                "RMCP+ payload type 0x{:02x}, expected 0x{:02x}",
                p.payload_type, self.reply_type
            ));
        }
        if p.session_id != 0 {
            return Verdict::Ignore(format!(
                "handshake reply with session id 0x{:08x}",
                p.session_id
            ));
        }
        (self.check)(&p.payload)
    }
}

struct Call<'a> {
    s: &'a mut State,
    netfn: u8,
    cmd: u8,
    data: &'a [u8],
    rq_seq: u8,
}

impl Exchange for Call<'_> {
    type Output = message::Response;

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        let msg = message::encode_request(self.netfn, self.cmd, self.rq_seq, self.data);
        let s = &mut *self.s;
        let seq = s.out_seq;
        s.out_seq = s.out_seq.wrapping_add(1).max(1);
        wire::encode(wire::PAYLOAD_IPMI, s.sid_c, seq, &msg, &s.keys)
    }

    fn accept(&mut self, d: &[u8]) -> Verdict<message::Response> {
        let s = &mut *self.s;
        let p = match wire::decode(d, &s.keys) {
            Ok(p) => p,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        tracing::trace!(
            seq = p.seq,
            session = p.session_id,
            encrypted = p.encrypted,
            authenticated = p.authenticated,
            "RMCP+ reply"
        );
        if p.payload_type != wire::PAYLOAD_IPMI {
            return Verdict::Ignore(format!(
                "RMCP+ payload type 0x{:02x} inside the session",
                p.payload_type
            ));
        }
        if p.session_id != s.sid_m {
            return Verdict::Ignore(format!(
                "reply for session 0x{:08x}, ours is 0x{:08x}",
                p.session_id, s.sid_m
            ));
        }
        if s.keys.k1.is_some() && !p.authenticated {
            return Verdict::Ignore(
                "unauthenticated reply inside an integrity-protected session".into(),
            );
        }
        if s.keys.aes_key.is_some() && !p.encrypted {
            return Verdict::Ignore("unencrypted reply inside an encrypted session".into());
        }
        if let Err(why) = seq_advances(s.last_in_seq, p.seq) {
            return Verdict::Ignore(why);
        }
        let r = match message::decode_response(&p.payload) {
            Ok(r) => r,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        if let Err(why) = r.answers(self.netfn, self.cmd, self.rq_seq) {
            return Verdict::Ignore(why);
        }
        s.last_in_seq = Some(p.seq);
        Verdict::Accept(r)
    }
}

impl V20Session {
    pub(crate) async fn open(mut t: Transport, cfg: &BmcConfig) -> Result<Self, IpmiError> {
        let bmc = t.bmc.clone();
        let auth_err = |step: &str, detail: String| IpmiError::Auth {
            bmc: bmc.clone(),
            step: step.into(),
            detail,
        };
        let protocol = |step: &str, detail: String| IpmiError::Protocol {
            bmc: bmc.clone(),
            step: step.into(),
            detail,
        };
        let Some(suite) = CipherSuite::from_id(cfg.cipher_suite) else {
            return Err(IpmiError::Unsupported {
                bmc,
                detail: format!(
                    "cipher suite {} is not implemented (0–3 are)",
                    cfg.cipher_suite
                ),
            });
        };
        let user = cfg.username.as_bytes();
        let kuid = cfg.password.as_bytes();
        if user.len() > 16 || kuid.len() > 20 {
            return Err(auth_err(
                "configuration",
                "IPMI v2.0 user names are at most 16 bytes and passwords at most 20".into(),
            ));
        }
        let mut rq = RqSeq::new();

        // 1. Does the BMC speak RMCP+ at all?
        let caps = get_channel_auth_caps(&mut t, &mut rq, cfg.privilege, true).await?;
        if !caps.v20_supported {
            return Err(IpmiError::Unsupported {
                bmc,
                detail: "BMC does not support IPMI v2.0 (RMCP+) on this channel; use interface = \"lan\"".into(),
            });
        }

        // 2. Open Session: propose exactly the suite's algorithms.
        const OPEN: &str = "RMCP+ Open Session";
        let tag = crypto::random_bytes::<1>()[0];
        let sid_m = u32::from_le_bytes(crypto::random_bytes()).max(1);
        let mut ex = Handshake {
            payload_type: wire::PAYLOAD_OPEN_SESSION_REQUEST,
            payload: rakp::encode_open_session_request(tag, cfg.privilege.code(), sid_m, &suite),
            reply_type: wire::PAYLOAD_OPEN_SESSION_RESPONSE,
            check: |p: &[u8]| match rakp::decode_open_session_response(p) {
                Err(e) => Verdict::Ignore(e.to_string()),
                Ok(r) if r.tag != tag || r.sid_m != sid_m => Verdict::Ignore(
                    "Open Session Response for another request (tag or session id)".into(),
                ),
                Ok(r) => Verdict::Accept(r),
            },
        };
        let r = t.exchange(OPEN, &mut ex).await?;
        let Some(acc) = r.accepted else {
            let detail = format!(
                "BMC refused the session: RMCP+ status 0x{:02x} ({}) for cipher suite {}",
                r.status,
                rakp::status_meaning(r.status),
                suite.id
            );
            return Err(match r.status {
                0x09 | 0x0A | 0x0D => auth_err(OPEN, detail),
                _ => IpmiError::Unsupported { bmc, detail },
            });
        };
        if (acc.auth, acc.integrity, acc.confidentiality)
            != (suite.auth, suite.integrity, suite.confidentiality)
        {
            return Err(protocol(
                OPEN,
                format!(
                    "BMC chose algorithms {}/{}/{} instead of cipher suite {}'s",
                    acc.auth, acc.integrity, acc.confidentiality, suite.id
                ),
            ));
        }
        if acc.sid_c == 0 {
            return Err(protocol(OPEN, "BMC assigned session id 0".into()));
        }
        let sid_c = acc.sid_c;

        // 3. RAKP 1 → 2: the BMC proves it knows the password.
        const RAKP12: &str = "RMCP+ RAKP 1/2";
        let rm: [u8; 16] = crypto::random_bytes();
        let role = cfg.privilege.code() | rakp::ROLE_NAME_ONLY_LOOKUP;
        let mut ex = Handshake {
            payload_type: wire::PAYLOAD_RAKP1,
            payload: rakp::encode_rakp1(tag, sid_c, &rm, role, user),
            reply_type: wire::PAYLOAD_RAKP2,
            check: |p: &[u8]| match rakp::decode_rakp2(p) {
                Err(e) => Verdict::Ignore(e.to_string()),
                Ok(r) if r.tag != tag || r.sid_m != sid_m => {
                    Verdict::Ignore("RAKP 2 for another request (tag or session id)".into())
                }
                Ok(r) => Verdict::Accept(r),
            },
        };
        let r2 = t.exchange(RAKP12, &mut ex).await?;
        match r2.status {
            0 => {}
            0x0D => {
                return Err(auth_err(
                    RAKP12,
                    format!(
                        "unknown user name {:?} (RMCP+ status 0x0d, unauthorized name)",
                        cfg.username
                    ),
                ))
            }
            s => {
                return Err(auth_err(
                    RAKP12,
                    format!(
                        "BMC rejected RAKP 1: RMCP+ status 0x{s:02x} ({})",
                        rakp::status_meaning(s)
                    ),
                ))
            }
        }
        let x = rakp::Exchange {
            kuid,
            sid_m,
            sid_c,
            rm,
            rc: r2.rc,
            guid_c: r2.guid_c,
            role,
            user,
        };
        let authenticated = suite.auth == rakp::AUTH_HMAC_SHA1;
        if authenticated && !crypto::ct_eq(&x.rakp2_auth_code(), &r2.auth_code) {
            // Tell the BMC to drop the half-open session instead of holding a slot
            // until it times out; nothing is expected back.
            let abort = rakp::encode_rakp3(tag, 0x0F, sid_c, &[]);
            let _ = t
                .send_only(&wire::encode(
                    wire::PAYLOAD_RAKP3,
                    0,
                    0,
                    &abort,
                    &SessionCrypto::NONE,
                ))
                .await;
            return Err(auth_err(
                RAKP12,
                "wrong password: the BMC's RAKP 2 key-exchange auth code does not match the configured password".into(),
            ));
        }
        if !authenticated && !r2.auth_code.is_empty() {
            return Err(protocol(
                RAKP12,
                "RAKP 2 carries an auth code although the suite has none".into(),
            ));
        }

        // 4. RAKP 3 → 4: we prove the password; the BMC proves the session key.
        const RAKP34: &str = "RMCP+ RAKP 3/4";
        let sik = x.sik();
        let code3 = if authenticated {
            x.rakp3_auth_code().to_vec()
        } else {
            Vec::new()
        };
        let mut ex = Handshake {
            payload_type: wire::PAYLOAD_RAKP3,
            payload: rakp::encode_rakp3(tag, 0, sid_c, &code3),
            reply_type: wire::PAYLOAD_RAKP4,
            check: |p: &[u8]| match rakp::decode_rakp4(p) {
                Err(e) => Verdict::Ignore(e.to_string()),
                Ok(r) if r.tag != tag || r.sid_m != sid_m => {
                    Verdict::Ignore("RAKP 4 for another request (tag or session id)".into())
                }
                Ok(r) => Verdict::Accept(r),
            },
        };
        let r4 = t.exchange(RAKP34, &mut ex).await?;
        if r4.status != 0 {
            return Err(auth_err(
                RAKP34,
                format!(
                    "BMC rejected RAKP 3: RMCP+ status 0x{:02x} ({})",
                    r4.status,
                    rakp::status_meaning(r4.status)
                ),
            ));
        }
        if authenticated && !crypto::ct_eq(&x.rakp4_icv(&sik), &r4.icv) {
            return Err(auth_err(
                RAKP34,
                "RAKP 4 integrity check value does not match the derived session key".into(),
            ));
        }

        let keys = SessionCrypto {
            k1: (suite.integrity == rakp::INTEGRITY_HMAC_SHA1_96)
                .then(|| rakp::derive_key(&sik, 0x01)),
            aes_key: (suite.confidentiality == rakp::CONF_AES_CBC_128).then(|| {
                let k2 = rakp::derive_key(&sik, 0x02);
                k2[..16].try_into().expect("16 bytes")
            }),
        };
        let mut s = V20Session {
            t,
            st: State {
                rq,
                keys,
                sid_m,
                sid_c,
                out_seq: 1,
                last_in_seq: None,
            },
        };

        // 5. Sessions start at User level; chassis control needs more.
        if cfg.privilege > Privilege::User {
            const STEP: &str = "Set Session Privilege Level";
            let r = s
                .call(
                    STEP,
                    NETFN_APP,
                    CMD_SET_SESSION_PRIVILEGE,
                    &[cfg.privilege.code()],
                )
                .await?;
            privilege_reply(&s.t.bmc, STEP, &r, cfg.privilege)?;
        }
        Ok(s)
    }

    pub(crate) async fn call(
        &mut self,
        step: &str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<message::Response, IpmiError> {
        let rq_seq = self.st.rq.next();
        let mut ex = Call {
            s: &mut self.st,
            netfn,
            cmd,
            data,
            rq_seq,
        };
        self.t.exchange(step, &mut ex).await
    }

    /// The id Close Session names: the managed system's (BMC's) session id.
    pub(crate) fn close_id(&self) -> u32 {
        self.st.sid_c
    }
}
