//! Writing files so that a reader never sees half of one: a temporary file beside the
//! target, written, synced and renamed into place. Private keys are created with mode 0600
//! from the start, never chmod-ed afterwards.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a file we write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// Owner read/write only (0600): private keys.
    Private,
    /// Owner read/write, others read (0644): certificates, configs, results.
    Public,
}

/// Whether an existing target may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace it.
    Allow,
    /// Refuse with `AlreadyExists`.
    Refuse,
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let nonce: u64 = {
        let mut b = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
            .unwrap_or_default();
        u64::from_le_bytes(b)
    };
    path.with_file_name(format!(".{name}.{nonce:016x}.tmp"))
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

/// fsync the directory holding `path`, so a rename survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// A file being written under a temporary name, renamed into place by `commit` and
/// removed if dropped uncommitted: streamed outputs never leave half a file behind.
pub struct PendingFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl PendingFile {
    /// Start writing what will become `target`.
    pub fn create(target: &Path, mode: FileMode) -> io::Result<Self> {
        let tmp = temp_path(target);
        let file = create_new(&tmp, mode)?;
        Ok(PendingFile {
            tmp,
            target: target.to_owned(),
            file: Some(io::BufWriter::new(file)),
        })
    }

    /// Sync and rename into place.
    pub fn commit(mut self) -> io::Result<()> {
        let f = self.file.take().expect("commit consumes the file once");
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&self.tmp, &self.target)?;
        sync_parent(&self.target)
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("open until commit").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open until commit").flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
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
}
