//! The `hpx` endpoint: a HappyPanda X server over TCP, with tether's server behaviour
//! ([`tether::hpx::server::HpxServer`]): a greeting on connect, the handshake with guests
//! and configured users, sessions that outlive a connection, the error codes of SPEC,
//! `requestauth`, and the functions `get_version`, `echo` and `get_large`.
//!
//! Frames are gzip(JSON) + `<EOF>` ([`tether::hpx::HpxCodec`]). A body that is not gzip,
//! or inflates past the bound (a gzip bomb), gets a 410 ParsingError reply, as the real
//! server answers a gzip failure, and the connection goes on.

use std::{path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tether::{
    Frame,
    hpx::{HpxCodec, Limits, server::HpxServer},
};

use crate::{
    endpoint::{EndpointSpec, Transport},
    service::{Close, ConnInfo, Service, Session},
};

/// Default port of the `hpx` endpoint (the SDK's default).
pub const HPX_PORT: u16 = 7007;

/// The user the default hub knows besides guests.
pub const HPX_USER: &str = "admin";
/// Its password.
pub const HPX_PASSWORD: &str = "admin";

/// The HPX service: one [`HpxServer`] shared by every connection.
#[derive(Debug, Clone)]
pub struct Hpx {
    server: HpxServer,
}

impl Default for Hpx {
    /// Guests allowed, and the user [`HPX_USER`] / [`HPX_PASSWORD`].
    fn default() -> Self {
        Self::new(HpxServer::new().user(HPX_USER, HPX_PASSWORD))
    }
}

impl Hpx {
    /// A service around `server` (its users, guest setting, name).
    #[must_use]
    pub fn new(server: HpxServer) -> Self {
        Self { server }
    }

    /// The server behaviour (sessions, users).
    #[must_use]
    pub fn server(&self) -> &HpxServer {
        &self.server
    }

    /// The endpoint spec: TCP on [`HPX_PORT`], framed by [`HpxCodec`].
    #[must_use]
    pub fn spec(self) -> EndpointSpec {
        EndpointSpec {
            name: "hpx".into(),
            default_port: HPX_PORT,
            transport: Transport::Tcp(codec_factory()),
            service: std::sync::Arc::new(self),
        }
    }

    /// The endpoint spec over TLS (`tls://`), with the acceptor's certificate; replaces
    /// the plain one when given to [`crate::HubBuilder::endpoint`].
    #[must_use]
    pub fn tls_spec(self, acceptor: tokio_rustls::TlsAcceptor) -> EndpointSpec {
        EndpointSpec {
            transport: Transport::Tls(codec_factory(), acceptor),
            ..self.spec()
        }
    }
}

/// Why a TLS endpoint cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("hpx TLS: {0}")]
pub struct TlsSetupError(String);

impl Hpx {
    /// [`Hpx::tls_spec`] with the certificate chain and private key read from PEM files.
    ///
    /// # Errors
    /// [`TlsSetupError`] when a file cannot be read, holds no certificate or key, or the
    /// key does not fit the certificate.
    pub fn tls_spec_from_pem(self, cert: &Path, key: &Path) -> Result<EndpointSpec, TlsSetupError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| TlsSetupError(format!("cannot read {}: {e}", cert.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| TlsSetupError(format!("bad PEM in {}: {e}", cert.display())))?;
        if certs.is_empty() {
            return Err(TlsSetupError(format!(
                "{} holds no certificate",
                cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            TlsSetupError(format!(
                "cannot read a private key from {}: {e}",
                key.display()
            ))
        })?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsSetupError(e.to_string()))?;
        Ok(self.tls_spec(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// The hub's codec: an undecodable body is reported (and answered 410), the stream goes on.
fn codec_factory() -> tether::CodecFactory {
    HpxCodec::factory(Limits::default())
}

struct HpxSession {
    server: HpxServer,
}

impl Service for Hpx {
    fn open(&self, _conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(HpxSession {
            server: self.server.clone(),
        }))
    }
}

impl Session for HpxSession {
    fn on_open(&mut self, out: &mut Vec<Frame>) {
        out.push(Frame::text(self.server.greeting().to_python_json()));
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        let reply = self.server.handle(frame.payload());
        out.push(Frame::text(reply.to_python_json()));
        Ok(())
    }

    fn on_undecodable(&mut self, reason: &str, out: &mut Vec<Frame>) -> Result<(), Close> {
        tracing::debug!(reason, "hpx: undecodable body, answering 410");
        out.push(Frame::text(self.server.undecodable().to_python_json()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_on_open_and_answers_every_frame() {
        let service = Hpx::default();
        let conn = ConnInfo {
            id: 1,
            peer: ([127, 0, 0, 1], 1).into(),
            path: String::new(),
            query: None,
            headers: Vec::new(),
            registry: std::sync::Arc::default(),
        };
        let mut session = service.open(&conn).unwrap();
        let mut out = Vec::new();
        session.on_open(&mut out);
        assert!(
            out[0]
                .as_text()
                .unwrap()
                .contains("\"guest_allowed\": true")
        );
        session.on_frame(Frame::text("garbage"), &mut out).unwrap();
        assert!(out[1].as_text().unwrap().contains("\"code\": 900"));
        session
            .on_frame(
                Frame::text(r#"{"session": "", "name": "c", "data": {"user": "admin", "password": "admin"}}"#),
                &mut out,
            )
            .unwrap();
        assert!(out[2].as_text().unwrap().contains("\"Authenticated\""));
        assert_eq!(service.server().session_count(), 1);
    }
}
