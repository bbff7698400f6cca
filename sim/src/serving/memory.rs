//! Exact accounting of the unified memory the serving system uses.

use serde::{Deserialize, Serialize};

use crate::model::cost::Footprint;

/// The unified-memory budget: every allocation is checked against the limit and refused if it
/// does not fit; the caller decides what a refusal means (wait, scale elsewhere, drop).
#[derive(Clone, Debug)]
pub struct UnifiedMemory {
    limit_bytes: u64,
    used_bytes: u64,
    peak_bytes: u64,
}

/// An allocation did not fit in the remaining memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("out of unified memory: {requested_bytes} bytes requested, {free_bytes} free")]
pub struct OutOfMemory {
    /// Size of the refused allocation.
    pub requested_bytes: u64,
    /// What was free at the time.
    pub free_bytes: u64,
}

impl UnifiedMemory {
    /// A budget of `limit_bytes` with nothing allocated.
    pub fn new(limit_bytes: u64) -> Self {
        UnifiedMemory {
            limit_bytes,
            used_bytes: 0,
            peak_bytes: 0,
        }
    }

    /// Allocates `bytes` if they fit.
    pub fn allocate(&mut self, bytes: u64) -> Result<(), OutOfMemory> {
        let free = self.free_bytes();
        if bytes > free {
            return Err(OutOfMemory {
                requested_bytes: bytes,
                free_bytes: free,
            });
        }
        self.used_bytes += bytes;
        self.peak_bytes = self.peak_bytes.max(self.used_bytes);
        Ok(())
    }

    /// Returns `bytes` to the budget. Freeing more than is allocated is a logic error.
    pub fn release(&mut self, bytes: u64) {
        debug_assert!(
            bytes <= self.used_bytes,
            "released {bytes} bytes with {} in use",
            self.used_bytes
        );
        self.used_bytes = self.used_bytes.saturating_sub(bytes);
    }

    /// Bytes in use.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// Bytes still free under the limit.
    pub fn free_bytes(&self) -> u64 {
        self.limit_bytes - self.used_bytes
    }

    /// The limit.
    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    /// Most bytes ever in use at once.
    pub fn peak_bytes(&self) -> u64 {
        self.peak_bytes
    }
}

/// Memory of serving processes and instances by kind, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryByKind {
    /// Runtimes of the serving processes (CUDA context, libraries), once per process.
    pub process_bytes: u64,
    /// Model weights: once per (process, partition) where the runtime shares them, per instance
    /// otherwise.
    pub weights_bytes: u64,
    /// Execution contexts of the instances beyond their activations.
    pub context_bytes: u64,
    /// Activation workspaces of the instances.
    pub workspace_bytes: u64,
}

impl MemoryByKind {
    /// All of it.
    pub fn total(&self) -> u64 {
        self.process_bytes + self.weights_bytes + self.context_bytes + self.workspace_bytes
    }

    /// Adds what an instance charged.
    pub fn add(&mut self, f: &Footprint) {
        self.process_bytes += f.process;
        self.weights_bytes += f.weights;
        self.context_bytes += f.context;
        self.workspace_bytes += f.workspace;
    }

    /// Takes away what an instance gave back.
    pub fn sub(&mut self, f: &Footprint) {
        self.process_bytes -= f.process;
        self.weights_bytes -= f.weights;
        self.context_bytes -= f.context;
        self.workspace_bytes -= f.workspace;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_what_does_not_fit() {
        let mut m = UnifiedMemory::new(100);
        m.allocate(60).unwrap();
        assert_eq!(
            m.allocate(50),
            Err(OutOfMemory {
                requested_bytes: 50,
                free_bytes: 40
            })
        );
        m.release(60);
        m.allocate(100).unwrap();
        assert_eq!(m.peak_bytes(), 100);
    }

    proptest! {
        /// Whatever the sequence of allocations and releases, use never exceeds the limit.
        #[test]
        fn never_exceeds_the_limit(ops in proptest::collection::vec((any::<bool>(), 0u64..400), 0..300)) {
            let mut m = UnifiedMemory::new(1000);
            let mut held: Vec<u64> = Vec::new();
            for (alloc, size) in ops {
                if alloc || held.is_empty() {
                    if m.allocate(size).is_ok() { held.push(size); }
                } else {
                    let s = held.swap_remove(size as usize % held.len());
                    m.release(s);
                }
                prop_assert!(m.used_bytes() <= m.limit_bytes());
                prop_assert_eq!(m.used_bytes(), held.iter().sum::<u64>());
            }
        }
    }
}
