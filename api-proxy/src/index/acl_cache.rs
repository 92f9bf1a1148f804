//! A short-lived cache of container ACLs, so that authorizing an object
//! request costs no database round trip. Swift caches container info the same
//! way (`recheck_container_existence`, 60 s).
//!
//! Only existing containers are cached, and every change made through this
//! process removes the entry, so one proxy always sees its own changes at
//! once; other proxies see them within the TTL. A generation counter keeps a
//! lookup that raced with a change from caching what it read before it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::ContainerAcl;

/// Above this many entries, expired ones are dropped on insert.
const SWEEP_THRESHOLD: usize = 10_000;

pub struct AclCache {
    ttl: Duration,
    /// `<account>/<container>` (account names have no `/`) → ACL and expiry.
    entries: Mutex<HashMap<String, (ContainerAcl, Instant)>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

fn key(account: &str, container: &str) -> String {
    format!("{account}/{container}")
}

impl AclCache {
    /// A zero `ttl` disables caching.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    pub fn get(&self, account: &str, container: &str) -> Option<ContainerAcl> {
        let entries = self.entries.lock().expect("ACL cache lock poisoned");
        entries
            .get(&key(account, container))
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(acl, _)| acl.clone())
    }

    /// Call before reading an ACL from the database; pass it to [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `acl`, read after [`Self::generation`] returned `read_at`,
    /// unless a change happened since.
    pub fn insert(&self, account: &str, container: &str, acl: &ContainerAcl, read_at: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("ACL cache lock poisoned");
        // Checked under the lock that `invalidate` takes before bumping it.
        if self.generation.load(Ordering::Acquire) != read_at {
            return;
        }
        let now = Instant::now();
        if entries.len() >= SWEEP_THRESHOLD {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        entries.insert(key(account, container), (acl.clone(), now + self.ttl));
    }

    /// Forgets the container's ACL; call on every change to the container.
    pub fn invalidate(&self, account: &str, container: &str) {
        let mut entries = self.entries.lock().expect("ACL cache lock poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(&key(account, container));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(read: &str) -> ContainerAcl {
        ContainerAcl {
            read: Some(read.into()),
            write: None,
        }
    }

    #[test]
    fn cached_until_changed_and_stale_reads_are_not_cached() {
        let cache = AclCache::new(Duration::from_secs(60));
        let read_at = cache.generation();
        cache.insert("AUTH_a", "c", &acl(".r:*"), read_at);
        assert_eq!(cache.get("AUTH_a", "c"), Some(acl(".r:*")));
        assert_eq!(cache.get("AUTH_a", "other"), None);

        // A lookup that started before a change must not cache its answer.
        let before_change = cache.generation();
        cache.invalidate("AUTH_a", "c");
        assert_eq!(cache.get("AUTH_a", "c"), None);
        cache.insert("AUTH_a", "c", &acl(".r:*"), before_change);
        assert_eq!(cache.get("AUTH_a", "c"), None);
    }

    #[test]
    fn entries_expire_and_zero_disables() {
        let expiring = AclCache::new(Duration::from_millis(1));
        expiring.insert("AUTH_a", "c", &acl("x"), expiring.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(expiring.get("AUTH_a", "c"), None);

        let disabled = AclCache::new(Duration::ZERO);
        disabled.insert("AUTH_a", "c", &acl("x"), disabled.generation());
        assert_eq!(disabled.get("AUTH_a", "c"), None);
    }
}
