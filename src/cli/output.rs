//! Writing to stdout without ever panicking: a closed pipe (`| head`) ends
//! the command quietly instead of aborting with a panic.

use std::io::{self, Write};

/// Why output could not be written.
#[derive(Debug)]
pub enum OutputError {
    /// The reader went away; the command should exit quietly with success.
    BrokenPipe,
    Io(io::Error),
}

/// Writes text to stdout as is.
pub fn print(text: &str) -> Result<(), OutputError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                OutputError::BrokenPipe
            } else {
                OutputError::Io(e)
            }
        })
}

/// Writes `key: value` lines, the plain format of every read command.
pub fn print_fields<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Result<(), OutputError> {
    let mut text = String::new();
    for (key, value) in fields {
        text.push_str(key.as_ref());
        text.push_str(": ");
        text.push_str(value.as_ref());
        text.push('\n');
    }
    print(&text)
}

/// Writes a JSON value, pretty-printed, with a trailing newline.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), OutputError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| OutputError::Io(e.into()))?;
    text.push('\n');
    print(&text)
}
