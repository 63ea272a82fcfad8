//! `bootstrap`: the runtime as a program that embeds CPython (provided.al2023, `cargo lambda
//! watch`, the local emulator, the layer). It starts the interpreter itself; everything after
//! that is [`launch::run`], shared with the Python extension's loop.

use std::process::ExitCode;

use lambda_wsgi::interpreter::Host;
use lambda_wsgi::launch;

fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    ExitCode::from(launch::run(|name: &str| std::env::var(name).ok(), Host::Embedded))
}
