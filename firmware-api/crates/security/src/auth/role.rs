//! Roles and permissions. Which route needs which permission is the API's
//! to say (`Route::permission` in the api crate), in one place.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Reading state: test, version, scan, read, asset read, power status.
    Read,
    /// Changing state: power on/off/cycle, asset write, any later write.
    Operate,
    /// Managing who may do the above and the node itself: creating,
    /// changing and deleting local accounts (Redfish `ConfigureUsers`),
    /// restarting the node and changing its HTTPS certificate
    /// (`ConfigureManager`).
    Administer,
}

/// A role granted to an authenticated principal. Ordered: a higher role
/// includes every permission of the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Operator,
    /// An operator who also manages the local accounts and the node.
    Admin,
}

impl Role {
    pub fn grants(self, needed: Permission) -> bool {
        match needed {
            Permission::Read => true,
            Permission::Operate => self >= Role::Operator,
            Permission::Administer => self == Role::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "reader" => Ok(Role::Reader),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (reader, operator, admin)")),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Operate => "operate",
            Permission::Administer => "administer",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_implies_reader() {
        assert!(Role::Operator.grants(Permission::Read));
        assert!(Role::Operator.grants(Permission::Operate));
        assert!(Role::Reader.grants(Permission::Read));
        assert!(!Role::Reader.grants(Permission::Operate));
        assert!(Role::Operator > Role::Reader);
        assert!(!Role::Operator.grants(Permission::Administer));
        assert!(Role::Admin.grants(Permission::Operate));
        assert!(Role::Admin.grants(Permission::Administer));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
    }
}
