//! Owns SigV4 signing of upstream requests with the `aws-sigv4` crate.
//! Credentials are passed in; nothing here reads the environment.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderName, HeaderValue};

use crate::error::TranslateError;
use crate::route::{Secret, UpstreamRequest};

/// AWS credentials (typically read by the caller from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`).
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token of temporary credentials.
    pub session_token: Option<Secret>,
}

/// Signs `request` in place for `service` in `region` at `time`: adds
/// `x-amz-date`, `authorization` and (with a session token)
/// `x-amz-security-token`. The body is part of the signature.
pub fn sign_request(
    request: &mut UpstreamRequest,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), TranslateError> {
    let identity = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose().to_owned(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        None,
        "signalbox",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| TranslateError::Http(format!("SigV4 parameters: {e}")))?
        .into();
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| {
            v.to_str()
                .map(|v| (n.as_str(), v))
                .map_err(|_| TranslateError::Http(format!("header `{n}` is not ASCII")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signable = SignableRequest::new(
        request.method.as_str(),
        &request.url,
        headers.into_iter(),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| TranslateError::Http(format!("SigV4 request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| TranslateError::Http(format!("SigV4 signing: {e}")))?
        .into_parts();
    let (headers, _params) = instructions.into_parts();
    for h in headers {
        let name = HeaderName::from_static(h.name());
        let mut value = HeaderValue::from_str(h.value()).map_err(|_| {
            TranslateError::Http(format!("signed header `{}` is invalid", h.name()))
        })?;
        value.set_sensitive(h.sensitive() || name == http::header::AUTHORIZATION);
        request.headers.insert(name, value);
    }
    Ok(())
}
