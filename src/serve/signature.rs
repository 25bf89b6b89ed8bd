//! `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body under the webhook
//! secret. Checked before anything reads the body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery's signature was refused (the answer is 401 either way; the log says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not `sha256=` and 64 hex digits")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body under the webhook secret")]
    Mismatch,
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against `body`. The comparison
/// is constant-time (`Mac::verify_slice`).
pub fn verify(secret: &[u8], body: &[u8], header: Option<&[u8]>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value GitHub would send for `body` (tests and the benchmark sign with it).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const PAYLOAD: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_test_vector_verifies() {
        assert_eq!(
            verify(SECRET, PAYLOAD, Some(GITHUB_SIGNATURE.as_bytes())),
            Ok(())
        );
        assert_eq!(sign(SECRET, PAYLOAD), GITHUB_SIGNATURE);
    }

    #[test]
    fn a_changed_body_secret_or_digest_is_refused() {
        let header = Some(GITHUB_SIGNATURE.as_bytes());
        assert_eq!(
            verify(SECRET, b"Hello, World?", header),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", PAYLOAD, header),
            Err(SignatureError::Mismatch)
        );
        let flipped = GITHUB_SIGNATURE.replace("757107", "757108");
        assert_eq!(
            verify(SECRET, PAYLOAD, Some(flipped.as_bytes())),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        assert_eq!(verify(SECRET, PAYLOAD, None), Err(SignatureError::Missing));
        for header in [
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "",
        ] {
            assert_eq!(
                verify(SECRET, PAYLOAD, Some(header.as_bytes())),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }
}
