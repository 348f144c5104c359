//! The predictive models over the lake: which days they learn from, how they are judged, and
//! where their versions are kept.

pub mod churn;
pub mod ltv;
pub mod registry;
pub mod scoring;
pub mod value;

/// One day's features as the models take them.
pub fn table(features: &playpulse_lake::features::Features) -> playpulse_models::table::Table {
    playpulse_models::table::Table { names: features.names.clone(), columns: features.columns.clone() }
}
