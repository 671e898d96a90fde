//! The generator's randomness: a seeded SplitMix64 with one stream per phase. It is
//! written out here rather than taken from a crate so that a seed keeps producing the same
//! database across releases and engines.

/// SplitMix64: tiny, fast, and its stream never changes (unlike the `rand` crate's).
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// An independent stream per phase, so that changing one phase leaves the others alone.
    pub(super) fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }

    /// The next 64 random bits.
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille` / 1000.
    pub(super) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// In `0..n`, skewed towards 0 (the scaled product of two uniforms).
    pub(super) fn skewed(&mut self, n: u64) -> u64 {
        let (a, b) = (u128::from(self.below(n)), u128::from(self.below(n)));
        (a * b / u128::from(n.max(1))) as u64
    }

    /// `None` (inherit) mostly; an explicit 0 or 1 with probability `per_mille` / 1000.
    pub(super) fn opt_bit(&mut self, per_mille: u64) -> Option<i32> {
        self.chance(per_mille).then(|| self.below(2) as i32)
    }

    /// A version-4 GUID, lowercase 8-4-4-4-12.
    pub(super) fn guid(&mut self) -> String {
        let a = (self.next() & !0xF000) | 0x4000;
        let b = (self.next() & !(3 << 62)) | (2 << 62);
        let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF);
        format!("{a1:08x}-{a2:04x}-{a3:04x}-{:04x}-{:012x}", b >> 48, b & 0xFFFF_FFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_stream_and_is_deterministic() {
        assert_eq!(Rng(0).next(), 0xE220_A839_7B1D_CDAF);
        let (mut a, mut b) = (Rng::new(42, 3), Rng::new(42, 3));
        assert!((0..100).all(|_| a.next() == b.next()));
        assert_ne!(Rng::new(42, 3).next(), Rng::new(42, 4).next());
    }

    #[test]
    fn guids_are_lowercase_8_4_4_4_12() {
        let mut rng = Rng::new(1, 1);
        for _ in 0..100 {
            let g = rng.guid();
            let lens: Vec<usize> = g.split('-').map(str::len).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{g}");
            assert!(g.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        }
    }
}
