//! Integration tests of nimbus-proxy against a real metadata server,
//! RabbitMQ and PostgreSQL.

mod auth;
mod authorization_matrix;
mod backup_restore;
mod body_limits;
mod browser;
mod chunk_guard;
mod client_broker_user;
mod clients;
mod collection;
mod containers;
mod conversion;
mod database_restart;
mod durability;
mod full_disk;
mod health;
mod helpers;
mod identity_refresh;
mod inline;
mod links;
mod oauth;
mod objects;
#[path = "../../../server/tests/api/probes.rs"]
mod probes;
mod real_swift;
mod rest;
mod rest_encrypted;
mod sharing;
mod slow_clients;
mod small_disk;
#[path = "../../../server/tests/api/snapshot.rs"]
mod snapshot;
mod startup;
mod swift_account_acls;
mod swift_bulk_upload;
mod swift_conformance;
mod swift_quotas;
mod swift_symlinks;
mod swift_tempurl;
mod swift_versioning;
mod trace_ids;
mod web;
mod web_admin;
mod web_live;
mod web_organize;
mod web_sharing;
mod web_upload;
mod web_zip;
