"""The data layer: schema and migrations, the outcome-table contract, loading, rollups, queries, accounts."""
