/**
 * Built-in type OIDs Outpost knows by name (pg_type.oid, from Postgres's
 * pg_type.dat; stable across versions). One table for storage, rendering and
 * the binary codec.
 */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  boolArray: 1000,
  int2Array: 1005,
  int4Array: 1007,
  textArray: 1009,
  bpcharArray: 1014,
  varcharArray: 1015,
  int8Array: 1016,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  dateArray: 1182,
  timestamptz: 1184,
  interval: 1186,
  numericArray: 1231,
  numeric: 1700,
  uuid: 2950,
  uuidArray: 2951,
  jsonb: 3802,
} as const;
