//! The event service (`/redfish/v1/EventService`, DSP0266 "Eventing"):
//! the node's event log entries as Redfish `Event`s, and the periodic
//! metric reports (`report_definitions`) as `MetricReport`s, pushed to
//! subscribers (`POST …/Subscriptions`) and streamed as server-sent events
//! (`GET …/SSE`, which the api crate serves with [`SseStream`]).
//!
//! ```text
//! EventLog::record ─► listener ─────┐
//! report task ─► publish_report ────┴─► broadcast (Record) ─┬─► push task per subscription ─► http_client::Client
//!                                                            └─► SSE stream per connection
//! ```
//!
//! * Bounded: one broadcast channel of [`BACKLOG`] events; a subscriber
//!   that falls further behind misses the oldest (counted and logged),
//!   never holds memory. At most `max_subscriptions` push subscriptions.
//! * Push subscriptions survive a restart (a JSON file, mode 0600: it
//!   holds the subscribers' `HttpHeaders`); SSE subscriptions live as
//!   long as their connection, and deleting one ends its stream.
//! * A stream reopened with `Last-Event-ID` first gets the events it
//!   missed, from the last [`BACKLOG`] events the service keeps. A service
//!   that stops writes them into the subscriptions file and the next run
//!   takes them back (and removes them from the file at once), continuing
//!   their ids: a client reconnecting after a restart or a reboot of the
//!   node gets what happened before the stop. A run that finds none (the
//!   first, or one after a crash) starts its ids at the start time
//!   (seconds) × 2²⁰, so they grow across runs as long as the clock does;
//!   an id the service cannot place (from an unkept run, or a clock that
//!   went back) gets every kept event.
//! * A receiver that keeps failing: after `DeliveryRetryAttempts` retries
//!   `DeliveryRetryIntervalSeconds` apart the subscription ends
//!   (`TerminateAfterRetries`, the default) or the event is tried again
//!   for ever (`RetryForever`); either way the event log says so.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use opendcre_eventlog::{Entry, Event, EventLog, SubscriptionChange};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, watch};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::eventfilter::{Facts, Filter, Format, MAX_ITEMS, MAX_ITEM_CHARS};
use crate::http_client::{Client, Target};
use crate::logs::REGISTRY_PREFIX;
use crate::patch::Writable;
use crate::resources::{collection, head, link, with};

use crate::route::{LogOwner, MANAGER_ID, V1};

/// Events in flight between the log and the slowest subscriber.
pub(crate) const BACKLOG: usize = 256;
/// Longest `Context` and `Destination`, characters.
const MAX_TEXT: usize = 1024;
/// Most `HttpHeaders` of one subscription.
const MAX_HEADERS: usize = 8;

pub(crate) fn service_uri() -> String {
    format!("{V1}/EventService")
}

pub(crate) fn subscriptions_uri() -> String {
    format!("{V1}/EventService/Subscriptions")
}

/// `ServerSentEventUri`.
pub fn sse_uri() -> String {
    format!("{V1}/EventService/SSE")
}

pub(crate) fn test_event_uri() -> String {
    format!("{V1}/EventService/Actions/EventService.SubmitTestEvent")
}

fn subscription_uri(id: u64) -> String {
    format!("{}/{id}", subscriptions_uri())
}

/// `[event_service]` of the configuration.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// The push subscriptions' file; `None`: kept in memory only.
    pub store: Option<PathBuf>,
    pub retry_attempts: u32,
    pub retry_interval: Duration,
    pub max_subscriptions: usize,
    /// More CAs a receiver's TLS certificate may chain to.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            store: None,
            retry_attempts: 3,
            retry_interval: Duration::from_secs(30),
            max_subscriptions: 16,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// One event on its way to subscribers: its record (an `EventRecord` of
/// the `Event` schema) and what filters look at.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Unique over the service's life: the SSE `id:` and the `Event`'s `Id`.
    pub seq: u64,
    pub message_id: String,
    pub origin: String,
    pub json: Value,
    /// An event (`json` is an `EventRecord`), or a metric report (`json`
    /// is the `MetricReport`, `origin` its definition).
    #[serde(default)]
    pub format: Format,
}

impl Record {
    fn facts(&self) -> Facts<'_> {
        Facts {
            format: self.format,
            message_id: &self.message_id,
            origin: &self.origin,
        }
    }

    /// A metric report of the definition at `definition` as it goes out.
    fn of_report(seq: u64, definition: &str, report: Value) -> Record {
        Record {
            seq,
            message_id: String::new(),
            origin: definition.to_string(),
            json: report,
            format: Format::MetricReport,
        }
    }

    /// A node event log entry as an event: the same message, severity and
    /// id as its `LogEntry`, which it links.
    fn of_entry(seq: u64, e: &Entry) -> Record {
        let secs = i64::try_from(e.created_ms / 1000).unwrap_or(i64::MAX);
        let origin = match &e.system {
            Some(s) => format!("{V1}/Systems/{s}"),
            None => format!("{V1}/Managers/{MANAGER_ID}"),
        };
        let message_id = format!("{REGISTRY_PREFIX}.{}", e.key);
        let json = json!({
            "MemberId": "0",
            "EventId": seq.to_string(),
            "EventType": "Other",
            "EventTimestamp": rfc3339_utc(secs, Fraction::None).replace('Z', "+00:00"),
            "MessageSeverity": e.severity.as_str(),
            "Message": e.message,
            "MessageId": message_id,
            "MessageArgs": e.args,
            "OriginOfCondition": link(&origin),
            "LogEntry": link(&format!("{}/{}", LogOwner::Manager.entries_uri(), e.id)),
        });
        Record {
            seq,
            message_id,
            origin,
            json,
            format: Format::Event,
        }
    }

    /// The `Event` a subscriber receives: this record alone, with the
    /// subscription's `Context`; a metric report as it is, with the
    /// `Context`.
    pub fn payload(&self, context: Option<&str>) -> Value {
        if self.format == Format::MetricReport {
            let mut v = self.json.clone();
            if let Some(c) = context {
                v["Context"] = json!(c);
            }
            return v;
        }
        // An event is not a resource of the tree: no `@odata.id`.
        let mut v = json!({
            "@odata.type": crate::metadata::odata_type("Event"),
            "Id": self.seq.to_string(),
            "Name": "OpenDCRE node event",
            "Events": [self.json],
        });
        if let Some(c) = context {
            v["Context"] = json!(c);
        }
        v
    }
}

/// How a push subscription treats a receiver that keeps failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RetryPolicy {
    TerminateAfterRetries,
    RetryForever,
}

impl RetryPolicy {
    fn name(self) -> &'static str {
        match self {
            RetryPolicy::TerminateAfterRetries => "TerminateAfterRetries",
            RetryPolicy::RetryForever => "RetryForever",
        }
    }
}

/// One subscription as created (and, for push ones, as stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Subscription {
    pub id: u64,
    /// Empty for an SSE subscription.
    pub destination: String,
    pub context: Option<String>,
    pub filter: Filter,
    pub policy: RetryPolicy,
    /// Sent with every delivery; never shown (DSP0266: `HttpHeaders` is
    /// null or empty in responses).
    pub headers: Vec<(String, String)>,
    /// Who created it.
    pub owner: String,
    #[serde(skip)]
    pub sse: bool,
}

struct Live {
    sub: Subscription,
    /// `true` ends its delivery task or its stream.
    stop: watch::Sender<bool>,
}

#[derive(Default)]
struct Subs {
    next_id: u64,
    live: BTreeMap<u64, Live>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    next_id: u64,
    subscriptions: Vec<Subscription>,
    /// Written only by a service that stops ([`EventService::keep_events`]),
    /// removed by the run that reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events: Option<KeptEvents>,
}

/// The replay buffer across a stop: [`Recent`] as the next run takes it.
#[derive(Serialize, Deserialize)]
struct KeptEvents {
    first_seq: u64,
    next_seq: u64,
    events: Vec<Record>,
}

impl KeptEvents {
    /// The kept events as the next run's buffer, if they are what a
    /// stopping service writes: ids ascending, from `first_seq`, below
    /// `next_seq`, at most [`BACKLOG`]. Anything else is dropped whole
    /// (the run then starts its ids afresh), never half used.
    fn into_recent(self) -> Option<Recent> {
        let ascending = self.events.windows(2).all(|w| w[0].seq < w[1].seq);
        let inside = self
            .events
            .iter()
            .all(|r| r.seq >= self.first_seq && r.seq < self.next_seq);
        (ascending && inside && self.events.len() <= BACKLOG && self.first_seq > 0).then(|| {
            Recent {
                first_seq: self.first_seq,
                next_seq: self.next_seq,
                events: self.events.into_iter().map(Arc::new).collect(),
                closed: false,
            }
        })
    }
}

/// The event service. Built once by `opendcre serve`; shared as `Arc`.
pub struct EventService {
    settings: EventSettings,
    poster: Client,
    log: Arc<EventLog>,
    subs: Mutex<Subs>,
    tx: broadcast::Sender<Arc<Record>>,
    /// The last [`BACKLOG`] events, for `Last-Event-ID`, and the next id;
    /// the lock is held while an event gets its id and is sent, so ids go
    /// out in order, and a stream that subscribes under it sees each event
    /// either here or on its receiver, never both or neither.
    recent: Arc<Mutex<Recent>>,
}

/// The events kept for replay, oldest first, the run's first id and the
/// next one.
struct Recent {
    first_seq: u64,
    next_seq: u64,
    events: VecDeque<Arc<Record>>,
    /// Kept for the next run ([`EventService::keep_events`]): the ids from
    /// `next_seq` on are that run's, so this one publishes no more (the
    /// log still records what happens while the process ends).
    closed: bool,
}

impl Recent {
    /// Makes the next event with its id, keeps it and sends it to the
    /// live subscribers; an event `make` refuses takes no id.
    fn publish<E>(
        recent: &Mutex<Recent>,
        tx: &broadcast::Sender<Arc<Record>>,
        make: impl FnOnce(u64) -> Result<Record, E>,
    ) -> Result<(), E> {
        let mut r = recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.closed {
            return Ok(());
        }
        let rec = Arc::new(make(r.next_seq)?);
        r.next_seq += 1;
        if r.events.len() == BACKLOG {
            r.events.pop_front();
        }
        r.events.push_back(rec.clone());
        // No receiver (nobody subscribed) is not an error.
        let _ = tx.send(rec);
        Ok(())
    }

    /// What a stream reopened after event `last` missed: the kept events
    /// after it, and how many it missed that are no longer kept.
    fn after(&self, last: u64) -> (VecDeque<Arc<Record>>, u64) {
        let newest = self.events.back().map_or(self.first_seq, |r| r.seq);
        if last < self.first_seq || last > newest {
            // Not an id of this run (or of a clock that went back): every
            // kept event is one the client has not seen.
            return (self.events.clone(), 0);
        }
        let oldest = self.events.front().map_or(newest, |r| r.seq);
        let lost = oldest.saturating_sub(last + 1);
        (
            self.events
                .iter()
                .filter(|r| r.seq > last)
                .cloned()
                .collect(),
            lost,
        )
    }
}

/// The first event id of this run: the start time in seconds × 2²⁰ (a
/// run would need a million events a second to reach the next run's).
fn first_seq() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (secs << 20).max(1)
}

impl EventService {
    /// The service, listening to `log`, with the stored push
    /// subscriptions loaded (their delivery starts with
    /// [`EventService::start`]). Errors: the CA file cannot be used.
    pub fn new(settings: EventSettings, log: Arc<EventLog>) -> Result<Arc<EventService>, String> {
        let poster = Client::new(
            settings.ca_file.as_deref(),
            settings.connect_timeout,
            settings.request_timeout,
        )?;
        let (tx, _) = broadcast::channel(BACKLOG);
        let mut subs = Subs {
            next_id: 1,
            ..Subs::default()
        };
        let mut kept = None;
        if let Some(path) = &settings.store {
            // A file that cannot be read is set aside (`.bad`), not lost,
            // and the service starts without subscriptions.
            if let Some(stored) =
                crate::state_file::read_json::<Stored>(path, "event subscriptions")
            {
                subs.next_id = stored.next_id.max(1);
                for sub in stored.subscriptions {
                    subs.next_id = subs.next_id.max(sub.id + 1);
                    let (stop, _) = watch::channel(false);
                    subs.live.insert(sub.id, Live { sub, stop });
                }
                kept = stored.events.map(|k| {
                    let recent = k.into_recent();
                    if recent.is_none() {
                        tracing::warn!(path = %path.display(), "events kept for replay are not in order; starting without them");
                    }
                    recent
                });
            }
        }
        let replay_kept = kept.is_some();
        let recent = kept.flatten().unwrap_or_else(|| {
            let start = first_seq();
            Recent {
                first_seq: start,
                next_seq: start,
                events: VecDeque::with_capacity(BACKLOG),
                closed: false,
            }
        });
        tracing::info!(
            kept = recent.events.len(),
            next_id = recent.next_seq,
            "event ids"
        );
        let recent = Arc::new(Mutex::new(recent));
        let (ltx, lrecent) = (tx.clone(), recent.clone());
        log.listen(move |e| {
            let _ = Recent::publish(&lrecent, &ltx, |seq| {
                Ok::<_, std::convert::Infallible>(Record::of_entry(seq, e))
            });
        });
        let service = Arc::new(EventService {
            settings,
            poster,
            log,
            subs: Mutex::new(subs),
            tx,
            recent,
        });
        if replay_kept {
            // Taken: a run that ends without writing them again (a crash)
            // must not hand the same ids out a second time.
            service.save(&service.lock());
        }
        Ok(service)
    }

    /// Writes the events kept for `Last-Event-ID` into the subscriptions
    /// file, for the next run (`opendcre serve` calls it as it stops), and
    /// publishes no more. Only a service that stops writes them: the ids
    /// of a run that crashed are not continued, so none is ever given to
    /// two events.
    pub fn keep_events(&self) {
        if self.settings.store.is_none() {
            return;
        }
        let kept = {
            let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            r.closed = true;
            r.events.len()
        };
        // A subscription saved from now on (a delivery that gives up as
        // the process ends) writes them too.
        self.save(&self.lock());
        tracing::info!(kept, "events kept for the next run");
    }

    /// Sends a metric report of the definition at `definition` (a periodic
    /// definition with `RedfishEvent`) to the subscribers that take
    /// reports, as the events go: one id sequence, one replay buffer.
    pub(crate) fn publish_report(&self, definition: &str, report: Value) {
        let _ = Recent::publish(&self.recent, &self.tx, |seq| {
            Ok::<_, std::convert::Infallible>(Record::of_report(seq, definition, report))
        });
    }

    /// The replay buffer as the file keeps it, once [`Self::keep_events`]
    /// closed it; before, `None` (a running service's events are not
    /// written: the next run could not tell them from a crash's).
    fn kept_events(&self) -> Option<KeptEvents> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.closed.then(|| KeptEvents {
            first_seq: r.first_seq,
            next_seq: r.next_seq,
            events: r.events.iter().map(|e| Record::clone(e)).collect(),
        })
    }

    /// Starts delivering to the stored push subscriptions (needs the
    /// runtime).
    pub fn start(self: &Arc<Self>) {
        let subs: Vec<(Subscription, watch::Receiver<bool>)> = self
            .lock()
            .live
            .values()
            .map(|l| (l.sub.clone(), l.stop.subscribe()))
            .collect();
        tracing::info!(subscriptions = subs.len(), "event service started");
        for (sub, stop) in subs {
            match Target::parse(&sub.destination) {
                Ok(target) => self.spawn_delivery(sub, target, stop),
                Err(_) => {
                    tracing::warn!(id = sub.id, destination = %sub.destination, "stored subscription has a bad destination; not delivered")
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Subs> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `GET /redfish/v1/EventService`.
    pub(crate) fn service_json(&self) -> Value {
        with(
            head(&service_uri(), "EventService"),
            json!({
                "Id": "EventService",
                "Name": "Event Service",
                "Description": "The node's event log entries (power actions, bus faults, authentication failures, updates) as Redfish events: pushed to subscriptions, or streamed from ServerSentEventUri.",
                "ServiceEnabled": true,
                "Status": { "State": "Enabled", "Health": "OK" },
                "DeliveryRetryAttempts": self.settings.retry_attempts,
                "DeliveryRetryIntervalSeconds": self.settings.retry_interval.as_secs(),
                "EventFormatTypes": ["Event", "MetricReport"],
                "RegistryPrefixes": ["OpenDCRE"],
                "SubordinateResourcesSupported": true,
                "ServerSentEventUri": sse_uri(),
                "SSEFilterPropertiesSupported": {
                    "EventFormatType": true,
                    "MessageId": true,
                    "MetricReportDefinition": true,
                    "OriginResource": true,
                    "RegistryPrefix": true,
                    "ResourceType": false,
                    "SubordinateResources": true,
                },
                "Subscriptions": link(&subscriptions_uri()),
                "Actions": {
                    "#EventService.SubmitTestEvent": { "target": test_event_uri() },
                },
            }),
        )
    }

    pub(crate) fn collection_json(&self) -> Value {
        let members = self
            .lock()
            .live
            .keys()
            .map(|&id| subscription_uri(id))
            .collect();
        collection(
            &subscriptions_uri(),
            "EventDestinationCollection",
            "Event Subscriptions",
            members,
        )
    }

    pub(crate) fn subscription_json(&self, id: u64) -> Option<Value> {
        let subs = self.lock();
        let sub = &subs.live.get(&id)?.sub;
        let origins: Vec<Value> = sub
            .filter
            .origin_resources
            .iter()
            .map(|o| link(o))
            .collect();
        let format = match sub.filter.formats.as_slice() {
            [one] => one.name(),
            // An SSE stream that takes both: the schema has one value.
            _ => "Event",
        };
        let definitions: Vec<Value> = sub
            .filter
            .report_definitions
            .iter()
            .map(|d| link(d))
            .collect();
        Some(with(
            head(&subscription_uri(id), "EventDestination"),
            json!({
                "Id": id.to_string(),
                "Name": format!("Event subscription {id}"),
                "Destination": sub.destination,
                "Context": sub.context,
                "Protocol": "Redfish",
                "SubscriptionType": if sub.sse { "SSE" } else { "RedfishEvent" },
                "EventFormatType": format,
                "MetricReportDefinitions": definitions,
                "RegistryPrefixes": sub.filter.registry_prefixes,
                "MessageIds": sub.filter.message_ids,
                "OriginResources": origins,
                "SubordinateResources": sub.filter.subordinate,
                "DeliveryRetryPolicy": sub.policy.name(),
                "VerifyCertificate": true,
                "HttpHeaders": [],
                "Status": { "State": "Enabled", "Health": "OK" },
            }),
        ))
    }

    /// What a `PATCH` of subscription `id` may change: a push
    /// subscription's `Context` and `DeliveryRetryPolicy`; nothing of an
    /// SSE stream's (its events carry no context, and it is not retried).
    pub(crate) fn writable(&self, id: u64) -> &'static [(&'static str, Writable)] {
        const PUSH: &[(&str, Writable)] = &[
            ("Context", Writable::Text(MAX_TEXT)),
            (
                "DeliveryRetryPolicy",
                Writable::OneOf(&["TerminateAfterRetries", "RetryForever"]),
            ),
        ];
        match self.lock().live.get(&id) {
            Some(l) if !l.sub.sse => PUSH,
            _ => &[],
        }
    }

    /// Applies checked `changes` to subscription `id` and stores it; the
    /// delivery task takes them from its next event on. `None`: no such
    /// subscription (it ended meanwhile).
    pub(crate) fn change(&self, id: u64, changes: &[(&str, Value)], user: &str) -> Option<()> {
        let mut subs = self.lock();
        let sub = &mut subs.live.get_mut(&id)?.sub;
        for (name, value) in changes {
            let text = value.as_str().unwrap_or_default();
            match *name {
                "Context" => sub.context = Some(text.to_string()),
                _ => {
                    sub.policy = if text == "RetryForever" {
                        RetryPolicy::RetryForever
                    } else {
                        RetryPolicy::TerminateAfterRetries
                    }
                }
            }
        }
        tracing::info!(id, user, changed = ?changes.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "event subscription changed");
        self.save(&subs);
        Some(())
    }

    /// What a delivery sends with and how it retries, as the
    /// subscription says now (a `PATCH` may have changed them); `None`
    /// once it is gone.
    fn delivery_terms(&self, id: u64) -> Option<(Option<String>, RetryPolicy)> {
        let subs = self.lock();
        let sub = &subs.live.get(&id)?.sub;
        Some((sub.context.clone(), sub.policy))
    }

    /// `POST …/Subscriptions`: 201 with `Location` and the new resource.
    pub(crate) fn create(
        self: &Arc<Self>,
        body: &[u8],
        owner: &str,
    ) -> Result<Answer, RedfishError> {
        let mut sub = parse_subscription(body)?;
        sub.owner = owner.to_string();
        let target = Target::parse(&sub.destination).map_err(|why| {
            tracing::debug!(destination = %sub.destination, why, "destination refused");
            RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::PropertyValueFormatError,
                &[&sub.destination, "Destination"],
            )
        })?;
        let stop = {
            let mut subs = self.lock();
            let push = subs.live.values().filter(|l| !l.sub.sse).count();
            if push >= self.settings.max_subscriptions {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::CreateLimitReachedForResource,
                    &[],
                ));
            }
            sub.id = subs.next_id;
            subs.next_id += 1;
            let (stop, rx) = watch::channel(false);
            subs.live.insert(
                sub.id,
                Live {
                    sub: sub.clone(),
                    stop,
                },
            );
            self.save(&subs);
            rx
        };
        tracing::info!(id = sub.id, destination = %sub.destination, owner, "event subscription created");
        self.log.record(Event::subscription(
            owner,
            &sub.destination,
            SubscriptionChange::Created,
        ));
        self.spawn_delivery(sub.clone(), target, stop);
        let v = self
            .subscription_json(sub.id)
            .ok_or_else(|| RedfishError::failure("the subscription ended at once"))?;
        let mut a = Answer::json(StatusCode::CREATED, &v);
        if let Ok(loc) = http::HeaderValue::from_str(&subscription_uri(sub.id)) {
            a.headers.insert(http::header::LOCATION, loc);
        }
        Ok(a)
    }

    /// `DELETE …/Subscriptions/{id}`: ends its deliveries (or its SSE
    /// stream). `false`: no such subscription.
    pub(crate) fn delete(&self, id: u64, user: &str) -> bool {
        let Some(gone) = self.remove(id) else {
            return false;
        };
        tracing::info!(id, destination = %gone.destination, user, "event subscription deleted");
        if !gone.sse {
            self.log.record(Event::subscription(
                user,
                &gone.destination,
                SubscriptionChange::Deleted,
            ));
        }
        true
    }

    fn remove(&self, id: u64) -> Option<Subscription> {
        let mut subs = self.lock();
        let live = subs.live.remove(&id)?;
        let _ = live.stop.send(true);
        if !live.sub.sse {
            self.save(&subs);
        }
        Some(live.sub)
    }

    /// `POST …/Actions/EventService.SubmitTestEvent`: an event with the
    /// caller's message, to every subscriber whose filter takes it; not
    /// written to the event log.
    pub(crate) fn submit_test_event(&self, body: &[u8]) -> Result<Answer, RedfishError> {
        Recent::publish(&self.recent, &self.tx, |seq| {
            let record = parse_test_event(seq, body)?;
            tracing::info!(message_id = %record.message_id, "test event submitted");
            Ok::<_, RedfishError>(record)
        })?;
        Ok(Answer::no_content())
    }

    /// Opens an SSE subscription for `owner`: an `EventDestination` of
    /// type `SSE` that lives as long as the returned stream. With
    /// `last_event_id` (the `Last-Event-ID` header of a reconnecting
    /// client) the stream first replays the kept events after it; a value
    /// that is not an event id is ignored, as a fresh stream.
    pub fn open_sse(
        self: &Arc<Self>,
        owner: &str,
        query: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<SseStream, RedfishError> {
        let filter = sse_filter(query)?;
        let (rx, (replay, lost)) = {
            let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            let replay = last_event_id
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or_else(Default::default, |last| recent.after(last));
            (self.tx.subscribe(), replay)
        };
        let mut subs = self.lock();
        let id = subs.next_id;
        subs.next_id += 1;
        let (stop, stop_rx) = watch::channel(false);
        let sub = Subscription {
            id,
            destination: String::new(),
            context: None,
            filter: filter.clone(),
            policy: RetryPolicy::TerminateAfterRetries,
            headers: Vec::new(),
            owner: owner.to_string(),
            sse: true,
        };
        subs.live.insert(id, Live { sub, stop });
        tracing::debug!(id, owner, "SSE subscription opened");
        Ok(SseStream {
            id,
            filter,
            lost,
            replay,
            rx,
            stop: stop_rx,
            service: self.clone(),
        })
    }

    fn spawn_delivery(
        self: &Arc<Self>,
        sub: Subscription,
        target: Target,
        stop: watch::Receiver<bool>,
    ) {
        let rx = self.tx.subscribe();
        tokio::spawn(deliver(self.clone(), sub, target, rx, stop));
    }

    /// Writes the push subscriptions (a new file renamed over the old
    /// one, mode 0600); a failure is logged, the subscriptions stay.
    fn save(&self, subs: &Subs) {
        let Some(path) = &self.settings.store else {
            return;
        };
        // 0600: a subscription's HttpHeaders may carry a receiver's secret.
        let stored = self.stored(subs, self.kept_events());
        if let Err(e) = crate::state_file::write_state(path, &stored, 0o600) {
            tracing::error!(path = %path.display(), "event subscriptions not saved: {e}");
        }
    }

    fn stored(&self, subs: &Subs, events: Option<KeptEvents>) -> Stored {
        Stored {
            next_id: subs.next_id,
            subscriptions: subs
                .live
                .values()
                .filter(|l| !l.sub.sse)
                .map(|l| l.sub.clone())
                .collect(),
            events,
        }
    }
}

/// Delivers the events `sub`'s filter takes, one at a time, in order.
async fn deliver(
    service: Arc<EventService>,
    sub: Subscription,
    target: Target,
    mut rx: broadcast::Receiver<Arc<Record>>,
    mut stop: watch::Receiver<bool>,
) {
    let (attempts, interval) = (
        service.settings.retry_attempts,
        service.settings.retry_interval,
    );
    loop {
        // Stop first: an event recorded after the deletion (its own
        // `SubscriptionDeleted` among them) must not start a delivery.
        let next = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            r = rx.recv() => r,
        };
        let record = match next {
            Ok(r) => r,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(id = sub.id, destination = %sub.destination, missed = n, "events not delivered: the receiver takes them slower than they come");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !sub.filter.matches(&record.facts()) {
            continue;
        }
        let Some((context, _)) = service.delivery_terms(sub.id) else {
            return;
        };
        let body = Bytes::from(
            serde_json::to_vec(&record.payload(context.as_deref())).unwrap_or_default(),
        );
        let mut failures = 0u32;
        loop {
            let sent = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                r = service.poster.post(&target, &sub.headers, body.clone()) => r,
            };
            let why = match sent {
                Ok(s) if s.is_success() => break,
                Ok(s) => format!("the receiver answered {s}"),
                Err(e) => e,
            };
            failures += 1;
            tracing::warn!(id = sub.id, destination = %sub.destination, failures, "event delivery failed: {why}");
            // The policy as it is now: a PATCH to `RetryForever` saves a
            // subscription whose receiver is down for a while.
            let Some((_, policy)) = service.delivery_terms(sub.id) else {
                return;
            };
            if policy == RetryPolicy::TerminateAfterRetries && failures > attempts {
                if service.remove(sub.id).is_some() {
                    service.log.record(Event::subscription(
                        &sub.owner,
                        &sub.destination,
                        SubscriptionChange::Terminated(&format!(
                            "{failures} deliveries of an event failed, the last: {why}"
                        )),
                    ));
                }
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// One SSE subscription's events, for the api crate to write out. Dropping
/// it (the connection ended) removes the subscription.
pub struct SseStream {
    pub id: u64,
    filter: Filter,
    /// Events a reconnecting client missed that are no longer kept: said
    /// once, before the replay.
    lost: u64,
    /// Kept events a reconnecting client missed, sent before live ones.
    replay: VecDeque<Arc<Record>>,
    rx: broadcast::Receiver<Arc<Record>>,
    stop: watch::Receiver<bool>,
    service: Arc<EventService>,
}

/// What an SSE stream has next.
pub enum SseNext {
    /// `id:` and the one-line JSON `data:` of an event.
    Event(u64, String),
    /// This many events were dropped: the client read too slowly.
    Missed(u64),
    /// This many events happened before a reconnect and are no longer
    /// kept (`Last-Event-ID` older than the replay buffer).
    Lost(u64),
    /// The subscription was deleted, or the service is gone.
    Ended,
}

impl SseNext {
    fn of(rec: &Record) -> SseNext {
        let data = serde_json::to_string(&rec.payload(None)).unwrap_or_default();
        SseNext::Event(rec.seq, data)
    }
}

impl SseStream {
    pub async fn next(&mut self) -> SseNext {
        if self.lost > 0 {
            return SseNext::Lost(std::mem::take(&mut self.lost));
        }
        while let Some(rec) = self.replay.pop_front() {
            if self.filter.matches(&rec.facts()) {
                return SseNext::of(&rec);
            }
        }
        loop {
            // Stop first: a deleted subscription sends nothing more.
            let r = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => return SseNext::Ended,
                r = self.rx.recv() => r,
            };
            match r {
                Ok(rec) if self.filter.matches(&rec.facts()) => return SseNext::of(&rec),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => return SseNext::Missed(n),
                Err(broadcast::error::RecvError::Closed) => return SseNext::Ended,
            }
        }
    }
}

impl Drop for SseStream {
    fn drop(&mut self) {
        if self.service.remove(self.id).is_some() {
            tracing::debug!(id = self.id, "SSE subscription closed");
        }
    }
}

/// `$filter` is the one query parameter of the SSE URI.
fn sse_filter(query: Option<&str>) -> Result<Filter, RedfishError> {
    let mut filter = Filter::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = crate::query::decode(k);
        if k != "$filter" {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::QueryParameterUnsupported,
                &[&k],
            ));
        }
        filter = Filter::parse_sse(&crate::query::decode(&v.replace('+', " ")))?;
    }
    Ok(filter)
}

fn object(body: &[u8]) -> Result<Map<String, Value>, RedfishError> {
    serde_json::from_slice(body)
        .map_err(|_| RedfishError::new(StatusCode::BAD_REQUEST, BaseMessage::MalformedJSON, &[]))
}

fn text_value(v: &Value, name: &str, max: usize) -> Result<String, RedfishError> {
    let type_error = || {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueTypeError,
            &[&v.to_string(), name],
        )
    };
    let s = v.as_str().ok_or_else(type_error)?;
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueFormatError,
            &[s, name],
        ));
    }
    Ok(s.to_string())
}

fn text_list(v: &Value, name: &str) -> Result<Vec<String>, RedfishError> {
    let items = v.as_array().ok_or_else(|| {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueTypeError,
            &[&v.to_string(), name],
        )
    })?;
    if items.len() > MAX_ITEMS {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueFormatError,
            &[&v.to_string(), name],
        ));
    }
    items
        .iter()
        .map(|i| text_value(i, name, MAX_ITEM_CHARS))
        .collect()
}

fn one_of(v: &Value, name: &str, allowed: &[&str]) -> Result<String, RedfishError> {
    let s = text_value(v, name, MAX_ITEM_CHARS)?;
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueNotInList,
            &[&s, name],
        ))
    }
}

/// The body of a subscription's creation: `Destination` and `Protocol`
/// (`Redfish`) required; what the service cannot do is refused by name.
fn parse_subscription(body: &[u8]) -> Result<Subscription, RedfishError> {
    let o = object(body)?;
    let mut sub = Subscription {
        id: 0,
        destination: String::new(),
        context: None,
        filter: Filter::of(Format::Event),
        policy: RetryPolicy::TerminateAfterRetries,
        headers: Vec::new(),
        owner: String::new(),
        sse: false,
    };
    for required in ["Destination", "Protocol"] {
        if !o.contains_key(required) {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::PropertyMissing,
                &[required],
            ));
        }
    }
    for (k, v) in &o {
        match k.as_str() {
            "Destination" => sub.destination = text_value(v, k, MAX_TEXT)?,
            "Protocol" => {
                one_of(v, k, &["Redfish"])?;
            }
            "SubscriptionType" => {
                one_of(v, k, &["RedfishEvent"])?;
            }
            "EventFormatType" => {
                sub.filter.formats = vec![match one_of(v, k, &["Event", "MetricReport"])?.as_str() {
                    "MetricReport" => Format::MetricReport,
                    _ => Format::Event,
                }];
            }
            "MetricReportDefinitions" => sub.filter.report_definitions = links(v, k)?,
            "Context" if v.is_null() => {}
            "Context" => sub.context = Some(text_value(v, k, MAX_TEXT)?),
            "RegistryPrefixes" => sub.filter.registry_prefixes = text_list(v, k)?,
            "MessageIds" => sub.filter.message_ids = text_list(v, k)?,
            "OriginResources" => sub.filter.origin_resources = links(v, k)?,
            "SubordinateResources" => {
                sub.filter.subordinate = v.as_bool().ok_or_else(|| {
                    RedfishError::new(
                        StatusCode::BAD_REQUEST,
                        BaseMessage::PropertyValueTypeError,
                        &[&v.to_string(), k],
                    )
                })?;
            }
            "DeliveryRetryPolicy" => {
                sub.policy =
                    match one_of(v, k, &["TerminateAfterRetries", "RetryForever"])?.as_str() {
                        "RetryForever" => RetryPolicy::RetryForever,
                        _ => RetryPolicy::TerminateAfterRetries,
                    };
            }
            // A receiver's certificate is always checked (add its CA to
            // `[event_service] ca_file`).
            "VerifyCertificate" if *v == Value::Bool(true) => {}
            "VerifyCertificate" => {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyValueNotInList,
                    &[&v.to_string(), k],
                ))
            }
            "HttpHeaders" => sub.headers = parse_headers(v)?,
            // Deprecated, but older clients send it: every event here is
            // of type `Other` (the schema's default), so that is a filter
            // that keeps them all; another type would keep none.
            "EventTypes" => {
                if let Some(t) = text_list(v, k)?.into_iter().find(|t| t != "Other") {
                    return Err(RedfishError::new(
                        StatusCode::BAD_REQUEST,
                        BaseMessage::PropertyValueNotInList,
                        &[&t, k],
                    )
                    .with_detail("Every event of this service is of EventType Other; select events with RegistryPrefixes, MessageIds or OriginResources."));
                }
            }
            // `IncludeOriginOfConditionSupported` is false; `false` asks
            // for what is sent anyway.
            "IncludeOriginOfCondition" if *v == Value::Bool(false) => {}
            // Not offered (`SSEFilterPropertiesSupported` says so too):
            // refused by what they are, not as unknown properties.
"IncludeOriginOfCondition" | "ResourceTypes" | "Severities"
            | "ExcludeMessageIds" | "ExcludeRegistryPrefixes"
            | "SendHeartbeat" | "HeartbeatIntervalMinutes" | "SNMP" | "SyslogFilters" => {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyValueNotInList,
                    &[&crate::answer::shown(v), k],
                )
                .with_detail(format!("{k} is not supported by this service: a subscription selects events with RegistryPrefixes, MessageIds, OriginResources and SubordinateResources.")))
            }
            "Id" | "Name" | "Status" | "Certificates" | "ClientCertificates" => {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyNotWritable,
                    &[k],
                ))
            }
            _ => {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyUnknown,
                    &[k],
                ))
            }
        }
    }
    if !sub.filter.report_definitions.is_empty() && sub.filter.formats != [Format::MetricReport] {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueConflict,
            &["MetricReportDefinitions", "EventFormatType"],
        )
        .with_detail("MetricReportDefinitions selects metric reports: it needs EventFormatType MetricReport."));
    }
    Ok(sub)
}

/// A list of links (`[{"@odata.id": "/redfish/v1/…"}]`) of `name`: the
/// URIs, at most [`MAX_ITEMS`].
fn links(v: &Value, name: &str) -> Result<Vec<String>, RedfishError> {
    let type_error = |x: &Value| {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueTypeError,
            &[&crate::answer::shown(x), name],
        )
    };
    let items = v
        .as_array()
        .filter(|a| a.len() <= MAX_ITEMS)
        .ok_or_else(|| type_error(v))?;
    let mut out = Vec::new();
    for l in items {
        let uri = l.get("@odata.id").ok_or_else(|| type_error(l))?;
        let uri = text_value(uri, name, MAX_ITEM_CHARS)?;
        if !uri.starts_with("/redfish/v1/") {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::PropertyValueFormatError,
                &[&uri, name],
            ));
        }
        out.push(uri);
    }
    Ok(out)
}

/// `HttpHeaders`: `[{"Name": "Value"}, …]` (each object's members are
/// headers), e.g. the receiver's `Authorization`.
fn parse_headers(v: &Value) -> Result<Vec<(String, String)>, RedfishError> {
    let type_error = || {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueTypeError,
            &["(not shown)", "HttpHeaders"],
        )
    };
    let mut out = Vec::new();
    for item in v.as_array().ok_or_else(type_error)? {
        for (name, value) in item.as_object().ok_or_else(type_error)? {
            let value = value.as_str().ok_or_else(type_error)?;
            let ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(value).is_ok()
                && !matches!(
                    name.to_ascii_lowercase().as_str(),
                    "host" | "content-length" | "content-type" | "connection" | "transfer-encoding"
                );
            if !ok {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyValueFormatError,
                    &["(not shown)", "HttpHeaders"],
                ));
            }
            out.push((name.clone(), value.to_string()));
        }
    }
    if out.len() > MAX_HEADERS {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueFormatError,
            &["(not shown)", "HttpHeaders"],
        ));
    }
    Ok(out)
}

/// `SubmitTestEvent`'s parameters (EventService v1_12_0): `MessageId`
/// required; the rest optional and checked.
fn parse_test_event(seq: u64, body: &[u8]) -> Result<Record, RedfishError> {
    const ACTION: &str = "SubmitTestEvent";
    let o = object(body)?;
    let param_type = |v: &Value, k: &str| {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::ActionParameterValueTypeError,
            &[&v.to_string(), k, ACTION],
        )
    };
    let text = |v: &Value, k: &str| -> Result<String, RedfishError> {
        v.as_str()
            .filter(|s| s.chars().count() <= MAX_TEXT)
            .map(str::to_string)
            .ok_or_else(|| param_type(v, k))
    };
    let message_id = match o.get("MessageId") {
        Some(v) => text(v, "MessageId")?,
        None => {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::ActionParameterMissing,
                &[ACTION, "MessageId"],
            ))
        }
    };
    let id_ok = {
        let p: Vec<&str> = message_id.splitn(4, '.').collect();
        p.len() == 4
            && p[0].chars().all(|c| c.is_ascii_alphanumeric())
            && !p[0].is_empty()
            && p[1..3]
                .iter()
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            && !p[3].is_empty()
            && p[3].chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    };
    if !id_ok {
        return Err(param_type(&json!(message_id), "MessageId"));
    }
    let mut json = json!({
        "MemberId": "0",
        "EventId": seq.to_string(),
        "EventType": "Other",
        "EventTimestamp": crate::handler::now(),
        "MessageSeverity": "OK",
        "Message": "A test event submitted through the event service.",
        "MessageId": message_id,
        "MessageArgs": [],
        "OriginOfCondition": link(&service_uri()),
    });
    let mut origin = service_uri();
    for (k, v) in &o {
        match k.as_str() {
            "MessageId" => {}
            "Message" | "EventId" | "EventTimestamp" => json[k] = json!(text(v, k)?),
            "MessageSeverity" | "Severity" => {
                let s = text(v, k)?;
                if !["OK", "Warning", "Critical"].contains(&s.as_str()) {
                    return Err(RedfishError::new(
                        StatusCode::BAD_REQUEST,
                        BaseMessage::ActionParameterValueNotInList,
                        &[&s, k, ACTION],
                    ));
                }
                json["MessageSeverity"] = json!(s);
            }
            "MessageArgs" => {
                let args = v
                    .as_array()
                    .filter(|a| a.len() <= MAX_ITEMS)
                    .ok_or_else(|| param_type(v, k))?
                    .iter()
                    .map(|a| text(a, k))
                    .collect::<Result<Vec<_>, _>>()?;
                json["MessageArgs"] = json!(args);
            }
            "OriginOfCondition" => {
                let uri = text(v, k)?;
                if !uri.starts_with("/redfish/v1") {
                    return Err(param_type(v, k));
                }
                json["OriginOfCondition"] = link(&uri);
                origin = uri;
            }
            "EventGroupId" => {
                json[k] = json!(v.as_i64().ok_or_else(|| param_type(v, k))?);
            }
            // Deprecated, accepted for old clients; every event is `Other`.
            "EventType" => {
                text(v, k)?;
            }
            _ => {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::ActionParameterUnknown,
                    &[ACTION, k],
                ))
            }
        }
    }
    Ok(Record {
        seq,
        message_id,
        origin,
        json,
        format: Format::Event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(store: Option<PathBuf>) -> (Arc<EventService>, Arc<EventLog>) {
        let log = Arc::new(EventLog::in_memory(100));
        let s = EventService::new(
            EventSettings {
                store,
                ..EventSettings::default()
            },
            log.clone(),
        )
        .unwrap();
        (s, log)
    }

    fn code(e: RedfishError) -> String {
        e.body()["error"]["@Message.ExtendedInfo"][0]["MessageId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn subscription_bodies() {
        let ok = parse_subscription(
            br#"{"Destination":"https://h/x","Protocol":"Redfish","Context":"c","RegistryPrefixes":["OpenDCRE"],
                 "OriginResources":[{"@odata.id":"/redfish/v1/Systems"}],"SubordinateResources":true,
                 "DeliveryRetryPolicy":"RetryForever","HttpHeaders":[{"Authorization":"Bearer x"}]}"#,
        )
        .unwrap();
        assert_eq!(ok.context.as_deref(), Some("c"));
        // What older clients send, and what is sent anyway.
        assert!(parse_subscription(
            br#"{"Destination":"https://h/x","Protocol":"Redfish","EventTypes":["Other"],"IncludeOriginOfCondition":false}"#
        )
        .is_ok());
        assert_eq!(ok.policy, RetryPolicy::RetryForever);
        assert_eq!(
            ok.headers,
            [("Authorization".to_string(), "Bearer x".to_string())]
        );
        for (body, want) in [
            (&br#"{"Protocol":"Redfish"}"#[..], "PropertyMissing"),
            (br#"{"Destination":"https://h/x"}"#, "PropertyMissing"),
            (br#"{"Destination":"https://h/x","Protocol":"FTP"}"#, "PropertyValueNotInList"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","SubscriptionType":"SSE"}"#, "PropertyValueNotInList"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","VerifyCertificate":false}"#, "PropertyValueNotInList"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","Id":"7"}"#, "PropertyNotWritable"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","Bogus":1}"#, "PropertyUnknown"),
            (br#"{"Destination":7,"Protocol":"Redfish"}"#, "PropertyValueTypeError"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","HttpHeaders":[{"Host":"evil"}]}"#, "PropertyValueFormatError"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","OriginResources":[{"@odata.id":"http://x"}]}"#, "PropertyValueFormatError"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","EventTypes":["Other","Alert"]}"#, "PropertyValueNotInList"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","IncludeOriginOfCondition":true}"#, "PropertyValueNotInList"),
            (br#"{"Destination":"https://h/x","Protocol":"Redfish","ResourceTypes":["Chassis"]}"#, "PropertyValueNotInList"),
            (b"[1]", "MalformedJSON"),
        ] {
            let e = parse_subscription(body).unwrap_err();
            assert!(code(e).ends_with(want), "{}", String::from_utf8_lossy(body));
        }
    }

    #[tokio::test]
    async fn create_list_delete_and_the_limit() {
        let (s, log) = service(None);
        let a = s
            .create(
                br#"{"Destination":"https://127.0.0.1:9/x","Protocol":"Redfish"}"#,
                "ops",
            )
            .unwrap();
        assert_eq!(a.status, StatusCode::CREATED);
        assert_eq!(
            a.headers[http::header::LOCATION],
            "/redfish/v1/EventService/Subscriptions/1"
        );
        let bad = s.create(
            br#"{"Destination":"ftp://h/x","Protocol":"Redfish"}"#,
            "ops",
        );
        assert!(code(bad.unwrap_err()).ends_with("PropertyValueFormatError"));
        assert_eq!(s.collection_json()["Members@odata.count"], 1);
        let v = s.subscription_json(1).unwrap();
        assert_eq!(v["SubscriptionType"], "RedfishEvent");
        assert_eq!(v["Context"], Value::Null);
        assert!(s.delete(1, "ops"));
        assert!(!s.delete(1, "ops"));
        let keys: Vec<String> = log.entries().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["SubscriptionCreated", "SubscriptionDeleted"]);
        for _ in 0..16 {
            s.create(
                br#"{"Destination":"https://127.0.0.1:9/x","Protocol":"Redfish"}"#,
                "ops",
            )
            .unwrap();
        }
        let full = s.create(
            br#"{"Destination":"https://127.0.0.1:9/x","Protocol":"Redfish"}"#,
            "ops",
        );
        assert!(code(full.unwrap_err()).ends_with("CreateLimitReachedForResource"));
    }

    #[tokio::test]
    async fn push_subscriptions_survive_a_restart_and_a_bad_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subs.json");
        {
            let (s, _) = service(Some(path.clone()));
            s.create(br#"{"Destination":"https://127.0.0.1:9/x","Protocol":"Redfish","Context":"a","HttpHeaders":[{"X-Key":"k"}]}"#, "ops").unwrap();
            s.create(
                br#"{"Destination":"https://127.0.0.1:9/y","Protocol":"Redfish"}"#,
                "ops",
            )
            .unwrap();
            assert!(s.delete(2, "ops"));
            let _sse = s.open_sse("ops", None, None).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (s, _) = service(Some(path.clone()));
        assert_eq!(
            s.collection_json()["Members@odata.count"],
            1,
            "the SSE one is not kept"
        );
        assert_eq!(s.subscription_json(1).unwrap()["Context"], "a");
        assert_eq!(s.subscription_json(1).unwrap()["HttpHeaders"], json!([]));
        let a = s
            .create(
                br#"{"Destination":"https://127.0.0.1:9/z","Protocol":"Redfish"}"#,
                "ops",
            )
            .unwrap();
        // 2 was deleted, not reused; SSE ids (3 here) are not stored.
        assert_eq!(
            a.headers[http::header::LOCATION],
            "/redfish/v1/EventService/Subscriptions/3"
        );
        std::fs::write(&path, b"{not json").unwrap();
        let (s, _) = service(Some(path.clone()));
        assert_eq!(s.collection_json()["Members@odata.count"], 0);
        assert!(path.with_extension("bad").exists());
    }

    #[tokio::test]
    async fn sse_streams_take_filtered_log_entries_and_end_when_deleted() {
        let (s, log) = service(None);
        let mut all = s.open_sse("ops", None, None).unwrap();
        let mut power = s
            .open_sse(
                "ops",
                Some("$filter=MessageId%20eq%20'OpenDCRE.1.2.PowerAction'"),
                None,
            )
            .unwrap();
        assert_eq!(s.collection_json()["Members@odata.count"], 2);
        assert_eq!(
            s.subscription_json(power.id).unwrap()["SubscriptionType"],
            "SSE"
        );
        log.record(Event::auth_failure("10.0.0.9", "bad token"));
        log.record(Event::power(
            "ops",
            opendcre_eventlog::Via::V11,
            "00000001-16ff",
            "on",
            Ok("on"),
        ));
        let SseNext::Event(_, first) = all.next().await else {
            panic!()
        };
        assert!(first.contains("OpenDCRE.1.2.AuthenticationFailed"));
        let SseNext::Event(id, data) = power.next().await else {
            panic!()
        };
        let v: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["@odata.type"], "#Event.v1_13_0.Event");
        assert_eq!(v["Id"], id.to_string());
        let e = &v["Events"][0];
        assert_eq!(e["MessageId"], "OpenDCRE.1.2.PowerAction");
        assert_eq!(
            e["OriginOfCondition"]["@odata.id"],
            "/redfish/v1/Systems/00000001-16ff"
        );
        assert_eq!(
            e["LogEntry"]["@odata.id"],
            "/redfish/v1/Managers/RackManager/LogServices/EventLog/Entries/2"
        );
        assert!(s.delete(power.id, "ops"));
        assert!(matches!(power.next().await, SseNext::Ended));
        drop(all);
        assert_eq!(
            s.collection_json()["Members@odata.count"],
            0,
            "a closed stream is no subscription"
        );
        assert!(s
            .open_sse("ops", Some("$filter=Bogus%20eq%201"), None)
            .is_err());
        assert!(s.open_sse("ops", Some("$top=1"), None).is_err());
    }

    /// A power action of the test's bus power device (`n` picks what it
    /// answered, so that successive ones differ).
    fn power(n: usize) -> Event {
        Event::power(
            "ops",
            opendcre_eventlog::Via::V11,
            "00000001-16ff",
            "on",
            Ok(if n % 2 == 0 { "on" } else { "off" }),
        )
    }

    /// A stream that got one event and closed: the id of that event.
    async fn one_event_seen(s: &Arc<EventService>, log: &EventLog) -> u64 {
        let mut first = s.open_sse("ops", None, None).unwrap();
        log.record(power(0));
        let SseNext::Event(seen, _) = first.next().await else {
            panic!()
        };
        seen
    }

    #[tokio::test]
    async fn a_reconnect_with_last_event_id_replays_what_it_missed() {
        let (s, log) = service(None);
        let seen = one_event_seen(&s, &log).await;
        log.record(Event::auth_failure("10.0.0.9", "bad token"));
        log.record(power(1));
        // Back after `seen`: the two it missed, in order, then live ones.
        let mut again = s.open_sse("ops", None, Some(&seen.to_string())).unwrap();
        let ids: Vec<u64> = [again.next().await, again.next().await]
            .into_iter()
            .map(|n| match n {
                SseNext::Event(id, _) => id,
                _ => panic!(),
            })
            .collect();
        assert_eq!(ids, [seen + 1, seen + 2]);
        log.record(power(2));
        assert!(matches!(again.next().await, SseNext::Event(id, _) if id == seen + 3));
        // The replay goes through the stream's filter.
        let mut auth = s
            .open_sse(
                "ops",
                Some("$filter=MessageId%20eq%20'OpenDCRE.1.2.AuthenticationFailed'"),
                Some(&seen.to_string()),
            )
            .unwrap();
        let SseNext::Event(_, data) = auth.next().await else {
            panic!()
        };
        assert!(data.contains("AuthenticationFailed"));
        // An id from an earlier run, or no id at all: every kept event;
        // a header that is no id: a fresh stream.
        let mut old_run = s.open_sse("ops", None, Some("7")).unwrap();
        assert!(matches!(old_run.next().await, SseNext::Event(id, _) if id == seen));
        let mut fresh = s.open_sse("ops", None, Some("last")).unwrap();
        log.record(power(3));
        assert!(matches!(fresh.next().await, SseNext::Event(id, _) if id == seen + 4));
    }

    /// The ids a stream gets next, `n` of them.
    async fn ids(stream: &mut SseStream, n: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        for _ in 0..n {
            match stream.next().await {
                SseNext::Event(id, _) => ids.push(id),
                _ => panic!("not an event"),
            }
        }
        ids
    }

    #[tokio::test]
    async fn the_replay_buffer_outlives_a_stop_once_and_never_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subs.json");
        let (a, log) = service(Some(file.clone()));
        let seen = one_event_seen(&a, &log).await;
        log.record(power(1));
        log.record(power(2));
        a.keep_events();
        // Stopped: what happens now is the log's, not a stream's.
        let mut late = a.open_sse("ops", None, None).unwrap();
        log.record(power(3));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), late.next())
                .await
                .is_err()
        );
        drop((late, a));
        let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(stored["events"]["events"].as_array().unwrap().len(), 3);
        assert_eq!(stored["events"]["next_seq"], seen + 3);

        // The next run replays them after `seen` and continues their ids;
        // it took them out of the file at once.
        let (b, log) = service(Some(file.clone()));
        let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert!(stored.get("events").is_none(), "{stored}");
        let mut again = b.open_sse("ops", None, Some(&seen.to_string())).unwrap();
        assert_eq!(ids(&mut again, 2).await, [seen + 1, seen + 2]);
        log.record(power(4));
        assert_eq!(ids(&mut again, 1).await, [seen + 3]);
        // B crashes (no `keep_events`): C neither replays B's events nor
        // continues B's ids.
        drop((again, b));
        let (c, _log) = service(Some(file.clone()));
        let r = c.recent.lock().unwrap();
        assert!(r.events.is_empty() && r.next_seq == r.first_seq);
    }

    #[test]
    fn kept_events_out_of_order_are_dropped_and_the_subscriptions_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subs.json");
        let sub =
            parse_subscription(br#"{"Destination":"https://h/x","Protocol":"Redfish"}"#).unwrap();
        let record = |seq| Record {
            seq,
            message_id: "OpenDCRE.1.2.PowerAction".into(),
            origin: format!("{V1}/Systems/x"),
            json: json!({}),
            format: Format::Event,
        };
        for (first_seq, next_seq, seqs) in [
            (10, 20, vec![12, 11]),
            (10, 12, vec![11, 12]),
            (11, 20, vec![10, 12]),
            (0, 20, vec![]),
        ] {
            let stored = Stored {
                next_id: 2,
                subscriptions: vec![Subscription {
                    id: 1,
                    owner: "ops".into(),
                    ..sub.clone()
                }],
                events: Some(KeptEvents {
                    first_seq,
                    next_seq,
                    events: seqs.into_iter().map(record).collect(),
                }),
            };
            std::fs::write(&file, serde_json::to_vec(&stored).unwrap()).unwrap();
            let (s, _log) = service(Some(file.clone()));
            assert_eq!(s.lock().live.len(), 1);
            let r = s.recent.lock().unwrap();
            assert!(
                r.events.is_empty() && r.first_seq > next_seq,
                "{first_seq} {next_seq}"
            );
        }
    }

    #[tokio::test]
    async fn events_no_longer_kept_are_counted_for_a_reconnect() {
        let (s, log) = service(None);
        let seen = one_event_seen(&s, &log).await;
        for i in 0..BACKLOG + 5 {
            log.record(power(i));
        }
        let mut again = s.open_sse("ops", None, Some(&seen.to_string())).unwrap();
        assert!(matches!(again.next().await, SseNext::Lost(5)));
        assert!(matches!(again.next().await, SseNext::Event(id, _) if id == seen + 6));
    }

    #[test]
    fn test_events() {
        let r = parse_test_event(7, br#"{"MessageId":"Base.1.22.Success","MessageArgs":["a"],"MessageSeverity":"Warning","OriginOfCondition":"/redfish/v1/Systems/00000001-16ff"}"#).unwrap();
        assert_eq!(r.json["MessageSeverity"], "Warning");
        assert_eq!(r.origin, "/redfish/v1/Systems/00000001-16ff");
        for (body, want) in [
            (&br#"{}"#[..], "ActionParameterMissing"),
            (
                br#"{"MessageId":"nodots"}"#,
                "ActionParameterValueTypeError",
            ),
            (
                br#"{"MessageId":"A.1.0.B","MessageSeverity":"Bad"}"#,
                "ActionParameterValueNotInList",
            ),
            (
                br#"{"MessageId":"A.1.0.B","Nope":1}"#,
                "ActionParameterUnknown",
            ),
        ] {
            let e = parse_test_event(1, body).map(|_| ()).unwrap_err();
            assert!(code(e).ends_with(want), "{}", String::from_utf8_lossy(body));
        }
    }
}
