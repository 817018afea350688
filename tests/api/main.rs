//! Integration tests: each starts the real service on port 0 with a fresh database and speaks
//! HTTP to it. Every test in a `backend_tests!` list runs on SQLite and on PostgreSQL.

mod helpers;

mod access;
mod agreements;
mod bodies;
mod changes;
mod cli;
mod countries;
mod demo;
mod documents;
mod error_log;
mod events;
mod exchange;
mod feeds;
mod filters;
mod hardening;
mod history;
mod idempotency;
mod identifiers;
mod lifecycle;
mod merge;
mod migrations;
mod openapi;
mod params;
mod partners;
mod readme;
mod resilience;
mod search;
mod service;
mod shaping;
mod tombstones;
mod translations;
mod webhooks;
