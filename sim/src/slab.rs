//! A slab: a vector of slots reused through a free list, so that per-request state costs memory
//! in proportion to what is in flight, not to how many requests a run has simulated.

/// Slots addressed by `u32` keys; removed slots are reused by later inserts.
#[derive(Clone, Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its key.
    pub fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        match self.free.pop() {
            Some(key) => {
                self.slots[key as usize] = Some(value);
                key
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Removes and returns the value at `key`. Panics if the slot is empty (a logic error).
    pub fn remove(&mut self, key: u32) -> T {
        let value = self.slots[key as usize].take().expect("slab slot is empty");
        self.free.push(key);
        self.len -= 1;
        value
    }

    /// The value at `key`. Panics if the slot is empty (a logic error).
    pub fn get(&self, key: u32) -> &T {
        self.slots[key as usize]
            .as_ref()
            .expect("slab slot is empty")
    }

    /// The value at `key`, mutably. Panics if the slot is empty (a logic error).
    pub fn get_mut(&mut self, key: u32) -> &mut T {
        self.slots[key as usize]
            .as_mut()
            .expect("slab slot is empty")
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of slots ever allocated (the high-water mark of `len`).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_freed_slots() {
        let mut s = Slab::default();
        let a = s.insert('a');
        let b = s.insert('b');
        assert_eq!(s.remove(a), 'a');
        let c = s.insert('c');
        assert_eq!(c, a);
        assert_eq!(*s.get(b), 'b');
        assert_eq!(s.len(), 2);
        assert_eq!(s.capacity(), 2);
    }
}
