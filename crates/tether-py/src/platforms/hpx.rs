//! HappyPanda X: `NativeHpx`, tether's [`HpxClient`] (greeting, handshake, request and
//! reply over the engine, the timeout applied, optional reconnect with re-handshake)
//! called from a Python thread. Each call runs on the engine's runtime while this
//! thread waits without the GIL; `tether.happypandax` wraps it in the SDK's `Client`
//! (and in `AsyncClient`, which waits in an executor thread).

use std::{
    future::Future,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use pyo3::{exceptions::PyValueError, prelude::*, types::PyBytes};
use tether::{
    BackoffConfig, ClientConfig,
    hpx::{HpxClient, HpxError},
    json::{self, Value},
};

use crate::{convert, runtime};

/// The `tether.happypandax` exception for `e` (the SDK's classes, codes and text).
fn hpx_err(py: Python<'_>, e: &HpxError) -> PyErr {
    let (class, name, msg) = match e {
        HpxError::Client { name, msg } => ("ClientError", name, msg),
        HpxError::Connection { name, msg } => ("ConnectionError", name, msg),
        HpxError::ServerDisconnect { name, msg } => ("ServerDisconnectError", name, msg),
        HpxError::Auth { name, msg, .. } => ("AuthError", name, msg),
        HpxError::AuthRequired { name, msg } => ("AuthRequiredError", name, msg),
        HpxError::AuthWrongCredentials { name, msg } => ("AuthWrongCredentialsError", name, msg),
        HpxError::AuthMissingCredentials { name, msg } => ("AuthMissingCredentials", name, msg),
        HpxError::JsonParse { name, msg } => ("JSONParseError", name, msg),
        other => return convert::error(&other.to_string()),
    };
    let made = py
        .import("tether.happypandax")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| {
            if class == "JSONParseError" {
                cls.call1(("", name, msg))
            } else {
                cls.call1((name, msg))
            }
        });
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

fn value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    json::from_str(&convert::to_json(obj)?).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// How the client is made once `connect` names the server.
struct Settings {
    name: String,
    session_id: String,
    tls: bool,
    ca_file: Option<PathBuf>,
    /// Extra roots (DER), from the `ssl_context`.
    ca_certs: Vec<Vec<u8>>,
    timeout: Duration,
    auto_reconnect: bool,
    backoff: BackoffConfig,
}

/// One HPX client; see `_native.pyi`.
#[pyclass(frozen, module = "tether._native")]
pub struct NativeHpx {
    settings: Settings,
    client: Mutex<Option<Arc<HpxClient>>>,
}

impl NativeHpx {
    fn current(&self) -> Option<Arc<HpxClient>> {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn require(&self, py: Python<'_>) -> PyResult<Arc<HpxClient>> {
        self.current().ok_or_else(|| {
            hpx_err(
                py,
                &HpxError::Client {
                    name: self.settings.name.clone(),
                    msg: format!("Client '{}' is not connected to server", self.settings.name),
                },
            )
        })
    }

    /// Runs `f(client)` on the runtime; this thread waits without the GIL.
    fn run<T: Send + 'static, F>(
        &self,
        py: Python<'_>,
        client: Arc<HpxClient>,
        f: impl FnOnce(Arc<HpxClient>) -> F + Send + 'static,
    ) -> PyResult<T>
    where
        F: Future<Output = Result<T, HpxError>> + Send + 'static,
    {
        let handle = runtime::handle(py)?;
        let out = py.detach(move || {
            let task = handle.spawn(f(client));
            handle.block_on(task)
        });
        match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(hpx_err(py, &e)),
            Err(e) => Err(convert::error(&format!("HPX call failed: {e}"))),
        }
    }
}

#[pymethods]
impl NativeHpx {
    /// A client called `name` (not connected).
    #[new]
    #[pyo3(signature = (
        name, *, session_id = String::new(), tls = false, ca_file = None, ca_certs = Vec::new(),
        timeout = 60.0, auto_reconnect = false, backoff_base = 0.25, backoff_cap = 30.0,
        max_attempts = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        session_id: String,
        tls: bool,
        ca_file: Option<PathBuf>,
        ca_certs: Vec<Vec<u8>>,
        timeout: f64,
        auto_reconnect: bool,
        backoff_base: f64,
        backoff_cap: f64,
        max_attempts: Option<u32>,
    ) -> PyResult<Self> {
        let secs = |name: &str, v: f64| {
            Duration::try_from_secs_f64(v).map_err(|_| {
                PyValueError::new_err(format!("{name} must be a non-negative number of seconds"))
            })
        };
        Ok(Self {
            settings: Settings {
                name,
                session_id,
                tls,
                ca_file,
                ca_certs,
                timeout: secs("timeout", timeout)?,
                auto_reconnect,
                backoff: BackoffConfig {
                    base: secs("backoff_base", backoff_base)?,
                    cap: secs("backoff_cap", backoff_cap)?,
                    max_attempts,
                    seed: None,
                },
            },
            client: Mutex::new(None),
        })
    }

    /// Connects to `host:port` and reads the greeting (nothing when connected).
    fn connect(&self, py: Python<'_>, host: String, port: u16) -> PyResult<()> {
        let client = {
            let mut slot = self.client.lock().unwrap_or_else(PoisonError::into_inner);
            match &*slot {
                Some(c) if c.get_host() == host && c.get_port() == port => c.clone(),
                _ => {
                    let s = &self.settings;
                    let mut config = ClientConfig::default().backoff(s.backoff.clone());
                    config.ca_certs.clone_from(&s.ca_certs);
                    let mut c = HpxClient::new(s.name.clone())
                        .host(host)
                        .port(port)
                        .session_id(s.session_id.clone())
                        .tls(s.tls)
                        .timeout(s.timeout)
                        .auto_reconnect(s.auto_reconnect)
                        .config(config);
                    if let Some(ca) = &s.ca_file {
                        c = c.ca_file(ca.clone());
                    }
                    let c = Arc::new(c);
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        self.run(py, client, |c| async move { c.connect().await })
    }

    /// The handshake (guest without `user`); `True` when accepted.
    #[pyo3(signature = (user = None, password = None, ignore_err = false))]
    fn handshake(
        &self,
        py: Python<'_>,
        user: Option<String>,
        password: Option<String>,
        ignore_err: bool,
    ) -> PyResult<bool> {
        let Some(client) = self.current() else {
            return Ok(false);
        };
        self.run(py, client, move |c| async move {
            c.handshake(user.as_deref(), password.as_deref(), ignore_err)
                .await
        })
    }

    /// Asks the server to authenticate again, then shakes hands (`user=None`: the last
    /// credentials tried).
    #[pyo3(signature = (user = None, password = None, ignore_err = false))]
    fn request_handshake(
        &self,
        py: Python<'_>,
        user: Option<String>,
        password: Option<String>,
        ignore_err: bool,
    ) -> PyResult<bool> {
        let client = self.require(py)?;
        self.run(py, client, move |c| async move {
            c.request_handshake(user.as_deref(), password.as_deref(), ignore_err)
                .await
        })
    }

    /// `data` in the session envelope; the reply message as Python JSON text. Raises
    /// `AuthRequiredError` before sending when not accepted, if `raise_on_auth`.
    #[pyo3(signature = (data, raise_on_auth = true))]
    fn send(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        raise_on_auth: bool,
    ) -> PyResult<String> {
        let data = value(data)?;
        let client = self.require(py)?;
        self.run(py, client, move |c| async move {
            c.send_checked(data, raise_on_auth)
                .await
                .map(|m| m.to_python_json())
        })
    }

    /// `text` (a JSON message, written by the caller) as it is; the reply's text. The
    /// authentication check as in `send`.
    #[pyo3(signature = (text, raise_on_auth = true))]
    fn send_text(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyBytes>,
        raise_on_auth: bool,
    ) -> PyResult<String> {
        let bytes = text.as_bytes().to_vec();
        let client = self.require(py)?;
        self.run(py, client, move |c| async move {
            c.send_bytes_checked(bytes, raise_on_auth).await
        })
    }

    /// Closes the connection; the client cannot connect again.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(client) = self.current() {
            self.run(py, client, |c| async move {
                c.close().await;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// `(alive, ready, accepted, session, version JSON or None, guest_allowed)`.
    fn status(&self) -> (bool, bool, bool, String, Option<String>, bool) {
        match self.current() {
            None => (
                false,
                false,
                false,
                self.settings.session_id.clone(),
                None,
                false,
            ),
            Some(c) => (
                c.alive(),
                c.ready(),
                c.accepted(),
                c.session(),
                c.version().map(|v| tether::hpx::to_python_json(&v)),
                c.guest_allowed(),
            ),
        }
    }
}
