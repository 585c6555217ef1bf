//! What the visitor is told above the form when it was not admitted for a reason other
//! than its fields.

use crate::reference::Reference;

/// How a notice above the form reads: news, a hitch, or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warning,
    Error,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Self::Info => "notice notice-info",
            Self::Warning => "notice notice-warning",
            Self::Error => "notice notice-error",
        }
    }
}

/// What happened to the form when it was not admitted for a reason other than its
/// fields: shown above the form, which keeps everything typed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub tone: Tone,
    pub heading: &'static str,
    pub message: String,
    /// The trace to quote when asking for help.
    pub reference: Option<Reference>,
    /// The outcome is unknown: the button says "Try again" (same token, so safe).
    pub try_again: bool,
}

impl Notice {
    fn new(tone: Tone, heading: &'static str, message: impl Into<String>) -> Self {
        Self {
            tone,
            heading,
            message: message.into(),
            reference: None,
            try_again: false,
        }
    }

    /// 409: the token was used with other details. The usual way here is Back after an
    /// admission, then changing the details: that first server did move in.
    pub fn already_used() -> Self {
        Self::new(
            Tone::Info,
            "This form was already used",
            "The server you sent with this form before has moved in. To admit another \
             server, check the details below and press “Request admittance”: it will be a \
             new request.",
        )
    }

    /// 400: the token is not one the site wrote, or register refused it.
    pub fn expired() -> Self {
        Self::new(
            Tone::Warning,
            "This form had expired",
            "Nothing was sent. Please check the details below and send the form again.",
        )
    }

    /// 413: the encoded registration is larger than register takes.
    pub fn too_large() -> Self {
        Self::new(
            Tone::Error,
            "That is more than we can take in",
            "Together, the details are too long to send, so nothing was admitted. Please \
             shorten them: under each label it says how long that field may be.",
        )
    }

    /// Any other 4xx: register refused what was sent.
    pub fn refused() -> Self {
        Self::new(
            Tone::Error,
            "We couldn't accept the form",
            "Nothing was admitted. Please check the details below and send the form again.",
        )
    }

    /// register did not answer, or said it is unavailable: nothing was admitted.
    pub fn not_sent(reference: Option<Reference>) -> Self {
        Self {
            reference,
            ..Self::new(
                Tone::Warning,
                "We couldn't send your request",
                "The part of Cuddle Kube that admits residents isn't answering right now, so \
                 nothing was admitted. Nothing is lost: your details are kept below. Please \
                 send them again in a minute.",
            )
        }
    }

    /// The request may or may not have been admitted: the same token makes another
    /// try safe.
    pub fn unconfirmed(name: &str, reference: Option<Reference>) -> Self {
        let name = match name.trim() {
            "" => "your server".to_owned(),
            name => name.to_owned(),
        };
        Self {
            reference,
            try_again: true,
            ..Self::new(
                Tone::Warning,
                "We couldn't confirm your request",
                format!(
                    "Your request reached us, but we couldn't confirm whether {name} was \
                     admitted. Trying again is safe: it will not be admitted twice."
                ),
            )
        }
    }
}
