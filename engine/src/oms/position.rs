//! Net position, average entry and realised P&L per instrument, in fixed point.
//! P&L is in price-ticks × size-lots (scale `price_scale + qty_scale`), held in i128
//! so no product of a price and a size can overflow.

use feeds::event::Side;

/// One instrument's position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed size: positive long, negative short.
    pub net: i64,
    /// Average entry price of the open position (0 when flat), truncated for display;
    /// P&L uses the exact cost basis.
    pub avg_price: i64,
    /// Realised P&L, before fees.
    pub realised: i128,
    /// Fees paid (negative: rebates received).
    pub fees: i128,
    /// Exact cost of the open position (Σ price × size), so averaging never drifts.
    cost: i128,
}

impl Position {
    /// Applies a fill.
    pub fn apply_fill(&mut self, side: Side, price: i64, qty: i64) {
        let signed = match side {
            Side::Buy => qty,
            Side::Sell => -qty,
        };
        let (price, qty_wide) = (i128::from(price), i128::from(qty));
        if self.net == 0 || self.net.signum() == signed.signum() {
            self.cost += price * qty_wide;
            self.net += signed;
        } else {
            let open = i128::from(self.net.abs());
            let closed = open.min(qty_wide);
            // The closed part's share of the cost: exact when the position closes fully.
            let closed_cost = self.cost * closed / open;
            let direction = i128::from(self.net.signum());
            self.realised += (price * closed - closed_cost) * direction;
            self.cost -= closed_cost;
            self.net += signed;
            if self.net.signum() == signed.signum() && self.net != 0 {
                // Flipped: the rest opened at this price.
                self.cost = price * i128::from(self.net.abs());
            }
        }
        if self.net == 0 {
            self.cost = 0;
        }
        let open = i128::from(self.net.abs()).max(1);
        self.avg_price = i64::try_from(self.cost / open).unwrap_or(i64::MAX);
    }

    /// A position taken over from elsewhere (the venue, at start-up): `net` at an
    /// average entry of `avg_price`, with nothing realised yet.
    pub fn opened(net: i64, avg_price: i64) -> Self {
        let cost = i128::from(avg_price) * i128::from(net.abs());
        Self {
            net,
            avg_price: if net == 0 { 0 } else { avg_price },
            realised: 0,
            fees: 0,
            cost: if net == 0 { 0 } else { cost },
        }
    }

    /// Books a fee (a rebate if negative).
    pub fn add_fee(&mut self, fee: i64) {
        self.fees += i128::from(fee);
    }

    /// Unrealised P&L at `mark`.
    pub fn unrealised(&self, mark: i64) -> i128 {
        i128::from(mark) * i128::from(self.net) - self.cost * i128::from(self.net.signum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averaging_closing_and_flipping() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, 100, 2);
        p.apply_fill(Side::Buy, 103, 1);
        assert_eq!((p.net, p.avg_price), (3, 101));
        p.apply_fill(Side::Sell, 110, 1);
        assert_eq!((p.net, p.avg_price, p.realised), (2, 101, 9));
        p.apply_fill(Side::Sell, 90, 5);
        assert_eq!((p.net, p.avg_price, p.realised), (-3, 90, 9 - 22));
        assert_eq!(p.unrealised(80), 30);
        p.apply_fill(Side::Buy, 95, 3);
        assert_eq!((p.net, p.avg_price, p.realised), (0, 0, -13 - 15));
    }

    #[test]
    fn averaging_does_not_drift_on_uneven_prices() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, 100, 1);
        p.apply_fill(Side::Buy, 101, 1);
        assert_eq!(p.avg_price, 100, "shown truncated");
        p.apply_fill(Side::Sell, 101, 2);
        assert_eq!((p.net, p.realised), (0, 1), "but realised exactly: 2 x 101 - (100 + 101)");
        let mut short = Position::default();
        short.apply_fill(Side::Sell, 10, 3);
        short.apply_fill(Side::Sell, 11, 3);
        assert_eq!(short.unrealised(9), (10 + 10 + 10 + 11 + 11 + 11) - 6 * 9);
    }
}
