//! `AccountService`: the node's local accounts as `ManagerAccount`s, the
//! three standard roles of DSP8011 and, when `[auth.ldap]` is on, the
//! directory as an external account provider.
//!
//! Accounts of `[auth.users]` are changed in the configuration only (their
//! `Allow` is `GET, HEAD`); with an accounts file (`[auth] accounts_file`)
//! an Administrator makes (`POST` of `UserName`, `Password`, `RoleId`),
//! changes (`PATCH` with `If-Match`) and deletes accounts, and any account
//! of the file changes its own `Password` (`ConfigureSelf`). Never a
//! password, hash or LDAP bind secret in a payload or an error message.

use http::{HeaderMap, StatusCode};
use opendcre_security::auth::{
    AccountChange, AccountError, AccountFlags, AuthMethod, LdapConfig, LdapGroupSource, LdapMode,
    LocalUser, LockoutConfig, LockoutPolicy, Role, Secret, Security, LOCKOUT_SECS_RANGE,
    LOCKOUT_THRESHOLD_MAX, MAX_PASSWORD_LEN, MAX_USER_NAME, MIN_PASSWORD_LEN,
};
use serde_json::{json, Value};

use opendcre_eventlog::{Event, EventLog};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::patch;
use crate::resources::{collection, head, link, with};
use crate::route::{RedfishRole, Resource, READ_ONLY, V1};
use crate::sessions::Caller;

fn accounts_uri() -> String {
    format!("{V1}/AccountService/Accounts")
}

/// Where an account is: also what a refusal of an account that must change
/// its password names.
pub fn account_uri(name: &str) -> String {
    format!("{}/{name}", accounts_uri())
}

/// `GET /redfish/v1/AccountService`, with its `@odata.etag` (the `ETag` a
/// PATCH of the lockout policy must send back). The lockout policy is
/// `[auth.lockout]`'s until an administrator sets one (threshold 0: off).
pub(crate) fn service(ldap: Option<&LdapConfig>, writable: bool, lockout: LockoutPolicy) -> Value {
    let mut v = with(
        head(&format!("{V1}/AccountService"), "AccountService"),
        json!({
            "Id": "AccountService",
            "Name": "Account Service",
            "Description": if writable {
                "Local accounts of the node's [auth.users] (changed in its configuration) and of its accounts file (made, changed and deleted here by an Administrator); the LDAP directory of [auth.ldap]."
            } else {
                "Local accounts of the node's [auth.users] (changed in its configuration; no accounts file is set); the LDAP directory of [auth.ldap]."
            },
            "ServiceEnabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            // A name that is a local account is checked here only; other
            // names go to the directory when there is one.
            "LocalAccountAuth": if ldap.is_some() { "LocalFirst" } else { "Enabled" },
            "MinPasswordLength": MIN_PASSWORD_LEN,
            "MaxPasswordLength": MAX_PASSWORD_LEN,
            "AccountLockoutThreshold": lockout.threshold,
            "AccountLockoutDuration": lockout.duration_secs,
            "AccountLockoutCounterResetAfter": lockout.reset_after_secs,
            "AccountLockoutCounterResetEnabled": lockout.counter_reset_enabled,
            "Accounts": link(&accounts_uri()),
            "Roles": link(&format!("{V1}/AccountService/Roles")),
        }),
    );
    if let Some(l) = ldap {
        v["LDAP"] = ldap_provider(l);
    }
    patch::stamp(&mut v);
    v
}

/// The account service as `caller` reads it now.
pub(crate) fn service_of(caller: &Caller) -> Value {
    let security = caller.security.as_deref();
    service(
        security.and_then(|s| s.ldap_config()),
        security.is_some_and(|s| s.accounts_writable()),
        // Without authentication there is nothing to lock: the defaults.
        security.map_or_else(|| LockoutConfig::default().policy(), |s| s.lockout_policy()),
    )
}

/// `PATCH /redfish/v1/AccountService` (an administrator's, with
/// `If-Match`): the lockout policy, `AccountLockoutThreshold` (0 to
/// 1000, 0: off), `AccountLockoutDuration` and
/// `AccountLockoutCounterResetAfter` (1 to 86400 s, the reset no longer
/// than the lock), `AccountLockoutCounterResetEnabled` (`false`: a lock
/// lasts until an administrator unlocks the account). Kept by the node, in
/// force at once, in the event log.
pub(crate) async fn patch_service(
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let security = security(caller)?;
    let current = service_of(caller);
    patch::check_if_match(headers, current["@odata.etag"].as_str().unwrap_or(""))?;
    let secs = patch::Writable::Integer(*LOCKOUT_SECS_RANGE.start(), *LOCKOUT_SECS_RANGE.end());
    let writable = [
        (
            "AccountLockoutThreshold",
            patch::Writable::Integer(0, u64::from(LOCKOUT_THRESHOLD_MAX)),
        ),
        ("AccountLockoutDuration", secs),
        ("AccountLockoutCounterResetAfter", secs),
        ("AccountLockoutCounterResetEnabled", patch::Writable::Bool),
    ];
    let mut policy = security.lockout_policy();
    let changes = patch::parse(body, &current, &writable)?;
    for (prop, x) in &changes {
        let n = x.as_u64().unwrap_or_default();
        match *prop {
            "AccountLockoutThreshold" => policy.threshold = u32::try_from(n).unwrap_or(u32::MAX),
            "AccountLockoutDuration" => policy.duration_secs = n,
            "AccountLockoutCounterResetEnabled" => {
                policy.counter_reset_enabled = x.as_bool().unwrap_or(true)
            }
            _ => policy.reset_after_secs = n,
        }
    }
    // The ranges are the writable list's; what `check` can still refuse
    // is the reset outlasting the lock.
    if policy.check().is_err() {
        return Err(bad(
            BaseMessage::PropertyValueConflict,
            &["AccountLockoutCounterResetAfter", "AccountLockoutDuration"],
        )
        .with_detail("The counter must reset no later than the lock ends: AccountLockoutCounterResetAfter is at most AccountLockoutDuration."));
    }
    security.set_lockout_policy(policy).await.map_err(|e| {
        tracing::error!("account lockout policy not changed: {e}");
        RedfishError::failure(format!("the lockout policy could not be kept: {e}"))
    })?;
    log.record(Event::lockout_policy_changed(
        &caller.user(),
        policy.threshold,
        policy.duration_secs,
        policy.reset_after_secs,
        policy.counter_reset_enabled,
    ));
    Ok(Answer::json(StatusCode::OK, &service_of(caller)))
}

/// `[auth.ldap]` as an `ExternalAccountProvider`: where the directory is,
/// where users are searched and which groups give which role. The bind
/// password is `null`, as the schema says for responses.
fn ldap_provider(l: &LdapConfig) -> Value {
    let mut auth = json!({ "AuthenticationType": "UsernameAndPassword", "Password": null });
    if let (LdapMode::Search, Some(dn)) = (l.mode, &l.bind_dn) {
        auth["Username"] = json!(dn);
    }
    let mut search = json!({ "BaseDistinguishedNames": [l.user_base] });
    if l.group_source == LdapGroupSource::MemberOf {
        search["GroupsAttribute"] = json!("memberOf");
    }
    let mapping: Vec<Value> = l
        .group_roles
        .iter()
        .map(|(group, role)| json!({ "RemoteGroup": group, "LocalRole": RedfishRole::of(*role).id() }))
        .collect();
    json!({
        "ServiceEnabled": true,
        "ServiceAddresses": [l.url],
        "Authentication": auth,
        "LDAPService": { "SearchSettings": search },
        "RemoteRoleMapping": mapping,
    })
}

pub(crate) fn account_collection(users: &[LocalUser]) -> Value {
    collection(
        &accounts_uri(),
        "ManagerAccountCollection",
        "Accounts Collection",
        users.iter().map(|u| account_uri(&u.name)).collect(),
    )
}

/// An account as a GET shows it, with its `@odata.etag` (the `ETag` a
/// PATCH must send back).
pub(crate) fn account(u: &LocalUser) -> Value {
    let role = RedfishRole::of(u.role);
    let source = if u.managed {
        "accounts file"
    } else {
        "[auth.users] of the configuration"
    };
    let mut v = with(
        head(&account_uri(&u.name), "ManagerAccount"),
        json!({
            "Id": u.name,
            "Name": "User Account",
            "Description": format!("Local account (node role {}, from the {source}).", u.role),
            "UserName": u.name,
            "RoleId": role.id(),
            "Enabled": u.enabled,
            "Locked": u.locked,
            "Password": null,
            "PasswordChangeRequired": u.password_change_required,
            "AccountTypes": ["Redfish"],
            "Links": { "Role": link(&role.uri()) },
        }),
    );
    patch::stamp(&mut v);
    v
}

/// The `Allow` of the account collection or an account as they are now,
/// narrower than the route table's: read-only without an accounts file,
/// and for an account of the configuration, which takes a `PATCH` (of
/// `Locked` only) when accounts can be locked. `None`: the route table's.
pub(crate) fn allow(resource: &Resource, security: Option<&Security>) -> Option<&'static str> {
    match resource {
        Resource::AccountService if !security.is_some_and(|s| s.lockout_writable()) => {
            Some(READ_ONLY)
        }
        Resource::AccountCollection if !security.is_some_and(|s| s.accounts_writable()) => {
            Some(READ_ONLY)
        }
        Resource::Account(name) => {
            let user = security.and_then(|s| find(s, name));
            match user {
                Some(u) if !u.managed && lockout_on(security) => Some("GET, HEAD, PATCH"),
                Some(u) if !u.managed => Some(READ_ONLY),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Why [`allow`] narrowed `resource`, for the `405`'s message: an account
/// of the configuration, or no file to keep changes in.
pub(crate) fn why_read_only(resource: &Resource, security: Option<&Security>) -> Option<String> {
    allow(resource, security)?;
    let Some(_) = security else {
        return Some("Authentication is off on this node: it has no accounts to change.".into());
    };
    Some(match resource {
        Resource::Account(name) => format!(
            "{name} is an account of the node's configuration ([auth.users]): it is changed there, \
             not through Redfish (accounts made through Redfish are kept in [auth] accounts_file)."
        ),
        Resource::AccountCollection => {
            "Accounts are made through Redfish only with [auth] accounts_file configured.".into()
        }
        Resource::AccountService => {
            "The lockout policy is changed through Redfish only with [auth.lockout] settings_file configured.".into()
        }
        _ => return None,
    })
}

fn lockout_on(security: Option<&Security>) -> bool {
    security.is_some_and(|s| s.lockout_policy().is_on())
}

fn find(security: &Security, name: &str) -> Option<LocalUser> {
    security.local_users().into_iter().find(|u| u.name == name)
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// An account change the store refused, as the client sees it.
fn refused(e: AccountError, path: &str) -> RedfishError {
    match e {
        AccountError::Missing(_) => RedfishError::missing(path),
        AccountError::Off | AccountError::Configured(_) => RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        )
        .with_detail(e.to_string()),
        AccountError::Exists(name) => RedfishError::new(
            StatusCode::CONFLICT,
            BaseMessage::ResourceAlreadyExists,
            &["ManagerAccount", "UserName", &name],
        ),
        AccountError::BadName(why) => {
            bad(BaseMessage::PropertyValueError, &["UserName"]).with_detail(why)
        }
        AccountError::BadPassword => {
            bad(BaseMessage::PropertyValueError, &["Password"]).with_detail(e.to_string())
        }
        AccountError::Full => {
            bad(BaseMessage::CreateLimitReachedForResource, &[]).with_detail(e.to_string())
        }
        AccountError::Store(why) => {
            tracing::warn!(error = %why, "account change not kept");
            RedfishError::failure(format!("The accounts file could not be written: {why}"))
        }
    }
}

/// A password as a PATCH or POST carries it: text, checked for length
/// here so the error never quotes it.
fn password(x: &Value) -> Result<Secret, RedfishError> {
    let Value::String(p) = x else {
        return Err(bad(BaseMessage::PropertyValueError, &["Password"])
            .with_detail("Password is a string."));
    };
    Ok(Secret::new(p.clone()))
}

fn role_id(x: &Value) -> Result<Role, RedfishError> {
    x.as_str()
        .and_then(RedfishRole::parse)
        .map(RedfishRole::node_role)
        .ok_or_else(|| {
            bad(
                BaseMessage::PropertyValueNotInList,
                &[&crate::answer::shown(x), "RoleId"],
            )
        })
}

fn security(caller: &Caller) -> Result<&Security, RedfishError> {
    caller.security.as_deref().ok_or_else(|| {
        RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        )
        .with_detail("Authentication is off on this node: there are no accounts.")
    })
}

/// `POST …/Accounts`: `UserName`, `Password` and `RoleId` required
/// (DSP0268 `RequiredOnCreate`), `Enabled` and `PasswordChangeRequired`
/// optional, a client's `Id` ignored; 201 with the account
/// and its `Location`. Recorded in the event log.
pub(crate) async fn create(
    caller: &Caller,
    body: &[u8],
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let security = security(caller)?;
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(m) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let (mut name, mut pw, mut role) = (None, None, None);
    let mut flags = AccountFlags::default();
    let boolean = |x: &Value, prop: &str| {
        x.as_bool().ok_or_else(|| {
            bad(
                BaseMessage::PropertyValueTypeError,
                &[&crate::answer::shown(x), prop],
            )
        })
    };
    for (k, x) in &m {
        match k.as_str() {
            "UserName" => match x {
                Value::String(n) => name = Some(n.clone()),
                _ => {
                    return Err(bad(
                        BaseMessage::PropertyValueTypeError,
                        &[&crate::answer::shown(x), "UserName"],
                    ))
                }
            },
            "Password" => pw = Some(password(x)?),
            "RoleId" => role = Some(role_id(x)?),
            "Enabled" => flags.enabled = boolean(x, "Enabled")?,
            // A temporary password the account's owner must replace before
            // anything else (DSP0266 "Password change required handling").
            "PasswordChangeRequired" => {
                flags.password_change_required = boolean(x, "PasswordChangeRequired")?
            }
            "AccountTypes" if *x == json!(["Redfish"]) => {}
            // The service names its members: an account's `Id` is its
            // `UserName`. A client's `Id` (Ansible's `AddUser` sends the
            // slot number BMCs with fixed slots use) is ignored, as
            // DSP0266 lets a service ignore the properties it controls;
            // `Location` says where the account is.
            "Id" if x.is_string() => {}
            "AccountTypes" | "Locked" | "Id" | "Name" | "Description" | "Links" => {
                return Err(bad(BaseMessage::PropertyNotWritable, &[k]))
            }
            _ if k.starts_with("@odata.") => {}
            _ => {
                let shown: String = k.chars().take(64).collect();
                return Err(bad(BaseMessage::PropertyUnknown, &[&shown]));
            }
        }
    }
    let missing = |p: &str| bad(BaseMessage::CreateFailedMissingReqProperties, &[p]);
    let name = name.ok_or_else(|| missing("UserName"))?;
    let pw = pw.ok_or_else(|| missing("Password"))?;
    let role = role.ok_or_else(|| missing("RoleId"))?;
    let made = security
        .create_account(&name, &pw, role, flags)
        .await
        .map_err(|e| refused(e, &accounts_uri()))?;
    tracing::info!(account = %made.name, role = %made.role, by = %caller.user(), "account created");
    log.record(Event::account_created(
        &caller.user(),
        &made.name,
        RedfishRole::of(made.role).id(),
    ));
    let body = account(&made);
    let mut a = Answer::json(StatusCode::CREATED, &body);
    if let Ok(loc) = http::HeaderValue::from_str(&account_uri(&made.name)) {
        a.headers.insert(http::header::LOCATION, loc);
    }
    Ok(a)
}

/// `PATCH …/Accounts/{name}` with `If-Match`: an Administrator changes
/// `UserName`, `Password`, `RoleId`, `Enabled` and
/// `PasswordChangeRequired`; an account itself only its `Password` (which
/// ends a required change); anyone else is refused (403). The account's
/// sessions end; the change is recorded in the event log. A renamed
/// account's URI is its new name (the answer's `@odata.id`, and
/// `Location`): the old URI is gone, as the old name is.
pub(crate) async fn patch(
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let security = security(caller)?;
    let user = find(security, name).ok_or_else(|| RedfishError::missing(path))?;
    let current = account(&user);
    // An administrator who must change its own password first is, until
    // then, only an account changing its password.
    let admin = caller
        .principal
        .as_ref()
        .is_some_and(|p| p.role == Role::Admin && !p.password_change_required);
    // A session named after a local account is that account's: a name that
    // is a local account never logs in through LDAP, and making an account
    // ends the directory's sessions of its name.
    let own = caller.principal.as_ref().is_some_and(|p| {
        p.name == name && matches!(p.method, AuthMethod::Local | AuthMethod::Session)
    });
    if !admin && !own {
        return Err(RedfishError::new(
            StatusCode::FORBIDDEN,
            BaseMessage::InsufficientPrivilege,
            &[],
        ));
    }
    patch::check_if_match(headers, current["@odata.etag"].as_str().unwrap_or(""))?;
    let writable: &[(&str, patch::Writable)] = if !user.managed {
        // Changed in the configuration; only a lock is the service's.
        if !admin {
            return Err(refused(AccountError::Configured(user.name), path));
        }
        &[("Locked", patch::Writable::Bool)]
    } else if admin {
        &[
            ("UserName", patch::Writable::Text(MAX_USER_NAME)),
            ("Password", patch::Writable::Secret),
            (
                "RoleId",
                patch::Writable::OneOf(&["Administrator", "Operator", "ReadOnly"]),
            ),
            ("Enabled", patch::Writable::Bool),
            ("PasswordChangeRequired", patch::Writable::Bool),
            // `false` unlocks an account locked after failed logins.
            ("Locked", patch::Writable::Bool),
        ]
    } else {
        &[("Password", patch::Writable::Secret)]
    };
    let mut change = AccountChange::default();
    let mut what = Vec::new();
    let mut unlock = false;
    for (prop, x) in patch::parse(body, &current, writable)? {
        match prop {
            "UserName" => {
                // The name it has already: no change.
                let new = x.as_str().unwrap_or_default();
                if new != name {
                    change.name = Some(new.to_string());
                    what.push(format!("UserName {new} (was {name})"));
                }
            }
            "Password" => {
                change.password = Some(password(&x)?);
                what.push("password".to_string());
            }
            "RoleId" => {
                change.role = Some(role_id(&x)?);
                what.push(format!("RoleId {}", crate::answer::shown(&x)));
            }
            "Locked" if x == Value::Bool(true) => {
                return Err(
                    bad(BaseMessage::PropertyValueNotInList, &["true", "Locked"]).with_detail(
                        "An account is locked only by the service; Locked takes false (unlock).",
                    ),
                );
            }
            "Locked" => unlock = true,
            "PasswordChangeRequired" => {
                change.password_change_required = x.as_bool();
                what.push(format!("PasswordChangeRequired {x}"));
            }
            _ => {
                change.enabled = x.as_bool();
                what.push(format!("Enabled {x}"));
            }
        }
    }
    // Unlocking ends no session: the account's password is what it was.
    let unlocked = unlock && security.unlock_account(name).await;
    if unlocked {
        tracing::info!(account = %name, by = %caller.user(), "account unlocked");
    }
    if what.is_empty() {
        // `Locked: false` alone: an unlock, or nothing at all.
        if unlocked {
            log.record(Event::account_changed(
                &caller.user(),
                name,
                "Locked false (unlocked)",
            ));
        }
        let now = find(security, name).ok_or_else(|| RedfishError::missing(path))?;
        return Ok(Answer::json(StatusCode::OK, &account(&now)));
    }
    if unlocked {
        what.push("Locked false (unlocked)".to_string());
    }
    let changed = security
        .update_account(name, change)
        .await
        .map_err(|e| refused(e, path))?;
    tracing::info!(account = %changed.name, role = %changed.role, enabled = changed.enabled, by = %caller.user(), "account changed");
    log.record(Event::account_changed(
        &caller.user(),
        &changed.name,
        &what.join(", "),
    ));
    let mut a = Answer::json(StatusCode::OK, &account(&changed));
    if changed.name != name {
        if let Ok(loc) = http::HeaderValue::from_str(&account_uri(&changed.name)) {
            a.headers.insert(http::header::LOCATION, loc);
        }
    }
    Ok(a)
}

/// `DELETE …/Accounts/{name}` (an Administrator, the route says): gone
/// from the accounts file, its sessions ended, recorded in the event log.
pub(crate) async fn delete(
    caller: &Caller,
    name: &str,
    path: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    security(caller)?
        .delete_account(name)
        .await
        .map_err(|e| refused(e, path))?;
    tracing::info!(account = %name, by = %caller.user(), "account deleted");
    log.record(Event::account_deleted(&caller.user(), name));
    Ok(Answer::no_content())
}

pub(crate) fn role_collection() -> Value {
    collection(
        &format!("{V1}/AccountService/Roles"),
        "RoleCollection",
        "Roles Collection",
        RedfishRole::ALL.iter().map(|r| r.uri()).collect(),
    )
}

/// The DSP8011 standard roles and their privileges, as `route.rs` enforces
/// them: Operator may reset systems and update firmware
/// (`ConfigureComponents`), not restart the node or change its certificate
/// (`ConfigureManager`); ReadOnly may only read.
pub(crate) fn role(r: RedfishRole) -> Value {
    let privileges: &[&str] = match r {
        RedfishRole::Administrator => &[
            "Login",
            "ConfigureManager",
            "ConfigureUsers",
            "ConfigureSelf",
            "ConfigureComponents",
        ],
        RedfishRole::Operator => &["Login", "ConfigureSelf", "ConfigureComponents"],
        RedfishRole::ReadOnly => &["Login", "ConfigureSelf"],
    };
    with(
        head(&r.uri(), "Role"),
        json!({
            "Id": r.id(),
            "Name": format!("{} Role", r.id()),
            "RoleId": r.id(),
            "IsPredefined": true,
            "AssignedPrivileges": privileges,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_security::auth::Role;

    #[test]
    fn accounts_show_no_secret_and_map_roles() {
        let u = LocalUser {
            name: "ops".into(),
            role: Role::Operator,
            enabled: true,
            managed: false,
            password_change_required: false,
            locked: false,
        };
        let a = account(&u);
        assert_eq!(a["RoleId"], "Operator");
        assert_eq!(a["Password"], Value::Null);
        assert_eq!(a["@odata.id"], "/redfish/v1/AccountService/Accounts/ops");
        assert_eq!(a["@odata.etag"], patch::etag_of(&a).as_str());
        let r = account(&LocalUser {
            name: "v".into(),
            role: Role::Admin,
            enabled: false,
            managed: true,
            password_change_required: true,
            locked: false,
        });
        assert_eq!(r["RoleId"], "Administrator");
        assert_eq!(r["PasswordChangeRequired"], true);
        assert_eq!(r["Enabled"], false);
        assert_eq!(
            r["Links"]["Role"]["@odata.id"],
            RedfishRole::Administrator.uri()
        );
        assert_eq!(account_collection(&[u])["Members@odata.count"], 1);
    }

    #[test]
    fn ldap_shows_where_not_secrets() {
        let mut l = LdapConfig {
            url: "ldaps://dir.example:636".into(),
            bind_dn: Some("cn=svc,dc=example".into()),
            bind_password: Some("hunter2".into()),
            user_base: "ou=people,dc=example".into(),
            ..LdapConfig::default()
        };
        l.group_roles.insert("rack-ops".into(), Role::Operator);
        let v = service(Some(&l), true, LockoutConfig::default().policy());
        let text = v.to_string();
        assert!(!text.contains("hunter2"));
        assert_eq!(v["LocalAccountAuth"], "LocalFirst");
        assert_eq!(v["LDAP"]["ServiceAddresses"][0], "ldaps://dir.example:636");
        assert_eq!(v["LDAP"]["Authentication"]["Username"], "cn=svc,dc=example");
        assert_eq!(v["LDAP"]["RemoteRoleMapping"][0]["LocalRole"], "Operator");
        assert_eq!(
            service(None, false, LockoutConfig::default().policy())["LocalAccountAuth"],
            "Enabled"
        );
        assert!(service(None, false, LockoutConfig::default().policy())
            .get("LDAP")
            .is_none());
    }

    #[test]
    fn roles_have_standard_privileges() {
        assert_eq!(role_collection()["Members@odata.count"], 3);
        let ro = role(RedfishRole::ReadOnly);
        assert_eq!(ro["AssignedPrivileges"], json!(["Login", "ConfigureSelf"]));
        assert!(role(RedfishRole::Operator)["AssignedPrivileges"]
            .as_array()
            .unwrap()
            .contains(&json!("ConfigureComponents")));
    }
}
