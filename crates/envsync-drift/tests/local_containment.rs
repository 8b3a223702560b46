//! `local:/path` never reads outside its root, even while the tree is renamed under
//! it. What was seen: a loop swapping `etc` with a symbolic link to the host's `/etc`
//! made 22 of 400 collections report the host's os-release, because a path was checked
//! inside the root and then opened by name. Here `etc` and `opt` are swapped, as fast
//! as a thread can, between the tree's own directory and a link to a host-side
//! directory whose files hold a marker; no collection may ever read the marker.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use envsync_drift::collect::local::collect_root;
use envsync_drift::collect::{inventory, CollectOptions, Entry, Selector};
use rustix::fs::{renameat_with, Mode, OFlags, RenameFlags};

const MARKER: &str = "host-side-marker-7f3a";
const RUNS: usize = 300;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

/// Swap `root/NAME` with the link `root/NAME.link` (one atomic `RENAME_EXCHANGE`, so
/// `NAME` is always either the tree's directory or the link) until `stop` is set.
fn swapper(root: &Path, names: &[&str], stop: &AtomicBool) {
    let dir = rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
        .expect("open the root");
    while !stop.load(Ordering::Relaxed) {
        for name in names {
            let link = format!("{name}.link");
            renameat_with(&dir, *name, &dir, link.as_str(), RenameFlags::EXCHANGE)
                .expect("exchange");
        }
    }
}

#[test]
fn a_tree_renamed_during_collection_is_never_left() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let host = tmp.path().join("host");
    let root = tmp.path().join("root");
    write(&host.join("etc/os-release"), &format!("ID={MARKER}\n"));
    write(
        &host.join("opt/app/node_modules/hostpkg/package.json"),
        &format!("{{\"name\":\"{MARKER}\",\"version\":\"1.0.0\"}}"),
    );
    write(&root.join("etc/os-release"), "ID=treeos\n");
    write(
        &root.join("opt/app/node_modules/treepkg/package.json"),
        "{\"name\":\"treepkg\",\"version\":\"1.0.0\"}",
    );
    // Absolute links to the host-side directories: followed by the host, they leave the
    // root; resolved inside the root, they name nothing.
    symlink(host.join("etc"), root.join("etc.link")).expect("link");
    symlink(host.join("opt"), root.join("opt.link")).expect("link");

    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        std::thread::spawn(move || swapper(&root, &["etc", "opt"], &stop))
    };
    let opts = CollectOptions::default();
    let selector = Selector::new(&opts);
    let (mut tree_os, mut tree_pkg) = (0, 0);
    let mut leaked = Vec::new();
    for run in 0..RUNS {
        let files = collect_root(&root, &selector, "local:race", 1 << 20).expect("collects");
        for (path, entry) in &files.entries {
            if let Entry::File { data, .. } = entry {
                if String::from_utf8_lossy(data).contains(MARKER) {
                    leaked.push(format!("run {run}: {path}"));
                }
            }
        }
        let snap = inventory("local:race", &files, &opts, None);
        tree_os += usize::from(snap.os.as_ref().is_some_and(|o| o.id == "treeos"));
        tree_pkg += usize::from(snap.packages.iter().any(|p| p.name == "treepkg"));
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().expect("the racer ends");
    assert!(leaked.is_empty(), "read outside the root: {leaked:?}");
    // Not vacuous: the tree's own files were read while it was renamed.
    assert!(
        tree_os > 0 && tree_pkg > 0,
        "os {tree_os}, packages {tree_pkg} of {RUNS}"
    );
    eprintln!("{RUNS} runs: tree os-release in {tree_os}, tree package in {tree_pkg}");
}
