//! Replays every kept fuzz input through its target on each `cargo test`: the seeds
//! `just fuzz` starts from (`fuzz/seeds/<target>/`) and every input that once crashed a
//! target (`fuzz/regressions/<target>/`, named after what it found). A panic names the
//! file that caused it.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn replay(kind: &str, min_per_target: usize) -> usize {
    let mut total = 0;
    for (name, target) in envsync_fuzz::TARGETS {
        let files = inputs(&fuzz_dir().join(kind).join(name));
        assert!(
            files.len() >= min_per_target,
            "fuzz/{kind}/{name} holds {} inputs, expected at least {min_per_target}",
            files.len()
        );
        for file in files {
            let data = std::fs::read(&file).expect("read input");
            let result = std::panic::catch_unwind(|| target(&data));
            assert!(result.is_ok(), "{name} panicked on {}", file.display());
            total += 1;
        }
    }
    total
}

/// Every target has seeds, and none of them makes it panic.
#[test]
fn seeds_pass() {
    let n = replay("seeds", 1);
    eprintln!("replayed {n} seed inputs");
}

/// Every input that once crashed a target passes now.
#[test]
fn regressions_pass() {
    let n = replay("regressions", 0);
    eprintln!("replayed {n} regression inputs");
}

/// The fuzz driver has one binary per target, named as in [`envsync_fuzz::TARGETS`].
#[test]
fn every_target_has_a_fuzz_binary() {
    for (name, _) in envsync_fuzz::TARGETS {
        let bin = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&bin).expect("fuzz target source");
        assert!(
            text.contains(&format!("envsync_fuzz::{name}(")),
            "{} does not call envsync_fuzz::{name}",
            bin.display()
        );
    }
}
