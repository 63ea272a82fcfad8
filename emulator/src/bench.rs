//! `bench`: measures one runtime the way Lambda drives it, for bench/run.py.
//!
//! Cold start is the time from spawning the runtime process to the first response (what a user
//! waits for on a cold invocation, minus Lambda's own sandbox setup). Warm latency is measured
//! over sequential invocations in one process, as Lambda sends them: one at a time, the next only
//! after the previous response. The same broker and Runtime API serve `serve` and `invoke`, so
//! what is measured here is the path users run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;

use crate::broker::{Outcome, split_prelude};
use crate::{Environment, RuntimeArgs};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// An event file (repeatable); warm invocations cycle through them in order.
    #[arg(long = "event", required = true)]
    events: Vec<PathBuf>,
    /// Timed warm invocations.
    #[arg(long, default_value_t = 2000)]
    invocations: usize,
    /// Untimed invocations first (imports on first use, caches, the allocator settling).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Fresh processes started to time cold starts (the first one then serves the warm run).
    #[arg(long, default_value_t = 3)]
    cold_starts: usize,
    /// The statusCode every response must carry.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
}

/// Prints one JSON object: cold starts, warm latency summary, invocations/s, peak RSS, and the
/// first response to each event (so the harness can check every runtime answered alike).
pub async fn run(args: BenchArgs) -> Result<ExitCode, String> {
    let events = args
        .events
        .iter()
        .map(|path| {
            std::fs::read(path)
                .map(Bytes::from)
                .map_err(|e| format!("reading {}: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cold_ms = Vec::with_capacity(args.cold_starts.max(1));
    let mut report = None;
    for sample in 0..args.cold_starts.max(1) {
        let mut environment = Environment::start(args.runtime.clone(), 0, false).await?;
        let started = Instant::now();
        environment.launch();
        let first = settled(environment.broker.invoke(events[0].clone()).await).await;
        cold_ms.push(started.elapsed().as_secs_f64() * 1e3);
        check(&first, args.expect_status).map_err(|why| format!("cold start {sample}: {why}"))?;
        if sample == 0 {
            report = Some(warm(&environment, &events, &args).await?);
        }
        environment.stop().await;
    }
    let mut report = report.unwrap_or_default();
    report.insert("cold_start_ms".into(), serde_json::json!(cold_ms));
    println!("{}", serde_json::Value::Object(report));
    Ok(ExitCode::SUCCESS)
}

type Report = serde_json::Map<String, serde_json::Value>;

async fn warm(environment: &Environment, events: &[Bytes], args: &BenchArgs) -> Result<Report, String> {
    let mut first_responses = Vec::with_capacity(events.len());
    for event in events {
        let outcome = settled(environment.broker.invoke(event.clone()).await).await;
        check(&outcome, args.expect_status)?;
        if let Outcome::Response(body) = outcome {
            first_responses.push(serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default());
        }
    }
    for event in events.iter().cycle().take(args.warmup) {
        environment.broker.invoke(event.clone()).await;
    }
    let pid = environment.state.pid();
    let cpu_before = pid.and_then(cpu_ticks);
    let mut latencies = Vec::with_capacity(args.invocations);
    let mut failures = 0usize;
    let started = Instant::now();
    for event in events.iter().cycle().take(args.invocations) {
        let sent = Instant::now();
        let outcome = settled(environment.broker.invoke(event.clone()).await).await;
        latencies.push(sent.elapsed());
        if !matches!(outcome, Outcome::Response(_)) {
            failures += 1;
        }
    }
    let wall = started.elapsed();
    let cpu_after = pid.and_then(cpu_ticks);
    let peak_rss_kb = pid.and_then(peak_rss_kb);
    let mut report = summary(&mut latencies, wall);
    // CPU time the runtime process spent per invocation (all its threads): steadier than wall
    // time on a busy machine, and what Lambda bills for at a given memory size.
    let cpu_us = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| (after - before) as f64 * 1e6 / CLOCK_TICKS_PER_SECOND / latencies.len().max(1) as f64);
    report.insert("cpu_us".into(), serde_json::json!(cpu_us));
    report.insert("failures".into(), failures.into());
    report.insert("peak_rss_kb".into(), serde_json::json!(peak_rss_kb));
    report.insert("first_responses".into(), first_responses.into());
    Ok(report)
}

/// A streamed response read to its end, as its prelude (the status and headers): a streamed
/// invocation is over when its last byte is in.
async fn settled(outcome: Outcome) -> Outcome {
    let Outcome::Stream(streamed) = outcome else {
        return outcome;
    };
    match streamed.collect().await {
        Ok(whole) => {
            let prelude = split_prelude(&whole).map_or(&whole[..], |(prelude, _)| prelude);
            Outcome::Response(Bytes::copy_from_slice(prelude))
        }
        Err(why) => Outcome::Error(Bytes::from(why)),
    }
}

fn check(outcome: &Outcome, expect_status: u16) -> Result<(), String> {
    match outcome {
        Outcome::Response(body) => {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            match value.get("statusCode").and_then(serde_json::Value::as_u64) {
                Some(status) if status == u64::from(expect_status) => Ok(()),
                _ => Err(format!(
                    "expected statusCode {expect_status}, got {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                )),
            }
        }
        other => Err(format!("the invocation failed: {other:?}")),
    }
}

/// Mean, median, p99 and throughput of sequential invocations.
fn summary(latencies: &mut [Duration], wall: Duration) -> Report {
    latencies.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |quantile: f64| {
        let rank = (quantile * latencies.len() as f64).ceil() as usize;
        latencies.get(rank.saturating_sub(1)).copied().map_or(0.0, micros)
    };
    let total: Duration = latencies.iter().sum();
    let count = latencies.len().max(1) as f64;
    let mut report = Report::new();
    report.insert("invocations".into(), latencies.len().into());
    report.insert("mean_us".into(), (micros(total) / count).into());
    report.insert("p50_us".into(), at(0.50).into());
    report.insert("p99_us".into(), at(0.99).into());
    report.insert("per_second".into(), (count / wall.as_secs_f64().max(1e-9)).into());
    report
}

/// USER_HZ: /proc reports CPU time in these on every Linux architecture Lambda runs.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of a process (all threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at `state`, field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ticks(14)? + ticks(15)?)
}

/// VmHWM: the process's peak resident set, as Lambda reports "Max Memory Used".
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let report = summary(&mut samples, Duration::from_millis(10));
        assert_eq!(report["p50_us"], 50.0);
        assert_eq!(report["p99_us"], 99.0);
        assert_eq!(report["mean_us"], 50.5);
        assert_eq!(report["per_second"], 10_000.0);
    }

    #[test]
    fn a_response_with_another_status_is_a_failure() {
        let ok = Outcome::Response(Bytes::from_static(br#"{"statusCode":200}"#));
        let not_found = Outcome::Response(Bytes::from_static(br#"{"statusCode":404}"#));
        assert!(check(&ok, 200).is_ok());
        assert!(check(&not_found, 200).is_err());
        assert!(check(&Outcome::Timeout, 200).is_err());
    }

    #[test]
    fn peak_rss_and_cpu_time_are_read_from_proc() {
        assert!(peak_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
        let spin_until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < spin_until {}
        assert!(cpu_ticks(std::process::id()).is_some_and(|ticks| ticks > 0));
    }
}
