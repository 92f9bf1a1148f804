//! Authorization: account owners may do anything in their account, workspace
//! members may use the workspace's container, and container ACLs
//! (`X-Container-Read`, `X-Container-Write`, Swift's V1 syntax) grant the rest.
//!
//! ACL elements: `.r:*` / `.r:<host>` / `.r:.<domain suffix>` (written
//! `.r:*.<domain>` too) / `.r:-<host>`
//! (referrer, read only), `.rlistings` (listing, together with a `.r:`),
//! and TempAuth groups: `<account>`, `<account>:<user>`, `AUTH_<account>`.
//!
//! Account ACLs ([`AccountAcl`], `X-Account-Access-Control`) are TempAuth's:
//! a JSON object whose `read-only`, `read-write` and `admin` lists name the
//! same groups; what each level allows is decided by `swift::RequestContext`.

use std::collections::BTreeMap;

use super::Identity;
use crate::index::ContainerAcl;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Account requests and container PUT/POST/DELETE: owners only.
    Manage,
    /// Container GET/HEAD.
    List,
    /// Object GET/HEAD.
    Read,
    /// Object PUT/POST/DELETE/COPY.
    Write,
}

/// Whether `identity` (or an anonymous caller coming from `referrer`) may
/// perform `access` in `account`, on `container` if the request names one.
pub fn is_allowed(
    identity: Option<&Identity>,
    account: &str,
    container: Option<(&str, Option<&ContainerAcl>)>,
    access: Access,
    referrer: Option<&str>,
) -> bool {
    let Some((container_name, info)) = container else {
        return identity.is_some_and(|id| id.owns(account));
    };
    if identity.is_some_and(|id| id.owns_container(account, container_name)) {
        return true;
    }
    if access == Access::Manage {
        return false;
    }
    if let Some(identity) = identity {
        let grant = identity.grant(account, container_name);
        if grant.is_some_and(|g| g.can_write || access != Access::Write) {
            return true;
        }
    }
    let Some(info) = info else {
        return false;
    };
    let acl = match access {
        Access::Write => info.write.as_deref(),
        _ => info.read.as_deref(),
    };
    let Some(acl) = acl else {
        return false;
    };
    let elements: Vec<&str> = acl
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if let Some(identity) = identity {
        let groups = groups(identity);
        if elements.iter().any(|e| groups.iter().any(|g| g == e)) {
            return true;
        }
    }
    if access == Access::Write {
        return false;
    }
    let referrer_ok = referrer_allowed(&elements, referrer);
    match access {
        Access::Read => referrer_ok,
        _ => referrer_ok && elements.contains(&".rlistings"),
    }
}

/// The TempAuth groups a caller belongs to, as ACLs name them.
fn groups(identity: &Identity) -> [String; 3] {
    [
        identity.account_name().to_owned(),
        format!("{}:{}", identity.account_name(), identity.user_name),
        identity.account.clone(),
    ]
}

/// What an account ACL gives a caller, weakest first (TempAuth's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountAccess {
    /// Read the account, its containers and objects (not privileged headers).
    ReadOnly,
    /// Also create, change and delete containers and objects (not
    /// privileged headers, not the account itself).
    ReadWrite,
    /// Everything the account's owners may do with the Swift API.
    Admin,
}

/// The three levels as they are spelt in the ACL, strongest first.
const ACCOUNT_ACL_LEVELS: [(&str, AccountAccess); 3] = [
    ("admin", AccountAccess::Admin),
    ("read-write", AccountAccess::ReadWrite),
    ("read-only", AccountAccess::ReadOnly),
];

/// A TempAuth account ACL (`X-Account-Access-Control`), such as
/// `{"admin":["bob:bob"],"read-only":["carol"]}`: level → groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountAcl(BTreeMap<String, Vec<String>>);

impl AccountAcl {
    /// Parses and checks the header as TempAuth does: a JSON object with no
    /// keys but the three levels, each a list of strings; an empty value is
    /// an empty ACL. The error is TempAuth's explanation.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Ok(Self::default());
        }
        let syntax_error = || format!("Syntax error in input ({raw:?})");
        let serde_json::Value::Object(object) =
            serde_json::from_str(raw).map_err(|_| syntax_error())?
        else {
            return Err(syntax_error());
        };
        if let Some(key) = object
            .keys()
            .find(|key| !ACCOUNT_ACL_LEVELS.iter().any(|(level, _)| level == key))
        {
            return Err(format!("Key {} not recognized", serde_json::json!(key)));
        }
        let mut levels = BTreeMap::new();
        for (key, value) in object {
            let serde_json::Value::Array(items) = value else {
                return Err(format!(
                    "Value for key {} must be a list",
                    serde_json::json!(key)
                ));
            };
            let groups = items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(group) => Ok(group),
                    _ => Err(format!(
                        "Elements of {} list must be strings",
                        serde_json::json!(key)
                    )),
                })
                .collect::<Result<_, _>>()?;
            levels.insert(key, groups);
        }
        Ok(Self(levels))
    }

    /// The header as Swift shows it (compact JSON, keys sorted, ASCII
    /// only), or `None` for an empty ACL.
    pub fn to_header(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let json = serde_json::to_string(&self.0).expect("strings serialize");
        let mut ascii = String::with_capacity(json.len());
        for c in json.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                let mut units = [0; 2];
                for unit in c.encode_utf16(&mut units) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        Some(ascii)
    }

    /// The strongest level the ACL gives `identity`, if any.
    pub fn access_of(&self, identity: &Identity) -> Option<AccountAccess> {
        let groups = groups(identity);
        ACCOUNT_ACL_LEVELS.iter().find_map(|(level, access)| {
            self.0
                .get(*level)
                .is_some_and(|named| named.iter().any(|n| groups.contains(n)))
                .then_some(*access)
        })
    }
}

/// Swift's `referrer_allowed`: the last matching `.r:` element decides.
fn referrer_allowed(elements: &[&str], referrer: Option<&str>) -> bool {
    let host = referrer.map(referrer_host).unwrap_or_default();
    let mut allowed = false;
    for rule in elements.iter().filter_map(|e| e.strip_prefix(".r:")) {
        let (negated, pattern) = match rule.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, rule),
        };
        let matches = pattern == "*"
            || pattern == host
            || (pattern.starts_with('.') && host.ends_with(pattern));
        if matches {
            allowed = !negated;
        }
    }
    allowed
}

fn referrer_host(referrer: &str) -> &str {
    let after_scheme = referrer
        .split_once("://")
        .map_or(referrer, |(_, rest)| rest);
    let authority = after_scheme.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.split(':').next().unwrap_or_default()
}

/// Normalizes an ACL header as Swift's `clean_acl` does (`.referrer:` →
/// `.r:`, `.r:*.example.com` → `.r:.example.com`, spaces stripped) and
/// rejects referrer elements in a write ACL.
pub fn normalize(raw: &str, is_read: bool) -> Result<String, String> {
    let mut elements = Vec::new();
    for element in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let referrer = element.split_once(':').and_then(|(designator, host)| {
            matches!(designator.trim(), ".r" | ".ref" | ".referer" | ".referrer")
                .then(|| host.trim())
        });
        let Some(host) = referrer.filter(|_| is_read) else {
            if element.starts_with('.') && (element != ".rlistings" || !is_read) {
                return Err(format!("Referrers not allowed in write ACL: {element:?}"));
            }
            elements.push(element.to_owned());
            continue;
        };
        let (negation, host) = match host.strip_prefix('-') {
            Some(rest) => ("-", rest.trim_start()),
            None => ("", host),
        };
        // A leading `*` only spells out the domain match (`*.example.com`
        // is every host under `.example.com`), which the matcher keys on.
        let host = match host.strip_prefix('*') {
            Some(domain) if !domain.is_empty() => domain.trim_start(),
            _ => host,
        };
        if host.is_empty() || host == "." {
            return Err(format!(
                "No host/domain value after referrer designation in ACL: {element:?}"
            ));
        }
        elements.push(format!(".r:{negation}{host}"));
    }
    Ok(elements.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::WorkspaceGrant;

    fn identity(account: &str, user: &str, admin: bool) -> Identity {
        Identity {
            user_id: uuid::Uuid::nil(),
            device_id: uuid::Uuid::nil(),
            membership_only: vec!["transferred".into()],
            user_name: user.into(),
            account: format!("AUTH_{account}"),
            account_admin: admin,
            installation_admin: false,
            workspaces: vec![WorkspaceGrant {
                account: "AUTH_bob".into(),
                container: "shared".into(),
                can_write: false,
            }],
        }
    }

    fn container(read: Option<&str>, write: Option<&str>) -> ContainerAcl {
        ContainerAcl {
            read: read.map(Into::into),
            write: write.map(Into::into),
        }
    }

    #[test]
    fn owners_manage_and_others_need_grants() {
        let alice = identity("alice", "alice", true);
        let helper = identity("alice", "helper", false);
        let info = container(None, Some("alice:helper"));
        let target = Some(("c", Some(&info)));
        assert!(is_allowed(
            Some(&alice),
            "AUTH_alice",
            None,
            Access::Manage,
            None
        ));
        assert!(!is_allowed(
            Some(&helper),
            "AUTH_alice",
            None,
            Access::Manage,
            None
        ));
        assert!(!is_allowed(
            Some(&helper),
            "AUTH_alice",
            target,
            Access::Manage,
            None
        ));
        assert!(is_allowed(
            Some(&helper),
            "AUTH_alice",
            target,
            Access::Write,
            None
        ));
        assert!(!is_allowed(
            Some(&helper),
            "AUTH_alice",
            target,
            Access::Read,
            None
        ));
        assert!(!is_allowed(None, "AUTH_alice", target, Access::Read, None));
    }

    #[test]
    fn administering_an_account_does_not_open_a_transferred_workspace() {
        let alice = identity("alice", "alice", true);
        let transferred = Some(("transferred", None));
        for access in [Access::Read, Access::Write, Access::Manage] {
            assert!(!is_allowed(
                Some(&alice),
                "AUTH_alice",
                transferred,
                access,
                None
            ));
            assert!(is_allowed(
                Some(&alice),
                "AUTH_alice",
                Some(("c", None)),
                access,
                None
            ));
        }
        let mut member = identity("alice", "alice", true);
        member.workspaces.push(WorkspaceGrant {
            account: "AUTH_alice".into(),
            container: "transferred".into(),
            can_write: false,
        });
        assert!(is_allowed(
            Some(&member),
            "AUTH_alice",
            transferred,
            Access::Read,
            None
        ));
        assert!(!is_allowed(
            Some(&member),
            "AUTH_alice",
            transferred,
            Access::Write,
            None
        ));
    }

    #[test]
    fn workspace_members_follow_their_role() {
        let alice = identity("alice", "alice", true);
        let shared = Some(("shared", None));
        assert!(is_allowed(
            Some(&alice),
            "AUTH_bob",
            shared,
            Access::Read,
            None
        ));
        assert!(is_allowed(
            Some(&alice),
            "AUTH_bob",
            shared,
            Access::List,
            None
        ));
        assert!(!is_allowed(
            Some(&alice),
            "AUTH_bob",
            shared,
            Access::Write,
            None
        ));
        assert!(!is_allowed(
            Some(&alice),
            "AUTH_bob",
            Some(("other", None)),
            Access::Read,
            None
        ));
    }

    #[test]
    fn referrer_rules_and_listings() {
        let public = container(Some(".r:*"), None);
        let listed = container(Some(".r:*,.rlistings"), None);
        let domain = container(Some(".r:.example.com,.r:-bad.example.com"), None);
        let read = |info: &ContainerAcl, access, referrer| {
            is_allowed(None, "AUTH_a", Some(("c", Some(info))), access, referrer)
        };
        assert!(read(&public, Access::Read, None));
        assert!(!read(&public, Access::List, None));
        assert!(read(&listed, Access::List, None));
        assert!(!read(&listed, Access::Write, None));
        assert!(read(
            &domain,
            Access::Read,
            Some("https://www.example.com/page")
        ));
        assert!(!read(
            &domain,
            Access::Read,
            Some("https://bad.example.com/")
        ));
        assert!(!read(&domain, Access::Read, None));
    }

    #[test]
    fn normalization_matches_swift() {
        assert_eq!(
            normalize(" .referrer:* , .rlistings ", true).unwrap(),
            ".r:*,.rlistings"
        );
        assert_eq!(normalize("a:b,c", false).unwrap(), "a:b,c");
        assert_eq!(
            normalize(".r:*.example.com, .ref : -*.bad.example.com", true).unwrap(),
            ".r:.example.com,.r:-.bad.example.com"
        );
        assert!(normalize(".r:*", false).is_err());
        assert!(normalize(".r:", true).is_err());
        assert!(normalize(".r:*.", true).is_err());
        assert!(normalize(".bogus", true).is_err());
    }

    #[test]
    fn account_acls_are_checked_and_shown_as_swift_does() {
        let acl = AccountAcl::parse(r#"{"read-only":["carol"],"admin":["bob:bob"]}"#).unwrap();
        assert_eq!(
            acl.to_header().unwrap(),
            r#"{"admin":["bob:bob"],"read-only":["carol"]}"#
        );
        assert_eq!(AccountAcl::parse("").unwrap().to_header(), None);
        assert_eq!(AccountAcl::parse("{}").unwrap().to_header(), None);
        assert_eq!(
            AccountAcl::parse(r#"{"admin":["zoë😀"]}"#)
                .unwrap()
                .to_header()
                .unwrap(),
            r#"{"admin":["zo\u00eb\ud83d\ude00"]}"#
        );
        for (raw, error) in [
            ("yuck", r#"Syntax error in input ("yuck")"#),
            ("[]", r#"Syntax error in input ("[]")"#),
            (r#"{"owner":[]}"#, r#"Key "owner" not recognized"#),
            (
                r#"{"admin":"bob"}"#,
                r#"Value for key "admin" must be a list"#,
            ),
            (
                r#"{"admin":[1]}"#,
                r#"Elements of "admin" list must be strings"#,
            ),
        ] {
            assert_eq!(AccountAcl::parse(raw).unwrap_err(), error, "{raw}");
        }
    }

    #[test]
    fn the_strongest_level_naming_a_caller_counts() {
        let bob = identity("bob", "bob", false);
        let acl = |raw: &str| AccountAcl::parse(raw).unwrap().access_of(&bob);
        assert_eq!(
            acl(r#"{"read-only":["bob:bob"]}"#),
            Some(AccountAccess::ReadOnly)
        );
        assert_eq!(
            acl(r#"{"read-only":["bob"],"read-write":["AUTH_bob"]}"#),
            Some(AccountAccess::ReadWrite)
        );
        assert_eq!(
            acl(r#"{"read-only":["bob"],"admin":["bob:bob"]}"#),
            Some(AccountAccess::Admin)
        );
        assert_eq!(acl(r#"{"admin":["bob:alice","alice","bob:"]}"#), None);
        assert_eq!(acl("{}"), None);
    }
}
