//! An error's causes, walked one way everywhere (logs, problem details, the store).

use std::error::Error;

/// `err`, then each cause. An `io::Error` that wraps another error (how TLS and
/// connection failures travel) leads to the error it wraps, which its own `source()`
/// would skip.
pub fn chain<'a>(
    err: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&current| next_cause(current))
}

fn next_cause<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a (dyn Error + 'static)> {
    match err.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => err.source(),
    }
}

/// The whole chain on one line, `outer: cause: root cause`, each message once (a
/// wrapper often repeats the message of what it wraps).
pub fn display(err: &(dyn Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    for cause in chain(err) {
        let message = cause.to_string();
        if !messages.last().is_some_and(|last| last.ends_with(&message)) {
            messages.push(message);
        }
    }
    messages.join(": ")
}

/// The innermost cause's message: where a parser says what exactly was wrong.
pub fn innermost(err: &(dyn Error + 'static)) -> String {
    chain(err)
        .last()
        .map_or_else(String::new, ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("invalid peer certificate: UnknownIssuer")]
    struct Certificate;

    #[test]
    fn the_chain_goes_through_io_errors_to_what_they_wrap() {
        let err = Outer(std::io::Error::other(Certificate));
        assert!(chain(&err).any(|e| e.is::<Certificate>()));
        assert_eq!(
            display(&err),
            "outer: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(innermost(&err), "invalid peer certificate: UnknownIssuer");
    }
}
