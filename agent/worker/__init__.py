"""Call workers that scale out.

- `identity`: one `workers` row per call-running process, kept alive by a heartbeat;
- `sweep`: ends the work of processes that stopped beating (calls interrupted, attempts closed);
- `admit`: the database's say on one due attempt (campaign running, `max_concurrent`, one call per
  debtor), then the conditional claim;
- `lines`: the calls this process runs, each on its network's dialer;
- `pg_queue`: procrastinate on PostgreSQL (a job per due attempt); `embedded`: a poller on SQLite, and
  a `Batch` (one campaign until nothing is due) for in-process runs on either database;
- `runtime`: ties them together for `dialwise worker`, `dialwise serve` (`embed`) and the in-process runs
  of `agent.runner` (`dialwise demo`, `dialwise campaigns run`, the benches);
- `bench`: `dialwise bench workers`, and the scratch schemas and held-line worker processes that the
  benches and tests share.
"""
