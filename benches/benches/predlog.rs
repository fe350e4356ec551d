//! The prediction log's writer: 4,096 wine predictions (11 features each) queued at once
//! and committed in one transaction, as the server's writer does under load. Each
//! iteration appends to the same log in a temporary directory, so the table grows as it
//! does in production. The time includes the writer's 5 ms linger before it writes.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sextant_server::ids::IdSigner;
use sextant_server::predlog::{Features, LoggedPrediction, PredictionLog};

const ROWS: usize = 4096;
const WINE: [f64; 11] = [
    7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4,
];

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
    let mut group = c.benchmark_group("prediction log");
    group.sample_size(30);
    group.bench_function("write 4,096 predictions in one commit", |b| {
        b.iter_batched(
            || {
                let now = sextant::time::now_ms();
                (0..ROWS)
                    .map(|i| LoggedPrediction {
                        id: ids.issue(now, 5.0 + i as f64 / 8192.0),
                        time_ms: now,
                        prediction: 5.0 + i as f64 / 8192.0,
                        features: Some(Features::new(&WINE)),
                    })
                    .collect::<Vec<_>>()
            },
            |batch| {
                rt.block_on(async {
                    log.record(batch).await;
                    log.flush().await;
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, write);
criterion_main!(benches);
