//! GitHub. `model` holds the REST API's JSON shapes, deserialized leniently: every enum GitHub
//! sends is an open set (adding values is a non-breaking change for GitHub), so unknown values are
//! kept as text and never fail deserialization.

pub mod model;
