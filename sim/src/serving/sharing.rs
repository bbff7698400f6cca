//! Token-based tensor sharing over unified memory with lazy allocation (InfScaler §IV-B).
//!
//! Each boundary between consecutive partitions (an edge) has a pool of memory regions. A
//! producer that finishes a request asks the sharing manager for a token (a region): if the
//! edge's OutToken queue holds a free region it is reused at once; otherwise a *token fault*
//! makes the manager allocate a new region — lazily, only when none is free. The producer writes
//! the tensor there and hands the token to a consumer, which reads the tensor in place (zero
//! copy) and returns the token when its batch is done. Producers and consumers may be any
//! instances on any accelerators (multi-producer multi-consumer), since every engine reads unified
//! memory directly. Regions are never returned to the system: the pool settles at the number of
//! tensors in flight on the edge ("a dynamic balance of the input and output between consecutive
//! partitions"), and that memory counts against unified memory.

use serde::{Deserialize, Serialize};

use crate::serving::memory::{OutOfMemory, UnifiedMemory};

/// A region a request's tensor occupies: its edge and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionRef {
    /// The edge (the producing partition's index).
    pub edge: u32,
    /// Size of the region, bytes.
    pub bytes: u64,
}

/// How a token was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenGrant {
    /// A free region was in the OutToken queue.
    Reused,
    /// No region was free: a new one was allocated (a token fault).
    Fault,
}

/// Regions of one size on one edge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionPool {
    /// Producing partition.
    pub edge: u32,
    /// Size of each region, bytes.
    pub region_bytes: u64,
    /// Regions allocated (free or in use).
    pub regions: u64,
    /// Regions free now.
    pub free: u64,
    /// Tokens granted by reusing a free region.
    pub reuses: u64,
    /// Token faults (new regions allocated).
    pub faults: u64,
}

/// The tensor-sharing manager: one set of region pools per edge.
#[derive(Clone, Debug, Default)]
pub struct SharingManager {
    pools: Vec<RegionPool>,
}

impl SharingManager {
    fn pool_index(&mut self, edge: u32, bytes: u64) -> usize {
        match self
            .pools
            .iter()
            .position(|p| p.edge == edge && p.region_bytes == bytes)
        {
            Some(i) => i,
            None => {
                self.pools.push(RegionPool {
                    edge,
                    region_bytes: bytes,
                    ..Default::default()
                });
                self.pools.len() - 1
            }
        }
    }

    /// Grants a token for a region of `bytes` on `edge`, allocating one from `memory` on a fault.
    pub fn acquire(
        &mut self,
        edge: u32,
        bytes: u64,
        memory: &mut UnifiedMemory,
    ) -> Result<TokenGrant, OutOfMemory> {
        let i = self.pool_index(edge, bytes);
        let pool = &mut self.pools[i];
        if pool.free > 0 {
            pool.free -= 1;
            pool.reuses += 1;
            return Ok(TokenGrant::Reused);
        }
        memory.allocate(bytes)?;
        pool.regions += 1;
        pool.faults += 1;
        Ok(TokenGrant::Fault)
    }

    /// Returns a token: its region goes back to the edge's OutToken queue.
    pub fn release(&mut self, region: RegionRef) {
        let i = self.pool_index(region.edge, region.bytes);
        let pool = &mut self.pools[i];
        debug_assert!(
            pool.free < pool.regions,
            "released more tokens than were granted"
        );
        pool.free += 1;
    }

    /// Bytes of unified memory the regions hold.
    pub fn region_bytes(&self) -> u64 {
        self.pools.iter().map(|p| p.regions * p.region_bytes).sum()
    }

    /// The pools, in the order they were first used.
    pub fn pools(&self) -> &[RegionPool] {
        &self.pools
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_lazily_and_reuses_returned_regions() {
        let mut memory = UnifiedMemory::new(1000);
        let mut m = SharingManager::default();
        // Two tensors in flight on edge 0: two faults, 2 × 300 bytes allocated.
        assert_eq!(m.acquire(0, 300, &mut memory), Ok(TokenGrant::Fault));
        assert_eq!(m.acquire(0, 300, &mut memory), Ok(TokenGrant::Fault));
        assert_eq!(memory.used_bytes(), 600);
        // One comes back; the next request reuses it without allocating.
        m.release(RegionRef {
            edge: 0,
            bytes: 300,
        });
        assert_eq!(m.acquire(0, 300, &mut memory), Ok(TokenGrant::Reused));
        assert_eq!(memory.used_bytes(), 600);
        // A third concurrent tensor does not fit in the 400 bytes left… it does; a fourth does not.
        assert_eq!(m.acquire(0, 300, &mut memory), Ok(TokenGrant::Fault));
        assert!(m.acquire(0, 300, &mut memory).is_err());
        assert_eq!(m.region_bytes(), 900);
        let pool = &m.pools()[0];
        assert_eq!(
            (pool.regions, pool.free, pool.faults, pool.reuses),
            (3, 0, 3, 1)
        );
    }

    #[test]
    fn edges_and_sizes_have_separate_pools() {
        let mut memory = UnifiedMemory::new(10_000);
        let mut m = SharingManager::default();
        m.acquire(0, 100, &mut memory).unwrap();
        m.release(RegionRef {
            edge: 0,
            bytes: 100,
        });
        // A free region on edge 0 does not serve edge 1, nor another size on edge 0.
        assert_eq!(m.acquire(1, 100, &mut memory), Ok(TokenGrant::Fault));
        assert_eq!(m.acquire(0, 200, &mut memory), Ok(TokenGrant::Fault));
        assert_eq!(m.acquire(0, 100, &mut memory), Ok(TokenGrant::Reused));
    }
}
