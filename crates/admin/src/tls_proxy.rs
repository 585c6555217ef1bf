//! `tls-proxy`: TLS in front of DynamoDB Local, which speaks plain HTTP only.
//!
//! The 2019 demo's bug was a container that could not verify DynamoDB's certificate.
//! For that failure to be real in the local stacks, their DynamoDB must be reached over
//! TLS with a certificate the services verify: this proxy makes a CA and a server
//! certificate (for `localhost`, `127.0.0.1` and any `--name`) when it first starts,
//! keeps them in `--certs DIR` (`ca.pem`, `server.pem`, `server.key`; reused if there),
//! and forwards each TLS connection's bytes to `--upstream`. Services trust the CA
//! through `AWS_CA_BUNDLE=DIR/ca.pem`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::Failure;

pub const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "server.pem";
const KEY_FILE: &str = "server.key";

/// `cuddlekube-admin tls-proxy`'s options.
#[derive(Debug, Parser)]
#[command(name = "cuddlekube-admin tls-proxy", no_binary_name = true)]
struct Options {
    /// The address to serve TLS on, such as 0.0.0.0:8443 (port 0: any free port).
    #[arg(long)]
    listen: SocketAddr,
    /// DynamoDB Local's plain address, such as dynamodb:8000.
    #[arg(long)]
    upstream: String,
    /// Where the CA and the server certificate are kept.
    #[arg(long)]
    certs: PathBuf,
    /// Another name the certificate is for (besides localhost and 127.0.0.1).
    #[arg(long = "name")]
    names: Vec<String>,
}

pub(crate) async fn run(args: &[String]) -> Result<(), Failure> {
    let options = Options::try_parse_from(args).map_err(|e| Failure::Usage(e.to_string()))?;
    let failed =
        |what: &str, err: &dyn std::fmt::Display| Failure::Failed(format!("{what}: {err}"));
    ensure_certificates(&options.certs, &options.names).map_err(|e| failed("certificates", &e))?;
    let config = server_config(&options.certs).map_err(|e| failed("TLS", &e))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| failed(&format!("listen on {}", options.listen), &e))?;
    let local = listener.local_addr().map_err(|e| failed("listen", &e))?;
    // Read by `cargo xtask dev` and the tests: the address, once it accepts.
    println!(
        "tls-proxy: https://{local} -> http://{} (CA {})",
        options.upstream,
        options.certs.join(CA_FILE).display()
    );
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    eprintln!("tls-proxy: cannot accept: {err}");
                    continue;
                }
            },
            () = stop() => return Ok(()),
        };
        let (acceptor, upstream) = (acceptor.clone(), options.upstream.clone());
        tokio::spawn(async move {
            if let Err(err) = forward(stream, &acceptor, &upstream).await
                && worth_reporting(&err)
            {
                // A client that refused the certificate says so here ("received fatal alert:
                // UnknownCA"): the server side of `missing-ca-certificates`.
                eprintln!("tls-proxy: connection from {peer}: {err}");
            }
        });
    }
}

async fn forward(stream: TcpStream, acceptor: &TlsAcceptor, upstream: &str) -> std::io::Result<()> {
    let mut tls = acceptor.accept(stream).await?;
    let mut plain = TcpStream::connect(upstream).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut plain).await?;
    Ok(())
}

/// Whether a connection's failure is worth a line. A peer that leaves without a TLS
/// `close_notify` — a readiness probe that connects and closes (EOF before or inside the
/// handshake), or a client dropping a pooled connection — ends with `UnexpectedEof`:
/// routine, so left out (the proxy has no debug output to put it in). A refused
/// certificate, bytes that are not TLS, or an upstream that does not answer are not.
fn worth_reporting(err: &std::io::Error) -> bool {
    err.kind() != std::io::ErrorKind::UnexpectedEof
}

async fn stop() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Makes the CA and the server certificate in `dir` unless they are there.
fn ensure_certificates(dir: &Path, names: &[String]) -> Result<(), Error> {
    if [CA_FILE, CERT_FILE, KEY_FILE]
        .iter()
        .all(|f| dir.join(f).is_file())
    {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(
        DnType::CommonName,
        "Cuddle Kube local CA (made by cuddlekube-admin tls-proxy)",
    );
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(
        ["localhost".to_owned()]
            .into_iter()
            .chain(names.iter().cloned())
            .collect::<Vec<_>>(),
    )?;
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "DynamoDB Local");
    let cert = server.signed_by(&key, &issuer)?;
    // The CA last, and by rename: whoever waits for it finds the others in place.
    write_new(&dir.join(KEY_FILE), &key.serialize_pem())?;
    write_new(&dir.join(CERT_FILE), &cert.pem())?;
    write_new(&dir.join(CA_FILE), &ca_cert.pem())?;
    Ok(())
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(partial, path)
}

fn server_config(dir: &Path) -> Result<rustls::ServerConfig, Error> {
    let chain =
        CertificateDer::pem_file_iter(dir.join(CERT_FILE))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join(KEY_FILE))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rustls::RootCertStore;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::TlsConnector;

    use super::*;

    /// A proxy's acceptor with fresh certificates, and its CA.
    fn acceptor() -> (TlsAcceptor, CertificateDer<'static>) {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cuddlekube-tls-proxy-test-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        ensure_certificates(&dir, &[]).unwrap();
        let config = server_config(&dir).unwrap();
        let ca = CertificateDer::from_pem_file(dir.join(CA_FILE)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (TlsAcceptor::from(Arc::new(config)), ca)
    }

    fn connector(roots: RootCertStore) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    /// What `forward` ends with when `client` talks to the proxy (upstream: a listener
    /// that takes the connection and keeps it open).
    async fn forwarded<F, Fut>(acceptor: TlsAcceptor, client: F) -> std::io::Result<()>
    where
        F: FnOnce(TcpStream) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_address = upstream.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = upstream.accept().await {
                held.push(stream);
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let proxy = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            forward(stream, &acceptor, &upstream_address).await
        });
        client(TcpStream::connect(address).await.unwrap()).await;
        proxy.await.unwrap()
    }

    #[tokio::test]
    async fn a_plain_tcp_probe_is_not_reported() {
        let (acceptor, _) = acceptor();
        let err = forwarded(acceptor, |stream| async move { drop(stream) })
            .await
            .unwrap_err();
        assert!(!worth_reporting(&err), "{err}");
    }

    #[tokio::test]
    async fn a_client_leaving_without_close_notify_is_not_reported() {
        let (acceptor, ca) = acceptor();
        let mut roots = RootCertStore::empty();
        roots.add(ca).unwrap();
        let tls = connector(roots);
        let err = forwarded(acceptor, |stream| async move {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let mut stream = tls.connect(name, stream).await.unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            stream.flush().await.unwrap();
            // The TCP connection closed under TLS: no close_notify. Read to the end, so
            // no unread session ticket turns the close into a reset.
            let (mut tcp, _) = stream.into_inner();
            tcp.shutdown().await.unwrap();
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await;
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("close_notify"), "{err}");
        assert!(!worth_reporting(&err), "{err}");
    }

    #[tokio::test]
    async fn a_client_refusing_the_certificate_is_reported() {
        let (acceptor, _) = acceptor();
        let tls = connector(RootCertStore::empty());
        let err = forwarded(acceptor, |stream| async move {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let refused = tls.connect(name, stream).await.unwrap_err();
            assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
        })
        .await
        .unwrap_err();
        assert!(worth_reporting(&err), "{err}");
        assert!(err.to_string().contains("UnknownCA"), "{err}");
    }
}
