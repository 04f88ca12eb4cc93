//! Coalitions of players as bitmasks: bit i set ⇔ player i present (method §1). A value vector `v`
//! is indexed by the mask, so `v[T.mask()] = v(x_T)`.

use std::fmt;

/// The largest number of players an exact computation accepts (2^24 masked inputs).
pub const MAX_PLAYERS: usize = 24;

/// A set of players, bit i = player i.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Coalition(pub u32);

impl Coalition {
    /// The empty coalition ∅.
    pub const EMPTY: Coalition = Coalition(0);

    /// All n players, N.
    pub fn full(n: usize) -> Coalition {
        debug_assert!(n <= 31);
        Coalition(((1u64 << n) - 1) as u32)
    }

    /// The coalition holding exactly the given players.
    pub fn from_players(players: &[usize]) -> Coalition {
        Coalition(players.iter().fold(0u32, |m, &p| m | (1 << p)))
    }

    /// The bitmask, usable as an index into a value vector.
    pub fn mask(self) -> usize {
        self.0 as usize
    }

    /// |S|, the order of an interaction.
    pub fn order(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, player: usize) -> bool {
        player < 32 && self.0 >> player & 1 == 1
    }

    pub fn is_subset_of(self, other: Coalition) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersects(self, other: Coalition) -> bool {
        self.0 & other.0 != 0
    }

    /// N \ S for n players.
    pub fn complement(self, n: usize) -> Coalition {
        Coalition(!self.0 & Coalition::full(n).0)
    }

    /// The players in increasing order.
    pub fn players(self) -> impl Iterator<Item = usize> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let p = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some(p)
        })
    }

    /// Every subset of this coalition, ∅ first, the coalition itself last.
    pub fn subsets(self) -> impl Iterator<Item = Coalition> {
        let full = self.0;
        let mut next = Some(0u32);
        std::iter::from_fn(move || {
            let cur = next?;
            next = if cur == full {
                None
            } else {
                Some((cur.wrapping_sub(full)) & full)
            };
            Some(Coalition(cur))
        })
    }

    /// All 2^n coalitions of n players in mask order.
    pub fn all(n: usize) -> impl Iterator<Item = Coalition> {
        (0..1u64 << n).map(|m| Coalition(m as u32))
    }

    /// Mask with player 0 as the most significant bit (the authors' order) for n players.
    pub fn to_msb_first(self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.0.reverse_bits() >> (32 - n as u32)) as usize
    }

    /// Format with player names, e.g. `{black, dog}`; ∅ for the empty set.
    pub fn display_with<'a, S: AsRef<str>>(self, names: &'a [S]) -> CoalitionDisplay<'a, S> {
        CoalitionDisplay {
            coalition: self,
            names,
        }
    }
}

impl fmt::Debug for Coalition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("∅");
        }
        f.write_str("{")?;
        for (k, p) in self.players().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for Coalition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A coalition shown with the names of its players.
pub struct CoalitionDisplay<'a, S> {
    coalition: Coalition,
    names: &'a [S],
}

impl<S: AsRef<str>> fmt::Display for CoalitionDisplay<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.coalition.is_empty() {
            return f.write_str("∅");
        }
        f.write_str("{")?;
        for (k, p) in self.coalition.players().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            match self.names.get(p) {
                Some(name) => f.write_str(name.as_ref())?,
                None => write!(f, "#{p}")?,
            }
        }
        f.write_str("}")
    }
}

/// Number of players n for a value vector of length 2^n, checking the length and the limit.
pub fn players_for_len(len: usize) -> crate::Result<usize> {
    if len == 0 || !len.is_power_of_two() {
        return Err(crate::Error::NotPowerOfTwo { len });
    }
    let n = len.trailing_zeros() as usize;
    if n > MAX_PLAYERS {
        return Err(crate::Error::TooManyPlayers {
            n,
            max: MAX_PLAYERS,
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_enumerates_all_subsets_once() {
        let s = Coalition::from_players(&[0, 2, 5]);
        let subs: Vec<_> = s.subsets().collect();
        assert_eq!(subs.len(), 8);
        assert_eq!(subs[0], Coalition::EMPTY);
        assert_eq!(*subs.last().unwrap(), s);
        assert!(subs.iter().all(|t| t.is_subset_of(s)));
        let mut masks: Vec<_> = subs.iter().map(|c| c.0).collect();
        masks.sort();
        masks.dedup();
        assert_eq!(masks.len(), 8);
    }

    #[test]
    fn display_uses_names() {
        let names = ["black", "dog", "runs"];
        let s = Coalition::from_players(&[0, 1]);
        assert_eq!(s.display_with(&names).to_string(), "{black, dog}");
        assert_eq!(Coalition::EMPTY.display_with(&names).to_string(), "∅");
        assert_eq!(Coalition(0b1000).display_with(&names).to_string(), "{#3}");
        assert_eq!(format!("{:?}", s), "{0, 1}");
    }

    #[test]
    fn msb_first_order_reverses_bits() {
        // n = 3: player 0 is bit 2 in the authors' order.
        assert_eq!(Coalition::from_players(&[0]).to_msb_first(3), 0b100);
        assert_eq!(Coalition::from_players(&[2]).to_msb_first(3), 0b001);
        assert_eq!(Coalition::from_players(&[0, 1]).to_msb_first(3), 0b110);
        assert_eq!(Coalition::full(24).to_msb_first(24), (1 << 24) - 1);
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(players_for_len(1024).unwrap(), 10);
        assert_eq!(players_for_len(1).unwrap(), 0);
        assert!(matches!(
            players_for_len(1000),
            Err(crate::Error::NotPowerOfTwo { .. })
        ));
        assert!(matches!(
            players_for_len(0),
            Err(crate::Error::NotPowerOfTwo { .. })
        ));
        assert!(matches!(
            players_for_len(1 << 25),
            Err(crate::Error::TooManyPlayers { .. })
        ));
    }
}
