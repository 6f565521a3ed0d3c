//! Platforms: one module per platform, each a sans-IO [`crate::Protocol`].

#[cfg(feature = "raw")]
pub mod raw;

#[cfg(feature = "datadivr")]
pub mod datadivr;

#[cfg(feature = "hpx")]
pub mod hpx;
