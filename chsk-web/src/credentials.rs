//! Credentials from the app: [`refresh_csrf_from`], a provider that fetches a fresh CSRF
//! token when the server refuses the old one.

use crate::ajax::Ajax;

/// A credentials provider (for [`connect_with_credentials`](crate::connect_with_credentials))
/// that keeps the current CSRF token until the server refuses a connection attempt in a way
/// retrying cannot fix (`400`, `401`, `403`, …), then `GET`s `url` and uses the response's
/// text (trimmed) as the new token. When that request fails, the current token is kept (the
/// attempt is refused again and the client retries after its backoff). When `url` serves the
/// very token that was just refused, the token is not what the server objects to (a bad
/// origin, a failed authorization, the app's reject hook): it gives up, and the client stops
/// ([`ClientState::stopped`](chsk::client::ClientState::stopped)) with the refusal in its
/// state.
///
/// The app serves the token at `url` (same origin, same session as the page).
pub fn refresh_csrf_from(url: &str) -> impl chsk::client::CredentialsProvider {
    let url = url.to_string();
    move |req: chsk::client::CredentialsRequest| {
        let url = url.clone();
        async move {
            let mut creds = req.current;
            if req.refusal.as_ref().is_some_and(|r| !r.retryable()) {
                match Ajax::get(url)
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await
                {
                    Ok(resp) => {
                        let token = resp.text().trim().to_string();
                        if creds.csrf_token.as_deref() == Some(token.as_str()) {
                            tracing::warn!(
                                "chsk-web: refused with the current CSRF token; giving up"
                            );
                            return None;
                        }
                        if !token.is_empty() {
                            creds.csrf_token = Some(token);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "chsk-web: could not fetch a fresh CSRF token")
                    }
                }
            }
            Some(creds)
        }
    }
}
