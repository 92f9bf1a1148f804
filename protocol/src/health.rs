//! The body of `/readyz`, which the proxy and the metadata server answer
//! alike: 200 when every dependency answered, else 503 naming those that
//! did not. It says what is down, never why (the log does): no host names,
//! no error texts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const OK: &str = "ok";
const UNAVAILABLE: &str = "unavailable";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready`, or `unavailable` when any check failed.
    pub status: String,
    /// Each dependency checked (`database`, `broker`, `object_store`):
    /// `ok` or `unavailable`.
    pub checks: BTreeMap<String, String>,
}

impl Readiness {
    /// The answer for these checks, each a name and whether it passed.
    pub fn from_checks<'a>(checks: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        let checks: BTreeMap<String, String> = checks
            .into_iter()
            .map(|(name, up)| {
                (
                    name.to_owned(),
                    if up { OK } else { UNAVAILABLE }.to_owned(),
                )
            })
            .collect();
        let ready = checks.values().all(|state| state == OK);
        Self {
            status: if ready { "ready" } else { UNAVAILABLE }.to_owned(),
            checks,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }

    /// The checks that failed.
    pub fn unavailable(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|(_, state)| *state != OK)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn one_failed_check_makes_the_whole_unavailable_and_is_named() {
        let readiness = Readiness::from_checks([("database", true), ("broker", false)]);
        assert!(!readiness.is_ready());
        assert_eq!(readiness.unavailable(), ["broker"]);
        assert_eq!(
            serde_json::to_value(&readiness).unwrap(),
            serde_json::json!({
                "status": "unavailable",
                "checks": {"broker": "unavailable", "database": "ok"}
            })
        );
        assert!(Readiness::from_checks([("database", true)]).is_ready());
    }
}
