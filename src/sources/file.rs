//! A recorded event file (or standard input), line by line: the source of `replay`. The lines
//! are JSON events or an Asterisk queue_log ([`LineFormat`]). Positions are 1-based line
//! numbers; progress is reported in bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{Assignment, Input, LineFormat, Lines, Origin, Source};
use crate::decode::asterisk::QueueLogSettings;
use crate::decode::Format;

/// Errors opening or reading an event file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open event file {path}: {error}; check the path and its permissions")]
    Open { path: PathBuf, error: io::Error },
    #[error("reading event file failed after line {line}: {error}")]
    Read { line: u64, error: io::Error },
}

/// One line of a [`LineSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based.
    pub number: u64,
    /// Without its line end.
    pub bytes: &'a [u8],
    /// It had its line end: the input did not stop in the middle of it.
    pub ended: bool,
}

/// A line-oriented event source: a file, or standard input for `-`.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub struct LineSource {
    reader: Box<dyn BufRead>,
    /// Total bytes, when known (files; not stdin).
    pub total_bytes: Option<u64>,
    bytes_read: u64,
    line: u64,
    buf: Vec<u8>,
    /// `buf` holds the start of a line whose end has not been read yet: a file still being
    /// written completes it later ([`LineSource::read_whole_line`]).
    partial: bool,
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
            partial: false,
        }
    }

    /// The next line without its line ending, with its 1-based line number.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        Ok(self.read_line()?.map(|l| (l.number, l.bytes)))
    }

    /// The next line as [`LineSource::next_line`] gives it, and whether it had its line end
    /// (the last line of an input may not).
    pub fn read_line(&mut self) -> Result<Option<Line<'_>>, SourceError> {
        if self.fill()? {
            return Ok(Some(self.take(true)));
        }
        Ok(self.take_partial())
    }

    /// The next line that has its line end. When the input stops in the middle of a line,
    /// what there is of it is kept, and later reads complete it (a file still being written).
    pub fn read_whole_line(&mut self) -> Result<Option<Line<'_>>, SourceError> {
        if self.fill()? {
            return Ok(Some(self.take(true)));
        }
        Ok(None)
    }

    /// What there is of a line whose end was not read, if anything: for when its end will
    /// never come (the input ended, or was replaced under it).
    pub fn take_partial(&mut self) -> Option<Line<'_>> {
        self.partial.then(|| self.take(false))
    }

    /// Reads on to the next line end, after what a previous read kept of the line: `true` when
    /// `buf` then holds a whole line.
    fn fill(&mut self) -> Result<bool, SourceError> {
        if !self.partial {
            self.buf.clear();
        }
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|error| SourceError::Read {
                line: self.line,
                error,
            })?;
        self.bytes_read += n as u64;
        let ended = self.buf.last() == Some(&b'\n');
        self.partial = !ended && !self.buf.is_empty();
        Ok(ended)
    }

    /// The line in `buf`, numbered and without its line end (nor, on the first line, the
    /// UTF-8 byte order mark some Windows editors and exporters write).
    fn take(&mut self, ended: bool) -> Line<'_> {
        self.line += 1;
        self.partial = false;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let bom = usize::from(self.line == 1 && self.buf.starts_with(UTF8_BOM)) * UTF8_BOM.len();
        Line {
            number: self.line,
            bytes: &self.buf[bom..],
            ended,
        }
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

/// A file of events as a [`Source`]: one partition, positions are line numbers.
pub struct FileSource {
    lines: LineSource,
    format: Lines,
    name: String,
    progress: Box<dyn FnMut(u64)>,
    since_progress: u32,
    assigned: bool,
    ended: bool,
    error: Option<SourceError>,
}

impl FileSource {
    /// A file of JSON events. `progress` is told how many bytes have been read, every few
    /// thousand lines.
    pub fn new(lines: LineSource, name: &str, progress: Box<dyn FnMut(u64)>) -> FileSource {
        FileSource {
            lines,
            format: Lines::Json,
            name: name.to_owned(),
            progress,
            since_progress: 0,
            assigned: false,
            ended: false,
            error: None,
        }
    }

    /// The file's lines are in `format`; `asterisk` is how queue_log lines are read.
    pub fn with_format(mut self, format: LineFormat, asterisk: QueueLogSettings) -> FileSource {
        self.format = Lines::new(format, asterisk);
        self
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
        self.format.format()
    }

    fn reports_hold(&self) -> bool {
        self.format.reports_hold()
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
            match self.lines.read_line() {
                Ok(Some(line)) => {
                    let origin = Origin {
                        partition: 0,
                        position: line.number as i64,
                    };
                    self.format.line(origin, line.bytes, line.ended, each);
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
