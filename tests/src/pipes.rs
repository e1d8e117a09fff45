//! Reading a child process's output without ever letting it block on a full pipe.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// How many of the last log lines to keep for failure messages.
const TAIL_LINES: usize = 200;

/// Reads lines on a thread for as long as the pipe is open and hands them
/// over through a channel. The thread keeps draining after the receiver is
/// dropped, so the child never blocks writing.
pub(crate) fn forward_lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let _ = sender.send(line);
        }
    });
    receiver
}

/// The last lines a child wrote to a pipe (its log), for failure messages.
pub(crate) struct LogTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl LogTail {
    pub(crate) fn capture(pipe: impl Read + Send + 'static) -> LogTail {
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = thread::spawn({
            let lines = Arc::clone(&lines);
            move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
                    if lines.len() == TAIL_LINES {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            }
        });
        LogTail {
            lines,
            reader: Some(reader),
        }
    }

    /// What has been read so far.
    pub(crate) fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything up to the end of the pipe. Call only once the child has
    /// exited, or this waits for it.
    pub(crate) fn finish(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.text()
    }
}
