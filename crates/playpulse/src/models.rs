//! The predictive models over the lake: which days they learn from, how they are judged, and
//! where their versions are kept.

pub mod churn;
pub mod ltv;
pub mod registry;
pub mod scoring;
