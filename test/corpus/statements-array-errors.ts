/**
 * Malformed array literals (src/sql/array-text.ts `ArrayInputError`):
 * Postgres's own error (SQLSTATE, message, detail, position) where 15 and 17
 * word it alike; where they differ (quotes around an element, sub-arrays of
 * mixed depths, text after a bounds decoration, bounds near the int4 limits,
 * an invalid element before the malformed point) the statement is forwarded.
 * All are marked `!` (Postgres rejects them).
 */
export const ARRAY_ERRORS_CORPUS: string[] = [
  `!SELECT '}{'::text[]`,
  `!SELECT ''::int[]`,
  `!SELECT '[1:2]x{1,2}'::int[]`,
  `!SELECT '[1:2]= x'::int[]`,
  `!SELECT '[:1]={1}'::int[]`,
  `!SELECT '[]={1}'::int[]`,
  `!SELECT '[1:]={1}'::int[]`,
  `!SELECT '[1:2][1:2]={1,2}'::int[]`,
  `!SELECT '[1:3]={1,2}'::int[]`,
  `!SELECT '[1:1]={}'::int[]`,
  `!SELECT '[5:1]={1}'::int[]`,
  `!SELECT '{}}'::text[]`,
  `!SELECT '{1} x'::int[]`,
  `!SELECT '{foo{}}'::text[]`,
  `!SELECT '{"1"{}}'::int[]`,
  `!SELECT '{foo,,bar}'::text[]`,
  `!SELECT '{ ,a}'::text[]`,
  `!SELECT '{NULL,}'::int[]`,
  `!SELECT '{{1},{2,}}'::text[]`,
  `!SELECT '{{1} x}'::text[]`,
  `!SELECT '{{1}"x"}'::text[]`,
  `!SELECT '{a'::text[]`,
  `!SELECT '{{1},'::text[]`,
  `!SELECT E'{a\\\\'::text[]`,
  `!SELECT '{{1},{2,3}'::int[]`,
  `!SELECT '{{1,2},{3},{4,5,6}}'::int[]`,
  `!SELECT '{x}'::int[]`,
  `!SELECT '{{1,2},{3,x}}'::int[]`,
  `!SELECT '[0:1]={1,99999999999}'::int[]`,
  `!SELECT id FROM users WHERE tags = '{a,,b}' ORDER BY id`,
  `!SELECT id FROM users WHERE id = ANY ('{1,}'::int[])`,
  // Worded differently by the majors: forwarded.
  `!SELECT '{a"b"}'::text[]`,
  `!SELECT '{a,{b}}'::text[]`,
  `!SELECT '[1:1]={1}}'::int[]`,
  `!SELECT '[-2147483649:-2147483648]={1,2}'::int[]`,
  `!SELECT '{x,}'::int[]`,
  `!SELECT '{{x},{2,3}}'::int[]`,
  `!SELECT '{"x"{}}'::int[]`,
];
