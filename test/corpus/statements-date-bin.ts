/**
 * date_bin() (src/sql/timestamp-ops.ts dateBin): timestamp and timestamptz
 * sources before and after the origin, fractions, infinite sources, NULLs;
 * the errors (months in the stride, a stride not positive, an infinite
 * origin, overflow) are Postgres's and forward. Markers as in statements.ts.
 */
export const DATE_BIN_CORPUS: string[] = [
  `SELECT date_bin('15 minutes', timestamp '2020-02-11 15:44:17', timestamp '2001-01-01') AS a, date_bin('15 minutes', timestamp '2020-02-11 15:44:17', timestamp '2001-01-01 00:02:30') AS b`,
  `SELECT date_bin('5 min'::interval, timestamp '2020-02-01 01:01:01', timestamp '2020-02-01 00:02:30') AS a, date_bin('30 minutes'::interval, timestamp '2024-02-01 15:00:00', timestamp '2024-02-01 17:00:00') AS b`,
  `SELECT date_bin('5 min', timestamp '1999-02-11 15:44:17', timestamp '2001-01-01') AS a, date_bin('250 microseconds', timestamp '2020-02-11 15:44:17.71393', timestamp '2001-01-01') AS b, date_bin('1 hour 30 minutes', '2020-02-11 15:44:17', timestamp '2001-01-01') AS c`,
  `SELECT date_bin('5 min'::interval, timestamptz '2020-02-01 01:01:01+00', timestamptz '2020-02-01 00:02:30+00') AS a, date_bin('1 day', timestamptz '2020-02-29 15:44:17.71393+05', timestamptz '2001-01-01+11') AS b`,
  `SELECT date_bin('30 minutes'::interval, timestamptz '2024-02-01 15:00:00', timestamptz '2024-02-01 17:00:00') AS a`,
  `SELECT date_bin('1 day', timestamp 'infinity', timestamp '2001-01-01') AS a, date_bin('1 month', timestamp '-infinity', timestamp '2001-01-01') AS b, date_bin(NULL, timestamp '2020-01-01', timestamp '2001-01-01') AS c`,
  `SELECT id, date_bin('6 hours', last_seen, timestamp '2000-01-01 03:00') AS b FROM users ORDER BY id`,
  `SELECT id, date_bin('7 days', created_at, timestamptz '2024-01-01 00:00:00+00') AS b FROM users ORDER BY id`,
  `SELECT date_bin('1 hour', last_seen, '2001-01-01') AS b, count(*) AS n FROM users GROUP BY 1 ORDER BY 1`,
  // Errors and version differences: forwarded.
  `!SELECT date_bin('5 months'::interval, timestamp '2020-02-01 01:01:01', timestamp '2001-01-01')`,
  `!SELECT date_bin('0 days'::interval, timestamp '1970-01-01 01:00:00', timestamp '1970-01-01 00:00:00')`,
  `!SELECT date_bin('-2 days'::interval, timestamptz '1970-01-01 01:00:00+00', timestamptz '1970-01-01 00:00:00+00')`,
  `!SELECT date_bin('5 min', timestamp '2020-01-01', timestamp 'infinity')`,
  `!SELECT date_bin('200000000 days'::interval, '2024-02-01'::timestamp, '2024-01-01'::timestamp)`,
  `!SELECT date_bin('15 minutes'::interval, timestamp '294276-12-30', timestamp '4000-12-20 BC')`,
  `!SELECT date_bin('infinity', timestamp '2001-02-16 20:38:40', timestamp '2001-02-16 20:05:00')`,
  `!SELECT date_bin('5 min', timestamp '2020-02-11 15:44:17')`,
  `!SELECT id, date_bin('1 mon', last_seen, timestamp '2000-01-01') FROM users WHERE last_seen > '-infinity' AND last_seen < 'infinity'`,
  `SELECT date_bin('1 day', date '2020-02-11', timestamp '2001-01-01') AS d`,
];
