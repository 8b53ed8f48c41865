//! Writing files so that a reader never sees half of one: a temporary file beside the
//! target, written, synced and renamed into place. Private keys are created with mode 0600
//! from the start, never chmod-ed afterwards.
//!
//! A target that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written in
//! place instead: renaming over it would replace the device or pipe with a file. A target
//! reached through a symbolic link is replaced where the link points, and the link stays.
//!
//! A streamed output ([`PendingFile`]) holds an advisory lock on its temporary file while it
//! is written; the operating system drops it when the writer dies, even by SIGKILL. The
//! next writer of the same target removes the temporary files it finds unlocked: what
//! killed runs left behind, never what another live run is writing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a file we write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileMode {
    /// Owner read/write only (0600): private keys.
    Private,
    /// Owner read/write, others read (0644): certificates, configs, results.
    Public,
}

/// Whether an existing target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overwrite {
    /// Replace it.
    Allow,
    /// Refuse with `AlreadyExists`.
    Refuse,
}

/// A temporary file beside `path`: `.{name}.{16 hex digits}.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    let nonce: u64 = {
        let mut b = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
            .unwrap_or_default();
        u64::from_le_bytes(b)
    };
    path.with_file_name(format!("{}{nonce:016x}.tmp", temp_prefix(path)))
}

/// What the names of `path`'s temporary files start with ([`temp_path`]).
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy());
    format!(".{name}.")
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Where an output goes.
enum Destination {
    /// A regular file, or none yet: written beside it and renamed over it (this path, with
    /// any symbolic links resolved).
    Replace(PathBuf),
    /// A device, FIFO or socket: opened and written as it is.
    InPlace,
}

fn destination(path: &Path) -> io::Result<Destination> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(Destination::Replace(fs::canonicalize(path)?)),
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a directory: name a file", path.display()),
        )),
        Ok(_) => Ok(Destination::InPlace),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Destination::Replace(path.to_owned())),
        Err(e) => Err(e),
    }
}

/// Write `data` to `path` atomically with the given mode.
pub fn write_atomic(
    path: &Path,
    data: &[u8],
    mode: FileMode,
    overwrite: Overwrite,
) -> io::Result<()> {
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        ));
    }
    let path = match destination(path)? {
        Destination::Replace(path) => path,
        Destination::InPlace => {
            return OpenOptions::new().write(true).open(path)?.write_all(data);
        }
    };
    let path = path.as_path();
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = create_new(&tmp, mode)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        if overwrite == Overwrite::Refuse {
            // hard_link fails if the target appeared meanwhile: no silent replacement.
            fs::hard_link(&tmp, path)?;
            fs::remove_file(&tmp)?;
        } else {
            fs::rename(&tmp, path)?;
        }
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Create a new file (failing if it exists) with the given mode.
pub fn create_new(path: &Path, mode: FileMode) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(match mode {
            FileMode::Private => 0o600,
            FileMode::Public => 0o644,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path)
}

/// Create `tmp` (which must not exist) with an exclusive advisory lock on it, held until
/// the file is closed. It is created under another name and takes its own only once
/// locked, so [`remove_leftovers`] never finds it unlocked while its writer lives. Where
/// the file system has no locks, it is created unlocked (and leftovers are then kept).
fn create_locked(tmp: &Path, mode: FileMode) -> io::Result<File> {
    let staging = tmp.with_extension("new");
    let file = create_new(&staging, mode)?;
    // Err: no locks here; remove_leftovers cannot lock the others either, so keeps them.
    let _ = file.try_lock();
    if let Err(e) = fs::rename(&staging, tmp) {
        let _ = fs::remove_file(&staging);
        return Err(e);
    }
    Ok(file)
}

/// Remove the temporary files of `target` (named as [`temp_path`] names them) that no live
/// writer holds locked: the partial outputs of killed runs. `ours` is kept. Best effort: a
/// file that cannot be read, locked or removed stays.
fn remove_leftovers(target: &Path, ours: &Path) {
    let prefix = temp_prefix(target);
    let Ok(entries) = fs::read_dir(parent_dir(target)) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let nonce = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"));
        let is_temp =
            nonce.is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        let path = entry.path();
        if !is_temp || path == ours {
            continue;
        }
        if let Ok(leftover) = File::open(&path) {
            if leftover.try_lock().is_ok() {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

/// fsync the directory holding `path`, so a rename survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(parent_dir(path))?.sync_all()?;
    Ok(())
}

/// A file being written under a temporary name, renamed into place by `commit` and
/// removed if dropped uncommitted: streamed outputs never leave half a file behind. (A
/// device or FIFO target is written in place, as it is streamed.)
///
/// A long output is synced behind the writing, on a thread of its own, every
/// 16 MiB, so the sync in `commit` has little left to write.
pub struct PendingFile {
    /// The temporary file and the target it becomes; `None` when written in place.
    rename: Option<(PathBuf, PathBuf)>,
    file: Option<io::BufWriter<File>>,
    /// Bytes written since the last sync behind was started (or asked for).
    unsynced: u64,
    /// The sync behind in progress, if any.
    syncing: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// How many bytes of a [`PendingFile`] are written between two syncs behind.
pub const SYNC_BEHIND: u64 = 16 << 20;

/// The write buffer of a [`PendingFile`]: `issue-batch` writes about 2 KB a result line,
/// and the usual 8 KiB would mean a system call every four lines (BENCHMARKS.md).
pub const WRITE_BUFFER: usize = 256 << 10;

impl PendingFile {
    /// Start writing what will become `target`.
    pub fn create(target: &Path, mode: FileMode) -> io::Result<Self> {
        let (file, rename) = match destination(target)? {
            Destination::Replace(target) => {
                let tmp = temp_path(&target);
                let file = create_locked(&tmp, mode)?;
                remove_leftovers(&target, &tmp);
                (file, Some((tmp, target)))
            }
            Destination::InPlace => (OpenOptions::new().write(true).open(target)?, None),
        };
        Ok(PendingFile {
            rename,
            file: Some(io::BufWriter::with_capacity(WRITE_BUFFER, file)),
            unsynced: 0,
            syncing: None,
        })
    }

    /// Sync and rename into place.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        let f = f.into_inner().map_err(|e| e.into_error())?;
        self.finish_sync_behind()?;
        match &self.rename {
            Some((tmp, target)) => {
                f.sync_all()?;
                fs::rename(tmp, target)?;
                sync_parent(target)
            }
            None => Ok(()),
        }
    }

    /// Start syncing what is written so far on a thread of its own, unless the last sync
    /// behind is still running (the next one then covers this part too). A file written in
    /// place (a device, a FIFO) is not synced.
    fn sync_behind(&mut self) -> io::Result<()> {
        self.unsynced = 0;
        if self.rename.is_none() || self.syncing.as_ref().is_some_and(|s| !s.is_finished()) {
            return Ok(());
        }
        self.finish_sync_behind()?;
        let file = self.file()?.get_ref().try_clone()?;
        self.syncing = Some(
            std::thread::Builder::new()
                .name("mimi-sync".into())
                .spawn(move || file.sync_data())?,
        );
        Ok(())
    }

    /// Wait for the sync behind in progress; its failure is the output's.
    fn finish_sync_behind(&mut self) -> io::Result<()> {
        match self.syncing.take() {
            Some(sync) => sync
                .join()
                .map_err(|_| io::Error::other("syncing the output stopped unexpectedly"))?,
            None => Ok(()),
        }
    }

    fn file(&mut self) -> io::Result<&mut io::BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the output was already committed"))
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file()?.write(buf)?;
        self.unsynced += written as u64;
        if self.unsynced >= SYNC_BEHIND {
            self.sync_behind()?;
        }
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let (Some(_), Some((tmp, _))) = (self.file.take(), &self.rename) {
            let _ = fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_modes_and_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_atomic(&p, b"secret", FileMode::Private, Overwrite::Refuse).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let e = write_atomic(&p, b"other", FileMode::Private, Overwrite::Refuse).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"secret");
        write_atomic(&p, b"new", FileMode::Private, Overwrite::Allow).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    /// A FIFO (as `/dev/null` or `/dev/stdout` would be) is written in place, never
    /// replaced by a file; a symbolic link keeps pointing where it did.
    #[cfg(unix)]
    #[test]
    fn special_files_are_written_in_place_and_links_kept() {
        use std::io::Read;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        match std::process::Command::new("mkfifo").arg(&fifo).status() {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("SKIPPED the FIFO half of this test: mkfifo failed ({other:?})");
                return;
            }
        }
        for write in [
            |p: &Path| write_atomic(p, b"one", FileMode::Public, Overwrite::Allow),
            |p: &Path| {
                let mut f = PendingFile::create(p, FileMode::Private)?;
                f.write_all(b"one")?;
                f.commit()
            },
        ] {
            let reader = {
                let fifo = fifo.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    File::open(&fifo).unwrap().read_to_end(&mut got).unwrap();
                    got
                })
            };
            write(&fifo).unwrap();
            // Checked before waiting for the reader: had the FIFO been renamed over, the
            // reader would wait forever for a writer.
            assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
            assert_eq!(reader.join().unwrap(), b"one");
        }
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );

        let real = dir.path().join("real.pem");
        let link = dir.path().join("link.pem");
        fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", FileMode::Public, Overwrite::Allow).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        let mut f = PendingFile::create(&link, FileMode::Public).unwrap();
        f.write_all(b"newer").unwrap();
        f.commit().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"newer");

        let e = write_atomic(dir.path(), b"x", FileMode::Public, Overwrite::Allow).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn pending_file_vanishes_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        {
            let mut f = PendingFile::create(&p, FileMode::Public).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = PendingFile::create(&p, FileMode::Public).unwrap();
        f.write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
    }

    /// An output longer than a few [`SYNC_BEHIND`]s is synced behind the writing and ends
    /// up whole; one dropped while a sync behind may still run leaves nothing behind.
    #[test]
    fn a_long_pending_file_is_synced_behind_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let line: Vec<u8> = (0..=255u8).cycle().take(4093).chain(*b"\n\n\n").collect();
        let lines = (3 * SYNC_BEHIND as usize) / line.len() + 7;
        let mut f = PendingFile::create(&p, FileMode::Public).unwrap();
        for _ in 0..lines {
            f.write_all(&line).unwrap();
        }
        assert!(f.syncing.is_some(), "a sync behind was started");
        f.commit().unwrap();
        let written = fs::read(&p).unwrap();
        assert_eq!(written.len(), lines * line.len());
        assert!(written
            .chunks(line.len())
            .all(|chunk| chunk == line.as_slice()));

        let mut f = PendingFile::create(&dir.path().join("dropped"), FileMode::Public).unwrap();
        for _ in 0..lines {
            f.write_all(&line).unwrap();
        }
        drop(f);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("out.jsonl")]);
    }

    /// A new output of a target removes the partial outputs that dead writers left behind
    /// (unlocked temporary files of that target), and keeps the one a live writer holds and
    /// every other file.
    #[test]
    fn leftovers_of_dead_writers_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let name = |n: &str| dir.path().join(n);
        fs::write(name(".out.jsonl.0123456789abcdef.tmp"), b"killed run").unwrap();
        let live = File::create(name(".out.jsonl.fedcba9876543210.tmp")).unwrap();
        live.try_lock().unwrap();
        for other in [
            ".out.jsonl.notes.tmp",
            ".other.jsonl.0123456789abcdef.tmp",
            "out.jsonl.0123456789abcdef.tmp",
        ] {
            fs::write(name(other), b"not ours").unwrap();
        }
        let mut f = PendingFile::create(&p, FileMode::Public).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".other.jsonl.0123456789abcdef.tmp",
                ".out.jsonl.fedcba9876543210.tmp",
                ".out.jsonl.notes.tmp",
                "out.jsonl",
                "out.jsonl.0123456789abcdef.tmp",
            ]
        );
        drop(live);
    }
}
