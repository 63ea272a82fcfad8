//! lambda-wsgi: an AWS Lambda runtime that serves a Python WSGI application from embedded CPython.
//!
//! Every invocation flows one way through these stages; only [`invoke`] sees them all:
//!
//! ```text
//! runtime_api ──bytes──▶ event::parse ──(Source, Request)──▶ environ::build ──Environ──▶
//!     wsgi::WsgiApp::call ──AppResponse──▶ response::render(Source) ──EventResponse──▶ runtime_api
//! ```
//!
//! Around it, the process goes through phases: init ([`config`], [`interpreter`]), the SnapStart
//! snapshot ([`snapshot`], only when Lambda asks), then serving: [`worker`] runs the one loop
//! ([`serve`]) in this process, or [`supervisor`] forks N workers that each run it (Managed
//! Instances). [`launch`] runs these phases for either host: the `bootstrap` binary, which
//! embeds CPython, or the Python extension (python/), which CPython loads. Only [`interpreter`]
//! (once, at init) and [`wsgi`] (per request) touch Python; everything else is plain Rust,
//! tested without an interpreter.
#![warn(missing_docs)]

// Leaves: settings, the invocation context, the event's source, errors.
pub mod config;
pub mod context;
pub mod error;
pub mod source;
// The pipeline, in order (rustfmt.toml keeps this order: reorder_modules = false).
pub mod runtime_api;
pub mod serve;
pub mod event;
pub mod request;
pub mod mounts;
pub mod environ;
pub mod wsgi;
pub mod response;
pub mod invoke;
// The process around it.
pub mod init_error;
pub mod interpreter;
pub mod launch;
pub mod remote_config;
pub mod snapshot;
pub mod supervisor;
pub mod warmup;
pub mod worker;
