//! A BMC's System Event Log as the node keeps it between reads: the newest
//! records and where the walk stands. IPMI reads a SEL one record per
//! request, forward only (each answer names the next id), and a SEL holds up
//! to a few thousand records; what an operator looks for is the newest. So
//! the first read walks the whole log (in steps of bounded time, resumed by
//! the next read) keeping the newest [`KEPT`], and later reads ask only for
//! what the BMC added after the last record seen. A new erase time (Clear
//! SEL, or a record deleted), or the last record gone or changed, means the
//! log is not the one kept: it is walked again from the first record.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::commands::NETFN_STORAGE;
use super::error::IpmiError;
use super::ops::{get_sel_entry, protocol_error};
use super::sel::{self, SelInfo, SelRecord};
use super::session::Session;

/// The newest records kept and shown: a read's answer stays a bounded
/// size whatever the BMC holds.
pub const KEPT: usize = 512;

/// What one read shows.
#[derive(Debug, Clone)]
pub struct SelRead {
    pub info: SelInfo,
    /// The newest records known, oldest first, at most [`KEPT`].
    pub records: Vec<SelRecord>,
    /// Older records walked past and not kept.
    pub dropped: usize,
    /// Whether the walk reached the BMC's last record; `false` when a read
    /// ran out of time on a long log (the next read goes on from there).
    pub complete: bool,
}

/// The kept part of one BMC's SEL.
#[derive(Debug, Default)]
pub(crate) struct SelLog {
    /// `SelInfo::last_erase` of the log these records are from.
    last_erase: Option<u32>,
    /// Oldest first, at most [`KEPT`].
    records: VecDeque<SelRecord>,
    /// The last record walked and the id the BMC named after it
    /// ([`sel::LAST`]: it was the last one).
    at: Option<(u16, u16)>,
    dropped: usize,
}

impl SelLog {
    fn restart(&mut self, last_erase: u32) {
        *self = SelLog {
            last_erase: Some(last_erase),
            ..SelLog::default()
        };
    }

    fn push(&mut self, record: SelRecord, next: u16) {
        self.at = Some((record.record_id, next));
        self.records.push_back(record);
        if self.records.len() > KEPT {
            self.records.pop_front();
            self.dropped += 1;
        }
    }

    fn read(&self, info: SelInfo, complete: bool) -> SelRead {
        SelRead {
            info,
            records: self.records.iter().cloned().collect(),
            dropped: self.dropped,
            complete,
        }
    }

    /// A log that overwrites its oldest records holds no more than
    /// `entries`: records kept beyond that are gone from the BMC.
    fn trim_to(&mut self, entries: usize) {
        while self.records.len() > entries {
            self.records.pop_front();
            self.dropped += 1;
        }
    }
}

/// Forgets what was kept (the SEL was cleared): the next read walks it
/// from the first record.
pub(crate) fn forget(log: &Mutex<SelLog>) {
    *lock(log) = SelLog::default();
}

fn lock(log: &Mutex<SelLog>) -> MutexGuard<'_, SelLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Get SEL Info, then the records the node does not have yet, walking
/// forward until the BMC's last record or `until`; `log` is updated at
/// each record, so a read cut short (by `until`, or a BMC that stops
/// answering) keeps what it walked. A record id seen twice in one walk (a
/// BMC looping) ends the read as an error.
pub(crate) async fn read_sel(
    s: &mut Session,
    log: &Mutex<SelLog>,
    until: Instant,
) -> Result<SelRead, IpmiError> {
    const INFO: &str = "Get SEL Info";
    const ENTRY: &str = "Get SEL Entry";
    let data = s
        .call(INFO, NETFN_STORAGE, sel::CMD_GET_SEL_INFO, &[])
        .await?;
    let info = SelInfo::decode(&data).map_err(|e| protocol_error(s, INFO, e))?;
    let at = {
        let mut l = lock(log);
        if info.entries == 0 || l.last_erase != Some(info.last_erase) {
            l.restart(info.last_erase);
        }
        if info.entries == 0 {
            return Ok(l.read(info, true));
        }
        l.trim_to(usize::from(info.entries));
        l.at
    };
    // Where this walk starts, and whether it starts from the first record.
    let (mut id, mut from_first) = match at {
        None => (sel::FIRST, true),
        // An earlier walk stopped before the end: on from there.
        Some((_, next)) if next != sel::LAST => (next, false),
        // It reached the end: what follows that record now?
        Some((last, _)) => match get_sel_entry(s, last).await? {
            Some((next, record)) if lock(log).records.back() == Some(&record) => {
                if next == sel::LAST || next == last {
                    return Ok(lock(log).read(info, true));
                }
                (next, false)
            }
            _ => {
                lock(log).restart(info.last_erase);
                (sel::FIRST, true)
            }
        },
    };
    let mut seen = HashSet::new();
    loop {
        if Instant::now() >= until {
            return Ok(lock(log).read(info, false));
        }
        let Some((next, record)) = get_sel_entry(s, id).await? else {
            if from_first {
                break; // emptied while we read
            }
            // The record to go on from is gone: not the log kept.
            lock(log).restart(info.last_erase);
            (id, from_first) = (sel::FIRST, true);
            continue;
        };
        if !seen.insert(record.record_id) {
            return Err(protocol_error(
                s,
                ENTRY,
                format!("record {:#06x} returned twice", record.record_id),
            ));
        }
        // Past the first record, a missing one is the end of the log.
        from_first = true;
        lock(log).push(record, next);
        if next == sel::LAST || next == id {
            break;
        }
        id = next;
    }
    Ok(lock(log).read(info, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u16) -> SelRecord {
        let mut raw = [0u8; 16];
        raw[..2].copy_from_slice(&id.to_le_bytes());
        raw[2] = 0x02;
        sel::decode_entry(&[&[0xFF, 0xFF][..], &raw[..]].concat())
            .unwrap()
            .1
    }

    #[test]
    fn keeps_the_newest_and_counts_the_rest() {
        let mut log = SelLog::default();
        log.restart(7);
        for id in 1..=(KEPT as u16 + 10) {
            log.push(record(id), id + 1);
        }
        let r = log.read(
            SelInfo::decode(&[0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
            true,
        );
        assert_eq!(r.records.len(), KEPT);
        assert_eq!(r.records[0].record_id, 11, "the oldest kept");
        assert_eq!(r.records.last().unwrap().record_id, KEPT as u16 + 10);
        assert_eq!(r.dropped, 10);
        assert_eq!(log.at, Some((KEPT as u16 + 10, KEPT as u16 + 11)));
        log.trim_to(100);
        assert_eq!(log.records.len(), 100);
        assert_eq!(log.dropped, KEPT + 10 - 100);
        assert_eq!(log.records.back().unwrap().record_id, KEPT as u16 + 10);
        log.restart(8);
        assert_eq!((log.records.len(), log.dropped, log.at), (0, 0, None));
        assert_eq!(log.last_erase, Some(8));
    }
}
