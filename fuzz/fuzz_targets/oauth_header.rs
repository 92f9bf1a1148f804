//! OAuth 1.0a requests (`nimbus_protocol::oauth1`): the `Authorization`
//! header, the query and form parameters, and the signature base string.
//!
//! Arbitrary requests must parse or fail cleanly. Requests signed by an
//! independent client implementation (the `oauth1-request` crate) must parse
//! to their parameters and verify with the secrets they were signed with,
//! and with no other.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_protocol::oauth1::{OAuthRequest, RequestParts, SignatureMethod, base_uri};
use oauth1_request as oauth;

const PUBLIC_URL: &str = "https://Cloud.Example.org:443/nimbus/";

#[derive(Debug, Arbitrary)]
struct Raw<'a> {
    method: &'a str,
    public_base: &'a str,
    path: &'a str,
    query: &'a str,
    form_body: Option<&'a [u8]>,
    authorization: Option<&'a str>,
    consumer_secret: &'a str,
    token_secret: Option<&'a str>,
    now: u64,
    window: u64,
}

#[derive(Debug, Arbitrary)]
struct Signed<'a> {
    post: bool,
    plaintext: bool,
    /// Path segments; kept to URL-safe characters, as a client's URL is.
    segments: Vec<&'a str>,
    consumer: (&'a str, &'a str),
    token: Option<(&'a str, &'a str)>,
    callback: Option<&'a str>,
    verifier: Option<&'a str>,
    timestamp: u64,
    nonce: &'a str,
    wrong_secret: &'a str,
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    Raw(Raw<'a>),
    Signed(Signed<'a>),
}

fn raw(input: Raw<'_>) {
    let Ok(base) = base_uri(input.public_base, input.path) else {
        return;
    };
    let parts = RequestParts {
        method: input.method,
        base_uri: &base,
        query: input.query,
        form_body: input.form_body,
        authorization: input.authorization,
    };
    if let Ok(request) = OAuthRequest::parse(&parts) {
        let base_string = request.base_string();
        assert!(base_string.starts_with(&input.method.to_ascii_uppercase()));
        // `&` is a token character, so a method may hold one.
        if !input.method.contains('&') {
            assert_eq!(base_string.matches('&').count(), 2, "{base_string}");
        }
        let _ = request.verify(input.consumer_secret, input.token_secret);
        let _ = request.check_freshness(input.now, input.window);
    }
}

fn signed(input: Signed<'_>) {
    let path: String = input
        .segments
        .iter()
        .map(|segment| {
            let safe: String = segment
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c))
                .collect();
            format!("/{safe}")
        })
        .collect();
    let uri = format!("https://cloud.example.org/nimbus{path}");
    // oauth1-request writes the signature into the header without
    // percent-encoding it (RFC 5849 §3.5.1 wants it encoded like any
    // value): a PLAINTEXT signature, the encoded secrets, then only
    // survives secrets of unreserved characters (as the server issues).
    let secret = |text: &str| -> String {
        if input.plaintext {
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c))
                .collect()
        } else {
            text.to_owned()
        }
    };
    let consumer_key = input.consumer.0;
    let consumer_secret = secret(input.consumer.1);
    let token_secret = input.token.map(|(_, s)| secret(s));
    let credentials = oauth::Credentials::new(consumer_key, consumer_secret.as_str());
    let token = input
        .token
        .zip(token_secret.as_deref())
        .map(|((t, _), s)| oauth::Credentials::new(t, s));
    // oauth1-request refuses a zero timestamp; the parser takes any number.
    let timestamp = std::num::NonZeroU64::new(input.timestamp.max(1));
    let header = if input.plaintext {
        let mut builder = oauth::Builder::<_, _>::new(credentials, oauth::Plaintext::new());
        builder
            .token(token)
            .callback(input.callback)
            .verifier(input.verifier)
            .timestamp(timestamp)
            .nonce(input.nonce);
        if input.post {
            builder.post(&uri, &())
        } else {
            builder.get(&uri, &())
        }
    } else {
        let mut builder = oauth::Builder::<_, _>::new(credentials, oauth::HmacSha1::new());
        builder
            .token(token)
            .callback(input.callback)
            .verifier(input.verifier)
            .timestamp(timestamp)
            .nonce(input.nonce);
        if input.post {
            builder.post(&uri, &())
        } else {
            builder.get(&uri, &())
        }
    };
    let base = base_uri(PUBLIC_URL, &path).expect("a valid public URL");
    let request = OAuthRequest::parse(&RequestParts {
        method: if input.post { "post" } else { "GET" },
        base_uri: &base,
        query: "",
        form_body: None,
        authorization: Some(&header),
    })
    .unwrap_or_else(|error| panic!("{header}: {error}"));
    assert_eq!(request.consumer_key, consumer_key);
    assert_eq!(request.token.as_deref(), input.token.map(|(t, _)| t));
    assert_eq!(request.callback.as_deref(), input.callback);
    assert_eq!(request.verifier.as_deref(), input.verifier);
    let method = if input.plaintext {
        SignatureMethod::Plaintext
    } else {
        SignatureMethod::HmacSha1
    };
    assert_eq!(request.signature_method, method);
    assert!(request.over_https());
    let token_secret = token_secret.as_deref();
    request
        .verify(&consumer_secret, token_secret)
        .unwrap_or_else(|error| panic!("{header}: {error}"));
    if input.wrong_secret != consumer_secret {
        assert!(request.verify(input.wrong_secret, token_secret).is_err());
    }
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Raw(input) => raw(input),
    Input::Signed(input) => signed(input),
});
