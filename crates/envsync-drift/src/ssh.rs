//! Collection from a server over SSH: ONE call of the system `ssh` with the user's own
//! configuration, keys and known hosts, the collection script on its stdin.
//!
//! `ssh -o BatchMode=yes -o ConnectTimeout=10 [-F $ENVSYNC_SSH_CONFIG] [-p PORT] -- [USER@]HOST sh -s`;
//! the destination was checked by `envsync_manifest::destination` when the target was parsed.
//! `ENVSYNC_SSH` names another ssh program; `ENVSYNC_SSH_CONFIG` an ssh config file
//! (passed as `-F`), for when the default `~/.ssh/config` is not the one to use.

use crate::collect::command;
use crate::collect::script::{collection_script, parse_output};
use crate::collect::{CollectOptions, FileSet, Selector};
use crate::error::DriftError;

/// The ssh command line (program, arguments) for a destination.
pub fn ssh_command(user: Option<&str>, host: &str, port: Option<u16>) -> (String, Vec<String>) {
    let program = std::env::var("ENVSYNC_SSH")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "ssh".to_string());
    let mut args: Vec<String> = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(config) = std::env::var("ENVSYNC_SSH_CONFIG")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        args.push("-F".into());
        args.push(config);
    }
    if let Some(p) = port {
        args.push("-p".into());
        args.push(p.to_string());
    }
    // `--` ends options, so a host can never be read as one.
    args.push("--".into());
    args.push(match user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    });
    args.push("sh".into());
    args.push("-s".into());
    (program, args)
}

/// Collect from `ssh://[user@]host[:port]` (`target` is that text, for messages).
pub async fn collect_ssh(
    target: &str,
    user: Option<&str>,
    host: &str,
    port: Option<u16>,
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let selector = Selector::new(opts);
    let script = collection_script(&selector, opts.collect_env);
    let (program, args) = ssh_command(user, host, port);
    let out = command::run(
        &program,
        &args,
        script.as_bytes(),
        opts.timeout,
        opts.max_total_bytes,
        target,
    )
    .await?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.code == Some(255) || out.stdout.is_empty() {
        return Err(DriftError::Ssh {
            target: target.to_string(),
            code: out.code.map_or("signal".to_string(), |c| c.to_string()),
            stderr: if stderr.is_empty() {
                "no output".to_string()
            } else {
                stderr
            },
        });
    }
    match parse_output(target, &out.stdout, &selector, opts.max_total_bytes)? {
        Some(files) => Ok(files),
        None => Err(DriftError::Malformed {
            target: target.to_string(),
            message: "the server has no `tar` or no `find`; install them to fingerprint it"
                .to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let (_, args) = ssh_command(Some("deploy"), "prod", Some(2222));
        let tail: Vec<&str> = args
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(String::as_str)
            .collect();
        assert_eq!(tail, ["2222", "--", "deploy@prod", "sh", "-s"]);
        assert!(args.contains(&"BatchMode=yes".to_string()));
    }

    /// OpenSSH stops reading options at `--`: it comes right before the destination,
    /// whatever the destination, and nothing after it starts with `-` but the remote
    /// command's own `-s`.
    #[test]
    fn options_end_before_the_destination() {
        for (user, host, port, destination) in [
            (None, "prod", None, "prod"),
            (Some("deploy"), "10.0.0.7", Some(22), "deploy@10.0.0.7"),
            (Some("root"), "::1", Some(2222), "root@::1"),
        ] {
            let (_, args) = ssh_command(user, host, port);
            let end = args.iter().position(|a| a == "--").expect("`--` is there");
            assert_eq!(args[end + 1..], [destination, "sh", "-s"]);
        }
    }
}
