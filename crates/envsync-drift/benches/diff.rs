//! Benchmark of `compare::diff` on large snapshots: 100,000 and 200,000 packages per
//! side, printing the median time of each and their ratio (goal: < 100 ms for 100,000
//! in release, and about 2x for twice the size). Run with `cargo bench -p envsync-drift
//! --bench diff`. It never asserts a wall-clock time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use envsync_drift::compare::diff;
use envsync_drift::{Package, Snapshot};
use envsync_manifest::Ecosystem;

/// A snapshot of `n` packages spread over the package ecosystems. `variant` changes
/// about 5% of versions, drops 1% and adds 1%, so the diff has work of every kind.
fn snapshot(n: usize, variant: bool) -> Snapshot {
    let ecosystems = [
        Ecosystem::Deb,
        Ecosystem::Pypi,
        Ecosystem::Npm,
        Ecosystem::Rpm,
    ];
    let mut s = empty(if variant { "b" } else { "a" });
    for i in 0..n {
        if variant && i % 100 == 7 {
            continue;
        }
        let eco = ecosystems[i % ecosystems.len()];
        let patch = if variant && i % 20 == 3 {
            10 + i % 7
        } else {
            9
        };
        s.packages.push(Package {
            ecosystem: eco,
            name: format!("package-{i:07}"),
            version: format!("{}.{}.{patch}-1", 1 + i % 5, i % 13),
            arch: (eco == Ecosystem::Deb).then(|| "amd64".to_string()),
            location: None,
            size: None,
            mode: None,
        });
    }
    if variant {
        for i in 0..n / 100 {
            s.packages.push(Package {
                ecosystem: Ecosystem::Npm,
                name: format!("extra-{i:07}"),
                version: "1.0.0".into(),
                arch: None,
                location: None,
                size: None,
                mode: None,
            });
        }
    }
    s.packages.sort_by(|a, b| a.key().cmp(&b.key()));
    s
}

fn empty(target: &str) -> Snapshot {
    Snapshot {
        schema: envsync_drift::SNAPSHOT_SCHEMA.to_string(),
        target: target.to_string(),
        collected_at: None,
        digest: None,
        complete: true,
        hash_key: None,
        on_path: Default::default(),
        os: None,
        packages: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Median and fastest time of `runs` diffs of two `n`-package snapshots, and the number
/// of drift entries found. The fastest run is the least disturbed by other processes on
/// a shared machine; both are printed.
fn time_diff(n: usize, runs: usize) -> (Duration, Duration, usize) {
    let (a, b) = (snapshot(n, false), snapshot(n, true));
    let mut times = Vec::with_capacity(runs);
    let mut drift = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let d = black_box(diff(black_box(&a), black_box(&b)));
        times.push(start.elapsed());
        drift = d.drift.len();
    }
    times.sort();
    (times[runs / 2], times[0], drift)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs = 15;
    let (med1, min1, d1) = time_diff(100_000, runs);
    let (med2, min2, d2) = time_diff(200_000, runs);
    println!("diff 100000 packages/side: median {:>7.2} ms, fastest {:>7.2} ms of {runs} runs ({d1} drift entries)", ms(med1), ms(min1));
    println!("diff 200000 packages/side: median {:>7.2} ms, fastest {:>7.2} ms of {runs} runs ({d2} drift entries)", ms(med2), ms(min2));
    println!(
        "ratio 200k/100k: median {:.2}, fastest {:.2} (linear is 2.00; goal for 100k: < 100 ms)",
        ms(med2) / ms(med1),
        ms(min2) / ms(min1)
    );
}
