//! The task service (`/redfish/v1/TaskService`): the long operations the
//! node runs after answering `202 Accepted` — a RAUC install, a group
//! reset — each a `Task` a client polls at the `Location` it was given.
//! The last [`KEPT_TASKS`] are kept (a finished one makes room first), in
//! memory and, with `[manager] tasks`, in a file written when a task
//! starts and ends: a client that polls a task across a restart of the
//! node (an update, `Manager.Reset`) still finds it, and one that ran when
//! the node stopped says so. One id sequence for every kind, across
//! restarts.
//!
//! `DELETE` of a task: a finished one is forgotten; a running one is
//! cancelled when its work can stop (a group reset before its next batch,
//! a bundle's download), and refused when it cannot (RAUC has no way to
//! stop an install once it runs).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::resources::{collection, head, link, with};
use crate::route::V1;

/// Tasks kept in memory; the oldest finished one goes first.
pub(crate) const KEPT_TASKS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TaskState {
    Running,
    /// Asked to stop; the work stops at its next point where it can.
    Cancelling,
    Completed,
    Cancelled,
    Exception,
}

impl TaskState {
    /// Its work still runs (also while it is being asked to stop).
    fn running(self) -> bool {
        matches!(self, TaskState::Running | TaskState::Cancelling)
    }
}

/// A running task's stop request: set by `DELETE` (with who asked),
/// read by its work.
#[derive(Clone, Default)]
pub(crate) struct Cancel(Arc<(Mutex<Option<String>>, tokio::sync::Notify)>);

impl Cancel {
    fn request(&self, user: &str) {
        self.0
             .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| user.to_string());
        self.0 .1.notify_waiters();
    }

    /// Who asked the work to stop, once someone has.
    pub(crate) fn requested(&self) -> Option<String> {
        self.0 .0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Returns once a stop is requested (at once when it was already).
    pub(crate) async fn wait(&self) {
        let notified = self.0 .1.notified();
        tokio::pin!(notified);
        // Registered before the check: a request between the two wakes it.
        notified.as_mut().enable();
        if self.requested().is_none() {
            notified.await;
        }
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cancel({:?})", self.requested())
    }
}

/// A task as its resource shows it; the work that runs it fills in
/// progress and messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Task {
    pub id: u64,
    pub name: String,
    pub state: TaskState,
    pub start: String,
    pub end: Option<String>,
    pub percent: Option<u8>,
    /// Redfish `Message` objects, oldest first.
    pub messages: Vec<Value>,
    /// While the work can stop: how to ask it.
    #[serde(skip)]
    pub cancel: Option<Cancel>,
}

/// Every task of the node.
#[derive(Default)]
pub struct Tasks {
    inner: Mutex<(u64, VecDeque<Task>)>,
    file: Option<TaskFile>,
}

/// Where the tasks are kept, and which snapshot of them was written last:
/// snapshots are written off the async workers, so a late one must not
/// overwrite a newer one.
struct TaskFile {
    path: PathBuf,
    taken: AtomicU64,
    written: Arc<Mutex<u64>>,
}

/// The file's content.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    last_id: u64,
    tasks: VecDeque<Task>,
}

pub(crate) fn service_uri() -> String {
    format!("{V1}/TaskService")
}

fn collection_uri() -> String {
    format!("{V1}/TaskService/Tasks")
}

pub(crate) fn task_uri(id: u64) -> String {
    format!("{}/{id}", collection_uri())
}

/// The task monitor of task `id` (DSP0266 "Asynchronous operations"): the
/// `Location` of a `202`; `202` while the task runs, `200` with the task
/// once it has ended, which is what sushy's, Ansible's and DMTF's clients
/// poll for.
pub(crate) fn monitor_uri(id: u64) -> String {
    format!("{}/Monitor", task_uri(id))
}

impl Tasks {
    /// The tasks kept in `path` (`None`: in memory only). A task that was
    /// running when the node stopped ends now as `Exception`, saying so;
    /// a missing file is no tasks, a damaged one is set aside.
    pub fn open(path: Option<PathBuf>) -> Tasks {
        let Some(path) = path else {
            return Tasks::default();
        };
        let mut stored: Stored = crate::state_file::read_json(&path, "tasks").unwrap_or_default();
        let now = crate::handler::now();
        for t in stored.tasks.iter_mut().filter(|t| t.state.running()) {
            t.state = TaskState::Exception;
            t.end = Some(now.clone());
            t.messages.push(
                RedfishError::failure("the node stopped while this task ran; its work did not finish (see the event log for what was done)")
                    .message(),
            );
            tracing::warn!(task = t.id, name = %t.name, "task interrupted by the node's restart");
        }
        while stored.tasks.len() > KEPT_TASKS {
            stored.tasks.pop_front();
        }
        let last = stored.tasks.iter().map(|t| t.id).max().unwrap_or(0);
        let tasks = Tasks {
            inner: Mutex::new((stored.last_id.max(last), stored.tasks)),
            file: Some(TaskFile {
                path,
                taken: AtomicU64::new(0),
                written: Arc::new(Mutex::new(0)),
            }),
        };
        tasks.keep(&tasks.lock());
        tasks
    }

    /// Writes a snapshot of `t` to the file, if there is one: on a
    /// blocking thread when called on the runtime, else here.
    fn keep(&self, t: &(u64, VecDeque<Task>)) {
        let Some(f) = &self.file else { return };
        let version = f.taken.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = Stored {
            last_id: t.0,
            tasks: t.1.clone(),
        };
        let (path, written) = (f.path.clone(), f.written.clone());
        let write = move || {
            let mut last = written.lock().unwrap_or_else(|p| p.into_inner());
            if *last >= version {
                return; // a newer snapshot is on disk already
            }
            match crate::state_file::write_state(&path, &snapshot, 0o644) {
                Ok(()) => *last = version,
                Err(e) => tracing::error!(path = %path.display(), "tasks not kept: {e}"),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(write)),
            Err(_) => write(),
        }
    }

    /// A new running task named `name`; the oldest finished task makes
    /// room when [`KEPT_TASKS`] are kept.
    pub(crate) fn create(&self, name: String) -> u64 {
        let mut t = self.lock();
        t.0 += 1;
        let id = t.0;
        if t.1.len() >= KEPT_TASKS {
            if let Some(i) = t.1.iter().position(|x| !x.state.running()) {
                t.1.remove(i);
            }
        }
        t.1.push_back(Task {
            id,
            name,
            state: TaskState::Running,
            start: crate::handler::now(),
            end: None,
            percent: None,
            messages: Vec::new(),
            cancel: None,
        });
        self.keep(&t);
        id
    }

    /// [`Tasks::create`] of work that can stop: it watches the
    /// [`Cancel`] and ends the task with [`Tasks::cancelled`].
    pub(crate) fn create_cancellable(&self, name: String) -> (u64, Cancel) {
        let id = self.create(name);
        let cancel = Cancel::default();
        let c = cancel.clone();
        self.update(id, |t| t.cancel = Some(c));
        (id, cancel)
    }

    /// `DELETE …/Tasks/{id}`: a finished task is forgotten (`204`); a
    /// running one that can stop is asked to (`202` with the task, now
    /// `Cancelling`); one that cannot is `409`. `None`: no such task.
    pub(crate) fn delete(&self, id: u64, user: &str) -> Option<Result<Answer, RedfishError>> {
        let mut t = self.lock();
        let at = t.1.iter().position(|x| x.id == id)?;
        let task = &mut t.1[at];
        Some(match task.state.running() {
            true => match &task.cancel {
                Some(c) => {
                    c.request(user);
                    task.state = TaskState::Cancelling;
                    tracing::info!(task = id, user, "task cancel requested");
                    let v = payload(task);
                    drop(t);
                    Ok(Answer::json(StatusCode::ACCEPTED, &v))
                }
                None => Err(RedfishError::new(
                    StatusCode::CONFLICT,
                    BaseMessage::ResourceInUse,
                    &[],
                )
                .with_detail("this task cannot be stopped now (RAUC cannot stop an install once it runs); it ends by itself")),
            },
            false => {
                t.1.remove(at);
                self.keep(&t);
                tracing::info!(task = id, user, "finished task deleted");
                Ok(Answer::no_content())
            }
        })
    }

    /// Ends a task that stopped on request: `Cancelled`, now.
    pub(crate) fn cancelled(&self, id: u64, f: impl FnOnce(&mut Task)) {
        self.end(id, |t| {
            t.state = TaskState::Cancelled;
            f(t);
        });
    }

    /// Ends task `id` as `f` says, now, and keeps it so.
    fn end(&self, id: u64, f: impl FnOnce(&mut Task)) {
        let mut t = self.lock();
        if let Some(task) = t.1.iter_mut().find(|x| x.id == id) {
            task.end = Some(crate::handler::now());
            task.cancel = None;
            f(task);
        }
        self.keep(&t);
    }

    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut Task)) {
        if let Some(task) = self.lock().1.iter_mut().find(|x| x.id == id) {
            f(task);
        }
    }

    /// Ends a task: `Completed` (at 100 %) or `Exception`, now.
    pub(crate) fn finish(&self, id: u64, ok: bool, f: impl FnOnce(&mut Task)) {
        self.end(id, |t| {
            if ok {
                t.state = TaskState::Completed;
                t.percent = Some(100);
            } else {
                t.state = TaskState::Exception;
            }
            f(t);
        });
    }

    /// `202 Accepted` with the task, `Location` its monitor (DSP0266
    /// "Asynchronous operations").
    pub(crate) fn accepted(&self, id: u64) -> Answer {
        self.monitor(id)
            .unwrap_or_else(|| Answer::json(StatusCode::ACCEPTED, &Value::Null))
    }

    /// `GET` of task `id`'s monitor: `202` with the task (and `Location`,
    /// `Retry-After`) while it runs; once it has ended, what the operation
    /// would have answered had it not taken long (DSP0266 "Asynchronous
    /// operations"): `200` with the task, or, for a task that failed
    /// (`Exception`), `500` with an error whose extended info is the task's
    /// messages — a client that reads the monitor as the operation's answer
    /// (DMTF's `rf_update.py` does) must not take a failure for success.
    pub(crate) fn monitor(&self, id: u64) -> Option<Answer> {
        let t = self.lock();
        let task = t.1.iter().find(|x| x.id == id)?;
        let (running, failed) = (task.state.running(), task.state == TaskState::Exception);
        let v = payload(task);
        drop(t);
        if failed {
            return Some(Answer::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &failed_body(&v),
            ));
        }
        if !running {
            return Some(Answer::json(StatusCode::OK, &v));
        }
        let mut a = Answer::json(StatusCode::ACCEPTED, &v);
        if let Ok(loc) = HeaderValue::from_str(&monitor_uri(id)) {
            a.headers.insert(LOCATION, loc);
        }
        a.headers
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        Some(a)
    }

    /// `…/TaskService/Tasks`.
    pub(crate) fn collection(&self) -> Value {
        collection(
            &collection_uri(),
            "TaskCollection",
            "Tasks",
            self.lock().1.iter().map(|x| task_uri(x.id)).collect(),
        )
    }

    /// `…/Tasks/{id}`, if it is still kept.
    pub(crate) fn get(&self, id: u64) -> Option<Value> {
        self.lock().1.iter().find(|x| x.id == id).map(payload)
    }

    #[cfg(test)]
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.lock().1.iter().map(|t| t.id).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, VecDeque<Task>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The error a failed task's monitor answers: `GeneralError`, the task's
/// own messages (what failed and why) as its extended info, and where the
/// task is.
fn failed_body(task: &Value) -> Value {
    let mut e = RedfishError::failure(format!(
        "The operation of task {} failed; see its messages.",
        task["@odata.id"].as_str().unwrap_or_default()
    ))
    .body();
    let mut info = vec![e["error"]["@Message.ExtendedInfo"][0].take()];
    if let Some(messages) = task["Messages"].as_array() {
        info.extend(messages.iter().cloned());
    }
    e["error"]["@Message.ExtendedInfo"] = Value::Array(info);
    e
}

fn payload(t: &Task) -> Value {
    let (state, status) = match t.state {
        TaskState::Running => ("Running", "OK"),
        TaskState::Cancelling => ("Cancelling", "OK"),
        TaskState::Completed => ("Completed", "OK"),
        TaskState::Cancelled => ("Cancelled", "Warning"),
        TaskState::Exception => ("Exception", "Critical"),
    };
    let mut v = with(
        head(&task_uri(t.id), "Task"),
        json!({
            "Id": t.id.to_string(),
            "Name": t.name,
            "TaskState": state,
            "TaskStatus": status,
            "StartTime": t.start,
            "TaskMonitor": monitor_uri(t.id),
            "HidePayload": true,
            "Messages": t.messages,
        }),
    );
    if let Some(e) = &t.end {
        v["EndTime"] = json!(e);
    }
    if let Some(p) = t.percent {
        v["PercentComplete"] = json!(p);
    }
    v
}

/// A task message of the node's own registry (as its event log's).
pub(crate) fn message(key: &str, text: &str, args: &[String], severity: &str) -> Value {
    json!({
        "MessageId": format!("{}.{key}", crate::logs::REGISTRY_PREFIX),
        "Message": text,
        "MessageArgs": args,
        "MessageSeverity": severity,
    })
}

/// `GET /redfish/v1/TaskService`.
pub(crate) fn service() -> Value {
    with(
        head(&service_uri(), "TaskService"),
        json!({
            "Id": "TaskService",
            "Name": "Task service",
            "ServiceEnabled": true,
            "CompletedTaskOverWritePolicy": "Oldest",
            "LifeCycleEventOnTaskStateChange": false,
            "DateTime": crate::handler::now(),
            "Status": { "State": "Enabled", "Health": "OK" },
            "Tasks": link(&collection_uri()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tasks_make_room_oldest_first_running_ones_stay() {
        let t = Tasks::default();
        let first = t.create("runs long".into());
        for _ in 0..KEPT_TASKS + 3 {
            let id = t.create("quick".into());
            t.finish(id, true, |_| {});
        }
        let ids = t.ids();
        assert_eq!(ids.len(), KEPT_TASKS);
        assert_eq!(ids[0], first, "a running task is never dropped");
        assert_eq!(*ids.last().unwrap(), first + KEPT_TASKS as u64 + 3);
        let v = t.get(ids[1]).unwrap();
        assert_eq!(v["TaskState"], "Completed");
        assert_eq!(v["PercentComplete"], 100);
        assert_eq!(t.get(first).unwrap()["TaskState"], "Running");
        assert!(t.get(2).is_none(), "dropped");
    }

    #[tokio::test]
    async fn delete_cancels_what_can_stop_refuses_what_cannot_forgets_the_rest() {
        let t = Tasks::default();
        let (stoppable, cancel) = t.create_cancellable("group reset".into());
        let install = t.create("install".into());
        let done = t.create("done".into());
        t.finish(done, true, |_| {});

        assert!(t.delete(99, "op").is_none());
        let e = t.delete(install, "op").unwrap().unwrap_err();
        assert_eq!(
            (e.status, e.key()),
            (StatusCode::CONFLICT, "ResourceInUse".to_string())
        );
        assert_eq!(t.get(install).unwrap()["TaskState"], "Running");

        let waiting = tokio::spawn({
            let c = cancel.clone();
            async move { c.wait().await }
        });
        let a = t.delete(stoppable, "op").unwrap().unwrap();
        assert_eq!(a.status, StatusCode::ACCEPTED);
        assert_eq!(t.get(stoppable).unwrap()["TaskState"], "Cancelling");
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the work is woken")
            .unwrap();
        // A second DELETE keeps the first one's name.
        t.delete(stoppable, "someone else").unwrap().unwrap();
        assert_eq!(cancel.requested().as_deref(), Some("op"));
        t.cancelled(stoppable, |_| {});
        let v = t.get(stoppable).unwrap();
        assert_eq!(
            (v["TaskState"].as_str(), v["TaskStatus"].as_str()),
            (Some("Cancelled"), Some("Warning"))
        );
        assert!(v["EndTime"].is_string());
        // Finished: forgotten.
        assert_eq!(
            t.delete(done, "op").unwrap().unwrap().status,
            StatusCode::NO_CONTENT
        );
        assert!(t.get(done).is_none());
        assert_eq!(
            t.delete(stoppable, "op").unwrap().unwrap().status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(t.ids(), [install]);
    }

    #[test]
    fn kept_tasks_outlive_a_restart_and_running_ones_say_they_were_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/tasks.json");
        let t = Tasks::open(Some(path.clone()));
        let done = t.create("install".into());
        t.finish(done, true, |_| {});
        let cut = t.create("group reset".into());
        t.update(cut, |x| x.percent = Some(50));
        let forgotten = t.create("download".into());
        t.finish(forgotten, false, |_| {});
        t.delete(forgotten, "op").unwrap().unwrap();
        drop(t);

        let again = Tasks::open(Some(path.clone()));
        assert_eq!(again.ids(), [done, cut]);
        assert_eq!(again.get(done).unwrap()["TaskState"], "Completed");
        let v = again.get(cut).unwrap();
        assert_eq!(v["TaskState"], "Exception", "{v}");
        assert!(v["EndTime"].is_string());
        let said = v["Messages"][0]["Resolution"].as_str().unwrap();
        assert!(said.contains("node stopped"), "{v}");
        // Ids go on where they were, past the forgotten one too.
        assert_eq!(again.create("next".into()), forgotten + 1);
        // Damaged: set aside, no tasks, ids from 1.
        drop(again);
        std::fs::write(&path, b"{").unwrap();
        let fresh = Tasks::open(Some(path.clone()));
        assert!(fresh.ids().is_empty());
        assert!(path.with_extension("bad").exists());
        assert_eq!(fresh.create("x".into()), 1);
    }

    #[test]
    fn accepted_points_at_the_task() {
        let t = Tasks::default();
        let id = t.create("x".into());
        let a = t.accepted(id);
        assert_eq!(a.status, StatusCode::ACCEPTED);
        assert_eq!(
            a.headers.get(LOCATION).unwrap(),
            "/redfish/v1/TaskService/Tasks/1/Monitor"
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["@odata.id"], "/redfish/v1/TaskService/Tasks/1");
        assert_eq!(t.monitor(id).unwrap().status, StatusCode::ACCEPTED);
        t.finish(id, true, |_| {});
        let done = t.monitor(id).unwrap();
        assert_eq!(done.status, StatusCode::OK);
        assert!(done.headers.get(LOCATION).is_none());
        let v: Value = serde_json::from_slice(&done.body).unwrap();
        assert_eq!(v["TaskState"], "Completed");
        assert!(t.monitor(id + 1).is_none());
    }

    /// A failed task's monitor answers as the failed operation would: an
    /// error, with what the task says of the failure.
    #[test]
    fn a_failed_tasks_monitor_answers_an_error_with_its_messages() {
        let t = Tasks::default();
        let id = t.create("install".into());
        t.finish(id, false, |x| {
            x.messages.push(message(
                "UpdateFailed",
                "The update failed: rauc install failed (status 1).",
                &["rauc install failed (status 1)".into()],
                "Critical",
            ))
        });
        let a = t.monitor(id).unwrap();
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(a.headers.get(LOCATION).is_none());
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["error"]["code"], "Base.1.22.GeneralError");
        let info = v["error"]["@Message.ExtendedInfo"].as_array().unwrap();
        assert_eq!(info.len(), 2, "{v}");
        assert!(info[0]["Resolution"]
            .as_str()
            .unwrap()
            .contains("/redfish/v1/TaskService/Tasks/1"));
        assert_eq!(info[1]["MessageId"], "OpenDCRE.1.2.UpdateFailed");
        // The task itself still says what it is.
        assert_eq!(t.get(id).unwrap()["TaskState"], "Exception");
    }
}
