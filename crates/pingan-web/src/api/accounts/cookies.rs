//! The cookies a browser signs in with. Served over HTTPS (by Pingan itself or a TLS proxy), they
//! are `__Host-` and `Secure`: bound to this host, never sent in the clear. A browser refuses
//! such cookies over plain HTTP to any host but this computer, so an office that serves Pingan on
//! its intranet without TLS must say so (`--plain-http`): its cookies then go without `Secure`,
//! and anyone on the network path can read them.

use axum::http::HeaderValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookies {
    /// Over HTTPS: `__Host-` names and `Secure`.
    secure: bool,
}

impl Default for Cookies {
    fn default() -> Cookies {
        Cookies { secure: true }
    }
}

impl Cookies {
    /// Cookies for plain HTTP, chosen by the operator.
    pub const PLAIN_HTTP: Cookies = Cookies { secure: false };

    /// The session's cookie.
    pub fn session_name(self) -> &'static str {
        if self.secure { "__Host-pingan_session" } else { "pingan_session" }
    }

    /// The cookie of a form's CSRF token before there is a session.
    pub fn form_name(self) -> &'static str {
        if self.secure { "__Host-pingan_form_csrf" } else { "pingan_form_csrf" }
    }

    /// `name=value` with the attributes every sign-in cookie has, kept `max_age_s` seconds (0:
    /// removed).
    pub fn set(self, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!("{name}={value}; Path=/; HttpOnly{secure}; SameSite=Strict; Max-Age={max_age_s}");
        // Values are URL-safe base64 secrets; anything else is a cookie removed.
        HeaderValue::from_str(&text).unwrap_or_else(|_| {
            HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly{secure}; Max-Age=0"))
                .unwrap_or(HeaderValue::from_static(""))
        })
    }

    /// The session's cookie holding `secret` for `max_age_s` seconds (an empty secret and 0: ended).
    pub fn session(self, secret: &str, max_age_s: i64) -> HeaderValue {
        self.set(self.session_name(), secret, max_age_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_are_host_bound_and_plain_ones_are_not_marked_secure() {
        let secure = Cookies::default().session("abc", 60);
        assert_eq!(secure, "__Host-pingan_session=abc; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=60");
        let plain = Cookies::PLAIN_HTTP.session("abc", 60);
        assert_eq!(plain, "pingan_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
        assert_eq!(
            Cookies::PLAIN_HTTP.set("pingan_form_csrf", "a\nb", 60),
            "pingan_form_csrf=; Path=/; HttpOnly; Max-Age=0"
        );
    }
}
