//! Criterion micro-benchmarks of the plain-Rust stages of an invocation, on bench/events:
//! event parsing (detection + typed parse), environ building, response rendering, and the
//! three in a row.
//! `make bench-micro` runs them; no Python interpreter is involved.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lambda_wsgi::config::Config;
use lambda_wsgi::response::{AppResponse, render};
use lambda_wsgi::{environ, event};

const EVENTS: &[(&str, &str)] = &[
    ("http-v2-get", include_str!("../../bench/events/http-v2-get.json")),
    ("rest-v1-get", include_str!("../../bench/events/rest-v1-get.json")),
    ("alb-get", include_str!("../../bench/events/alb-get.json")),
    (
        "http-v2-post-10k",
        include_str!("../../bench/events/http-v2-post-10k.json"),
    ),
];

fn config() -> Config {
    Config::from_lookup(|key| (key == "WSGI_APP").then(|| "app:app".to_owned())).expect("a valid config")
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("event::parse");
    for (name, json) in EVENTS {
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| event::parse(black_box(json)).expect("a valid event"))
        });
    }
    group.finish();
}

fn build_environ(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("environ::build");
    for (name, json) in EVENTS {
        let (_, request) = event::parse(json).expect("a valid event");
        group.bench_function(*name, |b| b.iter(|| environ::build(black_box(&request), &config)));
    }
    group.finish();
}

fn render_response(c: &mut Criterion) {
    let json_body = br#"{"agent":"Mozilla/5.0","ok":true,"query":{"page":["2"],"tag":["a","b"]}}"#.to_vec();
    let responses = [
        ("json", "application/json", json_body),
        (
            "binary-100k",
            "image/png",
            (0..=255u8).cycle().take(100 * 1024).collect(),
        ),
    ];
    let mut group = c.benchmark_group("response::render");
    for (name, content_type, body) in responses {
        let response = AppResponse {
            status: 200,
            reason: "OK".to_owned(),
            headers: vec![
                ("Content-Type".to_owned(), content_type.to_owned()),
                ("Content-Length".to_owned(), body.len().to_string()),
                ("Set-Cookie".to_owned(), "session=abc; Path=/; HttpOnly".to_owned()),
            ],
            body,
        };
        for (source_name, json) in [EVENTS[0], EVENTS[1], EVENTS[2]] {
            let (source, _) = event::parse(json).expect("a valid event");
            group.bench_function(format!("{name}/{source_name}"), |b| {
                // render consumes the response (its strings move into the JSON value): each
                // iteration gets its own copy, made outside the timing.
                b.iter_batched(
                    || response.clone(),
                    |response| render(source, black_box(response), false, &[]),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

/// The three stages together, as one invocation runs them (the issue's target is this sum for
/// the v2 GET event): parse, environ, render of the JSON response (made outside the timing).
fn whole(c: &mut Criterion) {
    let config = config();
    let response = AppResponse {
        status: 200,
        reason: "OK".to_owned(),
        headers: vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Content-Length".to_owned(), "72".to_owned()),
            ("Set-Cookie".to_owned(), "session=abc; Path=/; HttpOnly".to_owned()),
        ],
        body: br#"{"agent":"Mozilla/5.0","ok":true,"query":{"page":["2"],"tag":["a","b"]}}"#.to_vec(),
    };
    let mut group = c.benchmark_group("parse+environ+render");
    for (name, json) in EVENTS {
        group.bench_function(*name, |b| {
            b.iter_batched(
                || response.clone(),
                |response| {
                    let (source, request) = event::parse(black_box(json)).expect("a valid event");
                    let environ = environ::build(&request, &config).expect("mounted");
                    black_box(&environ);
                    render(source, response, false, &[])
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The mount table's cost: the same request's environ with one app, and under a four-mount
/// table whose longest prefix takes it, and the route alone (bench/mounts.py sets these against
/// werkzeug's DispatcherMiddleware doing the same in Python).
fn mounts(c: &mut Criterion) {
    let single = config();
    let table = Config::from_lookup(|key| {
        (key == "WSGI_MOUNTS").then(|| "/ = site:app; /api = api:app; /api/v2 = v2:app; /shop = shop:app".to_owned())
    })
    .expect("a valid table");
    let json = include_str!("../../bench/events/rest-v1-get.json").replace("/json\"", "/api/v2/users/7\"");
    let (_, request) = event::parse(&json).expect("a valid event");
    let routed = environ::build(&request, &table).expect("mounted");
    assert!(
        routed.get("SCRIPT_NAME").is_some_and(|s| s.ends_with("/api/v2")) && routed.mount == 2,
        "BUG: the benchmark's request must reach the longest prefix"
    );
    let mut group = c.benchmark_group("mounts");
    group.bench_function("environ-one-app", |b| {
        b.iter(|| environ::build(black_box(&request), &single).expect("mounted"))
    });
    group.bench_function("environ-four-mounts", |b| {
        b.iter(|| environ::build(black_box(&request), &table).expect("mounted"))
    });
    group.bench_function("route-alone", |b| {
        b.iter(|| table.apps.route(black_box(b"/api/v2/users/7"), &[]))
    });
    group.finish();
}

criterion_group!(benches, parse, build_environ, render_response, whole, mounts);
criterion_main!(benches);
