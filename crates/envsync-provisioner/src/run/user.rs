//! The development container's user, when it is not root: written into the created
//! container before it starts, as the dev containers spec's `updateRemoteUserUID` does
//! for a named user, but without a build: its `/etc/passwd` and `/etc/group` are read
//! from the container, given the user's entry (its name, UID, GID, a home and root's
//! shell) and its group, and written back with an empty home directory the user owns.
//!
//! So the first process already runs as a user with a name (no `I have no name!`) and a
//! writable `HOME`, which the runtime sets from `/etc/passwd` for it and for every
//! `exec`, and no developer's UID is ever part of the shared image.

use std::io::Read as _;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::RunError;
use crate::run_error::engine_error;

/// The most bytes read of `/etc/passwd` or `/etc/group`.
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Give the created (not yet started) container `container` the user `name` with the
/// IDs `ids` (`UID:GID`, as the container's configuration has them).
pub(super) async fn add_user(
    docker: &Docker,
    container: &str,
    name: &str,
    ids: &str,
) -> Result<(), RunError> {
    let invalid = || RunError::InvalidSpec {
        field: "dev user".into(),
        problem: format!("`{ids}` is not `UID:GID`"),
    };
    let (uid, gid) = ids.split_once(':').ok_or_else(invalid)?;
    let (uid, gid): (u32, u32) = (
        uid.parse().map_err(|_| invalid())?,
        gid.parse().map_err(|_| invalid())?,
    );
    let passwd = read_file(docker, container, "/etc/passwd").await?;
    let group = read_file(docker, container, "/etc/group").await?;
    let home = format!("/home/{name}");
    let passwd = with_user(&passwd, name, uid, gid, &home);
    let group = with_group(&group, name, gid);
    let tar = archive(&passwd, &group, &home, uid, gid).map_err(|source| RunError::Io {
        doing: format!("preparing the user `{name}` for container `{container}`"),
        source,
    })?;
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    docker
        .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
        .await
        .map_err(|e| {
            engine_error(
                "writing the user's /etc/passwd into container",
                container,
                e,
            )
        })
}

/// The text of the file `path` in container `container` (an empty text when it has none).
async fn read_file(docker: &Docker, container: &str, path: &str) -> Result<String, RunError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(container, Some(options));
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) if data.len() + bytes.len() <= MAX_BYTES => data.extend_from_slice(&bytes),
            Ok(_) => {
                return Err(RunError::InvalidSpec {
                    field: format!("{path} of container `{container}`"),
                    problem: format!("more than {MAX_BYTES} bytes"),
                })
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(String::new()),
            Err(e) => {
                return Err(engine_error(
                    &format!("reading {path} of container"),
                    container,
                    e,
                ))
            }
        }
    }
    let io = |source| RunError::Io {
        doing: format!("reading {path} of container `{container}`"),
        source,
    };
    let mut archive = tar::Archive::new(data.as_slice());
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        if entry.header().entry_type().is_file() {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(io)?;
            return Ok(text);
        }
    }
    Ok(String::new())
}

/// `passwd` without any entry named `name` or with UID `uid`, and then the user's entry:
/// a user of the image with the same UID is replaced (as `updateRemoteUserUID` renumbers
/// it), so the UID has one name. The shell is root's, or `/bin/sh`.
fn with_user(passwd: &str, name: &str, uid: u32, gid: u32, home: &str) -> String {
    let uid_text = uid.to_string();
    let shell = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() == 7 && f[2] == "0")
        .map_or("/bin/sh", |f| f[6]);
    let mut out: String = passwd
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(':').collect();
            !(f.first() == Some(&name) || f.get(2) == Some(&uid_text.as_str()))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{name}:x:{uid}:{gid}:{name}:{home}:{shell}\n"));
    out
}

/// `group` with a group of GID `gid` in it: unchanged when the image has one (say
/// `users`, 100), else a group named `name` (or `envsync-GID` when that name is taken).
fn with_group(group: &str, name: &str, gid: u32) -> String {
    let fields: Vec<Vec<&str>> = group.lines().map(|l| l.split(':').collect()).collect();
    let gid_text = gid.to_string();
    let mut out: String = group.lines().map(|l| format!("{l}\n")).collect();
    if fields.iter().any(|f| f.get(2) == Some(&gid_text.as_str())) {
        return out;
    }
    let taken = fields.iter().any(|f| f.first() == Some(&name));
    let group_name = if taken {
        format!("envsync-{gid}")
    } else {
        name.to_string()
    };
    out.push_str(&format!("{group_name}:x:{gid}:\n"));
    out
}

/// A tar of `etc/passwd`, `etc/group` (root's, mode 644) and the home directory (the
/// user's, mode 755), to extract at `/`.
fn archive(passwd: &str, group: &str, home: &str, uid: u32, gid: u32) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, text) in [("etc/passwd", passwd), ("etc/group", group)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, text.as_bytes())?;
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o755);
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_entry_type(tar::EntryType::Directory);
    tar.append_data(
        &mut header,
        format!("{}/", home.trim_start_matches('/')),
        std::io::empty(),
    )?;
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\nusers:x:100:\n";

    #[test]
    fn the_user_replaces_any_entry_with_its_name_or_uid() {
        fn check(name: &str, uid: u32, expected: &str) {
            assert_eq!(with_user(PASSWD, name, uid, 100, "/home/x"), expected);
        }
        check(
            "ana",
            1000,
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nana:x:1000:100:ana:/home/x:/bin/bash\n",
        );
        check(
            "daemon",
            1001,
            "root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\ndaemon:x:1001:100:daemon:/home/x:/bin/bash\n",
        );
        assert!(with_user("", "ana", 5, 5, "/h").ends_with("ana:x:5:5:ana:/h:/bin/sh\n"));
    }

    #[test]
    fn a_group_is_added_only_for_a_new_gid() {
        fn check(name: &str, gid: u32, added: &str) {
            assert_eq!(with_group(GROUP, name, gid), format!("{GROUP}{added}"));
        }
        check("ana", 100, "");
        check("ana", 1000, "ana:x:1000:\n");
        check("staff", 1000, "envsync-1000:x:1000:\n");
    }

    #[test]
    fn archive_holds_the_files_and_a_home_the_user_owns() {
        let bytes = archive("p\n", "g\n", "/home/ana", 1000, 100).unwrap();
        let mut tar = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, u64, u64, u32)> = tar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("etc/passwd".to_string(), 0, 0, 0o644),
                ("etc/group".to_string(), 0, 0, 0o644),
                ("home/ana/".to_string(), 1000, 100, 0o755),
            ]
        );
    }
}
