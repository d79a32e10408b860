//! Standard output as a Unix tool writes it: locked once and buffered; a reader that goes away
//! (`tfs tokenizer encode … | head -c 10`) ends the program at once, quietly, with status 141 as
//! if SIGPIPE had killed it (what `seq`, `cat` and friends do); any other write failure
//! (`> /dev/full`) is a one-line error and a non-zero exit, never a panic.
//!
//! Every command writes stdout only through [`Stdout`]; `println!` would panic on a closed pipe.

use std::fmt::Display;
use std::io::{BufWriter, ErrorKind, StdoutLock, Write};

/// Exit status of a program whose output pipe was closed (128 + SIGPIPE).
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// Buffered, locked standard output.
pub struct Stdout(BufWriter<StdoutLock<'static>>);

/// A failed write to standard output (other than a closed pipe, which exits).
#[derive(Debug)]
pub struct StdoutError(std::io::Error);

impl Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Standard output, locked for the life of the value.
pub fn stdout() -> Stdout {
    Stdout(BufWriter::new(std::io::stdout().lock()))
}

fn check(r: std::io::Result<()>) -> Result<(), StdoutError> {
    match r {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(BROKEN_PIPE_STATUS),
        r => r.map_err(StdoutError),
    }
}

impl Stdout {
    /// Writes `s` and a newline.
    pub fn line(&mut self, s: impl Display) -> Result<(), StdoutError> {
        check(writeln!(self.0, "{s}"))
    }

    /// Writes `s` as is.
    pub fn text(&mut self, s: impl Display) -> Result<(), StdoutError> {
        check(write!(self.0, "{s}"))
    }

    /// Writes a line and flushes it now (for lines that report progress as they come).
    pub fn line_now(&mut self, s: impl Display) -> Result<(), StdoutError> {
        self.line(s)?;
        check(self.0.flush())
    }

    /// Flushes what is buffered; dropping a `Stdout` without this would ignore a failure.
    pub fn finish(mut self) -> Result<(), StdoutError> {
        check(self.0.flush())
    }
}
