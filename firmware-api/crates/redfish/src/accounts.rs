//! `AccountService`: the node's local accounts (`[auth.users]`) as
//! `ManagerAccount`s, the three standard roles of DSP8011 and, when
//! `[auth.ldap]` is on, the directory as an external account provider.
//! Read-only: accounts are configured in `security.toml`, so a PATCH or
//! POST is a 405 with `Allow` (the route table says so). Never a password,
//! hash or LDAP bind secret in a payload.

use opendcre_security::auth::{
    LdapConfig, LdapGroupSource, LdapMode, LocalUser, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};
use serde_json::{json, Value};

use crate::resources::{collection, head, link, with};
use crate::route::{RedfishRole, V1};

fn accounts_uri() -> String {
    format!("{V1}/AccountService/Accounts")
}

pub(crate) fn account_uri(name: &str) -> String {
    format!("{}/{name}", accounts_uri())
}

/// `GET /redfish/v1/AccountService`.
pub(crate) fn service(ldap: Option<&LdapConfig>) -> Value {
    let mut v = with(
        head(&format!("{V1}/AccountService"), "AccountService"),
        json!({
            "Id": "AccountService",
            "Name": "Account Service",
            "Description": "Local accounts from the node's [auth.users] (read-only here) and the LDAP directory of [auth.ldap].",
            "ServiceEnabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            // A name that is a local account is checked here only; other
            // names go to the directory when there is one.
            "LocalAccountAuth": if ldap.is_some() { "LocalFirst" } else { "Enabled" },
            "MinPasswordLength": MIN_PASSWORD_LEN,
            "MaxPasswordLength": MAX_PASSWORD_LEN,
            "Accounts": link(&accounts_uri()),
            "Roles": link(&format!("{V1}/AccountService/Roles")),
        }),
    );
    if let Some(l) = ldap {
        v["LDAP"] = ldap_provider(l);
    }
    v
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

pub(crate) fn account(u: &LocalUser) -> Value {
    let role = RedfishRole::of(u.role);
    with(
        head(&account_uri(&u.name), "ManagerAccount"),
        json!({
            "Id": u.name,
            "Name": "User Account",
            "Description": format!("Local account (node role {}).", u.role),
            "UserName": u.name,
            "RoleId": role.id(),
            "Enabled": true,
            "Locked": false,
            "Password": null,
            "AccountTypes": ["Redfish"],
            "Links": { "Role": link(&role.uri()) },
        }),
    )
}

pub(crate) fn role_collection() -> Value {
    collection(
        &format!("{V1}/AccountService/Roles"),
        "RoleCollection",
        "Roles Collection",
        RedfishRole::ALL.iter().map(|r| r.uri()).collect(),
    )
}

/// The DSP8011 standard roles and their privileges. Operator may reset
/// systems (`ConfigureComponents`); ReadOnly may only read.
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
        };
        let a = account(&u);
        assert_eq!(a["RoleId"], "Operator");
        assert_eq!(a["Password"], Value::Null);
        assert_eq!(a["@odata.id"], "/redfish/v1/AccountService/Accounts/ops");
        let r = account(&LocalUser {
            name: "v".into(),
            role: Role::Reader,
        });
        assert_eq!(r["Links"]["Role"]["@odata.id"], RedfishRole::ReadOnly.uri());
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
        let v = service(Some(&l));
        let text = v.to_string();
        assert!(!text.contains("hunter2"));
        assert_eq!(v["LocalAccountAuth"], "LocalFirst");
        assert_eq!(v["LDAP"]["ServiceAddresses"][0], "ldaps://dir.example:636");
        assert_eq!(v["LDAP"]["Authentication"]["Username"], "cn=svc,dc=example");
        assert_eq!(v["LDAP"]["RemoteRoleMapping"][0]["LocalRole"], "Operator");
        assert_eq!(service(None)["LocalAccountAuth"], "Enabled");
        assert!(service(None).get("LDAP").is_none());
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
