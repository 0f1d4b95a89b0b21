/**
 * The binary codec against real Postgres: for each value, the text and the
 * binary form Postgres sends for it; `encodeBinary(text)` must give exactly
 * Postgres's bytes and `decodeBinary(bytes)` exactly Postgres's text.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  BinaryUnsupported,
  binarySettings,
  canEncodeBinary,
  decodeBinary,
  encodeBinary,
} from '../src/wire/binary.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { bindMsg, executeMsg, type Message, parseMsg, RawClient, SYNC } from './helpers/wire-client.js';

let upstream: PostgresInstance;

before(async () => {
  upstream = await startPostgres();
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rawuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role rawuser login');
  await upstream.query('select pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 300));
});

after(async () => {
  await upstream?.stop();
});

/** [type name, OID, literals] */
const CASES: [string, number, string[]][] = [
  ['int2', 21, ['0', '-32768', '32767', '42']],
  ['int4', 23, ['0', '-2147483648', '2147483647', '7']],
  ['int8', 20, ['0', '-9223372036854775808', '9223372036854775807', '1']],
  [
    'float4',
    700,
    [
      '0',
      '-0',
      '1.5',
      '3.4028235e38',
      '1e-45',
      'NaN',
      'Infinity',
      '-Infinity',
      '0.1',
      '123456.79',
      '1e-5',
      '1e6',
    ],
  ],
  [
    'float8',
    701,
    [
      '0',
      '-0',
      '0.1',
      '1e21',
      '1e-5',
      '0.0001',
      '123456789012345678',
      'NaN',
      'Infinity',
      '-Infinity',
      '5e-324',
      '1.7976931348623157e308',
      '1e15',
      '1e14',
      '-2.5',
      '3.141592653589793',
    ],
  ],
  ['bool', 16, ['t', 'f']],
  ['bytea', 17, ['\\x', '\\xdeadbeef00']],
  ['text', 25, ['', 'héllo ☃', 'a"b\\c', 'NULL']],
  ['varchar(5)', 1043, ['abc', '']],
  ['bpchar(5)', 1042, ['ab', 'abcde']],
  ['name', 19, ['pg_class', '']],
  ['uuid', 2950, ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000']],
  [
    'date',
    1082,
    [
      '2024-01-31',
      '2000-01-01',
      '1999-12-31',
      '1970-01-01',
      '0001-01-01 BC',
      '0044-03-15 BC',
      '4714-11-24 BC',
      '5874897-12-31',
      '2024-02-29',
      'infinity',
      '-infinity',
    ],
  ],
  ['time', 1083, ['00:00:00', '23:59:59.999999', '24:00:00', '12:34:56.5', '01:02:03.000123']],
  [
    'timestamp',
    1114,
    [
      '2024-01-31 12:34:56.789',
      '2000-01-01 00:00:00',
      '1969-12-31 23:59:59.999999',
      '0001-01-01 00:00:00 BC',
      '0100-02-28 10:00:00 BC',
      '294276-12-31 23:59:59.999999',
      '4714-11-24 00:00:00 BC',
      'infinity',
      '-infinity',
    ],
  ],
  [
    'timestamptz',
    1184,
    [
      '2024-01-31 12:34:56.789+00',
      '2024-07-01 00:00:00+02',
      '1900-01-01 00:00:00+00',
      '0001-01-01 00:00:00+00 BC',
    ],
  ],
  [
    'interval',
    1186,
    [
      '1 year 2 mons 3 days 04:05:06.789',
      '-1 days +02:03:00',
      '00:00:00',
      '-00:00:01',
      '1 mon',
      '-1 years -2 mons',
      '100:00:00',
      '3 days -04:00:00',
      '1 year -1 mons',
      '-1 mons +1 days',
      '1 day 00:00:00.000001',
      '178956970 years 7 mons',
    ],
  ],
  [
    'numeric',
    1700,
    [
      '0',
      '0.00',
      '1',
      '-1',
      '10000',
      '100000000',
      '1.500',
      '123456789.123456789',
      '-0.0001',
      '0.00001234',
      '0.00000000000000000001',
      '99999999999999999999.99',
      '-12345678901234567890123456789',
      '0.1',
      'NaN',
      'Infinity',
      '-Infinity',
    ],
  ],
  ['json', 114, ['{"a": 1}', '[1, "x", null]']],
  ['jsonb', 3802, ['{"a": 1, "b": [1, 2]}', '"x"', 'null']],
  ['oid', 26, ['0', '4294967295']],
  ['int4[]', 1007, ['{1,2,NULL}', '{}', '[0:2]={1,2,3}', '{-5}']],
  ['text[]', 1009, ['{"a b","",NULL,"x\\"y","NULL",plain,"back\\\\slash"}', '{}']],
  ['float8[]', 1022, ['{1.5,NaN,-Infinity,1e-05}']],
  ['numeric[]', 1231, ['{1.50,-2,NULL}']],
  ['bool[]', 1000, ['{t,f,NULL}']],
  ['date[]', 1182, ['{2024-01-31,infinity}']],
  ['timestamptz[]', 1185, ['{"2024-01-31 12:34:56.789+00"}']],
  ['interval[]', 1187, ['{"1 day","-00:00:01"}']],
  ['uuid[]', 2951, ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}']],
  ['jsonb[]', 3807, ['{"{\\"a\\": 1}"}']],
  ['bytea[]', 1001, ['{"\\\\xdead"}']],
  ['int8[]', 1016, ['{9223372036854775807}']],
  ['varchar[]', 1015, ['{a,b}']],
  ['int2[]', 1005, ['{1,-1}']],
  ['float4[]', 1021, ['{0.1,-0}']],
  ['bpchar[]', 1014, ['{"a  "}']],
  ['name[]', 1003, ['{pg_class}']],
  ['oid[]', 1028, ['{1,2}']],
  ['json[]', 199, ['{"{}"}']],
  ['time[]', 1183, ['{12:00:00}']],
  ['timestamp[]', 1115, ['{"2024-01-31 12:34:56"}']],
];

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The value's text and binary form as Postgres sends them, in one pipelined batch per session. */
async function fromPostgres(
  client: RawClient,
  exprs: string[],
): Promise<{ text: string | null; binary: Buffer | null }[]> {
  const parts: Buffer[] = [];
  for (const e of exprs) {
    parts.push(parseMsg('', `select ${e}`), bindMsg('', ''), executeMsg(''));
    parts.push(bindMsg('', '', [], { resultFormats: [1] }), executeMsg(''));
  }
  parts.push(SYNC);
  const msgs = await client.run(Buffer.concat(parts));
  const errors = msgs.filter((m) => m.type === 'E');
  assert.equal(errors.length, 0, errors.map((m) => m.body.toString()).join('\n'));
  const rows = msgs.filter((m) => m.type === 'D').map(cell);
  const out: { text: string | null; binary: Buffer | null }[] = [];
  for (let i = 0; i < exprs.length; i++) {
    const text = rows[2 * i] ?? null;
    const binary = rows[2 * i + 1] ?? null;
    out.push({ text: text?.toString('utf8') ?? null, binary });
  }
  return out;
}

function cell(m: Message): Buffer | null {
  const len = m.body.readInt32BE(2);
  return len < 0 ? null : m.body.subarray(6, 6 + len);
}

async function checkAll(
  timeZone: string,
  cases: [string, number, string[]][],
  decode: boolean,
): Promise<void> {
  const client = await RawClient.session(upstream.port, 'rawuser', { params: [['TimeZone', timeZone]] });
  try {
    const settings = binarySettings(
      new Map([
        ['DateStyle', 'ISO, MDY'],
        ['IntervalStyle', 'postgres'],
        ['extra_float_digits', '1'],
        ['bytea_output', 'hex'],
      ]),
    );
    const exprs = cases.flatMap(([type, , literals]) => literals.map((l) => `${quote(l)}::${type}`));
    const got = await fromPostgres(client, exprs);
    let i = 0;
    for (const [type, oid, literals] of cases) {
      for (const literal of literals) {
        const { text, binary } = got[i++] ?? { text: null, binary: null };
        assert.ok(text !== null && binary !== null, `${literal}::${type}`);
        const what = `${literal}::${type} (text ${JSON.stringify(text)}, binary ${binary.toString('hex')})`;
        assert.ok(canEncodeBinary(oid, settings), what);
        const attempt = (fn: () => string) => {
          try {
            return fn();
          } catch (err) {
            return `threw ${(err as Error).message}`;
          }
        };
        assert.equal(
          attempt(() => encodeBinary(oid, text, settings).toString('hex')),
          binary.toString('hex'),
          `encode ${what}`,
        );
        if (decode)
          assert.equal(
            attempt(() => decodeBinary(oid, binary)),
            text,
            `decode ${what}`,
          );
      }
    }
  } finally {
    client.close();
  }
}

describe('binary format against Postgres', () => {
  test('every supported type, text → binary and binary → text (TimeZone UTC)', async () => {
    await checkAll('UTC', CASES, true);
  });

  test('timestamptz under another time zone encodes to the same instants', async () => {
    const zoned = CASES.filter(([type]) => type.startsWith('timestamptz'));
    await checkAll('America/New_York', zoned, false);
    await checkAll('Asia/Kolkata', zoned, false);
  });
});

describe('binary format: what cannot be converted exactly', () => {
  const iso = new Map([
    ['DateStyle', 'ISO, MDY'],
    ['IntervalStyle', 'postgres'],
  ]);

  test('settings whose text is not exact or not parsed here', () => {
    assert.equal(canEncodeBinary(701, binarySettings(new Map([['extra_float_digits', '0']]))), false);
    assert.equal(canEncodeBinary(701, binarySettings(new Map([['extra_float_digits', '1']]))), true);
    assert.equal(canEncodeBinary(1082, binarySettings(new Map([['DateStyle', 'SQL, DMY']]))), false);
    assert.equal(canEncodeBinary(1187, binarySettings(new Map([['IntervalStyle', 'iso_8601']]))), false);
    assert.equal(canEncodeBinary(17, binarySettings(new Map([['bytea_output', 'escape']]))), false);
    assert.equal(canEncodeBinary(600, binarySettings(iso)), false, 'point');
    assert.equal(canEncodeBinary(1270, binarySettings(iso)), false, 'timetz[]');
  });

  test('malformed values throw BinaryUnsupported', () => {
    const s = binarySettings(iso);
    for (const [oid, text] of [
      [23, 'x'],
      [23, '2147483648'],
      [16, 'true'],
      [1082, '2024-02-30'],
      [1007, '{{1,2},{3,4}}'],
      [2950, 'not-a-uuid'],
    ] as const) {
      assert.throws(() => encodeBinary(oid, text, s), BinaryUnsupported, `${oid} ${text}`);
    }
  });

  test('binary parameters Postgres would reject throw BinaryUnsupported', () => {
    for (const [oid, hex] of [
      [23, '000001'],
      [16, ''],
      [25, 'ff'],
      [25, '6100'],
      [3802, '026161'],
      [1083, '0000001438000001'],
      [1700, '0001000000000000'],
      [1007, '0000000100000000000000190000000100000001'],
    ] as const) {
      assert.throws(() => decodeBinary(oid, Buffer.from(hex, 'hex')), BinaryUnsupported, `${oid} ${hex}`);
    }
  });
});
