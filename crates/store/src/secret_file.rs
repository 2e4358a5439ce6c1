//! Secrets the shop keeps in its data directory (the storefront's session
//! key, the accounts service's token key), made once and then reused, so what
//! they sign survives a restart.
//!
//! The file is written whole to a private temporary name and then linked
//! into place, which fails if the name exists: two processes starting at
//! once both end up reading the one secret that won, and nobody ever reads a
//! half-written file. Only the owner may read it (mode 0600).

use std::{io, path::Path};

/// The secret kept at `path`, trimmed: the file's content, or, when there is
/// no file yet, `make()`, written there first (creating the directory).
pub fn read_or_create(path: &Path, make: impl FnOnce() -> String) -> io::Result<String> {
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".tmp-{}-{}", std::process::id(), rand_suffix()));
        let temp = std::path::PathBuf::from(name);
        let written = write_private(&temp, make().as_bytes()).and_then(|()| {
            match std::fs::hard_link(&temp, path) {
                // Another process made it first: use theirs.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            }
        });
        let _ = std::fs::remove_file(&temp);
        written?;
    }
    Ok(std::fs::read_to_string(path)?.trim().to_owned())
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    io::Write::write_all(&mut file, contents)?;
    file.sync_all()
}

/// Tells apart the temporary files of threads of one process.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_the_secret_once_and_keeps_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret.key");
        let first = read_or_create(&path, || "abc\n".to_owned()).unwrap();
        assert_eq!(first, "abc");
        let again = read_or_create(&path, || unreachable!("made once")).unwrap();
        assert_eq!(again, "abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    }
}
