//! Integration tests of the metadata server against the real RabbitMQ and
//! PostgreSQL. Each test gets its own database and its own queue prefix, so
//! tests run in parallel and beside a running deployment.

mod helpers;

mod audit;
mod authorization;
mod authorization_matrix;
mod broker_input;
mod changes;
mod chunks;
mod cli;
mod commit;
mod conversion;
mod faults;
mod items;
mod links;
mod login;
mod oauth;
mod probes;
mod retention;
mod sharing;
mod snapshot;
mod status_listener;
mod subscribe;
mod user_deletion;
mod workspaces;
