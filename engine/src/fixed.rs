//! A bounded buffer that never grows: what hot stages hand each other intents and
//! reports in. Its capacity is fixed at start-up; a push past it is refused.

/// A vector with a fixed capacity.
#[derive(Debug, Clone)]
pub struct Bounded<T> {
    items: Vec<T>,
}

impl<T> Bounded<T> {
    /// Room for `capacity` items, allocated now.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { items: Vec::with_capacity(capacity) }
    }

    /// Adds an item; `false` (and nothing added) when full.
    pub fn push(&mut self, item: T) -> bool {
        if self.items.len() == self.items.capacity() {
            return false;
        }
        self.items.push(item);
        true
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// Removes all items, keeping the capacity.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Takes the items out in order, keeping the capacity.
    pub fn drain(&mut self) -> std::vec::Drain<'_, T> {
        self.items.drain(..)
    }

    /// Removes the first item equal to `item` (order not kept); whether there was one.
    pub fn remove(&mut self, item: &T) -> bool
    where
        T: PartialEq,
    {
        match self.items.iter().position(|i| i == item) {
            Some(at) => {
                self.items.swap_remove(at);
                true
            }
            None => false,
        }
    }

    /// Keeps only the items `keep` says to (order kept, capacity kept).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
    }

    /// Removes the first `n` items (all, if fewer), keeping the rest in order.
    pub fn drain_front(&mut self, n: usize) {
        self.items.drain(..n.min(self.items.len()));
    }

    /// How many more items fit.
    pub fn room(&self) -> usize {
        self.items.capacity() - self.items.len()
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_capacity_and_keeps_it_after_draining() {
        let mut b = Bounded::with_capacity(2);
        assert!(b.push(1) && b.push(2));
        assert!(!b.push(3));
        assert_eq!(b.drain().collect::<Vec<_>>(), [1, 2]);
        assert!(b.is_empty() && b.push(4));
        assert!(b.push(5) && b.remove(&4) && !b.remove(&4));
        assert_eq!(b.as_slice(), [5]);
    }
}
