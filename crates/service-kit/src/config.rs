//! Reading typed settings from environment variables.
//!
//! Hand-written rather than clap or envy because the one thing we need — an error line
//! that names the variable and its bad value — is what those phrase differently
//! (clap names a flag; envy loses the value).

use std::str::FromStr;

/// A setting that is missing or does not parse; its `Display` is the one line printed
/// before the service exits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// `name` parsed as `T`, or `default` when it is unset or empty.
pub fn var_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => parse(name, &value),
        _ => Ok(default),
    }
}

/// `name` parsed as `T`; missing is an error.
pub fn var<T>(name: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => parse(name, &value),
        _ => Err(ConfigError(format!("{name} is not set"))),
    }
}

fn parse<T>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|err| ConfigError(format!("{name}={value:?} is not valid: {err}")))
}

/// The port a service listens on: `PORT`, default 8080.
pub fn port() -> Result<u16, ConfigError> {
    var_or("PORT", 8080)
}

/// An absolute http(s) base URL such as `http://server-listing:8080`, without a
/// trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl FromStr for BaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = reqwest::Url::parse(s).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("expected an http:// or https:// URL with a host".into());
        }
        Ok(Self(s.trim_end_matches('/').to_owned()))
    }
}

impl BaseUrl {
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable_and_value() {
        let err = parse::<u16>("PORT", "eighty").unwrap_err();
        assert_eq!(
            err.to_string(),
            "PORT=\"eighty\" is not valid: invalid digit found in string"
        );
        assert_eq!(var_or::<u16>("CK_TEST_SURELY_UNSET", 8080).unwrap(), 8080);
        assert_eq!(
            var::<u16>("CK_TEST_SURELY_UNSET").unwrap_err().to_string(),
            "CK_TEST_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert_eq!(
            "http://register:8080/"
                .parse::<BaseUrl>()
                .unwrap()
                .join("/v1/registrations"),
            "http://register:8080/v1/registrations"
        );
        assert!("register:8080".parse::<BaseUrl>().is_err());
        assert!("ftp://register".parse::<BaseUrl>().is_err());
    }
}
