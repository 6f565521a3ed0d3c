//! Platforms: one module per platform, each a sans-IO [`crate::Protocol`].

#[cfg(feature = "raw")]
pub mod raw;

#[cfg(feature = "datadivr")]
pub mod datadivr;

#[cfg(any(
    feature = "datadivr",
    feature = "moobius",
    feature = "hiven",
    feature = "hpx"
))]
mod pyjson;

#[cfg(any(
    feature = "datadivr",
    feature = "moobius",
    feature = "hiven",
    feature = "gather",
    feature = "hpx"
))]
mod shell;

#[cfg(feature = "gather")]
pub mod gather;
#[cfg(feature = "hiven")]
pub mod hiven;
#[cfg(feature = "hpx")]
pub mod hpx;
#[cfg(feature = "moobius")]
pub mod moobius;
