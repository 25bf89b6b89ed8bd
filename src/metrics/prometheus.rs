//! The `prometheus` source: an instant query against a Prometheus-compatible HTTP API
//! (Prometheus, VictoriaMetrics, Fly's managed Prometheus).
//!
//! One `POST {url}/api/v1/query` with the form `query=…` (the body, so a long query never meets
//! a URL length limit; both servers take the form on POST as on GET), evaluated at the server's
//! own now (no `time`: shipgate's clock and the server's may differ, and a `time` ahead of the
//! server's last scrape reads stale data). The `Authorization` header carries the configured
//! secret, marked sensitive; no error ever holds it.
//!
//! The answer is the HTTP API's JSON envelope: `{"status":"success","data":{"resultType":…,
//! "result":…}}` or `{"status":"error","errorType":…,"error":…}`. A `vector` gives one value per
//! sample, a `scalar` one value; an empty vector is no samples. A `matrix` (a range vector, as
//! `m[5m]`) or a `string` cannot be judged against a threshold and is an error saying so.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::secret::Secret;

/// The most of an answer that is read.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Why a query gave no values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The server answered and refused the query (`bad_data`: a syntax error, an unknown
    /// function): the query is wrong.
    #[error("the server rejected the query: {error}")]
    Rejected { error: String },
    /// The server failed the query (`execution`, `timeout`, `internal`, a 5xx).
    #[error("the query failed: {error}")]
    Failed { error: String },
    /// Nothing usable came back: refused connection, timeout, TLS, a body that is not the API's.
    #[error("{0}")]
    Unreachable(String),
    /// The answer is a range vector or a string, not numbers.
    #[error("{0}")]
    NotNumbers(String),
}

impl QueryError {
    /// The query itself is wrong (as opposed to the server being unavailable).
    pub fn is_rejected(&self) -> bool {
        matches!(self, QueryError::Rejected { .. })
    }
}

/// A Prometheus HTTP API.
#[derive(Debug, Clone)]
pub struct Prometheus {
    client: reqwest::Client,
    endpoint: url::Url,
    auth: Option<Secret>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Value,
}

impl Prometheus {
    /// `base` is the API's base URL (`https://api.fly.io/prometheus/<org>`); the query endpoint
    /// is `{base}/api/v1/query`.
    pub fn new(client: reqwest::Client, base: &url::Url, auth: Option<Secret>) -> Prometheus {
        Prometheus {
            client,
            endpoint: super::join(base, "/api/v1/query"),
            auth,
        }
    }

    /// The values of `query`, evaluated now, within `timeout`: empty for an empty vector.
    pub async fn query(&self, query: &str, timeout: Duration) -> Result<Vec<f64>, QueryError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", query)
            .finish();
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .timeout(timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(auth) = &self.auth {
            let mut value =
                reqwest::header::HeaderValue::from_str(auth.expose()).map_err(|_| {
                    QueryError::Unreachable(
                        "the Prometheus auth value is not a valid header value".to_owned(),
                    )
                })?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let endpoint = super::shown(&self.endpoint);
        let response = request.send().await.map_err(|e| {
            QueryError::Unreachable(format!(
                "could not query {endpoint}: {}",
                super::transport(&e)
            ))
        })?;
        let status = response.status();
        let body = super::read_body(response, BODY_LIMIT).await.map_err(|e| {
            QueryError::Unreachable(format!("could not read the answer of {endpoint}: {e}"))
        })?;
        parse_answer(status.as_u16(), &body)
    }
}

/// The values in an HTTP API answer with this status and body.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Vec<f64>, QueryError> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) => {
            let text = excerpt(&String::from_utf8_lossy(body));
            let what = if text.is_empty() {
                "an empty body".to_owned()
            } else {
                text
            };
            let error = format!("answered {status} with {what}");
            return Err(if (500..600).contains(&status) {
                QueryError::Failed { error }
            } else {
                QueryError::Unreachable(format!("the Prometheus API {error}"))
            });
        }
    };
    if envelope.status != "success" {
        let error = envelope
            .error
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| format!("answered {status} with no error text"));
        let error_type = envelope.error_type.unwrap_or_default();
        // Prometheus: 400 `bad_data` for a query that does not parse, 422 `execution`, 503
        // `timeout`/`unavailable`. VictoriaMetrics answers 422 with `errorType` "422" for a
        // query that does not parse; its 400s are bad requests too.
        let rejected = error_type == "bad_data" || matches!(status, 400 | 422);
        return Err(if rejected && error_type != "execution" {
            QueryError::Rejected { error }
        } else {
            QueryError::Failed { error }
        });
    }
    let data = envelope.data.ok_or_else(|| {
        QueryError::Unreachable("the Prometheus API answered success without data".to_owned())
    })?;
    let bad = |what: &str| QueryError::Unreachable(format!("the Prometheus API answered {what}"));
    match data.result_type.as_str() {
        "vector" => {
            let samples = data.result.as_array().ok_or_else(|| bad("a vector that is not a list"))?;
            samples
                .iter()
                .map(|sample| pair_value(&sample["value"]).ok_or_else(|| bad("a sample without a [time, \"value\"] pair")))
                .collect()
        }
        "scalar" => pair_value(&data.result)
            .map(|v| vec![v])
            .ok_or_else(|| bad("a scalar that is not a [time, \"value\"] pair")),
        "matrix" => Err(QueryError::NotNumbers(
            "the query returns a range vector (matrix), not a value: wrap the range in a function such as rate(…[…]) or last_over_time(…[…])".to_owned(),
        )),
        other => Err(QueryError::NotNumbers(format!(
            "the query returns a {other}, not a number"
        ))),
    }
}

/// The value of `[1712345678.123, "0.25"]`.
fn pair_value(pair: &Value) -> Option<f64> {
    let text = pair.as_array().filter(|p| p.len() == 2)?[1].as_str()?;
    super::text::float(text)
}

fn excerpt(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = line.chars().take(200).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vectors_and_scalars() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"a":"1"},"value":[1712345678.1,"0.25"]},
            {"metric":{"a":"2"},"value":[1712345678.1,"NaN"]},
            {"metric":{"a":"3"},"value":[1712345678.1,"+Inf"]}]}}"#;
        let values = parse_answer(200, vector).expect("a vector");
        assert_eq!(values[0], 0.25);
        assert!(values[1].is_nan());
        assert_eq!(values[2], f64::INFINITY);
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_answer(200, empty), Ok(vec![]));
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"3"]}}"#;
        assert_eq!(parse_answer(200, scalar), Ok(vec![3.0]));
    }

    #[test]
    fn sorts_errors_by_what_they_say_of_the_query() {
        let bad =
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#;
        assert_eq!(
            parse_answer(400, bad),
            Err(QueryError::Rejected {
                error: "1:5: parse error: unexpected".to_owned()
            })
        );
        let vm = br#"{"status":"error","errorType":"422","error":"cannot parse query"}"#;
        assert!(parse_answer(422, vm).expect_err("vm").is_rejected());
        let execution = br#"{"status":"error","errorType":"execution","error":"too many samples"}"#;
        assert_eq!(
            parse_answer(422, execution),
            Err(QueryError::Failed {
                error: "too many samples".to_owned()
            })
        );
        let unavailable = br#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        assert!(!parse_answer(503, unavailable)
            .expect_err("503")
            .is_rejected());
        let gateway = b"<html>502 Bad Gateway</html>";
        let error = parse_answer(502, gateway).expect_err("html");
        assert_eq!(
            error.to_string(),
            "the query failed: answered 502 with <html>502 Bad Gateway</html>"
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_answer(200, matrix)
            .expect_err("matrix")
            .to_string()
            .contains("range vector"));
    }
}
