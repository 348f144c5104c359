//! A night's results: stored together, never over a newer night's, the same rule on both
//! backends whatever the years.

use jiff::civil::{Date, date};
use playpulse_core::ids::UserId;
use playpulse_core::segments::Rfm;
use playpulse_store::{Arm, Night, StoredSegment, Transition};

use crate::{Fixture, on_both};

on_both!(a_newer_night_always_wins, a_night_stores_everything_or_its_older_self_stores_nothing);

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn segment(name: &str, as_of: Date) -> StoredSegment {
    StoredSegment {
        segment: name.into(),
        rule_index: Some(1),
        rfm: Rfm { recency_days: 1, frequency: 2, monetary: 3, partner_visits: 4, partner_tokens: 5 },
        balance: 6,
        as_of,
        since: as_of,
    }
}

fn night(as_of: Date, users: &[(&str, &str)]) -> Night {
    Night {
        as_of,
        segments: users.iter().map(|(u, s)| (user(u), segment(s, as_of))).collect(),
        user_hours: users.iter().map(|(u, _)| (user(u), [as_of.day().into(); 24])).collect(),
        segment_hours: vec![("Low".into(), [as_of.day().into(); 24])],
        arms: vec![Arm {
            segment: "Low".into(),
            kind: playpulse_core::proposal::ProposalKind::MidStake,
            variant: as_of.to_string(),
            impressions: 10,
            conversions: 1,
        }],
    }
}

fn moved(name: &str, from: Option<&str>, to: &str) -> Transition {
    Transition { user: user(name), from: from.map(Into::into), to: to.into() }
}

async fn a_newer_night_always_wins(f: &Fixture) {
    let s = f.store();
    let (dec31, jan1, jan2) = (date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2));
    assert_eq!(
        s.save_night(night(dec31, &[("u1", "Low"), ("u2", "Low")])).await.unwrap(),
        [moved("u1", None, "Low"), moved("u2", None, "Low")]
    );
    // u2 is decided by a newer night first; the older one that follows must leave it be.
    s.save_night(night(jan2, &[("u2", "Medium")])).await.unwrap();
    let transitions = s.save_night(night(jan1, &[("u1", "Top"), ("u2", "Top")])).await.unwrap();
    assert_eq!(transitions, [moved("u1", Some("Low"), "Top")], "u2 belongs to 2027-01-02");
    let segments = s.segments().await.unwrap();
    assert_eq!((segments["u1"].segment.as_str(), segments["u1"].as_of), ("Top", jan1));
    assert_eq!((segments["u2"].segment.as_str(), segments["u2"].as_of), ("Medium", jan2));
    assert_eq!(segments["u1"], segment("Top", jan1), "every figure reads back");
    let backfill = s.save_night(night(dec31, &[("u1", "Medium")])).await.unwrap();
    assert_eq!(
        backfill,
        [moved("u1", None, "Low"), moved("u2", None, "Low")],
        "its own history, nothing new"
    );
    assert_eq!(s.segments().await.unwrap()["u1"].segment, "Top");
    assert_eq!(
        s.save_night(night(jan1, &[("u1", "Top")])).await.unwrap(),
        [moved("u1", Some("Low"), "Top")],
        "a re-run answers the night's transitions again"
    );
}

async fn a_night_stores_everything_or_its_older_self_stores_nothing(f: &Fixture) {
    let s = f.store();
    let (older, newer) = (date(2026, 12, 30), date(2027, 1, 1));
    s.save_night(night(newer, &[("u1", "Low")])).await.unwrap();
    s.save_night(night(older, &[("u1", "Top"), ("u3", "Top")])).await.unwrap();
    let arms = s.arms().await.unwrap();
    assert_eq!(
        arms.iter().map(|a| a.variant.as_str()).collect::<Vec<_>>(),
        ["2027-01-01"],
        "newer arms stay"
    );
    assert_eq!(s.segment_hours().await.unwrap(), [("Low".to_owned(), [1; 24])], "newer hours stay");
    let segments = s.segments().await.unwrap();
    assert_eq!(segments["u1"].segment, "Low");
    assert_eq!(segments["u3"].segment, "Top", "a user no newer night decided is the older night's");
}
