//! `tether._native`: the thin PyO3 layer between the Python package (`python/tether/`) and
//! tether's engine.
//!
//! Everything a user touches is typed Python; this module only
//! - owns one tokio runtime per process, started lazily, shut down by `shutdown()` (which
//!   the package registers with `atexit`), and refuses use after `fork` ([`runtime`]);
//! - starts raw and datadivr engine clients ([`NativeClient`]), encodes Python objects to
//!   JSON text without a detour through `json`, and hands inbound messages over as lazy
//!   objects ([`Message`], [`DatadivrMessage`]: payload decoded on first access);
//! - moves everything the engine reports (messages, events, completions) into one queue per
//!   client, with at most one wake-up byte per batch on a socket the asyncio loop watches
//!   ([`inbox`]). Tokio threads never take the GIL for a message.

mod convert;
mod inbox;
mod native;
mod platforms;
mod runtime;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The engine logs through `tracing`; with no subscriber its `log` records go to
    // Python's `logging` (loggers named after the Rust modules, e.g. `tether.engine`).
    // Levels are read from Python per record (records are rare: state changes, errors),
    // so `logging` configured after import, or changed later, takes effect.
    // The span bookkeeping `tracing` logs through `log` (a client's "++ tether;
    // platform=raw" at INFO under the span's target, enter/exit under `tracing::span`) says
    // nothing a Python user needs: not forwarded.
    if let Ok(logger) = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::Loggers) {
        let _ = logger
            .filter_target(tether::SPAN_TARGET.to_owned(), log::LevelFilter::Off)
            .filter_target("tracing::span".to_owned(), log::LevelFilter::Off)
            .install();
    }
    m.add_class::<native::NativeClient>()?;
    m.add_class::<native::NativeReceipt>()?;
    m.add_class::<native::NativeBatch>()?;
    m.add_class::<platforms::hpx::NativeHpx>()?;
    m.add_class::<platforms::hiven::NativeHivenPoster>()?;
    m.add_class::<convert::Message>()?;
    m.add_class::<convert::DatadivrMessage>()?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(convert::dumps, m)?)?;
    m.add_function(wrap_pyfunction!(convert::datadivr_wire_text, m)?)?;
    m.add_function(wrap_pyfunction!(platforms::moobius::moobius_build, m)?)?;
    m.add_function(wrap_pyfunction!(platforms::hiven::hiven_check_token, m)?)?;
    m.add_function(wrap_pyfunction!(platforms::gather::gather_descriptor, m)?)?;
    m.add_function(wrap_pyfunction!(platforms::gather::gather_actions, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
