//! Decode errors: `Copy`, allocation-free, with the byte offset where decoding failed.

use crate::decimal::DecimalError;

/// Why a frame could not be decoded, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset into the frame.
    pub offset: u32,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

/// The kinds of bad input a decoder reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The frame ended inside a value.
    #[error("unexpected end of frame")]
    UnexpectedEnd,
    /// A byte that cannot start or continue what was expected.
    #[error("expected {expected}, found {found:?}")]
    Unexpected {
        /// What the grammar needed.
        expected: &'static str,
        /// The byte found, as a char.
        found: char,
    },
    /// Objects or arrays nested deeper than any venue sends.
    #[error("nesting deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: u8,
    },
    /// Bytes after the end of the message.
    #[error("trailing data after the message")]
    TrailingData,
    /// A field the message kind requires is absent.
    #[error("missing field {field:?}")]
    MissingField {
        /// The venue's field name.
        field: &'static str,
    },
    /// A field of the wrong JSON type, or an integer out of range.
    #[error("field {field:?} is not a valid {expected}")]
    BadField {
        /// The venue's field name.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// A decimal field that is not an exact fixed-point number at the instrument's scale.
    #[error("field {field:?}: {error}")]
    BadDecimal {
        /// The venue's field name.
        field: &'static str,
        /// Why.
        error: DecimalError,
    },
    /// A price or size that must be positive is zero or negative.
    #[error("field {field:?} must be greater than zero")]
    NotPositive {
        /// The venue's field name.
        field: &'static str,
    },
    /// A book size that is negative.
    #[error("field {field:?} must not be negative")]
    Negative {
        /// The venue's field name.
        field: &'static str,
    },
    /// A field that appears twice in one message (the two values could disagree).
    #[error("field {field:?} appears twice")]
    DuplicateField {
        /// The venue's field name.
        field: &'static str,
    },
    /// A symbol not in the symbol table.
    #[error("unknown symbol")]
    UnknownSymbol,
    /// A message kind this decoder does not handle (subscription acks, etc.).
    #[error("unknown message kind")]
    UnknownMessage,
    /// The caller's event buffer is full.
    #[error("event buffer full")]
    BufferFull,
    /// The venue's answer to a request says it refused it (a subscription to a
    /// topic it does not carry, too many topics): the frame is well formed, but what
    /// it answers did not happen.
    #[error("the venue refused a request")]
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_messages_name_offset_field_and_cause() {
        let e = DecodeError { offset: 17, kind: DecodeErrorKind::Unexpected { expected: "':'", found: ',' } };
        assert_eq!(e.to_string(), "at byte 17: expected ':', found ','");
        let e = DecodeError {
            offset: 3,
            kind: DecodeErrorKind::BadDecimal { field: "p", error: DecimalError::TooManyDecimals { scale: 2 } },
        };
        assert_eq!(e.to_string(), "at byte 3: field \"p\": more than 2 decimal places");
        assert_eq!(DecodeErrorKind::MissingField { field: "s" }.to_string(), "missing field \"s\"");
        assert_eq!(
            DecodeErrorKind::BadField { field: "T", expected: "integer" }.to_string(),
            "field \"T\" is not a valid integer"
        );
        assert_eq!(DecodeErrorKind::NotPositive { field: "q" }.to_string(), "field \"q\" must be greater than zero");
        assert_eq!(DecodeErrorKind::Negative { field: "b" }.to_string(), "field \"b\" must not be negative");
        assert_eq!(DecodeErrorKind::TooDeep { max: 16 }.to_string(), "nesting deeper than 16 levels");
        assert_eq!(DecodeErrorKind::UnexpectedEnd.to_string(), "unexpected end of frame");
        assert_eq!(DecodeErrorKind::TrailingData.to_string(), "trailing data after the message");
        assert_eq!(DecodeErrorKind::UnknownSymbol.to_string(), "unknown symbol");
        assert_eq!(DecodeErrorKind::DuplicateField { field: "s" }.to_string(), "field \"s\" appears twice");
        assert_eq!(DecodeErrorKind::UnknownMessage.to_string(), "unknown message kind");
        assert_eq!(DecodeErrorKind::BufferFull.to_string(), "event buffer full");
        assert_eq!(DecodeErrorKind::Refused.to_string(), "the venue refused a request");
    }
}
