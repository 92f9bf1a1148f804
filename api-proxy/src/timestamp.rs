//! Swift's timestamps: microseconds since the epoch at 10 µs resolution,
//! shown as `X-Timestamp: 1795313147.05885`, as `last_modified` in listings
//! (`2026-11-22T02:05:47.058850`) and as an HTTP date rounded up to the second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::HttpDate;
use time::OffsetDateTime;
use time::macros::format_description;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Self(micros - micros % 10)
    }

    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// `X-Timestamp` form: seconds with five decimals.
    pub fn x_timestamp(self) -> String {
        format!("{}.{:05}", self.0 / 1_000_000, (self.0 % 1_000_000) / 10)
    }

    /// Whole seconds, rounded up as Swift does for `Last-Modified`.
    pub fn ceil_seconds(self) -> u64 {
        u64::try_from((self.0 + 999_999) / 1_000_000).unwrap_or(0)
    }

    /// `Last-Modified` header value.
    pub fn http_date(self) -> HttpDate {
        HttpDate::from(UNIX_EPOCH + Duration::from_secs(self.ceil_seconds()))
    }

    /// `last_modified` of listings: UTC with microseconds, no zone suffix.
    pub fn listing_format(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .ok()
            .and_then(|t| t.format(format).ok())
            .unwrap_or_default()
    }
}

/// The current time in milliseconds since the epoch, the metadata protocol's
/// `modified_at` of changes the proxy makes.
pub fn now_millis() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_swift() {
        let t = Timestamp::from_micros(1_795_313_147_058_850);
        assert_eq!(t.x_timestamp(), "1795313147.05885");
        assert_eq!(t.listing_format(), "2026-11-22T02:05:47.058850");
        assert_eq!(t.http_date().to_string(), "Sun, 22 Nov 2026 02:05:48 GMT");
        assert_eq!(Timestamp::from_micros(5_000_000).ceil_seconds(), 5);
        assert_eq!(Timestamp::now().as_micros() % 10, 0);
    }
}
