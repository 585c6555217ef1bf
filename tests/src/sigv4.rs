//! AWS Signature Version 4 for the AWS stand-ins, computed by the `aws-sigv4` crate (the
//! AWS SDK's own signer): [`verify`] recomputes the signature of a received request as
//! an AWS service would, and [`sign`] signs a request the tests send.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use time::PrimitiveDateTime;
use time::macros::format_description;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from now before AWS refuses it.
const ALLOWED_SKEW: Duration = Duration::from_secs(15 * 60);

/// Who may sign, and for which service and Region: what a service checks a request against.
#[derive(Debug, Clone)]
pub struct Signer {
    pub service: String,
    pub region: String,
    pub access_key: String,
    pub secret: String,
}

impl Signer {
    pub fn new(service: &str, region: &str, access_key: &str, secret: &str) -> Self {
        Self {
            service: service.to_owned(),
            region: region.to_owned(),
            access_key: access_key.to_owned(),
            secret: secret.to_owned(),
        }
    }

    fn identity(&self) -> Identity {
        Credentials::new(&self.access_key, &self.secret, None, None, "stack-tests").into()
    }

    /// The headers that sign `method url` with `headers` and `body` at `time`: `host` is
    /// taken from `url` and signed, as are every one of `headers`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Vec<(String, String)> {
        let identity = self.identity();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("complete signing parameters")
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("a signable request");
        let (instructions, _) = aws_sigv4::http_request::sign(request, &params)
            .expect("signed")
            .into_parts();
        instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    /// Checks a received request's SigV4 signature: its `Authorization` header names this
    /// signer's key, service and Region, and the signature recomputed from the method, the
    /// path and query, the headers it lists as signed and the body as received matches.
    /// `headers` are the request's headers as received (names in any case). The reason
    /// when it does not verify.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), String> {
        let header = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let authorization = match header("authorization")[..] {
            [one] => one,
            [] => return Err("no Authorization header".into()),
            _ => return Err("more than one Authorization header".into()),
        };
        let fields = Authorization::parse(authorization)?;
        let expected_scope = [self.region.as_str(), &self.service, "aws4_request"];
        if fields.access_key != self.access_key {
            return Err(format!("unknown access key {}", fields.access_key));
        }
        if fields.scope[1..] != expected_scope {
            return Err(format!(
                "credential scope {:?}, expected [date, {}]",
                fields.scope,
                expected_scope.join(", ")
            ));
        }
        let date = match header("x-amz-date")[..] {
            [one] => one,
            _ => return Err("no single X-Amz-Date header".into()),
        };
        let time = parse_amz_date(date)?;
        if !date.starts_with(fields.scope[0]) {
            return Err(format!(
                "X-Amz-Date {date} is not the scope's date {}",
                fields.scope[0]
            ));
        }
        let skew = SystemTime::now()
            .duration_since(time)
            .unwrap_or_else(|e| e.duration());
        if skew > ALLOWED_SKEW {
            return Err(format!("X-Amz-Date {date} is {skew:?} away from now"));
        }
        for required in ["host", "x-amz-date"] {
            if !fields.signed_headers.contains(&required) {
                return Err(format!("{required} is not signed"));
            }
        }
        let mut signed = Vec::new();
        for name in &fields.signed_headers {
            let values = header(name);
            if values.is_empty() {
                return Err(format!("signed header {name} is missing"));
            }
            signed.extend(values.into_iter().map(|value| (*name, value)));
        }
        // Only what the signer listed, nothing left out by default rules: the signature
        // is recomputed over exactly those headers.
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None;
        let identity = self.identity();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(settings)
            .build()
            .expect("complete signing parameters")
            .into();
        let request = SignableRequest::new(
            method,
            path_and_query,
            signed.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot rebuild the request: {e}"))?;
        let output = aws_sigv4::http_request::sign(request, &params)
            .map_err(|e| format!("cannot recompute the signature: {e}"))?;
        if output.signature() == fields.signature {
            Ok(())
        } else {
            Err("the signature does not match the request".into())
        }
    }
}

/// `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=hex`, taken apart.
struct Authorization<'a> {
    access_key: &'a str,
    /// date, Region, service, `aws4_request`
    scope: Vec<&'a str>,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Result<Self, String> {
        let malformed = || format!("malformed Authorization header {header:?}");
        let rest = header
            .strip_prefix(ALGORITHM)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| format!("not {ALGORITHM}: {header:?}"))?;
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            let (key, value) = part.split_once('=').ok_or_else(malformed)?;
            match key {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => return Err(malformed()),
            }
        }
        let mut credential = credential.ok_or_else(malformed)?.split('/');
        let access_key = credential.next().ok_or_else(malformed)?;
        let scope: Vec<&str> = credential.collect();
        if scope.len() != 4 {
            return Err(malformed());
        }
        Ok(Self {
            access_key,
            scope,
            signed_headers: signed_headers.ok_or_else(malformed)?.split(';').collect(),
            signature: signature.ok_or_else(malformed)?,
        })
    }
}

/// `20260102T030405Z`
fn parse_amz_date(text: &str) -> Result<SystemTime, String> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(text, format)
        .map(|t| t.assume_utc().into())
        .map_err(|e| format!("X-Amz-Date {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"\x1f\x8bnot really gzip";

    fn signer() -> Signer {
        Signer::new("xray", "eu-west-1", "AKIDSTACKTESTS", "the-secret")
    }

    /// A request as the collector sends it: signed headers as received, names in any case.
    fn signed_request(by: &Signer, body: &[u8]) -> Vec<(String, String)> {
        let headers = [
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ];
        let mut received: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        received.push(("Host".into(), "127.0.0.1:4443".into()));
        received.push(("User-Agent".into(), "otelcol".into()));
        received.extend(by.sign(
            "POST",
            "https://127.0.0.1:4443/v1/traces",
            &headers,
            body,
            SystemTime::now(),
        ));
        received
    }

    #[test]
    fn a_request_signed_with_the_secret_verifies() {
        let headers = signed_request(&signer(), BODY);
        assert_eq!(
            signer().verify("POST", "/v1/traces", &headers, BODY),
            Ok(())
        );
    }

    #[test]
    fn another_secret_another_region_another_service_or_another_body_does_not() {
        let mut wrong_secret = signer();
        wrong_secret.secret = "not-the-secret".into();
        let headers = signed_request(&wrong_secret, BODY);
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .unwrap_err()
                .contains("does not match")
        );

        let mut wrong_region = signer();
        wrong_region.region = "us-east-1".into();
        let headers = signed_request(&wrong_region, BODY);
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .unwrap_err()
                .contains("scope")
        );

        let mut wrong_service = signer();
        wrong_service.service = "logs".into();
        let headers = signed_request(&wrong_service, BODY);
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .is_err()
        );

        let headers = signed_request(&signer(), BODY);
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, b"\x1f\x8baltered")
                .unwrap_err()
                .contains("does not match")
        );
        assert!(signer().verify("POST", "/v1/logs", &headers, BODY).is_err());
    }

    #[test]
    fn a_signed_header_changed_or_missing_does_not_verify() {
        let mut headers = signed_request(&signer(), BODY);
        for (name, value) in &mut headers {
            if name == "Content-Encoding" {
                *value = "identity".into();
            }
        }
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .is_err()
        );

        let mut headers = signed_request(&signer(), BODY);
        headers.retain(|(name, _)| name != "Content-Type");
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .unwrap_err()
                .contains("content-type is missing")
        );

        let mut headers = signed_request(&signer(), BODY);
        headers.retain(|(name, _)| name != "authorization");
        assert_eq!(
            signer().verify("POST", "/v1/traces", &headers, BODY),
            Err("no Authorization header".into())
        );
    }

    #[test]
    fn an_old_signature_does_not_verify() {
        let old = SystemTime::now() - Duration::from_secs(3600);
        let mut headers: Vec<(String, String)> = vec![("Host".into(), "127.0.0.1:4443".into())];
        headers.extend(signer().sign("POST", "https://127.0.0.1:4443/v1/traces", &[], BODY, old));
        assert!(
            signer()
                .verify("POST", "/v1/traces", &headers, BODY)
                .unwrap_err()
                .contains("away from now")
        );
    }
}
