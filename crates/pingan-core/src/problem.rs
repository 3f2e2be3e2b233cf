//! Every refusal Pingan gives carries a stable machine-readable code and a message in Chinese and
//! English. Layers keep their own error types; they all implement [`Explain`] so the outermost layer
//! can render any of them the same way (JSON, XML, an HTML page or a CLI line).

pub trait Explain {
    /// A stable snake_case code. Clients match on it; never rename one.
    fn code(&self) -> &'static str;
    fn message_zh(&self) -> String;
    fn message_en(&self) -> String;
}

/// Why something was refused, in both languages: the Chinese message never carries English text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason {
    pub zh: &'static str,
    pub en: &'static str,
}

impl Reason {
    pub const fn new(zh: &'static str, en: &'static str) -> Reason {
        Reason { zh, en }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.en)
    }
}
