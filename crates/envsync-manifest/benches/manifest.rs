//! Benchmark: parse and validate a generated manifest of 5,000 components, and write and
//! re-read its lock; prints median times against the 50 ms goal.

use std::path::Path;
use std::time::{Duration, Instant};

use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent, Manifest};

const COMPONENTS: usize = 5_000;
const GOAL: Duration = Duration::from_millis(50);

/// A realistic mix: Debian packages with exact versions and wildcards, PyPI specifiers,
/// npm ranges, a few services and environment variables.
fn generate() -> String {
    let mut text = String::from(
        "[project]\nname = \"bench\"\n\n[base]\nimage = \"debian:bookworm\"\n\n[runtimes]\npython = \"3.11\"\nnode = \"18\"\n\n[apt]\n",
    );
    let apt = COMPONENTS * 2 / 5;
    let pypi = COMPONENTS * 2 / 5;
    let npm = COMPONENTS - apt - pypi - 12;
    for i in 0..apt {
        if i % 3 == 0 {
            text.push_str(&format!("lib-bench{i} = \"{}.{}.*\"\n", i % 7, i % 13));
        } else {
            text.push_str(&format!(
                "lib-bench{i} = \"1:{}.{}.{}-1~deb12u{}\"\n",
                i % 7,
                i % 13,
                i % 5,
                i % 4 + 1
            ));
        }
    }
    text.push_str("\n[python.packages]\n");
    for i in 0..pypi {
        let spec = match i % 3 {
            0 => format!("=={}.{}.{}", i % 9, i % 11, i % 4),
            1 => format!("~={}.{}", i % 9 + 1, i % 11),
            _ => format!(">={}.0,<{}", i % 9, i % 9 + 1),
        };
        text.push_str(&format!("py-bench-{i} = \"{spec}\"\n"));
    }
    text.push_str("\n[node.packages]\n");
    for i in 0..npm {
        let range = if i % 2 == 0 {
            format!("^{}.{}.0", i % 5 + 1, i % 17)
        } else {
            format!("{}.{}.{}", i % 5, i % 17, i % 3)
        };
        text.push_str(&format!("node-bench-{i} = \"{range}\"\n"));
    }
    for i in 0..6 {
        text.push_str(&format!(
            "\n[services.svc{i}]\nversion = \"{}.2\"\nport = {}\n",
            i + 1,
            5000 + i
        ));
    }
    text.push_str("\n[env]\n");
    for i in 0..4 {
        text.push_str(&format!("VAR_{i} = \"value {i}\"\n"));
    }
    text.push_str("\n[policy]\nfail_on = [\"missing\", \"changed\"]\nignore = [{ component = \"deb:tzdata\", reason = \"follows the host\", until = \"2099-03-01\" }]\n");
    text
}

/// A version satisfying one of the generated constraints (the lower bound, with `.*` as `.0`).
fn satisfying(ecosystem: Ecosystem, constraint: &str, i: usize) -> String {
    let first = constraint.split(',').next().unwrap_or(constraint);
    let bare = first.trim_start_matches(['=', '<', '>', '~', '^', ' ']);
    let bare = bare.replace(".*", ".0");
    match ecosystem {
        Ecosystem::Env | Ecosystem::File => constraint.to_string(),
        Ecosystem::Deb if !bare.contains('-') => format!("{bare}-{}", i % 3 + 1),
        _ => bare,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Run `f` at least 5 times and until about one second has passed.
fn measure(mut f: impl FnMut()) -> (Duration, usize) {
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < Duration::from_secs(1) && samples.len() < 200) {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let n = samples.len();
    (median(samples), n)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let text = generate();
    let file = Path::new("envsync.toml");
    let manifest = match Manifest::parse(&text, file) {
        Ok(m) => m,
        Err(errors) => {
            eprintln!("the generated manifest does not validate:\n{errors}");
            std::process::exit(2);
        }
    };
    let declared = manifest.declared().len();

    let (parse, runs) = measure(|| {
        let m = Manifest::parse(std::hint::black_box(&text), file);
        std::hint::black_box(m.is_ok());
    });
    // The peer: TOML parsing alone, which any manifest reader pays.
    let (toml_only, _) = measure(|| {
        let doc = toml_edit::ImDocument::parse(std::hint::black_box(text.as_str()));
        std::hint::black_box(doc.is_ok());
    });
    println!(
        "manifest parse+validate, {declared} components: {} (goal < {}; median of {runs} runs, {} bytes)",
        ms(parse),
        ms(GOAL),
        text.len()
    );
    let constraints: Vec<(Ecosystem, String)> = manifest
        .declared()
        .iter()
        .map(|d| (d.ecosystem, d.constraint.clone()))
        .collect();
    let (constraints_only, _) = measure(|| {
        for (eco, text) in &constraints {
            std::hint::black_box(envsync_manifest::version::Constraint::parse(*eco, text).is_ok());
        }
    });
    println!(
        "  peer: TOML parse alone (toml_edit with spans) {}; validation adds {:.2}x; of which constraint parsing {}",
        ms(toml_only),
        parse.as_secs_f64() / toml_only.as_secs_f64(),
        ms(constraints_only)
    );

    // A lock holding every declared component, pinned to a version that satisfies it.
    let components: Vec<LockedComponent> = manifest
        .declared()
        .iter()
        .enumerate()
        .map(|(i, d)| LockedComponent {
            arch: (d.ecosystem == Ecosystem::Deb).then(|| "amd64".to_string()),
            location: d.location.clone(),
            declared: true,
            ..LockedComponent::new(
                d.ecosystem,
                &d.name,
                &satisfying(d.ecosystem, &d.constraint, i),
            )
        })
        .collect();
    let lock = Lock::new(
        manifest.sha256.clone(),
        LockedBase {
            image: manifest.base.image.clone(),
            digest: None,
        },
        components,
    );
    let lock_text = lock.to_string_canonical();
    let (write, _) = measure(|| {
        std::hint::black_box(lock.to_string_canonical().len());
    });
    let (read, _) = measure(|| {
        std::hint::black_box(Lock::parse(&lock_text, Path::new("envsync.lock")).is_ok());
    });
    let problems = lock.check(&manifest);
    if !problems.is_empty() {
        eprintln!(
            "the generated lock does not satisfy its manifest: {}",
            problems[0]
        );
        std::process::exit(2);
    }
    let (check, _) = measure(|| {
        std::hint::black_box(lock.check(&manifest).len());
    });
    let (lock_toml_only, _) = measure(|| {
        let doc = toml_edit::ImDocument::parse(std::hint::black_box(lock_text.as_str()));
        std::hint::black_box(doc.is_ok());
    });
    println!(
        "lock of {} components: write {}, parse {} (TOML alone {}), check against the manifest {}",
        lock.components.len(),
        ms(write),
        ms(read),
        ms(lock_toml_only),
        ms(check)
    );
    let verdict = if parse < GOAL { "met" } else { "MISSED" };
    println!(
        "goal {verdict}: parse+validate {} vs {} ({:.1}x headroom)",
        ms(parse),
        ms(GOAL),
        GOAL.as_secs_f64() / parse.as_secs_f64()
    );
}
