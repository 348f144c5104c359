pub async fn ingest(_c: crate::config::Config, _a: crate::cli::BenchIngestArgs) -> anyhow::Result<()> {
    Ok(())
}
