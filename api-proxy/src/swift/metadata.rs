//! `X-{Account,Container,Object}-Meta-*` headers in and out, within Swift's
//! limits (name ≤ 128, value ≤ 256, ≤ 90 keys, ≤ 4096 bytes in total).
//! Values are UTF-8, sent as raw bytes in headers as Swift's clients do.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::{HeaderMap, HeaderValue};

use crate::error::SwiftError;
use crate::index::{Metadata, MetadataUpdate};

pub const MAX_META_NAME_LENGTH: usize = 128;
pub const MAX_META_VALUE_LENGTH: usize = 256;
pub const MAX_META_COUNT: usize = 90;
pub const MAX_META_OVERALL_SIZE: usize = 4096;

/// Which metadata headers a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account,
    Container,
    Object,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::Account => "x-account-meta-",
            Scope::Container => "x-container-meta-",
            Scope::Object => "x-object-meta-",
        }
    }

    fn remove_prefix(self) -> &'static str {
        match self {
            Scope::Account => "x-remove-account-meta-",
            Scope::Container => "x-remove-container-meta-",
            Scope::Object => "x-remove-object-meta-",
        }
    }
}

/// Reads the metadata headers of `scope`: keys to set, and keys to remove
/// (an empty value or an `X-Remove-*-Meta-` header).
pub fn read_update(headers: &HeaderMap, scope: Scope) -> Result<MetadataUpdate, SwiftError> {
    let mut update = MetadataUpdate::default();
    for (name, value) in headers {
        let name = name.as_str();
        if let Some(key) = name.strip_prefix(scope.remove_prefix()) {
            update.remove.push(key.to_owned());
            continue;
        }
        let Some(key) = name.strip_prefix(scope.prefix()) else {
            continue;
        };
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            SwiftError::BadRequest(format!("Metadata value of {name} must be UTF-8"))
        })?;
        if key.is_empty() {
            return Err(SwiftError::BadRequest(
                "Metadata name cannot be empty".into(),
            ));
        }
        if key.len() > MAX_META_NAME_LENGTH {
            return Err(SwiftError::BadRequest(format!(
                "Metadata name too long: {name}"
            )));
        }
        if value.len() > MAX_META_VALUE_LENGTH {
            return Err(SwiftError::BadRequest(format!(
                "Metadata value longer than {MAX_META_VALUE_LENGTH}: {name}"
            )));
        }
        if value.is_empty() {
            update.remove.push(key.to_owned());
        } else {
            update.set.insert(key.to_owned(), value.to_owned());
        }
    }
    check_totals(&update.set)?;
    Ok(update)
}

/// Checks the number of keys and their overall size (names and values).
fn check_totals(meta: &Metadata) -> Result<(), SwiftError> {
    if meta.len() > MAX_META_COUNT {
        return Err(SwiftError::BadRequest(format!(
            "Too many metadata items; max {MAX_META_COUNT}"
        )));
    }
    let overall: usize = meta
        .iter()
        .map(|(key, value)| key.len() + value.len())
        .sum();
    if overall > MAX_META_OVERALL_SIZE {
        return Err(SwiftError::BadRequest(format!(
            "Total metadata too large; max {MAX_META_OVERALL_SIZE}"
        )));
    }
    Ok(())
}

/// Checks that `existing` metadata with `update` applied stays within the
/// limits, which hold for an account's or container's metadata as a whole.
pub fn check_merged(existing: &Metadata, update: &MetadataUpdate) -> Result<(), SwiftError> {
    let mut merged = existing.clone();
    for key in &update.remove {
        merged.remove(key);
    }
    merged.extend(update.set.clone());
    check_totals(&merged)
}

/// An object's complete metadata as sent with PUT or POST (which replace it).
pub fn read_object_metadata(headers: &HeaderMap) -> Result<Metadata, SwiftError> {
    Ok(read_update(headers, Scope::Object)?.set)
}

/// A response header value for UTF-8 text (stored values came from
/// request headers, so they convert).
pub fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_bytes(text.as_bytes()).ok()
}

/// Adds `meta` to a response as `scope` headers.
pub fn write(response: &mut HttpResponseBuilder, scope: Scope, meta: &Metadata) {
    for (key, value) in meta {
        if let Some(value) = header_value(value) {
            response.insert_header((format!("{}{key}", scope.prefix()), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn updates_set_and_remove() {
        let update = read_update(
            &headers(&[
                ("X-Container-Meta-Color", "blue"),
                ("X-Container-Meta-Old", ""),
                ("X-Remove-Container-Meta-Gone", "x"),
                ("X-Object-Meta-Ignored", "y"),
            ]),
            Scope::Container,
        )
        .unwrap();
        assert_eq!(
            update.set,
            Metadata::from([("color".into(), "blue".into())])
        );
        assert_eq!(update.remove.len(), 2);
    }

    #[test]
    fn limits_are_enforced() {
        let long_name = format!("X-Object-Meta-{}", "k".repeat(129));
        assert!(read_object_metadata(&headers(&[(&long_name, "v")])).is_err());
        let ok_name = format!("X-Object-Meta-{}", "k".repeat(128));
        assert!(read_object_metadata(&headers(&[(&ok_name, "v")])).is_ok());
        let long_value = "v".repeat(257);
        assert!(read_object_metadata(&headers(&[("X-Object-Meta-K", &long_value)])).is_err());
        let many: Vec<(String, String)> = (0..91)
            .map(|i| (format!("X-Object-Meta-K{i}"), "v".into()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(read_object_metadata(&headers(&many)).is_err());
        let big: Vec<(String, String)> = (0..20)
            .map(|i| (format!("X-Object-Meta-K{i}"), "v".repeat(250)))
            .collect();
        let big: Vec<(&str, &str)> = big.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(read_object_metadata(&headers(&big)).is_err());
    }
}
