//! `envsync lock --update NAME…`: which locked components a name frees to be resolved
//! again. Debian packages and Python distributions can be updated one by one (see
//! [`crate::from_manifest::take_out_of_lock`]); the others come with their image.

use envsync_manifest::Ecosystem;

/// A name given to `envsync lock --update` that selects nothing it can update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`--update {text}`: {reason}")]
pub struct UpdateNameError {
    pub text: String,
    pub reason: String,
}

/// `NAME` or `ECOSYSTEM:NAME` (`openssl`, `deb:openssl`, `pypi:django`): the ecosystem,
/// when one is named, and the name.
pub fn parse_update_name(text: &str) -> Result<(Option<Ecosystem>, String), UpdateNameError> {
    let refuse = |reason: String| UpdateNameError {
        text: text.to_string(),
        reason,
    };
    match text.split_once(':') {
        Some((eco, name)) => match Ecosystem::parse(eco) {
            Some(e @ (Ecosystem::Deb | Ecosystem::Pypi)) if !name.is_empty() => {
                Ok((Some(e), name.to_string()))
            }
            Some(e) => Err(refuse(format!(
                "`{e}` components are not updated one by one; write `deb:NAME` or `pypi:NAME`, or `--update` alone to resolve everything"
            ))),
            None => Err(refuse(format!(
                "unknown ecosystem `{eco}`; write `deb:NAME`, `pypi:NAME` or just `NAME`"
            ))),
        },
        None if !text.is_empty() => Ok((None, text.to_string())),
        None => Err(refuse(
            "`--update` takes component names, e.g. `--update openssl pypi:django`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_an_ecosystem() {
        assert_eq!(
            parse_update_name("openssl").unwrap(),
            (None, "openssl".into())
        );
        assert_eq!(
            parse_update_name("pypi:Django").unwrap(),
            (Some(Ecosystem::Pypi), "Django".into())
        );
        let refused = |text: &str| parse_update_name(text).unwrap_err().to_string();
        assert_eq!(
            refused("npm:left-pad"),
            "`--update npm:left-pad`: `npm` components are not updated one by one; write `deb:NAME` or `pypi:NAME`, or `--update` alone to resolve everything"
        );
        assert!(refused("debian:curl").contains("unknown ecosystem `debian`"));
        assert!(refused("deb:").contains("not updated one by one"));
        assert!(refused("").contains("takes component names"));
    }
}
