//! `bench`: measures one runtime the way Lambda drives it, for bench/run.py.
//!
//! Cold start is the time from spawning the runtime process to the first response (what a user
//! waits for on a cold invocation, minus Lambda's own sandbox setup). Warm latency is measured
//! over sequential invocations in one process, as Lambda sends them: one at a time, the next only
//! after the previous response. With `--max-concurrency N` (Managed Instances), N clients send
//! at once instead, each the next only after its previous response; the ready time is from
//! spawning the runtime until N `/next` polls are parked at once (N workers waiting for work),
//! and the memory is the sum of Pss (/proc/PID/smaps_rollup) over the runtime process and all its
//! descendants, read at that moment and again after the load. The same broker and Runtime API serve `serve` and `invoke`, so
//! what is measured here is the path users run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    let concurrency = usize::from(args.runtime.max_concurrency);
    let mut cold_ms = Vec::with_capacity(args.cold_starts.max(1));
    let mut ready_ms = Vec::with_capacity(args.cold_starts.max(1));
    let mut pss_ready_kb = Vec::with_capacity(args.cold_starts.max(1));
    let mut report = None;
    for sample in 0..args.cold_starts.max(1) {
        let mut environment = Environment::start(args.runtime.clone(), 0, false).await?;
        let started = Instant::now();
        environment.launch();
        if concurrency > 1 {
            // Nothing is queued yet, so every worker parks its poll: N parked = N ready.
            tokio::time::timeout(
                Duration::from_secs(args.runtime.timeout),
                environment.broker.wait_for_polls(concurrency),
            )
            .await
            .map_err(|_| format!("cold start {sample}: {concurrency} workers were not polling in time"))?;
            ready_ms.push(started.elapsed().as_secs_f64() * 1e3);
            pss_ready_kb.push(
                environment
                    .state
                    .pid()
                    .and_then(|pid| group_usage(pid).map(|u| u.pss_kb)),
            );
        }
        let first = settled(environment.broker.invoke(events[0].clone()).await).await;
        cold_ms.push(started.elapsed().as_secs_f64() * 1e3);
        check(&first, args.expect_status).map_err(|why| format!("cold start {sample}: {why}"))?;
        if sample == 0 {
            report = Some(warm(&environment, &events, &args).await?);
        }
        let group = environment.state.pid().map(descendants).unwrap_or_default();
        environment.stop().await;
        // Lambda ends the whole environment: workers that outlive their parent (awslambdaric's
        // are not told to) must not linger into the next sample.
        for pid in group.into_iter().skip(1) {
            if let Ok(pid) = i32::try_from(pid) {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).ok();
            }
        }
    }
    let mut report = report.unwrap_or_default();
    report.insert("cold_start_ms".into(), serde_json::json!(cold_ms));
    if concurrency > 1 {
        report.insert("ready_ms".into(), serde_json::json!(ready_ms));
        report.insert("pss_ready_kb".into(), serde_json::json!(pss_ready_kb));
    }
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
    let concurrency = usize::from(args.runtime.max_concurrency);
    let cpu_before = pid.and_then(cpu_ticks);
    let group_cpu_before = pid.and_then(group_usage).map(|u| u.cpu_ticks);
    let emulator_cpu_before = cpu_ticks(std::process::id());
    let started = Instant::now();
    // `concurrency` clients, each sending its next invocation when its previous one is answered,
    // until `invocations` are sent in all.
    let sent = Arc::new(AtomicUsize::new(0));
    let events: Arc<[Bytes]> = events.into();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let (broker, sent, events, total) = (
                environment.broker.clone(),
                sent.clone(),
                events.clone(),
                args.invocations,
            );
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / concurrency + 1);
                let mut failures = 0usize;
                loop {
                    let index = sent.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        break;
                    }
                    let start = Instant::now();
                    let outcome = settled(broker.invoke(events[index % events.len()].clone()).await).await;
                    latencies.push(start.elapsed());
                    if !matches!(outcome, Outcome::Response(_)) {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.invocations);
    let mut failures = 0usize;
    for client in clients {
        let (mine, failed) = client.await.map_err(|e| format!("a client task failed: {e}"))?;
        latencies.extend(mine);
        failures += failed;
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
    if concurrency > 1 {
        let after = pid.and_then(group_usage);
        let per_invocation = |ticks: u64| ticks as f64 * 1e6 / CLOCK_TICKS_PER_SECOND / latencies.len().max(1) as f64;
        let group_cpu_us = group_cpu_before
            .zip(after.as_ref().map(|u| u.cpu_ticks))
            .map(|(before, after)| per_invocation(after.saturating_sub(before)));
        let emulator_cpu_us = emulator_cpu_before
            .zip(cpu_ticks(std::process::id()))
            .map(|(before, after)| per_invocation(after.saturating_sub(before)));
        report.insert("clients".into(), concurrency.into());
        report.insert(
            "pss_after_kb".into(),
            serde_json::json!(after.as_ref().map(|u| u.pss_kb)),
        );
        report.insert(
            "rss_after_kb".into(),
            serde_json::json!(after.as_ref().map(|u| u.rss_kb)),
        );
        report.insert(
            "processes".into(),
            serde_json::json!(after.as_ref().map(|u| u.processes)),
        );
        report.insert("group_cpu_us".into(), serde_json::json!(group_cpu_us));
        report.insert("emulator_cpu_us".into(), serde_json::json!(emulator_cpu_us));
    }
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

/// What a process and all its descendants use together.
#[derive(Debug, Default, Clone, PartialEq)]
struct GroupUsage {
    /// Sum of Pss: each shared page counted once over the group, split between its sharers.
    pss_kb: u64,
    /// Sum of VmRSS: shared pages counted once per process.
    rss_kb: u64,
    /// utime + stime of every live process in the group, in clock ticks.
    cpu_ticks: u64,
    processes: usize,
}

/// `root` and its descendants, from the parent ids in /proc/*/stat.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name: state, then the parent id.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut group = vec![root];
    let mut index = 0;
    while index < group.len() {
        let parent = group[index];
        group.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        index += 1;
    }
    group
}

/// A `Key:   123 kB` line's number.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Pss, RSS and CPU time summed over `root` and its descendants (the workers it forked).
fn group_usage(root: u32) -> Option<GroupUsage> {
    let mut usage = GroupUsage::default();
    for pid in descendants(root) {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue; // exited meanwhile
        };
        usage.pss_kb += kb_field(&rollup, "Pss:").unwrap_or(0);
        usage.rss_kb += kb_field(&rollup, "Rss:").unwrap_or(0);
        usage.cpu_ticks += cpu_ticks(pid).unwrap_or(0);
        usage.processes += 1;
    }
    (usage.processes > 0).then_some(usage)
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
    fn group_usage_counts_the_process_and_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let group = descendants(std::process::id());
        let alone = group_usage(child.id());
        let ours = group_usage(std::process::id());
        child.kill().ok();
        child.wait().ok();
        assert_eq!(group.first(), Some(&std::process::id()));
        assert!(group.contains(&child.id()));
        let alone = alone.expect("the child is readable");
        assert_eq!(alone.processes, 1);
        assert!(alone.pss_kb > 0 && alone.rss_kb >= alone.pss_kb);
        assert!(ours.expect("this process is readable").pss_kb > alone.pss_kb);
    }

    #[test]
    fn peak_rss_and_cpu_time_are_read_from_proc() {
        assert!(peak_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
        let spin_until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < spin_until {}
        assert!(cpu_ticks(std::process::id()).is_some_and(|ticks| ticks > 0));
    }
}
