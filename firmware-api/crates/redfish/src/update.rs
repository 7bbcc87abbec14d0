//! The update service: RAUC bundles pushed by an operator are installed by
//! `rauc install` in the background, each install a task. The api crate
//! streams the upload into `upload_dir` (the body is far beyond the HTTP
//! server's limits) holding an [`UpdateSlot`], then calls
//! [`Updater::start_install`]; this module runs RAUC, keeps the tasks and
//! shapes `UpdateService`, `FirmwareInventory` (one member per RAUC slot)
//! and `TaskService`. RAUC is reached only through its command line
//! (which talks D-Bus to `rauc-service`), always with a timeout.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use opendcre_eventlog::{Event, EventLog};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::http_client::{Client, Target};
use crate::rauc::{self, Slot};
use crate::resources::{collection, head, link, with};
use crate::route::{MANAGER_ID, V1};
use crate::tasks::{message, Tasks};

/// `[update]` of opendcre.toml, checked by the binary.
#[derive(Debug, Clone)]
pub struct UpdateSettings {
    /// Off unless the image turns it on.
    pub enabled: bool,
    /// The `rauc` command line.
    pub rauc: PathBuf,
    /// Where uploads are written (the service user's, on the data
    /// partition: a bundle does not fit in RAM).
    pub upload_dir: PathBuf,
    pub max_bundle_bytes: u64,
    pub install_timeout: Duration,
    /// More certificate authorities a `SimpleUpdate` server's certificate
    /// may chain to (PEM), beside the system's trust store.
    pub ca_file: Option<PathBuf>,
}

/// The longest a `SimpleUpdate` download may take: a bundle of the
/// largest size over a slow link, not a server that trickles forever.
const PULL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest wait for more of a download's body.
const PULL_IDLE: Duration = Duration::from_secs(60);
/// The connect (TCP and TLS) and the answer's head of a download.
const PULL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const PULL_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A checked `SimpleUpdate`: where the bundle is and how to ask for it.
pub(crate) struct Pull {
    pub client: Client,
    pub from: Target,
    /// `ImageURI` as the log and the task show it (no credentials).
    pub uri: String,
    /// `Authorization: Basic …` of `Username`/`Password`.
    pub authorization: Option<String>,
}

/// How long `rauc status` may take: it asks `rauc-service` over D-Bus.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// Output lines of `rauc install` a task keeps (its last ones).
const KEPT_LINES: usize = 12;

/// The right to upload and install: one at a time, held from the first
/// byte of the upload to the end of `rauc install`.
pub struct UpdateSlot(#[allow(dead_code)] OwnedSemaphorePermit);

/// The update service of the node (built by `opendcre serve`).
pub struct Updater {
    settings: UpdateSettings,
    slot: Arc<Semaphore>,
    tasks: Arc<Tasks>,
    events: Arc<EventLog>,
}

pub(crate) fn service_uri() -> String {
    format!("{V1}/UpdateService")
}

/// `HttpPushUri`.
pub fn upload_uri() -> String {
    format!("{V1}/UpdateService/upload")
}

/// `MultipartHttpPushUri`.
pub fn multipart_uri() -> String {
    format!("{V1}/UpdateService/update-multipart")
}

fn inventory_uri() -> String {
    format!("{V1}/UpdateService/FirmwareInventory")
}

impl Updater {
    /// With the service on, uploads a killed process left in `upload_dir`
    /// (`upload-*.raucb`, only ever written by this service) are removed:
    /// nothing else would, and each is the size of a bundle.
    pub fn new(settings: UpdateSettings, events: Arc<EventLog>, tasks: Arc<Tasks>) -> Updater {
        if settings.enabled {
            remove_leftovers(&settings.upload_dir);
        }
        Updater {
            settings,
            slot: Arc::new(Semaphore::new(1)),
            tasks,
            events,
        }
    }

    /// The client a download uses: the system's trust store and
    /// `[update] ca_file`.
    pub(crate) fn pull_client(&self) -> Result<Client, String> {
        Client::new(
            self.settings.ca_file.as_deref(),
            PULL_CONNECT_TIMEOUT,
            PULL_HEAD_TIMEOUT,
        )
    }

    pub fn settings(&self) -> &UpdateSettings {
        &self.settings
    }

    /// The one upload/install slot, if no other upload or install holds it.
    pub fn try_begin(&self) -> Option<UpdateSlot> {
        self.slot.clone().try_acquire_owned().ok().map(UpdateSlot)
    }

    /// The answer to a push while the service is off (`[update] enabled =
    /// false`): DSP0266 has no status for it; Base's `ServiceDisabled` with
    /// 503 says the service exists and does not take requests.
    pub fn disabled_error() -> RedfishError {
        RedfishError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            BaseMessage::ServiceDisabled,
            &[&service_uri()],
        )
    }

    /// `UpdateParameters`: `Targets` (none, the manager, or a RAUC slot of its
    /// firmware inventory: a bundle always goes to the slot not booted) and
    /// `@Redfish.OperationApplyTime` (`Immediate` or `OnReset`: the bundle is
    /// installed now and runs after the node's next restart either way).
    pub fn check_parameters(json: &[u8]) -> Result<(), RedfishError> {
        let Ok(serde_json::Value::Object(p)) = serde_json::from_slice::<serde_json::Value>(json)
        else {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::MalformedJSON,
                &[],
            )
            .with_detail("UpdateParameters is not a JSON object"));
        };
        let not_in_list = |value: &str, prop: &str, why: String| {
            RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::PropertyValueNotInList,
                &[&value.chars().take(64).collect::<String>(), prop],
            )
            .with_detail(why)
        };
        for (k, v) in &p {
            match k.as_str() {
                "Targets" => {
                    check_targets(v).map_err(|(value, why)| not_in_list(&value, "Targets", why))?
                }
                "@Redfish.OperationApplyTime" => check_apply_time(v)
                    .map_err(|why| not_in_list(&crate::answer::shown(v), k, why))?,
                other => {
                    return Err(RedfishError::new(
                        StatusCode::BAD_REQUEST,
                        BaseMessage::PropertyUnknown,
                        &[&other.chars().take(64).collect::<String>()],
                    )
                    .with_detail("UpdateParameters takes Targets and @Redfish.OperationApplyTime"))
                }
            }
        }
        Ok(())
    }

    /// A second upload while one is uploading or installing: 409
    /// `ResourceInUse`, not 503 with `Retry-After`, because retrying the
    /// same bundle after the first install would install over it.
    pub fn busy_error() -> RedfishError {
        let mut e = RedfishError::new(StatusCode::CONFLICT, BaseMessage::ResourceInUse, &[]);
        e.detail = Some("another bundle is being uploaded or installed; see /redfish/v1/TaskService/Tasks and send it again once that task has ended".into());
        e
    }

    /// Runs `rauc install file` in the background as a new task and answers
    /// 202 with the task's `Location`. The file is removed when RAUC ends.
    pub fn start_install(
        self: &Arc<Self>,
        slot: UpdateSlot,
        file: PathBuf,
        bytes: u64,
        user: &str,
    ) -> Answer {
        let id = self
            .tasks
            .create(format!("Install of a {bytes} byte RAUC bundle by '{user}'"));
        tracing::info!(task = id, bytes, user, "rauc install started");
        let me = self.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            let _slot = slot;
            let result = me.install(id, &file).await;
            if let Err(e) = std::fs::remove_file(&file) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %file.display(), "uploaded bundle not removed: {e}");
                }
            }
            me.finish(id, &user, bytes, result);
        });
        self.tasks.accepted(id)
    }

    /// `SimpleUpdate`: downloads the bundle `pull` names into the upload
    /// directory, then installs it as [`Updater::start_install`] does, all
    /// as one task (`202` with its `Location` at once). A failed download
    /// ends the task and is recorded in the event log like a failed
    /// install; the file is removed either way.
    pub(crate) fn start_pull(self: &Arc<Self>, slot: UpdateSlot, pull: Pull, user: &str) -> Answer {
        let (id, cancel) = self
            .tasks
            .create_cancellable(format!("Download of {} and install by '{user}'", pull.uri));
        tracing::info!(task = id, uri = %pull.uri, user, "SimpleUpdate started");
        let me = self.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            let _slot = slot;
            let file = me
                .settings
                .upload_dir
                .join(format!("upload-pull-{id}.raucb"));
            let max = me.settings.max_bundle_bytes;
            let download = tokio::time::timeout(
                PULL_TIMEOUT,
                pull.client.download(
                    &pull.from,
                    pull.authorization.as_deref(),
                    &file,
                    max,
                    PULL_IDLE,
                ),
            );
            let got = tokio::select! {
                got = download => got.unwrap_or_else(|_| Err(format!("it took longer than {} s", PULL_TIMEOUT.as_secs()))),
                _ = cancel.wait() => Err("cancelled".into()),
            };
            // From here on RAUC has it: a DELETE of the task is refused.
            me.tasks.update(id, |t| t.cancel = None);
            if let Some(by) = cancel.requested() {
                remove_download(&file);
                let what = format!("the download of {} and its install", pull.uri);
                let event = Event::task_cancelled(&by, id, &what);
                me.tasks.cancelled(id, |t| {
                    t.messages
                        .push(message(event.key, &event.message, &event.args, "Warning"));
                });
                me.events.record(event);
                tracing::info!(task = id, by, "SimpleUpdate cancelled");
                return;
            }
            let (bytes, result) = match got {
                Ok(n) => {
                    tracing::info!(task = id, bytes = n, uri = %pull.uri, "bundle downloaded");
                    (n, me.install(id, &file).await)
                }
                Err(e) => (
                    0,
                    Err(format!("the download from {} failed: {e}", pull.uri)),
                ),
            };
            remove_download(&file);
            me.finish(id, &user, bytes, result);
        });
        self.tasks.accepted(id)
    }

    fn finish(&self, id: u64, user: &str, bytes: u64, result: Result<(), String>) {
        match &result {
            Ok(()) => tracing::info!(task = id, "rauc install completed"),
            Err(r) => tracing::warn!(task = id, "rauc install failed: {r}"),
        }
        let outcome = result.as_ref().map(|_| "installed").map_err(String::as_str);
        let event = Event::update(user, bytes, outcome);
        self.tasks.finish(id, result.is_ok(), |t| {
            if result.is_err() {
                // The same message (and arguments) as the event log's entry.
                t.messages
                    .push(message(event.key, &event.message, &event.args, "Critical"));
            }
        });
        self.events.record(event);
    }

    /// `rauc install`, its output lines into the task as they come, within
    /// `install_timeout`. The error is the reason to show: RAUC's
    /// `LastError: …` line (a signature failure, say), else its first line
    /// on `stderr`.
    async fn install(&self, id: u64, file: &Path) -> Result<(), String> {
        let mut child = tokio::process::Command::new(&self.settings.rauc)
            .arg("install")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{} could not be started: {e}", self.settings.rauc.display()))?;
        let (tx, mut rx) = mpsc::channel::<(bool, String)>(64);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(lines(out, false, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(lines(err, true, tx.clone()));
        }
        drop(tx);
        let deadline = tokio::time::Instant::now() + self.settings.install_timeout;
        let mut last_error = None;
        // RAUC's last lines, each a task message.
        let mut kept: VecDeque<String> = VecDeque::new();
        let read_all = async {
            while let Some((is_err, line)) = rx.recv().await {
                // RAUC's reason is its `LastError:` line; the lines after it
                // only say that the install failed.
                if let Some(reason) = line.strip_prefix("LastError:") {
                    last_error = Some(reason.trim().to_string());
                } else if is_err && last_error.is_none() {
                    last_error = Some(line.clone());
                }
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                let percent = rauc::progress(&line);
                kept.push_back(line);
                self.tasks.update(id, |t| {
                    if percent.is_some() {
                        t.percent = percent;
                    }
                    t.messages = kept
                        .iter()
                        .map(|l| message("RaucOutput", l, std::slice::from_ref(l), "OK"))
                        .collect();
                });
            }
            child.wait().await
        };
        let status = match tokio::time::timeout_at(deadline, read_all).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("waiting for rauc failed: {e}")),
            Err(_) => {
                // `kill_on_drop` ends the child with the dropped future.
                return Err(format!(
                    "rauc install did not end within {} s and was stopped",
                    self.settings.install_timeout.as_secs()
                ));
            }
        };
        if status.success() {
            return Ok(());
        }
        let code = status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
        Err(match last_error {
            Some(l) => format!("rauc install failed ({code}): {l}"),
            None => format!("rauc install failed ({code})"),
        })
    }

    /// `rauc status` now, or why not.
    async fn status(&self) -> Result<rauc::Status, String> {
        let out = tokio::process::Command::new(&self.settings.rauc)
            .args(["status", "--detailed", "--output-format=json"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = match tokio::time::timeout(STATUS_TIMEOUT, out).await {
            Err(_) => {
                return Err(format!(
                    "rauc status gave no answer within {STATUS_TIMEOUT:?}"
                ))
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "{} could not be run: {e}",
                    self.settings.rauc.display()
                ))
            }
            Ok(Ok(o)) => o,
        };
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!("rauc status failed: {}", last.trim()));
        }
        rauc::parse_status(&String::from_utf8_lossy(&out.stdout))
    }

    /// `GET /redfish/v1/UpdateService`.
    pub(crate) async fn service(&self) -> Value {
        let enabled = self.settings.enabled;
        let (health, description) = if !enabled {
            (
                "OK",
                "Off: [update] enabled = false in the node's configuration.".to_string(),
            )
        } else {
            match self.status().await {
                Ok(_) => ("OK", "RAUC bundles (.raucb) pushed to MultipartHttpPushUri or HttpPushUri, or fetched over HTTP(S) by SimpleUpdate, are installed by rauc into the slot not booted; the node boots it after a reboot.".to_string()),
                Err(e) => ("Warning", format!("RAUC's status cannot be read: {e}")),
            }
        };
        with(
            head(&service_uri(), "UpdateService"),
            json!({
                "Id": "UpdateService",
                "Name": "Update service",
                "Description": description,
                "ServiceEnabled": enabled,
                "HttpPushUri": upload_uri(),
                "MultipartHttpPushUri": multipart_uri(),
                "MaxImageSizeBytes": self.settings.max_bundle_bytes,
                "Actions": {
                    "#UpdateService.SimpleUpdate": {
                        "target": crate::simple_update::uri(),
                        "TransferProtocol@Redfish.AllowableValues": crate::simple_update::PROTOCOLS,
                    },
                },
                "FirmwareInventory": link(&inventory_uri()),
                "Status": {
                    "State": if enabled { "Enabled" } else { "Disabled" },
                    "Health": health,
                },
            }),
        )
    }

    /// `…/FirmwareInventory`: one member per RAUC slot, then `others`
    /// (the boards' and BMCs' firmware, or why the bus could not say which
    /// there are); when RAUC cannot be asked, no slots, and the description
    /// says why.
    pub(crate) async fn inventory(&self, others: Result<Vec<String>, String>) -> Value {
        let status = self.status().await;
        let mut said = Vec::new();
        let mut members: Vec<String> = match &status {
            Ok(s) => {
                said.push("The node's RAUC slots (updated through this service)".to_string());
                s.slots
                    .iter()
                    .map(|s| format!("{}/{}", inventory_uri(), s.name))
                    .collect()
            }
            Err(e) => {
                said.push(format!("RAUC's slots cannot be listed: {e}"));
                Vec::new()
            }
        };
        match others {
            Ok(o) => {
                said.push(
                    "the firmware of every bus board and configured BMC (read only)".to_string(),
                );
                members.extend(o);
            }
            Err(e) => said.push(format!("the bus boards and BMCs cannot be listed: {e}")),
        }
        let mut v = collection(
            &inventory_uri(),
            "SoftwareInventoryCollection",
            "Firmware inventory",
            members,
        );
        v["Description"] = json!(said.join("; "));
        v
    }

    /// `…/FirmwareInventory/{slot}`; `None` when RAUC has no such slot.
    pub(crate) async fn slot(&self, name: &str) -> Result<Option<Value>, RedfishError> {
        let status = self.status().await.map_err(RedfishError::failure)?;
        Ok(status
            .slots
            .iter()
            .find(|s| s.name == name)
            .map(|s| slot_payload(s, status.boot_primary.as_deref())))
    }
}

fn remove_download(file: &Path) {
    if let Err(e) = std::fs::remove_file(file) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %file.display(), "downloaded bundle not removed: {e}");
        }
    }
}

/// `Targets` of an update: none, the manager, or RAUC slots of its
/// firmware inventory (a bundle always goes to the slot not booted). The
/// error: the value refused and why.
pub(crate) fn check_targets(v: &Value) -> Result<(), (String, String)> {
    let Some(targets) = v.as_array() else {
        return Err((crate::answer::shown(v), "Targets is a list of URIs".into()));
    };
    let manager = format!("{V1}/Managers/{MANAGER_ID}");
    let slots = format!("{}/", inventory_uri());
    for t in targets {
        let uri = crate::aggregation::uri_text(t).trim_end_matches('/');
        let ok = uri == manager
            || uri
                .strip_prefix(slots.as_str())
                .is_some_and(|slot| slot.contains('.') && !slot.contains('/'));
        if !ok {
            return Err((
                crate::answer::shown(t),
                format!("a bundle updates the node: no target, {manager}, or one of its RAUC slots in the firmware inventory"),
            ));
        }
    }
    Ok(())
}

/// `@Redfish.OperationApplyTime` of an update: `Immediate` or `OnReset`,
/// which are the same here.
pub(crate) fn check_apply_time(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some("Immediate" | "OnReset") => Ok(()),
        _ => Err(
            "Immediate or OnReset: the bundle is installed now and runs after the next restart"
                .into(),
        ),
    }
}

fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "the update upload directory cannot be read");
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("upload-") && name.ends_with(".raucb") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::info!(file = %e.path().display(), "left-over upload removed"),
                Err(err) => {
                    tracing::warn!(file = %e.path().display(), "left-over upload not removed: {err}")
                }
            }
        }
    }
}

/// The lines of one output stream, `\r` and `\n` both ending a line (RAUC
/// redraws progress with `\r` on a terminal).
async fn lines(stream: impl AsyncRead + Unpin, is_err: bool, tx: mpsc::Sender<(bool, String)>) {
    let mut r = BufReader::new(stream).split(b'\n');
    while let Ok(Some(raw)) = r.next_segment().await {
        let text = String::from_utf8_lossy(&raw);
        for part in text.split('\r') {
            let line: String = part
                .trim()
                .chars()
                .take(512)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if !line.is_empty() && tx.send((is_err, line)).await.is_err() {
                return;
            }
        }
    }
}

fn slot_payload(s: &Slot, primary: Option<&str>) -> Value {
    let uri = format!("{}/{}", inventory_uri(), s.name);
    let boot = s.bootname.as_deref().unwrap_or("?");
    let mut said = vec![format!("RAUC slot {} (boot name {boot})", s.name)];
    if s.booted() {
        said.push("booted: the running system".into());
    } else {
        said.push(format!(
            "{}: the slot rauc installs into",
            s.state.as_deref().unwrap_or("state unknown")
        ));
    }
    if primary == Some(s.name.as_str()) {
        said.push("boots next".into());
    }
    if let Some(b) = &s.boot_status {
        said.push(format!("boot status {b}"));
    }
    if let Some(i) = &s.installed {
        said.push(format!("bundle installed {i}"));
    }
    let health = match s.boot_status.as_deref() {
        Some("bad") => "Critical",
        _ => "OK",
    };
    let mut v = with(
        head(&uri, "SoftwareInventory"),
        json!({
            "Id": s.name,
            "Name": format!("Root file system slot {boot}"),
            "Description": said.join("; "),
            // The node's software in this slot is updated through this
            // service (rauc picks the slot not booted at each install).
            "Updateable": true,
            "Status": {
                "State": if s.booted() { "Enabled" } else { "StandbyOffline" },
                "Health": health,
            },
            "RelatedItem": [link(&format!("{V1}/Managers/{MANAGER_ID}"))],
            "RelatedItem@odata.count": 1,
        }),
    );
    if let Some(ver) = &s.version {
        v["Version"] = json!(ver);
    }
    if let Some(c) = &s.compatible {
        v["SoftwareId"] = json!(c);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{task_uri, KEPT_TASKS};

    /// `/bin/true` as `rauc`: every install completes at once.
    #[tokio::test]
    async fn finished_tasks_are_bounded_oldest_first() {
        let dir = std::env::temp_dir();
        let u = Arc::new(Updater::new(
            UpdateSettings {
                enabled: true,
                rauc: "/bin/true".into(),
                upload_dir: dir.clone(),
                max_bundle_bytes: 1 << 20,
                install_timeout: Duration::from_secs(10),
                ca_file: None,
            },
            Arc::new(EventLog::in_memory(100)),
            Arc::default(),
        ));
        for i in 0..KEPT_TASKS + 4 {
            let slot = loop {
                match u.try_begin() {
                    Some(s) => break s,
                    None => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            };
            assert!(u.try_begin().is_none(), "one at a time");
            let file = dir.join(format!("opendcre-update-test-{}-{i}", std::process::id()));
            std::fs::write(&file, b"x").unwrap();
            let a = u.start_install(slot, file, 1, "ops");
            assert_eq!(a.status, StatusCode::ACCEPTED);
        }
        while u.try_begin().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let c = u.tasks.collection();
        assert_eq!(c["Members@odata.count"], KEPT_TASKS);
        assert_eq!(c["Members"][0]["@odata.id"], task_uri(5));
        let t = u.tasks.get(KEPT_TASKS as u64 + 4).unwrap();
        assert_eq!(t["TaskState"], "Completed");
        assert!(u.tasks.get(1).is_none());
        assert_eq!(u.events.entries().len(), KEPT_TASKS + 4);
    }

    #[test]
    fn leftover_uploads_are_removed_at_start_when_on() {
        let dir = std::env::temp_dir().join(format!("opendcre-leftover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["upload-7-0.raucb", "keep.raucb", "upload-notes.txt"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let settings = |enabled| UpdateSettings {
            enabled,
            rauc: "/bin/true".into(),
            upload_dir: dir.clone(),
            max_bundle_bytes: 1 << 20,
            install_timeout: Duration::from_secs(10),
            ca_file: None,
        };
        let events = Arc::new(EventLog::in_memory(10));
        Updater::new(settings(false), events.clone(), Arc::default());
        assert!(dir.join("upload-7-0.raucb").exists(), "off: untouched");
        Updater::new(settings(true), events, Arc::default());
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["keep.raucb", "upload-notes.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn update_parameters() {
        for ok in [
            "{}",
            r#"{"Targets": []}"#,
            r#"{"Targets": ["/redfish/v1/Managers/RackManager"], "@Redfish.OperationApplyTime": "OnReset"}"#,
            r#"{"Targets": ["/redfish/v1/UpdateService/FirmwareInventory/rootfs.1"], "@Redfish.OperationApplyTime": "Immediate"}"#,
        ] {
            assert!(Updater::check_parameters(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (bad, key) in [
            ("[]", "MalformedJSON"),
            ("{", "MalformedJSON"),
            (r#"{"Targets": "x"}"#, "PropertyValueNotInList"),
            (
                r#"{"Targets": ["/redfish/v1/Systems/00000001-0001"]}"#,
                "PropertyValueNotInList",
            ),
            (
                r#"{"Targets": ["/redfish/v1/UpdateService/FirmwareInventory/40000000-0001"]}"#,
                "PropertyValueNotInList",
            ),
            (
                r#"{"@Redfish.OperationApplyTime": "InMaintenanceWindowOnReset"}"#,
                "PropertyValueNotInList",
            ),
            (r#"{"ForceUpdate": true}"#, "PropertyUnknown"),
        ] {
            let e = Updater::check_parameters(bad.as_bytes()).unwrap_err();
            assert_eq!(e.key(), key, "{bad}");
        }
        // The value refused is quoted as the client sent it, not as JSON.
        let e = Updater::check_parameters(
            br#"{"@Redfish.OperationApplyTime": "OnStartUpdateRequest"}"#,
        )
        .unwrap_err();
        assert_eq!(e.args[0], "OnStartUpdateRequest");
        let e =
            Updater::check_parameters(br#"{"Targets": ["/redfish/v1/Systems/x"]}"#).unwrap_err();
        assert_eq!(e.args[0], "/redfish/v1/Systems/x");
    }

    #[test]
    fn slot_payload_says_which_is_booted() {
        let s = rauc::parse_status(
            r#"{"boot_primary":"rootfs.0","slots":[{"rootfs.0":{"bootname":"A","state":"booted","boot_status":"good","slot_status":{"bundle":{"version":"1.2"}}}},{"rootfs.1":{"bootname":"B","state":"inactive","boot_status":"bad"}}]}"#,
        )
        .unwrap();
        let a = slot_payload(&s.slots[0], Some("rootfs.0"));
        assert_eq!(a["Version"], "1.2");
        assert_eq!(a["Status"]["State"], "Enabled");
        assert!(a["Description"].as_str().unwrap().contains("booted"));
        let b = slot_payload(&s.slots[1], Some("rootfs.0"));
        assert_eq!(b["Status"]["Health"], "Critical");
        assert_eq!(b["Status"]["State"], "StandbyOffline");
        assert!(b.get("Version").is_none());
    }
}
