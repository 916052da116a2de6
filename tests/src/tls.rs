//! TLS in front of a plain test server: a certificate authority of its own (made with the
//! `openssl` command) signs a certificate for 127.0.0.1, and each connection is decrypted and
//! passed on to the plain server.

use std::process::Command;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::process::TempDir;

/// A TLS listener on 127.0.0.1 forwarding to a plain address; stops when dropped.
pub struct TlsFront {
    port: u16,
    /// The PEM of the authority that signed the server's certificate.
    pub ca_pem: Vec<u8>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn openssl(dir: &TempDir, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("run openssl (install the openssl package)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority and a certificate for 127.0.0.1 it signed: (CA PEM, chain, key).
fn certificates() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = TempDir::new();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = [
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Codex Test CA"],
        &["-addext", "basicConstraints=critical,CA:TRUE"],
        &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    .concat();
    openssl(&dir, &ca);
    let request =
        [&["req"][..], &ec, &["-keyout", "op.key", "-out", "op.csr", "-subj", "/CN=127.0.0.1"]]
            .concat();
    openssl(&dir, &request);
    std::fs::write(
        dir.path().join("op.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write the extensions");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "op.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "op.pem",
            "-days",
            "2",
            "-extfile",
            "op.ext",
        ],
    );
    let read = |name: &str| std::fs::read(dir.path().join(name)).expect("read a PEM");
    (read("ca.pem"), read("op.pem"), read("op.key"))
}

impl TlsFront {
    /// Listens on a free port of 127.0.0.1 and forwards each decrypted connection to `plain`
    /// (`host:port`).
    pub async fn start(plain: String) -> Self {
        let (ca_pem, chain, key) = certificates();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain)
            .collect::<Result<_, _>>()
            .expect("the certificate");
        let key = PrivateKeyDer::from_pem_slice(&key).expect("the key");
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("the server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS front");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, plain) = (acceptor.clone(), plain.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let Ok(mut inner) = TcpStream::connect(&plain).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut inner).await;
                });
            }
        });
        Self { port, ca_pem, task }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}
