//! Request paths and queries: every value that goes into a URL is encoded here, by one rule.
//!
//! - A path segment (owner, repository, branch, ref, workflow file, ...) is percent-encoded with
//!   the WHATWG *component* set (the set of JavaScript's `encodeURIComponent`, which octokit uses
//!   for GitHub's `{param}` path parameters) plus `%`. It holds the path-segment set (`/`, `?`,
//!   `#`, `%`, space, controls, ...), so a branch `release/1.2` becomes the one segment
//!   `release%2F1.2`, never two, and `#` or `?` in a name cannot cut the path short.
//! - A query is `application/x-www-form-urlencoded` (`url::form_urlencoded`), the way GitHub and
//!   every server read one: `environment=prod%2Feu+%231`.

use percent_encoding::{utf8_percent_encode, AsciiSet, PercentEncode, CONTROLS};

/// The WHATWG component percent-encode set, with `%` itself.
const SEGMENT: &AsciiSet = &CONTROLS
    // The query set.
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    // The path set.
    .add(b'?')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    // The userinfo set (`/` among them: a segment never splits).
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'|')
    // The component set.
    .add(b'$')
    .add(b'&')
    .add(b'+')
    .add(b',')
    // A literal `%` must not read as an escape.
    .add(b'%');

/// One path segment, percent-encoded (non-ASCII as UTF-8 bytes). Displays as the encoded text.
pub fn segment(text: &str) -> PercentEncode<'_> {
    utf8_percent_encode(text, SEGMENT)
}

/// A query string (without `?`) of these pairs, form-encoded.
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_never_splits_or_ends_the_path() {
        assert_eq!(segment("release/1.2").to_string(), "release%2F1.2");
        assert_eq!(
            segment("a b#c?d%e+f&g=h").to_string(),
            "a%20b%23c%3Fd%25e%2Bf%26g%3Dh"
        );
        assert_eq!(
            segment("rollback-production.yml").to_string(),
            "rollback-production.yml"
        );
        assert_eq!(
            segment("feature/ünï").to_string(),
            "feature%2F%C3%BCn%C3%AF"
        );
        assert_eq!(segment("x\\y\u{7f}").to_string(), "x%5Cy%7F");
        // What encodeURIComponent leaves alone stays readable.
        assert_eq!(
            segment("a-b_c.d~e!f*g'h(i)").to_string(),
            "a-b_c.d~e!f*g'h(i)"
        );
    }

    #[test]
    fn a_query_is_form_encoded() {
        assert_eq!(
            query([("environment", "prod/eu #1?&x=y"), ("per_page", "100")]),
            "environment=prod%2Feu+%231%3F%26x%3Dy&per_page=100"
        );
    }
}
