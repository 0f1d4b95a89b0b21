/**
 * Malformed json/jsonb constants (src/sql/json-errors.ts): Postgres's own
 * error (22P02, the DETAIL naming the token met, the CONTEXT line, the
 * literal's position), alike on 15 and 17. Forwarded where not certain:
 * jsonb's \u0000 and surrogate escapes, a number jsonb converts before the
 * error, a literal inside an array, two failing constants. Statements
 * Postgres rejects are marked `!`.
 */
export const JSON_ERRORS_CORPUS: string[] = [
  `!SELECT ''::json`,
  `!SELECT '   '::jsonb`,
  `!SELECT '{"a":1,}'::json`,
  `!SELECT '{"a":1,}'::jsonb`,
  `!SELECT '[1,2'::jsonb`,
  `!SELECT '[1 x]'::json`,
  `!SELECT '{"a" 1, "b": 2}'::jsonb`,
  `!SELECT '{1:2}'::json`,
  `!SELECT 'truex'::jsonb`,
  `!SELECT '012'::json`,
  `!SELECT '-'::jsonb`,
  `!SELECT '1.e5x'::json`,
  `!SELECT '"abc'::jsonb`,
  `!SELECT E'"a\\tb"'::json`,
  `!SELECT '"\\x"'::jsonb`,
  `!SELECT '"\\u12G4"'::json`,
  `!SELECT '"é\\é"'::jsonb`,
  `!SELECT '[true] false'::json`,
  `!SELECT E'{\\n  "a": 1,\\n  "b":\\n}'::jsonb`,
  `!SELECT '{"averyveryveryveryveryveryverylongkeyname": "and a long value too", "b": }'::json`,
  `!SELECT 'ééééééééééééééééééééééééééééééééééééé x'::jsonb`,
  `!SELECT id FROM users WHERE prefs @> '{"theme":}'`,
  `!SELECT id, '[1,]'::json FROM users WHERE id < 0`,
  // json accepts \u0000 (it only validates); jsonb rejects it with 22P05: forwarded.
  `SELECT '"\\u0000"'::json`,
  `!SELECT '["\\u0000", x]'::jsonb`,
  `!SELECT '["\\ud800"]'::jsonb`,
  `!SELECT '[1e1000000, x]'::jsonb`,
  `!SELECT '{[}'::json[]`,
  `!SELECT '[1,'::json, '[2,'::json`,
  `!SELECT '[1,'::json, 1/0`,
  `!SELECT '[1,'::json FROM no_such_table`,
];
