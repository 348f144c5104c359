//! The analytics layer's vocabulary: which KPI, over which days, at which granularity, for
//! whom, and what comes back. The lake computes them; the API parses and serves them.

use jiff::civil::Date;
use serde_json::Value;

use crate::event::EventType;

/// A KPI the analytics API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    ActiveUsers,
    NewUsers,
    Churn,
    Revenue,
    TokenFlow,
    Partner,
    PeakHours,
    ProposalFunnel,
    SegmentMix,
    Transitions,
    WhaleShare,
    RiskMix,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::ActiveUsers,
        Metric::NewUsers,
        Metric::Churn,
        Metric::Revenue,
        Metric::TokenFlow,
        Metric::Partner,
        Metric::PeakHours,
        Metric::ProposalFunnel,
        Metric::SegmentMix,
        Metric::Transitions,
        Metric::WhaleShare,
        Metric::RiskMix,
    ];

    /// The name in the API's path.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ActiveUsers => "active_users",
            Metric::NewUsers => "new_users",
            Metric::Churn => "churn",
            Metric::Revenue => "revenue",
            Metric::TokenFlow => "token_flow",
            Metric::Partner => "partner",
            Metric::PeakHours => "peak_hours",
            Metric::ProposalFunnel => "proposal_funnel",
            Metric::SegmentMix => "segment_mix",
            Metric::Transitions => "transitions",
            Metric::WhaleShare => "whale_share",
            Metric::RiskMix => "risk_mix",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the metric can be restricted to a population: the segment and risk metrics
    /// describe the populations themselves.
    pub fn filterable(self) -> bool {
        !matches!(self, Metric::SegmentMix | Metric::Transitions | Metric::WhaleShare | Metric::RiskMix)
    }
}

/// The calendar period a KPI's days are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn parse(name: &str) -> Option<Granularity> {
        match name {
            "day" => Some(Granularity::Day),
            "week" => Some(Granularity::Week),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }
}

/// Whose figures a KPI counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Population {
    All,
    /// The users in this segment on the latest night.
    Segment(String),
    /// The users with this quiz risk profile on the latest night.
    RiskProfile(String),
}

/// One KPI request.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub metric: Metric,
    /// First and last business day, as days since 1970-01-01.
    pub from: i32,
    pub to: i32,
    pub granularity: Granularity,
    pub population: Population,
    /// The top segment's name (whale share).
    pub top_segment: String,
}

/// A KPI's rows: column names and, per row, one JSON value per column (integers, floats,
/// text or null). Day columns (`period`, `night`, `business_day`) hold ISO dates.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Which user-days start a cohort or count as a return: any event, or one of these types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Any,
    Of(EventType),
}

impl Activity {
    /// `any`, or a known event type's name (the rollups count those only).
    pub fn parse(name: &str) -> Option<Activity> {
        if name == "any" {
            return Some(Activity::Any);
        }
        match EventType::parse(name)? {
            EventType::Custom(_) => None,
            known => Some(Activity::Of(known)),
        }
    }
}

/// One retention request.
#[derive(Debug, Clone)]
pub struct RetentionQuery {
    pub granularity: Granularity,
    /// Cohorts whose period starts on a day from `from` to `to`.
    pub from: Date,
    pub to: Date,
    /// The last day of data: later events are not seen, and periods ending after it are
    /// incomplete.
    pub last_day: Date,
    pub start: Activity,
    pub returns: Activity,
    /// Every period a user did the start event in (recurring), or only their first
    /// (first-time, the default).
    pub recurring: bool,
    /// The periods reported (e.g. 1–7, 14, 30 days).
    pub offsets: Vec<u32>,
    pub population: Population,
}

/// One cohort's line of the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    /// The first day of the cohort's period.
    pub start: Date,
    pub users: i64,
    pub periods: Vec<RetainedIn>,
}

/// Retention in period N of a cohort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedIn {
    pub offset: u32,
    /// Users who returned in period N exactly.
    pub exact: i64,
    /// Users who returned in period N or any later one seen so far.
    pub on_or_after: i64,
    /// Period N has ended by the last day of data; an incomplete period's counts can grow.
    pub complete: bool,
}
