//! Folders and files that hold sessions or secrets are private to the user
//! running sesame: folders `0700`, files `0600`, whatever the umask.
//!
//! The data folder holds the SQLite database (every session's data), the
//! cookie key and the admin key's hash; under the usual umask of `022` they
//! used to be created `0755` / `0644`, readable by every local user (issue
//! 16 item 7). SQLite creates its `-wal` and `-shm` files with the mode of
//! the database file, so creating that file `0600` before SQLite opens it
//! covers them too. Existing folders and files keep their mode (an
//! operator may have chosen it), but one that others can read is reported
//! at warn level.

use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` and any missing parents, mode `0700` (on Unix).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    warn_if_shared(dir);
    Ok(())
}

/// Creates the empty file `path`, mode `0600` (on Unix), unless it exists.
pub fn create_file(path: &Path) -> io::Result<()> {
    match options().open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_shared(path);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Writes `text` and a newline to the new file `path`, mode `0600`; fails
/// if it exists.
pub fn write_new(path: &Path, text: &str) -> io::Result<()> {
    let mut f = options().open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

fn options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// A warn line when group or others may read `path`.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "readable by other local users; sesame creates it 0700 (folders) / 0600 (files): chmod it"
                );
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_are_0700_and_files_0600_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("sesame.db");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        // An existing file is left as it is, content included.
        std::fs::write(&file, "kept").unwrap();
        create_file(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
        let key = nested.join("cookie.key");
        write_new(&key, "secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(write_new(&key, "again").is_err(), "never overwritten");
    }
}
