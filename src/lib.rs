//! authentik-operator: authentik flow stages as Kubernetes custom resources.

pub mod authentik;
pub mod caches;
pub mod case;
pub mod cli;
pub mod config;
pub mod connections;
pub mod controller;
pub mod crd;
pub mod error;
pub mod follower;
pub mod http;
pub mod kinds;
pub mod leader;
pub mod metrics;
pub mod reconcile;

pub mod sweep;
pub mod telemetry;

pub use error::{Error, Result};
