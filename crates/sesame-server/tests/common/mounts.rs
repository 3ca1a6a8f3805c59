//! File systems a test can fill up or make read-only: a small tmpfs, and a
//! file bind-mounted read-only over itself. Both need `mount` (root, or
//! CAP_SYS_ADMIN); `chmod` would not do, since it does not stop root. Every
//! mount is undone when its guard is dropped, even when the test fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn mount(args: &[&str], target: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(target)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn umount(target: &Path) {
    let ok = Command::new("umount")
        .arg(target)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // Still busy (a child not reaped yet): detach it lazily.
        let _ = Command::new("umount").arg("-l").arg(target).status();
    }
}

/// A tmpfs of a fixed size on a fresh folder; unmounted when dropped.
pub struct Tmpfs {
    /// Where it is mounted.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`"4m"`), or says why it cannot
    /// ([`super::missing`]) and returns `None`.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).unwrap();
        if !mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            &path,
        ) {
            super::missing("root (CAP_SYS_ADMIN) to mount a tmpfs");
            return None;
        }
        Some(Tmpfs { path, _dir: dir })
    }

    /// Remounts it read-only or read-write (fails while a file is open for
    /// writing on it: Linux refuses with EBUSY).
    pub fn set_read_only(&self, read_only: bool) {
        let opt = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        assert!(mount(&["-o", opt], &self.path), "mount -o {opt} failed");
    }

    /// Fills the file system with `<path>/ballast` until it is full, then
    /// gives `keep_free` bytes back; returns the ballast's path (delete it to
    /// free the space).
    pub fn fill(&self, keep_free: u64) -> PathBuf {
        let path = self.path.join("ballast");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xa5u8; 64 * 1024];
        let mut len = 0u64;
        while let Ok(n) = f.write(&chunk) {
            if n == 0 {
                break;
            }
            len += n as u64;
        }
        f.set_len(len.saturating_sub(keep_free)).unwrap();
        f.sync_all().unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        umount(&self.path);
    }
}

/// A file made read-only by bind-mounting it read-only over itself: writes
/// to it fail with EROFS, while its folder stays writable. Undone when
/// dropped.
pub struct ReadOnlyFile {
    path: PathBuf,
}

impl ReadOnlyFile {
    /// Makes `path` read-only.
    pub fn new(path: &Path) -> ReadOnlyFile {
        assert!(mount(&["--bind", &path.display().to_string()], path));
        let guard = ReadOnlyFile {
            path: path.to_owned(),
        };
        assert!(
            mount(&["-o", "remount,bind,ro"], path),
            "read-only remount of a bind mount failed"
        );
        guard
    }
}

impl Drop for ReadOnlyFile {
    fn drop(&mut self) {
        umount(&self.path);
    }
}
