//! Failed sign-ins per source address.
//!
//! The metadata servers slow down each user's failed logins, which stops
//! guessing one user's password but not trying one guess on each of many
//! users. Here every address gets `per_minute` failed sign-ins (answers 401
//! from TempAuth, the web sign-in form, the OAuth authorize form and the
//! OAuth handshake) as a burst, then `per_minute` a minute; past that, its
//! sign-ins are answered 429 with `Retry-After` before they reach a
//! metadata server. Successful sign-ins cost nothing, so a busy office
//! behind one address is not locked out by its own users. The address is
//! the TCP peer: behind a reverse proxy, that is the reverse proxy's.
//!
//! Public links (`/s/{token}`) count the same way, a token that opens
//! nothing (404) as a failure too, so that guessing tokens or a link's
//! password is limited per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The routes a password or an OAuth secret is tried on: method and pattern.
const SIGN_IN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/auth/v1.0"),
    ("GET", "/auth/v1/{account}/auth"),
    ("GET", "/v1.0"),
    ("POST", "/signin"),
    ("POST", "/oauth/authorize"),
    ("GET", "/oauth/request_token"),
    ("POST", "/oauth/request_token"),
    ("GET", "/oauth/access_token"),
    ("POST", "/oauth/access_token"),
];

/// The public link routes: 401 (a wrong password) and 404 (a token that
/// opens nothing) are failures.
const LINK_ROUTES: &[(&str, &str)] = &[
    ("GET", "/s/{token}"),
    ("POST", "/s/{token}"),
    ("GET", "/s/{token}/{item}"),
];

/// Failures between two sweeps of addresses that went quiet.
const FAILURES_PER_SWEEP: u32 = 1_000;

pub struct FailedSignIns {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// Addresses that used up their failures, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    failures: AtomicU32,
}

impl FailedSignIns {
    pub fn new(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
            blocked: Mutex::new(HashMap::new()),
            failures: AtomicU32::new(0),
        }
    }

    /// How long `address` has to wait before it may try again, if at all.
    pub fn wait(&self, address: IpAddr) -> Option<Duration> {
        let mut blocked = self.blocked.lock().expect("not poisoned");
        let until = *blocked.get(&address)?;
        let wait = until.checked_duration_since(Instant::now());
        if wait.is_none() {
            blocked.remove(&address);
        }
        wait
    }

    /// Counts a failed sign-in from `address`.
    pub fn failed(&self, address: IpAddr) {
        let mut blocked = self.blocked.lock().expect("not poisoned");
        if self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(FAILURES_PER_SWEEP)
        {
            self.limiter.retain_recent();
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        if let Err(not_until) = self.limiter.check_key(&address) {
            let wait = not_until.wait_time_from(self.clock.now());
            blocked.insert(address, Instant::now() + wait);
        }
    }
}

/// The statuses that count as failures on the request's route, if it is
/// limited at all.
fn failure_statuses(request: &ServiceRequest) -> Option<&'static [StatusCode]> {
    let pattern = request.match_pattern()?;
    let method = request.method().as_str();
    let listed = |routes: &[(&str, &str)]| routes.iter().any(|&(m, p)| m == method && p == pattern);
    if listed(SIGN_IN_ROUTES) {
        Some(&[StatusCode::UNAUTHORIZED])
    } else if listed(LINK_ROUTES) {
        Some(&[StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND])
    } else {
        None
    }
}

/// Middleware: refuses sign-ins from an address over its failures, and
/// counts the failures of the others.
pub async fn limit_failed_sign_ins<B: MessageBody>(
    rate: &FailedSignIns,
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let (Some(address), Some(failures)) = (
        request.peer_addr().map(|peer| peer.ip()),
        failure_statuses(&request),
    ) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    if let Some(wait) = rate.wait(address) {
        let seconds = wait.as_secs() + 1;
        tracing::info!(%address, seconds, "sign-in refused: too many failures from the address");
        let refusal = HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
            .insert_header(("Retry-After", seconds.to_string()))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "Too many failed attempts (sign-ins, link passwords or links) from your address. \
                 Try again in {seconds} s.\n"
            ));
        return Ok(request.into_response(refusal).map_into_right_body());
    }
    let response = next.call(request).await?;
    if failures.contains(&response.status()) {
        rate.failed(address);
    }
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_stopped_after_its_failures_and_others_are_not() {
        let rate = FailedSignIns::new(NonZeroU32::new(3).unwrap());
        let attacker: IpAddr = [192, 0, 2, 1].into();
        let neighbour: IpAddr = [192, 0, 2, 2].into();
        for _ in 0..3 {
            assert_eq!(rate.wait(attacker), None);
            rate.failed(attacker);
        }
        assert_eq!(rate.wait(attacker), None, "the burst is three failures");
        rate.failed(attacker);
        let wait = rate.wait(attacker).expect("the fourth failure blocks");
        assert!(
            wait <= Duration::from_secs(20),
            "one failure's share of a minute: {wait:?}"
        );
        assert_eq!(rate.wait(neighbour), None);
    }
}
