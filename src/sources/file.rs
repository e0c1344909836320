//! A recorded JSON-lines event file (or standard input), line by line: the source of
//! `replay`. Positions are 1-based line numbers; progress is reported in bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{Assignment, Input, Origin, Source};
use crate::decode::Format;

/// Errors opening or reading an event file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open event file {path}: {error}; check the path and its permissions")]
    Open { path: PathBuf, error: io::Error },
    #[error("reading event file failed after line {line}: {error}")]
    Read { line: u64, error: io::Error },
}

/// A line-oriented event source: a file, or standard input for `-`.
pub struct LineSource {
    reader: Box<dyn BufRead>,
    /// Total bytes, when known (files; not stdin).
    pub total_bytes: Option<u64>,
    bytes_read: u64,
    line: u64,
    buf: Vec<u8>,
}

impl LineSource {
    pub fn open(path: &Path) -> Result<LineSource, SourceError> {
        if path == Path::new("-") {
            return Ok(LineSource::from_reader(
                Box::new(BufReader::new(io::stdin())),
                None,
            ));
        }
        let file = File::open(path).map_err(|error| SourceError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        let total = file.metadata().ok().map(|m| m.len());
        Ok(LineSource::from_reader(
            Box::new(BufReader::with_capacity(1 << 20, file)),
            total,
        ))
    }

    pub fn from_reader(reader: Box<dyn BufRead>, total_bytes: Option<u64>) -> LineSource {
        LineSource {
            reader,
            total_bytes,
            bytes_read: 0,
            line: 0,
            buf: Vec::with_capacity(512),
        }
    }

    /// The next line without its line ending, with its 1-based line number.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|error| SourceError::Read {
                line: self.line,
                error,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes_read += n as u64;
        self.line += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(Some((self.line, &self.buf)))
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

impl From<&'static [u8]> for LineSource {
    fn from(bytes: &'static [u8]) -> LineSource {
        LineSource::from_reader(
            Box::new(BufReader::new(bytes.take(u64::MAX))),
            Some(bytes.len() as u64),
        )
    }
}

/// Lines between two progress reports.
const PROGRESS_EVERY: u32 = 4096;

/// A file of JSON events as a [`Source`]: one partition, positions are line numbers.
pub struct FileSource {
    lines: LineSource,
    name: String,
    progress: Box<dyn FnMut(u64)>,
    since_progress: u32,
    assigned: bool,
    ended: bool,
    error: Option<SourceError>,
}

impl FileSource {
    /// `progress` is told how many bytes have been read, every few thousand lines.
    pub fn new(lines: LineSource, name: &str, progress: Box<dyn FnMut(u64)>) -> FileSource {
        FileSource {
            lines,
            name: name.to_owned(),
            progress,
            since_progress: 0,
            assigned: false,
            ended: false,
            error: None,
        }
    }

    /// The read error that ended the file early, if one did.
    pub fn take_error(&mut self) -> Option<SourceError> {
        self.error.take()
    }

    fn end(&mut self, each: &mut dyn FnMut(Input<'_>)) {
        self.ended = true;
        each(Input::CaughtUp(0));
        (self.progress)(self.lines.bytes_read());
    }
}

impl Source for FileSource {
    fn format(&self) -> Format {
        Format::Json
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self) -> bool {
        !self.ended
    }

    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>)) {
        if !self.assigned {
            self.assigned = true;
            each(Input::Assigned(vec![Assignment::from_start(0)]));
        }
        for _ in 0..max {
            if self.ended {
                return;
            }
            match self.lines.next_line() {
                Ok(Some((line, bytes))) => {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        each(Input::Blank);
                    } else {
                        each(Input::Encoded {
                            origin: Origin {
                                partition: 0,
                                position: line as i64,
                            },
                            key: None,
                            payload: bytes,
                            received: None,
                        });
                    }
                }
                Ok(None) => self.end(each),
                Err(error) => {
                    self.error = Some(error);
                    self.end(each);
                }
            }
            self.since_progress += 1;
            if self.since_progress == PROGRESS_EVERY {
                self.since_progress = 0;
                (self.progress)(self.lines.bytes_read());
            }
        }
    }
}

#[cfg(test)]
mod tests;
