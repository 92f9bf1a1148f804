//! The request rate each device may use on one metadata server.
//!
//! A device that floods the request queue (a bug, a stolen token, a script)
//! would otherwise take every server's time from everyone else. Each device
//! has a token bucket: `burst` requests at once, refilled at `per_second`.
//! Over the limit, a request is answered `tooManyRequests` with the time to
//! wait, without touching the database again. The buckets are per server, so
//! with N servers a device gets at most N times the rate: the aim is to keep
//! one device from starving the others, not to meter exactly.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

/// Checks between two sweeps of the buckets of devices that went quiet.
const CHECKS_PER_SWEEP: u32 = 10_000;

pub struct DeviceRate {
    limiter: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl DeviceRate {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one request from the device's bucket, or says how long until
    /// the next one is allowed.
    pub fn check(&self, device_id: Uuid) -> Result<(), Duration> {
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(CHECKS_PER_SWEEP)
        {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&device_id)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: u32, burst: u32) -> DeviceRate {
        DeviceRate::new(
            NonZeroU32::new(per_second).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        )
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_the_time_to_wait() {
        let rate = rate(1, 5);
        let device = Uuid::new_v4();
        for _ in 0..5 {
            rate.check(device).unwrap();
        }
        let wait = rate.check(device).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    #[test]
    fn one_device_over_its_limit_does_not_limit_another() {
        let rate = rate(1, 2);
        let (flooding, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        while rate.check(flooding).is_ok() {}
        rate.check(quiet).unwrap();
        rate.check(quiet).unwrap();
    }
}
