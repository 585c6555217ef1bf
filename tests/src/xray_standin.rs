//! A stand-in for X-Ray's OTLP traces endpoint (`https://xray.<region>.amazonaws.com/v1/traces`)
//! for the collector test: HTTPS on a free loopback port with a CA made for the run (its
//! PEM in a temporary folder, for the collector's `SSL_CERT_FILE`), every request's SigV4
//! signature verified for service `xray`, the Region and a known secret as X-Ray would
//! ([`crate::sigv4`]), and the spans of those that verify decoded as the OTLP receiver
//! decodes them ([`crate::otlp::flatten_spans`]). A request that does not verify is
//! answered 403 and counted.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::otlp::{ReceivedSpan, flatten_spans};
use crate::sigv4::Signer;

/// Listens until dropped; its CA's folder is removed then.
#[derive(Debug)]
pub struct XrayStandIn {
    pub port: u16,
    certs: PathBuf,
    received: Arc<Mutex<Received>>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// When each of `spans` arrived (same order).
    arrivals: Vec<SystemTime>,
    /// The `Content-Encoding` of each export accepted.
    encodings: Vec<String>,
    /// Why each refused request was refused.
    refusals: Vec<String>,
}

#[derive(Debug)]
struct Endpoint {
    signer: Signer,
    received: Arc<Mutex<Received>>,
}

impl XrayStandIn {
    /// Accepts requests signed for `xray` in `region` with `access_key` and `secret`.
    pub async fn start(region: &str, access_key: &str, secret: &str) -> Self {
        let certs = crate::temp_dir("xray-standin");
        let tls = tls_acceptor(&certs);
        let received = Arc::new(Mutex::new(Received::default()));
        let endpoint = Arc::new(Endpoint {
            signer: Signer::new("xray", region, access_key, secret),
            received: received.clone(),
        });
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .with_state(endpoint);
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = tcp.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(TlsListener { tcp, tls }, app).await;
        });
        Self {
            port,
            certs,
            received,
            server,
        }
    }

    /// The exporter's `traces_endpoint`.
    pub fn traces_endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/v1/traces", self.port)
    }

    /// The CA that signed its certificate (PEM): a client's `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.certs.join("ca.pem")
    }

    /// The spans of every export accepted so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().expect("lock").spans.clone()
    }

    /// Each span accepted so far with the time it arrived.
    pub fn arrivals(&self) -> Vec<(ReceivedSpan, SystemTime)> {
        let received = self.received.lock().expect("lock");
        received
            .spans
            .iter()
            .cloned()
            .zip(received.arrivals.iter().copied())
            .collect()
    }

    /// The `Content-Encoding` of every export accepted so far.
    pub fn encodings(&self) -> Vec<String> {
        self.received.lock().expect("lock").encodings.clone()
    }

    /// How many requests were refused (answered 403).
    pub fn refused(&self) -> usize {
        self.refusals().len()
    }

    /// Why each refused request was refused.
    pub fn refusals(&self) -> Vec<String> {
        self.received.lock().expect("lock").refusals.clone()
    }

    /// Waits (at most `within`) until `done` holds for the spans accepted so far, and
    /// returns them; panics with what did arrive, and what was refused, otherwise.
    pub async fn wait_for_spans(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let wait = crate::poll_until(within, Duration::from_millis(200), || {
            let spans = self.spans();
            done(&spans).then_some(spans)
        });
        wait.await.unwrap_or_else(|| {
            panic!(
                "X-Ray stand-in: never received {what} within {within:?}; refused {:?}; got {:#?}",
                self.refusals(),
                self.spans()
            )
        })
    }
}

impl Drop for XrayStandIn {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.certs);
    }
}

async fn traces(
    State(endpoint): State<Arc<Endpoint>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let received_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Err(reason) = endpoint
        .signer
        .verify(method.as_str(), path, &received_headers, &body)
    {
        endpoint
            .received
            .lock()
            .expect("lock")
            .refusals
            .push(reason.clone());
        return (StatusCode::FORBIDDEN, reason);
    }
    let encoding = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    let decoded = match encoding.as_str() {
        "gzip" => {
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
                Ok(_) => out,
                Err(e) => return (StatusCode::BAD_REQUEST, format!("not gzip: {e}")),
            }
        }
        "identity" => body.to_vec(),
        other => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other}"),
            );
        }
    };
    let request = match ExportTraceServiceRequest::decode(&decoded[..]) {
        Ok(request) => request,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not an OTLP export: {e}")),
    };
    let spans = flatten_spans(request);
    let mut received = endpoint.received.lock().expect("lock");
    received
        .arrivals
        .extend(std::iter::repeat_n(SystemTime::now(), spans.len()));
    received.spans.extend(spans);
    received.encodings.push(encoding);
    (StatusCode::OK, String::new())
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it; the CA's PEM is
/// written to `dir/ca.pem`.
fn tls_acceptor(dir: &Path) -> TlsAcceptor {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "X-Ray stand-in CA (stack-tests)");
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a key");
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = server.signed_by(&key, &issuer).expect("a certificate");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write the CA");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a server configuration");
    TlsAcceptor::from(Arc::new(config))
}

/// TLS over a TCP listener, for `axum::serve`: a connection whose handshake fails (or
/// stalls) is dropped and the next one accepted.
struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else {
                continue;
            };
            let handshake = self.tls.accept(stream);
            if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (stream, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::SystemTime;

    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    const REGION: &str = "eu-west-1";
    const KEY: &str = "AKIDSTACKTESTS";
    const SECRET: &str = "the-secret";

    /// One span, gzipped as the collector sends it.
    fn export() -> Vec<u8> {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "GET /".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&request.encode_to_vec()).expect("gzip");
        gzip.finish().expect("gzip")
    }

    /// POSTs `body` signed by `secret` over `signed` (which may differ from `body`).
    async fn post(standin: &XrayStandIn, secret: &str, signed: &[u8], body: Vec<u8>) -> u16 {
        let pem = std::fs::read(standin.ca_file()).expect("the CA");
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("a PEM")])
            .build()
            .expect("a client");
        let url = standin.traces_endpoint();
        let headers = [
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ];
        let signer = Signer::new("xray", REGION, KEY, secret);
        let mut request = client.post(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in signer.sign("POST", &url, &headers, signed, SystemTime::now()) {
            request = request.header(name, value);
        }
        request.send().await.expect("an answer").status().as_u16()
    }

    #[tokio::test]
    async fn it_keeps_the_spans_of_a_request_signed_with_the_secret() {
        let standin = XrayStandIn::start(REGION, KEY, SECRET).await;
        let body = export();
        assert_eq!(post(&standin, SECRET, &body, body.clone()).await, 200);
        assert_eq!(standin.refused(), 0, "{:?}", standin.refusals());
        let spans = standin.spans();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "GET /");
        assert_eq!(spans[0].trace_id, "01".repeat(16));
        assert_eq!(standin.encodings(), ["gzip"]);
    }

    #[tokio::test]
    async fn it_refuses_another_secret_and_a_body_changed_after_signing() {
        let standin = XrayStandIn::start(REGION, KEY, SECRET).await;
        let body = export();
        assert_eq!(
            post(&standin, "not-the-secret", &body, body.clone()).await,
            403
        );
        let mut altered = body.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(post(&standin, SECRET, &body, altered).await, 403);
        assert_eq!(standin.refused(), 2, "{:?}", standin.refusals());
        assert!(standin.spans().is_empty());
    }

    #[tokio::test]
    async fn it_refuses_an_unsigned_request() {
        let standin = XrayStandIn::start(REGION, KEY, SECRET).await;
        let pem = std::fs::read(standin.ca_file()).expect("the CA");
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("a PEM")])
            .build()
            .expect("a client");
        let status = client
            .post(standin.traces_endpoint())
            .header("content-type", "application/x-protobuf")
            .body(export())
            .send()
            .await
            .expect("an answer")
            .status();
        assert_eq!(status, 403);
        assert_eq!(standin.refusals(), ["no Authorization header"]);
    }
}
