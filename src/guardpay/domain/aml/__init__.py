"""Anti-money-laundering monitoring over the transaction graph, written once against a
dataframe API (Ibis) so the same scenario runs embedded (DuckDB) and on a cluster
(Spark): `frame` names the columns every scenario reads, `findings` what each returns,
`scenarios/` the registered typologies. Building an Ibis expression does no I/O; the
engine that executes it is an adapter (adapters/analytics.py)."""
