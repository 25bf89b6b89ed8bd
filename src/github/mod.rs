//! GitHub: the edge that reads facts and (later) writes results. No policy lives here.
//!
//! - `model`: the REST API's JSON shapes, deserialized leniently: every enum GitHub sends is an
//!   open set (adding values is a non-breaking change for GitHub), so unknown values are kept as
//!   text and never fail deserialization.
//! - `client`: transport, retries, rate limits, pagination, conditional requests.
//! - `gather`: one function per endpoint read; `delivery`: the Deployments history, its statuses
//!   and the merged pull requests of deployed commits (for `report metrics`).
//! - `app`: authenticating as a GitHub App (a JWT, then a token per installation, kept until
//!   shortly before it expires); `protection`: the policy file of a branch and the answer to a
//!   deployment protection rule.
//! - `path`: how names go into URLs (path segments and queries, each encoded by one rule).

pub mod path;
pub mod protection;

pub mod app;

pub mod client;
pub mod delivery;
pub mod gather;
pub mod model;
pub mod saved;
pub mod write;
