/**
 * interval constants (src/sql/interval.ts): the input forms served locally
 * and their interval_out text under IntervalStyle postgres; markers as in
 * statements.ts (`!` Postgres rejects it).
 */
export const INTERVAL_CORPUS: string[] = [
  `SELECT interval '1 day' AS a, '2 hours 30 minutes'::interval AS b, interval '0' AS zero, interval '-1 days +02:03' AS c`,
  `SELECT interval '1.5 months' AS a, interval '1.5 years' AS b, interval '-1.5 days' AS c, interval '0.1 weeks' AS d`,
  `SELECT interval '1 2:03:04' AS a, interval '-02:03' AS b, interval '10:00:00.5000005' AS c, interval '1:59:60.25' AS d`,
  `SELECT interval '1-2' AS ym, interval '-1-11' AS neg, interval '4-5 3 days' AS mixed`,
  `!SELECT interval '3 4-5'`,
  `SELECT interval '5 decades 2 centuries 1 millennium' AS big, interval '7 ms 3 us' AS small, interval '@ 1 minute' AS at`,
  `SELECT interval '1 year -1 mon +1 day -1 hr' AS signs, interval '-1 year' AS m, interval '1 mon -1 day' AS n`,
  `SELECT interval '2147483646 days' AS d, interval '0.000001 sec' AS us, interval '1.9999999 seconds' AS r`,
  `SELECT id, took, interval '1 hour' AS h FROM events WHERE id < 6 ORDER BY id`,
  `!SELECT interval '1 day 1 day'`,
  `!SELECT interval '1 fortnight'`,
  `!SELECT interval '1:60'`,
  `!SELECT interval '1-12'`,
  `!SELECT interval ''`,
  `!SELECT interval '9223372036854775807 microseconds 1 second'`,
];
