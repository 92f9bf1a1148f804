//! Integration tests of the metadata server against the real RabbitMQ and
//! PostgreSQL. Each test gets its own database and its own queue prefix, so
//! tests run in parallel and beside a running deployment.

mod helpers;

mod authorization;
mod authorization_matrix;
mod changes;
mod cli;
mod commit;
mod faults;
mod items;
mod login;
mod oauth;
mod sharing;
mod snapshot;
mod subscribe;
mod workspaces;
