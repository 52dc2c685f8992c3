//! The authentik REST client: authentication, retries with backoff, pagination, errors.

pub mod client;
pub mod errors;
pub mod health;
pub mod retry;
pub mod wire;

pub use client::{AuthentikClient, ClientConfig, Token};
pub use retry::RetryPolicy;
