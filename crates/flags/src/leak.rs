//! A bounded memory leak, for the flags that make a service hoard memory
//! (`emailMemoryLeak`, `recommendationCacheFailure`): it grows while the flag
//! is on, up to a cap so the machine survives, and is given back when the
//! flag goes off, so the service recovers without a restart.

use std::sync::{Arc, Mutex, PoisonError};

/// Memory held on purpose, shared by a service's handlers.
#[derive(Debug, Clone)]
pub struct Leak {
    held: Arc<Mutex<Vec<Box<[u8]>>>>,
    cap: usize,
}

impl Leak {
    /// A leak that never holds more than `cap` bytes.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            held: Arc::default(),
            cap,
        }
    }

    /// Holds `bytes` more (written, so the memory is really taken), as far
    /// as the cap allows.
    pub fn grow(&self, bytes: usize) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.cap.saturating_sub(held.iter().map(|b| b.len()).sum());
        let bytes = bytes.min(room);
        if bytes > 0 {
            held.push(vec![0xA5; bytes].into_boxed_slice());
        }
    }

    /// Gives everything back.
    pub fn release(&self) {
        let released =
            std::mem::take(&mut *self.held.lock().unwrap_or_else(PoisonError::into_inner));
        drop(released);
    }

    /// How many bytes are held.
    pub fn held(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|b| b.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_its_cap_and_gives_everything_back() {
        let leak = Leak::with_cap(1000);
        let shared = leak.clone();
        leak.grow(400);
        shared.grow(400);
        assert_eq!(leak.held(), 800);
        leak.grow(400);
        assert_eq!(leak.held(), 1000);
        leak.grow(1);
        assert_eq!(leak.held(), 1000);
        shared.release();
        assert_eq!(leak.held(), 0);
    }
}
