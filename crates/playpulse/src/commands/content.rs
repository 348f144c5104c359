//! `playpulse content import FILE.json`: the content catalog from a file, all or nothing.

use std::collections::HashSet;

use anyhow::{Context, bail};
use playpulse_core::content::ContentItem;
use playpulse_core::time::{Clock, SystemClock};
use playpulse_store::ContentSaved;
use serde_json::Value;

use crate::app;
use crate::cli::ContentCommand;
use crate::config::Config;

pub async fn run(mut config: Config, command: ContentCommand) -> anyhow::Result<()> {
    match command {
        ContentCommand::Import { store, file } => {
            store.apply(&mut config);
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let items = parse_catalog(&text, &config.segments.names())
                .with_context(|| format!("{}: nothing was imported", file.display()))?;
            let store = app::open_store(&config).await?;
            let counts = match store.import_content(items, SystemClock.now()).await? {
                Ok(counts) => counts,
                Err((id, why)) => {
                    bail!("{}: item `{id}` {}; nothing was imported", file.display(), refusal(&why))
                }
            };
            println!("created={} updated={} unchanged={}", counts.created, counts.updated, counts.unchanged);
        }
    }
    Ok(())
}

fn refusal(why: &ContentSaved) -> String {
    match why {
        ContentSaved::StageTaken { by } => format!("takes the stage that live item `{by}` holds"),
        other => format!("cannot be saved ({other:?})"),
    }
}

/// A catalog file: a JSON array of items. Errors name the item (position and id) and the
/// field; the file must not name an id or a stage of a series twice.
pub fn parse_catalog(text: &str, segments: &[String]) -> anyhow::Result<Vec<ContentItem>> {
    let raw: Value = serde_json::from_str(text).context("not JSON")?;
    let Value::Array(entries) = raw else { bail!("the file must hold a JSON array of items") };
    let (mut ids, mut stages) = (HashSet::new(), HashSet::new());
    let mut items = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = entry.get("content_id").and_then(Value::as_str).unwrap_or("?");
        let item = ContentItem::parse(entry, segments)
            .map_err(|e| anyhow::anyhow!("item {index} (`{name}`): {e}"))?;
        if !ids.insert(item.content_id.clone()) {
            bail!("item {index} (`{name}`): content_id appears twice in the file");
        }
        if !stages.insert((item.series.clone(), item.stage)) {
            bail!(
                "item {index} (`{name}`): stage {} of series `{}` appears twice in the file",
                item.stage,
                item.series
            );
        }
        items.push(item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_catalog_imports_and_errors_name_item_and_field() {
        let sample = include_str!("../../../../config/content.example.json");
        let segments = Config::default().segments.names();
        let items = parse_catalog(sample, &segments).unwrap();
        assert!(items.len() >= 3 && items.iter().any(|i| i.adult), "the sample shows every kind");
        let bad = sample.replacen("\"stage\": 2", "\"stage\": 0", 1);
        let err = format!("{:#}", parse_catalog(&bad, &segments).unwrap_err());
        assert!(err.contains("item 1") && err.contains("stage"), "{err}");
        let twice = format!(
            "[{0}, {0}]",
            serde_json::to_string(&serde_json::from_str::<Value>(sample).unwrap()[0]).unwrap()
        );
        assert!(format!("{:#}", parse_catalog(&twice, &segments).unwrap_err()).contains("twice"));
    }
}
