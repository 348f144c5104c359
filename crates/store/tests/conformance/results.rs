//! A night's results: stored together, never over a newer night's, the same rule on both
//! backends whatever the years.

use jiff::civil::{Date, date};
use playpulse_core::ids::UserId;
use playpulse_core::segments::Rfm;
use playpulse_store::{Arm, MAX_MEMBERS_PAGE, Night, StoredSegment, Transition};

use crate::{Fixture, on_both};

on_both!(
    a_newer_night_always_wins,
    a_night_stores_everything_or_its_older_self_stores_nothing,
    paging_through_a_segment_gives_each_member_once_in_order,
    an_empty_or_unknown_segment_has_no_members,
    a_page_of_members_is_bounded_by_its_limit
);

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

/// `m00000`, `m00001`, …: ids that sort alike in every collation.
fn member_id(i: usize) -> UserId {
    user(&format!("m{i:05}"))
}

/// A night of `n` users, each with figures of their own; every third is in `Top`, the rest
/// in `Low`.
fn members_night(as_of: Date, n: usize) -> Night {
    let mut night = night(as_of, &[]);
    night.segments = (0..n)
        .rev()
        .map(|i| {
            let k = i64::try_from(i).unwrap();
            let top = i % 3 == 0;
            let rfm = Rfm {
                recency_days: k,
                frequency: k + 1,
                monetary: k * 100,
                partner_visits: k % 5,
                partner_tokens: k * 7,
            };
            let stored = StoredSegment {
                segment: if top { "Top" } else { "Low" }.into(),
                rule_index: top.then_some(0),
                rfm,
                balance: k * 11,
                as_of,
                since: as_of.yesterday().unwrap(),
            };
            (member_id(i), stored)
        })
        .collect();
    night
}

type Members = Vec<(UserId, StoredSegment)>;

/// Every member of `segment`, read `limit` at a time, and the sizes of the pages.
async fn all_pages(f: &Fixture, segment: &str, limit: usize) -> (Members, Vec<usize>) {
    let (mut members, mut sizes): (Members, Vec<usize>) = (Vec::new(), Vec::new());
    loop {
        let after = members.last().map(|(u, _)| u.clone());
        let page = f.store().segment_members(segment, after.as_ref(), limit).await.unwrap();
        if page.is_empty() {
            return (members, sizes);
        }
        sizes.push(page.len());
        members.extend(page);
    }
}

fn ids(members: Members) -> Vec<UserId> {
    members.into_iter().map(|(u, _)| u).collect()
}

async fn paging_through_a_segment_gives_each_member_once_in_order(f: &Fixture) {
    let s = f.store();
    let as_of = date(2027, 1, 1);
    let first = members_night(as_of, 25);
    s.save_night(first.clone()).await.unwrap();
    let mut expected: Members = first.segments.into_iter().filter(|(_, g)| g.segment == "Low").collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let (members, sizes) = all_pages(f, "Low", 4).await;
    assert_eq!(members, expected, "every member once, in user-id order, with every figure");
    assert_eq!(sizes, [4, 4, 4, 4]);
    let (top, sizes) = all_pages(f, "Top", 3).await;
    assert_eq!((top.len(), sizes), (9, vec![3, 3, 3]));

    // The members are those of the current segments: a later night that moves m00001 up
    // takes it out of Low.
    let next = date(2027, 1, 2);
    s.save_night(night(next, &[("m00001", "Top")])).await.unwrap();
    let low = ids(all_pages(f, "Low", 100).await.0);
    assert_eq!(low.len(), 15);
    assert!(!low.contains(&member_id(1)));
    let top = all_pages(f, "Top", 100).await.0;
    assert_eq!(top.iter().find(|(u, _)| *u == member_id(1)).map(|(_, g)| g.as_of), Some(next));
}

async fn an_empty_or_unknown_segment_has_no_members(f: &Fixture) {
    let s = f.store();
    assert!(s.segment_members("Low", None, 10).await.unwrap().is_empty(), "before any night");
    s.save_night(night(date(2027, 1, 1), &[("u1", "Low"), ("u2", "Low")])).await.unwrap();
    for name in ["Top", "Nobody", "low", "Low ", ""] {
        assert!(s.segment_members(name, None, 10).await.unwrap().is_empty(), "{name:?}");
    }
    assert_eq!(ids(s.segment_members("Low", None, 10).await.unwrap()), [user("u1"), user("u2")]);
}

async fn a_page_of_members_is_bounded_by_its_limit(f: &Fixture) {
    let s = f.store();
    let n = MAX_MEMBERS_PAGE * 3 / 2;
    let mut night = members_night(date(2027, 1, 1), n);
    night.segments.iter_mut().for_each(|(_, g)| g.segment = "Low".into());
    s.save_night(night).await.unwrap();
    let page = |after: Option<UserId>, limit: usize| async move {
        ids(s.segment_members("Low", after.as_ref(), limit).await.unwrap())
    };
    let range = |from: usize, to: usize| (from..to).map(member_id).collect::<Vec<_>>();
    assert!(page(None, 0).await.is_empty(), "limit 0");
    assert_eq!(page(None, 1).await, [member_id(0)]);
    assert_eq!(page(None, usize::MAX).await, range(0, MAX_MEMBERS_PAGE), "never past a full page");
    assert_eq!(page(Some(member_id(MAX_MEMBERS_PAGE - 1)), usize::MAX).await, range(MAX_MEMBERS_PAGE, n));
    assert!(page(Some(member_id(n - 1)), 10).await.is_empty(), "after the last");
    let between = user(&format!("{}a", member_id(5)));
    assert_eq!(page(Some(between), 2).await, range(6, 8), "after an id no member has");
}
