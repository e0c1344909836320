//! JSON lines decoded ahead, on a thread of their own: `replay` then decodes on one core while
//! the engine applies on the other. What reaches the pipeline is what decoding the lines there
//! would have given, in the same order with the same line numbers: each event with its line as
//! received (for a rejection's report), each undecodable line with its error, each blank line.

use tokio::sync::mpsc;

use super::{LineSource, SourceError};
use crate::decode::{decode, DecodeError, Format};
use crate::event::CtiEvent;

/// Lines per batch handed over, and batches decoded ahead of the engine at most: a batch is
/// one channel hand-over instead of a thousand, and the bound keeps memory to a few MB.
const BATCH: usize = 1024;
const AHEAD: usize = 4;

/// What one line held.
pub(super) enum Decoded {
    Event(CtiEvent),
    Blank,
    Rejected(DecodeError),
}

/// One line, its bytes at `text[start..end]` of its batch.
pub(super) struct Item {
    pub number: u64,
    start: usize,
    end: usize,
    pub decoded: Decoded,
}

/// Lines decoded in order, and how far the input had been read after them.
pub(super) struct Batch {
    items: Vec<Item>,
    text: Vec<u8>,
    pub bytes_read: u64,
    /// The input ended after these lines: with the read error that ended it, if one did.
    end: Option<Option<SourceError>>,
}

/// What [`DecodeAhead::next`] has.
pub(super) enum Next<'a> {
    Line(&'a Item, &'a [u8]),
    /// Nothing decoded yet: [`DecodeAhead::wait`] first.
    Pending,
    /// The input has ended (with the read error that ended it, if one did).
    End(Option<SourceError>),
}

/// The receiving end; the thread ends at the end of the input or when this is dropped.
pub(super) struct DecodeAhead {
    batches: mpsc::Receiver<Batch>,
    /// Batches read, back to the thread.
    spent: std::sync::mpsc::Sender<Batch>,
    batch: Option<Batch>,
    /// The next item of `batch`.
    next: usize,
    pub bytes_read: u64,
}

impl DecodeAhead {
    /// Decodes the lines of `lines` on a thread of its own, with the decoder's `max_id_bytes`.
    pub(super) fn spawn(
        mut lines: LineSource,
        max_id_bytes: usize,
    ) -> Result<DecodeAhead, SourceError> {
        let (tx, rx) = mpsc::channel(AHEAD);
        // Read batches come back to be emptied and refilled here: their events are freed by
        // the thread that allocated them (a free from another thread costs glibc more), and
        // the buffers are reused.
        let (spent_tx, spent) = std::sync::mpsc::channel::<Batch>();
        let decoding = move || loop {
            let mut batch = match spent.try_recv() {
                Ok(mut batch) => {
                    batch.items.clear();
                    batch.text.clear();
                    batch
                }
                Err(_) => Batch {
                    items: Vec::with_capacity(BATCH),
                    text: Vec::with_capacity(BATCH * 128),
                    bytes_read: 0,
                    end: None,
                },
            };
            while batch.items.len() < BATCH {
                // Lines that came in a trickle (a pipe) go on as they come, not once a batch
                // is full.
                if !batch.items.is_empty() && !lines.line_ready() {
                    break;
                }
                lines.wait_for_line_blocking();
                match lines.read_line() {
                    Ok(Some(line)) => {
                        let start = batch.text.len();
                        batch.text.extend_from_slice(line.bytes);
                        let decoded = if line.bytes.iter().all(u8::is_ascii_whitespace) {
                            Decoded::Blank
                        } else {
                            match decode(Format::Json, line.bytes, max_id_bytes) {
                                Ok(event) => Decoded::Event(event),
                                Err(error) => Decoded::Rejected(error),
                            }
                        };
                        batch.items.push(Item {
                            number: line.number,
                            start,
                            end: batch.text.len(),
                            decoded,
                        });
                    }
                    Ok(None) => batch.end = Some(None),
                    Err(error) => batch.end = Some(Some(error)),
                }
                if batch.end.is_some() {
                    break;
                }
            }
            batch.bytes_read = lines.bytes_read();
            let ended = batch.end.is_some();
            if tx.blocking_send(batch).is_err() || ended {
                return;
            }
        };
        std::thread::Builder::new()
            .name("acdstream-decode".into())
            .spawn(decoding)
            .map_err(|error| SourceError::Read { line: 0, error })?;
        Ok(DecodeAhead {
            batches: rx,
            spent: spent_tx,
            batch: None,
            next: 0,
            bytes_read: 0,
        })
    }

    fn has_next(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| {
            self.next < b.items.len() || (b.end.is_some() && self.next == b.items.len())
        })
    }

    /// Waits until [`DecodeAhead::next`] has something. Cancel-safe: a batch received is kept
    /// before the next await.
    pub(super) async fn wait(&mut self) {
        if self.has_next() {
            return;
        }
        match self.batches.recv().await {
            Some(batch) => self.received(batch),
            // The thread ended without saying so: it panicked. End the input there.
            None => self.received(Batch::ended(self.bytes_read)),
        }
    }

    fn received(&mut self, batch: Batch) {
        self.bytes_read = batch.bytes_read;
        if let Some(read) = self.batch.replace(batch) {
            // Once the thread has ended, the batch is freed here.
            let _ = self.spent.send(read);
        }
        self.next = 0;
    }

    /// The next line, without waiting.
    pub(super) fn next(&mut self) -> Next<'_> {
        if !self.has_next() {
            match self.batches.try_recv() {
                Ok(batch) => self.received(batch),
                Err(mpsc::error::TryRecvError::Empty) => return Next::Pending,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.received(Batch::ended(self.bytes_read))
                }
            }
        }
        let Some(batch) = &mut self.batch else {
            return Next::Pending;
        };
        match batch.items.get(self.next) {
            Some(item) => {
                self.next += 1;
                Next::Line(item, &batch.text[item.start..item.end])
            }
            None => {
                self.next += 1;
                Next::End(batch.end.take().flatten())
            }
        }
    }
}

impl Batch {
    fn ended(bytes_read: u64) -> Batch {
        Batch {
            items: Vec::new(),
            text: Vec::new(),
            bytes_read,
            end: Some(None),
        }
    }
}
