//! Operators' accounts: created once per name, locked by wrong passwords for a while.

use jiff::SignedDuration;
use playpulse_core::operators::Role;
use playpulse_store::{Lockout, OperatorRecord, OperatorSession};

use crate::{Fixture, now, on_both};

on_both!(an_account_is_created_once_and_locked_by_wrong_passwords, a_session_lasts_until_it_expires_or_ends);

fn account(name: &str, role: Role) -> OperatorRecord {
    OperatorRecord {
        name: name.into(),
        password_hash: format!("$argon2id$hash-of-{name}"),
        role,
        created_at: now(),
        failed_logins: 0,
        locked_until: None,
    }
}

async fn an_account_is_created_once_and_locked_by_wrong_passwords(f: &Fixture) {
    let s = f.store();
    assert!(s.create_operator(account("ann", Role::Admin)).await.unwrap());
    assert!(!s.create_operator(account("ann", Role::Viewer)).await.unwrap(), "the name is taken");
    assert!(s.create_operator(account("bo", Role::Viewer)).await.unwrap());
    let ann = s.operator("ann").await.unwrap().unwrap();
    assert_eq!(ann, account("ann", Role::Admin), "the first account stands");
    assert_eq!(s.operator("nobody").await.unwrap(), None);
    let names: Vec<String> = s.operators().await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["ann", "bo"]);

    let lockout = Lockout { after: 3, for_ms: 60_000 };
    let t = now();
    for n in 1..=2 {
        let after = s.login_failed("ann", t, lockout).await.unwrap().unwrap();
        assert_eq!((after.failed_logins, after.locked_until), (n, None));
    }
    let locked = s.login_failed("ann", t, lockout).await.unwrap().unwrap();
    let until = t + SignedDuration::from_mins(1);
    assert_eq!(locked.locked_until, Some(until), "the third wrong password locks");
    assert!(locked.is_locked(t) && !locked.is_locked(until));
    let later = t + SignedDuration::from_secs(30);
    let still = s.login_failed("ann", later, lockout).await.unwrap().unwrap();
    assert_eq!(still.locked_until, Some(until), "tries while locked do not extend the lock");
    let after_lock = s.login_failed("ann", until, lockout).await.unwrap().unwrap();
    assert_eq!((after_lock.failed_logins, after_lock.locked_until), (1, None), "the count starts again");
    s.login_succeeded("ann").await.unwrap();
    let ann = s.operator("ann").await.unwrap().unwrap();
    assert_eq!((ann.failed_logins, ann.locked_until), (0, None));
    assert_eq!(s.login_failed("nobody", t, lockout).await.unwrap(), None);
    assert_eq!(s.operator("bo").await.unwrap().unwrap().failed_logins, 0, "accounts are apart");
}

fn session(token_hash: &str, name: &str, hours: i64) -> OperatorSession {
    OperatorSession {
        token_hash: token_hash.into(),
        name: name.into(),
        csrf: format!("csrf-{token_hash}"),
        created_at: now(),
        expires_at: now() + SignedDuration::from_hours(hours),
    }
}

async fn a_session_lasts_until_it_expires_or_ends(f: &Fixture) {
    let s = f.store();
    s.create_operator(account("ann", Role::Viewer)).await.unwrap();
    s.create_session(session("t1", "ann", 1)).await.unwrap();
    s.create_session(session("t2", "ann", 8)).await.unwrap();
    let (found, role) = s.session("t1", now()).await.unwrap().unwrap();
    assert_eq!((found, role), (session("t1", "ann", 1), Role::Viewer));
    assert_eq!(s.session("nope", now()).await.unwrap(), None);
    let expiry = now() + SignedDuration::from_hours(1);
    assert_eq!(s.session("t1", expiry).await.unwrap(), None, "expired at its expiry instant");
    assert!(s.session("t2", expiry).await.unwrap().is_some());

    // A session made later forgets the expired ones.
    let mut later = session("t3", "ann", 1);
    later.created_at = expiry;
    later.expires_at = expiry + SignedDuration::from_hours(1);
    s.create_session(later).await.unwrap();
    assert!(!s.end_session("t1").await.unwrap(), "t1 was pruned");
    assert!(s.end_session("t2").await.unwrap());
    assert!(!s.end_session("t2").await.unwrap(), "ended once");
    assert_eq!(s.session("t2", now()).await.unwrap(), None);
    assert!(s.session("t3", expiry).await.unwrap().is_some());
}
