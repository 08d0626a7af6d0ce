//! Net position, average entry and realised P&L per instrument, in fixed point.
//! P&L is in price-ticks × size-lots (scale `price_scale + qty_scale`), held in i128
//! so no product of a price and a size can overflow.

use feeds::event::Side;

/// One instrument's position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed size: positive long, negative short.
    pub net: i64,
    /// Average entry price of the open position (0 when flat).
    pub avg_price: i64,
    /// Realised P&L.
    pub realised: i128,
}

impl Position {
    /// Applies a fill.
    pub fn apply_fill(&mut self, side: Side, price: i64, qty: i64) {
        let signed = match side {
            Side::Buy => qty,
            Side::Sell => -qty,
        };
        if self.net == 0 || self.net.signum() == signed.signum() {
            let open = i128::from(self.net.abs());
            let total = open + i128::from(qty);
            let cost = i128::from(self.avg_price) * open + i128::from(price) * i128::from(qty);
            self.avg_price = i64::try_from(cost / total.max(1)).unwrap_or(self.avg_price);
            self.net += signed;
            return;
        }
        let closed = self.net.abs().min(qty);
        let direction = i128::from(self.net.signum());
        self.realised += (i128::from(price) - i128::from(self.avg_price)) * i128::from(closed) * direction;
        self.net += signed;
        if self.net == 0 {
            self.avg_price = 0;
        } else if self.net.signum() == signed.signum() {
            self.avg_price = price; // flipped: the rest opened at this price
        }
    }

    /// Unrealised P&L at `mark`.
    pub fn unrealised(&self, mark: i64) -> i128 {
        (i128::from(mark) - i128::from(self.avg_price)) * i128::from(self.net)
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
}
