//! The run-directory lock: one training process per run directory at a time.
//!
//! [`crate::train::train`], [`crate::train::resume`] and [`crate::train::train_or_resume`] hold
//! an exclusive advisory lock on `RUNDIR/.lock` for the whole run, so a second process (a
//! scheduler's retry while an orphaned trainer still writes, two people starting the same
//! directory) gets [`Error::RunInUse`] instead of writing into the same store. The lock is
//! `flock(2)` on Unix (`File::try_lock`): the kernel drops it when its process ends in any
//! way, `kill -9` included, so a dead run never leaves a stale lock. The file itself stays
//! behind and holds the last holder's pid and host (`{"pid": 4711, "host": "node17"}`), which
//! the refusal message quotes; its content is only informative, the lock is the kernel's.
//! Readers ignore the file: it is not part of the store, and a directory holding only
//! `.lock` counts as empty for a new run.
//!
//! Any process can check or hold the same lock: Python's `fcntl.flock(fd, LOCK_EX | LOCK_NB)`
//! on the same file conflicts with it.
//!
//! # Network file systems
//!
//! Advisory locks are only as good as the file system's. On Linux, NFS clients implement
//! `flock` with NFS byte-range locks (NFSv4 locking, or the NLM side protocol on NFSv3), which
//! other clients see: the lock holds across nodes, unless the file system is mounted with
//! `local_lock=flock`, `local_lock=all` or `nolock`, in which case it only excludes processes
//! on the same node. Lustre needs its `flock` mount option (without it the call fails, and the
//! run goes on unlocked with a warning); other cluster file systems (GPFS, BeeGFS, CephFS)
//! implement `flock` across nodes. A node that loses contact with an NFSv4 server loses its
//! locks when its lease expires (90 s by default).

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// A held run-directory lock; dropping it (or ending the process) releases it.
#[derive(Debug)]
pub struct RunLock {
    /// `None` when the file system does not support locks (the run goes on unlocked).
    file: Option<File>,
    path: PathBuf,
    unsupported: Option<String>,
}

impl RunLock {
    /// Takes the lock of the run directory `dir` (which must exist) without waiting, and writes
    /// this process's pid and host into the lock file.
    ///
    /// A file system without advisory locks (`ENOLCK`, `ENOSYS`, `EOPNOTSUPP`: e.g. Lustre
    /// mounted without `flock`) gives an unlocked `RunLock` whose
    /// [`RunLock::unsupported`] says why, so that training still runs there.
    ///
    /// # Errors
    /// [`Error::RunInUse`] naming the holder when another process holds the lock;
    /// [`Error::Io`] when the lock file cannot be opened.
    ///
    /// # Examples
    /// ```
    /// use anodiff_trainers::lock::RunLock;
    /// use anodiff_trainers::Error;
    /// let dir = tempfile::tempdir()?;
    /// let held = RunLock::acquire(dir.path())?;
    /// // A second open file description conflicts even within one process.
    /// assert!(matches!(RunLock::acquire(dir.path()), Err(Error::RunInUse { .. })));
    /// drop(held);
    /// RunLock::acquire(dir.path())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: the holder's pid and host must survive a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::RunInUse {
                    dir: dir.to_path_buf(),
                    holder: read_holder(&mut file),
                })
            }
            Err(TryLockError::Error(e)) if lock_unsupported(&e) => {
                return Ok(RunLock {
                    file: None,
                    unsupported: Some(format!(
                        "{} cannot be locked ({e}): another process could train into {} at \
                         the same time; mount the file system with lock support (e.g. Lustre's \
                         `flock` option) to have runs protected",
                        path.display(),
                        dir.display()
                    )),
                    path,
                })
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let text = format!(
            "{}\n",
            serde_json::json!({"pid": std::process::id(), "host": hostname()})
        );
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(RunLock {
            file: Some(file),
            path,
            unsupported: None,
        })
    }

    /// Why the run is not locked, when the file system does not support advisory locks.
    pub fn unsupported(&self) -> Option<&str> {
        self.unsupported.as_deref()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the lock is held (false only on a file system without lock support).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }
}

/// "pid N on HOST" from a lock file's content, or a placeholder when the holder has not
/// written it yet (it writes right after locking) or it is unreadable.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let parsed = file
        .read_to_string(&mut text)
        .ok()
        .and_then(|_| serde_json::from_str::<serde_json::Value>(&text).ok());
    match parsed {
        Some(v) => match (v["pid"].as_u64(), v["host"].as_str()) {
            (Some(pid), Some(host)) => format!("pid {pid} on {host}"),
            (Some(pid), None) => format!("pid {pid}"),
            _ => "holder not recorded".into(),
        },
        None => "holder not recorded".into(),
    }
}

/// The errors by which a file system says it has no advisory locks.
fn lock_unsupported(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if let Some(code) = e.raw_os_error() {
        return [libc::ENOLCK, libc::ENOSYS, libc::EOPNOTSUPP, libc::ENOTSUP].contains(&code);
    }
    e.kind() == std::io::ErrorKind::Unsupported
}

/// This machine's host name, for the lock file.
pub fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for `buf.len()` bytes; gethostname writes at most that
        // many and the result is read up to the first NUL (or the buffer's end).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if end > 0 {
                return String::from_utf8_lossy(&buf[..end]).into_owned();
            }
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "an unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_others_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunLock::acquire(dir.path()).unwrap();
        assert!(a.is_held() && a.unsupported().is_none());
        let e = RunLock::acquire(dir.path()).unwrap_err();
        let Error::RunInUse { holder, .. } = &e else {
            panic!("expected RunInUse, got {e}");
        };
        assert_eq!(
            holder,
            &format!("pid {} on {}", std::process::id(), hostname())
        );
        let msg = e.to_string();
        assert!(
            msg.contains("is in use by another training process")
                && msg.contains(&dir.path().display().to_string()),
            "{msg}"
        );
        drop(a);
        // Released: the next holder rewrites the file rather than appending to it.
        let b = RunLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(b.path()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn an_empty_or_foreign_lock_file_gives_a_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "").unwrap();
        let f = File::open(&path).unwrap();
        f.try_lock().unwrap();
        let e = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(e.contains("holder not recorded"), "{e}");
        // An unlocked stale file (its holder died) is no obstacle.
        drop(f);
        RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = RunLock::acquire(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().contains(LOCK_FILE), "{e}");
    }
}
