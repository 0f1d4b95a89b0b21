/**
 * extract (numeric) and date_part (float8) of date, time, timestamp,
 * timestamptz and interval (src/sql/date-part.ts): every field, BC dates,
 * infinities (monotonic fields ±Infinity, the others NULL), over constants
 * and the users/events columns. Markers as in statements.ts (`!` Postgres
 * rejects it: units a type does not read, 0A000; unknown units, 22023).
 */
export const DATE_PART_CORPUS: string[] = [
  `SELECT id, last_seen, extract(year FROM last_seen) AS y, extract(month FROM last_seen) AS mo, extract(day FROM last_seen) AS d, extract(hour FROM last_seen) AS h, extract(minute FROM last_seen) AS mi, extract(second FROM last_seen) AS s, extract(milliseconds FROM last_seen) AS ms, extract(microseconds FROM last_seen) AS us, extract(epoch FROM last_seen) AS e FROM users ORDER BY id`,
  `SELECT id, date_part('year', last_seen) AS y, date_part('quarter', last_seen) AS q, date_part('week', last_seen) AS w, date_part('isoyear', last_seen) AS iy, date_part('dow', last_seen) AS dow, date_part('isodow', last_seen) AS idow, date_part('doy', last_seen) AS doy, date_part('second', last_seen) AS s, date_part('epoch', last_seen) AS e, date_part('julian', last_seen) AS j FROM users ORDER BY id`,
  `SELECT id, created_at, extract(epoch FROM created_at) AS e, extract(hour FROM created_at) AS h, extract(timezone FROM created_at) AS tz, extract(timezone_hour FROM created_at) AS tzh, extract(timezone_minute FROM created_at) AS tzm, date_part('decade', created_at) AS dec, date_part('century', created_at) AS c, date_part('millennium', created_at) AS m, date_part('milliseconds', created_at) AS ms FROM users ORDER BY id`,
  `SELECT id, birth, extract(isoyear FROM birth) AS iy, extract(week FROM birth) AS w, extract(julian FROM birth) AS j, extract(decade FROM birth) AS dec, date_part('year', birth) AS y, date_part('hour', birth) AS h, date_part('epoch', birth) AS e, date_part('julian', birth) AS dj FROM users ORDER BY id`,
  `SELECT id, extract(second FROM local_ts) AS s, date_part('second', local_ts) AS ds, date_part('epoch', at) AS e, date_part('minute', at) AS mi, date_part('second', tod) AS ts, date_part('milliseconds', tod) AS tms, date_part('epoch', tod) AS te, date_part('second', took) AS ks, date_part('milliseconds', took) AS kms, date_part('epoch', took) AS ke, date_part('minute', took) AS kmi FROM events WHERE id < 1000 ORDER BY id`,
  `SELECT extract(year FROM date '0001-01-01 BC') AS a, extract(decade FROM date '0011-01-01 BC') AS b, extract(century FROM date '0100-12-31 BC') AS c, extract(millennium FROM date '1000-12-31 BC') AS d, extract(isoyear FROM date '0001-01-01') AS e, extract(dow FROM date '4713-01-01 BC') AS f, extract(epoch FROM date '4713-01-01 BC') AS g`,
  `SELECT extract(j FROM date '2020-01-01') AS a, extract(jd FROM date '2020-01-01') AS b, date_part('j', timestamp '2020-01-01 12:00') AS c, extract(microseconds FROM timestamp '2020-01-01 12:00:01.5') AS d, extract(YEAR FROM timestamp '2020-12-31 23:59:59.999999 BC') AS e`,
  `SELECT extract(hour FROM timestamptz 'infinity') AS a, extract(epoch FROM timestamptz '-infinity') AS b, date_part('julian', timestamp 'infinity') AS c, date_part('timezone', timestamp '-infinity') AS d, date_part('day', date 'infinity') AS e, date_part('year', date '-infinity') AS f, extract(isoyear FROM date 'infinity') AS g`,
  `SELECT date_part('epoch', TIME '13:30:25.575401') AS a, date_part('second', TIME '13:30:25.575401') AS b, date_part('millisecond', TIME '13:30:25.575401') AS c, date_part('microsecond', TIME '24:00:00') AS d, date_part('hour', TIME '24:00:00') AS e`,
  `SELECT date_part('epoch', interval '1 year 2 months 3 days 04:05:06.789') AS a, date_part('second', interval '-1.000001 seconds') AS b, date_part('milliseconds', interval '-61.5 seconds') AS c, date_part('quarter', interval '-7 months') AS d, date_part('year', interval '-1000 years') AS e`,
  `SELECT date_part('year', date '294276-12-31') AS a, date_part('epoch', date '294276-12-31') AS b, extract(epoch FROM date '5874897-12-31') AS c`,
  `!SELECT date_part('year', date '5874897-12-31')`,
  `!SELECT extract(hour FROM date '2020-01-01')`,
  `!SELECT extract(timezone FROM timestamp '2020-01-01')`,
  `!SELECT extract(day FROM time '10:00')`,
  `!SELECT extract(fortnight FROM timestamp '2020-01-01')`,
  `!SELECT date_part('week', interval '2 days')`,
  `!SELECT extract(microsec FROM date 'infinity')`,
  // Constants past year 9999, up to the last date (5874897-12-31) and timestamp (294276-12-31 23:59:59.999999).
  `SELECT date '5874897-12-31' AS a, timestamp '294276-12-31 23:59:59.999999' AS b, timestamptz '294276-12-31 23:59:59+00' AS c, '294276-12-31 15:59:59-08'::timestamptz AS d, date '12345-06-07' AS e, timestamp '10000-01-01T00:00:00' AS f`,
  `SELECT date_part('epoch', '294270-01-01 00:00:00+00'::timestamptz) AS a, extract(epoch FROM '294270-01-01 00:00:00'::timestamp) AS b, extract(year FROM date '5874897-12-31') AS c`,
  `SELECT date '12345-01-01' > date '9999-12-31' AS a, timestamp '10000-01-01' > timestamp '9999-12-31 23:59:59' AS b, date '5874897-12-31' = date '5874897-12-31' AS c`,
  `!SELECT date '5874898-01-01'`,
  `!SELECT timestamp '294277-01-01 00:00:00'`,
  `!SELECT '294277-01-01 00:00:00+00'::timestamptz`,
  `!SELECT '294277-12-31 16:00:00-08'::timestamptz`,
];
