//! HTTPS to DynamoDB, and the `missing-ca-certificates` fault: the same client with an
//! empty trust store, so the TLS handshake really fails certificate verification.

use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};
use faults::{Faults, Scenario};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The AWS SDKs' variable for a PEM bundle of extra CAs to trust.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// Two HTTPS clients: one trusting the platform's roots (plus `AWS_CA_BUNDLE`), one
/// trusting nothing. Each keeps its own connection pool, so switching to the empty one
/// makes every call open (and fail) a new TLS connection instead of reusing one that
/// was verified before the fault.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    trusting: SharedHttpClient,
    untrusting: SharedHttpClient,
}

impl Transport {
    pub(crate) fn from_env() -> Result<Self, String> {
        let mut trusted = TrustStore::default();
        if let Some(path) = std::env::var_os(CA_BUNDLE_VAR).filter(|p| !p.is_empty()) {
            let shown = path.to_string_lossy().into_owned();
            let pem = std::fs::read(&path)
                .map_err(|err| format!("{CA_BUNDLE_VAR}={shown:?} cannot be read: {err}"))?;
            // The SDK would panic on a bad certificate later; refuse it now, by name.
            let certificates = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| format!("{CA_BUNDLE_VAR}={shown:?} is not a PEM bundle: {err}"))?;
            if certificates.is_empty() {
                return Err(format!("{CA_BUNDLE_VAR}={shown:?} holds no certificate"));
            }
            trusted = trusted.with_pem_certificate(pem);
        }
        Ok(Self {
            trusting: https_client(trusted)?,
            untrusting: https_client(TrustStore::empty())?,
        })
    }

    pub(crate) fn trusting(&self) -> SharedHttpClient {
        self.trusting.clone()
    }

    /// The HTTP client of a service's store: the trusting one, or the empty one while
    /// `missing-ca-certificates` acts in this service.
    pub(crate) fn switching_on(&self, faults: Faults) -> SharedHttpClient {
        SharedHttpClient::new(TrustSwitch {
            transport: self.clone(),
            faults,
        })
    }
}

fn https_client(trust: TrustStore) -> Result<SharedHttpClient, String> {
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|err| format!("cannot set up TLS for DynamoDB: {err}"))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https())
}

#[derive(Debug)]
struct TrustSwitch {
    transport: Transport,
    faults: Faults,
}

impl HttpClient for TrustSwitch {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let scenario = Scenario::MissingCaCertificates;
        if self.faults.active(scenario).is_some() {
            telemetry::span::record_fault(scenario.name());
            self.transport
                .untrusting
                .http_connector(settings, components)
        } else {
            self.transport.trusting.http_connector(settings, components)
        }
    }
}
