//! A file still being written, followed as `tail -F` does: the source of `acdstream tail`
//! (one PBX's `queue_log`, no Kafka). The file is read from its start (the backlog, which
//! rebuilds today's windows), then polled for appended lines.
//!
//! - A line is read once its line end is written: a half-written last line waits.
//! - Rotation (the file renamed and a new one created at the path, seen as another device and
//!   inode or a smaller file at the path): the rest of the old file is read, then the new one
//!   from its start.
//! - Truncation (logrotate's `copytruncate`: the open file is shorter than what was read): the
//!   file is read again from its start. A file truncated and refilled past the old size
//!   between two looks cannot be told from one that grew; as with `tail -F`, its start is
//!   then missed.
//!
//! The part of a line a rotation or truncation cut off is handed on without its line end (a
//! queue_log line is then rejected as truncated). Positions are line numbers counted over
//! every file since the start: one partition, read from its start on every start-up, so a
//! restart counts nothing twice.

use std::fs::{File, Metadata};
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::file::{Line, LineSource, SourceError};
use super::{Assignment, Input, LineFormat, Lines, Origin, Source};
use crate::decode::asterisk::QueueLogSettings;
use crate::decode::Format;

/// How often the file is looked at once everything written has been read.
pub const POLL: Duration = Duration::from_millis(250);

/// The open file: its lines, and a handle on it to tell truncation.
struct Opened {
    lines: LineSource,
    file: File,
    id: Option<FileId>,
}

/// Device and inode: a file renamed away and recreated at the path is another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

#[cfg(unix)]
fn file_id(meta: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId(meta.dev(), meta.ino()))
}

/// Elsewhere only a smaller file at the path tells a rotation.
#[cfg(not(unix))]
fn file_id(_: &Metadata) -> Option<FileId> {
    None
}

fn open(path: &Path) -> Result<Opened, SourceError> {
    let opening = |error| SourceError::Open {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(opening)?;
    let meta = file.metadata().map_err(opening)?;
    Ok(Opened {
        lines: lines_of(&file, Some(meta.len())).map_err(opening)?,
        id: file_id(&meta),
        file,
    })
}

/// Lines read through a second handle on `file`, sharing its position.
fn lines_of(file: &File, total: Option<u64>) -> std::io::Result<LineSource> {
    let reader = BufReader::with_capacity(1 << 16, file.try_clone()?);
    Ok(LineSource::from_reader(Box::new(reader), total))
}

/// What happened to the file since everything in it was read.
enum Change {
    None,
    Truncated,
    Replaced,
}

/// A followed file as a [`Source`]; see the module documentation.
pub struct FollowSource {
    path: PathBuf,
    name: String,
    format: Lines,
    current: Opened,
    /// Lines handed on, over every file read: the last position.
    position: i64,
    /// Bytes in the file at start-up, until they have been read: the backlog.
    backlog: Option<u64>,
    /// Another file is at the path: the old one is read to its end once more (lines may have
    /// been written to it since the last read), then the new one is opened.
    replaced: bool,
    poll: Duration,
    /// Everything written was read: the next look is not before this.
    next_look: Option<Instant>,
    assigned: bool,
    stopped: bool,
}

impl FollowSource {
    /// Opens `path` (which must exist) to follow it; `asterisk` is how queue_log lines are read.
    pub fn open(
        path: &Path,
        format: LineFormat,
        asterisk: QueueLogSettings,
    ) -> Result<FollowSource, SourceError> {
        let current = open(path)?;
        Ok(FollowSource {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            format: Lines::new(format, asterisk),
            backlog: current.lines.total_bytes,
            current,
            position: 0,
            replaced: false,
            poll: POLL,
            next_look: None,
            assigned: false,
            stopped: false,
        })
    }

    /// Looks at the file every `poll` once everything written was read.
    pub fn with_poll(mut self, poll: Duration) -> FollowSource {
        self.poll = poll;
        self
    }

    /// Says the backlog was read once the bytes there were at start-up are, or `anyway` (the
    /// end of what is written: a half-written last line is not backlog to wait for).
    fn caught_up(&mut self, anyway: bool, each: &mut dyn FnMut(Input<'_>)) {
        if self
            .backlog
            .is_some_and(|bytes| anyway || self.current.lines.bytes_read() >= bytes)
        {
            self.backlog = None;
            each(Input::CaughtUp(0));
        }
    }

    /// At the end of what is written: has the file been truncated or replaced since?
    fn change(&self) -> Change {
        let read = self.current.lines.bytes_read();
        if self.current.file.metadata().is_ok_and(|m| m.len() < read) {
            return Change::Truncated;
        }
        // A path that is gone (renamed, not yet recreated) changes nothing: the old file
        // stays open.
        match std::fs::metadata(&self.path) {
            Ok(m) if file_id(&m) != self.current.id || m.len() < read => Change::Replaced,
            _ => Change::None,
        }
    }

    /// The cut-off start of a line whose end will never be read, handed on as such.
    fn flush_partial(&mut self, each: &mut dyn FnMut(Input<'_>)) {
        if let Some(line) = self.current.lines.take_partial() {
            hand(&mut self.format, &mut self.position, line, each);
        }
    }

    /// Reads the truncated file again from its start.
    fn rewind(&mut self) -> std::io::Result<()> {
        self.current.file.seek(SeekFrom::Start(0))?;
        self.current.lines = lines_of(&self.current.file, None)?;
        Ok(())
    }
}

/// One line to the pipeline, at the next position.
fn hand(format: &mut Lines, position: &mut i64, line: Line<'_>, each: &mut dyn FnMut(Input<'_>)) {
    *position += 1;
    let origin = Origin {
        partition: 0,
        position: *position,
    };
    format.line(origin, line.bytes, line.ended, each);
}

impl Source for FollowSource {
    fn format(&self) -> Format {
        self.format.format()
    }

    fn reports_hold(&self) -> bool {
        self.format.reports_hold()
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self) -> bool {
        if self.stopped {
            return false;
        }
        // Cancel-safe: the deadline stays until it has passed, so a publish tick that comes
        // first does not push the next look further out.
        if let Some(at) = self.next_look {
            tokio::time::sleep_until(at).await;
            self.next_look = None;
        }
        true
    }

    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>)) {
        if !self.assigned {
            self.assigned = true;
            each(Input::Assigned(vec![Assignment::from_start(0)]));
        }
        for _ in 0..max {
            match self.current.lines.read_whole_line() {
                Ok(Some(line)) => {
                    hand(&mut self.format, &mut self.position, line, each);
                    self.caught_up(false, each);
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    // The file stays open: the next look reads on from where this one failed.
                    tracing::warn!(file = %self.name, %error, "cannot read the followed file; retrying");
                    self.next_look = Some(Instant::now() + self.poll);
                    return;
                }
            }
            // Everything written so far was read.
            self.caught_up(true, each);
            if self.replaced {
                match open(&self.path) {
                    Ok(new) => {
                        self.flush_partial(each);
                        self.current = new;
                        self.replaced = false;
                        tracing::info!(file = %self.name, lines = self.position, "file rotated: read the rest of the old one; reading the new one from its start");
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the followed file was rotated and its new one cannot be opened yet; retrying")
                    }
                }
            } else {
                match self.change() {
                    Change::None => {}
                    Change::Replaced => {
                        self.replaced = true;
                        continue;
                    }
                    Change::Truncated => {
                        self.flush_partial(each);
                        match self.rewind() {
                            Ok(()) => {
                                tracing::info!(file = %self.name, lines = self.position, "file truncated: reading it again from its start");
                                continue;
                            }
                            Err(error) => {
                                tracing::warn!(file = %self.name, %error, "cannot read the truncated file from its start; retrying")
                            }
                        }
                    }
                }
            }
            self.next_look = Some(Instant::now() + self.poll);
            return;
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
    }
}

#[cfg(test)]
mod tests;
