//! Reads a recorded event file line by line, reporting progress in bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_stripped() {
        let mut src = LineSource::from(&b"a\r\n\nb"[..]);
        assert_eq!(src.next_line().unwrap(), Some((1, &b"a"[..])));
        assert_eq!(src.next_line().unwrap(), Some((2, &b""[..])));
        assert_eq!(src.next_line().unwrap(), Some((3, &b"b"[..])));
        assert_eq!(src.next_line().unwrap(), None);
        assert_eq!(src.bytes_read(), 5);
    }

    #[test]
    fn a_missing_file_says_which() {
        let err = LineSource::open(Path::new("/nonexistent/events.jsonl"))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("/nonexistent/events.jsonl"),
            "{err}"
        );
    }
}
