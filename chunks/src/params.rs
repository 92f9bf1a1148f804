//! Chunk size parameters and their recorded description.

use std::fmt;

use crate::ChunkError;

/// The chunking algorithm and the exact crate version: boundaries are only
/// reproducible with both (fastcdc changed cut points in 4.0.0, 4.0.1 and
/// 5.0.0), which is why the dependency is pinned with `=`.
pub const ALGORITHM: &str = "fastcdc-v2020/5.0.0";

/// Largest chunk any parameters can produce (FastCDC's `MAXIMUM_MAX`, 16 MiB).
/// Also the largest plaintext a stored chunk may claim.
pub const MAX_CHUNK_LEN: u32 = 16 * 1024 * 1024;

/// FastCDC chunk sizes in bytes.
///
/// FastCDC v2020 with normalization level 1 and the workspace's gear seed
/// (see [`WorkspaceKeys`](crate::WorkspaceKeys)) cuts a chunk no shorter than
/// `min` (except the last one of a file), no longer than `max`, and about
/// `avg` long on average. All three must be even (fastcdc 5.0 requirement),
/// `min ≤ avg ≤ max`, and within fastcdc's limits: `min` 64 B–1 MiB, `avg`
/// 256 B–4 MiB, `max` 1 KiB–16 MiB. Powers of two for `avg` work best.
///
/// The parameters are part of what a file version is: record
/// [`describe`](Self::describe) with each version, and read it back with
/// [`from_description`](Self::from_description).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkerParams {
    /// Smallest chunk (but the last), bytes.
    pub min: u32,
    /// Target average chunk, bytes.
    pub avg: u32,
    /// Largest chunk, bytes.
    pub max: u32,
}

impl ChunkerParams {
    /// 64 KiB / 256 KiB / 1 MiB.
    ///
    /// The average is the compromise from `peers.md` §5: 1-byte and 16-byte
    /// edits keep > 99% of a file's chunks (the tests check it), while a
    /// 1 GiB file is about 4,000 objects instead of 16,000 at a 64 KiB
    /// average. FastCDC's speed does not depend on the size (see the
    /// `pipeline` benchmark), and the per-chunk costs of the pipeline (a
    /// nonce, a zstd frame, 26–50 bytes of header and tag) are negligible at
    /// this size.
    pub const DEFAULT: Self = Self {
        min: 64 * 1024,
        avg: 256 * 1024,
        max: 1024 * 1024,
    };

    /// Checked constructor.
    ///
    /// # Errors
    ///
    /// [`ChunkError::InvalidParams`] when the sizes break a rule listed on
    /// the type.
    pub fn new(min: u32, avg: u32, max: u32) -> Result<Self, ChunkError> {
        let params = Self { min, avg, max };
        params.validate()?;
        Ok(params)
    }

    /// Checks the sizes against FastCDC's limits.
    ///
    /// # Errors
    ///
    /// [`ChunkError::InvalidParams`] naming the broken rule.
    pub fn validate(&self) -> Result<(), ChunkError> {
        use fastcdc::v2020 as f;
        let fail = |reason| {
            Err(ChunkError::InvalidParams {
                params: *self,
                reason,
            })
        };
        let (min, avg, max) = (self.min as usize, self.avg as usize, self.max as usize);
        if !(min.is_multiple_of(2) && avg.is_multiple_of(2) && max.is_multiple_of(2)) {
            return fail("min, avg and max must be even");
        }
        if !(f::MINIMUM_MIN..=f::MINIMUM_MAX).contains(&min) {
            return fail("min must be between 64 B and 1 MiB");
        }
        if !(f::AVERAGE_MIN..=f::AVERAGE_MAX).contains(&avg) {
            return fail("avg must be between 256 B and 4 MiB");
        }
        if !(f::MAXIMUM_MIN..=f::MAXIMUM_MAX).contains(&max) {
            return fail("max must be between 1 KiB and 16 MiB");
        }
        if !(min <= avg && avg <= max) {
            return fail("sizes must satisfy min <= avg <= max");
        }
        Ok(())
    }

    /// The description recorded with each file version, e.g.
    /// `fastcdc-v2020/5.0.0 min=65536 avg=262144 max=1048576`.
    ///
    /// Normalization level 1 and the gear seed of the workspace keys are
    /// implied by the algorithm name; a future chunker that differs in any
    /// of them gets a new name or an extra `key=value` field.
    pub fn describe(&self) -> String {
        format!(
            "{ALGORITHM} min={} avg={} max={}",
            self.min, self.avg, self.max
        )
    }

    /// Parses what [`describe`](Self::describe) wrote.
    ///
    /// # Errors
    ///
    /// [`ChunkError::UnknownChunker`] for another algorithm or version, or
    /// malformed text; [`ChunkError::InvalidParams`] for sizes out of range.
    pub fn from_description(text: &str) -> Result<Self, ChunkError> {
        let unknown = || ChunkError::UnknownChunker(text.to_owned());
        let mut words = text.split(' ');
        if words.next() != Some(ALGORITHM) {
            return Err(unknown());
        }
        let mut field = |name: &str| -> Result<u32, ChunkError> {
            words
                .next()
                .and_then(|w| w.strip_prefix(name))
                .and_then(|w| w.strip_prefix('='))
                .filter(|v| !v.starts_with('+'))
                .and_then(|v| v.parse().ok())
                .ok_or_else(unknown)
        };
        let (min, avg, max) = (field("min")?, field("avg")?, field("max")?);
        if words.next().is_some() {
            return Err(unknown());
        }
        Self::new(min, avg, max)
    }
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ChunkerParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_description() {
        assert_eq!(
            ChunkerParams::DEFAULT.describe(),
            "fastcdc-v2020/5.0.0 min=65536 avg=262144 max=1048576"
        );
        ChunkerParams::DEFAULT.validate().unwrap();
        assert_eq!(
            ChunkerParams::from_description(&ChunkerParams::DEFAULT.describe()).unwrap(),
            ChunkerParams::DEFAULT
        );
    }

    #[test]
    fn rejects_bad_sizes() {
        for (min, avg, max) in [
            (65, 256, 1024),
            (64, 255, 1024),
            (62, 256, 1024),
            (64, 256, 1022),
            (4096, 1024, 8192),
            (64, 8192, 4096),
            (64, 8 * 1024 * 1024, 16 * 1024 * 1024),
            (64, 256, 32 * 1024 * 1024),
            (2 * 1024 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024),
        ] {
            let err = ChunkerParams::new(min, avg, max).unwrap_err();
            assert!(
                matches!(err, ChunkError::InvalidParams { .. }),
                "{min}/{avg}/{max}: {err}"
            );
        }
        ChunkerParams::new(64, 256, 1024).unwrap();
        ChunkerParams::new(1 << 20, 4 << 20, 16 << 20).unwrap();
    }

    #[test]
    fn rejects_foreign_descriptions() {
        for text in [
            "",
            "fastcdc-v2020/4.0.0 min=65536 avg=262144 max=1048576",
            "fastcdc-v2016/5.0.0 min=65536 avg=262144 max=1048576",
            "fastcdc-v2020/5.0.0 min=65536 avg=262144",
            "fastcdc-v2020/5.0.0 min=65536 avg=262144 max=1048576 level=2",
            "fastcdc-v2020/5.0.0 avg=262144 min=65536 max=1048576",
            "fastcdc-v2020/5.0.0 min=+65536 avg=262144 max=1048576",
            "fastcdc-v2020/5.0.0  min=65536 avg=262144 max=1048576",
        ] {
            assert!(
                matches!(
                    ChunkerParams::from_description(text),
                    Err(ChunkError::UnknownChunker(_))
                ),
                "{text:?}"
            );
        }
    }
}
