/**
 * text → interval casts at run time (interval_in in src/sql/interval.ts): the
 * values of a VALUES list or a text column; text with a sign or an infinity
 * (read per IntervalStyle, or per major) and text interval_in rejects abort
 * the run and forward. Markers as in statements.ts.
 */
export const INTERVAL_CASTS_CORPUS: string[] = [
  `SELECT v, v::interval AS i FROM (VALUES ('15 days'), ('2 hours'), ('1 hour 30 minutes'), ('100 milliseconds'), ('250 microseconds'), (NULL)) t(v) ORDER BY 2`,
  `SELECT i, v::interval AS iv FROM (VALUES (1, '1 sec'), (2, '2 sec'), (3, NULL)) t(i, v) ORDER BY i`,
  `SELECT interval, date_bin(interval::interval, ts, origin) AS b FROM (VALUES ('15 days'), ('2 hours'), ('1 hour 30 minutes'), ('15 minutes'), ('10 seconds'), ('100 milliseconds'), ('250 microseconds')) intervals (interval), (VALUES (timestamp '2020-02-11 15:44:17.71393')) ts (ts), (VALUES (timestamp '2001-01-01')) origin (origin) ORDER BY 1`,
  `SELECT v::interval AS i FROM (VALUES ('-1 2:00'), ('1 day')) t(v)`,
  `!<17 SELECT v::interval AS i FROM (VALUES ('infinity')) t(v)`,
  `!SELECT v::interval AS i FROM (VALUES ('1 fortnight')) t(v)`,
];
