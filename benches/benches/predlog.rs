//! The prediction log's writer: 4,096 wine predictions (11 features each) queued and
//! committed in one transaction, or in commits of 128 as the server's writer makes them
//! under load. Each iteration appends to the same log in a temporary directory, so the
//! table grows as it does in production.
//!
//! The figure is the CPU time of the whole process (the writer, its checkpointer, and
//! the kernel's work for their writes) per 4,096 predictions, read from
//! `/proc/self/stat`: wall time would measure the disk and the writer's 5 ms linger. The
//! records are built (ids signed) before the clock starts.

use criterion::{Criterion, criterion_group, criterion_main};
use sextant_server::ids::IdSigner;
use sextant_server::predlog::{Features, LoggedPrediction, PredictionLog};
use std::time::Duration;

const ROWS: usize = 4096;
const WINE: [f64; 11] = [
    7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4,
];

/// User and system CPU time of this process so far (clock ticks of 10 ms; each sample
/// spans many ticks).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses: utime is the 12th, stime
    // the 13th.
    let after = stat.rsplit(')').next().expect("a stat line");
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("a number"))
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

fn write(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sextant-bench-predlog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<String> = (0..WINE.len()).map(|i| format!("feature_{i}")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let log =
        PredictionLog::open(&dir, "bench", names, i64::MAX / 4, 3_600_000).expect("the log opens");
    let ids = IdSigner::new(b"bench", "bench");
    let batch = || {
        let now = sextant::time::now_ms();
        (0..ROWS)
            .map(|i| LoggedPrediction {
                id: ids.issue(now, 5.0 + i as f64 / 8192.0),
                time_ms: now,
                prediction: 5.0 + i as f64 / 8192.0,
                features: Some(Features::new(&WINE)),
            })
            .collect::<Vec<_>>()
    };
    let mut group = c.benchmark_group("prediction log");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    // 4,096 a commit: the writer's own cost; 128 a commit: what it commits under load
    // (5 ms of 25,000 requests a second), where each commit's pages weigh more.
    for per_commit in [ROWS, 128] {
        let name = format!("CPU to write 4,096 predictions, {per_commit} a commit");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<_> = (0..iters).map(|_| batch()).collect();
                let start = process_cpu();
                rt.block_on(async {
                    for b in batches {
                        let mut rows = b.into_iter();
                        while rows.len() > 0 {
                            log.record(rows.by_ref().take(per_commit)).await;
                            log.flush().await;
                        }
                    }
                });
                process_cpu() - start
            })
        });
    }
    group.finish();
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, write);
criterion_main!(benches);
