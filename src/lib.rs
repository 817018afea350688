//! Cooperation Registry: the partners, countries, agreements and events of an international
//! cooperation hub, as a REST JSON API on SQLite or PostgreSQL.

pub mod agreements;
pub mod app;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod config;
pub mod countries;
pub mod crud;
pub mod db;
pub mod documents;
pub mod enums;
pub mod error;
pub mod events;
pub mod exchange;
pub mod feeds;
pub mod filter;
pub mod health;
pub mod history;
pub mod http;
pub mod idempotency;
pub mod openapi;
pub mod pagination;
pub mod partners;
pub mod references;
pub mod relation;
pub mod resource;
pub mod routing;
pub mod schema;
pub mod search;
pub mod shape;
pub mod sql;
pub mod telemetry;
pub mod time;
pub mod tombstones;
pub mod translations;
pub mod validation;
pub mod webhooks;

pub use app::{Application, all_routes, route_table};
