//! Log capture for tests that check what a service writes to its log (a
//! secret never appears, a fallback is logged once).
//!
//! Install a subscriber writing into a [`LogBuffer`] as the thread's default
//! (`tracing::subscriber::set_default`) in a current-thread runtime, so the
//! service's spawned tasks log into it too. Keep such a test in a test binary
//! of its own: tracing caches each call site's interest globally, and a call
//! site first hit by another test's thread can be cached as "never", silently
//! dropping the events the test looks for.

use std::{
    io,
    sync::{Arc, Mutex, PoisonError},
};

use tracing_subscriber::fmt::MakeWriter;

/// A log sink shared between the subscriber and the test.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
