//! OAuth 1.0a request authentication (RFC 5849): the proxy parses a signed
//! request's parameters and base string; the metadata servers, which hold the
//! secrets, verify it ([`authenticate`]). The REST API authenticates its
//! callers here; the provider's endpoints ([`crate::oauth`]) parse their
//! signed requests here too.

use actix_web::HttpRequest;
use actix_web::http::header;
use nimbus_protocol::oauth1::{OAuthRequest, RequestParts, base_uri};
use nimbus_protocol::rpc::{DeviceToken, OAuthIdentity, Operation};
use uuid::Uuid;

use crate::error::rest::RestError;
use crate::state::RestState;

/// Who signed a REST request: the user and the device bound to the access
/// token, whose token the proxy uses for the RPC calls made on their behalf.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub consumer_key: String,
    pub device_token: DeviceToken,
}

/// Whether the body is `application/x-www-form-urlencoded` (and so signed).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses the OAuth parameters of `req` (RFC 5849 §3.4.1): `form_body` is the
/// body when [`is_form`] holds.
pub fn signed_request(
    public_url: &str,
    req: &HttpRequest,
    form_body: Option<&[u8]>,
) -> Result<OAuthRequest, RestError> {
    let base = base_uri(public_url, req.uri().path())
        .map_err(|e| RestError::Internal(format!("the configured public_url: {e}")))?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str())
        .transpose()
        .map_err(|_| RestError::Unauthorized("the Authorization header is not ASCII".into()))?;
    OAuthRequest::parse(&RequestParts {
        method: req.method().as_str(),
        base_uri: &base,
        query: req.uri().query().unwrap_or_default(),
        form_body,
        authorization,
    })
    .map_err(|e| RestError::Unauthorized(e.to_string()))
}

/// Authenticates a request signed with an access token.
pub async fn authenticate(
    state: &RestState,
    req: &HttpRequest,
    form_body: Option<&[u8]>,
) -> Result<Caller, RestError> {
    let request = signed_request(&state.public_url, req, form_body)?;
    if request.token.is_none() {
        return Err(RestError::Unauthorized(
            "the request is not signed with an access token (oauth_token is missing)".into(),
        ));
    }
    let identity: OAuthIdentity = state
        .rpc
        .call(None, Operation::OauthAuthenticate { request })
        .await
        .map_err(RestError::from_rpc)?;
    Ok(Caller {
        user_id: identity.user_id,
        consumer_key: identity.consumer_key,
        device_token: identity.device_token,
    })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    /// RFC 5849 §1.2: the photos example, as an HTTP request reaching the proxy.
    #[test]
    fn the_rfc_5849_photos_example_verifies() {
        let header = |signature: &str| {
            format!(
                "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
                 oauth_token=\"nnch734d00sl2jdk\", oauth_signature_method=\"HMAC-SHA1\", \
                 oauth_timestamp=\"137131202\", oauth_nonce=\"chapoH\", \
                 oauth_signature=\"{signature}\""
            )
        };
        let request = |signature: &str| {
            TestRequest::get()
                .uri("/photos?file=vacation.jpg&size=original")
                .insert_header(("Host", "attacker.example"))
                .insert_header(("X-Forwarded-Host", "attacker.example"))
                .insert_header((header::AUTHORIZATION, header(signature)))
                .to_http_request()
        };
        let parsed = signed_request(
            "http://photos.example.net",
            &request("MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"),
            None,
        )
        .unwrap();
        assert_eq!(
            parsed.base_string(),
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26\
             oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26\
             oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26\
             oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
        );
        parsed
            .verify("kd94hf93k423kf44", Some("pfkkdhi9sl3r4s00"))
            .unwrap();
        // One bit off, or the wrong token secret: refused.
        let tampered = signed_request(
            "http://photos.example.net",
            &request("MdpQcU8iPSUjWoN%2FUDMsK2sui9J%3D"),
            None,
        )
        .unwrap();
        assert!(
            tampered
                .verify("kd94hf93k423kf44", Some("pfkkdhi9sl3r4s00"))
                .is_err()
        );
        assert!(parsed.verify("kd94hf93k423kf44", Some("wrong")).is_err());
    }

    /// RFC 5849 §3.4.1.1: query, form body and header parameters all signed.
    #[test]
    fn the_rfc_5849_base_string_example_includes_query_and_form_body() {
        let req = TestRequest::post()
            .uri("/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .insert_header((
                header::AUTHORIZATION,
                "OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\", \
                 oauth_token=\"kkk9d7dh3k39sjv7\", oauth_signature_method=\"HMAC-SHA1\", \
                 oauth_timestamp=\"137131201\", oauth_nonce=\"7d8f3e4a\", \
                 oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\"",
            ))
            .to_http_request();
        assert!(is_form(&req));
        let parsed = signed_request("HTTP://Example.com:80/", &req, Some(b"c2&a3=2+q")).unwrap();
        assert_eq!(
            parsed.base_string(),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26\
             b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26\
             oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26\
             oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    /// RFC 5849 §3.4.4: PLAINTEXT is the encoded secrets joined by `&`.
    #[test]
    fn the_rfc_5849_plaintext_example_verifies() {
        let req = TestRequest::post()
            .uri("/initiate")
            .insert_header((
                header::AUTHORIZATION,
                "OAuth oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
                 oauth_signature_method=\"PLAINTEXT\", oauth_callback=\"oob\", \
                 oauth_signature=\"djr9rjt0jd78jf88%26jjd99%2524tj88uiths3\"",
            ))
            .to_http_request();
        let parsed = signed_request("https://photos.example.net", &req, None).unwrap();
        assert!(parsed.over_https());
        parsed
            .verify("djr9rjt0jd78jf88", Some("jjd99$tj88uiths3"))
            .unwrap();
        assert!(
            parsed
                .verify("djr9rjt0jd78jf88", Some("jjd99$tj88uiths4"))
                .is_err()
        );
    }

    #[test]
    fn form_bodies_are_recognised_by_media_type() {
        let form = TestRequest::post()
            .insert_header((
                header::CONTENT_TYPE,
                "Application/X-WWW-Form-URLEncoded; charset=utf-8",
            ))
            .to_http_request();
        assert!(is_form(&form));
        let json = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request();
        assert!(!is_form(&json));
    }
}
