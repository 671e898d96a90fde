//! [`IntCells`]: the flat cells of rows whose columns are all integers, four bytes a cell
//! while every value fits an `int` (every `mgc` key does), eight from the first value that
//! does not. The largest pool's 1.6 million role rows and their affiliations took 78 MB of
//! the load's peak at eight bytes a cell.

/// Integer cells, row after row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntCells {
    /// Every value fits 32 bits.
    Narrow(Vec<i32>),
    /// Some value does not.
    Wide(Vec<i64>),
}

impl Default for IntCells {
    fn default() -> Self {
        IntCells::Narrow(Vec::new())
    }
}

impl IntCells {
    /// Empty, with room for `n` cells.
    pub fn with_capacity(n: usize) -> IntCells {
        IntCells::Narrow(Vec::with_capacity(n))
    }

    /// Cells held.
    pub fn len(&self) -> usize {
        match self {
            IntCells::Narrow(v) => v.len(),
            IntCells::Wide(v) => v.len(),
        }
    }

    /// No cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cells there is room for without growing.
    pub fn capacity(&self) -> usize {
        match self {
            IntCells::Narrow(v) => v.capacity(),
            IntCells::Wide(v) => v.capacity(),
        }
    }

    /// Cell `i`.
    pub fn get(&self, i: usize) -> i64 {
        match self {
            IntCells::Narrow(v) => i64::from(v[i]),
            IntCells::Wide(v) => v[i],
        }
    }

    /// Every cell, as 64-bit values.
    pub fn to_vec(&self) -> Vec<i64> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// Appends cells, widening every cell held when one does not fit 32 bits.
    pub fn extend(&mut self, cells: &[i64]) {
        if let IntCells::Narrow(v) = self {
            if cells.iter().all(|&c| i32::try_from(c).is_ok()) {
                v.extend(cells.iter().map(|&c| c as i32));
                return;
            }
            let mut wide = Vec::with_capacity(v.capacity().max(v.len() + cells.len()));
            wide.extend(v.iter().map(|&c| i64::from(c)));
            *self = IntCells::Wide(wide);
        }
        if let IntCells::Wide(v) = self {
            v.extend_from_slice(cells);
        }
    }

    /// Makes room for `n` more cells.
    pub fn reserve_exact(&mut self, n: usize) {
        match self {
            IntCells::Narrow(v) => v.reserve_exact(n),
            IntCells::Wide(v) => v.reserve_exact(n),
        }
    }

    /// Gives back the room the cells grew into.
    pub fn shrink_to_fit(&mut self) {
        match self {
            IntCells::Narrow(v) => v.shrink_to_fit(),
            IntCells::Wide(v) => v.shrink_to_fit(),
        }
    }
}

impl From<Vec<i64>> for IntCells {
    fn from(cells: Vec<i64>) -> Self {
        let mut out = IntCells::with_capacity(cells.len());
        out.extend(&cells);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_narrow_until_one_does_not_fit_then_keep_every_value() {
        let mut c = IntCells::with_capacity(4);
        c.extend(&[1, -2, i64::from(i32::MAX)]);
        assert!(matches!(c, IntCells::Narrow(_)));
        c.extend(&[i64::from(i32::MAX) + 1, 7]);
        assert!(matches!(c, IntCells::Wide(_)));
        assert_eq!(c.to_vec(), [1, -2, i64::from(i32::MAX), i64::from(i32::MAX) + 1, 7]);
        c.extend(&[i64::MIN]);
        assert_eq!((c.len(), c.get(5)), (6, i64::MIN));
        assert_eq!(IntCells::from(vec![3, 4]).to_vec(), [3, 4]);
    }
}
