//! Every refusal Pingan gives carries a stable machine-readable code and a message in Chinese and
//! English. Layers keep their own error types; they all implement [`Explain`] so the outermost layer
//! can render any of them the same way (JSON, XML, an HTML page or a CLI line).

pub trait Explain {
    /// A stable snake_case code. Clients match on it; never rename one.
    fn code(&self) -> &'static str;
    fn message_zh(&self) -> String;
    fn message_en(&self) -> String;
}
