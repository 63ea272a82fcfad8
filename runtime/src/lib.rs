//! lambda-wsgi: an AWS Lambda runtime that serves a Python WSGI application from embedded CPython.
//!
//! Every invocation flows one way through these stages; only [`invoke`] sees them all:
//!
//! ```text
//! Runtime API (serve) ──bytes──▶ event::parse ──(Source, Request)──▶ environ::build ──Environ──▶
//!     wsgi::WsgiApp::call ──AppResponse──▶ response::render(Source) ──EventResponse──▶ Runtime API
//! ```
//!
//! [`serve`] is the invocation loop (lambda_runtime's client and types, without its per-invocation
//! `setenv`, which leaks). Only [`interpreter`] (once, at init) and [`wsgi`] (per request) touch
//! Python. Everything
//! else is plain Rust, tested without an interpreter.
#![warn(missing_docs)]

pub mod config;
pub mod environ;
pub mod error;
pub mod event;
pub mod init_error;
pub mod interpreter;
pub mod invoke;
pub mod remote_config;
pub mod request;
pub mod response;
pub mod serve;
pub mod wsgi;
