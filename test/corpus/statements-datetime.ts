/**
 * date, timestamp and timestamptz input forms (src/sql/datetime-input.ts)
 * and timestamp comparisons; markers as in statements.ts (`!` Postgres
 * rejects it, `!<16` before 16 only).
 */
export const DATETIME_CORPUS: string[] = [
  `SELECT date '1999-01-08' AS a, date '19990108' AS b, date '1999-1-8' AS c, date 'January 8, 1999' AS d`,
  `SELECT date 'Jan 8 1999' AS a, date '8 Jan 1999' AS b, date '1999-Jan-08' AS c, date 'Jan-08-1999' AS d, date '08-Jan-1999' AS e`,
  `SELECT date '1999 Jan 08' AS a, date 'Friday Jan 8 1999' AS b, date 'epoch' AS c, date '1999-01-08 04:05:06' AS d, date '1999-01-08 04:05:06+02' AS e`,
  `SELECT date '0001-12-31 BC' AS a, date '4714-11-24 BC' AS b, date '2000-02-29 AD' AS c, date 'Feb 29 2000' AS d`,
  `!SELECT date '1999-02-29'`,
  `!SELECT date '1999-08-Jan'`,
  `!SELECT date '4714-11-23 BC'`,
  `!SELECT timestamp '4714-11-23 23:59:59 BC'`,
  `!SELECT date 'Feb 30 1999'`,
  `!SELECT date '0000-01-01'`,
  `!SELECT date '2000-01-01 BC AD'`,
  `!SELECT date 'Jan Feb 1999'`,
  `SELECT timestamp '1997-01-02' AS a, timestamp '1997-01-02 03:04:05' AS b, timestamp '1997-01-02T03:04:05.678' AS c, timestamp 'epoch' AS d`,
  `SELECT timestamp 'Mon Feb 10 17:32:01 1997' AS a, timestamp 'Feb 10 17:32:01.000001 1997' AS b, timestamp '1997-02-10 17:32:01-08' AS c, timestamp '1997-02-10 17:32:01 UTC' AS d`,
  `SELECT timestamp 'infinity' AS a, timestamp '-infinity' AS b, timestamp 'Feb 16 17:32:01 0097 BC' AS c, timestamp '19970210 17:32:01' AS d, timestamp '1997-02-10 1:02' AS e`,
  `!SELECT timestamp '1997-02-10 25:00:00'`,
  `!SELECT timestamp '1997-02-10 17:60:00'`,
  `!SELECT timestamp '1997-13-10 17:00:00'`,
  `SELECT timestamptz '1997-02-10 17:32:01-08' AS a, timestamptz '1997-02-10 17:32:01+05:30' AS b, timestamptz 'Feb 10 17:32:01 1997 UTC' AS c, timestamptz '1997-02-10 17:32:01 GMT' AS d`,
  `SELECT timestamptz '1997-02-10T17:32:01Z' AS a, timestamptz '1997-02-10 17:32:01 Z' AS b, timestamptz 'epoch' AS c, timestamptz 'Jan 1 2000' AS d, timestamptz '2000-01-01 12:00' AS e`,
  `SELECT id, local_ts FROM events WHERE local_ts > timestamp '2024-03-20' ORDER BY local_ts, id`,
  `SELECT id, local_ts FROM events WHERE local_ts <= 'Mar 10 2024 12:00' OR local_ts = '-infinity' ORDER BY local_ts DESC, id`,
  `SELECT min(local_ts), max(local_ts) FROM events`,
  `SELECT min(local_ts), max(local_ts) FROM events WHERE id < 1000`,
  `SELECT DISTINCT local_ts FROM events WHERE id < 10 ORDER BY 1`,
  `SELECT timestamp 'Feb 16 17:32:01 0097 BC' < timestamp '0001-01-01' AS a, timestamp '0097-02-16 BC' < timestamp '0096-02-16 BC' AS b, date '0002-01-01 BC' < date '0001-01-01 BC' AS c`,
  `SELECT id, birth FROM users WHERE birth > date 'Jan 1 1990' ORDER BY birth, id`,
  `SELECT id FROM users WHERE created_at > 'Jan 2 2024 UTC' ORDER BY id`,
  `SELECT id FROM users WHERE created_at > 'Jan 2 2024' ORDER BY id`,
  // timestamp arithmetic (src/sql/timestamp-ops.ts).
  `SELECT id, local_ts - timestamp '2024-03-01' AS since, local_ts + interval '1 mon 2 days 03:04:05.5' AS later, local_ts - interval '1 year' AS earlier FROM events WHERE id < 100 ORDER BY id`,
  `SELECT timestamp '2024-01-31 10:00' + interval '1 month' AS a, timestamp '2024-03-31' - interval '1 month' AS b, timestamp '2023-01-31' + interval '13 months' AS c, timestamp '2024-02-29' - interval '12 months' AS d`,
  `SELECT timestamp '2024-01-01' - timestamp '2023-12-30 12:00' AS a, timestamp '2023-12-30 12:00' - timestamp '2024-01-01 00:00:00.5' AS b, timestamp 'Feb 16 17:32:01 0097 BC' - timestamp '0001-01-01' AS c`,
  `SELECT date '2024-01-31' + interval '1 month' AS a, date '2024-03-01' - interval '1 day 1 second' AS b, interval '2 hours' + date '2024-01-01' AS c, interval '-1 mon' + timestamp '2024-03-31' AS d`,
  `SELECT timestamp '0001-01-01 BC' + interval '1 year' AS a, timestamp '9999-01-01' + interval '-5 years -3 days' AS b`,
  `SELECT id, birth + interval '18 years' AS adult FROM users WHERE birth < date '2000-01-01' ORDER BY id`,
  `!SELECT timestamp '2024-01-01 00:00:00' + interval '1 day 1 day'`,
];
