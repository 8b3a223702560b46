//! The Dockerfile's one apt layer: extra sources, the locked closure or the declared
//! pins (with their source siblings), runtime checks, and the record of every `.deb`.

use std::fmt::Write as _;

use envsync_engine::shell_quote;

use super::{
    pinned_names, sorted_pins, ARTIFACTS_DIR, AVAILABLE_MARKER, CA_DIR, CLOSURE_MARKER,
    RUNTIME_MARKER,
};
use crate::spec::{BuildSpec, Req};

/// Debian packages the runtimes need, unless the spec already lists them.
fn runtime_packages(spec: &BuildSpec) -> Vec<&'static str> {
    let mut wanted = Vec::new();
    if let Some(python) = &spec.python {
        wanted.extend(["python3", "python3-pip"]);
        if !python.venvs.is_empty() {
            wanted.push("python3-venv");
        }
    }
    if spec.node.is_some() {
        wanted.extend(["nodejs", "npm"]);
    }
    wanted
        .into_iter()
        .filter(|name| !spec.apt.iter().any(|pin| pin.name == *name))
        .collect()
}

/// The single apt layer: update, install, check the runtime versions, record the
/// artifacts of every installed package, clean the lists.
///
/// Without a lock, the declared packages are installed (exact versions where pinned);
/// an exact pin also pins the other binary packages of its source package at the same
/// version (apt preferences, `Package: src:NAME`), so that exact-version dependencies
/// such as `redis-tools (= ${binary:Version})` follow an older pin instead of breaking
/// on a newer candidate. With a lock, exactly the locked list is installed in one
/// transaction (downgrades allowed, nothing resolved anew) and then compared with what
/// dpkg has: any package not at its locked version fails the build, named.
// Over 80 lines on purpose: it writes one shell script, the apt RUN step, in the order
// the step runs; read top to bottom it is the script, which helpers would scatter.
pub(super) fn apt_run(spec: &BuildSpec) -> Option<String> {
    let runtimes = runtime_packages(spec);
    let closure = spec.locked.as_ref().is_some_and(|l| !l.debs.is_empty());
    if spec.apt.is_empty() && runtimes.is_empty() && !closure {
        return None;
    }
    let sources = &spec.sources;
    let extra_sources = !sources.apt.is_empty() || sources.apt_snapshot.is_some();
    let apt = if spec.ca_certificates.is_empty() {
        "apt-get".to_string()
    } else {
        format!("apt-get -o Acquire::https::CAInfo={CA_DIR}/ca.pem")
    };
    let mut run = String::from("RUN set -e; export LC_ALL=C; \\\n");
    if extra_sources {
        let mut lines: Vec<String> = sources.apt.iter().map(|l| format!("'{l}'")).collect();
        if let Some(snapshot) = &sources.apt_snapshot {
            lines.push(format!(
                "\"deb [check-valid-until=no] {} $(. /etc/os-release; echo \"$VERSION_CODENAME\") main\"",
                snapshot.trim_end_matches('/')
            ));
        }
        let _ = writeln!(
            run,
            "    printf '%s\\n' {} > /etc/apt/sources.list.d/envsync.list; \\",
            lines.join(" ")
        );
    }
    if closure {
        // An offline build has no network: what it installs comes from its artifacts.
        let _ = writeln!(
            run,
            "    {apt} update -q || echo 'envsync: apt-get update failed; installing from the build artifacts only'; \\"
        );
    } else {
        let _ = writeln!(run, "    {apt} update -q; \\");
    }
    if closure {
        let want = format!("{CA_DIR}/apt-closure");
        let hashes = format!("{CA_DIR}/apt-hashes");
        let have = "dpkg-query -W -f='${Package} ${Architecture} ${Version}\\n' | sort";
        // Each package not yet at its locked version: the build's artifact when it has
        // one (a .deb from the cache), else `name=version` from the sources.
        let _ = writeln!(
            run,
            "    todo=\"$({have} | comm -23 {want} - | awk -v native=\"$(dpkg --print-architecture)\" -v dir={CA_DIR}/artifacts 'NR == FNR {{ h[$1 \" \" $2 \" \" $3] = $4; next }} {{ k = $1 \" \" $2 \" \" $3; f = dir \"/\" h[k] \".deb\"; if (h[k] != \"\" && (getline line < f) >= 0) {{ close(f); print f }} else if ($2 == \"all\" || $2 == native) print $1 \"=\" $3; else print $1 \":\" $2 \"=\" $3 }}' {hashes} -)\"; \\"
        );
        let updates: Vec<String> = spec
            .locked
            .iter()
            .flat_map(|l| sorted_pins(&l.update_debs))
            .map(|pin| match &pin.req {
                Req::Exact(v) => shell_quote(&format!("{}={v}", pin.name)),
                Req::Any | Req::Range(_) => shell_quote(&pin.name),
            })
            .collect();
        let mut wrong_filter = String::new();
        if !updates.is_empty() {
            // Taken out of the lock on purpose, with what they require: apt simulates the
            // update alone, and every package it would install or change floats with it
            // (out of the closure's exact versions); the rest stays as locked.
            let updates = updates.join(" ");
            let _ = writeln!(
                run,
                "    float=\" $({apt} -s install --no-install-recommends {updates} | awk '/^Inst / {{ print $2 }}' | tr '\\n' ' ') \"; \\"
            );
            let _ = writeln!(
                run,
                "    todo=\"$(echo \"$todo\" | awk -v f=\"$float\" '{{ n = $0; sub(/[:=].*/, \"\", n); if (index(f, \" \" n \" \") == 0) print }}') {updates}\"; \\"
            );
            wrong_filter =
                " | awk -v f=\"$float\" '{ if (index(f, \" \" $1 \" \") == 0) print }'".to_string();
        }
        let _ = writeln!(
            run,
            "    if [ -n \"$todo\" ]; then {apt} install -y -q --no-install-recommends --allow-downgrades $todo \\"
        );
        let _ = writeln!(
            run,
            "      || {{ rc=$?; for p in $(echo $todo | tr ' ' '\\n' | grep -v '^/' | sed 's/[:=].*//'); do echo \"{AVAILABLE_MARKER} apt $p: $(apt-cache madison \"$p\" | awk '{{print $3}}' | tr '\\n' ' ')\"; done; exit $rc; }}; fi; \\"
        );
        let _ = writeln!(
            run,
            "    wrong=\"$({have} | comm -23 {want} -{wrong_filter})\"; if [ -n \"$wrong\" ]; then echo \"$wrong\" | sed 's/^/{CLOSURE_MARKER} /'; exit 1; fi; \\"
        );
    }
    let mut args: Vec<String> = sorted_pins(&spec.apt)
        .into_iter()
        .map(|pin| match &pin.req {
            Req::Exact(v) => shell_quote(&format!("{}={v}", pin.name)),
            // apt installs exactly one version or the candidate; ranges take the
            // candidate and the lock records which version that was.
            Req::Any | Req::Range(_) => shell_quote(&pin.name),
        })
        .collect();
    args.extend(runtimes.iter().map(|name| name.to_string()));
    let exact: Vec<String> = sorted_pins(&spec.apt)
        .into_iter()
        .filter_map(|pin| {
            pin.exact_version()
                .map(|v| shell_quote(&format!("{}={v}", pin.name)))
        })
        .collect();
    if !closure && !exact.is_empty() {
        let _ = writeln!(
            run,
            "    for pv in {}; do p=\"${{pv%%=*}}\"; v=\"${{pv#*=}}\"; src=\"$(apt-cache show \"$pv\" 2>/dev/null | sed -n 's/^Source: \\([^ ]*\\).*/\\1/p' | head -n 1)\"; printf 'Package: src:%s\\nPin: version %s\\nPin-Priority: 1001\\n\\n' \"${{src:-$p}}\" \"$v\"; done > /etc/apt/preferences.d/envsync-pins; \\",
            exact.join(" ")
        );
    }
    // With a closure the declared packages and runtimes are in it, at their locked
    // versions: installing them by name again could only move them to the candidate.
    if !args.is_empty() && !closure {
        let _ = write!(
            run,
            "    {apt} install -y -q --no-install-recommends {}",
            args.join(" ")
        );
        let pinned = pinned_names(&spec.apt);
        if pinned.is_empty() {
            run.push_str("; \\\n");
        } else {
            let _ = write!(
                run,
                " \\\n      || {{ rc=$?; for p in {pinned}; do echo \"{AVAILABLE_MARKER} apt $p: $(apt-cache madison \"$p\" | awk '{{print $3}}' | tr '\\n' ' ')\"; done; exit $rc; }}; \\\n"
            );
        }
    }
    if let Some(version) = spec.python.as_ref().and_then(|p| p.version.as_deref()) {
        let _ = writeln!(
            run,
            "    {}; \\",
            runtime_check(
                "python",
                version,
                "python3 -c 'import platform; print(platform.python_version())'"
            )
        );
    }
    if let Some(version) = spec.node.as_ref().and_then(|n| n.version.as_deref()) {
        let _ = writeln!(
            run,
            "    {}; \\",
            runtime_check("node", version, "node -p process.versions.node")
        );
    }
    // The sha256 and pool path of every installed package's .deb, from the index apt
    // has right now (a package no index offers any more is recorded without one).
    let _ = writeln!(
        run,
        "    mkdir -p {ARTIFACTS_DIR}; dpkg-query -W -f='${{Package}}:${{Architecture}}=${{Version}}\\n' | sed 's/:all=/=/' | xargs -r apt-cache show --no-all-versions 2>/dev/null \\"
    );
    let _ = writeln!(
        run,
        "      | awk 'BEGIN {{ RS = \"\"; FS = \"\\n\" }} {{ p = v = a = h = f = \"\"; for (i = 1; i <= NF; i++) {{ if ($i ~ /^Package: /) p = substr($i, 10); else if ($i ~ /^Version: /) v = substr($i, 10); else if ($i ~ /^Architecture: /) a = substr($i, 15); else if ($i ~ /^SHA256: /) h = substr($i, 9); else if ($i ~ /^Filename: /) f = substr($i, 11) }} if (p != \"\" && h != \"\" && !seen[p \" \" a \" \" v]++) print \"deb\\t\" p \"\\t\" a \"\\t\" v \"\\t\" h \"\\t\" f }}' > {ARTIFACTS_DIR}/debs.tsv; \\"
    );
    run.push_str("    rm -rf /var/lib/apt/lists/* /etc/apt/preferences.d/envsync-pins /etc/apt/sources.list.d/envsync.list /etc/apt/trusted.gpg.d/envsync-*.asc");
    Some(run)
}

fn runtime_check(runtime: &str, wanted: &str, probe: &str) -> String {
    let wanted_q = shell_quote(wanted);
    format!(
        "found=\"$({probe})\"; case \"$found\" in {wanted_q}|{wanted_q}.*) ;; *) echo \"{RUNTIME_MARKER} {runtime} wanted {wanted} found $found\"; exit 1;; esac"
    )
}
