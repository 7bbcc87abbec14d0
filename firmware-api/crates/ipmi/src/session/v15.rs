//! IPMI v1.5 session (spec §7.2, IPMI v1.5 §6.12): Get Channel Authentication
//! Capabilities → Get Session Challenge → Activate Session → Set Session
//! Privilege Level → commands → Close Session.

use super::{cc_error, get_channel_auth_caps, seq_advances, RqSeq};
use crate::commands::*;
use crate::config::{AuthType, BmcConfig, Privilege};
use crate::error::IpmiError;
use crate::transport::{Exchange, Transport, Verdict};
use crate::wire::{crypto, message, preview, u32_le, v15 as wire};

pub(crate) struct V15Session {
    pub(super) t: Transport,
    st: State,
}

/// The session state an exchange reads and advances (kept apart from the
/// transport so both can be borrowed at once).
struct State {
    rq: RqSeq,
    auth: u8,
    password: [u8; 16],
    session_id: u32,
    /// Next session sequence number for our requests.
    out_seq: u32,
    /// Last session sequence number accepted from the BMC.
    last_in_seq: Option<u32>,
    /// The BMC said it accepts unauthenticated packets inside the session.
    per_message_auth_disabled: bool,
}

/// Where in the session life a request is sent; decides the packet header.
#[derive(Clone, Copy)]
enum Phase {
    /// Activate Session: authenticated with the temporary session id, sequence 0.
    Activate { temp_id: u32 },
    /// Inside the activated session.
    Session,
}

struct Call<'a> {
    s: &'a mut State,
    phase: Phase,
    netfn: u8,
    cmd: u8,
    data: &'a [u8],
    rq_seq: u8,
    hint: Option<&'static str>,
}

impl Exchange for Call<'_> {
    type Output = message::Response;

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        let msg = message::encode_request(self.netfn, self.cmd, self.rq_seq, self.data);
        let s = &mut *self.s;
        match self.phase {
            Phase::Activate { temp_id } => wire::encode(s.auth, 0, temp_id, &s.password, &msg),
            Phase::Session => {
                // Every (re)transmission gets a new sequence number: BMCs discard
                // repeated numbers as replays.
                let seq = s.out_seq;
                s.out_seq = s.out_seq.wrapping_add(1).max(1);
                let auth = if s.per_message_auth_disabled {
                    wire::AUTH_NONE
                } else {
                    s.auth
                };
                wire::encode(auth, seq, s.session_id, &s.password, &msg)
            }
        }
    }

    fn accept(&mut self, d: &[u8]) -> Verdict<message::Response> {
        let p = match wire::decode(d) {
            Ok(p) => p,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        tracing::trace!(
            auth = p.auth_type,
            seq = p.seq,
            session = p.session_id,
            "IPMI v1.5 reply"
        );
        let s = &mut *self.s;
        match self.phase {
            Phase::Activate { temp_id } => {
                // The reply carries either the temporary id or the new session id
                // (which we only learn from its payload); anything else is foreign.
                let new_id = message::decode_response(p.message)
                    .ok()
                    .filter(|r| r.data.len() >= 5)
                    .map(|r| u32_le(&r.data[1..5]));
                if p.session_id != temp_id && Some(p.session_id) != new_id {
                    return Verdict::Ignore(format!(
                        "Activate Session reply for session 0x{:08x}, expected 0x{temp_id:08x}",
                        p.session_id
                    ));
                }
            }
            Phase::Session => {
                if p.session_id != s.session_id {
                    return Verdict::Ignore(format!(
                        "reply for session 0x{:08x}, ours is 0x{:08x}",
                        p.session_id, s.session_id
                    ));
                }
                if let Err(why) = seq_advances(s.last_in_seq, p.seq) {
                    return Verdict::Ignore(why);
                }
            }
        }
        if p.auth_type == wire::AUTH_NONE {
            if s.auth != wire::AUTH_NONE && !s.per_message_auth_disabled {
                return Verdict::Ignore(
                    "unauthenticated reply inside an authenticated session".into(),
                );
            }
        } else if p.auth_type != s.auth {
            return Verdict::Ignore(format!(
                "reply uses auth type {}, the session uses {}",
                p.auth_type, s.auth
            ));
        } else if let Err(e) = p.verify(&s.password) {
            return Verdict::Ignore(e.to_string());
        }
        let r = match message::decode_response(p.message) {
            Ok(r) => r,
            Err(e) => return Verdict::Ignore(format!("{e} ({})", preview(d))),
        };
        if let Err(why) = r.answers(self.netfn, self.cmd, self.rq_seq) {
            return Verdict::Ignore(why);
        }
        if matches!(self.phase, Phase::Session) {
            s.last_in_seq = Some(p.seq);
        }
        Verdict::Accept(r)
    }

    fn timeout_hint(&self) -> Option<&'static str> {
        self.hint
    }
}

impl V15Session {
    pub(crate) async fn open(mut t: Transport, cfg: &BmcConfig) -> Result<Self, IpmiError> {
        let bmc = t.bmc.clone();
        let auth_err = |step: &str, detail: String| IpmiError::Auth {
            bmc: bmc.clone(),
            step: step.into(),
            detail,
        };
        let (Some(password), Some(user)) = (
            wire::pad16(cfg.password.as_bytes()),
            wire::pad16(cfg.username.as_bytes()),
        ) else {
            return Err(auth_err(
                "configuration",
                "IPMI v1.5 user names and passwords are at most 16 bytes".into(),
            ));
        };
        let mut rq = RqSeq::new();

        // 1. What does the channel offer?
        let caps = get_channel_auth_caps(&mut t, &mut rq, cfg.privilege, false).await?;
        let code = cfg.auth.code();
        if caps.auth_types & (1 << code) == 0 {
            return Err(IpmiError::Unsupported {
                bmc,
                detail: format!(
                    "BMC does not offer auth type {} for privilege {} on this channel (it offers: {})",
                    cfg.auth.name(),
                    cfg.privilege.name(),
                    offered(caps.auth_types)
                ),
            });
        }

        // 2. Get Session Challenge, outside a session.
        const CHALLENGE: &str = "Get Session Challenge";
        let mut data = vec![code];
        data.extend_from_slice(&user);
        let mut ex = super::Sessionless {
            netfn: NETFN_APP,
            cmd: CMD_GET_SESSION_CHALLENGE,
            data,
            rq_seq: rq.next(),
        };
        let r = t.exchange(CHALLENGE, &mut ex).await?;
        match r.completion_code {
            0 => {}
            0x81 => {
                return Err(auth_err(
                    CHALLENGE,
                    format!(
                        "unknown user name {:?} (completion code 0x81)",
                        cfg.username
                    ),
                ))
            }
            0x82 => {
                return Err(auth_err(
                    CHALLENGE,
                    "null user names are not enabled on this BMC (completion code 0x82)".into(),
                ))
            }
            c => return Err(cc_error(&bmc, CHALLENGE, c, None)),
        }
        if r.data.len() < 20 {
            return Err(IpmiError::Protocol {
                bmc,
                step: CHALLENGE.into(),
                detail: format!("reply has {} data bytes, expected 20", r.data.len()),
            });
        }
        let temp_id = u32_le(&r.data[0..4]);
        let challenge = &r.data[4..20];

        let mut s = V15Session {
            t,
            st: State {
                rq,
                auth: code,
                password,
                session_id: 0,
                out_seq: 0,
                last_in_seq: None,
                per_message_auth_disabled: false,
            },
        };

        // 3. Activate Session, authenticated with the challenge.
        const ACTIVATE: &str = "Activate Session";
        // The sequence number we ask the BMC to start its replies with.
        let initial_bmc_seq = u32::from_le_bytes(crypto::random_bytes()).max(1);
        let mut data = vec![code, cfg.privilege.code()];
        data.extend_from_slice(challenge);
        data.extend_from_slice(&initial_bmc_seq.to_le_bytes());
        let hint = (cfg.auth != AuthType::None).then_some(
            "a BMC silently drops an Activate Session whose auth code is wrong, so check the password and auth type",
        );
        let r = s
            .exchange(
                ACTIVATE,
                Phase::Activate { temp_id },
                NETFN_APP,
                CMD_ACTIVATE_SESSION,
                &data,
                hint,
            )
            .await?;
        if r.completion_code != 0 {
            let detail = match r.completion_code {
                0x81 => "no session slot available",
                0x82 => "no slot available for this user",
                0x83 => "no slot available at the requested privilege",
                0x84 => "session sequence number out of range",
                0x85 => "invalid session id in request (challenge expired?)",
                0x86 => "requested privilege exceeds the user's or channel's limit",
                _ => "",
            };
            return Err(if detail.is_empty() {
                cc_error(&bmc, ACTIVATE, r.completion_code, None)
            } else {
                auth_err(
                    ACTIVATE,
                    format!("{detail} (completion code 0x{:02x})", r.completion_code),
                )
            });
        }
        if r.data.len() < 10 {
            return Err(IpmiError::Protocol {
                bmc,
                step: ACTIVATE.into(),
                detail: format!("reply has {} data bytes, expected 10", r.data.len()),
            });
        }
        s.st.session_id = u32_le(&r.data[1..5]);
        if s.st.session_id == 0 {
            return Err(IpmiError::Protocol {
                bmc,
                step: ACTIVATE.into(),
                detail: "BMC assigned session id 0".into(),
            });
        }
        s.st.out_seq = u32_le(&r.data[5..9]).max(1);
        s.st.per_message_auth_disabled = caps.per_message_auth_disabled;

        // 4. Raise the privilege: sessions start at User level.
        if cfg.privilege > Privilege::User {
            set_privilege(&mut s, &bmc, cfg.privilege).await?;
        }
        Ok(s)
    }

    async fn exchange(
        &mut self,
        step: &str,
        phase: Phase,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        hint: Option<&'static str>,
    ) -> Result<message::Response, IpmiError> {
        let rq_seq = self.st.rq.next();
        let mut ex = Call {
            s: &mut self.st,
            phase,
            netfn,
            cmd,
            data,
            rq_seq,
            hint,
        };
        self.t.exchange(step, &mut ex).await
    }

    pub(crate) async fn call(
        &mut self,
        step: &str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<message::Response, IpmiError> {
        self.exchange(step, Phase::Session, netfn, cmd, data, None)
            .await
    }

    /// The id Close Session names: the one the BMC assigned.
    pub(crate) fn close_id(&self) -> u32 {
        self.st.session_id
    }
}

async fn set_privilege(
    s: &mut V15Session,
    bmc: &str,
    privilege: Privilege,
) -> Result<(), IpmiError> {
    const STEP: &str = "Set Session Privilege Level";
    let r = s
        .call(
            STEP,
            NETFN_APP,
            CMD_SET_SESSION_PRIVILEGE,
            &[privilege.code()],
        )
        .await?;
    privilege_reply(bmc, STEP, &r, privilege)
}

/// Interprets the Set Session Privilege Level reply (shared with v2.0).
pub(crate) fn privilege_reply(
    bmc: &str,
    step: &str,
    r: &message::Response,
    privilege: Privilege,
) -> Result<(), IpmiError> {
    let detail = match r.completion_code {
        0 => {
            if r.data.first().map(|p| p & 0x0F) == Some(privilege.code()) {
                return Ok(());
            }
            format!(
                "BMC granted privilege {:?} instead of {}",
                r.data.first(),
                privilege.name()
            )
        }
        0x80 => format!(
            "privilege {} is not available to this user (completion code 0x80)",
            privilege.name()
        ),
        0x81 => format!(
            "privilege {} exceeds the user's or channel's limit (completion code 0x81)",
            privilege.name()
        ),
        c => return Err(cc_error(bmc, step, c, None)),
    };
    Err(IpmiError::Auth {
        bmc: bmc.to_string(),
        step: step.to_string(),
        detail,
    })
}

fn offered(mask: u8) -> String {
    let names: Vec<&str> = [
        (0, "NONE"),
        (1, "MD2"),
        (2, "MD5"),
        (4, "PASSWORD"),
        (5, "OEM"),
    ]
    .into_iter()
    .filter(|(bit, _)| mask & (1 << bit) != 0)
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}
