//! The gates, in the order they run and are shown. Each is a pure function of gathered facts and
//! the validated policy, and returns a `Verdict`; none reads the clock, the environment or the
//! network.
//!
//! | id | module |
//! |---|---|
//! | `required-checks` | [`checks`] |
//! | `deploy-window` | [`window`] |
//! | `staging` | [`staging`] |
//! | `health` | [`health`] |

pub mod checks;
pub mod health;
pub mod staging;
pub mod window;
