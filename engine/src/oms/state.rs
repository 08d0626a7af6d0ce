//! The order state machine: one explicit table. Any transition not in it is a typed
//! error the OMS counts and reports; the order's state is then left unchanged.

/// Where an order is in its life. The numbers are persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum OrderState {
    /// Created by a strategy, not yet through risk.
    Initialized = 1,
    /// Refused by pre-trade risk; never left the engine.
    Denied = 2,
    /// Sent; no venue answer yet.
    Submitted = 3,
    /// Working: at the venue, or (a stop) armed in the engine's trigger book.
    Accepted = 4,
    /// Refused by the venue.
    Rejected = 5,
    /// Cancel sent; no answer yet.
    PendingCancel = 6,
    /// Partly executed and still working.
    PartiallyFilled = 7,
    /// Completely executed.
    Filled = 8,
    /// Cancelled (by request, or the unfilled rest of an IOC or market order).
    Canceled = 9,
    /// A replace (new price or size) sent; no answer yet.
    PendingUpdate = 10,
    /// Ended by the venue without a request: a FOK it could not fill whole.
    Expired = 11,
    /// A stop whose trigger the reference crossed, on its way to the venue.
    Triggered = 12,
}

/// Every state, in code order (for tables and tests).
pub const ALL_STATES: [OrderState; 12] = [
    OrderState::Initialized,
    OrderState::Denied,
    OrderState::Submitted,
    OrderState::Accepted,
    OrderState::Rejected,
    OrderState::PendingCancel,
    OrderState::PartiallyFilled,
    OrderState::Filled,
    OrderState::Canceled,
    OrderState::PendingUpdate,
    OrderState::Expired,
    OrderState::Triggered,
];

impl OrderState {
    /// Whether the order can change no more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Denied | Self::Rejected | Self::Filled | Self::Canceled | Self::Expired)
    }

    /// Whether it may still execute (counts toward open-order exposure).
    pub fn is_working(self) -> bool {
        matches!(
            self,
            Self::Submitted
                | Self::Accepted
                | Self::PartiallyFilled
                | Self::PendingCancel
                | Self::PendingUpdate
                | Self::Triggered
        )
    }

    /// Whether a request of ours is waiting for the venue's answer.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::PendingCancel | Self::PendingUpdate)
    }
}

/// What happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// Risk accepted it and it was sent (for a stop: its triggered order was sent).
    Send,
    /// Risk refused it.
    Deny,
    /// Risk accepted a stop order; the engine holds it until its trigger.
    Arm,
    /// The reference crossed an armed stop's trigger.
    Trigger,
    /// The venue accepted it.
    Accept,
    /// The venue refused it.
    Reject,
    /// A fill that leaves some size open.
    PartialFill,
    /// A fill that completes it.
    FullFill,
    /// We asked to cancel.
    RequestCancel,
    /// The venue cancelled it.
    Cancel,
    /// The venue refused our cancel.
    CancelReject,
    /// We asked to change its price or size.
    RequestReplace,
    /// The venue applied the change.
    ReplaceAck,
    /// The venue refused the change.
    ReplaceReject,
    /// The venue ended it without a request (FOK not fillable whole).
    Expire,
}

/// Every event (for tables and tests).
pub const ALL_EVENTS: [OrderEvent; 15] = [
    OrderEvent::Send,
    OrderEvent::Deny,
    OrderEvent::Arm,
    OrderEvent::Trigger,
    OrderEvent::Accept,
    OrderEvent::Reject,
    OrderEvent::PartialFill,
    OrderEvent::FullFill,
    OrderEvent::RequestCancel,
    OrderEvent::Cancel,
    OrderEvent::CancelReject,
    OrderEvent::RequestReplace,
    OrderEvent::ReplaceAck,
    OrderEvent::ReplaceReject,
    OrderEvent::Expire,
];

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order in state {from:?} cannot take event {event:?}")]
pub struct TransitionError {
    /// The state it was in.
    pub from: OrderState,
    /// The event refused.
    pub event: OrderEvent,
}

/// The next state, given where an order is, what happened, and (for the answer to a
/// cancel or replace) the state it was in before that request.
///
/// # Errors
/// A [`TransitionError`] for any pair not in the table.
pub fn next_state(
    from: OrderState,
    event: OrderEvent,
    before_pending: OrderState,
) -> Result<OrderState, TransitionError> {
    use OrderEvent as E;
    use OrderState as S;
    // Where the venue may still execute or end the order.
    let live_at_venue =
        matches!(from, S::Submitted | S::Accepted | S::PartiallyFilled | S::PendingCancel | S::PendingUpdate);
    Ok(match (from, event) {
        (S::Initialized, E::Send) => S::Submitted,
        (S::Initialized, E::Deny) => S::Denied,
        (S::Initialized, E::Arm) => S::Accepted,
        // An armed stop fires; the order it becomes passes the halt check before it
        // goes (Send) or is refused (Deny).
        (S::Accepted, E::Trigger) => S::Triggered,
        (S::Triggered, E::Send) => S::Submitted,
        (S::Triggered, E::Deny) => S::Denied,
        (S::Submitted, E::Accept) => S::Accepted,
        (S::Submitted, E::Reject) => S::Rejected,
        // The venue's ack or reject of an order we already asked to cancel: the ack
        // leaves the cancel pending (the OMS notes the order is now working); the
        // reject ends it, and the cancel's own answer finds it done.
        (S::PendingCancel, E::Accept) => S::PendingCancel,
        (S::PendingCancel, E::Reject) => S::Rejected,
        // A venue may report a fill, a cancel (IOC) or an expiry without an accept,
        // and a fill may arrive while our cancel or replace is in flight: it applies,
        // and the request stays pending.
        (_, E::PartialFill) if live_at_venue => {
            if from.is_pending() {
                from
            } else {
                S::PartiallyFilled
            }
        }
        (_, E::FullFill) if live_at_venue => S::Filled,
        (_, E::Cancel) if live_at_venue => S::Canceled,
        (_, E::Expire) if live_at_venue => S::Expired,
        (S::Submitted | S::Accepted | S::PartiallyFilled, E::RequestCancel) => S::PendingCancel,
        // A cancel overtakes a replace still in flight.
        (S::PendingUpdate, E::RequestCancel) => S::PendingCancel,
        (S::Accepted | S::PartiallyFilled, E::RequestReplace) => S::PendingUpdate,
        (S::PendingCancel, E::CancelReject) | (S::PendingUpdate, E::ReplaceAck | E::ReplaceReject) => before_pending,
        // The answer to a replace that a cancel overtook: the cancel is still pending.
        (S::PendingCancel, E::ReplaceAck | E::ReplaceReject) => S::PendingCancel,
        // An answer that raced a fill or a cancel: the order is already done.
        (S::Filled | S::Canceled | S::Expired | S::Rejected, E::CancelReject | E::ReplaceReject) => from,
        _ => return Err(TransitionError { from, event }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, written out: a row per state (in code order), a column per
    /// event (in `ALL_EVENTS` order). `--` is a refused pair; `bp` is the state before
    /// the pending request.
    const TABLE: &str = "
        state | Send Deny Arm  Trig Acc  Rej  PFil FFil ReqC Canc CRej ReqR RAck RRej Exp
        Ini   | Sub  Den  Acc  --   --   --   --   --   --   --   --   --   --   --   --
        Den   | --   --   --   --   --   --   --   --   --   --   --   --   --   --   --
        Sub   | --   --   --   --   Acc  Rej  PFi  Fil  PCa  Can  --   --   --   --   Exp
        Acc   | --   --   --   Trg  --   --   PFi  Fil  PCa  Can  --   PUp  --   --   Exp
        Rej   | --   --   --   --   --   --   --   --   --   --   Rej  --   --   Rej  --
        PCa   | --   --   --   --   PCa  Rej  PCa  Fil  --   Can  bp   --   PCa  PCa  Exp
        PFi   | --   --   --   --   --   --   PFi  Fil  PCa  Can  --   PUp  --   --   Exp
        Fil   | --   --   --   --   --   --   --   --   --   --   Fil  --   --   Fil  --
        Can   | --   --   --   --   --   --   --   --   --   --   Can  --   --   Can  --
        PUp   | --   --   --   --   --   --   PUp  Fil  PCa  Can  --   --   bp   bp   Exp
        Exp   | --   --   --   --   --   --   --   --   --   --   Exp  --   --   Exp  --
        Trg   | Sub  Den  --   --   --   --   --   --   --   --   --   --   --   --   --
    ";

    fn state(abbrev: &str) -> OrderState {
        let names = ["Ini", "Den", "Sub", "Acc", "Rej", "PCa", "PFi", "Fil", "Can", "PUp", "Exp", "Trg"];
        let i = names.iter().position(|n| *n == abbrev).unwrap_or_else(|| panic!("unknown state {abbrev}"));
        ALL_STATES[i]
    }

    #[test]
    fn every_state_event_pair_matches_the_written_table() {
        let rows: Vec<&str> = TABLE.lines().map(str::trim).filter(|l| !l.is_empty()).skip(1).collect();
        assert_eq!(rows.len(), ALL_STATES.len());
        // Two different "before" states, so `bp` cannot pass by accident.
        for before in [OrderState::Accepted, OrderState::PartiallyFilled] {
            for (row, from) in rows.iter().zip(ALL_STATES) {
                let (name, cells) = row.split_once('|').unwrap();
                assert_eq!(state(name.trim()), from, "rows follow the state codes");
                let cells: Vec<&str> = cells.split_whitespace().collect();
                assert_eq!(cells.len(), ALL_EVENTS.len(), "row {name}");
                for (cell, event) in cells.into_iter().zip(ALL_EVENTS) {
                    let want = match cell {
                        "--" => Err(TransitionError { from, event }),
                        "bp" => Ok(before),
                        s => Ok(state(s)),
                    };
                    assert_eq!(next_state(from, event, before), want, "{from:?} + {event:?}");
                }
            }
        }
    }

    #[test]
    fn codes_are_dense_and_terminal_states_do_not_work() {
        for (i, s) in ALL_STATES.into_iter().enumerate() {
            assert_eq!(s as usize, i + 1);
            assert!(!(s.is_terminal() && s.is_working()), "{s:?}");
        }
    }
}
