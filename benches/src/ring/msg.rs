//! The two message sizes the ring benchmark sends.

use bytemuck::{Pod, Zeroable};

/// A benchmark message: a sequence number plus payload, checked on arrival.
pub trait Msg: Pod + Send + Sync + core::fmt::Debug + 'static {
    /// Size label for reports.
    const BYTES: usize;
    /// The message carrying `seq`.
    fn new(seq: u64) -> Self;
    /// The sequence number it carries.
    fn seq(&self) -> u64;
}

impl Msg for u64 {
    const BYTES: usize = 8;
    #[inline(always)] // reason: identity; must not cost a call in the measured loop
    fn new(seq: u64) -> Self {
        seq
    }
    #[inline(always)] // reason: identity; must not cost a call in the measured loop
    fn seq(&self) -> u64 {
        *self
    }
}

/// A 64-byte message, the size of the engine's market events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Msg64 {
    seq: u64,
    payload: [u64; 7],
}

impl Msg for Msg64 {
    const BYTES: usize = 64;
    #[inline(always)] // reason: builds the message in the measured loop
    fn new(seq: u64) -> Self {
        Self { seq, payload: [seq; 7] }
    }
    #[inline(always)] // reason: read in the measured loop
    fn seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_sequence() {
        assert_eq!(size_of::<Msg64>(), Msg64::BYTES);
        assert_eq!(Msg64::new(9).seq(), 9);
        assert_eq!(<u64 as Msg>::new(9).seq(), 9);
    }
}
