//! The caller-owned, fixed-capacity buffer decoders write events into.

use crate::event::Event;

/// Events from one frame. Its capacity is fixed at construction; pushing past it is
/// an error, never a reallocation, so decoding allocates nothing.
#[derive(Debug)]
pub struct Events {
    events: Vec<Event>,
    capacity: usize,
}

impl Events {
    /// A buffer for up to `capacity` events per frame.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { events: Vec::with_capacity(capacity), capacity }
    }

    /// Appends an event; `false` (and nothing stored) if the buffer is full.
    #[must_use]
    pub fn push(&mut self, event: Event) -> bool {
        if self.events.len() == self.capacity {
            return false;
        }
        self.events.push(event);
        true
    }

    /// Forgets every event, keeping the memory.
    pub fn clear(&mut self) {
        self.events.clear();
    }

    /// The events, oldest first.
    pub fn as_slice(&self) -> &[Event] {
        &self.events
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events from index `from` on, to patch what a decoder pushed early.
    pub(crate) fn tail_mut(&mut self, from: usize) -> &mut [Event] {
        self.events.get_mut(from..).unwrap_or_default()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.events.truncate(len);
    }
}
