//! Integration tests of nimbus-proxy against a real metadata server,
//! RabbitMQ and PostgreSQL.

mod auth;
mod clients;
mod containers;
mod helpers;
mod objects;
