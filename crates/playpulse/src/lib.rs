//! The playpulse binary's library: clap commands that wire store, cache and server together.
//! Thin on purpose: rules live in `core`, SQL in `store`, HTTP in `server`.

pub mod analytics;
pub mod app;
pub mod background;
pub mod cli;
pub mod commands;
pub mod config;
pub mod models;
pub mod privacy;
pub mod schedule;
