//! The order state machine: one explicit table. Any transition not in it is a typed
//! error the OMS counts and reports; the order's state is then left unchanged.

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum OrderState {
    /// Created by a strategy, not yet through risk.
    Initialized = 1,
    /// Refused by pre-trade risk; never left the engine.
    Denied = 2,
    /// Sent; no venue answer yet.
    Submitted = 3,
    /// Working at the venue.
    Accepted = 4,
    /// Refused by the venue.
    Rejected = 5,
    /// Cancel sent; no answer yet.
    PendingCancel = 6,
    /// Partly executed and still working.
    PartiallyFilled = 7,
    /// Completely executed.
    Filled = 8,
    /// Cancelled (by request, or the rest of an IOC).
    Canceled = 9,
}

impl OrderState {
    /// Whether the order can change no more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Denied | Self::Rejected | Self::Filled | Self::Canceled)
    }

    /// Whether it may still execute (counts toward open-order exposure).
    pub fn is_working(self) -> bool {
        matches!(self, Self::Submitted | Self::Accepted | Self::PartiallyFilled | Self::PendingCancel)
    }
}

/// What happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// Risk accepted it and it was sent.
    Send,
    /// Risk refused it.
    Deny,
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
}

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order in state {from:?} cannot take event {event:?}")]
pub struct TransitionError {
    /// The state it was in.
    pub from: OrderState,
    /// The event refused.
    pub event: OrderEvent,
}

/// The next state, given where an order is, what happened, and (for a cancel reject)
/// the state it was in before the cancel was requested.
///
/// # Errors
/// A [`TransitionError`] for any pair not in the table.
pub fn next_state(
    from: OrderState,
    event: OrderEvent,
    before_cancel: OrderState,
) -> Result<OrderState, TransitionError> {
    use OrderEvent as E;
    use OrderState as S;
    Ok(match (from, event) {
        (S::Initialized, E::Send) => S::Submitted,
        (S::Initialized, E::Deny) => S::Denied,
        (S::Submitted, E::Accept) => S::Accepted,
        (S::Submitted, E::Reject) => S::Rejected,
        // A venue may report a fill or a cancel (IOC) without a separate accept.
        (S::Submitted | S::Accepted | S::PartiallyFilled | S::PendingCancel, E::PartialFill) => {
            if from == S::PendingCancel { S::PendingCancel } else { S::PartiallyFilled }
        }
        (S::Submitted | S::Accepted | S::PartiallyFilled | S::PendingCancel, E::FullFill) => S::Filled,
        (S::Submitted | S::Accepted | S::PartiallyFilled, E::RequestCancel) => S::PendingCancel,
        (S::Submitted | S::Accepted | S::PartiallyFilled | S::PendingCancel, E::Cancel) => S::Canceled,
        (S::PendingCancel, E::CancelReject) => before_cancel,
        // A cancel that raced a fill: the order is already done, nothing changes.
        (S::Filled | S::Canceled, E::CancelReject) => from,
        _ => return Err(TransitionError { from, event }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [OrderState; 9] = [
        OrderState::Initialized,
        OrderState::Denied,
        OrderState::Submitted,
        OrderState::Accepted,
        OrderState::Rejected,
        OrderState::PendingCancel,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::Canceled,
    ];
    const EVENTS: [OrderEvent; 9] = [
        OrderEvent::Send,
        OrderEvent::Deny,
        OrderEvent::Accept,
        OrderEvent::Reject,
        OrderEvent::PartialFill,
        OrderEvent::FullFill,
        OrderEvent::RequestCancel,
        OrderEvent::Cancel,
        OrderEvent::CancelReject,
    ];

    #[test]
    fn terminal_states_accept_nothing_but_a_late_cancel_reject() {
        for from in STATES.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                let result = next_state(from, event, OrderState::Accepted);
                if event == OrderEvent::CancelReject && matches!(from, OrderState::Filled | OrderState::Canceled) {
                    assert_eq!(result, Ok(from));
                } else {
                    assert_eq!(result, Err(TransitionError { from, event }), "{from:?} + {event:?}");
                }
            }
        }
    }

    #[test]
    fn a_fill_during_pending_cancel_applies_and_a_cancel_reject_restores() {
        let s = next_state(OrderState::PartiallyFilled, OrderEvent::RequestCancel, OrderState::Accepted).unwrap();
        assert_eq!(s, OrderState::PendingCancel);
        assert_eq!(next_state(s, OrderEvent::PartialFill, OrderState::PartiallyFilled), Ok(OrderState::PendingCancel));
        assert_eq!(
            next_state(s, OrderEvent::CancelReject, OrderState::PartiallyFilled),
            Ok(OrderState::PartiallyFilled)
        );
        assert_eq!(next_state(s, OrderEvent::FullFill, OrderState::PartiallyFilled), Ok(OrderState::Filled));
    }

    #[test]
    fn nothing_leaves_initialized_but_send_or_deny() {
        for event in EVENTS {
            let ok = next_state(OrderState::Initialized, event, OrderState::Initialized).is_ok();
            assert_eq!(ok, matches!(event, OrderEvent::Send | OrderEvent::Deny), "{event:?}");
        }
    }
}
