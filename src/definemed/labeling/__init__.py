"""Stage 01, LLM annotation: `stage.run(cfg)` labels the seeded sample with the configured backend
(`annotate`, `backends/`) and measures agreement with the expert labels (`agreement`); `report` shows it."""
