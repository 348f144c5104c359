//! Versioned migrations, numbered alike on both backends: each backend keeps one SQL file per
//! step in its own `migrations/` folder under the same number and name, and applies the steps
//! its `schema_migrations` table does not hold yet, each in its own transaction, at start.

use std::collections::BTreeSet;

/// One schema step.
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The steps of one backend, from its `migrations/` folder: the list is written once, so a
/// step added to one backend and not the other fails to compile.
macro_rules! migrations {
    ($dir:literal) => {
        &[
            $crate::migrate::Migration {
                version: 1,
                name: "init",
                sql: include_str!(concat!($dir, "/0001_init.sql")),
            },
            $crate::migrate::Migration {
                version: 2,
                name: "export_order",
                sql: include_str!(concat!($dir, "/0002_export_order.sql")),
            },
            $crate::migrate::Migration {
                version: 3,
                name: "segments",
                sql: include_str!(concat!($dir, "/0003_segments.sql")),
            },
            $crate::migrate::Migration {
                version: 4,
                name: "outbox",
                sql: include_str!(concat!($dir, "/0004_outbox.sql")),
            },
            $crate::migrate::Migration {
                version: 5,
                name: "jobs",
                sql: include_str!(concat!($dir, "/0005_jobs.sql")),
            },
            $crate::migrate::Migration {
                version: 6,
                name: "players",
                sql: include_str!(concat!($dir, "/0006_players.sql")),
            },
            $crate::migrate::Migration {
                version: 7,
                name: "segment_members",
                sql: include_str!(concat!($dir, "/0007_segment_members.sql")),
            },
            $crate::migrate::Migration {
                version: 8,
                name: "partners",
                sql: include_str!(concat!($dir, "/0008_partners.sql")),
            },
            $crate::migrate::Migration {
                version: 9,
                name: "content",
                sql: include_str!(concat!($dir, "/0009_content.sql")),
            },
            $crate::migrate::Migration {
                version: 10,
                name: "token_keys",
                sql: include_str!(concat!($dir, "/0010_token_keys.sql")),
            },
            $crate::migrate::Migration {
                version: 11,
                name: "privacy",
                sql: include_str!(concat!($dir, "/0011_privacy.sql")),
            },
            $crate::migrate::Migration {
                version: 12,
                name: "outbox_pending",
                sql: include_str!(concat!($dir, "/0012_outbox_pending.sql")),
            },
            $crate::migrate::Migration {
                version: 13,
                name: "operators",
                sql: include_str!(concat!($dir, "/0013_operators.sql")),
            },
            $crate::migrate::Migration {
                version: 14,
                name: "delivery",
                sql: include_str!(concat!($dir, "/0014_delivery.sql")),
            },
            $crate::migrate::Migration {
                version: 15,
                name: "claims",
                sql: include_str!(concat!($dir, "/0015_claims.sql")),
            },
            $crate::migrate::Migration {
                version: 16,
                name: "marketing_channels",
                sql: include_str!(concat!($dir, "/0016_marketing_channels.sql")),
            },
            $crate::migrate::Migration {
                version: 17,
                name: "user_scores",
                sql: include_str!(concat!($dir, "/0017_user_scores.sql")),
            },
        ]
    };
}
pub(crate) use migrations;

/// The bookkeeping table, the same on both backends.
pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL, name TEXT)";
pub(crate) const APPLIED: &str = "SELECT CAST(version AS BIGINT) FROM schema_migrations";
pub(crate) const RECORD: &str =
    "INSERT INTO schema_migrations (version, applied_at_ms, name) VALUES ($1, $2, $3)";

/// The steps not applied yet, in order.
pub(crate) fn pending<'a>(
    all: &'a [Migration],
    applied: &BTreeSet<i64>,
) -> impl Iterator<Item = &'a Migration> {
    all.iter().filter(|m| !applied.contains(&i64::from(m.version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_number_their_steps_alike_and_in_order() {
        let sqlite: &[Migration] = migrations!("sqlite/migrations");
        let postgres: &[Migration] = migrations!("postgres/migrations");
        for list in [sqlite, postgres] {
            let versions: Vec<u32> = list.iter().map(|m| m.version).collect();
            assert_eq!(versions, (1..=u32::try_from(list.len()).unwrap()).collect::<Vec<_>>());
        }
        let names = |list: &[Migration]| list.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(names(sqlite), names(postgres));
        let pending: Vec<u32> = pending(sqlite, &BTreeSet::from([1, 2, 4])).map(|m| m.version).collect();
        let last = u32::try_from(sqlite.len()).unwrap();
        assert_eq!(pending, [3].into_iter().chain(5..=last).collect::<Vec<_>>());
    }
}
