//! LDAP / Active Directory authentication for HTTP Basic credentials.
//!
//! `search` mode: bind with the service account (or anonymously), find the
//! single entry matching `user_filter`, read its groups, then bind as that
//! entry's DN with the presented password. `direct` mode: bind with the name
//! from `bind_template` (Active Directory's `user@domain` UPN, or a DN), then
//! read the user's own entry for its groups. Every network step runs
//! under `timeout_ms`, and the whole exchange under a bound of a few of them.
//! A successful result is cached for `cache_ttl_secs` (default 60 s), keyed
//! by the SHA-256 of login and password, so a password change or a removed
//! account takes effect within that time.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{
    dn_escape, ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry,
};
use sha2::{Digest, Sha256};

use super::cache::TtlCache;
use super::config::{LdapConfig, LdapGroupSource, LdapMode};
use super::credentials::Secret;
use super::fetch::client_config;
use super::role::Role;
use super::SecurityConfigError;
use crate::tls::load_roots;

/// LDAP result code for wrong DN/password.
const INVALID_CREDENTIALS: u32 = 49;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapAuthError {
    /// Unknown user, wrong password, ambiguous login: all look the same to
    /// the client so accounts cannot be probed.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// The directory could not be asked (down, timeout, TLS, bad service
    /// account); the detail goes to the log, not to the client.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

/// A user the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapIdentity {
    /// The login as the directory stores it: the value of the attribute
    /// `user_filter` matches on (`uid`, `sAMAccountName`, ...) in the
    /// entry found, else the entry's DN. Not the typed login: `ALICE` and
    /// ` alice ` both find `uid=alice` and must be logged as `alice`.
    pub name: String,
    pub dn: String,
    pub groups: Vec<String>,
    pub role: Option<Role>,
}

pub struct LdapAuthenticator {
    cfg: LdapConfig,
    service_password: Option<Secret>,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    cache: TtlCache<[u8; 32], LdapIdentity>,
    group_roles: Vec<(String, Role)>,
    /// The attribute `user_filter` compares with `{user}`, read back from
    /// the entry for [`LdapIdentity::name`].
    login_attribute: Option<String>,
}

impl LdapAuthenticator {
    pub fn new(cfg: &LdapConfig) -> Result<LdapAuthenticator, SecurityConfigError> {
        let invalid = |key: &str, reason: String| SecurityConfigError::Invalid {
            key: format!("auth.ldap.{key}"),
            reason,
        };
        let url_lower = cfg.url.to_ascii_lowercase();
        let ldaps = url_lower.starts_with("ldaps://");
        if !ldaps && !url_lower.starts_with("ldap://") {
            return Err(invalid("url", "must start with ldap:// or ldaps://".into()));
        }
        if ldaps && cfg.starttls {
            return Err(invalid(
                "starttls",
                "StartTLS makes no sense on ldaps://".into(),
            ));
        }
        let template = cfg.bind_template.as_deref().unwrap_or("");
        if cfg.mode == LdapMode::Direct && !template.contains("{user}") {
            return Err(invalid(
                "bind_template",
                "required in direct mode, with {user} in it".into(),
            ));
        }
        if cfg.user_base.is_empty() {
            return Err(invalid("user_base", "required".into()));
        }
        if !cfg.user_filter.contains("{user}") {
            return Err(invalid("user_filter", "must contain {user}".into()));
        }
        if cfg.group_source == LdapGroupSource::Search && cfg.group_base.is_empty() {
            return Err(invalid(
                "group_base",
                "required with group_source = \"search\"".into(),
            ));
        }
        let service_password = match (&cfg.bind_password_file, &cfg.bind_password) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    invalid("bind_password_file", format!("{}: {e}", path.display()))
                })?;
                Some(Secret::new(text.lines().next().unwrap_or("").to_string()))
            }
            (None, Some(p)) => Some(Secret::new(p.clone())),
            (None, None) => None,
        };
        if cfg.bind_dn.is_some()
            && service_password
                .as_ref()
                .is_none_or(|p| p.expose().is_empty())
        {
            return Err(invalid(
                "bind_password",
                "bind_dn needs a non-empty password".into(),
            ));
        }
        let tls = if ldaps || cfg.starttls {
            let roots = match &cfg.ca_file {
                Some(p) => load_roots(p).map_err(|e| invalid("ca_file", e.to_string()))?,
                None => {
                    let mut roots = rustls::RootCertStore::empty();
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                    roots
                }
            };
            Some(Arc::new(client_config(roots)?))
        } else {
            None
        };
        let group_roles = cfg
            .group_roles
            .iter()
            .map(|(k, r)| (k.to_lowercase(), *r))
            .collect();
        Ok(LdapAuthenticator {
            cfg: cfg.clone(),
            service_password,
            tls,
            timeout: Duration::from_millis(cfg.timeout_ms.max(1)),
            cache: TtlCache::new(Duration::from_secs(cfg.cache_ttl_secs), 1024),
            group_roles,
            login_attribute: login_attribute(&cfg.user_filter),
        })
    }

    pub async fn authenticate(
        &self,
        user: &str,
        password: &Secret,
    ) -> Result<LdapIdentity, LdapAuthError> {
        // An empty password would be an "unauthenticated bind", which many
        // servers answer with success.
        if user.is_empty()
            || password.expose().is_empty()
            || user.len() > 256
            || user.chars().any(char::is_control)
        {
            return Err(LdapAuthError::InvalidCredentials);
        }
        let key = cache_key(user, password);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        // Connect, up to three operations and an unbind.
        let overall = self.timeout * 6;
        let id = match tokio::time::timeout(overall, self.exchange(user, password)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(LdapAuthError::Unavailable(format!(
                    "no answer within {overall:?}"
                )))
            }
        };
        self.cache.insert(key, id.clone());
        Ok(id)
    }

    async fn exchange(&self, user: &str, password: &Secret) -> Result<LdapIdentity, LdapAuthError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.cfg.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.cfg.url)
            .await
            .map_err(unavailable)?;
        ldap3::drive!(conn);
        let result = match self.cfg.mode {
            LdapMode::Search => self.search_mode(&mut ldap, user, password).await,
            LdapMode::Direct => self.direct_mode(&mut ldap, user, password).await,
        };
        let _ = ldap.with_timeout(self.timeout).unbind().await;
        result
    }

    async fn search_mode(
        &self,
        ldap: &mut Ldap,
        user: &str,
        password: &Secret,
    ) -> Result<LdapIdentity, LdapAuthError> {
        if let (Some(dn), Some(pw)) = (&self.cfg.bind_dn, &self.service_password) {
            let res = ldap
                .with_timeout(self.timeout)
                .simple_bind(dn, pw.expose())
                .await
                .map_err(unavailable)?;
            if res.rc != 0 {
                return Err(LdapAuthError::Unavailable(format!(
                    "service account bind failed (rc {}): {}",
                    res.rc, res.text
                )));
            }
        }
        let filter = self.cfg.user_filter.replace("{user}", &ldap_escape(user));
        let entry = self.find_one(ldap, &self.cfg.user_base, &filter).await?;
        let groups = self.groups_of(ldap, &entry, user).await?;
        let res = ldap
            .with_timeout(self.timeout)
            .simple_bind(&entry.dn, password.expose())
            .await
            .map_err(unavailable)?;
        match res.rc {
            0 => Ok(self.identity(&entry, groups)),
            INVALID_CREDENTIALS => Err(LdapAuthError::InvalidCredentials),
            rc => Err(LdapAuthError::Unavailable(format!(
                "user bind: rc {rc}: {}",
                res.text
            ))),
        }
    }

    async fn direct_mode(
        &self,
        ldap: &mut Ldap,
        user: &str,
        password: &Secret,
    ) -> Result<LdapIdentity, LdapAuthError> {
        let template = self.cfg.bind_template.as_deref().unwrap_or("{user}");
        let bind_name = if template.contains('=') {
            template.replace("{user}", &dn_escape(user))
        } else {
            template.replace("{user}", user)
        };
        let res = ldap
            .with_timeout(self.timeout)
            .simple_bind(&bind_name, password.expose())
            .await
            .map_err(unavailable)?;
        match res.rc {
            0 => {}
            // 34 invalidDNSyntax: a login that makes no valid bind name.
            INVALID_CREDENTIALS | 34 => return Err(LdapAuthError::InvalidCredentials),
            rc => {
                return Err(LdapAuthError::Unavailable(format!(
                    "user bind: rc {rc}: {}",
                    res.text
                )))
            }
        }
        let filter = self.cfg.user_filter.replace("{user}", &ldap_escape(user));
        let entry = self.find_one(ldap, &self.cfg.user_base, &filter).await?;
        let groups = self.groups_of(ldap, &entry, user).await?;
        Ok(self.identity(&entry, groups))
    }

    /// Exactly one entry or `InvalidCredentials`: an unknown or ambiguous
    /// login must not be distinguishable from a wrong password.
    async fn find_one(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
    ) -> Result<SearchEntry, LdapAuthError> {
        let mut attrs = vec!["memberOf"];
        if let Some(a) = &self.login_attribute {
            attrs.push(a.as_str());
        }
        let res = ldap
            .with_search_options(ldap3::SearchOptions::new().sizelimit(2))
            .with_timeout(self.timeout)
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(unavailable)?;
        let (entries, result) = (res.0, res.1);
        // 4 = sizeLimitExceeded: more than one match.
        if result.rc != 0 && result.rc != 4 {
            return Err(LdapAuthError::Unavailable(format!(
                "user search: rc {}: {}",
                result.rc, result.text
            )));
        }
        if entries.len() != 1 {
            return Err(LdapAuthError::InvalidCredentials);
        }
        let raw = entries
            .into_iter()
            .next()
            .ok_or(LdapAuthError::InvalidCredentials)?;
        construct(raw)
    }

    async fn groups_of(
        &self,
        ldap: &mut Ldap,
        entry: &SearchEntry,
        user: &str,
    ) -> Result<Vec<String>, LdapAuthError> {
        match self.cfg.group_source {
            LdapGroupSource::MemberOf => Ok(attr_values(entry, "memberOf")),
            LdapGroupSource::Search => {
                let filter = self
                    .cfg
                    .group_filter
                    .replace("{dn}", &ldap_escape(entry.dn.as_str()))
                    .replace("{user}", &ldap_escape(user));
                let res = ldap
                    .with_search_options(ldap3::SearchOptions::new().sizelimit(1000))
                    .with_timeout(self.timeout)
                    .search(&self.cfg.group_base, Scope::Subtree, &filter, vec!["1.1"])
                    .await
                    .map_err(unavailable)?;
                if res.1.rc != 0 && res.1.rc != 4 {
                    return Err(LdapAuthError::Unavailable(format!(
                        "group search: rc {}: {}",
                        res.1.rc, res.1.text
                    )));
                }
                res.0
                    .into_iter()
                    .map(|e| construct(e).map(|e| e.dn))
                    .collect()
            }
        }
    }

    fn identity(&self, entry: &SearchEntry, groups: Vec<String>) -> LdapIdentity {
        let role = groups
            .iter()
            .filter_map(|g| self.role_for_group(g))
            .max()
            .or(self.cfg.default_role);
        let name = self
            .login_attribute
            .as_deref()
            .and_then(|a| attr_values(entry, a).into_iter().next())
            .unwrap_or_else(|| entry.dn.clone());
        LdapIdentity {
            name,
            dn: entry.dn.clone(),
            groups,
            role,
        }
    }

    /// A mapping key matches the whole group DN or its first RDN's value
    /// (the CN), both case-insensitively, as DNs are in practice.
    fn role_for_group(&self, group_dn: &str) -> Option<Role> {
        let dn = normalize_dn(group_dn);
        let cn = dn
            .split(',')
            .next()
            .and_then(|rdn| rdn.split_once('='))
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        self.group_roles
            .iter()
            .filter(|(k, _)| normalize_dn(k) == dn || *k == cn)
            .map(|(_, r)| *r)
            .max()
    }
}

/// The attribute compared with `{user}` in a filter such as
/// `(&(objectClass=person)(uid={user}))`: the name between the `(` before
/// `={user}` and the `=`.
fn login_attribute(filter: &str) -> Option<String> {
    let at = filter.find("={user}")?;
    let start = filter[..at].rfind('(')? + 1;
    let name = filter[start..at].trim();
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.');
    plain.then(|| name.to_string())
}

fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

fn attr_values(entry: &SearchEntry, name: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    entry
        .attrs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.iter().cloned())
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

/// `SearchEntry::construct` panics on malformed BER; a misbehaving server
/// must cost one failed login, not the connection task.
fn construct(raw: ldap3::ResultEntry) -> Result<SearchEntry, LdapAuthError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
        .map_err(|_| LdapAuthError::Unavailable("malformed search entry from server".into()))
}

fn unavailable(e: LdapError) -> LdapAuthError {
    LdapAuthError::Unavailable(e.to_string())
}

fn cache_key(user: &str, password: &Secret) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.to_lowercase().as_bytes());
    h.update([0u8]);
    h.update(password.expose().as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(cfg: LdapConfig) -> Result<LdapAuthenticator, SecurityConfigError> {
        LdapAuthenticator::new(&cfg)
    }

    #[test]
    fn config_checks() {
        let ok = LdapConfig {
            user_base: "ou=people,dc=example,dc=org".into(),
            group_base: "ou=groups,dc=example,dc=org".into(),
            ..LdapConfig::default()
        };
        assert!(auth(ok.clone()).is_ok());
        assert!(auth(LdapConfig {
            url: "http://x".into(),
            ..ok.clone()
        })
        .is_err());
        assert!(auth(LdapConfig {
            url: "ldaps://x".into(),
            starttls: true,
            ..ok.clone()
        })
        .is_err());
        assert!(auth(LdapConfig {
            user_filter: "(uid=*)".into(),
            ..ok.clone()
        })
        .is_err());
        assert!(auth(LdapConfig {
            mode: LdapMode::Direct,
            ..ok.clone()
        })
        .is_err());
        assert!(auth(LdapConfig {
            mode: LdapMode::Direct,
            bind_template: Some("{user}@corp.example.com".into()),
            ..ok.clone()
        })
        .is_ok());
        assert!(auth(LdapConfig {
            bind_dn: Some("cn=svc".into()),
            ..ok
        })
        .is_err());
    }

    #[test]
    fn group_mapping_by_dn_or_cn() {
        let mut cfg = LdapConfig {
            user_base: "dc=x".into(),
            group_base: "dc=x".into(),
            default_role: None,
            ..LdapConfig::default()
        };
        cfg.group_roles
            .insert("CN=Ops,OU=Groups,DC=x".into(), Role::Operator);
        cfg.group_roles.insert("monitoring".into(), Role::Reader);
        let a = auth(cfg).unwrap();
        assert_eq!(
            a.role_for_group("cn=ops, ou=groups, dc=x"),
            Some(Role::Operator)
        );
        assert_eq!(
            a.role_for_group("cn=Monitoring,ou=other,dc=x"),
            Some(Role::Reader)
        );
        assert_eq!(a.role_for_group("cn=other,dc=x"), None);
        let entry = SearchEntry {
            dn: "uid=u,dc=x".into(),
            attrs: [("uid".to_string(), vec!["u".to_string()])].into(),
            bin_attrs: Default::default(),
        };
        let id = a.identity(
            &entry,
            vec!["cn=monitoring,dc=x".into(), "cn=ops,ou=groups,dc=x".into()],
        );
        assert_eq!(id.role, Some(Role::Operator));
        assert_eq!(id.name, "u");
    }

    #[test]
    fn login_attribute_is_read_from_the_filter() {
        assert_eq!(login_attribute("(uid={user})").as_deref(), Some("uid"));
        assert_eq!(
            login_attribute("(&(objectClass=user)(sAMAccountName={user}))").as_deref(),
            Some("sAMAccountName")
        );
        assert_eq!(
            login_attribute("(|(mail={user})(uid=x))").as_deref(),
            Some("mail")
        );
        assert_eq!(login_attribute("({user})"), None);
    }

    #[tokio::test]
    async fn refuses_empty_password_without_network() {
        let a = auth(LdapConfig {
            url: "ldap://127.0.0.1:9".into(),
            user_base: "dc=x".into(),
            group_base: "dc=x".into(),
            ..LdapConfig::default()
        })
        .unwrap();
        assert_eq!(
            a.authenticate("alice", &Secret::new("")).await,
            Err(LdapAuthError::InvalidCredentials)
        );
    }
}
