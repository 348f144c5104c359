//! Integration tests: the real service over real HTTP, on SQLite and on PostgreSQL + Redis.

mod support;

mod access;
mod analytics;
mod bad_input;
mod batch;
mod binary;
mod browser;
mod cache;
mod content;
mod crash;
mod dashboard;
mod dashboard_pages;
mod effects;
mod import;
mod lake;
mod ledger;
mod limits;
mod models;
mod monitoring;
mod notifications;
mod operators;
mod ops;
mod partners;
mod player;
mod privacy;
mod proposals;
mod protection;
mod quiz;
mod replay;
mod schedule;
mod segments;
mod simulation;
mod tidy;
