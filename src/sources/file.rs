//! A recorded event file (or standard input), line by line: the source of `replay`. The lines
//! are JSON events or an Asterisk queue_log ([`LineFormat`]). Positions are 1-based line
//! numbers; progress is reported in bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{Assignment, Input, LineFormat, Lines, Origin, Source};
use crate::decode::asterisk::QueueLogSettings;
use crate::decode::Format;
use ahead::{DecodeAhead, Decoded, Next};

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

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A line-oriented event source: a file, or standard input for `-`.
pub struct LineSource {
    reader: Reader,
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
    /// Opens `path` (`-`: standard input), read ahead by a thread of its own (see
    /// [`LineSource::wait_for_line`]).
    pub fn open(path: &Path) -> Result<LineSource, SourceError> {
        if path == Path::new("-") {
            return Ok(LineSource::with(
                Reader::Ahead(ReadAhead::spawn(io::stdin())),
                None,
            ));
        }
        let file = File::open(path).map_err(|error| SourceError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        let total = file.metadata().ok().map(|m| m.len());
        Ok(LineSource::with(
            Reader::Ahead(ReadAhead::spawn(file)),
            total,
        ))
    }

    /// Lines of `reader`, read where they are asked for.
    pub fn from_reader(reader: Box<dyn BufRead + Send>, total_bytes: Option<u64>) -> LineSource {
        LineSource::with(Reader::Direct(reader), total_bytes)
    }

    fn with(reader: Reader, total_bytes: Option<u64>) -> LineSource {
        LineSource {
            reader,
            total_bytes,
            bytes_read: 0,
            line: 0,
            buf: Vec::with_capacity(512),
            partial: false,
        }
    }

    /// Waits until a whole line can be read without blocking (or the input has ended). A
    /// source read where it is asked for ([`LineSource::from_reader`]) always can.
    pub async fn wait_for_line(&mut self) {
        if let Reader::Ahead(ahead) = &mut self.reader {
            ahead.wait_for_line().await;
        }
    }

    /// Whether a whole line can be read now, taking what the reading thread has sent.
    fn line_ready(&mut self) -> bool {
        match &mut self.reader {
            Reader::Direct(_) => true,
            Reader::Ahead(ahead) => {
                ahead.receive_ready();
                ahead.has_line()
            }
        }
    }

    /// [`LineSource::wait_for_line`] for a thread of its own, outside the async runtime.
    fn wait_for_line_blocking(&mut self) {
        if let Reader::Ahead(ahead) = &mut self.reader {
            while !ahead.has_line() {
                let chunk = ahead.chunks.blocking_recv();
                ahead.take(chunk);
            }
        }
    }

    /// Whether [`LineSource::read_line`] returns without blocking.
    pub fn has_line(&self) -> bool {
        match &self.reader {
            Reader::Direct(_) => true,
            Reader::Ahead(ahead) => ahead.has_line(),
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

enum Reader {
    Direct(Box<dyn BufRead + Send>),
    Ahead(ReadAhead),
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Reader::Direct(r) => r.fill_buf(),
            Reader::Ahead(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, n: usize) {
        match self {
            Reader::Direct(r) => r.consume(n),
            Reader::Ahead(r) => r.consume(n),
        }
    }
}

/// Bytes a thread of its own reads ahead: a pipe whose writer is slow (or stalled) then keeps
/// only that thread waiting, so that `replay` can stop at a signal and report what it read.
/// The thread ends at the end of the input or when the reader is dropped; one still waiting
/// on its input ends with the process.
struct ReadAhead {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    /// Chunks read to the end go back to the thread to be filled again: a new zeroed chunk
    /// per read cost the kernel a fresh page to clear for every 4 KiB of input (5 % of a
    /// replay's time in `clear_page`).
    spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// Received and not yet read; the front one from `pos`.
    buffered: VecDeque<Vec<u8>>,
    pos: usize,
    /// Line ends in `buffered` after `pos`: that many whole lines can be read.
    line_ends: usize,
    /// The read error that ended the input, once every byte before it has been read.
    error: Option<io::Error>,
    /// Nothing more will be received.
    ended: bool,
}

/// Bytes per read of the thread; at most [`AHEAD`] chunks wait to be read.
const CHUNK: usize = 256 << 10;
const AHEAD: usize = 4;
/// Chunks the reading thread makes before it waits for one to come back (those in the channel,
/// the one it fills and those the reader holds).
const CIRCULATING: usize = 3 * AHEAD;
/// How long the reading thread waits for a chunk to be given back before it makes a new one.
const SPENT_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

impl ReadAhead {
    fn spawn(mut input: impl Read + Send + 'static) -> ReadAhead {
        let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
        let (spent, refill) = std::sync::mpsc::sync_channel::<Vec<u8>>(CIRCULATING);
        let mut made = 0;
        let reading = move || loop {
            // Once enough chunks circulate, the next is one read to the end and given back. A
            // line longer than all of them keeps them all (it is taken only once whole): the
            // wait is short, and a new chunk is made after it.
            let spent = match made {
                ..CIRCULATING => refill.try_recv().ok(),
                _ => refill.recv_timeout(SPENT_WAIT).ok(),
            };
            let mut chunk = spent.unwrap_or_else(|| {
                made += 1;
                Vec::new()
            });
            chunk.resize(CHUNK, 0);
            let read = match input.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    Ok(chunk)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            if tx.blocking_send(read).is_err() || failed {
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("acdstream-read".into())
            .spawn(reading);
        let mut ahead = ReadAhead {
            chunks: rx,
            spent,
            buffered: VecDeque::new(),
            pos: 0,
            line_ends: 0,
            error: None,
            ended: false,
        };
        if let Err(error) = spawned {
            ahead.error = Some(error);
            ahead.ended = true;
        }
        ahead
    }

    fn has_line(&self) -> bool {
        self.line_ends > 0 || self.ended
    }

    /// Cancel-safe: a chunk received is kept before the next await.
    async fn wait_for_line(&mut self) {
        while !self.has_line() {
            let chunk = self.chunks.recv().await;
            self.take(chunk);
        }
    }

    /// What the reading thread sent (`None`: it has ended).
    fn take(&mut self, chunk: Option<io::Result<Vec<u8>>>) {
        match chunk {
            Some(Ok(chunk)) => self.received(chunk),
            Some(Err(error)) => {
                self.error = Some(error);
                self.ended = true;
            }
            None => self.ended = true,
        }
    }

    fn received(&mut self, chunk: Vec<u8>) {
        // memchr's vectorised count: a byte-by-byte count cost 4 % of a replay.
        self.line_ends += memchr::memchr_iter(b'\n', &chunk).count();
        self.buffered.push_back(chunk);
    }

    /// Takes what has arrived without waiting, so that a line is read as soon as it is whole.
    fn receive_ready(&mut self) {
        while let Ok(chunk) = self.chunks.try_recv() {
            self.take(Some(chunk));
        }
    }

    /// Past the received bytes: an error, else the end of the input (`[]`). Reading ahead of
    /// [`ReadAhead::has_line`] would take a line's first part for all of it; the line
    /// source's reads keep to it.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.buffered.is_empty() {
            self.receive_ready();
        }
        if self.buffered.is_empty() {
            return match self.error.take() {
                Some(error) => Err(error),
                None => Ok(&[]),
            };
        }
        Ok(&self.buffered[0][self.pos..])
    }

    fn consume(&mut self, n: usize) {
        let Some(front) = self.buffered.front() else {
            return;
        };
        let end = (self.pos + n).min(front.len());
        self.line_ends -= memchr::memchr_iter(b'\n', &front[self.pos..end]).count();
        self.pos = end;
        if self.pos == front.len() {
            if let Some(spent) = self.buffered.pop_front() {
                // Dropped instead when the thread has enough (or has ended).
                let _ = self.spent.try_send(spent);
            }
            self.pos = 0;
        }
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
    feed: Feed,
    name: String,
    progress: Box<dyn FnMut(u64)>,
    since_progress: u32,
    assigned: bool,
    ended: bool,
    stopped: bool,
    error: Option<SourceError>,
}

/// How the lines reach the pipeline.
enum Feed {
    /// Read here, handed over as [`Lines`] reads them.
    Lines(LineSource, Lines),
    /// JSON lines decoded by a thread of their own ([`FileSource::decode_ahead`]).
    Decoded(DecodeAhead),
    /// Between the two, while [`FileSource::decode_ahead`] moves the lines to their thread.
    Moving,
}

impl FileSource {
    /// A file of JSON events. `progress` is told how many bytes have been read, every few
    /// thousand lines.
    pub fn new(lines: LineSource, name: &str, progress: Box<dyn FnMut(u64)>) -> FileSource {
        FileSource {
            feed: Feed::Lines(lines, Lines::Json),
            name: name.to_owned(),
            progress,
            since_progress: 0,
            assigned: false,
            ended: false,
            stopped: false,
            error: None,
        }
    }

    /// The file's lines are in `format`; `asterisk` is how queue_log lines are read.
    pub fn with_format(mut self, format: LineFormat, asterisk: QueueLogSettings) -> FileSource {
        if let Feed::Lines(_, lines) = &mut self.feed {
            *lines = Lines::new(format, asterisk);
        }
        self
    }

    /// JSON lines are decoded on a thread of their own, ahead of the engine (with the
    /// decoder's `max_id_bytes`), so that a replay uses a second core: the pipeline gets the
    /// same events, rejections and blank lines in the same order. A queue_log is read here
    /// still (its translation is short beside the engine's work).
    pub fn decode_ahead(mut self, max_id_bytes: usize) -> Result<FileSource, SourceError> {
        self.feed = match std::mem::replace(&mut self.feed, Feed::Moving) {
            Feed::Lines(lines, Lines::Json) => {
                Feed::Decoded(DecodeAhead::spawn(lines, max_id_bytes)?)
            }
            feed => feed,
        };
        Ok(self)
    }

    /// The read error that ended the file early, if one did.
    pub fn take_error(&mut self) -> Option<SourceError> {
        self.error.take()
    }

    fn bytes_read(&self) -> u64 {
        match &self.feed {
            Feed::Lines(lines, _) => lines.bytes_read(),
            Feed::Decoded(ahead) => ahead.bytes_read,
            Feed::Moving => 0,
        }
    }

    fn end(&mut self, error: Option<SourceError>, each: &mut dyn FnMut(Input<'_>)) {
        self.ended = true;
        self.error = error;
        each(Input::CaughtUp(0));
        let read = self.bytes_read();
        (self.progress)(read);
    }

    /// Hands over the next line: `false` when none is available now.
    fn next(&mut self, each: &mut dyn FnMut(Input<'_>)) -> bool {
        let ended = match &mut self.feed {
            Feed::Lines(lines, format) => {
                if !lines.has_line() {
                    return false;
                }
                match lines.read_line() {
                    Ok(Some(line)) => {
                        format.line(origin(line.number), line.bytes, line.ended, each);
                        return true;
                    }
                    Ok(None) => None,
                    Err(error) => Some(error),
                }
            }
            Feed::Decoded(ahead) => match ahead.next() {
                Next::Line(item, payload) => {
                    let origin = origin(item.number);
                    match &item.decoded {
                        Decoded::Event(event) => each(Input::Decoded {
                            origin,
                            event,
                            payload,
                            received: None,
                        }),
                        Decoded::Blank => each(Input::Blank),
                        Decoded::Rejected(error) => each(Input::Rejected {
                            origin,
                            payload,
                            reason: error.reason(),
                            detail: &error.to_string(),
                        }),
                    }
                    return true;
                }
                Next::Pending => return false,
                Next::End(error) => error,
            },
            Feed::Moving => return false,
        };
        self.end(ended, each);
        true
    }
}

/// A line's origin: the file is one partition, positions are line numbers.
fn origin(number: u64) -> Origin {
    Origin {
        partition: 0,
        position: number as i64,
    }
}

impl Source for FileSource {
    fn format(&self) -> Format {
        match &self.feed {
            Feed::Lines(_, lines) => lines.format(),
            _ => Format::Json,
        }
    }

    fn reports_hold(&self) -> bool {
        match &self.feed {
            Feed::Lines(_, lines) => lines.reports_hold(),
            _ => true,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn wait(&mut self) -> bool {
        if self.ended || self.stopped {
            return false;
        }
        match &mut self.feed {
            Feed::Lines(lines, _) => lines.wait_for_line().await,
            Feed::Decoded(ahead) => ahead.wait().await,
            Feed::Moving => {}
        }
        true
    }

    /// Stops reading: a `replay` interrupted by a signal reports what it read until then.
    fn stop(&mut self) {
        self.stopped = true;
    }

    fn drain(&mut self, max: usize, each: &mut dyn FnMut(Input<'_>)) {
        if !self.assigned {
            self.assigned = true;
            each(Input::Assigned(vec![Assignment::from_start(0)]));
        }
        for _ in 0..max {
            if self.ended || self.stopped || !self.next(each) {
                return;
            }
            self.since_progress += 1;
            if self.since_progress == PROGRESS_EVERY {
                self.since_progress = 0;
                let read = self.bytes_read();
                (self.progress)(read);
            }
        }
    }
}

mod ahead;
#[cfg(test)]
mod tests;
