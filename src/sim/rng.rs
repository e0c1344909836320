//! A small seeded PRNG: SplitMix64 expands the seed into a xoshiro256** state.
//!
//! Written here rather than taken from a crate so that a seed's event stream is pinned by this
//! file alone: a dependency bump can never silently change what `--seed 42` produces.

/// SplitMix64 (Steele, Lea, Flood): one 64-bit word of state, used only to expand seeds
/// because consecutive outputs are well mixed even from seeds like 0, 1, 2.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna): fast, 256-bit state, passes BigCrush; plenty for a
/// simulator that needs reproducibility, not cryptographic strength.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = SplitMix64::new(seed);
        // SplitMix64 is a bijection of its counter, so four consecutive outputs are never all
        // zero, the one state xoshiro cannot leave.
        Rng {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    /// An independent generator for sub-stream `stream` of `seed`, so that each part of the
    /// simulator draws from its own sequence and changing how often one part draws (say,
    /// turning on jitter) does not shift the numbers every other part sees.
    pub(crate) fn stream(seed: u64, stream: u64) -> Rng {
        let mix = SplitMix64::new(stream ^ 0x5DEE_CE66_D1CE_4E5B).next_u64();
        Rng::new(seed ^ mix)
    }

    #[cfg(test)]
    fn from_state(s: [u64; 4]) -> Rng {
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in (0, 1], on the grid of multiples of 2⁻⁵³. Zero is excluded so `ln` in
    /// [`Rng::exp`] is always finite.
    pub(crate) fn uniform(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        ((self.next_u64() >> 11) + 1) as f64 * SCALE
    }

    /// Exponential with the given mean (1/λ), by inverse transform.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -self.uniform().ln() * mean
    }

    /// True with probability `p`; `p <= 0` is never, `p >= 1` always.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() <= p
    }

    /// Uniform integer in `[0, n)`; 0 when `n == 0`. Multiply-shift: the bias is at most
    /// n/2⁶⁴, far below anything a simulation could notice.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests;
