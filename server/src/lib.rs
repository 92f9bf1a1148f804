//! The Nimbus metadata server.
//!
//! Metadata servers are stateless workers: they all consume one durable
//! RabbitMQ queue (competing consumers; adding a server adds capacity, killing
//! one loses nothing), keep metadata in PostgreSQL, and publish a notification
//! per workspace after each commit. File bytes never pass through them.
//!
//! * [`startup`]: [`startup::Application`] builds a server from [`config::Settings`]
//!   and runs it until stopped;
//! * [`broker`]: the AMQP consumer loop, acks, dead-lettering, reconnection;
//! * [`rpc`]: one module per operation (`login`, `getChanges`, `commit`, ...);
//! * [`commit_plan`]: the rules of a commit as a pure function;
//! * [`storage`]: the [`storage::MetadataStore`] trait and its PostgreSQL implementation;
//! * [`auth`]: passwords, device tokens, login slow-down;
//! * [`retention`]: the job that removes old versions and trashed items;
//! * [`admin`]: user administration for the command line and scripts;
//! * [`status_listener`] and [`metrics`]: the optional HTTP listener with
//!   `/healthz`, `/readyz` and Prometheus `/metrics`;
//! * [`test_log`]: the test suites' log directory and record of secrets.

pub mod admin;
pub mod auth;
pub mod broker;
pub mod commit_plan;
pub mod config;
pub mod error;
pub mod metrics;
pub mod rate;
pub mod retention;
pub mod rpc;
pub mod startup;
pub mod status_listener;
pub mod storage;
pub mod telemetry;
pub mod test_log;

pub use config::Settings;
pub use startup::Application;
