//! lambda-wsgi-emulator: run a Lambda runtime locally, behind a real HTTP front door.
//!
//! `serve` starts the Runtime API and the front door, then the runtime as a child process;
//! `invoke` sends one event file and prints the response.

mod bench;
mod broker;
mod child;
mod events;
mod front;
mod reload;
mod response;
mod runtime_api;

use std::future::Future;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::broker::{Broker, Outcome};
use crate::child::{ChildSpec, RuntimeState};
use crate::events::EventFormat;
use crate::front::FrontDoor;
use crate::runtime_api::RuntimeApi;

#[derive(Parser)]
#[command(
    version,
    about = "Run a Lambda runtime locally: Runtime API + an HTTP front door that turns requests into events"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP on 127.0.0.1, turning each request into an event for the runtime.
    Serve(ServeArgs),
    /// Send one event file to the runtime and print its response JSON.
    Invoke(InvokeArgs),
    /// Measure a runtime: cold starts, then sequential warm invocations; prints JSON.
    Bench(bench::BenchArgs),
}

#[derive(Args, Clone)]
struct RuntimeArgs {
    /// The runtime binary (lambda-wsgi's `bootstrap`, or any Lambda runtime).
    #[arg(long)]
    bootstrap: PathBuf,
    /// An argument for the runtime binary (repeatable): an exec wrapper gets the runtime's
    /// command line this way.
    #[arg(long = "arg", allow_hyphen_values = true)]
    args: Vec<String>,
    /// The function's handler, passed as _HANDLER (e.g. `app:app`).
    #[arg(long)]
    handler: String,
    /// The function code directory (LAMBDA_TASK_ROOT).
    #[arg(long, default_value = ".")]
    task_root: PathBuf,
    /// Invocation timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Memory size in MB (reported to the function).
    #[arg(long, default_value_t = 512)]
    memory: u32,
    /// Function name.
    #[arg(long, default_value = "lambda-wsgi-local")]
    function_name: String,
    /// Extra environment for the runtime, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Play SnapStart: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, and `/restore/next` answered
    /// as a restore once the runtime has run its before-snapshot hooks.
    #[arg(long)]
    snap_start: bool,
    /// Play Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY=N, N concurrent `/next` long polls
    /// served, and the front door's requests in flight at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_concurrency: u16,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Front door port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Runtime API port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    runtime_api_port: u16,
    /// Which front door's events to send.
    #[arg(long, value_enum, default_value = "http-v2")]
    event_format: EventFormat,
    /// API Gateway stage written into events (default: `$default`, `local` for rest).
    #[arg(long)]
    stage: Option<String>,
    /// Restart the runtime when a .py file under the task root changes.
    #[arg(long)]
    reload: bool,
}

#[derive(Args)]
struct InvokeArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// The event file, or `-` for standard input.
    event: PathBuf,
}

fn parse_env(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("--env takes KEY=VALUE, got {pair:?}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Invoke(args) => invoke(args).await,
        Command::Bench(args) => bench::run(args).await,
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("lambda-wsgi-emulator: {message}");
        ExitCode::FAILURE
    })
}

/// The Runtime API, the broker and the runtime's supervisor, running.
struct Environment {
    broker: Arc<Broker>,
    state: Arc<RuntimeState>,
    api_address: SocketAddr,
    shutdown: watch::Sender<bool>,
    supervisor: Option<tokio::task::JoinHandle<()>>,
    pending: Option<Unlaunched>,
}

/// What the supervisor needs, held until `launch`.
struct Unlaunched {
    spec: ChildSpec,
    state: Arc<RuntimeState>,
    kill: mpsc::UnboundedReceiver<()>,
    shutdown: watch::Receiver<bool>,
}

impl Environment {
    /// `announce`: say "runtime ready" on stdout (`serve`), or keep stdout for the payload (`invoke`).
    async fn start(args: RuntimeArgs, api_port: u16, announce: bool) -> Result<Self, String> {
        let listener = bind(api_port, "runtime API").await?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (kill_tx, kill_rx) = mpsc::unbounded_channel();
        let concurrency = usize::from(args.max_concurrency);
        let broker = Arc::new(Broker::with_concurrency(
            Duration::from_secs(args.timeout),
            kill_tx,
            concurrency,
        ));
        let state = Arc::new(RuntimeState::default());
        let api = Arc::new(RuntimeApi {
            broker: broker.clone(),
            state: state.clone(),
            announce_ready: announce,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", args.function_name),
            snap_start: args.snap_start,
        });
        tokio::spawn(accept_loop(listener, move |request, peer| {
            api.clone().handle(request, peer)
        }));
        let spec = ChildSpec {
            bootstrap: std::path::absolute(&args.bootstrap).map_err(|e| e.to_string())?,
            args: args.args,
            task_root: std::path::absolute(&args.task_root).map_err(|e| e.to_string())?,
            handler: args.handler,
            function_name: args.function_name,
            memory_mb: args.memory,
            runtime_api: address.to_string(),
            extra_env: args.env,
            snap_start: args.snap_start,
            max_concurrency: concurrency,
        };
        if !spec.bootstrap.is_file() {
            return Err(format!(
                "--bootstrap {} is not a file (build it first: make build)",
                spec.bootstrap.display()
            ));
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        Ok(Environment {
            broker,
            state: state.clone(),
            api_address: address,
            shutdown,
            supervisor: None,
            pending: Some(Unlaunched {
                spec,
                state,
                kill: kill_rx,
                shutdown: shutdown_rx,
            }),
        })
    }

    /// Starts the runtime (after every listener is announced, so "runtime ready" comes last).
    fn launch(&mut self) {
        if let Some(Unlaunched {
            spec,
            state,
            kill,
            shutdown,
        }) = self.pending.take()
        {
            let broker = self.broker.clone();
            self.supervisor = Some(tokio::spawn(child::supervise(spec, broker, state, kill, shutdown)));
        }
    }

    /// Kills the runtime and waits for it.
    async fn stop(self) {
        self.shutdown.send(true).ok();
        if let Some(supervisor) = self.supervisor {
            supervisor.await.ok();
        }
    }
}

async fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    let stage = args
        .stage
        .unwrap_or_else(|| args.event_format.default_stage().to_owned());
    let front_listener = bind(args.port, "front door").await?;
    let front_port = front_listener.local_addr().map_err(|e| e.to_string())?.port();
    let task_root = args.runtime.task_root.clone();
    let mut environment = Environment::start(args.runtime, args.runtime_api_port, true).await?;
    if args.reload {
        tokio::spawn(reload::watch(task_root, environment.state.clone()));
    }
    let front = Arc::new(FrontDoor {
        broker: environment.broker.clone(),
        format: args.event_format,
        stage,
        port: front_port,
    });
    tokio::spawn(accept_loop(front_listener, move |request, peer| {
        front.clone().handle(request, peer)
    }));
    // The URL first: it is what a person opens.
    say(&format!(
        "serving http://127.0.0.1:{front_port} (event format: {})",
        args.event_format.name()
    ));
    say(&format!("runtime API on {}", environment.api_address));
    environment.launch();
    shutdown_signal().await;
    environment.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn invoke(args: InvokeArgs) -> Result<ExitCode, String> {
    let event = if args.event.as_os_str() == "-" {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer).map_err(|e| format!("reading stdin: {e}"))?;
        buffer
    } else {
        std::fs::read(&args.event).map_err(|e| format!("reading {}: {e}", args.event.display()))?
    };
    let mut environment = Environment::start(args.runtime, 0, false).await?;
    environment.launch();
    let outcome = environment.broker.invoke(Bytes::from(event)).await;
    let print = |payload: &[u8]| {
        let mut stdout = std::io::stdout();
        stdout
            .write_all(payload)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush())
            .ok();
    };
    let code = match outcome {
        Outcome::Response(payload) => {
            print(&payload);
            ExitCode::SUCCESS
        }
        // The prelude on its own line, then the body as it arrives.
        Outcome::Stream(streamed) => match streamed.collect().await {
            Ok(whole) => {
                match broker::split_prelude(&whole) {
                    Some((prelude, body)) => {
                        print(prelude);
                        print(body);
                    }
                    None => print(&whole),
                }
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("lambda-wsgi-emulator: the response stream failed: {why}");
                ExitCode::from(1)
            }
        },
        Outcome::Error(payload) => {
            print(&payload);
            ExitCode::from(1)
        }
        Outcome::InitError(payload) => {
            print(&payload);
            ExitCode::from(2)
        }
        Outcome::Died(why) => {
            eprintln!("lambda-wsgi-emulator: no response: {why}");
            ExitCode::from(3)
        }
        Outcome::Timeout => {
            eprintln!("lambda-wsgi-emulator: no response: the invocation timed out");
            ExitCode::from(3)
        }
    };
    // After the stream is read: stopping the runtime earlier would cut it off.
    environment.stop().await;
    Ok(code)
}

async fn bind(port: u16, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| format!("cannot listen for the {what} on 127.0.0.1:{port}: {e}"))
}

/// Serves HTTP/1.1 connections with `handler` until the process ends.
async fn accept_loop<H, F, B>(listener: TcpListener, handler: H)
where
    H: Fn(hyper::Request<hyper::body::Incoming>, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Result<hyper::Response<B>, std::convert::Infallible>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("lambda-wsgi-emulator: accept failed: {err}");
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handler(request, peer));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                if !err.is_incomplete_message() {
                    eprintln!("lambda-wsgi-emulator: connection error: {err}");
                }
            }
        });
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// A line on stdout, for people and for the tools that wait on it.
fn say(line: &str) {
    println!("lambda-wsgi-emulator: {line}");
    std::io::stdout().flush().ok();
}
